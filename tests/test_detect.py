"""``python -m actionhas.detect``: raw videos to instances, end to end on generated videos."""
import json
import os
import re

import pytest

from actionhas import detect, train
from actionhas.core.errors import ActionhasError
from actionhas.data.video_writer import write_test_video
from feature_extraction.pipeline import extract_c3d


@pytest.fixture(scope="module")
def trained(tmp_path_factory, c3d_weights_file):
    """Two generated videos, random C3D weights in a file, and a run trained on their features."""
    d = tmp_path_factory.mktemp("detect")
    videos = [write_test_video(d / "bars.mp4", 16, 30, seed=1),
              write_test_video(d / "squares.mp4", 16, 30, seed=2, pattern="square")]
    (d / "c3d.pt").symlink_to(c3d_weights_file)
    assert extract_c3d(videos, d / "train.h5", d / "c3d.pt", batch_size=4, progress=False) == {}
    (d / "labels.csv").write_text("video,subset,labels\nbars,validation,Bars\nsquares,validation,Squares\n")
    assert train.main(["--features", str(d / "train.h5"), "--labels", str(d / "labels.csv"), "--out", str(d / "run"),
                       "--epochs", "3", "--length", "8", "--segments", "4", "--workers", "0"]) == 0
    return d, videos


def test_detect_runs_from_video_files_to_predictions_timelines_and_a_page(trained, tmp_path, capsys):
    d, videos = trained
    out = tmp_path / "found"
    assert detect.main([str(v) for v in videos] + ["--run", str(d / "run"), "--weights", str(d / "c3d.pt"), "--batch-size", "5",
                                                   "--out", str(out), "--min-prob", "0"]) == 0
    results = json.loads((out / "predictions.json").read_text())["results"]
    assert set(results) == {"bars", "squares"}
    assert all(r["label"] in ("Bars", "Squares") and 0 <= r["segment"][0] < r["segment"][1] <= 0.54
               for items in results.values() for r in items)
    assert sorted(p.name for p in out.glob("timeline_*.png")) == ["timeline_bars.png", "timeline_squares.png"]
    page = (out / "index.html").read_text()
    assert "<b>bars</b>" in page and re.search(r"<td>0\.[0-5]</td>", page) and 'data-src="timeline_bars.png"' in page
    assert f'data-src="{os.path.relpath(videos[0], out)}"' in page
    assert "bars: " in capsys.readouterr().out
    # a rerun resumes from the store in OUT and forced classes replace the predicted ones
    assert detect.main([str(videos[0]), "--run", str(d / "run"), "--weights", str(d / "c3d.pt"), "--batch-size", "5", "--out", str(out),
                        "--labels", "Squares"]) == 0
    again = json.loads((out / "predictions.json").read_text())["results"]
    assert {r["label"] for r in again["bars"]} == {"Squares"}


def test_a_video_that_fails_to_decode_is_listed_on_the_page_with_its_reason(trained, tmp_path):
    d, videos = trained
    broken = tmp_path / "broken <1>.mp4"
    broken.write_bytes(b"not a video")
    out = tmp_path / "found"
    assert detect.main([str(videos[0]), str(broken), "--run", str(d / "run"), "--weights", str(d / "c3d.pt"), "--batch-size", "5",
                        "--out", str(out), "--copy-videos"]) == 1
    page = (out / "index.html").read_text()
    assert re.search(r"<b>broken &lt;1&gt;</b>: [^<]+</li>", page)
    assert 'data-src="videos/bars.mp4"' in page and (out / "videos" / "bars.mp4").exists()


def test_detect_reads_an_existing_store_with_features(trained, tmp_path):
    d, _ = trained
    assert detect.main(["squares", str(d / "bars.mp4"), "--run", str(d / "run"), "--features", str(d / "train.h5"),
                        "--out", str(tmp_path / "o")]) == 0
    assert {"squares", "bars"} <= set(json.loads((tmp_path / "o" / "predictions.json").read_text())["results"])
    page = (tmp_path / "o" / "index.html").read_text()
    assert page.count("<video ") == 1 and "No video file: features from a store." in page


def test_a_run_on_other_features_is_refused_before_any_decoding(trained, small_store, tmp_path):
    d, videos = trained
    store, gt, _ = small_store
    assert train.main(["--features", str(store), "--labels", str(gt), "--out", str(tmp_path / "run64"),
                       "--epochs", "1", "--length", "50", "--workers", "0"]) == 0
    with pytest.raises(ActionhasError, match="64-d features but C3D fc7"):
        detect.main([str(videos[0]), "--run", str(tmp_path / "run64"), "--weights", str(d / "c3d.pt"), "--batch-size", "5",
                     "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o" / "features.h5").exists()
