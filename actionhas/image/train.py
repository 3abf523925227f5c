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

from actionhas.core import cli
from actionhas.image import defaults
from actionhas.image.data import image_folder
from actionhas.image.networks import ARCHITECTURES
from actionhas.image.training import ImageTrainConfig, measure_mean_std, train_images
from actionhas.formats.rundir import RunDir


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.image.train", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--data", required=True, help="ImageFolder training directory (<class>/<image>)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=defaults.ARCH, help="CAM network")
    p.add_argument("--pool", choices=["avg", "max"], default=defaults.POOL, help="global pooling")
    p.add_argument("--hide-sizes", type=cli.non_negative_int, nargs="+", default=list(defaults.HIDE_SIZES),
                   help="patch sizes drawn per image (0 = not hidden); '0' alone trains without hiding")
    p.add_argument("--hide-prob", type=cli.unit_fraction, default=defaults.HIDE_PROB, help="probability of hiding a patch")
    p.add_argument("--hide-layer", type=cli.non_negative_int,
                   help="hide on the output of this features layer instead of the input")
    p.add_argument("--epochs", type=cli.positive_int, default=defaults.EPOCHS, help="epochs")
    p.add_argument("--lr", type=float, default=defaults.LR, help="learning rate")
    p.add_argument("--lr-step", type=cli.non_negative_int, default=defaults.LR_STEP,
                   help="multiply lr by --lr-gamma every N epochs (0: constant)")
    p.add_argument("--lr-gamma", type=float, default=defaults.LR_GAMMA, help="lr decay factor")
    p.add_argument("--momentum", type=float, default=defaults.MOMENTUM, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=defaults.WEIGHT_DECAY, help="L2 weight decay")
    p.add_argument("--batch-size", type=cli.positive_int, default=defaults.BATCH_SIZE, help="images per step")
    p.add_argument("--resize", type=cli.positive_int, default=defaults.RESIZE, help="images resized to this square")
    p.add_argument("--image-size", type=cli.positive_int, default=defaults.IMAGE_SIZE, help="crop size")
    p.add_argument("--seed", type=int, default=defaults.SEED, help="seed of order, crops, hiding and initialisation")
    p.add_argument("--workers", type=cli.non_negative_int, default=defaults.WORKERS, help="DataLoader processes")
    p.add_argument("--init-weights", help="start from this local state dict (e.g. a pretrained backbone; the "
                                          "classifier may differ); read with weights_only=True")
    p.add_argument("--mean-std", choices=["imagenet", "auto"], default=defaults.MEAN_STD,
                   help="normalisation: ImageNet's mean and std, or measured on the training images")
    p.add_argument("--device", default=defaults.DEVICE, help="cpu, cuda, cuda:1, ...")
    return p


def main(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    resume, mean_std = args.pop("resume"), args.pop("mean_std")
    cli.check_device(args["device"])
    cfg = ImageTrainConfig(**args)
    if mean_std == "auto":
        if resume and RunDir(cfg.out).has_checkpoint():
            saved = RunDir(cfg.out).config()
            cfg.mean, cfg.std = saved["mean"], saved["std"]
        else:
            cfg.mean, cfg.std = measure_mean_std(image_folder(cfg.data)[0], cfg.resize)
    run = RunDir(train_images(cfg, resume=resume))
    last = run.log()[-1]
    print(f"run written to {run.path} (epoch {last['epoch'] + 1}: loss {last['loss']:.4f}, "
          f"train accuracy {last['train_accuracy']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
