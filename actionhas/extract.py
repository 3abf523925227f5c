"""``python -m actionhas.extract``: C3D fc7 features of videos into the HDF5 feature store.

    python -m actionhas.extract videos/ --out thumos14_c3d.h5 --weights c3d.pickle --device cuda
    python -m actionhas.extract videos/ --out part0.h5 --weights c3d.pickle --shard 0/4   # one of 4 machines
    python -m actionhas.extract merge part0.h5 part1.h5 part2.h5 part3.h5 --out thumos14_c3d.h5
    python -m actionhas.extract import i3d_npy/ --out thumos14_i3d.h5 --fps 25 --frames-per-feature 16

A rerun resumes (finished videos are kept; --overwrite redoes them). Videos that cannot be
decoded are recorded in the store with their reason, listed at the end, and make the exit
status 1; every other video is still extracted.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

from actionhas import cli, defaults
from actionhas.errors import ActionhasError
from feature_extraction.c3d import C3D, POOL5_MODES
from feature_extraction.npy_import import import_npy
from feature_extraction.pipeline import ExtractOptions, extract, list_videos, merge, shard
from feature_extraction.weights import load_c3d


def _shard_spec(spec: str | None) -> tuple[int, int]:
    if spec:
        try:
            k, n = (int(x) for x in spec.split("/"))
        except ValueError:
            raise ActionhasError(f"--shard must be K/N, got {spec!r}") from None
        return k, n
    if "WORLD_SIZE" in os.environ:  # launched with torchrun
        return int(os.environ.get("RANK", 0)), int(os.environ["WORLD_SIZE"])
    return 0, 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.extract", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", help="directory of videos, or a text file listing one path per line")
    p.add_argument("--out", required=True, help="feature store to write or complete (.h5)")
    w = p.add_mutually_exclusive_group(required=True)
    w.add_argument("--weights", help="C3D Sports-1M weights: c3d.pickle, an mmaction2 checkpoint, or actionhas format")
    w.add_argument("--random-weights", action="store_true",
                   help="random C3D (tests and demos only; recorded in the store's extractor)")
    p.add_argument("--pool5", choices=POOL5_MODES, help="pool5 convention (default: the weights file's own)")
    p.add_argument("--features-per-second", type=float, default=defaults.FEATURES_PER_SECOND)
    p.add_argument("--batch-size", type=int, default=16, help="clips per forward pass")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="auto: bf16 autocast on CUDA, fp32 on CPU")
    p.add_argument("--mean", help="Sports-1M mean cube .npy (3x16x128x171, BGR) instead of the per-channel mean")
    p.add_argument("--decode-timeout", type=float, default=60.0, help="seconds without a frame before a video is abandoned")
    p.add_argument("--min-frames", type=int, default=16, help="videos with fewer decodable frames are failures")
    p.add_argument("--shard", help="K/N: extract the K-th of N slices (default: RANK/WORLD_SIZE when set)")
    p.add_argument("--overwrite", action="store_true", help="redo videos already in the store")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-weights")
    return p


def _main_extract(argv) -> int:
    args = build_parser().parse_args(argv)
    if args.random_weights:
        torch.manual_seed(args.seed)
        model = C3D(pool5=args.pool5 or "caffe")
        extractor = f"c3d-random-weights (seed {args.seed}; not Sports-1M: features are meaningless)"
    else:
        model, extractor = load_c3d(args.weights, args.pool5)
    mean_cube = np.load(args.mean, allow_pickle=False) if args.mean else None
    opts = ExtractOptions(features_per_second=args.features_per_second, batch_size=args.batch_size,
                          device=args.device, precision=args.precision, decode_timeout=args.decode_timeout,
                          min_frames=args.min_frames, mean_cube=mean_cube)
    k, n = _shard_spec(args.shard)
    paths = shard(list_videos(args.videos), k, n)
    if args.device == "cpu":
        print("note: C3D runs about 3 clips/s on 2 CPU cores; real collections want --device cuda", file=sys.stderr)
    failures = extract(paths, args.out, model, extractor, opts, overwrite=args.overwrite)
    failed = {vid: rec for vid, rec in failures.items() if vid in {p.stem for p in paths}}
    print(f"store {args.out}: {len(paths) - len(failed)} of the {len(paths)} videos of this run are in it; "
          f"{len(failed)} failed")
    for vid, rec in sorted(failed.items()):
        print(f"  failed: {rec['file']}: {rec['reason']}")
    return 1 if failed else 0


def _main_merge(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m actionhas.extract merge", description="join shard stores")
    p.add_argument("stores", nargs="+")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    n = merge([Path(s) for s in args.stores], Path(args.out))
    print(f"merged {n} videos into {args.out}")
    return 0


def _main_import(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m actionhas.extract import",
                                description="per-video (n, D) .npy features into a feature store")
    p.add_argument("source", help="directory of <video_id>.npy files")
    p.add_argument("--out", required=True)
    p.add_argument("--fps", type=float, required=True, help="frame rate the features were computed at")
    p.add_argument("--frames-per-feature", type=int, required=True, help="frames covered by one feature (I3D: 16)")
    p.add_argument("--name", default="npy", help="what the features are, recorded as extractor 'imported:<name>'")
    args = p.parse_args(argv)
    n = import_npy(args.source, args.out, args.fps, args.frames_per_feature, args.name)
    print(f"imported {n} videos into {args.out}")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "merge":
        return _main_merge(argv[1:])
    if argv and argv[0] == "import":
        return _main_import(argv[1:])
    return _main_extract(argv)


if __name__ == "__main__":
    sys.exit(cli.run(main))
