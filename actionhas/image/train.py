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
(``--hide-layer``) fills with that layer's per-channel mean activation over the batch. The run directory holds config.json,
classes.json, checkpoint.pt (atomic, every epoch) and log.jsonl; ``--resume`` continues.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from actionhas import cli
from actionhas.atomic import torch_save_atomic
from actionhas.errors import ActionhasError
from actionhas.hiding import PatchHiding
from actionhas.image.data import IMAGENET_MEAN, IMAGENET_STD, TrainImages, image_folder, load_image, resize
from actionhas.image.networks import ARCHITECTURES, CAMNet, build_network, load_weights
from actionhas.train import epoch_generator


@dataclass
class ImageTrainConfig:
    data: str
    out: str
    arch: str = "alexnet_gap"
    pool: str = "avg"
    hide_sizes: list[int] = field(default_factory=lambda: [0, 16, 32, 44, 56])
    hide_prob: float = 0.5
    hide_layer: int | None = None
    epochs: int = 55
    lr: float = 0.01
    lr_step: int = 25
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    resize: int = 256
    image_size: int = 224
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    seed: int = 0
    workers: int = 4
    device: str = "cpu"
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
    run = Path(cfg.out)
    items, classes = image_folder(cfg.data)
    ckpt_path = run / "checkpoint.pt"
    start = 0
    if resume and ckpt_path.exists():
        cfg = ImageTrainConfig(**{**json.loads((run / "config.json").read_text()),
                                  "epochs": cfg.epochs, "workers": cfg.workers, "device": cfg.device})
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        start = int(ckpt["epoch"]) + 1
    else:
        if ckpt_path.exists():
            raise ActionhasError(f"{run}: already holds a run; use --resume or another --out")
        run.mkdir(parents=True, exist_ok=True)
        ckpt = None
        (run / "classes.json").write_text(json.dumps(classes, indent=1))
        (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
        (run / "log.jsonl").write_text("")
    torch.manual_seed(cfg.seed)
    model = build_network(cfg.arch, len(classes), cfg.pool)
    if cfg.init_weights and ckpt is None:
        left = load_weights(model, cfg.init_weights, backbone_only=True)
        if left:
            print(f"{cfg.init_weights}: classifier left at its initialisation ({len(classes)} classes here)")
    model = model.to(cfg.device)
    input_hider = attach_hiding(model, cfg)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
    data = TrainImages(items, cfg.resize, cfg.image_size, cfg.mean, cfg.std, cfg.seed)
    bar = tqdm(range(start, cfg.epochs), desc="train", unit="epoch", disable=not progress, initial=start, total=cfg.epochs)
    for epoch in bar:
        torch.manual_seed(epoch_generator(cfg.seed, epoch, 0).initial_seed())
        order = torch.randperm(len(data), generator=epoch_generator(cfg.seed, epoch, 1)).tolist()
        hide_gen = epoch_generator(cfg.seed, epoch, 2, cfg.device)
        data.epoch = epoch
        for group in opt.param_groups:
            group["lr"] = cfg.lr * cfg.lr_gamma ** (epoch // cfg.lr_step if cfg.lr_step > 0 else 0)
        model.train()
        loss_sum = hits = seen = 0.0
        for x, y in DataLoader(data, batch_size=cfg.batch_size, sampler=order, num_workers=cfg.workers):
            x, y = x.to(cfg.device), y.to(cfg.device)
            if input_hider is not None:
                x = input_hider.train()(x, hide_gen)
            logits = model(x, hide_gen)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            hits += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        record = {"epoch": epoch, "loss": loss_sum / seen, "train_accuracy": hits / seen, "lr": opt.param_groups[0]["lr"]}
        torch_save_atomic({"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict()}, ckpt_path)
        with open(run / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        bar.set_postfix(loss=round(record["loss"], 3), acc=round(record["train_accuracy"], 3))
    return run


def load_image_run(run: str | Path, device: str = "cpu") -> tuple[CAMNet, ImageTrainConfig, list[str]]:
    run = Path(run)
    if not (run / "checkpoint.pt").exists():
        raise ActionhasError(f"{run}: no checkpoint.pt (not an image training run)")
    cfg = ImageTrainConfig(**json.loads((run / "config.json").read_text()))
    classes = json.loads((run / "classes.json").read_text())
    model = build_network(cfg.arch, len(classes), cfg.pool)
    model.load_state_dict(torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["model"])
    return model.to(device).eval(), cfg, classes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.image.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="ImageFolder training directory (<class>/<image>)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="alexnet_gap")
    p.add_argument("--pool", choices=["avg", "max"], default="avg")
    p.add_argument("--hide-sizes", type=int, nargs="+", default=[0, 16, 32, 44, 56],
                   help="patch sizes drawn per image (0 = not hidden); '0' alone trains without hiding")
    p.add_argument("--hide-prob", type=float, default=0.5)
    p.add_argument("--hide-layer", type=int, help="hide on the output of this features layer instead of the input")
    for name, kind, default in (("epochs", int, 55), ("lr", float, 0.01), ("lr-step", int, 25), ("lr-gamma", float, 0.1),
                                ("momentum", float, 0.9), ("weight-decay", float, 5e-4), ("batch-size", int, 128),
                                ("resize", int, 256), ("image-size", int, 224), ("seed", int, 0), ("workers", int, 4)):
        p.add_argument("--" + name, type=kind, default=default, help=f"(default: {default})")
    p.add_argument("--init-weights", help="start from this local state dict (e.g. a pretrained backbone; the "
                                          "classifier may differ); read with weights_only=True")
    p.add_argument("--mean-std", default="imagenet", help="'imagenet' or 'auto' (measured on the training images)")
    p.add_argument("--device", default="cpu")
    return p


def main(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    resume, mean_std = args.pop("resume"), args.pop("mean_std")
    cfg = ImageTrainConfig(**args)
    if mean_std == "auto" and not resume:
        cfg.mean, cfg.std = measure_mean_std(image_folder(cfg.data)[0], cfg.resize)
    elif mean_std != "imagenet":
        raise ActionhasError(f"--mean-std must be 'imagenet' or 'auto', got {mean_std!r}")
    run = train_images(cfg, resume=resume)
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    print(f"run written to {run} (epoch {last['epoch'] + 1}: loss {last['loss']:.4f}, train accuracy {last['train_accuracy']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
