"""Real encoded videos written with PyAV: the demo's, the tests' and the benchmarks' inputs.

Two patterns, both cheap to encode and easy to tell apart frame by frame: ``"bar"``, a bright
vertical bar sweeping over fresh noise (every frame differs, so frame-accurate decoding is
testable), and ``"square"``, a coloured square swinging over a fixed texture (a steady scene
with motion, as in the demo). Frames follow each other at ``fps``, or at explicit presentation
times for a variable frame rate, as phones and screen recorders write. PyAV is imported when a
video is written, not with the package.
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


def write_test_video(path: str | Path, frames: int, fps: int, size: tuple[int, int] = (64, 48),
                     codec: str = "libx264", seed: int = 0, pattern: str = "bar",
                     times: Sequence[float] | None = None) -> Path:
    """Write ``frames`` frames of ``pattern`` at ``fps`` (width, height = ``size``); returns ``path``.

    times: presentation time in seconds of each frame, increasing (a variable frame rate, kept
    to the millisecond; ``fps`` is then the nominal rate the container declares). Default k / fps.
    """
    import av

    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    pts = None
    if times is not None:
        pts = np.round(np.asarray(times, np.float64) * _MS).astype(np.int64)
        if pts.shape != (frames,) or np.any(np.diff(pts) <= 0):
            raise ValueError(f"times must be {frames} increasing seconds, at least 1 ms apart")
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if pts is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, _MS)
        for i, img in enumerate(_frames(pattern, frames, fps, size, seed)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = int(pts[i]), Fraction(1, _MS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
