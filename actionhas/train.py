"""``python -m actionhas.train``: train the video classifier with Hide-and-Seek.

    python -m actionhas.train --features thumos14_c3d.h5 --labels thumos14 --subset validation \\
        --out runs/has --hide-prob 0.5 --seed 0
    python -m actionhas.train ... --out runs/full --hide-prob 0      # the paper's Video-full

The run directory holds config.json (every setting, defaults included), classes.json,
mean_feature.npy (the fill for hidden segments, float64 over all training features),
checkpoint.pt (weights, optimiser; written atomically after every epoch) and log.jsonl (one line
per epoch). ``--resume`` continues from the checkpoint and ends with the same weights as an
uninterrupted run: every epoch draws its order, hiding and dropout from generators seeded by
(seed, epoch) alone.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from actionhas import cli, defaults
from actionhas.atomic import torch_save_atomic
from actionhas.annotations import load_thumos14, read_labels
from actionhas.data import VideoFeatures, label_matrix, mean_feature, select_videos
from actionhas.errors import ActionhasError
from actionhas.hiding import TemporalHiding
from actionhas.model import HaSNet, multilabel_cross_entropy
from actionhas.store import FeatureStore


@dataclass
class TrainConfig:
    features: str
    labels: str
    out: str
    subset: str = "validation"
    val_subset: str | None = None
    length: int = defaults.LENGTH
    segments: int = defaults.SEGMENTS
    hide_prob: float = defaults.HIDE_PROB
    hidden: int = defaults.HIDDEN
    pool: str = defaults.POOL
    dropout: float = defaults.DROPOUT
    optimizer: str = defaults.OPTIMIZER
    lr: float = defaults.LR
    weight_decay: float = defaults.WEIGHT_DECAY
    lr_step: int = defaults.LR_STEP
    lr_gamma: float = defaults.LR_GAMMA
    epochs: int = defaults.EPOCHS
    batch_size: int = defaults.BATCH_SIZE
    seed: int = defaults.SEED
    workers: int = defaults.WORKERS
    device: str = "cpu"


# settings that may differ between a run and its resumption
_RESUMABLE_CHANGES = {"epochs", "workers", "device"}


def load_label_table(spec: str):
    """Labels named on the command line: a CSV, a ground-truth JSON/txt dir, or 'thumos14'."""
    if spec == "thumos14":
        return pd.concat([load_thumos14(s).video_labels() for s in ("validation", "test")], ignore_index=True)
    return read_labels(spec)


def epoch_generator(seed: int, epoch: int, stream: int, device: str = "cpu") -> torch.Generator:
    """A generator fixed by (seed, epoch, stream) alone, so a resumed run draws what the first would."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch * 101 + stream)


class EpochOrder(torch.utils.data.Sampler):
    """A shuffled order fixed by (seed, epoch), so one persistent loader serves every epoch."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(torch.randperm(self.size, generator=epoch_generator(self.seed, self.epoch, 1)).tolist())

    def __len__(self) -> int:
        return self.size


def build_model(cfg: TrainConfig, feature_dim: int, num_classes: int) -> HaSNet:
    return HaSNet(feature_dim, num_classes, hidden=cfg.hidden, pool=cfg.pool, dropout=cfg.dropout)


def _optimizer(cfg: TrainConfig, model: HaSNet) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    raise ActionhasError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")


def _lr_at(cfg: TrainConfig, epoch: int) -> float:
    return cfg.lr * (cfg.lr_gamma ** (epoch // cfg.lr_step) if cfg.lr_step > 0 else 1.0)


@torch.no_grad()
def accuracy(model: HaSNet, loader: DataLoader, device: str) -> float:
    """Fraction of videos whose top-scoring class is one of their labels."""
    model.eval()
    hits = total = 0
    for feats, labels, _ in loader:
        top = model(feats.to(device)).argmax(dim=1).cpu()
        hits += int(labels[torch.arange(len(top)), top].gt(0).sum())
        total += len(top)
    return hits / max(total, 1)


def _check_resume(cfg: TrainConfig, run: Path) -> None:
    saved = json.loads((run / "config.json").read_text())
    diff = [k for k, v in dataclasses.asdict(cfg).items() if k not in _RESUMABLE_CHANGES and saved.get(k) != v]
    if diff:
        raise ActionhasError(f"{run}: --resume with settings that differ from the run's config.json: {diff}")


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train one model into ``cfg.out``; returns the run directory."""
    run = Path(cfg.out)
    store = FeatureStore(cfg.features)
    labels = load_label_table(cfg.labels)
    train_table = select_videos(labels, store, cfg.subset)
    classes = sorted({c for names in train_table["labels"] for c in names})
    if not classes:
        raise ActionhasError(f"{cfg.labels}: the {cfg.subset!r} videos carry no class labels")
    ckpt_path = run / "checkpoint.pt"
    start_epoch = 0
    if resume and ckpt_path.exists():
        _check_resume(cfg, run)
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        classes = json.loads((run / "classes.json").read_text())
        mean = np.load(run / "mean_feature.npy")
        start_epoch = int(ckpt["epoch"]) + 1
    else:
        if run.exists() and (run / "checkpoint.pt").exists() and not resume:
            raise ActionhasError(f"{run}: already holds a run; use --resume to continue it or another --out")
        run.mkdir(parents=True, exist_ok=True)
        mean = mean_feature(store, list(train_table["video"]), progress=progress)
        np.save(run / "mean_feature.npy", mean)
        (run / "classes.json").write_text(json.dumps(classes, indent=1))
        (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
        (run / "log.jsonl").write_text("")
        ckpt = None

    device = cfg.device
    torch.manual_seed(cfg.seed)  # weight initialisation
    model = build_model(cfg, store.info.feature_dim, len(classes)).to(device)
    hider = TemporalHiding(torch.from_numpy(mean).float(), cfg.segments, cfg.hide_prob).to(device)
    optimizer = _optimizer(cfg, model)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
    _trim_log(run / "log.jsonl", start_epoch)

    train_set = VideoFeatures(store, list(train_table["video"]),
                              label_matrix(train_table["labels"], classes), cfg.length)
    loader_args = dict(batch_size=cfg.batch_size, num_workers=cfg.workers, pin_memory=device.startswith("cuda"))
    val_loader = None
    if cfg.val_subset:
        val_table = select_videos(labels, store, cfg.val_subset, classes, what="held-out")
        val_set = VideoFeatures(store, list(val_table["video"]), label_matrix(val_table["labels"], classes), cfg.length)
        val_loader = DataLoader(val_set, shuffle=False, **loader_args)

    order = EpochOrder(len(train_set), cfg.seed)
    train_loader = DataLoader(train_set, sampler=order, persistent_workers=cfg.workers > 0, **loader_args)
    epochs = tqdm(range(start_epoch, cfg.epochs), desc="train", unit="epoch", disable=not progress,
                  initial=start_epoch, total=cfg.epochs)
    for epoch in epochs:
        t0 = time.time()
        torch.manual_seed(epoch_generator(cfg.seed, epoch, 0).initial_seed())  # dropout
        order.set_epoch(epoch)
        hide_gen = epoch_generator(cfg.seed, epoch, 2, device)
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(cfg, epoch)
        model.train()
        hider.train()
        loss_sum = hits = seen = 0.0
        for feats, y, _ in train_loader:
            feats, y = feats.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = model(hider(feats, generator=hide_gen))
            loss = multilabel_cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            hits += float(y[torch.arange(len(y)), logits.argmax(1)].gt(0).sum())
            seen += len(y)
        record = {"epoch": epoch, "loss": loss_sum / seen, "train_accuracy": hits / seen,
                  "lr": _lr_at(cfg, epoch), "seconds": round(time.time() - t0, 3)}
        if val_loader is not None:
            record["heldout_accuracy"] = accuracy(model, val_loader, device)
        torch_save_atomic({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "feature_dim": store.info.feature_dim, "classes": classes}, ckpt_path)
        with open(run / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        epochs.set_postfix({k: round(v, 3) for k, v in record.items() if k not in ("epoch", "lr", "seconds")})
    return run


def _trim_log(path: Path, start_epoch: int) -> None:
    """Drop log lines of epochs the checkpoint does not hold (a run killed between the two writes)."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] < start_epoch]
    path.write_text("".join(ln + "\n" for ln in lines))


def load_run(run: str | Path, device: str = "cpu") -> tuple[HaSNet, TrainConfig, list[str], np.ndarray]:
    """Model (eval mode), config, class list and mean feature of a run directory."""
    run = Path(run)
    if not (run / "checkpoint.pt").exists():
        raise ActionhasError(f"{run}: no checkpoint.pt (not a training run directory)")
    cfg = TrainConfig(**json.loads((run / "config.json").read_text()))
    classes = json.loads((run / "classes.json").read_text())
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    model = build_model(cfg, int(ckpt["feature_dim"]), len(classes))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), cfg, classes, np.load(run / "mean_feature.npy")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", required=True, help="feature store (.h5)")
    p.add_argument("--labels", required=True, help="labels CSV (video,subset,labels), ground-truth JSON or "
                                                   "txt directory, or 'thumos14' for the shipped annotations")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    helps = {
        "subset": "training videos: this subset of the labels (THUMOS14: validation)",
        "val_subset": "held-out subset whose accuracy is logged each epoch (e.g. test)",
        "length": "features sampled uniformly per video", "segments": "segments the samples are split into",
        "hide_prob": "probability of hiding each segment (0 = Video-full)", "hidden": "kernels per 1x1 conv",
        "pool": "global pooling: max (paper) or avg", "dropout": "dropout on hidden maps and pooled vector",
        "optimizer": "adam or sgd (momentum 0.9)", "lr": "learning rate", "weight_decay": "L2 weight decay",
        "lr_step": "multiply lr by --lr-gamma every N epochs (0: constant)", "lr_gamma": "lr decay factor",
        "epochs": "epochs", "batch_size": "videos per step", "seed": "seed for order, hiding, dropout, init",
        "workers": "DataLoader worker processes", "device": "cpu, cuda, cuda:1, ...",
    }
    for name, help_ in helps.items():
        f = fields[name]
        kind = type(f.default) if f.default is not None else str
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=f.default,
                       help=f"{help_} (default: {f.default})")
    return p


def main(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    resume = args.pop("resume")
    cfg = TrainConfig(**args)
    run = train(cfg, resume=resume)
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    print(f"run written to {run} (epoch {last['epoch'] + 1}: loss {last['loss']:.4f}, "
          f"train accuracy {last['train_accuracy']:.3f}"
          + (f", held-out accuracy {last['heldout_accuracy']:.3f}" if "heldout_accuracy" in last else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
