"""Training a CAM network with hidden patches: the library behind ``python -m actionhas.image.train``.

Images are normalised by the mean and std, so a hidden patch is filled with 0, the mean pixel.
Hiding sizes are drawn per image on every step from ``hide_sizes`` (0 = not hidden). Hiding on a
conv layer's output (``hide_layer``) fills with that layer's per-channel mean activation over
the batch. The loop, seeding, checkpoints and resume are the video side's (``actionhas.training.loop``).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from actionhas.core import settings
from actionhas.core.errors import ActionhasError
from actionhas.data.hiding import PatchHiding
from actionhas.formats.rundir import RunDir
from actionhas.image.config import ImageTrainConfig
from actionhas.image.data import TrainImages, image_folder, load_image, resize
from actionhas.image.networks import CAMNet, build_network, load_weights
from actionhas.training.loop import EpochOrder, fit, make_loader, step_lr


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


def train_images(cfg: ImageTrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False) -> Path:
    """Train one CAM network into ``cfg.out``; returns the run directory (``overwrite``: replace what it holds)."""
    cfg = cfg.checked()
    run = RunDir(cfg.out)
    run.claim(cfg.record(), resume, overwrite)
    items, classes = image_folder(cfg.data)
    start_epoch, ckpt = 0, None
    if resume and run.has_checkpoint():
        run.check_resume(cfg.record(), settings.resumable(ImageTrainConfig))
        ckpt = run.load_checkpoint()
        start_epoch = int(ckpt["epoch"]) + 1
    else:
        run.start(cfg.record(), classes, overwrite)
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
    cfg = ImageTrainConfig(**rd.config())
    classes = rd.classes()
    model = rd.load_model(lambda: build_network(cfg.arch, len(classes), cfg.pool))
    return model.to(device).eval(), cfg, classes
