"""``python -m actionhas.image.evaluate``: Top-1 Cls, Top-1 Loc, GT-known Loc and MaxBoxAccV2.

    python -m actionhas.image.evaluate --run runs/alexnet_has --data ILSVRC/val --boxes LOC_val_solution.csv \\
        --out metrics.json --figure grid.png --ten-crop
    python -m actionhas.image.evaluate --cams my_cams.npz --boxes LOC_val_solution.csv --out metrics.json

``--data`` is an ImageFolder directory (``<synset>/<image>``) or a flat one (ILSVRC's val/),
whose classes then come from ``--boxes`` (LOC_val_solution.csv or a folder of the devkit's
XML files). The CAM of the ground-truth class, resized to the image, gives the GT-known box
(largest component above ``--threshold`` of its max); Top-1 Loc also needs the top-1 class right.
``--ten-crop`` averages probabilities and CAMs over 4 corner and the centre crops and their flips,
each CAM mapped back onto the image.

MaxBoxAccV2 equals wsolevaluation's ``BoxEvaluator`` (multi_contour_eval, IoU 30/50/70,
cam_curve_interval 0.01): the CAM at the network's resolution (the averaged map with
``--ten-crop``; with ``--cams``, the stored map) is resized to 224x224 by OpenCV's bicubic
interpolation (reproduced exactly), min-max normalised and quantised to uint8; at every threshold
t = 0, 0.01, ..., 0.99 each contour of ``map > int(t * 255)`` (8-connected regions and the holes
inside them) gives a box; an image counts at t when a box has IoU >= d with one of its ground-truth
boxes scaled to 224x224 (coordinates truncated). MaxBoxAcc(d) is the best fraction over t, and
MaxBoxAccV2 the mean over d = 0.3, 0.5, 0.7. A CAM with NaN or infinite values, or a constant one,
is an error naming its image; ground-truth boxes reaching outside their image are clipped to it,
with one warning that counts them.

``--cams FILE.npz`` scores maps from any model: ``image_ids`` (N,) str, ``cams`` (N, h, w) float,
the CAM of each image's ground-truth class covering the whole image; optional ``pred_classes``
(N,) str (top-1 synsets, for Top-1 Cls/Loc) and ``image_sizes`` (N, 2) int (height, width of the
original image, when the CAMs are at another resolution; they are resized bilinearly for GT-known).
Loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from actionhas.core import cli
from actionhas.core.errors import ActionhasError
from actionhas.formats import outputs
from actionhas.formats.atomic import write_text_atomic
from actionhas.image import defaults
from actionhas.image.evaluation import check_synsets, evaluate_npz, evaluate_run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.image.evaluate", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="image training run directory")
    src.add_argument("--cams", help="score CAMs from a .npz file instead of a run")
    p.add_argument("--data", help="validation images (with --run)")
    p.add_argument("--boxes", required=True, help="LOC_val_solution.csv or a folder of VOC-style XML files")
    p.add_argument("--synsets", help="LOC_synset_mapping.txt, to check the boxes' classes")
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--threshold", type=float, help="CAM fraction for the GT-known box; unset: the run's "
                                                   "architecture's (0.2 AlexNet, 0.3 GoogLeNet), 0.2 with --cams")
    p.add_argument("--ten-crop", action="store_true", help="average 10 crops (corners, centre, flips)")
    p.add_argument("--figure", help="PNG grid of images, CAMs and boxes")
    p.add_argument("--device", default=defaults.DEVICE, help="cpu, cuda, cuda:1, ... (with --run)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out (and --figure) not written by image.evaluate or made with other settings")
    return p


def _claim_outputs(args: argparse.Namespace) -> dict:
    """Apply the output rule to --out and --figure; the record --out keeps of how it was made."""
    record = {name: outputs.input_path(getattr(args, name)) for name in ("run", "cams", "data", "boxes", "synsets")}
    record.update(threshold=args.threshold, ten_crop=args.ten_crop, figure=outputs.input_path(args.figure))
    read_out = outputs.json_record("made_with", "image.evaluate")
    outputs.claim(args.out, "--out", "file", "image.evaluate", read_out, record, args.overwrite)
    if args.figure:
        def read_figure(path: Path) -> outputs.Record:  # a PNG keeps no record: --out's says it drew this one
            found = read_out(Path(args.out)) if Path(args.out).is_file() else "was not drawn by image.evaluate"
            return found if isinstance(found, str) or found.get("figure") == record["figure"] else \
                "was not drawn by image.evaluate"

        outputs.claim(args.figure, "--figure", "file", "image.evaluate", read_figure, record, args.overwrite)
    return record


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    record = _claim_outputs(args)
    if args.synsets:
        check_synsets(args.boxes, args.synsets)
    if args.run:
        if not args.data:
            raise ActionhasError("--run needs --data (the validation images)")
        metrics = evaluate_run(args.run, args.data, args.boxes, args.threshold, args.ten_crop, args.device, args.figure)
    else:
        metrics = evaluate_npz(args.cams, args.boxes, defaults.CAM_THRESHOLD if args.threshold is None else args.threshold)
    write_text_atomic(args.out, json.dumps({**metrics, "made_with": record}, indent=1))
    pct = {k: f"{100 * v:.2f}" for k, v in metrics.items() if k in ("top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2")
           and v is not None}
    print(f"{metrics['images']} images: " + ", ".join(f"{k} {v}%" for k, v in pct.items()))
    print(f"metrics written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
