"""Streamed decoding with decord: every frame decoded once, in order, in a background thread.

The thread fills a small queue with chunks of frames while the network works on earlier clips,
so decoding hides behind compute. Containers can over-report their frame count: decoding stops
at the last frame that really decodes (``FrameStream.truncated`` tells). A stream that yields
nothing for ``timeout`` seconds is abandoned with ``DecodeTimeout``. Each stream has its own
decord reader, so several streams decode several videos at once (decord releases the GIL).
"""
from __future__ import annotations

import queue
import re
import threading
from pathlib import Path

import numpy as np

from actionhas.core.errors import ActionhasError


class DecodeError(ActionhasError):
    """A video that cannot be opened or decoded."""


class DecodeTimeout(DecodeError):
    """A video whose decoder stopped answering."""


_END = object()


def _open_reason(error: Exception) -> str:
    """decord's open error in a user's words (its texts are source locations and internal checks)."""
    text = str(error)
    if "cannot find video stream" in text:
        return "no video stream: the file holds no frames"
    if "Error reading" in text or "ERROR opening" in text:
        return "not a readable video file"
    return re.sub(r"\[[\d:]+\] \S+:\d+: ", "", (text.splitlines() or [type(error).__name__])[0])[:160]


class FrameStream:
    """Iterate (start_index, frames uint8 (k, H, W, 3) RGB) chunks of one video.

    Opening and decoding both happen in the background thread, so a file whose decoder hangs
    on open is abandoned after ``timeout`` seconds too. ``close()`` releases the thread. At most
    ``prefetch`` chunks of ``chunk`` native-resolution frames wait in the queue (48 frames:
    8 MB at 320x180, 300 MB at 1080p), whatever the video's length. ``starts`` holds every
    frame's presentation start time in seconds as the container gives it ((reported_frames,)
    float64), or None when the container gives none.
    """

    def __init__(self, path: str | Path, chunk: int = 16, timeout: float = 60.0, prefetch: int = 3):
        self.path = Path(path)
        self.chunk, self.timeout = chunk, timeout
        self.decoded_frames = 0
        self.truncated = False
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._go, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        opened = self._get("opening")
        if isinstance(opened, Exception):
            raise DecodeError(f"{self.path}: cannot open ({_open_reason(opened)})")
        self.reported_frames, self.fps, self.starts = opened
        if self.reported_frames < 1 or not np.isfinite(self.fps) or self.fps <= 0:
            self.close()
            raise DecodeError(f"{self.path}: no video frames (frames={self.reported_frames}, fps={self.fps})")

    def _get(self, what: str):
        try:
            return self._queue.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise DecodeTimeout(f"{self.path}: decoder silent for {self.timeout:g} s while {what}; abandoned") from None

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _decode(self, start: int, stop: int) -> np.ndarray | None:
        try:
            return self._reader.get_batch(list(range(start, stop))).asnumpy()
        except Exception:
            return None

    def _starts(self) -> np.ndarray | None:
        try:
            return self._reader.get_frame_timestamp(np.arange(len(self._reader)))[:, 0].astype(np.float64)
        except Exception:  # no usable timestamps: the video is placed by frame index
            return None

    def _run(self) -> None:
        # PyAV before decord, which loads its FFmpeg globally: loaded first, decord's libvpx would shadow
        # PyAV's, and PyAV's VP8 encoder would then refuse to open (EINVAL) anywhere in this process
        import av  # noqa: F401
        import decord  # imported here so the rest of the package works without it

        try:
            self._reader = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=1)
            opened = (len(self._reader), float(self._reader.get_avg_fps()), self._starts())
        except Exception as e:  # decord raises its own error types
            self._put(e)
            return
        self._put(opened)
        self._go.wait()
        start = 0
        while start < self.reported_frames and not self._stop.is_set():
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
                    self._put((start, np.concatenate(good)))
                self.truncated = True
                break
            if not self._put((start, frames)):
                return
            start = stop
        self._put(_END)

    def __iter__(self):
        self._go.set()  # decoding starts with the first request, then runs ahead
        while True:
            item = self._get("decoding")
            if item is _END:
                return
            self.decoded_frames = item[0] + len(item[1])
            yield item

    def close(self) -> None:
        self._stop.set()
        self._go.set()
