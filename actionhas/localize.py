"""``python -m actionhas.localize``: action instances from a trained run's class activations.

    python -m actionhas.localize --run runs/has --features thumos14_c3d.h5 --subset test \\
        --labels thumos14 --out runs/has/predictions.json --save-cams runs/has/cams.h5
    python -m actionhas.localize --run runs/basnet_has --features thumos14_i3d.h5 --proposals basnet \\
        --out runs/basnet_has/predictions.json       # BaS-Net's official test path, predicted classes

--proposals paper (the default): for each video and class, CAM(c, t) = sum_i W(c, i) F_i(t) over
all of the video's features; every maximal run of features with CAM >= threshold * max(CAM)
becomes one instance [times[first] - step/2, times[last] + step/2] (step = 1 / features_per_second,
clipped to the video), scored by the mean CAM over the run times the class probability of the
video. Classes are the video's ground-truth classes with --labels (the paper's setting) or the
predicted ones: the --top-k most probable, or every class with probability >= --min-prob.
--proposals basnet (BaS-Net runs): BaS-Net's official test path (Pilhyeon/BaSNet-pytorch
c8c6bbd8): each video resampled to the run's --length (750), the classes whose suppression-branch
score is >= --class-threshold (with --labels: the video's ground-truth classes), min-max
normalised raw suppression CAS upsampled x24, thresholds 0:0.025:0.225, the outer-inner-contrastive
score + 0.2 x the binarised class score, times index * step_frames * n / (24 * length * fps) (16
frames at 25 fps for an imported I3D store; one feature at features_per_second otherwise), NMS 0.7
with lengths + 1. --proposals multi: actionhas's own variant, not a published method (the README
lists how it differs from BaS-Net's and CoLA's): proposals from several thresholds of the
normalised activation (and of the attention), outer-inner-contrastive scores and class-wise NMS;
without --labels, the classes whose video score reaches --class-threshold.
"""
from __future__ import annotations

import argparse
import sys

from actionhas.core import cli, defaults, settings
from actionhas.formats import outputs
from actionhas.formats.annotations import write_predictions
from actionhas.localization.pipeline import localize
from actionhas.localization.settings import MULTI_FIELDS, LocalizeSettings

PAPER_FIELDS = ("proposals", "threshold", "top_k", "min_prob")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.localize", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--run", required=True, help="training run directory")
    p.add_argument("--features", required=True, help="feature store (.h5)")
    p.add_argument("--out", required=True, help="predictions JSON to write")
    p.add_argument("--subset", default=defaults.EVAL_SUBSET, help="videos of this subset of --labels")
    p.add_argument("--labels", help="ground truth or labels CSV giving each video's classes (the paper's setting); "
                                    "'thumos14' for the shipped annotations. Without it, every video of the store "
                                    "is localized with its predicted classes")
    settings.add_flags(p, LocalizeSettings, only=PAPER_FIELDS)
    multi = p.add_argument_group("--proposals basnet and multi (multi: actionhas's own, defaults after BaS-Net, "
                                 "CoLA, AutoLoc)")
    settings.add_flags(multi, LocalizeSettings, only=("class_threshold", *MULTI_FIELDS))
    p.add_argument("--device", default=defaults.DEVICE, help="cpu, cuda, cuda:1, ...")
    p.add_argument("--save-cams", help="also write every video's activations to this HDF5 file (for the report)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out and --save-cams files not written by localize or made with other settings")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cli.check_device(args.device)
    chosen = settings.from_args(LocalizeSettings, args)
    record = {"run": outputs.input_path(args.run), **chosen.record(), "features": outputs.input_path(args.features),
              "subset": args.subset, "labels": outputs.input_path(args.labels)}
    outputs.claim(args.out, "--out", "file", "localize", outputs.json_record("external_data", "localize"), record,
                  args.overwrite)
    if args.save_cams:
        outputs.claim(args.save_cams, "--save-cams", "file", "localize", outputs.hdf5_record("localize"), record,
                      args.overwrite)
    preds = localize(args.run, args.features, args.subset, args.labels, chosen, args.device, args.save_cams,
                     cams_record=record)
    write_predictions(preds, args.out, extra=record)
    print(f"{len(preds)} instances in {preds['video'].nunique()} videos written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
