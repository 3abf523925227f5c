"""A video run's settings, declared once: the flags of ``train``, its config.json and its resume check.

``TrainConfig`` is written to config.json whole, so a run says everything it was made with.
Settings a head's preset names (``defaults.HEAD_PRESETS``) and left unset take the ``--model``'s
own value; config.json records the resolved values.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from actionhas.core import cli, defaults, settings
from actionhas.core.errors import ActionhasError
from actionhas.core.settings import setting

# config.json keys that an earlier version wrote under another name
RENAMED_KEYS = {"hidden": "channels"}


@dataclass
class TrainConfig:
    features: str = setting(help="feature store (.h5)")
    labels: str = setting(help="labels CSV (video,subset,labels), ground-truth JSON or txt directory, 'thumos14' "
                               "(20 classes, temporally annotated videos) or 'thumos14-101' (101 classes, all videos)")
    out: str = setting(help="run directory")
    subset: str = setting(defaults.SUBSET, "training videos: this subset of the labels")
    val_subset: str | None = setting(None, "held-out subset whose accuracy is logged each epoch")
    select_on: str | None = setting(None, "held-out subset on which the best epoch is chosen (mAP with temporal "
                                          "labels, else accuracy); never the subset you report")
    model: str = setting(defaults.MODEL, "paper: the paper's classifier; basnet: BaS-Net; cola: CoLA",
                         choices=defaults.MODELS)
    length: int | None = setting(None, "features sampled per training video (basnet, cola: per test video too; the "
                                       "field samples 750 on THUMOS14 I3D, 50-75 on ActivityNet)", check=cli.positive_int)
    sampling: str | None = setting(None, "training sampling of --length features: uniform (bin centres, the "
                                         "paper's) or perturbed (a random index per bin each epoch, BaS-Net's and "
                                         "CoLA's)", choices=defaults.SAMPLINGS)
    segments: int = setting(defaults.SEGMENTS, "hiding: equal segments the samples are split into",
                            check=cli.positive_int)
    hide_prob: float = setting(defaults.HIDE_PROB, "hiding: probability of hiding each segment (0 = Video-full)",
                               check=cli.unit_fraction)
    channels: int | None = setting(None, "channels of the head's hidden layers", check=cli.positive_int,
                                   aliases=("hidden",))
    pool: str = setting(defaults.POOL, "global pooling of the paper's head", choices=defaults.POOLS)
    dropout: float | None = setting(None, "dropout", check=cli.unit_fraction)
    norm_weight: float | None = setting(None, "basnet: weight of the attention's L1 norm over time in the loss",
                                        check=cli.non_negative_float)
    mining_drop: float = setting(defaults.COLA_MINING_DROP, "cola: drop probability of the random mask applied "
                                 "before easy-snippet mining", check=cli.unit_fraction)
    optimizer: str = setting(defaults.OPTIMIZER, "adam, or sgd with momentum 0.9", choices=defaults.OPTIMIZERS)
    lr: float | None = setting(None, "learning rate (> 0)", check=cli.positive_float)
    weight_decay: float | None = setting(None, "L2 weight decay", check=cli.non_negative_float)
    lr_step: int = setting(defaults.LR_STEP, "multiply lr by --lr-gamma every N epochs (0: constant)",
                           check=cli.non_negative_int)
    lr_gamma: float = setting(defaults.LR_GAMMA, "lr decay factor", check=cli.positive_float)
    epochs: int | None = setting(None, "epochs; training stops at --epochs or --steps, whichever comes first (a "
                                       "model without one has no limit from it)", check=cli.positive_int,
                                 resumable=True)
    steps: int | None = setting(None, "optimiser steps; the epoch that reaches them is cut there (1500 = 116 "
                                      "epochs of 13 batches on THUMOS14's 200 videos)", check=cli.positive_int,
                                resumable=True)
    batch_size: int | None = setting(None, "videos per step", check=cli.positive_int)
    seed: int = setting(defaults.SEED, "seed of order, hiding, dropout and initialisation", check=int)
    workers: int = setting(defaults.WORKERS, "DataLoader worker processes", check=cli.non_negative_int,
                           resumable=True)
    device: str = setting(defaults.DEVICE, "cpu, cuda, cuda:1, ...", resumable=True)

    def resolved(self) -> TrainConfig:
        """A copy with the --model's preset filled in where unset, every value checked."""
        settings.check(self)
        cfg = settings.resolve_presets(self, defaults.HEAD_PRESETS[self.model])
        if cfg.model == "cola" and cfg.length < defaults.COLA_R_HARD:
            raise ActionhasError(f"--model cola needs --length >= {defaults.COLA_R_HARD}: it mines "
                                 f"length // {defaults.COLA_R_HARD} hard snippets, none below that")
        return cfg

    @classmethod
    def from_record(cls, record: dict) -> TrainConfig:
        """The settings a run's config.json holds (older key names read too)."""
        return cls(**{RENAMED_KEYS.get(k, k): v for k, v in record.items()}).resolved()

    def record(self) -> dict:
        """config.json's content."""
        return dataclasses.asdict(self)
