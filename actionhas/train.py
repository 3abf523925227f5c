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

from actionhas.core import cli
from actionhas.models.heads import MODELS, OPTIMIZERS, POOLS, TrainConfig
from actionhas.training.video import summary, train


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig("", "", "")
    p = argparse.ArgumentParser(prog="python -m actionhas.train", description=__doc__, formatter_class=cli.HelpFormatter)
    p.add_argument("--features", required=True, help="feature store (.h5)")
    p.add_argument("--labels", required=True, help="labels CSV (video,subset,labels), ground-truth JSON or txt directory, "
                   "'thumos14' (20 classes, temporally annotated videos) or 'thumos14-101' (101 classes, all videos)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--subset", default=d.subset, help="training videos: this subset of the labels")
    p.add_argument("--val-subset", help="held-out subset whose accuracy is logged each epoch")
    p.add_argument("--select-on", help="held-out subset on which the best epoch is chosen (mAP with temporal labels, "
                                       "else accuracy); never the subset you report")
    p.add_argument("--model", choices=MODELS, default=d.model, help="paper: the paper's classifier; basnet: BaS-Net")
    p.add_argument("--length", type=cli.positive_int, default=d.length,
                   help="features sampled uniformly per video (paper 2000; the field samples 750 on THUMOS14 I3D, "
                        "50-75 on ActivityNet)")
    p.add_argument("--segments", type=cli.positive_int, default=d.segments, help="segments the samples are split into")
    p.add_argument("--hide-prob", type=cli.unit_fraction, default=d.hide_prob,
                   help="probability of hiding each segment (0 = Video-full)")
    p.add_argument("--hidden", type=cli.positive_int, help="hidden channels (default: the head's own: paper 500)")
    p.add_argument("--pool", choices=POOLS, default=d.pool, help="global pooling of the paper's head")
    p.add_argument("--dropout", type=cli.unit_fraction, help="dropout (default: the head's own: paper 0.5)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="adam, or sgd with momentum 0.9")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 weight decay")
    p.add_argument("--lr-step", type=cli.non_negative_int, default=d.lr_step,
                   help="multiply lr by --lr-gamma every N epochs (0: constant)")
    p.add_argument("--lr-gamma", type=float, default=d.lr_gamma, help="lr decay factor")
    p.add_argument("--epochs", type=cli.positive_int, default=d.epochs, help="epochs")
    p.add_argument("--batch-size", type=cli.positive_int, default=d.batch_size, help="videos per step")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of order, hiding, dropout and initialisation")
    p.add_argument("--workers", type=cli.non_negative_int, default=d.workers, help="DataLoader worker processes")
    p.add_argument("--device", default=d.device, help="cpu, cuda, cuda:1, ...")
    return p


def main(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    resume = args.pop("resume")
    cli.check_device(args["device"])
    run = train(TrainConfig(**args), resume=resume)
    print(summary(run))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
