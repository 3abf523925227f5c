"""``python -m actionhas.evaluate``: temporal detection mAP of a predictions JSON.

    python -m actionhas.evaluate --gt thumos14 --subset test --pred predictions.json --out metrics.json
    python -m actionhas.evaluate --protocol thumos14 --gt thumos14 --subset test --pred predictions.json \\
        --out metrics_th14.json --exclude thumos14-bad
    python -m actionhas.evaluate --gt activity_net.v1-3.min.json --subset validation --iou anet \\
        --pred predictions.json --out metrics.json

Protocols:
  anet      ActivityNet's eval_detection.py (compute_average_precision_detection with
            interpolated_prec_rec). Predictions in videos without ground truth are ignored.
  thumos14  the updated official THUMOS14 kit: TH14evalDet.m with TH14eventdetpr.m,
            intervaloverlapvalseconds.m and prap.m (ground-truth-centric matching, overlap > tIoU,
            Ambiguous segments, non-interpolated AP). Every prediction of an evaluated video
            counts, so a detection in a video without ground truth of its class is a false
            positive; videos outside --subset (the official THUMOS14 video lists for --gt
            thumos14, else the ground truth's own list or the video_test_ / video_validation_
            id prefix) and --exclude'd videos are ignored with a counted warning.

--gt thumos14 uses the annotations installed with the package (the per-class txt files with
Ambiguous segments for --protocol thumos14, the ActivityNet JSON for anet). ActivityNet 1.2 / 1.3
files are read as distributed; prediction ids "v_<id>" match ground-truth ids "<id>" and back.

--iou: "thumos" = 0.1:0.1:0.7 (the field's averages over 0.1-0.5, 0.1-0.7 and 0.3-0.7 are
reported too), "anet" = 0.5:0.05:0.95 as ActivityNet's np.linspace(0.5, 0.95, 10) (average
0.5-0.95), or numbers in (0, 1].
"""
from __future__ import annotations

import argparse
import json
import sys

from actionhas.core import cli, defaults
from actionhas.evaluation.detection_map import (
    IOU_SETS,
    PROTOCOLS,
    evaluate_detection,
    format_table,
)
from actionhas.formats import outputs
from actionhas.formats.annotations import load_ground_truth, read_prediction_columns
from actionhas.formats.atomic import write_text_atomic


def _iou_token(text: str) -> float | str:
    """argparse type of one --iou word: a set name or a number in (0, 1]."""
    if text in IOU_SETS:
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor one of {', '.join(IOU_SETS)}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"tIoU thresholds lie in (0, 1], got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.evaluate", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--gt", required=True, help="ground truth: 'thumos14' (shipped), an ActivityNet JSON, "
                                               "or a directory of THUMOS14 per-class txt files")
    p.add_argument("--pred", required=True, help="predictions JSON (ActivityNet format)")
    p.add_argument("--out", help="metrics JSON to write")
    p.add_argument("--subset", help="evaluate the videos of this subset (e.g. test); with --gt thumos14, "
                                    "test when not given")
    p.add_argument("--iou", type=_iou_token, nargs="+", default=[defaults.IOU_SET], metavar="IOU",
                   help=f"tIoU thresholds: {' or '.join(IOU_SETS)} or numbers in (0, 1]")
    p.add_argument("--protocol", choices=PROTOCOLS, default=defaults.PROTOCOL,
                   help="anet: ActivityNet eval_detection.py; thumos14: the updated official TH14evalDet.m")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out not written by evaluate or made with other settings")
    p.add_argument("--exclude", help="videos to leave out: 'thumos14-bad' (test videos 270, 1292, 1496) "
                                     "or comma-separated video ids")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [t for t in args.iou if isinstance(t, str)]
    if names and len(args.iou) > 1:
        parser.error(f"argument --iou: give one of {', '.join(IOU_SETS)} or numbers, not both")
    thresholds = IOU_SETS[names[0]] if names else tuple(args.iou)
    record = {"gt": outputs.input_path(args.gt), "pred": outputs.input_path(args.pred), "subset": args.subset,
              "protocol": args.protocol, "iou": list(thresholds), "exclude": args.exclude}
    if args.out:
        outputs.claim(args.out, "--out", "file", "evaluate", outputs.json_record("made_with", "evaluate"), record,
                      args.overwrite)
    gt = load_ground_truth(args.gt, args.subset, args.protocol, args.exclude)
    preds = read_prediction_columns(args.pred)
    metrics = evaluate_detection(gt, preds, thresholds, protocol=args.protocol)
    print(f"{args.protocol} protocol: {metrics['num_videos']} videos, {len(gt.instance_columns['video'])} instances, "
          f"{len(gt.classes)} classes, {metrics['num_predictions']} predictions evaluated")
    print(format_table(metrics))
    if args.out:
        write_text_atomic(args.out, json.dumps({**metrics, "made_with": record}, indent=1))
        print(f"metrics written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
