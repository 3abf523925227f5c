"""Extraction on real encoded videos (PyAV writes them, decord reads them) with a random-weight C3D."""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from actionhas import extract as extract_cli
from actionhas.core.errors import ActionhasError
from actionhas.data.video_writer import write_test_video as write_video
from actionhas.formats.store import FeatureStore
from feature_extraction.c3d import C3D
from feature_extraction.decoding import DecodeTimeout, FrameStream
from feature_extraction.npy_import import import_npy
from feature_extraction.pipeline import (
    ClipRunner,
    ExtractOptions,
    Preprocess,
    extract_video,
    shard,
)
from feature_extraction.sampling import (
    clip_centres,
    clip_frames,
    clip_times,
    num_features,
)
from feature_extraction.weights import WeightsError, load_c3d


@pytest.fixture
def c3d(c3d_model):
    return c3d_model


@pytest.fixture
def weights_file(c3d_weights_file):
    return c3d_weights_file


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    write_video(d / "h264_30fps.mp4", 30, 30, size=(64, 48), seed=1)
    write_video(d / "mpeg4_25fps.avi", 25, 25, size=(80, 60), codec="mpeg4", seed=2)
    return d


def test_sampling_formula_at_common_frame_rates():
    assert num_features(300, 30, 10) == 100 and num_features(250, 25, 10) == 100
    assert num_features(2997, 29.97, 10) == 1000
    c = clip_centres(30, 30, 10)
    assert c.tolist() == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
    assert clip_times(c, 30)[:2].tolist() == pytest.approx([1 / 30, 4 / 30])
    frames = clip_frames(c, 30)
    assert frames.shape == (10, 16) and frames[0, :8].tolist() == [0] * 8 and frames[-1, -3:].tolist() == [29] * 3
    assert clip_centres(25, 25, 10).tolist() == [1, 3, 6, 8, 11, 13, 16, 18, 21, 23]


def test_video_shorter_than_a_clip_gives_one_feature_of_repeated_frames():
    c = clip_centres(5, 30, 10)
    assert len(c) == 1 and clip_frames(c, 5)[0].tolist() == [0] * 7 + [0, 1, 2, 3, 4] + [4] * 4


def test_c3d_shapes_and_pool5_conventions_differ(c3d):
    x = torch.rand(2, 3, 16, 112, 112) * 50
    port = C3D(pool5="pytorch_port").eval()
    port.load_state_dict(c3d.state_dict())
    with torch.no_grad():
        a, b = c3d(x), port(x)
    assert a.shape == (2, 4096) and (a >= 0).all()
    assert not torch.allclose(a, b)


def _layouts(c3d, d):
    sd = {k: v.half() for k, v in c3d.state_dict().items()}
    pickle = {("conv1" if k.startswith("conv1a") else "conv2" if k.startswith("conv2a") else k.split(".")[0])
              + "." + k.split(".", 1)[1]: v for k, v in sd.items()}
    mm = {("backbone." + k.replace(".weight", ".conv.weight").replace(".bias", ".conv.bias")
           if k.startswith("conv") else "backbone." + k): v for k, v in sd.items()}
    torch.save(pickle, d / "c3d.pickle")
    torch.save({"state_dict": mm}, d / "mmaction2.pth")
    torch.save({"format": "actionhas-c3d", "pool5": "pytorch_port", "state_dict": sd}, d / "own.pt")
    return d / "c3d.pickle", d / "mmaction2.pth", d / "own.pt"


def test_every_weight_layout_loads_the_same_network(c3d, tmp_path):
    x = torch.rand(1, 3, 16, 112, 112) * 50
    outs = []
    for path in _layouts(c3d, tmp_path):
        model, source = load_c3d(path, pool5="pytorch_port")
        assert model.pool5_mode == "pytorch_port" and path.name in source.extractor
        with torch.no_grad():
            outs.append(model(x))
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[1], outs[2])


def test_missing_or_misshaped_weights_name_the_key(c3d, tmp_path):
    sd = c3d.state_dict()
    torch.save({k: v for k, v in sd.items() if k != "fc7.bias"}, tmp_path / "missing.pt")
    with pytest.raises(WeightsError, match="'fc7.bias'"):
        load_c3d(tmp_path / "missing.pt")
    bad = dict(sd)
    bad["conv3a.weight"] = torch.zeros(1, 2, 3)
    torch.save(bad, tmp_path / "shape.pt")
    with pytest.raises(WeightsError, match="'conv3a.weight' has shape"):
        load_c3d(tmp_path / "shape.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pt"):
        load_c3d(tmp_path / "junk.pt")


def _direct_fc7(model, path, fps_feat=10.0):
    """Each clip decoded, preprocessed and run on its own: the definition the pipeline must meet."""
    import decord
    vr = decord.VideoReader(str(path), num_threads=1)
    n, fps = len(vr), vr.get_avg_fps()
    rows = []
    mean = torch.tensor([90.25, 97.66, 101.41]).view(3, 1, 1, 1)
    for window in clip_frames(clip_centres(n, fps, fps_feat), n):
        rgb = torch.from_numpy(vr.get_batch(list(window)).asnumpy()).float()  # (16, H, W, 3)
        x = F.interpolate(rgb.permute(0, 3, 1, 2), size=(128, 171), mode="bilinear", align_corners=False)
        x = x.flip(1).permute(1, 0, 2, 3) - mean  # (3, 16, 128, 171), BGR
        with torch.no_grad():
            rows.append(model(x[:, :, 8:120, 29:141][None])[0])
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("name", ["h264_30fps.mp4", "mpeg4_25fps.avi"])
def test_batched_pipeline_equals_per_clip_computation(c3d, videos, name):
    opts = ExtractOptions(batch_size=3, features_per_second=4)  # 4 clips: a full batch and a padded one
    video = extract_video(videos / name, ClipRunner(c3d, opts), Preprocess(), opts)
    feats, times, duration = video.features, video.times, video.duration
    direct = _direct_fc7(c3d, videos / name, fps_feat=4)
    assert video.warning is None and feats.shape == direct.shape == (4, 4096)
    np.testing.assert_allclose(feats, direct, rtol=1e-4, atol=1e-4 * np.abs(direct).max())
    assert duration == pytest.approx(1.0) and np.all(np.diff(times) > 0)


def test_over_reported_frame_count_stops_at_the_last_decodable_frame(c3d, videos):
    stream = FrameStream(videos / "h264_30fps.mp4")
    stream.reported_frames = 45  # the container claims 15 frames it does not have
    frames = sum(len(chunk) for _, chunk in stream)
    assert frames == 30 and stream.truncated


def test_decoder_that_never_answers_is_abandoned_after_the_timeout(tmp_path):
    fifo = tmp_path / "stuck.mp4"
    os.mkfifo(fifo)  # opening it blocks until a writer comes: a decoder that hangs
    t0 = time.time()
    with pytest.raises(DecodeTimeout, match="stuck.mp4: decoder silent for 0.5 s while opening"):
        FrameStream(fifo, timeout=0.5)
    assert time.time() - t0 < 5
    with open(fifo, "wb"):  # let the abandoned thread's open() return
        pass


def test_extract_cli_records_bad_files_and_extracts_the_rest(weights_file, videos, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    for p in videos.iterdir():
        (d / p.name).symlink_to(p)
    (d / "corrupt.mp4").write_bytes(os.urandom(2000))
    (d / "empty.avi").write_bytes(b"")
    write_video(d / "tiny.mp4", 6, 30)
    fast = ["--features-per-second", "2", "--batch-size", "2"]  # few clips, small batches: bookkeeping is the point
    code = extract_cli.main([str(d), "--out", str(tmp_path / "s.h5"), "--weights", str(weights_file), *fast])
    out = capsys.readouterr().out
    assert code == 1 and "3 failed" in out and "too short" in out
    store = FeatureStore(tmp_path / "s.h5")
    assert store.video_ids == ["h264_30fps", "mpeg4_25fps"] and store.info.feature_dim == 4096
    with h5py.File(tmp_path / "s.h5") as f:
        assert sorted(f["failures"]) == ["corrupt", "empty", "tiny"]
        assert "corrupt.mp4" in f["failures/corrupt"].attrs["file"]
        assert "actionhas-c3d" in f.attrs["extractor"]
    # a rerun redoes nothing that finished
    assert extract_cli.main([str(d), "--out", str(tmp_path / "s.h5"), "--weights", str(weights_file), *fast]) == 1


@pytest.mark.slow
def test_killed_extraction_resumes_to_the_same_store(weights_file, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_video(d / f"v{i}.mp4", 30, 30, seed=10 + i)
    cmd = [sys.executable, "-m", "actionhas.extract", str(d), "--weights", str(weights_file), "--batch-size", "2",
           "--features-per-second", "3"]
    subprocess.run(cmd + ["--out", str(tmp_path / "ref.h5")], check=True, capture_output=True)
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen(cmd + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / "killed.h5.partial"
    deadline = time.time() + 120
    while time.time() < deadline and not (partial.is_dir() and list(partial.glob("v*.h5"))):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and len(list(partial.glob("v*.h5"))) >= 1
    subprocess.run(cmd + ["--out", str(out)], check=True, capture_output=True)
    ref, got = FeatureStore(tmp_path / "ref.h5"), FeatureStore(out)
    assert got.video_ids == ref.video_ids == ["v0", "v1", "v2"] and not partial.exists()
    for vid in ref.video_ids:
        np.testing.assert_array_equal(got.features(vid), ref.features(vid))
        np.testing.assert_array_equal(got.times(vid), ref.times(vid))


def test_shards_split_deterministically_and_merge_back(weights_file, videos, tmp_path):
    paths = [videos / "h264_30fps.mp4", videos / "mpeg4_25fps.avi"]
    assert shard(paths, 0, 2) + shard(paths, 1, 2) == sorted(paths)
    for k in range(2):
        assert extract_cli.main([str(videos), "--out", str(tmp_path / f"p{k}.h5"), "--weights", str(weights_file),
                                 "--shard", f"{k}/2", "--features-per-second", "1", "--batch-size", "1"]) == 0
    assert extract_cli.main(["merge", str(tmp_path / "p0.h5"), str(tmp_path / "p1.h5"), "--out", str(tmp_path / "m.h5")]) == 0
    assert FeatureStore(tmp_path / "m.h5").video_ids == ["h264_30fps", "mpeg4_25fps"]
    with pytest.raises(ActionhasError, match="is in both"):
        extract_cli.main(["merge", str(tmp_path / "p0.h5"), str(tmp_path / "p0.h5"), "--out", str(tmp_path / "x.h5")])


def test_import_npy_features_with_i3d_timing(tmp_path):
    src = tmp_path / "npy"
    src.mkdir()
    np.save(src / "video_test_0000004.npy", np.random.default_rng(0).random((50, 2048), dtype=np.float32))
    import_npy(src, tmp_path / "i3d.h5", fps=25, frames_per_feature=16, what="i3d", progress=False)
    store = FeatureStore(tmp_path / "i3d.h5")
    assert store.info.feature_dim == 2048 and store.info.features_per_second == pytest.approx(25 / 16)
    assert store.times("video_test_0000004")[:2] == pytest.approx([0.32, 0.96])
    assert store.info.extractor == "imported:i3d"


def test_existing_out_that_is_not_a_store_is_a_clear_error(weights_file, videos, tmp_path, capsys):
    (tmp_path / "notes.h5").write_text("my notes")
    from actionhas.core import cli
    assert cli.execute(extract_cli.main, [str(videos), "--out", str(tmp_path / "notes.h5"), "--weights", str(weights_file)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {tmp_path / 'notes.h5'}: exists but is not a readable feature store (move it or choose another --out)"
    assert (tmp_path / "notes.h5").read_text() == "my notes" and not (tmp_path / "notes.h5.partial").exists()


def test_extract_refuses_to_run_without_weights(videos, tmp_path):
    with pytest.raises(SystemExit):
        extract_cli.main([str(videos), "--out", str(tmp_path / "s.h5")])
