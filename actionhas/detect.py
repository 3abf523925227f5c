"""``python -m actionhas.detect``: from raw video files to action instances, in one command.

    python -m actionhas.detect my_videos/*.mp4 --run runs/has --weights c3d.pickle --out found/
    python -m actionhas.detect video_test_0000004 --run runs/basnet --features thumos14_i3d.h5 --out found/

With --weights, the videos are extracted into OUT/features.h5 exactly as ``extract`` does (C3D
fc7, 10 features per second; resumable: a rerun skips finished videos) — the run must have been
trained on features of that extractor (checked before any decoding). With --features, the videos
(named by file stem) are read from an existing store, e.g. imported I3D features. The run's
head then localizes in each video every class it gives probability >= --min-prob (the most
probable one when none does), or the classes of --classes. Written to OUT: predictions.json
(ActivityNet form), timeline_<video>.png (class activation over time, the threshold, the
instances) and index.html, a page to review them: each video plays beside its timeline and
instances table, and a click on an instance plays it from its start. The page links each video
file by a relative path (keep OUT beside the videos, or use --copy-videos); video files given with
--features are linked the same way.
"""
from __future__ import annotations

import argparse
import sys

from actionhas.core import cli, defaults, settings
from actionhas.localization.settings import LocalizeSettings
from actionhas.reporting.detection import detect, summary_lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.detect", description=__doc__, formatter_class=cli.HelpFormatter)
    p.add_argument("videos", nargs="+", help="video files (with --weights) or video ids or files of the --features store")
    p.add_argument("--run", required=True, help="training run directory")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="C3D weights to extract the videos with (as extract --weights)")
    source.add_argument("--features", help="an existing feature store holding the videos")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--classes", "--labels", dest="classes",
                   help="comma-separated classes to localize in every video, instead of the predicted ones "
                        "(--labels: older name)")
    p.add_argument("--min-prob", type=cli.unit_fraction, default=defaults.DETECT_MIN_PROB,
                   help="localize every class the run gives at least this video-level probability")
    settings.add_flags(p, LocalizeSettings, only=("proposals", "threshold"))
    p.add_argument("--batch-size", type=cli.positive_int, default=defaults.EXTRACT_BATCH_SIZE,
                   help="with --weights: clips per C3D forward pass (as extract --batch-size)")
    p.add_argument("--copy-videos", action="store_true",
                   help="copy the video files into OUT/videos/ for the page, instead of linking them where they are")
    p.add_argument("--device", default=defaults.DEVICE, help="cpu, cuda, cuda:1, ...")
    p.add_argument("--overwrite", action="store_true",
                   help="start clean: replace an --out not written by detect or made with other settings (its "
                        "features.h5 too)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cli.check_device(args.device)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    chosen = LocalizeSettings(proposals=args.proposals, threshold=args.threshold,
                              min_prob=None if classes else args.min_prob)
    results, failures = detect(args.videos, args.run, args.out, weights=args.weights, features=args.features,
                               classes=classes, min_prob=args.min_prob, settings=chosen, device=args.device,
                               copy_videos=args.copy_videos, overwrite=args.overwrite,
                               batch_size=args.batch_size)
    for vid, failure in sorted(failures.items()):
        print(f"failed: {failure['file']}: {failure['reason']} (left out)")
    print("\n".join(summary_lines(results)))
    print(f"predictions, timelines and index.html written to {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
