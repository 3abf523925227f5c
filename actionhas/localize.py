"""``python -m actionhas.localize``: action instances from a trained run's class activations.

    python -m actionhas.localize --run runs/has --features thumos14_c3d.h5 --subset test \\
        --labels thumos14 --out runs/has/predictions.json --save-cams runs/has/cams.h5
    python -m actionhas.localize --run runs/basnet_has --features thumos14_i3d.h5 --proposals multi \\
        --out runs/basnet_has/predictions.json       # the field's post-processing, predicted classes

--proposals paper (the default): for each video and class, CAM(c, t) = sum_i W(c, i) F_i(t) over
all of the video's features; every maximal run of features with CAM >= threshold * max(CAM)
becomes one instance [times[first] - step/2, times[last] + step/2] (step = 1 / features_per_second,
clipped to the video), scored by the mean CAM over the run times the class probability of the
video. Classes are the video's ground-truth classes with --labels (the paper's setting) or the
predicted ones: the --top-k most probable, or every class with probability >= --min-prob.
--proposals multi: proposals from several thresholds of the normalised activation (and of the
attention), outer-inner-contrastive scores and class-wise NMS; without --labels, the classes
whose video score reaches --class-threshold.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actionhas.core import cli
from actionhas.core import defaults
from actionhas.formats.annotations import write_predictions
from actionhas.localization.pipeline import PROPOSAL_METHODS, LocalizeSettings, localize


def build_parser() -> argparse.ArgumentParser:
    d = LocalizeSettings()
    p = argparse.ArgumentParser(prog="python -m actionhas.localize", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--run", required=True, help="training run directory")
    p.add_argument("--features", required=True, help="feature store (.h5)")
    p.add_argument("--out", required=True, help="predictions JSON to write")
    p.add_argument("--subset", default="test", help="videos of this subset of --labels")
    p.add_argument("--labels", help="ground truth or labels CSV giving each video's classes (the paper's setting); "
                                    "'thumos14' for the shipped annotations. Without it, every video of the store "
                                    "is localized with its predicted classes")
    p.add_argument("--proposals", choices=PROPOSAL_METHODS, default=d.proposals,
                   help="paper: one threshold of the CAM; multi: the multi-threshold post-processing")
    p.add_argument("--threshold", type=cli.unit_fraction, default=d.threshold,
                   help="paper: CAM threshold as a fraction of its max")
    p.add_argument("--top-k", type=cli.positive_int, default=d.top_k,
                   help="without --labels: predicted classes localized per video")
    p.add_argument("--min-prob", type=cli.unit_fraction,
                   help="without --labels: localize every class at least this probable (the top one when none is)")
    multi = p.add_argument_group("--proposals multi (published defaults: BaS-Net, CoLA, AutoLoc)")
    multi.add_argument("--class-threshold", type=cli.unit_fraction, default=defaults.CLASS_THRESHOLD,
                       help="without --labels: localize classes whose video score reaches this (the top one when none does)")
    multi.add_argument("--cas-thresholds", type=cli.unit_fraction, nargs="+", default=list(defaults.PROPOSAL_CAS_THRESHOLDS),
                       help="thresholds of the min-max normalised class activation")
    multi.add_argument("--attention-thresholds", type=cli.unit_fraction, nargs="*",
                       default=list(defaults.PROPOSAL_ATTENTION_THRESHOLDS),
                       help="thresholds of the normalised attention (heads with attention, e.g. basnet)")
    multi.add_argument("--outer-ratio", type=float, default=defaults.PROPOSAL_OUTER_RATIO,
                       help="outer region on each side of a proposal, as a fraction of its length")
    multi.add_argument("--class-weight", type=float, default=defaults.PROPOSAL_CLASS_WEIGHT,
                       help="weight of the video-level class score in a proposal's score")
    multi.add_argument("--nms", choices=["nms", "soft-nms"], default=defaults.PROPOSAL_METHOD,
                       help="class-wise suppression of overlapping proposals")
    multi.add_argument("--nms-iou", type=cli.unit_fraction, default=defaults.PROPOSAL_NMS_IOU,
                       help="nms: drop proposals overlapping a kept one by this tIoU")
    multi.add_argument("--soft-sigma", type=float, default=defaults.SOFT_NMS_SIGMA, help="soft-nms: Gaussian decay")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--save-cams", help="also write every video's activations to this HDF5 file (for the report)")
    return p


def settings_from(args: argparse.Namespace) -> LocalizeSettings:
    multi = {"cas_thresholds": tuple(args.cas_thresholds), "attention_thresholds": tuple(args.attention_thresholds),
             "outer_ratio": args.outer_ratio, "class_weight": args.class_weight, "method": args.nms,
             "nms_iou": args.nms_iou, "soft_sigma": args.soft_sigma}
    return LocalizeSettings(proposals=args.proposals, threshold=args.threshold, top_k=args.top_k, min_prob=args.min_prob,
                            class_threshold=args.class_threshold, multi=multi)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cli.check_device(args.device)
    settings = settings_from(args)
    preds = localize(args.run, args.features, args.subset, args.labels, settings, args.device, args.save_cams)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_predictions(preds, args.out, extra={"run": str(args.run), **settings.record()})
    print(f"{len(preds)} instances in {preds['video'].nunique()} videos written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
