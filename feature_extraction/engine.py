"""Many videos through one batched network: several decoders feed one batcher.

Each of ``decode_workers`` threads takes the next video of the list, decodes it with its own
decord reader, resizes its frames and cuts them into network-ready clips; the clips of all
videos meet in one bounded queue, and the calling thread runs them through the network in
batches that mix videos. Threads suffice: decord, the resize and the network release the GIL.
Decoder threads run their tensor ops on one core each: the parallelism is across videos, and N
threads each spreading every op over all cores would oversubscribe the CPU N times over.

Every batch holds exactly ``batch_size`` clips, the last one of a run padded with zeros: on CPU
a clip's row does not depend on which clips share its batch, but it does depend on the batch
size (other kernels), so fixed-size batches keep every row, and the store, byte-identical
whatever the number of decoders and however their clips interleave.

Memory is bounded whatever the length and number of the videos: per decoder, its stream's
prefetch (3 chunks of 16 native frames: 8 MB at 320x180, 300 MB at 1080p) and at most 32 resized
frames (3x128x171 float32, 263 KB each: 8.4 MB); between decoders and network, the queue
(2 x batch_size clips of 3x16x112x112 float32, 2.4 MB each) and the batch being filled
(batch_size clips). With 8 decoders of 320x180 video at batch 16: 8 x 16 MB + 48 x 2.4 MB, about
250 MB. Beyond that only the fc7 rows of the videos in flight are kept (16 KB per feature).
"""
from __future__ import annotations

import os
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import torch

from actionhas.core.errors import ActionhasError


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


DECODE_WORKERS = min(8, max(1, _usable_cores() - 1))  # decoder threads: every core but the batcher's, at most 8

Emit = Callable[[torch.Tensor], None]
Finish = Callable[[np.ndarray], object]
Cut = Callable[[Path, Emit], Finish]
Runner = Callable[[list[torch.Tensor]], np.ndarray]


class _Stopped(Exception):
    """Unwinds a decoder whose clips nobody waits for any more."""


class _Decoders:
    """``workers`` threads running ``cut`` on the videos in turn; their messages arrive on ``queue``.

    Messages are ("clip", slot, clip tensor), then ("done", slot, finish) or ("failed", slot,
    exception), where slot is the video's index in ``paths``.
    """

    def __init__(self, paths: list[Path], cut: Cut, workers: int, depth: int):
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        for item in enumerate(paths):
            self._todo.put(item)
        self._stop = threading.Event()
        for _ in range(workers):
            threading.Thread(target=self._work, args=(cut,), daemon=True).start()

    def _put(self, message: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _emit(self, slot: int, clip: torch.Tensor) -> None:
        if not self._put(("clip", slot, clip)):
            raise _Stopped

    def _work(self, cut: Cut) -> None:
        torch.set_num_threads(1)  # this thread's own intra-op count (and that of threads started later)
        while not self._stop.is_set():
            try:
                slot, path = self._todo.get_nowait()
            except queue.Empty:
                return
            try:
                message = ("done", slot, cut(path, partial(self._emit, slot)))
            except _Stopped:
                return
            except Exception as e:  # the caller decides which failures belong to the video
                message = ("failed", slot, e)
            if not self._put(message):
                return

    def stop(self) -> None:
        """Let every thread go at its next hand-over (a hung decoder is abandoned by its own timeout)."""
        self._stop.set()


class _Batcher:
    """Clips of many videos into batches of exactly ``batch_size``; each video handed back once complete."""

    def __init__(self, paths: list[Path], runner: Runner, batch_size: int, on_batch: Callable[[int], None] | None):
        self.paths, self.runner, self.batch_size, self.on_batch = paths, runner, batch_size, on_batch
        self.open = set(range(len(paths)))          # videos not handed back yet
        self.rows: dict[int, list[np.ndarray]] = {i: [] for i in self.open}
        self.unrun: Counter[int] = Counter()         # clips of each video waiting in ``pending``
        self.finish: dict[int, Finish] = {}          # videos whose decoder sent every clip
        self.pending: list[tuple[int, torch.Tensor]] = []

    def stalled(self) -> bool:
        """Whether a part-filled batch waits for clips that will never come."""
        return bool(self.pending) and self.open <= self.finish.keys()

    def add_clip(self, slot: int, clip: torch.Tensor) -> Iterator[tuple[Path, object]]:
        self.pending.append((slot, clip))
        self.unrun[slot] += 1
        if len(self.pending) == self.batch_size:
            yield from self.run()

    def all_sent(self, slot: int, finish: Finish) -> Iterator[tuple[Path, object]]:
        self.finish[slot] = finish
        if not self.unrun[slot]:
            yield self._close(slot, finish(np.concatenate(self.rows[slot])))

    def fail(self, slot: int, error: Exception) -> Iterator[tuple[Path, object]]:
        self.pending = [(s, c) for s, c in self.pending if s != slot]
        self.unrun.pop(slot, None)
        yield self._close(slot, error)

    def run(self) -> Iterator[tuple[Path, object]]:
        """Run the pending clips, padded to ``batch_size``, and hand back the videos they complete."""
        batch, self.pending = self.pending, []
        slots = list(dict.fromkeys(s for s, _ in batch))
        clips = [c for _, c in batch]
        clips += [torch.zeros_like(clips[0])] * (self.batch_size - len(clips))
        try:
            out = self.runner(clips)
        except Exception as e:  # the network failed: so does every video with a clip in the batch
            for slot in slots:
                yield from self.fail(slot, e)
            return
        owner = np.array([s for s, _ in batch])
        for slot in slots:  # copies: a video's rows never hold a whole batch's output alive
            mine = owner == slot
            self.rows[slot].append(out[:len(batch)][mine])
            self.unrun[slot] -= int(mine.sum())
        if self.on_batch:
            self.on_batch(len(batch))
        for slot in slots:
            if slot in self.finish and not self.unrun[slot]:
                yield self._close(slot, self.finish[slot](np.concatenate(self.rows[slot])))

    def _close(self, slot: int, result: object) -> tuple[Path, object]:
        self.open.discard(slot)
        self.finish.pop(slot, None)
        self.rows.pop(slot, None)
        return self.paths[slot], result


def run_videos(paths: list[Path], cut: Cut, runner: Runner, batch_size: int, workers: int,
               on_batch: Callable[[int], None] | None = None) -> Iterator[tuple[Path, object]]:
    """Yield (path, finish(rows) or the Exception the video failed with) for every video, as each completes.

    cut(path, emit), run in a decoder thread, decodes one video, hands its clips (3, 16, 112, 112),
    at least one, to ``emit`` in order and returns ``finish``, which turns the video's fc7 rows
    (n, D) float32, in clip order, into its result; what it raises is the video's failure.
    runner(list of ``batch_size`` clips) -> (batch_size, D) rows; when it raises, every video with
    a clip in that batch fails. on_batch(k) is called after each batch with its k real clips.
    """
    if workers < 1:
        raise ActionhasError(f"decode_workers must be >= 1, got {workers}")
    if batch_size < 1:
        raise ActionhasError(f"batch_size must be >= 1, got {batch_size}")
    threads = torch.get_num_threads()  # fixes this thread's count before decoder threads lower theirs
    batcher = _Batcher(paths, runner, batch_size, on_batch)
    decoders = _Decoders(paths, cut, min(workers, max(1, len(paths))), depth=2 * batch_size)
    try:
        while batcher.open:
            if batcher.stalled():
                yield from batcher.run()
                continue
            kind, slot, item = decoders.queue.get()
            if slot not in batcher.open:  # a video the network already failed: its decoder runs out
                continue
            if kind == "clip":
                yield from batcher.add_clip(slot, item)
            elif kind == "done":
                yield from batcher.all_sent(slot, item)
            else:
                yield from batcher.fail(slot, item)
    finally:
        decoders.stop()
        torch.set_num_threads(threads)
