"""The video heads by name, and a trained run's model as the localizer and ``detect`` load it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from actionhas.formats.rundir import RunDir
from actionhas.formats.train_config import TrainConfig


def build_model(cfg: TrainConfig, feature_dim: int, num_classes: int) -> nn.Module:
    """The head ``cfg.model`` names, with the run's settings (``cfg`` resolved)."""
    if cfg.model == "cola":
        from actionhas.models.cola import CoLA

        return CoLA(feature_dim, num_classes, channels=cfg.channels, dropout=cfg.dropout, mining_drop=cfg.mining_drop)
    if cfg.model == "basnet":
        from actionhas.models.basnet import BaSNet

        return BaSNet(feature_dim, num_classes, channels=cfg.channels, dropout=cfg.dropout, norm_weight=cfg.norm_weight)
    from actionhas.models.paper import HaSNet

    return HaSNet(feature_dim, num_classes, channels=cfg.channels, pool=cfg.pool, dropout=cfg.dropout)


def load_run(run: str | Path, device: str = "cpu") -> tuple[nn.Module, TrainConfig, list[str], np.ndarray]:
    """Model (eval mode, the selected epoch's weights when the run chose one), config, classes, mean feature."""
    rd = RunDir(run)
    cfg = TrainConfig.from_record(rd.config())
    classes = rd.classes()
    model = rd.load_model(lambda: build_model(cfg, rd.feature_dim(), len(classes)))
    return model.to(device).eval(), cfg, classes, rd.mean_feature()
