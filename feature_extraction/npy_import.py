"""Per-video .npy feature arrays (e.g. the public THUMOS14 I3D features) into the feature store.

A file ``<video_id>.npy`` holds (n, D) features, one per ``frames_per_feature`` frames at the
video's ``fps``; feature i covers frames [i * k, (i + 1) * k) and its time is that window's
centre, (i + 0.5) * k / fps seconds. I3D on THUMOS14: 2048-d, k = 16 at 25 fps (0.64 s).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from actionhas.errors import ActionhasError
from actionhas.store import StoreInfo, create_store, write_video


def import_npy(source: str | Path, out: str | Path, fps: float, frames_per_feature: int,
               what: str = "npy", progress: bool = True) -> int:
    """Write every ``*.npy`` of ``source`` into a new store at ``out``; returns the video count."""
    files = sorted(Path(source).glob("*.npy"))
    if not files:
        raise ActionhasError(f"{source}: no .npy files")
    first = np.load(files[0], mmap_mode="r")
    if first.ndim != 2:
        raise ActionhasError(f"{files[0]}: expected (n, D) features, got shape {first.shape}")
    step = frames_per_feature / fps
    info = StoreInfo(first.shape[1], 1.0 / step, f"imported:{what}")
    tmp = Path(out).with_name(Path(out).name + ".tmp")
    with create_store(tmp, info) as f:
        for path in tqdm(files, desc="import", unit="video", disable=not progress):
            feats = np.load(path, allow_pickle=False)
            if feats.ndim != 2 or feats.shape[1] != info.feature_dim or len(feats) < 1:
                raise ActionhasError(f"{path}: shape {feats.shape}, expected (n>=1, {info.feature_dim})")
            if not np.isfinite(feats).all():
                raise ActionhasError(f"{path}: holds NaN or Inf")
            times = (np.arange(len(feats)) + 0.5) * step
            write_video(f, path.stem, feats, times, len(feats) * step, fps, dtype=np.float32)
    tmp.replace(out)
    return len(files)
