"""Training a video head with Hide-and-Seek: the library behind ``python -m actionhas.train``.

The training videos are the labelled videos of ``subset`` in the store; their mean feature
(float64 over all their features) fills hidden segments. Every epoch: a seeded order, segments
hidden with ``hide_prob``, the head's own loss (the paper's softmax cross-entropy, BaS-Net's or CoLA's);
training stops after ``epochs`` epochs or ``steps`` optimiser steps, whichever comes first.
``val_subset`` logs held-out accuracy; ``select_on`` keeps the epoch that scores best on that
held-out subset as the run's model: average mAP (tIoU 0.1-0.7, ActivityNet protocol, the
paper's localization with the videos' own classes) when the labels hold temporal annotations
of that subset, otherwise top-1 classification accuracy. The evaluation subset must be another.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch

from actionhas.core import settings
from actionhas.core.errors import ActionhasError
from actionhas.data.hiding import TemporalHiding
from actionhas.data.sampling import (
    VideoFeatures,
    label_matrix,
    mean_feature,
    select_videos,
)
from actionhas.formats.annotations import GroundTruth, load_thumos14, read_ground_truth
from actionhas.formats.labels import load_labels
from actionhas.formats.rundir import RunDir
from actionhas.formats.store import FeatureStore
from actionhas.formats.train_config import TrainConfig
from actionhas.models.heads import build_model
from actionhas.training.loop import EpochOrder, Selection, fit, make_loader, step_lr


def _optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay)


@torch.no_grad()
def accuracy(model: torch.nn.Module, loader, device: str) -> float:
    """Fraction of videos whose top-scoring class is one of their labels."""
    model.eval()
    hits = total = 0
    for feats, labels, _ in loader:
        top = model.predict(feats.to(device))[0].argmax(dim=1).cpu()
        hits += int(labels[torch.arange(len(top)), top].gt(0).sum())
        total += len(top)
    return hits / max(total, 1)


def temporal_truth(spec: str, subset: str) -> GroundTruth | None:
    """The temporal ground truth of ``subset`` when the labels source has any, else None."""
    if spec == "thumos14":
        truth = load_thumos14(subset) if subset in ("validation", "test") else None
    elif Path(spec).is_dir() or Path(spec).suffix.lower() == ".json":
        truth = read_ground_truth(spec).select(subset)
    else:
        return None
    return truth if truth is not None and len(truth.instances) else None


def _selection(cfg: TrainConfig, model, store: FeatureStore, labels, classes: list[str]) -> Selection:
    """Score each epoch on the held-out ``select_on`` videos (mAP with temporal labels, else accuracy)."""
    table = select_videos(labels, store, cfg.select_on, classes, what="selection")
    truth = temporal_truth(cfg.labels, cfg.select_on)
    if truth is None:
        loader = make_loader(VideoFeatures(store, list(table["video"]), label_matrix(table["labels"], classes),
                                           cfg.length), None, cfg.batch_size, 0, cfg.device, cfg.seed)
        return Selection(cfg.select_on, lambda epoch: ("accuracy", accuracy(model, loader, cfg.device)),
                         f"the labels give no temporal annotations of {cfg.select_on!r}: top-1 classification accuracy")
    from actionhas.evaluation.detection_map import evaluate_detection
    from actionhas.localization.pipeline import LocalizeSettings, localize_store

    videos, wanted = list(table["video"]), list(table["labels"])

    def score(epoch: int) -> tuple[str, float]:
        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            preds = localize_store(model, store, videos, wanted, classes, LocalizeSettings(), cfg.device, progress=False)
            return "average_mAP", evaluate_detection(truth, preds)["average_mAP"]

    return Selection(cfg.select_on, score, f"temporal annotations of {cfg.select_on!r}: average mAP over tIoU "
                                           "0.1-0.7 (ActivityNet protocol, the paper's localization)")


def epoch_count(cfg: TrainConfig, batches_per_epoch: int) -> int:
    """Epochs to run: --epochs, or fewer when --steps ends training first (the official BaS-Net
    counts 1500 steps; every epoch here is one pass over the videos in batches, the last cut at
    the step count, where the official code draws each step's batch from a fresh shuffle)."""
    needed = [cfg.epochs] if cfg.epochs is not None else []
    if cfg.steps is not None:
        needed.append(math.ceil(cfg.steps / batches_per_epoch))
    return min(needed)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False) -> Path:
    """Train one head into ``cfg.out``; returns the run directory.

    overwrite: replace whatever ``cfg.out`` holds (a run's files are removed when training starts).
    """
    cfg = cfg.resolved()
    if cfg.select_on is not None and cfg.select_on == cfg.subset:
        raise ActionhasError(f"--select-on {cfg.select_on!r} is the training subset; select on held-out videos")
    run = RunDir(cfg.out)
    run.claim(cfg.record(), resume, overwrite)
    store = FeatureStore(cfg.features)
    labels = load_labels(cfg.labels)
    train_table = select_videos(labels, store, cfg.subset)
    classes = sorted({c for names in train_table["labels"] for c in names})
    if len(classes) < (2 if cfg.model == "paper" else 1):  # a softmax over one class has loss 0: it learns nothing
        raise ActionhasError(f"{cfg.labels}: the {cfg.subset!r} videos carry {len(classes)} class(es) {classes}; "
                             f"the {cfg.model} head needs at least two")
    start_epoch, ckpt = 0, None
    if resume and run.has_checkpoint():
        saved = TrainConfig.from_record(run.config()).record()  # older key names, settings added since
        run.check_resume(cfg.record(), settings.resumable(TrainConfig), saved)
        run.check_store(store, resume=True)
        ckpt = run.load_checkpoint()
        classes, mean = run.classes(), run.mean_feature()
        start_epoch = int(ckpt["epoch"]) + 1
    else:
        run.start(cfg.record(), classes, overwrite)
        run.save_store(store.identity(list(train_table["video"])))
        mean = mean_feature(store, list(train_table["video"]), progress=progress)
        run.save_mean_feature(mean)

    device = cfg.device
    torch.manual_seed(cfg.seed)  # weight initialisation
    model = build_model(cfg, store.info.feature_dim, len(classes)).to(device)
    hider = TemporalHiding(torch.from_numpy(mean).float(), cfg.segments, cfg.hide_prob).to(device)
    optimizer = _optimizer(cfg, model)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])

    train_set = VideoFeatures(store, list(train_table["video"]), label_matrix(train_table["labels"], classes), cfg.length,
                              cfg.sampling, cfg.seed)
    # perturbed indices depend on the epoch, which workers read from the dataset: a fresh pool per epoch
    loader = make_loader(train_set, EpochOrder(len(train_set), cfg.seed), cfg.batch_size, cfg.workers, device, cfg.seed,
                         persistent=cfg.sampling == "uniform")
    after_epoch = None
    if cfg.val_subset:
        val_table = select_videos(labels, store, cfg.val_subset, classes, what="held-out")
        val_loader = make_loader(VideoFeatures(store, list(val_table["video"]), label_matrix(val_table["labels"], classes),
                                               cfg.length), None, cfg.batch_size, cfg.workers, device, cfg.seed)
        after_epoch = lambda epoch: {"heldout_accuracy": accuracy(model, val_loader, device)}  # noqa: E731
    selection = _selection(cfg, model, store, labels, classes) if cfg.select_on else None

    def step(batch, hide_gen):
        feats, y, _ = batch
        feats, y = feats.to(device, non_blocking=True), y.to(device, non_blocking=True)
        outputs = model(hider.train()(feats, generator=hide_gen))
        top = model.video_scores(outputs).argmax(1)
        # CoLA's loss mines snippets behind a random mask: drawn from the epoch's generator too
        loss = model.loss(outputs, y, hide_gen)
        return loss, int(y[torch.arange(len(y)), top].gt(0).sum()), len(y)

    fit(run, model, optimizer, loader, step, seed=cfg.seed, epochs=epoch_count(cfg, len(loader)), start_epoch=start_epoch,
        max_steps=cfg.steps,
        lr_at=step_lr(cfg.lr, cfg.lr_step, cfg.lr_gamma), device=device, after_epoch=after_epoch,
        selection=selection, checkpoint_extra={"feature_dim": store.info.feature_dim, "classes": classes},
        progress=progress)
    return Path(cfg.out)


def summary(run: Path) -> str:
    """One line on how a run ended (and which epoch it selected)."""
    rd = RunDir(run)
    last = rd.log()[-1]
    line = (f"run written to {run} (epoch {last['epoch'] + 1}: loss {last['loss']:.4f}, "
            f"train accuracy {last['train_accuracy']:.3f}"
            + (f", held-out accuracy {last['heldout_accuracy']:.3f}" if "heldout_accuracy" in last else "") + ")")
    chosen = rd.selection()
    if chosen:
        line += (f"; selected epoch {chosen['epoch'] + 1} (\"epoch\": {chosen['epoch']} in selection.json and "
                 f"log.jsonl, which count from 0) on {chosen['subset']!r} "
                 f"({chosen['metric']} {chosen['value']:.4f})")
    return line
