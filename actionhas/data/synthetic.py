"""Generated THUMOS-like feature stores: the failure the paper is about, with a known answer.

Every action instance has a short key moment (~1 s) where a few class-specific units fire
strongly, and a long body (4-12 s) where other units of the class fire weakly, shared in part
with a sibling class and also firing in short bursts in the background. A classifier that sees
whole videos can classify from the key moments alone, and its CAM then covers only them; hiding
segments removes the key moments of some videos, so it must learn the body too.

Features look like overlapping-window CNN activations: non-negative and sparse (ReLU of a
signal with most units below zero), smooth in time (a Gaussian over ~5 neighbours, as 16-frame
windows at 10 features/s overlap), and every video has its own background units and level.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from actionhas.formats.annotations import GroundTruth
from actionhas.formats.store import StoreInfo, create_store, write_video


@dataclass
class SyntheticSpec:
    num_classes: int = 10
    train_videos: int = 160          # subset "validation", as THUMOS14's training split
    test_videos: int = 80            # subset "test"
    feature_dim: int = 128
    features_per_second: float = 10.0
    seconds: tuple[float, float] = (40.0, 90.0)
    instances: tuple[int, int] = (1, 3)
    instance_seconds: tuple[float, float] = (4.0, 12.0)
    key_seconds: tuple[float, float] = (0.6, 1.2)
    key_units: int = 2               # units per class that fire at the key moment
    body_units: int = 6              # units per class that fire over the whole instance
    key_strength: float = 3.0
    body_strength: float = 1.2
    background_bursts: float = 0.04  # body-like bursts per second of background
    two_label_fraction: float = 0.1  # videos with a second class
    seed: int = 0


def _unit_layout(spec: SyntheticSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    need = spec.num_classes * (spec.key_units + spec.body_units)
    if need >= spec.feature_dim:
        raise ValueError(f"feature_dim {spec.feature_dim} too small for {need} class units")
    perm = rng.permutation(spec.feature_dim)
    key = perm[: spec.num_classes * spec.key_units].reshape(spec.num_classes, -1)
    body = perm[key.size: need].reshape(spec.num_classes, -1)
    return key, body, perm[need:]


def _video(spec, rng, classes, key, body, background):
    fps = spec.features_per_second
    n = int(rng.uniform(*spec.seconds) * fps)
    D = spec.feature_dim
    # per-video background: its own active units and level, slowly drifting
    signal = np.full((n, D), -1.0)
    own = rng.choice(background, size=max(1, len(background) // 4), replace=False)
    signal[:, own] += rng.gamma(2.0, 0.6, size=len(own)) + gaussian_filter1d(rng.normal(0, 0.6, (n, len(own))), 8, axis=0)
    # body-like bursts in the background: body evidence is only weakly specific
    for _ in range(rng.poisson(spec.background_bursts * n / fps)):
        c, t = rng.integers(spec.num_classes), rng.integers(n)
        length = int(rng.uniform(1, 3) * fps)
        signal[t:t + length, body[c]] += spec.body_strength * rng.uniform(0.6, 1.0)
    instances = []
    for c in classes:
        sibling = (c + 1) % spec.num_classes
        for _ in range(rng.integers(spec.instances[0], spec.instances[1] + 1)):
            length = int(rng.uniform(*spec.instance_seconds) * fps)
            start = int(rng.integers(0, max(1, n - length)))
            end = min(n, start + length)
            strength = spec.body_strength * rng.uniform(0.8, 1.2, size=body.shape[1])
            signal[start:end, body[c]] += strength
            signal[start:end, body[sibling]] += 0.4 * strength
            k_len = int(rng.uniform(*spec.key_seconds) * fps)
            k_start = int(rng.integers(start, max(start + 1, end - k_len)))
            signal[k_start:k_start + k_len, key[c]] += spec.key_strength * rng.uniform(0.8, 1.2)
            instances.append((c, start / fps, end / fps))
    signal += rng.normal(0, 0.35, size=(n, D))
    feats = np.maximum(gaussian_filter1d(signal, 2.0, axis=0), 0).astype(np.float32)
    times = (np.arange(n) + 0.5) / fps
    return feats, times, instances


def make_feature_store(path: str | Path, spec: SyntheticSpec = SyntheticSpec()) -> GroundTruth:
    """Write a synthetic feature store to ``path``; return its ground truth (subsets validation/test)."""
    rng = np.random.default_rng(spec.seed)
    key, body, background = _unit_layout(spec, rng)
    names = [f"Action{c:02d}" for c in range(spec.num_classes)]
    rows, videos = [], []
    with create_store(path, StoreInfo(spec.feature_dim, spec.features_per_second, "synthetic")) as f:
        total = spec.train_videos + spec.test_videos
        for i in range(total):
            subset = "validation" if i < spec.train_videos else "test"
            vid = f"video_{subset}_{i:07d}"
            first = i % spec.num_classes
            classes = [first]
            if rng.random() < spec.two_label_fraction:
                classes.append(int((first + rng.integers(1, spec.num_classes)) % spec.num_classes))
            feats, times, instances = _video(spec, rng, classes, key, body, background)
            duration = len(times) / spec.features_per_second
            write_video(f, vid, feats, times, duration, fps=30.0)
            videos.append((vid, subset, duration))
            rows += [(vid, names[c], s, e) for c, s, e in instances]
    return GroundTruth(
        instances=pd.DataFrame(rows, columns=["video", "label", "start", "end"]),
        videos=pd.DataFrame(videos, columns=["video", "subset", "duration"]).set_index("video"),
    )
