"""Training a CAM network with hidden patches: the library behind ``python -m actionhas.image.train``.

Images are normalised by the mean and std, so a hidden patch is filled with 0, the mean pixel.
Hiding sizes are drawn per image on every step from ``hide_sizes`` (0 = not hidden). Hiding on a
conv layer's output (``hide_layer``) fills with that layer's per-channel mean activation over
the batch. The loop, seeding, checkpoints and resume are the video side's (``actionhas.training.loop``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from actionhas.core.errors import ActionhasError
from actionhas.data.hiding import PatchHiding
from actionhas.image import defaults
from actionhas.image.data import IMAGENET_MEAN, IMAGENET_STD, TrainImages, image_folder, load_image, resize
from actionhas.image.networks import CAMNet, build_network, load_weights
from actionhas.formats.rundir import RunDir
from actionhas.training.loop import EpochOrder, fit, make_loader, step_lr

# settings that may differ between a run and its resumption
RESUMABLE_CHANGES = {"epochs", "workers", "device"}


@dataclass
class ImageTrainConfig:
    data: str
    out: str
    arch: str = defaults.ARCH
    pool: str = defaults.POOL
    hide_sizes: list[int] = field(default_factory=lambda: list(defaults.HIDE_SIZES))
    hide_prob: float = defaults.HIDE_PROB
    hide_layer: int | None = None
    epochs: int = defaults.EPOCHS
    lr: float = defaults.LR
    lr_step: int = defaults.LR_STEP
    lr_gamma: float = defaults.LR_GAMMA
    momentum: float = defaults.MOMENTUM
    weight_decay: float = defaults.WEIGHT_DECAY
    batch_size: int = defaults.BATCH_SIZE
    resize: int = defaults.RESIZE
    image_size: int = defaults.IMAGE_SIZE
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    seed: int = defaults.SEED
    workers: int = defaults.WORKERS
    device: str = defaults.DEVICE
    init_weights: str | None = None


def measure_mean_std(items, size: int, progress: bool = True) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over the training images (resized to ``size``), in float64."""
    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    count = 0
    for path, _ in tqdm(items, desc="mean/std", unit="img", leave=False, disable=not progress):
        img = resize(load_image(path), (size, size)).double()
        total += img.sum(dim=(1, 2))
        squares += (img ** 2).sum(dim=(1, 2))
        count += img.shape[1] * img.shape[2]
    mean = total / count
    return mean.tolist(), (squares / count - mean ** 2).sqrt().tolist()


def attach_hiding(model: CAMNet, cfg: ImageTrainConfig) -> PatchHiding | None:
    """The hiding module for the input (returned) or, with ``hide_layer``, inside the network."""
    if not any(s > 0 for s in cfg.hide_sizes) or cfg.hide_prob <= 0:
        return None
    hider = PatchHiding(cfg.hide_sizes, cfg.hide_prob, fill=0.0)  # inputs are normalised: 0 is the mean pixel
    if cfg.hide_layer is None:
        return hider
    if not 0 <= cfg.hide_layer < len(model.features):
        raise ActionhasError(f"--hide-layer {cfg.hide_layer}: {cfg.arch} has layers 0..{len(model.features) - 1}")
    model.hiding, model.hide_after = hider, cfg.hide_layer  # filled with the layer's mean activation
    return None


def train_images(cfg: ImageTrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train one CAM network into ``cfg.out``; returns the run directory."""
    run = RunDir(cfg.out)
    items, classes = image_folder(cfg.data)
    start_epoch, ckpt = 0, None
    if resume and run.has_checkpoint():
        run.check_resume(dataclasses.asdict(cfg), RESUMABLE_CHANGES)
        ckpt = run.load_checkpoint()
        start_epoch = int(ckpt["epoch"]) + 1
    else:
        run.start(dataclasses.asdict(cfg), classes)
    torch.manual_seed(cfg.seed)
    model = build_network(cfg.arch, len(classes), cfg.pool)
    if cfg.init_weights and ckpt is None:
        left = load_weights(model, cfg.init_weights, backbone_only=True)
        if left:
            print(f"{cfg.init_weights}: classifier left at its initialisation ({len(classes)} classes here)")
    model = model.to(cfg.device)
    input_hider = attach_hiding(model, cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
    data = TrainImages(items, cfg.resize, cfg.image_size, cfg.mean, cfg.std, cfg.seed)
    # crops depend on the epoch, which workers read from the dataset: a fresh worker pool per epoch
    loader = make_loader(data, EpochOrder(len(data), cfg.seed), cfg.batch_size, cfg.workers, cfg.device, cfg.seed,
                         persistent=False)

    def step(batch, hide_gen):
        x, y = batch
        x, y = x.to(cfg.device), y.to(cfg.device)
        if input_hider is not None:
            x = input_hider.train()(x, hide_gen)
        logits = model(x, hide_gen)
        return F.cross_entropy(logits, y), int((logits.argmax(1) == y).sum()), len(y)

    fit(run, model, optimizer, loader, step, seed=cfg.seed, epochs=cfg.epochs, start_epoch=start_epoch,
        lr_at=step_lr(cfg.lr, cfg.lr_step, cfg.lr_gamma), device=cfg.device, progress=progress)
    return Path(cfg.out)


def load_image_run(run: str | Path, device: str = "cpu") -> tuple[CAMNet, ImageTrainConfig, list[str]]:
    """Network (eval mode), config and classes of an image run directory."""
    rd = RunDir(run)
    if not rd.has_checkpoint():
        raise ActionhasError(f"{run}: no checkpoint.pt (not an image training run)")
    cfg = ImageTrainConfig(**rd.config())
    classes = rd.classes()
    model = build_network(cfg.arch, len(classes), cfg.pool)
    model.load_state_dict(rd.model_state())
    return model.to(device).eval(), cfg, classes
