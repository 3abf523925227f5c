"""A video training run's settings and model: ``TrainConfig``, the heads, and loading a run.

``TrainConfig`` is written to config.json whole, so a run says everything it was made with;
``hidden`` and ``dropout`` left unset take the chosen head's own defaults, and the resolved
values are what config.json records.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.formats.rundir import RunDir

MODELS = ("paper", "basnet")
POOLS = ("max", "avg")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class TrainConfig:
    features: str
    labels: str
    out: str
    subset: str = defaults.SUBSET
    val_subset: str | None = None
    select_on: str | None = None
    model: str = defaults.MODEL
    length: int = defaults.LENGTH
    segments: int = defaults.SEGMENTS
    hide_prob: float = defaults.HIDE_PROB
    hidden: int | None = None
    pool: str = defaults.POOL
    dropout: float | None = None
    optimizer: str = defaults.OPTIMIZER
    lr: float = defaults.LR
    weight_decay: float = defaults.WEIGHT_DECAY
    lr_step: int = defaults.LR_STEP
    lr_gamma: float = defaults.LR_GAMMA
    epochs: int = defaults.EPOCHS
    batch_size: int = defaults.BATCH_SIZE
    seed: int = defaults.SEED
    workers: int = defaults.WORKERS
    device: str = defaults.DEVICE

    def resolved(self) -> TrainConfig:
        """A copy with ``hidden`` and ``dropout`` set from the head's defaults where unset."""
        if self.model not in MODELS:
            raise ActionhasError(f"--model must be one of {MODELS}, got {self.model!r}")
        if self.model == "basnet":
            hidden, dropout = defaults.BASNET_HIDDEN, defaults.BASNET_DROPOUT
        else:
            hidden, dropout = defaults.HIDDEN, defaults.DROPOUT
        return dataclasses.replace(self, hidden=hidden if self.hidden is None else self.hidden,
                                   dropout=dropout if self.dropout is None else self.dropout)


def build_model(cfg: TrainConfig, feature_dim: int, num_classes: int) -> nn.Module:
    """The head ``cfg.model`` names, with the run's settings (``cfg`` resolved)."""
    if cfg.model == "basnet":
        from actionhas.models.basnet import BaSNet

        return BaSNet(feature_dim, num_classes, hidden=cfg.hidden, dropout=cfg.dropout)
    from actionhas.models.paper import HaSNet

    return HaSNet(feature_dim, num_classes, hidden=cfg.hidden, pool=cfg.pool, dropout=cfg.dropout)


def feature_dim_of(run: RunDir) -> int:
    """The feature dimension a run was trained on, read from its checkpoint."""
    return int(run.load_checkpoint()["feature_dim"])


def load_run(run: str | Path, device: str = "cpu") -> tuple[nn.Module, TrainConfig, list[str], np.ndarray]:
    """Model (eval mode, the selected epoch's weights when the run chose one), config, classes, mean feature."""
    rd = RunDir(run)
    ckpt = rd.load_checkpoint()
    cfg = TrainConfig(**rd.config()).resolved()
    classes = rd.classes()
    model = build_model(cfg, int(ckpt["feature_dim"]), len(classes))
    model.load_state_dict(rd.model_state())
    return model.to(device).eval(), cfg, classes, rd.mean_feature()
