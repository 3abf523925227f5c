"""Variable-frame-rate videos (phones, screen recordings): features placed in real time."""
import decord
import h5py
import numpy as np
import pytest
import torch
from test_parallel_extraction import STAND_IN, StandIn

from actionhas.data.video_writer import write_test_video
from feature_extraction.pipeline import ExtractOptions, extract
from feature_extraction.preprocess import Preprocess
from feature_extraction.sampling import (
    clip_centres,
    clip_frames,
    clip_times,
    is_variable_rate,
    plan_clips,
)


def irregular_times(seconds: float, seed: int) -> np.ndarray:
    """Presentation times (s) of a phone-like video: first frame at 0, gaps drawn from 20-100 ms."""
    gaps = np.random.default_rng(seed).integers(20, 101, size=int(seconds / 0.02)) / 1000
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    return times[times < seconds]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(store path, phone video path, its frames' presentation times) of a 6 s phone video and a steady one."""
    d = tmp_path_factory.mktemp("vfr")
    times = irregular_times(6.0, seed=5)
    write_test_video(d / "phone.mp4", len(times), 30, times=times, seed=1)
    write_test_video(d / "steady.mp4", 45, 30, seed=2)
    opts = ExtractOptions(dtype="float32", decode_workers=2)
    extract([d / "phone.mp4", d / "steady.mp4"], d / "s.h5", StandIn(), STAND_IN, opts, progress=False)
    return d / "s.h5", d / "phone.mp4", times


def test_variable_rate_features_sit_at_their_centre_frames_presentation_times(store):
    path, video, times = store
    with h5py.File(path, "r") as f:
        g = f["videos/phone"]
        stored, features, duration = g["times"][()], g["features"][()], g.attrs["duration"]
        assert g.attrs["variable_rate"] and duration == pytest.approx(6.0, abs=0.1)
    assert len(stored) == int(duration * 10)
    targets = (np.arange(len(stored)) + 0.5) / 10
    centres = np.abs(times[None, :] - targets[:, None]).argmin(axis=1)
    np.testing.assert_allclose(stored, times[centres], rtol=0, atol=1e-6)
    assert np.all(np.abs(stored - targets) <= 0.05 + 1e-6)
    assert np.all(np.diff(stored) > 0) and np.diff(stored).mean() == pytest.approx(0.1, abs=0.005)
    # each feature covers the 16 decoded frames around its centre frame
    reader, prep = decord.VideoReader(str(video), num_threads=1), Preprocess()
    clips = [prep.clip(prep.frames(reader.get_batch(list(w)).asnumpy())) for w in clip_frames(centres, len(times))]
    with torch.no_grad():
        direct = StandIn()(torch.stack(clips)).numpy()
    np.testing.assert_allclose(features, direct, rtol=1e-5, atol=1e-5 * np.abs(direct).max())


def test_constant_rate_video_keeps_frame_index_times(store):
    with h5py.File(store[0], "r") as f:
        g = f["videos/steady"]
        assert not g.attrs["variable_rate"] and g.attrs["fps"] == 30.0 and g.attrs["duration"] == 45 / 30
        np.testing.assert_array_equal(g["times"][()], clip_times(clip_centres(45, 30.0, 10.0), 30.0))


def test_rate_check_tolerates_rounded_timestamps_but_not_drift():
    k = np.arange(300)
    assert not is_variable_rate(np.round(k / 29.97, 3), 29.97)      # 29.97 fps in a 1 ms time base
    assert not is_variable_rate(k / 30 + (k % 2) * 0.4 / 30, 30)     # jitter under half a frame
    assert is_variable_rate(np.delete(k, 150) / 30, 30)              # a dropped frame: the rest run a frame late
    assert is_variable_rate(irregular_times(6.0, seed=0), 30)
    assert not is_variable_rate(None, 30) and not is_variable_rate(np.zeros(10), 30)  # no usable times


def test_still_screen_gives_each_frame_one_feature_at_most():
    starts = np.concatenate([np.arange(30) / 30, 3 + np.arange(30) / 30])  # 2 s without a new frame
    plan = plan_clips(len(starts), 30.0, 10.0, starts)
    assert plan.variable_rate and np.all(np.diff(plan.times) > 0) and np.all(np.diff(plan.centres) > 0)
    assert {29, 30} <= set(plan.centres.tolist()) and len(plan.times) < int(plan.duration * 10)


def test_variable_rate_video_slower_than_the_feature_rate_is_refused():
    with pytest.raises(ValueError, match="3.33333 fps is below 10 features per second"):
        plan_clips(20, 30.0, 10.0, np.arange(20) * 0.3)


def test_a_process_that_decoded_first_still_writes_vp8(tmp_path):
    """decord loads its FFmpeg globally; decoding must leave PyAV's VP8 encoder usable in the process."""
    import subprocess
    import sys

    source = write_test_video(tmp_path / "a.mp4", 20, 30)
    script = ("import sys; from feature_extraction.decoding import FrameStream; list(FrameStream(sys.argv[1])); "
              "from actionhas.data.video_writer import write_event_video; "
              "write_event_video(sys.argv[2], 1.0, 15, [('bar', 0.2, 0.6)], size=(64, 48))")
    out = subprocess.run([sys.executable, "-c", script, str(source), str(tmp_path / "b.webm")], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-500:]
    assert len(decord.VideoReader(str(tmp_path / "b.webm"))) == 15
