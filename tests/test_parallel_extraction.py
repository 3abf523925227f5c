"""Several decoders feeding one batched network: same store whatever their number, failures and kills included."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from actionhas.data.video_writer import write_test_video
from feature_extraction.pipeline import (
    ClipRunner,
    ExtractOptions,
    extract,
    extract_video,
)
from feature_extraction.preprocess import Preprocess
from feature_extraction.weights import WeightsSource, random_c3d

FPS_FEAT = 2.5  # one feature per 12 frames at 30 fps: videos of 16, 24, 16 frames give 1, 2, 1 clips


class StandIn(torch.nn.Module):
    """A network as cheap as a linear map, for tests about the engine rather than C3D's values.

    (B, 3, 16, 112, 112) -> (B, 4096): each row a fixed linear map of the clip's channel means;
    ``delay`` seconds of sleep per batch make a run slow enough to kill in the middle.
    """

    pool5_mode = "caffe"

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.delay = delay
        self.register_buffer("weight", torch.linspace(-1, 1, 3 * 4096).view(3, 4096))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        return x.mean(dim=(2, 3, 4)) @ self.weight


STAND_IN = WeightsSource("random", "caffe", "stand-in", seed=0)


def extract_with_stand_in(src: str, out: str, workers: int, delay: float = 0.0) -> dict:
    """extract() of every video in ``src`` with the stand-in network (also run in a child process)."""
    paths = sorted(Path(src).iterdir())
    opts = ExtractOptions(features_per_second=FPS_FEAT, batch_size=2, decode_workers=workers)
    return extract(paths, out, StandIn(delay), STAND_IN, opts, progress=False)


def store_contents(path: Path) -> dict:
    """Every group, dataset (dtype, shape, bytes) and attribute of an HDF5 file, by name."""
    def attrs(obj) -> dict:
        return {k: (np.asarray(v).dtype.str, np.asarray(v).tobytes()) for k, v in obj.attrs.items()}

    with h5py.File(path, "r") as f:
        out = {"/": attrs(f)}

        def visit(name, obj):
            data = (obj.dtype.str, obj.shape, obj[()].tobytes()) if isinstance(obj, h5py.Dataset) else "group"
            out[name] = (data, attrs(obj))

        f.visititems(visit)
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    for i, frames in enumerate((16, 24, 16)):
        write_test_video(d / f"v{i}.mp4", frames, 30, seed=20 + i)
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    return d


def test_one_and_two_decode_workers_write_byte_identical_stores(videos, tmp_path):
    model, weights = random_c3d(0)
    paths = sorted(videos.iterdir())
    stores = []
    for workers in (1, 2):
        opts = ExtractOptions(features_per_second=FPS_FEAT, batch_size=2, dtype="float32", decode_workers=workers)
        failures = extract(paths, tmp_path / f"w{workers}.h5", model, weights, opts, progress=False)
        assert list(failures) == ["corrupt"]
        stores.append(store_contents(tmp_path / f"w{workers}.h5"))
    assert stores[0] == stores[1]
    assert (tmp_path / "w1.h5").read_bytes() == (tmp_path / "w2.h5").read_bytes()
    # a row is what its clip gives whatever shares the batch: with one worker the batches were
    # [v0, v1], [v1, v2]; alone, v0's clip runs beside padding and v1's two clips together
    opts = ExtractOptions(features_per_second=FPS_FEAT, batch_size=2)
    runner = ClipRunner(model, opts)
    with h5py.File(tmp_path / "w1.h5", "r") as f:
        assert sorted(f["videos"]) == ["v0", "v1", "v2"]
        for vid, n in (("v0", 1), ("v1", 2)):
            alone = extract_video(videos / f"{vid}.mp4", runner, Preprocess(), opts)
            assert alone.features.shape == (n, 4096)
            np.testing.assert_array_equal(f[f"videos/{vid}/features"][()], alone.features)


def test_corrupt_and_short_videos_fail_alone_among_good_ones_with_two_workers(videos, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in videos.iterdir():
        (src / p.name).symlink_to(p)
    (src / "empty.avi").write_bytes(b"")
    write_test_video(src / "short.mp4", 6, 30)
    failures = extract_with_stand_in(str(src), str(tmp_path / "s.h5"), workers=2)
    assert sorted(failures) == ["corrupt", "empty", "short"]
    assert "too short (6 decodable frames < 16)" in failures["short"]["reason"]
    opts = ExtractOptions(features_per_second=FPS_FEAT, batch_size=2)
    runner = ClipRunner(StandIn(), opts)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert sorted(f["videos"]) == ["v0", "v1", "v2"] and sorted(f["failures"]) == sorted(failures)
        for vid in f["videos"]:
            alone = extract_video(src / f"{vid}.mp4", runner, Preprocess(), opts)
            np.testing.assert_array_equal(f[f"videos/{vid}/features"][()], alone.features.astype(np.float16))
            np.testing.assert_array_equal(f[f"videos/{vid}/times"][()], alone.times)


def test_silent_decoder_fails_its_video_while_the_other_worker_goes_on(videos, tmp_path):
    stuck = tmp_path / "stuck.mp4"
    os.mkfifo(stuck)  # opening it blocks until a writer comes: a decoder that hangs
    paths = [stuck, videos / "v0.mp4", videos / "v1.mp4"]
    opts = ExtractOptions(features_per_second=FPS_FEAT, batch_size=2, decode_workers=2, decode_timeout=0.5)
    failures = extract(paths, tmp_path / "s.h5", StandIn(), STAND_IN, opts, progress=False)
    with open(stuck, "wb"):  # let the abandoned decoder's open() return
        pass
    assert list(failures) == ["stuck"] and "decoder silent for 0.5 s while opening" in failures["stuck"]["reason"]
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert sorted(f["videos"]) == ["v0", "v1"]


def test_killed_two_worker_extraction_resumes_to_the_same_store(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        write_test_video(src / f"v{i}.mp4", 36, 30, seed=30 + i)
    extract_with_stand_in(str(src), str(tmp_path / "ref.h5"), workers=1)
    out, partial = tmp_path / "killed.h5", tmp_path / "killed.h5.partial"
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"from test_parallel_extraction import extract_with_stand_in; "
              f"extract_with_stand_in({str(src)!r}, {str(out)!r}, workers=2, delay=0.3)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (partial.is_dir() and list(partial.glob("v*.h5"))):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and 1 <= len(list(partial.glob("v*.h5"))) < 6
    extract_with_stand_in(str(src), str(out), workers=2)
    assert not partial.exists()
    assert store_contents(out) == store_contents(tmp_path / "ref.h5")
