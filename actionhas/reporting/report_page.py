"""Runs side by side, as a self-contained HTML page and Markdown: the library behind ``report``.

A run is a directory with metrics.json (``evaluate --out``) and, when present, predictions.json
and cams.h5 (``localize --save-cams``) for activation timelines. Several directories given the
same name are seeds of one setting: the tables show mean +- std (sample std, n - 1) per tIoU
and the curves a +- std band; timelines come from the first seed. Seeds of one name must differ
in nothing but the seed: training settings (config.json of the run, found beside metrics.json or
through the predictions' run), the store trained on, localization and evaluation settings.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import h5py
import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.formats.annotations import (
    GroundTruth,
    read_predictions,
    read_predictions_info,
)
from actionhas.formats.atomic import write_text_atomic
from actionhas.formats.outputs import differences

SEED_FREE = ("seed", "out", "device", "workers", "run", "pred")
"""Settings seeds of one name may differ in: the seed, and where each seed's files are."""
from actionhas.reporting import plots
from actionhas.reporting.pages import html_page, html_table


def _load_one(directory: Path) -> dict:
    metrics_path = directory / "metrics.json"
    if not metrics_path.exists():
        raise ActionhasError(f"{directory}: no metrics.json (run python -m actionhas.evaluate --out {metrics_path})")
    run = _read_json(metrics_path)
    pred = directory / "predictions.json"
    run["predictions"] = read_predictions(pred) if pred.exists() else None
    run["threshold"] = read_predictions_info(pred).get("threshold") if pred.exists() else None
    cams = directory / "cams.h5"
    run["cams"] = str(cams) if cams.exists() and run["predictions"] is not None else None
    return run


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ActionhasError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict):
        raise ActionhasError(f"{path}: expected a JSON object")
    return data


def setting_record(directory: Path, run: dict) -> dict:
    """Every setting known to have made a run's metrics: training (config.json, store.json), localization
    (the predictions' record), evaluation (the metrics' record); flat, prefixed by stage."""
    record = {f"evaluate.{k}": v for k, v in run.get("made_with", {}).items()}
    pred = directory / "predictions.json"
    info = read_predictions_info(pred) if pred.exists() else {}
    record.update({f"localize.{k}": v for k, v in info.items()})
    train_dir = directory if (directory / "config.json").is_file() else Path(info["run"]) if "run" in info else None
    if train_dir is not None and (train_dir / "config.json").is_file():
        record.update({f"train.{k}": v for k, v in _read_json(train_dir / "config.json").items()})
        if (train_dir / "store.json").is_file():
            store = _read_json(train_dir / "store.json")
            record.update({f"store.{k}": v for k, v in store.get("provenance", store).items()})
    return record


def _check_seeds(name: str, directories: list[Path], records: list[dict]) -> None:
    """One name stands for one setting: refuse seeds that differ in anything else."""
    ignore = tuple(f"{stage}.{k}" for stage in ("train", "localize", "evaluate") for k in SEED_FREE) + \
        ("store.package_version",)
    for directory, record in zip(directories[1:], records[1:]):
        diffs = differences(records[0], record, ignore)
        if diffs:
            raise ActionhasError(f"--run {name}: {directories[0]} and {directory} differ in more than the seed "
                                 f"({'; '.join(diffs)}); give each setting its own NAME")


def _mean_std(values: list[list[float]]) -> tuple[list[float], list[float] | None]:
    a = np.asarray(values, float)
    return a.mean(axis=0).tolist(), (a.std(axis=0, ddof=1).tolist() if len(a) > 1 else None)


def load_runs(specs: list[str]) -> dict[str, dict]:
    """``NAME=DIR`` specs -> {name: run}; a name given several times becomes mean (+- std) of its seeds."""
    grouped: dict[str, list[tuple[Path, dict]]] = {}
    for spec in specs:
        name, _, directory = spec.rpartition("=")
        grouped.setdefault(name or Path(directory).name, []).append((Path(directory), _load_one(Path(directory))))
    runs = {}
    for name, found in grouped.items():
        seeds = [run for _, run in found]
        _check_seeds(name, [d for d, _ in found], [setting_record(d, run) for d, run in found])
        first = seeds[0]
        if any(s["iou"] != first["iou"] or s.get("protocol") != first.get("protocol") for s in seeds):
            raise ActionhasError(f"--run {name}: its directories were evaluated with different tIoUs or protocols")
        run = dict(first, seeds=len(seeds))
        run["mAP"], run["mAP_std"] = _mean_std([s["mAP"] for s in seeds])
        (run["average_mAP"],), std = _mean_std([[s["average_mAP"]] for s in seeds])
        run["average_std"] = std[0] if std else None
        classes = sorted(set().union(*(s["per_class"] for s in seeds)))
        run["per_class"] = {c: _mean_std([s["per_class"].get(c, [0.0] * len(first["iou"])) for s in seeds])[0]
                            for c in classes}
        runs[name] = run
    return runs


def _cell(value: float, std: float | None) -> str:
    return f"{100 * value:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def map_table(runs: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    ious = next(iter(runs.values()))["iou"]
    head = ["run"] + [f"{t:.2f}" for t in ious] + ["avg"]
    rows, base = [], None
    for name, m in runs.items():
        stds = m["mAP_std"] or [None] * len(ious)
        label = name + (f" (mean ± std, {m['seeds']} seeds)" if m["seeds"] > 1 else "")
        rows.append([label] + [_cell(v, s) for v, s in zip(m["mAP"], stds)] + [_cell(m["average_mAP"], m["average_std"])])
        vals = m["mAP"] + [m["average_mAP"]]
        if base is None:
            base = vals
        else:
            rows.append([f"  Δ vs {next(iter(runs))}"] + [f"{100 * (v - b):+.2f}" for v, b in zip(vals, base)])
    for name, vals in plots.PAPER_ROWS.items():
        rows.append([name] + [f"{vals[plots.PAPER_IOUS.index(t)]:.2f}" if t in plots.PAPER_IOUS else "" for t in ious]
                    + [""])
    return head, rows


def per_class_table(runs: dict[str, dict], iou_index: int) -> tuple[list[str], list[list[str]]]:
    """AP (%) per class at one tIoU and averaged over all, one column pair per run."""
    iou = next(iter(runs.values()))["iou"][iou_index]
    head = ["class"] + [f"{n} @{iou:.2f}" for n in runs] + [f"{n} avg" for n in runs]
    classes = sorted(next(iter(runs.values()))["per_class"])
    rows = []
    for c in classes:
        aps = [m["per_class"].get(c) for m in runs.values()]
        rows.append([c] + [f"{100 * a[iou_index]:.2f}" if a else "" for a in aps]
                    + [f"{100 * np.mean(a):.2f}" if a else "" for a in aps])
    return head, rows


def _pick_videos(gt: GroundTruth, runs: dict[str, dict], count: int) -> list[tuple[str, str]]:
    """(video, class) pairs with the largest spread in predicted coverage between runs."""
    with_cams = [r for r in runs.values() if r.get("cams")]
    if not with_cams:
        return []
    with h5py.File(with_cams[0]["cams"], "r") as f:
        available = set(f.keys())
    pairs = gt.instances[gt.instances["video"].isin(available)][["video", "label"]].drop_duplicates()
    covers = [(r["predictions"].assign(length=lambda d: d["end"] - d["start"])
               .groupby(["video", "label"])["length"].sum()) for r in with_cams]
    scored = []
    for video, label in pairs.itertuples(index=False):
        values = [c.get((video, label), 0.0) for c in covers]
        scored.append((max(values) - min(values), video, label))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(v, lab) for _, v, lab in scored[:count]]


def _timeline_rows(video: str, label: str, gt: GroundTruth, runs: dict[str, dict]) -> list[dict]:
    truth = gt.instances[(gt.instances["video"] == video) & (gt.instances["label"] == label)]
    rows = []
    for name, run in runs.items():
        with h5py.File(run["cams"], "r") as f:
            classes = list(f.attrs["classes"])
            cam = f[video]["cam"][classes.index(label)]
            times = f[video]["times"][()]
        peak = cam.max()
        preds = run["predictions"]
        mine = preds[(preds["video"] == video) & (preds["label"] == label)]
        rows.append({"name": name, "times": times, "activation": cam / peak if peak > 0 else cam,
                     "predicted": list(zip(mine["start"], mine["end"], mine["score"])),
                     "truth": list(zip(truth["start"], truth["end"]))})
    return rows


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def write_report(runs: dict[str, dict], gt: GroundTruth | None, out: str | Path, timelines: int = 4,
                 title: str = "actionhas report") -> Path:
    """Write index.html (plots embedded) and report.md (+ PNG files) into ``out``; returns index.html."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    head, rows = map_table(runs)
    first = next(iter(runs.values()))
    ious = first["iou"]
    i05 = ious.index(0.5) if 0.5 in ious else len(ious) // 2
    figures = [("map_vs_iou", "mAP against tIoU threshold", plots.map_vs_iou(runs)),
               ("per_class_ap", f"Average precision per class at tIoU {ious[i05]:.2f}", plots.per_class_ap(runs, i05))]
    if gt is not None:
        with_cams = {n: r for n, r in runs.items() if r.get("cams")}
        for k, (video, label) in enumerate(_pick_videos(gt, runs, timelines)):
            heading = f"{label} in {video}: where the runs differ most"
            threshold = first.get("threshold")
            figures.append((f"timeline_{k}", heading, plots.timeline(_timeline_rows(video, label, gt, with_cams),
                                                                     f"{label} in {video}", threshold)))
    images = []
    for stem, heading, fig in figures:
        images.append((stem, heading, plots.save(fig, out / f"{stem}.png")))
    intro = (f"mAP (%) per tIoU under the {first.get('protocol', 'anet')} protocol, {first['num_videos']} videos. "
             "The paper's rows are THUMOS14 validation (Table 7), for reference only: other data, other features.")
    class_head, class_rows = per_class_table(runs, i05)
    md = [f"# {title}", "", intro, "", *_md_table(head, rows), "", "## Per-class AP (%)", "",
          *_md_table(class_head, class_rows), ""]
    md += [line for stem, heading, _ in images for line in (f"## {heading}", "", f"![{heading}]({stem}.png)", "")]
    write_text_atomic(out / "report.md", "\n".join(md))
    figures_html = "".join(f'<h2>{html.escape(heading)}</h2><img alt="{html.escape(heading)}" '
                           f'src="data:image/png;base64,{plots.png_base64(data)}">' for _, heading, data in images)
    body = (f"<p>{html.escape(intro)}</p>{html_table(head, rows)}<h2>Per-class AP (%)</h2>"
            f"{html_table(class_head, class_rows)}{figures_html}")
    write_text_atomic(out / "index.html", html_page(title, body))
    return out / "index.html"
