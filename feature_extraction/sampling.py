"""Where each feature's 16-frame window sits in the video.

Constant frame rate: with ``step = fps / features_per_second`` frames between features (3 at
30 fps and 10/s, 2.5 at 25 fps), a video of N decodable frames gives n = max(1, floor(N / step))
features. Feature i is centred on frame c_i = floor((i + 0.5) * step); its time is c_i / fps
seconds, computed from frame indices because container timestamps are often coarse.

Variable frame rate (phones, screen recordings): when the frames' presentation times stray from
k / fps by more than half a frame interval (``RATE_TOLERANCE``; below that, frame-index times
misplace no frame by more than the frame quantisation itself), features are placed in real time
instead: feature i is centred on the frame whose presentation time (from the first frame) is
nearest to t = (i + 0.5) / features_per_second s, its time is that frame's presentation time, and
i < max(1, floor(duration * features_per_second)) with duration = N / mean rate. A frame nearest
to several t (a gap longer than 1 / features_per_second s, e.g. a still screen) serves once, so
times stay strictly increasing.

Either way feature i covers frames c_i - 8 .. c_i + 7, clamped to [0, N - 1]: windows at the
edges repeat the edge frame, and a video shorter than 16 frames gives one feature (or
floor(N / step)) from its repeated frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP_LENGTH = 16
RATE_TOLERANCE = 0.5  # frame intervals a presentation time may stray from k / fps in a constant-rate video


@dataclass(frozen=True)
class ClipPlan:
    """Where one video's features sit and what the store records about its timing."""

    centres: np.ndarray   # (n,) int64 centre frame of every feature's window
    times: np.ndarray     # (n,) float64 seconds from the first frame, increasing
    duration: float       # seconds: frames / fps
    fps: float            # frames per second; the mean rate of a variable-rate video
    variable_rate: bool


def num_features(num_frames: int, fps: float, features_per_second: float) -> int:
    return max(1, int(num_frames * features_per_second / fps + 1e-9))


def _check_rate(fps: float, features_per_second: float) -> None:
    if fps < features_per_second:
        raise ValueError(f"{fps:g} fps is below {features_per_second:g} features per second")


def clip_centres(num_frames: int, fps: float, features_per_second: float) -> np.ndarray:
    """(n,) centre frame of every feature's window, from frame indices (constant rate)."""
    _check_rate(fps, features_per_second)
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


def is_variable_rate(starts: np.ndarray | None, fps: float) -> bool:
    """Whether presentation times ``starts`` (N,) s stray from k / fps by over RATE_TOLERANCE frames.

    Times that are missing, fewer than two or not strictly increasing are not trusted: such a
    video keeps frame-index times.
    """
    if starts is None or len(starts) < 2 or not np.all(np.diff(starts) > 0):
        return False
    drift = starts - starts[0] - np.arange(len(starts)) / fps
    return bool(np.max(np.abs(drift)) > RATE_TOLERANCE / fps)


def plan_clips(num_frames: int, fps: float, features_per_second: float,
               starts: np.ndarray | None = None) -> ClipPlan:
    """Features of a video of ``num_frames`` decodable frames, placed in real time when ``starts``.

    starts: (>= num_frames,) presentation start time in seconds of every frame, given only for a
    variable-rate video (``is_variable_rate``); None places features by frame index.
    """
    if starts is None or num_frames < 2:
        centres = clip_centres(num_frames, fps, features_per_second)
        return ClipPlan(centres, clip_times(centres, fps), num_frames / fps, fps, False)
    t = np.asarray(starts[:num_frames], np.float64) - float(starts[0])
    mean_fps = (num_frames - 1) / t[-1]
    _check_rate(mean_fps, features_per_second)
    duration = num_frames / mean_fps
    targets = (np.arange(max(1, int(duration * features_per_second + 1e-9))) + 0.5) / features_per_second
    right = np.clip(np.searchsorted(t, targets), 1, num_frames - 1)
    left = right - 1
    nearest = np.where(targets - t[left] <= t[right] - targets, left, right)
    centres = np.unique(nearest).astype(np.int64)  # a frame nearest to several targets serves once
    return ClipPlan(centres, t[centres], duration, mean_fps, True)
