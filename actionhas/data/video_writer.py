"""Real encoded videos written with PyAV: the demo's, the tests' and the benchmarks' inputs.

Two patterns, both cheap to encode and easy to tell apart frame by frame: ``"bar"``, a bright
vertical bar sweeping over fresh noise (every frame differs, so frame-accurate decoding is
testable), and ``"square"``, a coloured square swinging over a fixed texture (a steady scene
with motion). Frames follow each other at ``fps``, or at explicit presentation times for a
variable frame rate, as phones and screen recorders write. ``write_event_video`` writes an
untrimmed video instead: a still scene in which each pattern's shape moves only during its known
intervals, the demo's action instances. ``codec="libvpx"`` (VP8, in a .webm file) gives videos
that browsers play and decord reads. PyAV is imported when a video is written, not with the package.
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

PATTERNS = ("bar", "square")
_MS = 1000  # time base of explicit presentation times: 1 ms


def _frames(pattern: str, count: int, fps: float, size: tuple[int, int], seed: int):
    rng = np.random.default_rng(seed)
    w, h = size
    if pattern == "bar":
        for i in range(count):
            img = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
            img[:, (3 * i) % w] = 255
            yield img
        return
    background = rng.integers(0, 80, size=(h, w, 3), dtype=np.uint8)
    colour = rng.integers(120, 255, size=3, dtype=np.uint8)
    side = max(2, min(24, h // 2, w // 2))
    for i in range(count):
        img = background.copy()
        x = int((w - side) * (0.5 + 0.5 * np.sin(2 * np.pi * i / fps)))
        img[h // 2 - side // 2:h // 2 + side // 2, x:x + side] = colour
        yield img


def _event_frames(count: int, fps: float, size: tuple[int, int], events: Sequence[tuple[str, float, float]],
                  seed: int):
    """A still textured scene; during its events a white bar sways or a yellow square circles.

    Both shapes stay within the centre, which C3D's 112-pixel crop keeps, and move every frame.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    scene = rng.integers(0, 80, size=(h, w, 3), dtype=np.uint8)
    side, bar = max(2, min(32, h // 3)), max(1, w // 12)
    for i in range(count):
        img = scene.copy()
        phase = 2 * np.pi * i / fps
        for pattern, start, end in events:
            if not start <= i / fps < end:
                continue
            if pattern == "bar":
                x = int(w / 2 - bar / 2 + w / 5 * np.sin(phase))
                img[:, x:x + bar] = 255
            else:
                x, y = int(w / 2 - side / 2 + h / 5 * np.cos(phase)), int(h / 2 - side / 2 + h / 5 * np.sin(phase))
                img[y:y + side, x:x + side] = (230, 200, 40)
        yield img


def _check_pattern(pattern: str) -> None:
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")


def write_event_video(path: str | Path, seconds: float, fps: int, events: Sequence[tuple[str, float, float]],
                      size: tuple[int, int] = (160, 120), codec: str = "libvpx", seed: int = 0) -> Path:
    """Write ``seconds`` of a still scene (its texture drawn from ``seed``) with moving shapes during ``events``.

    events: (pattern, start s, end s) each, the instances a detector should find. Returns ``path``.
    """
    for pattern, start, end in events:
        _check_pattern(pattern)
        if not 0 <= start < end <= seconds:
            raise ValueError(f"event {pattern} {start}-{end} s must lie within the video's {seconds} s")
    return _encode(path, _event_frames(int(round(seconds * fps)), fps, size, events, seed), fps, size, codec)


def write_test_video(path: str | Path, frames: int, fps: int, size: tuple[int, int] = (64, 48),
                     codec: str = "libx264", seed: int = 0, pattern: str = "bar",
                     times: Sequence[float] | None = None) -> Path:
    """Write ``frames`` frames of ``pattern`` at ``fps`` (width, height = ``size``); returns ``path``.

    times: presentation time in seconds of each frame, increasing (a variable frame rate, kept
    to the millisecond; ``fps`` is then the nominal rate the container declares). Default k / fps.
    """
    _check_pattern(pattern)
    pts = None
    if times is not None:
        pts = np.round(np.asarray(times, np.float64) * _MS).astype(np.int64)
        if pts.shape != (frames,) or np.any(np.diff(pts) <= 0):
            raise ValueError(f"times must be {frames} increasing seconds, at least 1 ms apart")
    return _encode(path, _frames(pattern, frames, fps, size, seed), fps, size, codec, pts)


def _encode(path: str | Path, images, fps: int, size: tuple[int, int], codec: str,
            pts: np.ndarray | None = None) -> Path:
    """Encode RGB ``images`` into ``path``; ``pts`` in ms when the frame rate is variable."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if pts is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, _MS)
        for i, img in enumerate(images):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = int(pts[i]), Fraction(1, _MS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
