"""``python -m actionhas.train``: train a video head with Hide-and-Seek.

    python -m actionhas.train --features thumos14_c3d.h5 --labels thumos14 --subset validation \\
        --out runs/has --hide-prob 0.5 --seed 0
    python -m actionhas.train ... --out runs/full --hide-prob 0      # the paper's Video-full
    python -m actionhas.train --features thumos14_i3d.h5 --labels thumos14 --model basnet \\
        --length 750 --out runs/basnet_has --hide-prob 0.5           # hiding in BaS-Net

The run directory holds config.json (every setting, defaults included), classes.json,
mean_feature.npy (the fill for hidden segments, float64 over all training features),
checkpoint.pt (weights, optimiser; written atomically after every epoch) and log.jsonl (one line
per epoch). ``--resume`` continues from the checkpoint and ends with the same weights as an
uninterrupted run: every epoch draws its order, hiding and dropout from generators seeded by
(seed, epoch) alone. ``--select-on SUBSET`` keeps the epoch that scores best on those held-out
videos (selected.pt, selection.json); it must not be the subset you report.
"""
from __future__ import annotations

import argparse
import sys

from actionhas.core import cli, settings
from actionhas.core.defaults import HEAD_PRESETS
from actionhas.formats.train_config import TrainConfig
from actionhas.training.video import summary, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.train", description=__doc__, formatter_class=cli.HelpFormatter)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace what --out holds (another run, a run with other settings) and start afresh")
    settings.add_flags(p, TrainConfig, presets=HEAD_PRESETS)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = settings.from_args(TrainConfig, args)
    cli.check_device(cfg.device)
    print(summary(train(cfg, resume=args.resume, overwrite=args.overwrite)))
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
