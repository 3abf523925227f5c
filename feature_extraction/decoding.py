"""Streamed decoding with decord: every frame decoded once, in order, in a background thread.

The thread fills a small queue with chunks of frames while the network works on earlier clips,
so decoding hides behind compute. Containers can over-report their frame count: decoding stops
at the last frame that really decodes (``FrameStream.truncated`` tells). A stream that yields
nothing for ``timeout`` seconds is abandoned with ``DecodeTimeout``.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

from actionhas.errors import ActionhasError


class DecodeError(ActionhasError):
    """A video that cannot be opened or decoded."""


class DecodeTimeout(DecodeError):
    """A video whose decoder stopped answering."""


_END = object()


class FrameStream:
    """Iterate (start_index, frames uint8 (k, H, W, 3) RGB) chunks of one video."""

    def __init__(self, path: str | Path, chunk: int = 32, timeout: float = 60.0, prefetch: int = 4):
        import decord  # imported here so the rest of the package works without it

        self.path = Path(path)
        try:
            self._reader = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=1)
        except Exception as e:
            raise DecodeError(f"{self.path}: cannot open ({str(e).splitlines()[0][:160]})") from None
        self.reported_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())
        if self.reported_frames < 1 or not np.isfinite(self.fps) or self.fps <= 0:
            raise DecodeError(f"{self.path}: no video frames (frames={self.reported_frames}, fps={self.fps})")
        self.decoded_frames = 0
        self.truncated = False
        self.chunk, self.timeout = chunk, timeout
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _decode(self, start: int, stop: int) -> np.ndarray | None:
        try:
            return self._reader.get_batch(list(range(start, stop))).asnumpy()
        except Exception:
            return None

    def _run(self) -> None:
        start = 0
        while start < self.reported_frames:
            stop = min(start + self.chunk, self.reported_frames)
            frames = self._decode(start, stop)
            if frames is None:  # over-reported tail: keep the frames that do decode, one by one
                good = []
                for i in range(start, stop):
                    one = self._decode(i, i + 1)
                    if one is None:
                        break
                    good.append(one)
                if good:
                    self._queue.put((start, np.concatenate(good)))
                self.truncated = True
                break
            self._queue.put((start, frames))
            start = stop
        self._queue.put(_END)

    def __iter__(self):
        self._thread.start()  # decoding starts with the first request, then runs ahead
        while True:
            try:
                item = self._queue.get(timeout=self.timeout)
            except queue.Empty:
                raise DecodeTimeout(f"{self.path}: decoder gave no frame for {self.timeout:g} s; abandoned") from None
            if item is _END:
                return
            self.decoded_frames = item[0] + len(item[1])
            yield item
