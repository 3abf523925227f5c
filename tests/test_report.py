import base64
import re

from actionhas import evaluate, localize, report, train


def _run(store, gt, out, hide):
    assert train.main(["--features", str(store), "--labels", str(gt), "--out", str(out), "--hide-prob", hide,
                       "--epochs", "2", "--length", "200", "--workers", "0"]) == 0
    assert localize.main(["--run", str(out), "--features", str(store), "--labels", str(gt), "--subset", "test",
                          "--out", str(out / "predictions.json"), "--save-cams", str(out / "cams.h5")]) == 0
    assert evaluate.main(["--gt", str(gt), "--subset", "test", "--pred", str(out / "predictions.json"),
                          "--out", str(out / "metrics.json")]) == 0


def test_report_of_two_runs_has_table_deltas_plots_and_timelines(small_store, tmp_path):
    store, gt, _ = small_store
    _run(store, gt, tmp_path / "full", "0")
    _run(store, gt, tmp_path / "has", "0.5")
    assert report.main(["--run", f"Video-full={tmp_path / 'full'}", "--run", f"Video-HaS={tmp_path / 'has'}",
                        "--gt", str(gt), "--subset", "test", "--out", str(tmp_path / "rep"), "--timelines", "2"]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| Video-HaS |" in md and "Δ vs Video-full" in md and "paper Video-HaS | 36.44" in md
    assert "## Per-class AP (%)" in md and "| Action05 |" in md
    page = (tmp_path / "rep" / "index.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # mAP vs tIoU, per-class AP, two CAM timelines
    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in images)
    assert len(list((tmp_path / "rep").glob("timeline_*.png"))) == 2


def test_report_without_cams_still_renders_tables_and_curves(small_store, tmp_path):
    store, gt, _ = small_store
    _run(store, gt, tmp_path / "a", "0.5")
    (tmp_path / "a" / "cams.h5").unlink()
    assert report.main(["--run", str(tmp_path / "a"), "--out", str(tmp_path / "rep")]) == 0
    assert sorted(p.name for p in (tmp_path / "rep").glob("*.png")) == ["map_vs_iou.png", "per_class_ap.png"]


def test_repeated_names_are_seeds_shown_as_mean_and_std(tmp_path):
    import json

    import numpy as np

    for i, values in enumerate(([0.5, 0.3], [0.7, 0.1], [0.6, 0.2])):
        d = tmp_path / f"s{i}"
        d.mkdir()
        metrics = {"iou": [0.1, 0.5], "mAP": values, "average_mAP": float(np.mean(values)),
                   "per_class": {"A": values}, "num_videos": 3, "num_predictions": 9, "protocol": "anet"}
        (d / "metrics.json").write_text(json.dumps(metrics))
    specs = [f"HaS={tmp_path / f's{i}'}" for i in range(3)]
    assert report.main([a for s in specs for a in ("--run", s)] + ["--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "HaS (mean ± std, 3 seeds) | 60.00 ± 10.00 | 20.00 ± 10.00 | 40.00 ± 0.00 |" in md


def test_pages_are_titled_for_people_and_use_the_predictions_threshold(small_store, tmp_path):
    store, gt, _ = small_store
    out = tmp_path / "r"
    assert train.main(["--features", str(store), "--labels", str(gt), "--out", str(out), "--epochs", "1",
                       "--length", "100", "--workers", "0"]) == 0
    assert localize.main(["--run", str(out), "--features", str(store), "--labels", str(gt), "--subset", "test",
                          "--threshold", "0.3", "--out", str(out / "predictions.json"),
                          "--save-cams", str(out / "cams.h5")]) == 0
    assert evaluate.main(["--gt", str(gt), "--subset", "test", "--pred", str(out / "predictions.json"),
                          "--out", str(out / "metrics.json")]) == 0
    assert report.main(["--run", f"HaS={out}", "--gt", str(gt), "--subset", "test", "--out", str(tmp_path / "rep"),
                        "--timelines", "1"]) == 0
    page = (tmp_path / "rep" / "index.html").read_text()
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert "mAP against tIoU threshold" in headings and "map vs iou" not in page
    assert any(re.fullmatch(r"Action\d\d in video_test_\d+: where the runs differ most", h) for h in headings)
    from actionhas.reporting.report_page import load_runs
    assert load_runs([f"HaS={out}"])["HaS"]["threshold"] == 0.3
