"""``python -m actionhas.evaluate``: THUMOS14 detection mAP of a predictions JSON.

    python -m actionhas.evaluate --gt thumos14 --subset test --pred predictions.json --out metrics.json
    python -m actionhas.evaluate --protocol thumos14 --gt thumos14 --subset test --pred predictions.json \\
        --out metrics_th14.json --exclude thumos14-bad

``--gt thumos14`` uses the annotations installed with the package (the per-class txt files with
Ambiguous segments for ``--protocol thumos14``, the ActivityNet JSON for ``anet``).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from actionhas import cli
from actionhas.errors import ActionhasError
from actionhas.annotations import (GroundTruth, load_thumos14, read_ground_truth, read_predictions,
                                   resolve_exclusions)
from actionhas.evaluation import DEFAULT_IOUS, PROTOCOLS, evaluate_detection


def load_gt(spec: str, subset: str | None, protocol: str, exclude: str | None = None) -> GroundTruth:
    """Ground truth named on the command line: ``thumos14``, a JSON file or a txt directory."""
    if spec == "thumos14":
        subset = subset or "test"
        gt = load_thumos14(subset, source="txt" if protocol == "thumos14" else "json")
    else:
        gt = read_ground_truth(spec)
        if protocol == "thumos14" and not Path(spec).is_dir():
            warnings.warn(f"{spec}: an ActivityNet JSON has no Ambiguous segments; "
                          "the THUMOS14 protocol runs without them (give the txt directory to use them)")
    gt = gt.select(subset, resolve_exclusions(exclude))
    if not len(gt.instances):
        raise ActionhasError(f"{spec}: no ground-truth instances in subset {subset!r}")
    return gt


def format_table(metrics: dict, title: str = "") -> str:
    """mAP per tIoU in percent, one line, and the average."""
    head = " ".join(f"{t:>6.2f}" for t in metrics["iou"])
    vals = " ".join(f"{100 * m:6.2f}" for m in metrics["mAP"])
    lines = [title] if title else []
    lines += [f"tIoU     {head}    avg", f"mAP (%)  {vals} {100 * metrics['average_mAP']:6.2f}"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", required=True, help="ground truth: 'thumos14' (shipped), an ActivityNet JSON, "
                                               "or a directory of THUMOS14 per-class txt files")
    p.add_argument("--pred", required=True, help="predictions JSON (ActivityNet format)")
    p.add_argument("--out", help="metrics JSON to write")
    p.add_argument("--subset", help="evaluate only the ground-truth videos of this subset (e.g. test)")
    p.add_argument("--iou", type=float, nargs="+", default=list(DEFAULT_IOUS), help="tIoU thresholds")
    p.add_argument("--protocol", choices=PROTOCOLS, default="anet",
                   help="anet: ActivityNet eval_detection.py (default); thumos14: official TH14evalDet.m")
    p.add_argument("--exclude", help="videos to leave out: 'thumos14-bad' (test videos 270, 1292, 1496) "
                                     "or comma-separated video ids")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    gt = load_gt(args.gt, args.subset, args.protocol, args.exclude)
    preds = read_predictions(args.pred)
    metrics = evaluate_detection(gt, preds, args.iou, protocol=args.protocol)
    print(f"{args.protocol} protocol: {metrics['num_videos']} videos, {len(gt.instances)} instances, "
          f"{len(gt.classes)} classes, {metrics['num_predictions']} predictions evaluated")
    print(format_table(metrics))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(metrics, indent=1))
        print(f"metrics written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
