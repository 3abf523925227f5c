"""``python -m actionhas.extract``: video features into the HDF5 feature store.

    python -m actionhas.extract videos/ --out thumos14_c3d.h5 --weights c3d.pickle --device cuda
    python -m actionhas.extract videos/ --out part0.h5 --weights c3d.pickle --shard 0/4   # one of 4 machines
    python -m actionhas.extract merge part0.h5 part1.h5 part2.h5 part3.h5 --out thumos14_c3d.h5
    python -m actionhas.extract import i3d/ --out thumos14_i3d.h5 --fps 25 --frames-per-feature 16
    python -m actionhas.extract info thumos14_c3d.h5     # settings, video count, failures

``extract VIDEOS ...`` is short for ``extract c3d VIDEOS ...``; a videos directory named like a
command (merge, import, info, c3d) is given as ./merge, or after ``c3d``.

A rerun resumes (finished videos are kept). Every store records its provenance, all settings
that change a feature value; a run whose settings differ from the store's (or from its
unfinished work) is refused before any work, naming each setting; --overwrite starts clean.
Videos that cannot be decoded are recorded in the store with their reason, listed at the end,
and make the exit status 1; every other video is still extracted.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from actionhas.core import cli, defaults
from actionhas.core.errors import ActionhasError
from feature_extraction import npy_import
from feature_extraction.c3d import POOL5_MODES
from feature_extraction.engine import DECODE_WORKERS
from feature_extraction.pipeline import PRECISIONS, extract_c3d, list_videos, shard
from feature_extraction.provenance import describe_store
from feature_extraction.work_store import merge

PROG = "python -m actionhas.extract"
COMMANDS = ("c3d", "merge", "import", "info")


def _shard_spec(spec: str | None) -> tuple[int, int]:
    if spec:
        try:
            k, n = (int(x) for x in spec.split("/"))
        except ValueError:
            raise ActionhasError(f"--shard must be K/N, got {spec!r}") from None
        return k, n
    if "WORLD_SIZE" in os.environ:  # launched with torchrun
        return int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    return 0, 1


def _command_c3d(args: argparse.Namespace) -> int:
    k, n = _shard_spec(args.shard)
    paths = shard(list_videos(args.videos), k, n)
    failures = extract_c3d(paths, args.out, args.weights, random_seed=args.seed if args.random_weights else None,
                           pool5=args.pool5, mean=args.mean, overwrite=args.overwrite,
                           features_per_second=args.features_per_second, batch_size=args.batch_size,
                           decode_workers=args.decode_workers, device=args.device, precision=args.precision,
                           decode_timeout=args.decode_timeout, min_frames=args.min_frames)
    failed = {vid: rec for vid, rec in failures.items() if vid in {p.stem for p in paths}}
    print(f"store {args.out}: {len(paths) - len(failed)} of the {len(paths)} videos of this run are in it; "
          f"{len(failed)} failed")
    for vid, rec in sorted(failed.items()):
        print(f"  failed: {rec['file']}: {rec['reason']}")
    return 1 if failed else 0


def _command_merge(args: argparse.Namespace) -> int:
    n = merge([Path(s) for s in args.stores], Path(args.out), overwrite=args.overwrite)
    print(f"merged {n} videos into {args.out}")
    return 0


def _command_import(args: argparse.Namespace) -> int:
    n = npy_import.import_npy(args.source, args.out, args.fps, args.frames_per_feature, args.name,
                              stride=args.stride, names=args.names, overwrite=args.overwrite)
    print(f"imported {n} videos into {args.out}")
    return 0


def _command_info(args: argparse.Namespace) -> int:
    print(describe_store(args.store))
    return 0


def _add_c3d(sub) -> None:
    p = sub.add_parser("c3d", formatter_class=cli.HelpFormatter, help="C3D fc7 features of videos (the default command)",
                       description="C3D fc7 features of videos into a store, preprocessed as the weights' origin.\n"
                                   "`extract VIDEOS ...` means `extract c3d VIDEOS ...`; a videos directory named\n"
                                   "like a command (merge, import, info, c3d) is given as ./NAME or after c3d.")
    p.add_argument("videos", help="directory of videos, or a text file listing one path per line")
    p.add_argument("--out", required=True, help="feature store to write or complete (.h5)")
    w = p.add_mutually_exclusive_group(required=True)
    w.add_argument("--weights", help="C3D Sports-1M weights: c3d.pickle (Caffe-converted), an mmaction2 checkpoint, "
                                     "or the actionhas format; preprocessing follows their origin")
    w.add_argument("--random-weights", action="store_true",
                   help="random C3D (tests and demos only; recorded in the store's extractor and provenance)")
    p.add_argument("--pool5", choices=POOL5_MODES,
                   help="pool5 convention; unset: the one the weights were trained on (caffe for c3d.pickle, "
                        "random and actionhas files unless they record otherwise; pytorch_port for mmaction2)")
    p.add_argument("--features-per-second", type=float, default=defaults.FEATURES_PER_SECOND,
                   help="features per second of video, each over 16 frames")
    p.add_argument("--batch-size", type=int, default=defaults.EXTRACT_BATCH_SIZE, help="clips per forward pass")
    p.add_argument("--decode-workers", type=int, default=DECODE_WORKERS,
                   help="videos decoded at once, all feeding one batched network (every core but one, at most 8)")
    p.add_argument("--device", default=defaults.DEVICE,
                   help="torch device: cpu, cuda, cuda:1, ... (C3D runs about 3 clips/s on 2 CPU cores: real "
                        "collections want cuda)")
    p.add_argument("--precision", choices=PRECISIONS, default=defaults.EXTRACT_PRECISION,
                   help="fp32: true fp32 (TF32 off on CUDA); tf32 (CUDA only), bf16 and fp16 autocast are faster "
                        "and change the features; recorded in the store")
    p.add_argument("--mean", help="Caffe's Sports-1M mean cube .npy, shape (3, 16, 128, 171) BGR (a leading 1 "
                                  "is accepted), instead of the per-channel mean")
    p.add_argument("--decode-timeout", type=float, default=defaults.DECODE_TIMEOUT,
                   help="seconds without a frame before a video is abandoned")
    p.add_argument("--min-frames", type=int, default=defaults.MIN_FRAMES,
                   help="videos with fewer decodable frames are failures")
    p.add_argument("--shard", help="K/N: extract the K-th of N slices (unset: RANK/WORLD_SIZE when set, else all)")
    p.add_argument("--overwrite", action="store_true",
                   help="start clean: remove the store and its unfinished work, then extract")
    p.add_argument("--seed", type=int, default=defaults.SEED, help="seed of --random-weights")
    p.set_defaults(handler=_command_c3d)


def _add_import(sub) -> None:
    p = sub.add_parser("import", formatter_class=cli.HelpFormatter, help="a feature release (.npy) into a store",
                       description=npy_import.__doc__)
    p.add_argument("source", help="DIR of <video>.npy (T, D) files (I3D releases, ActionFormer); DIR with rgb/ and "
                                  "flow/ subfolders (BaS-Net, CoLA, UM: concatenated rgb|flow); or one FEATURES.npy "
                                  "object array of per-video arrays (W-TALC, CO2-Net, DELU) with --names")
    p.add_argument("--out", required=True,
                   help="feature store to write (an import with the same settings is replaced atomically)")
    p.add_argument("--fps", type=float, required=True,
                   help="frame rate the features were computed at (THUMOS14 I3D releases: 25; ActionFormer: 30)")
    p.add_argument("--frames-per-feature", type=int, required=True,
                   help="K: frames covered by one feature (I3D releases and ActionFormer: 16)")
    p.add_argument("--stride", type=int,
                   help="S: frames between features; unset: K (W-TALC, BaS-Net, CoLA, UM); ActionFormer: 4")
    p.add_argument("--names", help="NAMES.txt: video names, one per line, in the order of FEATURES.npy (W-TALC's "
                                   "layout); the object array is read admitting only numpy arrays and dtypes, "
                                   "never arbitrary pickled code")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out that is not a store imported with the same settings")
    p.add_argument("--name", default=defaults.IMPORT_NAME,
                   help="what the features are, recorded as extractor 'imported:<name>'")
    p.set_defaults(handler=_command_import)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=cli.HelpFormatter)
    sub = p.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_c3d(sub)
    m = sub.add_parser("merge", formatter_class=cli.HelpFormatter, help="join shard stores of one extraction",
                       description="Join the stores of --shard runs; every shard must record the same provenance.")
    m.add_argument("stores", nargs="+", help="the shard stores")
    m.add_argument("--out", required=True, help="merged store to write")
    m.add_argument("--overwrite", action="store_true",
                   help="replace an --out that is not a store of the shards' provenance")
    m.set_defaults(handler=_command_merge)
    _add_import(sub)
    i = sub.add_parser("info", formatter_class=cli.HelpFormatter, help="print a store's provenance, videos and failures",
                       description="Print a store's attributes, the settings that made it, its video count and failures.")
    i.add_argument("store", help="feature store (.h5)")
    i.set_defaults(handler=_command_info)
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; without a command it is ``c3d`` (the short form: extract VIDEOS --out ...)."""
    if argv and argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["c3d", *argv]
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(cli.execute(main))
