"""Where each feature's 16-frame window sits in the video.

With ``step = fps / features_per_second`` frames between features (3 at 30 fps and 10/s, 2.5 at
25 fps), a video of N decodable frames gives n = max(1, floor(N / step)) features. Feature i is
centred on frame c_i = floor((i + 0.5) * step) and covers frames c_i - 8 .. c_i + 7, clamped to
[0, N - 1]: windows at the edges repeat the edge frame, and a video shorter than 16 frames gives
one feature (or floor(N / step)) from its repeated frames. Its time is the window's centre,
c_i / fps seconds, computed from frame indices because container timestamps are unreliable.
"""
from __future__ import annotations

import numpy as np

CLIP_LENGTH = 16


def num_features(num_frames: int, fps: float, features_per_second: float) -> int:
    return max(1, int(num_frames * features_per_second / fps + 1e-9))


def clip_centres(num_frames: int, fps: float, features_per_second: float) -> np.ndarray:
    """(n,) centre frame of every feature's window."""
    if fps < features_per_second:
        raise ValueError(f"{fps:g} fps is below {features_per_second:g} features per second")
    step = fps / features_per_second
    n = num_features(num_frames, fps, features_per_second)
    return np.minimum(np.floor((np.arange(n) + 0.5) * step).astype(np.int64), num_frames - 1)


def clip_frames(centres: np.ndarray, num_frames: int, clip_length: int = CLIP_LENGTH) -> np.ndarray:
    """(n, clip_length) frame indices of each window, edge frames repeated."""
    offsets = np.arange(clip_length) - clip_length // 2
    return np.clip(centres[:, None] + offsets[None, :], 0, num_frames - 1)


def clip_times(centres: np.ndarray, fps: float) -> np.ndarray:
    """(n,) centre time in seconds of each window (frame k spans [k, k+1) / fps)."""
    return centres.astype(np.float64) / fps
