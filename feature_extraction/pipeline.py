"""Videos to the feature store: decode once, batch clips through C3D, survive kills and bad files.

Finished and failed videos go to the store's work in progress one at a time (``work_store``:
``save_video``, ``save_failure``), so a killed run loses at most the videos in flight and the
rerun skips every finished one. Before any decoding, the run's provenance (weights, pool5,
preprocessing, precision, features per second, decoder) is checked against the store and its
work in progress: features made with other settings never join them.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from actionhas.core import defaults
from actionhas.core.cli import check_device
from actionhas.core.errors import ActionhasError
from actionhas.formats.ids import check_video_id
from actionhas.formats.store import StoreInfo
from feature_extraction.c3d import C3D, FC7_DIM
from feature_extraction.decoding import DecodeError, FrameStream
from feature_extraction.engine import DECODE_WORKERS, Emit, Finish, run_videos
from feature_extraction.preprocess import Preprocess, load_mean_cube
from feature_extraction.provenance import make_provenance
from feature_extraction.sampling import (
    CLIP_LENGTH,
    RATE_TOLERANCE,
    ClipPlan,
    clip_frames,
    is_variable_rate,
    plan_clips,
)
from feature_extraction.weights import WeightsSource, load_c3d, random_c3d
from feature_extraction.work_store import (
    ExtractedVideo,
    assemble,
    prepare,
    save_failure,
    save_video,
)

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv", ".3gp"}
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
STORE_DTYPES = ("float16", "float32")


@dataclass
class ExtractOptions:
    """How an extraction runs; every default is in ``actionhas.core.defaults`` (Extraction)."""

    features_per_second: float = defaults.FEATURES_PER_SECOND
    batch_size: int = defaults.EXTRACT_BATCH_SIZE
    device: str = defaults.DEVICE
    precision: str = defaults.EXTRACT_PRECISION     # one of PRECISIONS; recorded in the store
    decode_timeout: float = defaults.DECODE_TIMEOUT
    min_frames: int = defaults.MIN_FRAMES
    mean_cube: np.ndarray | None = None  # (3, 16, 128, 171) BGR (``load_mean_cube``), replaces the per-channel mean
    dtype: str = defaults.STORE_DTYPE
    decode_workers: int = DECODE_WORKERS  # videos decoded at once, feeding one batched network (engine.py)

    def check(self) -> None:
        """Refuse, in one line naming the flag, a value that would fail late or mean nothing."""
        if not (np.isfinite(self.features_per_second) and self.features_per_second > 0):
            raise ActionhasError(f"--features-per-second must be a number > 0, got {self.features_per_second:g}")
        if self.batch_size < 1:
            raise ActionhasError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not self.decode_timeout > 0:
            raise ActionhasError(f"--decode-timeout must be > 0 seconds, got {self.decode_timeout:g}")
        if self.min_frames < 1:
            raise ActionhasError(f"--min-frames must be >= 1, got {self.min_frames}")
        if self.decode_workers < 1:
            raise ActionhasError(f"--decode-workers must be >= 1, got {self.decode_workers}")
        if self.precision not in PRECISIONS:
            raise ActionhasError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.dtype not in STORE_DTYPES:
            raise ActionhasError(f"store dtype must be one of {', '.join(STORE_DTYPES)}, got {self.dtype!r}")
        check_device(self.device)
        if self.precision == "tf32" and torch.device(self.device).type != "cuda":
            raise ActionhasError(f"--precision tf32 needs a CUDA --device, got {self.device!r}")


@contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    """CUDA convolutions and matmuls in TF32 only when asked (PyTorch lets cuDNN use it for fp32 convs by default)."""
    if hasattr(torch.backends.cudnn, "conv"):  # torch >= 2.9: per-backend precision settings
        flags = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
        saved = [f.fp32_precision for f in flags]
        for f in flags:
            f.fp32_precision = "tf32" if enabled else "ieee"
        try:
            yield
        finally:
            for f, value in zip(flags, saved):
                f.fp32_precision = value
    else:
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class ClipRunner:
    """Batches clips through C3D on the chosen device and precision; returns float32 fc7 rows.

    precision: "fp32" (true fp32, TF32 off), "tf32", or "bf16" / "fp16" autocast; all but fp32
    change the features, and the store records which one made them.
    """

    def __init__(self, model: C3D, opts: ExtractOptions):
        self.device = torch.device(opts.device)
        self.cuda = self.device.type == "cuda"
        self.tf32 = opts.precision == "tf32"
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(opts.precision)
        self.model = model.to(self.device).eval()
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.clips_done = 0

    @torch.no_grad()
    def __call__(self, clips: list[torch.Tensor]) -> np.ndarray:
        x = torch.stack(clips)
        if self.cuda:
            x = x.pin_memory().to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last_3d)
        with _tf32(self.tf32), torch.autocast(self.device.type, dtype=self.autocast_dtype,
                                              enabled=self.autocast_dtype is not None):
            out = self.model(x)
        self.clips_done += len(clips)
        return out.float().cpu().numpy()


def extract_video(path: Path, runner: ClipRunner, prep: Preprocess, opts: ExtractOptions,
                  on_batch=None) -> ExtractedVideo:
    """The features of one video (the engine with one decoder); raises what the video failed with."""
    [(_, video)] = run_videos([path], partial(_extract_stream, prep=prep, opts=opts), runner, opts.batch_size, 1,
                              on_batch)
    if isinstance(video, Exception):
        raise video
    return video


def _extract_stream(path: Path, emit: Emit, prep: Preprocess, opts: ExtractOptions) -> Finish:
    """Decode one video and hand its clips to ``emit`` in order; return how its fc7 rows become its ExtractedVideo.

    Runs in a decoder thread, so frames are resized here. Only the frames that later windows
    need are kept: memory stays flat whatever the video's length. A variable-rate video
    (``is_variable_rate``) is sampled in real time and records ``variable_rate``.
    """
    with closing(FrameStream(path, timeout=opts.decode_timeout)) as stream:
        n_frames = stream.reported_frames
        starts = stream.starts if is_variable_rate(stream.starts, stream.fps) else None

        def plan(num_frames: int) -> ClipPlan:
            try:
                return plan_clips(num_frames, stream.fps, opts.features_per_second, starts)
            except ValueError as e:
                raise DecodeError(f"{path}: {e}") from None

        def take(window: np.ndarray) -> None:
            emit(prep.clip([buffer[i - buf_start] for i in window]))

        final = plan(n_frames)
        windows = clip_frames(final.centres, n_frames)
        buffer: list[torch.Tensor] = []
        buf_start = next_win = 0
        for start, chunk in stream:
            buffer.extend(prep.frames(chunk))
            decoded = start + len(chunk)
            while next_win < len(windows) and windows[next_win].max() < decoded:
                take(windows[next_win])
                next_win += 1
            if next_win < len(windows):  # the last CLIP_LENGTH frames stay for a window cut short by truncation
                drop = min(int(windows[next_win].min()), decoded - CLIP_LENGTH) - buf_start
                if drop > 0:
                    del buffer[:drop]
                    buf_start += drop
        warning = None
        decoded = stream.decoded_frames
        if decoded < opts.min_frames:
            raise DecodeError(f"{path}: too short ({decoded} decodable frames < {opts.min_frames})")
        if stream.truncated or decoded < n_frames:
            warning = f"{path}: container reports {n_frames} frames but only {decoded} decode; stopped there"
            final = plan(decoded)
            for w in clip_frames(final.centres, decoded)[next_win:]:
                take(w)
    attrs = {"frames_reported": int(n_frames), "frames_decoded": int(decoded), "truncated": bool(warning),
             "variable_rate": final.variable_rate}
    return lambda rows: ExtractedVideo(rows, final.times, final.duration, final.fps, attrs, warning)


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


def _decoder() -> str:
    return f"decord {metadata.version('decord')}"


def extraction_provenance(weights: WeightsSource, prep: Preprocess, opts: ExtractOptions) -> dict:
    """Every setting that changes an extracted feature's value, as the store records it."""
    return make_provenance("c3d-fc7", {
        "feature_dim": FC7_DIM, **weights.provenance(), **prep.provenance(), "precision": opts.precision,
        "features_per_second": float(opts.features_per_second), "frames_per_clip": CLIP_LENGTH,
        "variable_rate_tolerance_frames": RATE_TOLERANCE,
        "store_dtype": opts.dtype, "decoder": _decoder()})


def extract(paths: list[Path], out: str | Path, model: C3D, weights: WeightsSource, opts: ExtractOptions,
            overwrite: bool = False, progress: bool = True) -> dict[str, dict]:
    """Extract every video of ``paths`` not already in ``out``; return the failures {video: {file, reason}}.

    weights: where ``model``'s weights came from (``load_c3d``, ``random_c3d``); it picks the
    preprocessing and is recorded. Before any decoding, ``out`` and its work in progress are
    checked against this run's provenance: other settings are refused and touch nothing;
    ``overwrite`` starts clean.
    """
    out = Path(out)
    opts.check()
    if model.pool5_mode != weights.pool5:
        raise ActionhasError(f"the model's pool5 is {model.pool5_mode!r} but its weights record {weights.pool5!r}")
    ids = [check_video_id(p.stem, p) for p in paths]
    dup = {i for i, n in Counter(ids).items() if n > 1}
    if dup:
        raise ActionhasError(f"several files share the video id(s) {sorted(dup)[:3]} (ids are file stems)")
    prep = Preprocess(weights.preprocessing, opts.mean_cube)
    info = StoreInfo(FC7_DIM, opts.features_per_second, weights.extractor, extraction_provenance(weights, prep, opts))
    done = prepare(out, info, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    todo = [p for p in paths if p.stem not in done]
    runner = ClipRunner(model, opts)
    failed = 0
    bar = tqdm(total=len(todo), desc="extract", unit="video", disable=not progress)
    t0 = time.time()
    clips = tqdm(desc="clips", unit="clip", disable=not progress, leave=False)
    cut = partial(_extract_stream, prep=prep, opts=opts)
    for path, video in run_videos(todo, cut, runner, opts.batch_size, opts.decode_workers, clips.update):
        vid = path.stem
        try:
            if isinstance(video, Exception):
                raise video
            if video.warning:
                tqdm.write(f"warning: {video.warning}")
            save_video(out, info, vid, video, opts.dtype)
        except (DecodeError, OSError, RuntimeError) as e:
            failed += 1
            reason = (str(e).splitlines()[0] if str(e) else type(e).__name__).removeprefix(f"{path}: ")
            save_failure(out, vid, path, reason)
            tqdm.write(f"failed: {path}: {reason}")
        bar.update()
        bar.set_postfix(clips_per_s=f"{clips.n / max(time.time() - t0, 1e-9):.1f}", failed=failed)
    bar.close()
    clips.close()
    return assemble(out, info)


def extract_c3d(paths: list[Path], out: str | Path, weights: str | Path | None, random_seed: int | None = None,
                pool5: str | None = None, mean: str | Path | None = None, overwrite: bool = False,
                progress: bool = True, **options) -> dict[str, dict]:
    """C3D fc7 of ``paths`` into the store ``out``; returns the failures {video: {file, reason}}.

    weights: a C3D weights file (``load_c3d``), or None with ``random_seed`` for random weights.
    pool5: None for the one the weights were trained on; mean: Caffe's mean cube .npy or None.
    options: ``ExtractOptions`` fields (device, precision, batch_size, ...), checked before the
    weights are read.
    """
    if (weights is None) == (random_seed is None):
        raise ActionhasError("give a C3D weights file or a seed for random weights, not both or neither")
    opts = ExtractOptions(**options)
    opts.check()
    opts.mean_cube = load_mean_cube(mean) if mean is not None else None
    model, source = load_c3d(weights, pool5) if weights is not None else random_c3d(random_seed, pool5)
    return extract(paths, out, model, source, opts, overwrite=overwrite, progress=progress)
