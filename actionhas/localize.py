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

from actionhas import cli
from actionhas.annotations import write_predictions
from actionhas.localization import PROPOSAL_METHODS, LocalizeSettings, localize


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
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--save-cams", help="also write every video's activations to this HDF5 file (for the report)")
    return p


def settings_from(args: argparse.Namespace) -> LocalizeSettings:
    return LocalizeSettings(proposals=args.proposals, threshold=args.threshold, top_k=args.top_k, min_prob=args.min_prob)


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
