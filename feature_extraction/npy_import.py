"""The field's .npy feature releases into the feature store: three layouts, one timing rule.

Layouts (``import_npy`` tells them apart by what ``source`` is):
- a directory of per-video ``<video>.npy`` (T, D) arrays (e.g. the public THUMOS14 I3D features,
  ActionFormer's);
- a directory with ``rgb/`` and ``flow/`` subfolders of per-video (T, 1024) arrays: two-stream I3D
  as BaS-Net, CoLA and UM release it, concatenated rgb|flow into (T, 2048) as they do;
- one ``.npy`` OBJECT array of per-video (T_i, D) arrays plus a text file of video names, one per
  line, in the same order: W-TALC, CO2-Net, DELU. An object array is a pickle: it is read with an
  unpickler that admits only numpy arrays and dtypes, so a file asking for anything else (say
  ``os.system``) is refused before it runs.

Timing: feature i covers frames [i*S, i*S + K) of the video at ``fps`` (K = frames_per_feature,
S = stride, default K) and sits at that window's centre, (i*S + K/2) / fps seconds;
features_per_second = fps / S. I3D on THUMOS14: K = 16 at 25 fps (0.64 s apart); ActionFormer's
THUMOS14 I3D features: K = 16, S = 4 at 30 fps. Video ids are file stems or the listed names.
"""
from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np
from tqdm import tqdm

from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.formats.ids import check_video_id
from actionhas.formats.outputs import check_shape, claim
from actionhas.formats.store import (
    PROVENANCE_NOT_COMPARED,
    StoreInfo,
    create_store_atomic,
    read_record,
    write_video,
)
from feature_extraction.provenance import make_provenance

# numpy's array-reconstruction callables, taken from numpy itself (their module moved in numpy 2).
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.ones(1).__reduce_ex__(5)[0]
_ADMITTED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 1.x and Python 2 files
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 2.x
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,  # pickle protocol 5
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and dtypes and refuses every other global."""

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="latin1")  # numpy's advice for arrays pickled by Python 2
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _ADMITTED[(module, name)]
        except KeyError:
            raise ActionhasError(f"{self.path}: refused to unpickle {module}.{name}: only numpy arrays and dtypes "
                                 "are read from an object array") from None


def load_object_array(path: str | Path) -> list[np.ndarray]:
    """The per-video arrays of a 1-D object-array .npy, unpickled with only numpy arrays and dtypes admitted."""
    path = Path(path)
    with open(path, "rb") as fp:
        try:
            shape, _, dtype = _HEADER_READERS[np.lib.format.read_magic(fp)](fp)
        except (ValueError, KeyError):
            raise ActionhasError(f"{path}: not a .npy file (version 1.0 or 2.0)") from None
        if not dtype.hasobject or len(shape) != 1:
            raise ActionhasError(f"{path}: a {dtype} array of shape {shape}; expected a 1-D object array of "
                                 "per-video (T, D) arrays")
        try:
            array = _ArrayUnpickler(fp, path).load()
        except ActionhasError:
            raise
        except Exception as e:  # a damaged pickle raises any of several types
            raise ActionhasError(f"{path}: unreadable object array ({type(e).__name__}: {e})") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise ActionhasError(f"{path}: the pickle holds no array of the header's shape {shape}")
    return list(array)


def _load_plain(path: Path) -> np.ndarray:
    with open(path, "rb") as fp:
        if fp.read(6) != b"\x93NUMPY":  # np.load would try to unpickle any other file
            raise ActionhasError(f"{path}: not a .npy file (no numpy header)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ActionhasError(f"{path}: holds pickled objects; per-video files must be plain (T, D) arrays") from None
        raise ActionhasError(f"{path}: not a readable .npy file ({e})") from None
    except OSError as e:
        raise ActionhasError(f"{path}: not a readable .npy file ({e})") from None


def _npy_files(folder: Path) -> dict[str, Path]:
    return {check_video_id(p.stem, p): p for p in sorted(folder.glob("*.npy"))}


def _per_video(source: Path) -> Iterator[tuple[str, str, np.ndarray]]:
    for vid, path in _npy_files(source).items():
        yield vid, str(path), _load_plain(path)


def _two_stream(source: Path) -> Iterator[tuple[str, str, np.ndarray]]:
    rgb, flow = _npy_files(source / "rgb"), _npy_files(source / "flow")
    for have, lack, other in ((rgb, flow, "flow"), (flow, rgb, "rgb")):
        missing = sorted(set(have) - set(lack))
        if missing:
            raise ActionhasError(f"{have[missing[0]]}: no {other} counterpart "
                                 f"({source / other / (missing[0] + '.npy')} is missing)")
    for vid in sorted(rgb):
        r, f = _load_plain(rgb[vid]), _load_plain(flow[vid])
        _check_features(str(rgb[vid]), r)
        _check_features(str(flow[vid]), f)
        if len(r) != len(f):
            raise ActionhasError(f"video {vid}: rgb has {len(r)} features ({rgb[vid]}), flow {len(f)} ({flow[vid]})")
        yield vid, f"{rgb[vid]} + {flow[vid]}", np.concatenate([r, f], axis=1)


def _read_names(path: Path) -> list[str]:
    names = [check_video_id(line.strip(), f"{path}:{n}")
             for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    dup = sorted(v for v, n in Counter(names).items() if n > 1)
    if dup:
        raise ActionhasError(f"{path}: video name {dup[0]!r} is listed more than once")
    return names


def _object_array(source: Path, names: Path) -> Iterator[tuple[str, str, np.ndarray]]:
    listed = _read_names(names)
    arrays = load_object_array(source)
    if len(arrays) != len(listed):
        raise ActionhasError(f"{source}: {len(arrays)} videos, but {names} lists {len(listed)} names")
    for i, (vid, feats) in enumerate(zip(listed, arrays)):
        yield vid, f"{source}[{i}] (video {vid})", feats


def _check_features(where: str, feats, dim: int | None = None) -> None:
    """One video's (T, D) features: 2-D, numeric, T >= 1, D as the other videos', finite."""
    if not isinstance(feats, np.ndarray) or feats.dtype.kind not in "fiu":
        raise ActionhasError(f"{where}: expected a numeric (T, D) array, got {type(feats).__name__} "
                             f"{getattr(feats, 'dtype', '')}")
    if feats.ndim != 2 or len(feats) < 1 or (dim is not None and feats.shape[1] != dim):
        raise ActionhasError(f"{where}: shape {feats.shape}, expected (T>=1, {dim or 'D'})")
    if not np.isfinite(feats).all():
        raise ActionhasError(f"{where}: holds NaN or Inf")


def _check_timing(fps: float, frames_per_feature: int, stride: int) -> None:
    if not (np.isfinite(fps) and fps > 0):
        raise ActionhasError(f"--fps must be a number > 0, got {fps:g}")
    for flag, value in (("--frames-per-feature", frames_per_feature), ("--stride", stride)):
        if int(value) != value or value < 1:
            raise ActionhasError(f"{flag} must be a whole number of frames >= 1, got {value}")


def _layout(source: Path, names: Path | None) -> tuple[str, Iterator[tuple[str, str, np.ndarray]]]:
    if source.is_file():
        if names is None:
            raise ActionhasError(f"{source}: a single .npy of all videos needs --names NAMES.txt (one name per line)")
        return "object-array", _object_array(source, names)
    if names is not None:
        raise ActionhasError(f"--names goes with a single FEATURES.npy; {source} is a directory")
    if not source.is_dir():
        raise ActionhasError(f"{source}: neither a directory of .npy files nor a .npy file")
    if (source / "rgb").is_dir() and (source / "flow").is_dir():
        return "two-stream", _two_stream(source)
    return "per-video", _per_video(source)


def import_npy(source: str | Path, out: str | Path, fps: float, frames_per_feature: int,
               what: str = defaults.IMPORT_NAME, progress: bool = True, stride: int | None = None,
               names: str | Path | None = None, overwrite: bool = False) -> int:
    """Write the features of ``source`` (any of the three layouts) into a new store at ``out``, atomically.

    fps: the frame rate the features were computed at; frames_per_feature (K) and stride (S,
    default K): frames each feature covers and frames between features. Returns the video count.
    An existing ``out`` is replaced only when it is an import with the same settings, or with ``overwrite``.
    """
    source, out = Path(source), Path(out)
    stride = frames_per_feature if stride is None else stride
    _check_timing(fps, frames_per_feature, stride)
    check_shape(out, "--out", "file")
    layout, videos = _layout(source, Path(names) if names is not None else None)
    first = next(videos, None)
    if first is None:
        raise ActionhasError(f"{source}: no .npy features found")
    _check_features(first[1], first[2])
    dim = first[2].shape[1]
    settings = {"feature_dim": dim, "layout": layout, "fps": float(fps), "frames_per_feature": int(frames_per_feature),
                "stride": int(stride), "features_per_second": fps / stride}
    info = StoreInfo(dim, fps / stride, f"imported:{what}", make_provenance(f"imported:{what}", settings))
    claim(out, "--out", "file", "extract import", read_record, info.provenance, overwrite, PROVENANCE_NOT_COMPARED)
    count = 0
    with create_store_atomic(out, info) as f:
        for vid, where, feats in tqdm(chain([first], videos), desc="import", unit="video", disable=not progress):
            _check_features(where, feats, dim)
            start = np.arange(len(feats)) * stride
            times = (start + frames_per_feature / 2) / fps
            write_video(f, vid, feats, times, (start[-1] + frames_per_feature) / fps, fps, dtype=np.float32)
            count += 1
    return count
