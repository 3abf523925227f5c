"""An image run's settings, declared once: the flags of ``image.train``, config.json, the resume check."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from actionhas.core import cli, settings
from actionhas.core.settings import setting
from actionhas.image import defaults
from actionhas.image.networks import ARCHITECTURES


@dataclass
class ImageTrainConfig:
    data: str = setting(help="ImageFolder training directory (<class>/<image>)")
    out: str = setting(help="run directory")
    arch: str = setting(defaults.ARCH, "CAM network", choices=tuple(sorted(ARCHITECTURES)))
    pool: str = setting(defaults.POOL, "global pooling", choices=defaults.POOLS)
    hide_sizes: list[int] = setting(list(defaults.HIDE_SIZES), "patch sizes drawn per image (0 = not hidden); "
                                    "'0' alone trains without hiding", check=cli.non_negative_int, nargs="+")
    hide_prob: float = setting(defaults.HIDE_PROB, "probability of hiding a patch", check=cli.unit_fraction)
    hide_layer: int | None = setting(None, "hide on the output of this features layer instead of the input",
                                     check=cli.non_negative_int)
    epochs: int = setting(defaults.EPOCHS, "epochs", check=cli.positive_int, resumable=True)
    lr: float = setting(defaults.LR, "learning rate", check=cli.non_negative_float)
    lr_step: int = setting(defaults.LR_STEP, "multiply lr by --lr-gamma every N epochs (0: constant)",
                           check=cli.non_negative_int)
    lr_gamma: float = setting(defaults.LR_GAMMA, "lr decay factor", check=cli.positive_float)
    momentum: float = setting(defaults.MOMENTUM, "SGD momentum", check=cli.non_negative_float)
    weight_decay: float = setting(defaults.WEIGHT_DECAY, "L2 weight decay", check=cli.non_negative_float)
    batch_size: int = setting(defaults.BATCH_SIZE, "images per step", check=cli.positive_int)
    resize: int = setting(defaults.RESIZE, "images resized to this square", check=cli.positive_int)
    image_size: int = setting(defaults.IMAGE_SIZE, "crop size", check=cli.positive_int)
    mean: list[float] = setting(list(defaults.IMAGENET_MEAN), flag=False)
    std: list[float] = setting(list(defaults.IMAGENET_STD), flag=False)
    seed: int = setting(defaults.SEED, "seed of order, crops, hiding and initialisation", check=int)
    workers: int = setting(defaults.WORKERS, "DataLoader processes", check=cli.non_negative_int, resumable=True)
    device: str = setting(defaults.DEVICE, "cpu, cuda, cuda:1, ...", resumable=True)
    init_weights: str | None = setting(None, "start from this local state dict (e.g. a pretrained backbone; the "
                                             "classifier may differ); read with weights_only=True")

    def checked(self) -> ImageTrainConfig:
        settings.check(self)
        return self

    def record(self) -> dict:
        """config.json's content."""
        return dataclasses.asdict(self)
