"""``python -m actionhas.report``: runs side by side, as a self-contained HTML page and Markdown.

    python -m actionhas.report --run Video-full=runs/full --run Video-HaS=runs/has \\
        --gt thumos14 --subset test --out report/

Each ``--run NAME=DIR`` reads DIR/metrics.json, and when present DIR/predictions.json and
DIR/cams.h5 (written by ``localize --save-cams``) for the CAM timelines: the CAM of a video's
class, the threshold, the predicted instances and the ground truth, one row per run.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from actionhas import cli  # noqa: E402
from actionhas.annotations import GroundTruth, read_predictions  # noqa: E402
from actionhas.errors import ActionhasError  # noqa: E402
from actionhas.evaluate import load_gt  # noqa: E402

PAPER_ROWS = {  # THUMOS14 validation, tIoU 0.1-0.5 (paper, Table 7), in percent
    "paper Video-full": [34.23, 25.68, 17.72, 11.00, 6.11],
    "paper Video-HaS": [36.44, 27.84, 19.49, 12.66, 6.84],
}
PAPER_IOUS = [0.1, 0.2, 0.3, 0.4, 0.5]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_map_vs_iou(runs: dict[str, dict]):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, m in runs.items():
        ax.plot(m["iou"], 100 * np.array(m["mAP"]), marker="o", label=name)
    for name, vals in PAPER_ROWS.items():
        ax.plot(PAPER_IOUS, vals, ls=":", marker=".", alpha=0.6, label=name)
    ax.set_xlabel("tIoU threshold")
    ax.set_ylabel("mAP (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_per_class(runs: dict[str, dict], iou_index: int):
    classes = sorted(next(iter(runs.values()))["per_class"])
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(classes)), 3.6))
    x = np.arange(len(classes))
    for i, (name, m) in enumerate(runs.items()):
        ax.bar(x + i * width, [100 * m["per_class"].get(c, [0] * 99)[iou_index] for c in classes], width, label=name)
    ax.set_xticks(x + width * (len(runs) - 1) / 2, classes, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(f"AP (%) at tIoU {next(iter(runs.values()))['iou'][iou_index]:.1f}")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_timeline(video: str, label: str, gt: GroundTruth, runs: dict[str, dict], threshold: float):
    """One row per run: the CAM of ``label``, its threshold, predicted instances, ground truth."""
    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 1.6 * len(runs)), sharex=True, squeeze=False)
    truth = gt.instances[(gt.instances["video"] == video) & (gt.instances["label"] == label)]
    for ax, (name, run) in zip(axes[:, 0], runs.items()):
        with h5py.File(run["cams"], "r") as f:
            classes = list(f.attrs["classes"])
            cam = f[video]["cam"][classes.index(label)]
            times = f[video]["times"][()]
        peak = cam.max()
        norm = cam / peak if peak > 0 else cam
        for r in truth.itertuples():
            ax.axvspan(r.start, r.end, color="tab:green", alpha=0.25, lw=0)
        ax.plot(times, norm, color="tab:blue", lw=1)
        ax.axhline(threshold, color="grey", ls="--", lw=0.8)
        preds = run["predictions"]
        for r in preds[(preds["video"] == video) & (preds["label"] == label)].itertuples():
            ax.hlines(-0.08, r.start, r.end, color="tab:red", lw=4)
        ax.set_ylim(-0.15, 1.05)
        ax.set_ylabel(name, fontsize=8)
    axes[0, 0].set_title(f"{video} — {label}: CAM / max (blue), threshold (dashed), "
                         "predicted (red), ground truth (green)", fontsize=8)
    axes[-1, 0].set_xlabel("seconds")
    return fig


def _pick_videos(gt: GroundTruth, runs: dict[str, dict], count: int) -> list[tuple[str, str]]:
    """Videos with the largest spread in coverage between runs: where hiding changes most."""
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


def _table(runs: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    ious = next(iter(runs.values()))["iou"]
    head = ["run"] + [f"{t:.1f}" for t in ious] + ["avg"]
    rows, base = [], None
    for name, m in runs.items():
        vals = [100 * v for v in m["mAP"]] + [100 * m["average_mAP"]]
        rows.append([name] + [f"{v:.2f}" for v in vals])
        if base is None:
            base = vals
        else:
            rows.append([f"  Δ vs {next(iter(runs))}"] + [f"{v - b:+.2f}" for v, b in zip(vals, base)])
    for name, vals in PAPER_ROWS.items():
        row = [name] + [f"{vals[PAPER_IOUS.index(t)]:.2f}" if t in PAPER_IOUS else "" for t in ious] + [""]
        rows.append(row)
    return head, rows


def _per_class_table(runs: dict[str, dict], iou_index: int) -> tuple[list[str], list[list[str]]]:
    """AP (%) per class at one tIoU and averaged over all, one column pair per run."""
    iou = next(iter(runs.values()))["iou"][iou_index]
    head = ["class"] + [f"{n} @{iou:.1f}" for n in runs] + [f"{n} avg" for n in runs]
    classes = sorted(next(iter(runs.values()))["per_class"])
    rows = []
    for c in classes:
        aps = [m["per_class"].get(c) for m in runs.values()]
        rows.append([c] + [f"{100 * a[iou_index]:.2f}" if a else "" for a in aps]
                    + [f"{100 * np.mean(a):.2f}" if a else "" for a in aps])
    return head, rows


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def write_report(runs: dict[str, dict], gt: GroundTruth | None, out: str | Path, timelines: int = 4,
                 threshold: float = 0.5, title: str = "actionhas report") -> Path:
    """Write index.html (plots embedded) and report.md (+ PNG files) into ``out``; returns index.html."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    head, rows = _table(runs)
    ious = next(iter(runs.values()))["iou"]
    i05 = ious.index(0.5) if 0.5 in ious else len(ious) // 2
    figures = {"map_vs_iou": plot_map_vs_iou(runs), "per_class_ap": plot_per_class(runs, i05)}
    if gt is not None:
        for k, (video, label) in enumerate(_pick_videos(gt, runs, timelines)):
            with_cams = {n: r for n, r in runs.items() if r.get("cams")}
            figures[f"timeline_{k}_{video}_{label}"] = plot_timeline(video, label, gt, with_cams, threshold)
    images = {}
    for name, fig in figures.items():
        images[name] = _png(fig)
        (out / f"{name}.png").write_bytes(base64.b64decode(images[name]))
    protocol = next(iter(runs.values())).get("protocol", "anet")
    intro = (f"mAP (%) per tIoU under the {protocol} protocol, {next(iter(runs.values()))['num_videos']} videos. "
             "The paper's rows are THUMOS14 validation (Table 7), for reference only: other data, other features.")
    class_head, class_rows = _per_class_table(runs, i05)
    md = [f"# {title}", "", intro, "", *_md_table(head, rows), "", "## Per-class AP (%)", "",
          *_md_table(class_head, class_rows), "", *[f"![{n}]({n}.png)" for n in images]]
    (out / "report.md").write_text("\n".join(md) + "\n")
    imgs = "".join(f'<h3>{html.escape(n.replace("_", " "))}</h3><img src="data:image/png;base64,{b}">'
                   for n, b in images.items())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
            "td,th{padding:2px 8px;text-align:right}td:first-child{text-align:left}"
            "table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}img{max-width:100%}</style>"
            f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"
            f"{_html_table(head, rows)}<h2>Per-class AP (%)</h2>{_html_table(class_head, class_rows)}"
            f"{imgs}</body></html>")
    (out / "index.html").write_text(page)
    return out / "index.html"


def load_run_outputs(spec: str) -> tuple[str, dict]:
    """``NAME=DIR`` (or DIR) -> (name, {metrics..., predictions, cams})."""
    name, _, directory = spec.rpartition("=")
    directory = Path(directory)
    name = name or directory.name
    metrics_path = directory / "metrics.json"
    if not metrics_path.exists():
        raise ActionhasError(f"{directory}: no metrics.json (run python -m actionhas.evaluate --out {metrics_path})")
    run = json.loads(metrics_path.read_text())
    pred = directory / "predictions.json"
    run["predictions"] = read_predictions(pred) if pred.exists() else None
    cams = directory / "cams.h5"
    run["cams"] = str(cams) if cams.exists() and run["predictions"] is not None else None
    return name, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="NAME=DIR holding metrics.json (repeat per run)")
    p.add_argument("--gt", help="ground truth for the CAM timelines ('thumos14', JSON or txt directory)")
    p.add_argument("--subset", help="ground-truth subset (e.g. test)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--timelines", type=int, default=4, help="CAM timelines to draw")
    p.add_argument("--threshold", type=float, default=0.5, help="CAM threshold drawn on the timelines")
    p.add_argument("--title", default="actionhas report")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    runs = dict(load_run_outputs(s) for s in args.run)
    gt = load_gt(args.gt, args.subset, "anet") if args.gt else None
    page = write_report(runs, gt, args.out, args.timelines, args.threshold, args.title)
    print(f"report written to {page} and {Path(args.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
