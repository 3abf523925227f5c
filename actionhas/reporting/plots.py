"""Figures people read: mAP against tIoU, per-class AP, and activation timelines.

matplotlib is imported (with the file-only Agg backend) when the first figure is drawn, so
commands that never plot never pay for it. Timelines tick on round times (``time_ticks``): seconds
for short videos, m:ss for long ones.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from actionhas.formats.atomic import write_bytes_atomic
from actionhas.reporting.time_ticks import time_ticks

PAPER_ROWS = {  # THUMOS14 validation, tIoU 0.1-0.5 (paper, Table 7), in percent
    "paper Video-full": [34.23, 25.68, 17.72, 11.00, 6.11],
    "paper Video-HaS": [36.44, 27.84, 19.49, 12.66, 6.84],
}
PAPER_IOUS = [0.1, 0.2, 0.3, 0.4, 0.5]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _time_axis(ax, duration: float) -> None:
    ticks = time_ticks(duration)
    ax.set_xlim(0, duration)
    ax.set_xticks(ticks.positions, ticks.labels)
    ax.set_xlabel(f"time ({ticks.unit})")


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def png_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def map_vs_iou(runs: dict[str, dict], title: str = "mAP against tIoU threshold"):
    """One line per run (mean, with a band of +- one std when the run has several seeds)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, m in runs.items():
        mean = 100 * np.asarray(m["mAP"])
        ax.plot(m["iou"], mean, marker="o", label=name)
        if m.get("mAP_std") is not None:
            std = 100 * np.asarray(m["mAP_std"])
            ax.fill_between(m["iou"], mean - std, mean + std, alpha=0.2)
    for name, vals in PAPER_ROWS.items():
        ax.plot(PAPER_IOUS, vals, ls=":", marker=".", alpha=0.6, label=name)
    ax.set_xlabel("tIoU threshold")
    ax.set_ylabel("mAP (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def per_class_ap(runs: dict[str, dict], iou_index: int):
    plt = _plt()
    classes = sorted(next(iter(runs.values()))["per_class"])
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(classes)), 3.6))
    x = np.arange(len(classes))
    iou = next(iter(runs.values()))["iou"][iou_index]
    for i, (name, m) in enumerate(runs.items()):
        ax.bar(x + i * width, [100 * m["per_class"][c][iou_index] if c in m["per_class"] else 0 for c in classes],
               width, label=name)
    ax.set_xticks(x + width * (len(runs) - 1) / 2, classes, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("AP (%)")
    ax.set_title(f"Average precision per class at tIoU {iou:.2f}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def timeline(rows: list[dict], title: str, threshold: float | None = None, duration: float | None = None):
    """Activation over time, one panel per row.

    Each row: ``name``, ``times`` (n,) s, ``activation`` (n,) normalised to its max,
    ``predicted`` [(start, end, score)], optional ``truth`` [(start, end)]. The axis spans
    ``duration`` seconds (default: to the last time or instance end).
    """
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 0.6 + 1.6 * len(rows)), sharex=True, squeeze=False)
    for ax, row in zip(axes[:, 0], rows):
        for start, end in row.get("truth", []):
            ax.axvspan(start, end, color="tab:green", alpha=0.25, lw=0)
        ax.plot(row["times"], row["activation"], color="tab:blue", lw=1)
        if threshold is not None:
            ax.axhline(threshold, color="grey", ls="--", lw=0.8)
        for start, end, _ in row["predicted"]:
            ax.hlines(-0.08, start, end, color="tab:red", lw=4)
        ax.set_ylim(-0.15, 1.05)
        ax.set_ylabel(row["name"], fontsize=8)
    legend = "activation / max (blue), predicted (red)" + (", threshold (dashed)" if threshold is not None else "") \
        + (", ground truth (green)" if any(r.get("truth") for r in rows) else "")
    axes[0, 0].set_title(f"{title}\n{legend}", fontsize=9)
    if duration is None:
        duration = max(max([r["times"][-1]] + [e for _, e, _ in r["predicted"]] + [e for _, e in r.get("truth", [])])
                       for r in rows)
    _time_axis(axes[-1, 0], duration)
    return fig


def save(fig, path: str | Path) -> bytes:
    """Write ``fig`` as a PNG file and return its bytes."""
    data = png_bytes(fig)
    write_bytes_atomic(path, data)
    return data
