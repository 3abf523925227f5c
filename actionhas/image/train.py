"""``python -m actionhas.image.train``: a CAM classifier on images with random patches hidden.

    python -m actionhas.image.train --data ILSVRC/train --out runs/alexnet_has --arch alexnet_gap \\
        --hide-sizes 0 16 32 44 56 --hide-prob 0.5 --device cuda          # AlexNet-HaS-Mixed
    python -m actionhas.image.train ... --hide-sizes 0 --out runs/alexnet_gap # AlexNet-GAP baseline
    python -m actionhas.image.train ... --hide-layer 0 --hide-sizes 11       # hide on conv1's 55x55 output

Defaults are the paper's schedule: SGD (momentum 0.9, weight decay 5e-4), lr 0.01 multiplied by
0.1 every 25 epochs, batch 128, 55 epochs, 224x224 crops of 256x256 images with flips. Images
are normalised by the mean and std (ImageNet's, or ``--mean-std auto``: measured on the training
images), so a hidden patch is filled with 0, the mean pixel. Hiding sizes are drawn per image on
every step from ``--hide-sizes`` (0 = not hidden). Hiding on a conv layer's output
(``--hide-layer``) fills with that layer's per-channel mean activation over the batch. The run
directory holds config.json, classes.json, checkpoint.pt (atomic, every epoch) and log.jsonl;
``--resume`` continues, and refuses settings that differ from the run's.
"""
from __future__ import annotations

import argparse
import sys

from actionhas.core import cli, settings
from actionhas.formats.rundir import RunDir
from actionhas.image import defaults
from actionhas.image.config import ImageTrainConfig
from actionhas.image.data import image_folder
from actionhas.image.training import measure_mean_std, train_images


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.image.train", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace what --out holds (another run, a run with other settings) and start afresh")
    settings.add_flags(p, ImageTrainConfig)
    p.add_argument("--mean-std", choices=["imagenet", "auto"], default=defaults.MEAN_STD,
                   help="normalisation: ImageNet's mean and std, or measured on the training images")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = settings.from_args(ImageTrainConfig, args)
    cli.check_device(cfg.device)
    if args.mean_std == "auto":
        if args.resume and RunDir(cfg.out).has_checkpoint():
            saved = RunDir(cfg.out).config()
            cfg.mean, cfg.std = saved["mean"], saved["std"]
        else:
            cfg.mean, cfg.std = measure_mean_std(image_folder(cfg.data)[0], cfg.resize)
    run = RunDir(train_images(cfg, resume=args.resume, overwrite=args.overwrite))
    last = run.log()[-1]
    print(f"run written to {run.path} (epoch {last['epoch'] + 1}: loss {last['loss']:.4f}, "
          f"train accuracy {last['train_accuracy']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
