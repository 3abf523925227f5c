"""The store an extraction builds: its work in progress, the settings checks, assembling and merging.

Work in progress lives in ``STORE.h5.partial/``: one small store file per finished video
(``<video>.h5``, written under a temporary name and renamed, with the run's provenance as its
file attribute) and one JSON per failed video. A killed run loses at most the videos in flight;
the rerun skips every finished one. At the end everything is assembled into a new store file that
replaces STORE.h5 by rename, so STORE.h5 is always complete and readable.

Nothing mixes silently: before any work the store and every finished file beside it are checked
against the run's provenance (a mismatch touches nothing); assembling checks every file again and
merging checks every shard.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.formats.atomic import write_text_atomic
from actionhas.formats.outputs import check_shape, claim
from actionhas.formats.store import (
    PROVENANCE_NOT_COMPARED,
    StoreInfo,
    copy_video,
    create_store_atomic,
    read_failures,
    read_info,
    read_record,
    video_ids,
    write_failure,
    write_video,
)
from feature_extraction.provenance import check_same

EXTEND = "use --overwrite to start clean, or another --out"
FOREIGN = "a work-in-progress file of another run: move it away, or use --overwrite to start clean"


@dataclass
class ExtractedVideo:
    """One video's features and what the store records about it.

    attrs: per-video attributes written into its store group besides duration and fps
    (frames_reported, frames_decoded, truncated, variable_rate); warning: a line for the user, or None.
    """

    features: np.ndarray   # (n, 4096) float32
    times: np.ndarray      # (n,) float64 seconds, window centres
    duration: float        # seconds
    fps: float
    attrs: dict
    warning: str | None = None


def partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def _open_existing(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError:
        raise ActionhasError(f"{path}: exists but is not a readable feature store (move it or choose another --out)") from None


def _open_input(path: Path) -> h5py.File:
    """A store given to read: one line when it is missing or not a store."""
    if not path.is_file():
        raise ActionhasError(f"{path}: no such feature store" + (" (a folder)" if path.is_dir() else ""))
    try:
        return h5py.File(path, "r")
    except OSError:
        raise ActionhasError(f"{path}: not a readable feature store (not HDF5)") from None


def _check_store(out: Path, info: StoreInfo) -> set[str]:
    """The videos of an existing store made with this run's settings; an error naming each differing one."""
    with _open_existing(out) as f:
        check_same(out, read_info(f, out).provenance, info.provenance, EXTEND)
        return set(video_ids(f))


def _check_partial(path: Path, info: StoreInfo) -> str:
    """The video id of a finished work-in-progress file made with this run's settings; an error otherwise."""
    with _open_existing(path) as f:
        check_same(path, read_info(f, path).provenance, info.provenance, FOREIGN)
        videos = video_ids(f)
    if videos != [path.stem]:
        raise ActionhasError(f"{path}: holds videos {videos}, expected the one video {path.stem!r}; {FOREIGN}")
    return path.stem


def _partial_files(out: Path) -> list[Path]:
    partial = partial_dir(out)
    return sorted(partial.glob("*.h5")) if partial.is_dir() else []


def prepare(out: Path, info: StoreInfo, overwrite: bool = False) -> set[str]:
    """Before any work: the videos already finished with this run's settings, in ``out`` or beside it.

    Refuses, touching nothing, an ``out`` that is not a store and a store or finished file made
    with other settings or by an earlier version. ``overwrite``: once ``out`` is known to be a
    store (or absent), it and its work in progress are removed: the run starts clean.
    """
    check_shape(out, "--out", "file")
    if out.exists():
        with _open_existing(out) as f:
            read_info(f, out)
    if overwrite:
        out.unlink(missing_ok=True)
        shutil.rmtree(partial_dir(out), ignore_errors=True)
        return set()
    done = _check_store(out, info) if out.exists() else set()
    return done | {_check_partial(p, info) for p in _partial_files(out)}


def save_video(out: Path, info: StoreInfo, vid: str, video: ExtractedVideo, dtype) -> None:
    """Write one finished video into the work-in-progress folder, atomically, with the run's provenance."""
    partial = partial_dir(out)
    partial.mkdir(exist_ok=True)
    with create_store_atomic(partial / f"{vid}.h5", info) as f:
        write_video(f, vid, video.features, video.times, video.duration, video.fps, dtype=dtype, attrs=video.attrs)
    (partial / f"{vid}.failed.json").unlink(missing_ok=True)


def save_failure(out: Path, vid: str, path: Path, reason: str) -> None:
    """Record a video that could not be extracted (its reason is listed at the end and kept in the store)."""
    partial = partial_dir(out)
    partial.mkdir(exist_ok=True)
    write_text_atomic(partial / f"{vid}.failed.json", json.dumps({"video": vid, "file": str(path), "reason": reason}))


def assemble(out: Path, info: StoreInfo) -> dict[str, dict]:
    """Fold the work-in-progress folder into ``out`` (atomically); return all recorded failures.

    Every file is checked against ``info.provenance`` before anything is written: a stray file
    of another run is an error, never a silent copy.
    """
    if out.exists():
        _check_store(out, info)
    files = {_check_partial(p, info): p for p in _partial_files(out)}
    partial = partial_dir(out)
    failures: dict[str, dict] = {}
    with create_store_atomic(out, info) as dst:
        if out.exists():
            with h5py.File(out, "r") as src:
                for vid in video_ids(src):
                    if vid not in files:
                        copy_video(src, dst, vid)
                failures.update(read_failures(src))
        for vid, p in files.items():
            with h5py.File(p, "r") as src:
                copy_video(src, dst, vid)
        for p in sorted(partial.glob("*.failed.json")) if partial.is_dir() else []:
            rec = json.loads(p.read_text())
            failures[rec["video"]] = {"file": rec["file"], "reason": rec["reason"]}
        done = set(video_ids(dst))
        failures = {v: r for v, r in failures.items() if v not in done}
        for vid, rec in failures.items():
            write_failure(dst, vid, rec["file"], rec["reason"])
    shutil.rmtree(partial, ignore_errors=True)
    return failures


def merge(stores: list[Path], out: Path, overwrite: bool = False) -> int:
    """Join the stores of several shards into ``out``; videos must not repeat. Returns the video count.

    Every shard must record the same provenance as the first (the settings that differ are named).
    An existing ``out`` is replaced only when it records that provenance too, or with ``overwrite``.
    """
    if not stores:
        raise ActionhasError("merge: no stores given")
    check_shape(out, "--out", "file")
    infos = []
    for path in stores:
        with _open_input(path) as f:
            infos.append(read_info(f, path))
    reference = infos[0].provenance
    for path, info in zip(stores, infos):  # differences read: the first shard's value -> this shard's
        check_same(path, None if info.provenance is None else reference, info.provenance or {},
                   f"merge joins only shards of one extraction (compared with {stores[0]})")
    claim(out, "--out", "file", "extract merge", read_record, reference or {}, overwrite, PROVENANCE_NOT_COMPARED)
    seen: dict[str, Path] = {}
    with create_store_atomic(out, infos[0]) as dst:
        failures: dict[str, dict] = {}
        for path in stores:
            with h5py.File(path, "r") as src:
                for vid in video_ids(src):
                    if vid in seen:
                        raise ActionhasError(f"merge: video {vid} is in both {seen[vid]} and {path}")
                    seen[vid] = path
                    copy_video(src, dst, vid)
                failures.update(read_failures(src))
        for vid, rec in failures.items():
            if vid not in seen:
                write_failure(dst, vid, rec["file"], rec["reason"])
    return len(seen)
