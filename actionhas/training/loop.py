"""One training loop for the video and the image side: seeding, resume, checkpoints, log, progress.

Everything random in epoch e (order, hiding, dropout, crops) is drawn from generators seeded by
(seed, e) alone, and the DataLoader gets its own generator, so building its iterator never
touches the global RNG: a run resumed after a kill -9 ends with the same weights as an
uninterrupted one, with worker processes too. The checkpoint is replaced atomically after every
epoch, then the epoch's log line is written; a resume drops log lines the checkpoint lacks.
"""
from __future__ import annotations

import time
from itertools import islice
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from actionhas.formats.rundir import RunDir


def epoch_generator(seed: int, epoch: int, stream: int, device: str = "cpu") -> torch.Generator:
    """A generator fixed by (seed, epoch, stream) alone, so a resumed run draws what the first would."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch * 101 + stream)


class EpochOrder(Sampler):
    """A shuffled order fixed by (seed, epoch), so one persistent loader serves every epoch."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(torch.randperm(self.size, generator=epoch_generator(self.seed, self.epoch, 1)).tolist())

    def __len__(self) -> int:
        return self.size


def make_loader(data: Dataset, order: Sampler | None, batch_size: int, workers: int, device: str, seed: int,
                persistent: bool = True) -> DataLoader:
    """A DataLoader that draws nothing from the global RNG (its base seed comes from ``seed``)."""
    return DataLoader(data, batch_size=batch_size, sampler=order, shuffle=False, num_workers=workers,
                      pin_memory=device.startswith("cuda"), persistent_workers=persistent and workers > 0,
                      generator=torch.Generator().manual_seed(seed))


def step_lr(lr: float, step: int, gamma: float) -> Callable[[int], float]:
    """lr multiplied by ``gamma`` every ``step`` epochs (constant when step <= 0)."""
    return lambda epoch: lr * (gamma ** (epoch // step) if step > 0 else 1.0)


@dataclass
class Selection:
    """Model selection on a held-out split: ``score(epoch)`` -> (metric name, value), higher is better."""

    subset: str
    score: Callable[[int], tuple[str, float]]
    why: str
    best: float = field(default=float("-inf"))


def fit(run: RunDir, model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader,
        step: Callable[[object, torch.Generator], tuple[Tensor, int, int]], *, seed: int, epochs: int,
        start_epoch: int, lr_at: Callable[[int], float], device: str, max_steps: int | None = None,
        after_epoch: Callable[[int], dict] | None = None, selection: Selection | None = None,
        checkpoint_extra: dict | None = None, progress: bool = True) -> None:
    """Train epochs ``start_epoch .. epochs - 1``.

    step(batch, hide_generator) -> (loss, correct top-1 count, batch size); the optimiser step is
    taken here. ``after_epoch(epoch)`` adds fields to the epoch's log line (e.g. held-out
    accuracy). ``max_steps``: optimiser steps in all, counting len(loader) per epoch; the epoch that
    reaches them is cut there (``epochs`` must not run past it). With ``selection``, the epoch with
    the best held-out score is kept as the run's model (ties keep the earlier epoch) and
    selection.json says which and why.
    """
    if selection is not None and (chosen := run.selection()) is not None and chosen["epoch"] < start_epoch:
        selection.best = chosen["value"]
    order, data = loader.sampler, loader.dataset
    run.trim_log(start_epoch)
    epochs_bar = tqdm(range(start_epoch, epochs), desc="train", unit="epoch", disable=not progress,
                      initial=start_epoch, total=epochs)
    for epoch in epochs_bar:
        left = None if max_steps is None else max_steps - epoch * len(loader)  # > 0: ``epochs`` ends first
        torch.manual_seed(epoch_generator(seed, epoch, 0).initial_seed())  # dropout
        for epoch_aware in (order, data):
            if hasattr(epoch_aware, "set_epoch"):
                epoch_aware.set_epoch(epoch)
        hide_gen = epoch_generator(seed, epoch, 2, device)
        lr = lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        t0 = time.time()
        loss_sum, hits, seen = 0.0, 0, 0
        batches = loader if left is None or left >= len(loader) else islice(loader, left)
        for batch in tqdm(batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False, disable=not progress):
            loss, correct, count = step(batch, hide_gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * count
            hits += int(correct)
            seen += count
        record = {"epoch": epoch, "loss": loss_sum / max(seen, 1), "train_accuracy": hits / max(seen, 1), "lr": lr,
                  "seconds": round(time.time() - t0, 3)}
        if after_epoch is not None:
            record.update(after_epoch(epoch))
        if selection is not None:
            metric, value = selection.score(epoch)
            record[f"select_{metric}"] = value
            if value > selection.best:
                selection.best = value
                run.save_selected(model.state_dict(), {"epoch": epoch, "subset": selection.subset, "metric": metric,
                                                       "value": value, "why": selection.why})
        run.append_log(record)   # before the checkpoint: a kill between the two reruns the epoch, losing no line
        run.save_checkpoint({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             **(checkpoint_extra or {})})
        epochs_bar.set_postfix({k: round(v, 3) for k, v in record.items() if k not in ("epoch", "lr", "seconds")})
