"""Videos to the feature store: decode once, batch clips through C3D, survive kills and bad files.

Work in progress lives in ``STORE.h5.partial/``: one small HDF5 file per finished video, written
under a temporary name and renamed, and one JSON per failed video. A killed run loses at most the
video in flight; the rerun skips every finished one. At the end everything is assembled into a
new store file that replaces STORE.h5 by rename, so STORE.h5 is always complete and readable.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from actionhas.atomic import write_text_atomic
from actionhas.errors import ActionhasError
from actionhas.store import StoreInfo, create_store, read_info, write_video
from feature_extraction.c3d import C3D
from feature_extraction.decoding import DecodeError, FrameStream
from feature_extraction.sampling import CLIP_LENGTH, clip_centres, clip_frames, clip_times

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv", ".3gp"}
SPORTS1M_MEAN_BGR = (90.25, 97.66, 101.41)
RESIZE = (128, 171)
CROP_OFFSET = (8, 29)
CROP = 112


@dataclass
class ExtractOptions:
    features_per_second: float = 10.0
    batch_size: int = 16
    device: str = "cpu"
    precision: str = "auto"       # "fp32", "bf16", "fp16"; auto = bf16 on CUDA, fp32 on CPU
    decode_timeout: float = 60.0
    min_frames: int = CLIP_LENGTH
    mean_cube: np.ndarray | None = None  # (3, 16, 128, 171) BGR, replaces the per-channel mean
    dtype: str = "float16"


@dataclass
class ExtractedVideo:
    """One video's features and what the store records about it.

    attrs: per-video attributes written into its store group besides duration and fps
    (frames_reported, frames_decoded, truncated); warning: a line for the user, or None.
    """

    features: np.ndarray   # (n, 4096) float32
    times: np.ndarray      # (n,) float64 seconds, window centres
    duration: float        # seconds
    fps: float
    attrs: dict
    warning: str | None = None


class Preprocess:
    """RGB uint8 frames -> BGR float 128x171 (bilinear); clips -> mean-subtracted 112x112 centre crops."""

    def __init__(self, mean_cube: np.ndarray | None = None):
        if mean_cube is not None:
            cube = torch.as_tensor(np.asarray(mean_cube, np.float32)).reshape(3, CLIP_LENGTH, *RESIZE)
            self.mean = cube.permute(1, 0, 2, 3)  # (16, 3, H, W), matches stacked frames
        else:
            self.mean = torch.tensor(SPORTS1M_MEAN_BGR).view(1, 3, 1, 1)

    def frames(self, rgb: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=RESIZE, mode="bilinear", align_corners=False, antialias=False)
        return x.flip(1)  # RGB -> BGR

    def clip(self, frames: torch.Tensor) -> torch.Tensor:
        """(16, 3, 128, 171) frames -> (3, 16, 112, 112) network input."""
        y, x = CROP_OFFSET
        x = (frames - self.mean)[:, :, y:y + CROP, x:x + CROP]
        return x.permute(1, 0, 2, 3)


class ClipRunner:
    """Batches clips through C3D on the chosen device and precision; returns float32 fc7 rows."""

    def __init__(self, model: C3D, opts: ExtractOptions):
        self.device = torch.device(opts.device)
        self.cuda = self.device.type == "cuda"
        precision = opts.precision if opts.precision != "auto" else ("bf16" if self.cuda else "fp32")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.model = model.to(self.device).eval()
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.clips_done = 0

    @torch.no_grad()
    def __call__(self, clips: list[torch.Tensor]) -> np.ndarray:
        x = torch.stack(clips)
        if self.cuda:
            x = x.pin_memory().to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last_3d)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            out = self.model(x)
        self.clips_done += len(clips)
        return out.float().cpu().numpy()


def extract_video(path: Path, runner: ClipRunner, prep: Preprocess, opts: ExtractOptions,
                  on_batch=None) -> ExtractedVideo:
    """The features of one video, decoded once in a background thread."""
    stream = FrameStream(path, timeout=opts.decode_timeout)
    try:
        return _extract_stream(path, stream, runner, prep, opts, on_batch)
    finally:
        stream.close()


def _extract_stream(path: Path, stream: FrameStream, runner: ClipRunner, prep: Preprocess, opts: ExtractOptions,
                    on_batch) -> ExtractedVideo:
    fps, n_frames = stream.fps, stream.reported_frames
    try:
        windows = clip_frames(clip_centres(n_frames, fps, opts.features_per_second), n_frames)
    except ValueError as e:
        raise DecodeError(f"{path}: {e}") from None
    buffer: list[torch.Tensor] = []
    buf_start = next_win = 0
    pending: list[torch.Tensor] = []
    out: list[np.ndarray] = []

    def flush():
        if pending:
            out.append(runner(pending))
            if on_batch:
                on_batch(len(pending))
            pending.clear()

    def take(window: np.ndarray):
        pending.append(prep.clip(torch.stack([buffer[i - buf_start] for i in window])))
        if len(pending) == opts.batch_size:
            flush()

    for start, chunk in stream:
        buffer.extend(prep.frames(chunk))
        decoded = start + len(chunk)
        while next_win < len(windows) and windows[next_win].max() < decoded:
            take(windows[next_win])
            next_win += 1
        if next_win < len(windows):  # frames no later window needs are dropped: memory stays flat
            drop = int(windows[next_win].min()) - buf_start
            if drop > 0:
                del buffer[:drop]
                buf_start += drop
    warning = None
    decoded = stream.decoded_frames
    if decoded < opts.min_frames:
        raise DecodeError(f"{path}: too short ({decoded} decodable frames < {opts.min_frames})")
    centres = clip_centres(n_frames, fps, opts.features_per_second)
    if stream.truncated or decoded < n_frames:
        warning = f"{path}: container reports {n_frames} frames but only {decoded} decode; stopped there"
        centres = clip_centres(decoded, fps, opts.features_per_second)
        windows = clip_frames(centres, decoded)
        for w in windows[next_win:]:
            take(w)
    flush()
    attrs = {"frames_reported": int(n_frames), "frames_decoded": int(decoded), "truncated": bool(warning)}
    return ExtractedVideo(np.concatenate(out), clip_times(centres, fps), decoded / fps, fps, attrs, warning)


def list_videos(source: str | Path) -> list[Path]:
    """Video files of a directory (by extension, sorted) or the paths listed in a text file."""
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if source.is_file():
        base = source.parent
        lines = [ln.strip() for ln in source.read_text().splitlines()]
        return [Path(ln) if Path(ln).is_absolute() else base / ln for ln in lines if ln and not ln.startswith("#")]
    raise ActionhasError(f"{source}: neither a directory of videos nor a list file")


def shard(paths: list[Path], index: int, count: int) -> list[Path]:
    """The ``index``-th of ``count`` deterministic, disjoint slices of the sorted path list."""
    if not 0 <= index < count:
        raise ActionhasError(f"shard {index}/{count}: need 0 <= K < N")
    return sorted(paths)[index::count]


def _partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def save_video(out: Path, info: StoreInfo, vid: str, video: ExtractedVideo, dtype) -> None:
    """Write one finished video into the work-in-progress folder, atomically."""
    path = _partial_dir(out) / f"{vid}.h5"
    tmp = path.with_name(path.name + ".tmp")
    with create_store(tmp, info) as f:
        write_video(f, vid, video.features, video.times, video.duration, video.fps, dtype=dtype)
        f["videos"][vid].attrs.update(video.attrs)
    os.replace(tmp, path)
    (_partial_dir(out) / f"{vid}.failed.json").unlink(missing_ok=True)


def save_failure(out: Path, vid: str, path: Path, reason: str) -> None:
    """Record a video that could not be extracted (its reason is listed at the end and kept in the store)."""
    write_text_atomic(_partial_dir(out) / f"{vid}.failed.json",
                      json.dumps({"video": vid, "file": str(path), "reason": reason}))


def _open_existing(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError:
        raise ActionhasError(f"{path}: exists but is not a readable feature store (move it or choose another --out)") from None


def _finished(out: Path) -> set[str]:
    """Videos already in the finished store or in its work-in-progress folder."""
    done = set()
    if out.exists():
        with _open_existing(out) as f:
            done |= set(f["videos"].keys())
    partial = _partial_dir(out)
    if partial.is_dir():
        done |= {p.name[:-3] for p in partial.glob("*.h5")}
    return done


def assemble(out: Path, info: StoreInfo, drop: set[str] = frozenset()) -> dict[str, dict]:
    """Fold the work-in-progress folder into ``out`` (atomically); return all recorded failures."""
    partial = _partial_dir(out)
    tmp = out.with_name(out.name + ".tmp")
    failures: dict[str, dict] = {}
    with create_store(tmp, info) as dst:
        if out.exists():
            with _open_existing(out) as src:
                _check_info(out, src, info)
                for vid in src["videos"]:
                    if vid not in drop:
                        src.copy(src["videos"][vid], dst["videos"], name=vid)
                for vid, g in src.get("failures", {}).items():
                    failures[vid] = dict(g.attrs)
        for p in sorted(partial.glob("*.h5")) if partial.is_dir() else []:
            with h5py.File(p, "r") as src:
                vid = next(iter(src["videos"]))
                if vid in dst["videos"]:
                    del dst["videos"][vid]
                src.copy(src["videos"][vid], dst["videos"], name=vid)
        for p in sorted(partial.glob("*.failed.json")) if partial.is_dir() else []:
            rec = json.loads(p.read_text())
            failures[rec["video"]] = {"file": rec["file"], "reason": rec["reason"]}
        failures = {v: r for v, r in failures.items() if v not in dst["videos"]}
        fg = dst.require_group("failures")
        for vid, rec in failures.items():
            g = fg.create_group(vid)
            g.attrs["file"], g.attrs["reason"] = rec["file"], rec["reason"]
    os.replace(tmp, out)
    shutil.rmtree(partial, ignore_errors=True)
    return failures


def _check_info(path: Path, f: h5py.File, info: StoreInfo) -> None:
    have = read_info(f, path)
    if have.feature_dim != info.feature_dim or abs(have.features_per_second - info.features_per_second) > 1e-9:
        raise ActionhasError(f"{path}: existing store has feature_dim {have.feature_dim} at "
                             f"{have.features_per_second}/s; this run makes {info.feature_dim} at "
                             f"{info.features_per_second}/s (use another --out)")


def extract(paths: list[Path], out: str | Path, model: C3D, extractor: str, opts: ExtractOptions,
            overwrite: bool = False, progress: bool = True) -> dict[str, dict]:
    """Extract every video of ``paths`` not already in ``out``; return the failures {video: {file, reason}}."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = StoreInfo(4096, opts.features_per_second, extractor)
    ids = [p.stem for p in paths]
    dup = {i for i, n in Counter(ids).items() if n > 1}
    if dup:
        raise ActionhasError(f"several files share the video id(s) {sorted(dup)[:3]} (ids are file stems)")
    finished = _finished(out)  # also refuses, before any work, an --out that is not a store
    done = set() if overwrite else finished
    partial = _partial_dir(out)
    partial.mkdir(exist_ok=True)
    if overwrite:
        for vid in ids:
            (partial / f"{vid}.h5").unlink(missing_ok=True)
    todo = [p for p in paths if p.stem not in done]
    runner, prep = ClipRunner(model, opts), Preprocess(opts.mean_cube)
    failed = 0
    bar = tqdm(todo, desc="extract", unit="video", disable=not progress, initial=0)
    t0 = time.time()
    clips = tqdm(desc="clips", unit="clip", disable=not progress, leave=False)
    for path in bar:
        vid = path.stem
        try:
            video = extract_video(path, runner, prep, opts, clips.update)
            if video.warning:
                tqdm.write(f"warning: {video.warning}")
            save_video(out, info, vid, video, opts.dtype)
        except (DecodeError, OSError, RuntimeError) as e:
            failed += 1
            reason = (str(e).splitlines()[0] if str(e) else type(e).__name__).removeprefix(f"{path}: ")
            save_failure(out, vid, path, reason)
            tqdm.write(f"failed: {path}: {reason}")
        bar.set_postfix(clips_per_s=f"{runner.clips_done / max(time.time() - t0, 1e-9):.1f}", failed=failed)
    clips.close()
    return assemble(out, info, drop=set(ids) if overwrite else set())


def merge(stores: list[Path], out: Path) -> int:
    """Join the stores of several shards into ``out``; videos must not repeat. Returns the video count."""
    if not stores:
        raise ActionhasError("merge: no stores given")
    with h5py.File(stores[0], "r") as f:
        info = read_info(f, stores[0])
    tmp = out.with_name(out.name + ".tmp")
    seen: dict[str, Path] = {}
    with create_store(tmp, info) as dst:
        fg = dst.require_group("failures")
        for path in stores:
            with h5py.File(path, "r") as src:
                _check_info(path, src, info)
                for vid in src["videos"]:
                    if vid in seen:
                        raise ActionhasError(f"merge: video {vid} is in both {seen[vid]} and {path}")
                    seen[vid] = path
                    src.copy(src["videos"][vid], dst["videos"], name=vid)
                for vid in src.get("failures", {}):
                    src.copy(src["failures"][vid], fg, name=vid)
        for vid in list(fg):
            if vid in dst["videos"]:
                del fg[vid]
    os.replace(tmp, out)
    return len(seen)
