"""C3D as the paper used it: Caffe's pool5 and preprocessing by default for Caffe-derived weights, checked
against one clip's fc7 computed with every layer written out by hand; the c3d command's flag checks."""
import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from actionhas import extract as extract_cli
from actionhas.core import cli
from actionhas.core.errors import ActionhasError
from feature_extraction.pipeline import ClipRunner, ExtractOptions
from feature_extraction.preprocess import MMACTION2_SPORTS1M, Preprocess, load_mean_cube
from feature_extraction.weights import load_c3d


@pytest.fixture(scope="module")
def state(c3d_model):
    """Random C3D weights (half precision keeps the files small), keyed as the C3D module names them."""
    return {k: v.half() for k, v in c3d_model.state_dict().items()}


@pytest.fixture(scope="module")
def pickle_file(state, tmp_path_factory):
    """The weights in the layout of the Caffe-converted c3d.pickle (conv1, conv2, conv3a, ...)."""
    path = tmp_path_factory.mktemp("w") / "c3d.pickle"
    torch.save({k.replace("conv1a.", "conv1.").replace("conv2a.", "conv2."): v for k, v in state.items()}, path)
    return path


@pytest.fixture(scope="module")
def mmaction2_file(state, tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "c3d_mmaction2.pth"
    torch.save({"state_dict": {"backbone." + k.replace(".weight", ".conv.weight").replace(".bias", ".conv.bias")
                               if k.startswith("conv") else "backbone." + k: v for k, v in state.items()}}, path)
    return path


def _caffe_pool5(x: torch.Tensor) -> torch.Tensor:
    """Caffe's ceil-mode 2x2x2 max pool of conv5b's (B, 512, 2, 7, 7): windows {0,1}, {2,3}, {4,5}, {6}."""
    windows = [[0, 1], [2, 3], [4, 5], [6]]
    out = torch.empty(x.shape[0], x.shape[1], 1, 4, 4)
    for i, rows in enumerate(windows):
        for j, cols in enumerate(windows):
            out[:, :, 0, i, j] = x[:, :, :, rows][:, :, :, :, cols].amax(dim=(2, 3, 4))
    return out


def _caffe_input(rgb: np.ndarray, cube: np.ndarray | None = None) -> torch.Tensor:
    """Caffe C3D's input (3, 16, 112, 112) from 16 RGB uint8 frames (16, H, W, 3), written out per clip."""
    x = torch.from_numpy(rgb).float().permute(0, 3, 1, 2)                   # (16, 3, H, W) RGB, 0-255
    x = F.interpolate(x, size=(128, 171), mode="bilinear", align_corners=False)
    x = x[:, [2, 1, 0]]                                                    # BGR, as Caffe reads
    if cube is None:
        x = x - torch.tensor([90.25, 97.66, 101.41]).view(1, 3, 1, 1)      # Sports-1M mean, B G R
    else:
        x = x - torch.from_numpy(cube).permute(1, 0, 2, 3)                 # the mean cube, frame by frame
    x = x[:, :, 8:120, 29:141]                                             # crop 112 at (8, 29)
    return x.permute(1, 0, 2, 3)


def test_clips_cut_from_shared_frames_equal_clips_preprocessed_alone():
    """Frames are preprocessed once and shared by overlapping clips: bit for bit the per-clip values."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (24, 60, 80, 3), dtype=np.uint8)
    cube = rng.uniform(80, 110, (3, 16, 128, 171)).astype(np.float32)
    for prep, mean in ((Preprocess(), None), (Preprocess(mean_cube=cube), cube)):
        frames = prep.frames(rgb)
        for first in (0, 3, 8):
            clip = prep.clip(frames[first:first + 16])
            assert clip.is_contiguous() and torch.equal(clip, _caffe_input(rgb[first:first + 16], mean))


def _reference_fc7(sd: dict, rgb: np.ndarray) -> torch.Tensor:
    """fc7 of one clip of 16 RGB uint8 frames (16, H, W, 3), every step of Caffe's C3D written out."""
    x = _caffe_input(rgb)[None]                                            # (1, 3, 16, 112, 112)
    layers = [("conv1", (1, 2, 2)), ("conv2", (2, 2, 2)), ("conv3a", None), ("conv3b", (2, 2, 2)),
              ("conv4a", None), ("conv4b", (2, 2, 2)), ("conv5a", None), ("conv5b", "caffe")]
    for name, pool in layers:
        x = F.relu(F.conv3d(x, sd[f"{name}.weight"], sd[f"{name}.bias"], stride=1, padding=1))
        if pool == "caffe":
            x = _caffe_pool5(x)
        elif pool is not None:
            x = F.max_pool3d(x, kernel_size=pool, stride=pool)
    x = F.relu(F.linear(x.flatten(1), sd["fc6.weight"], sd["fc6.bias"]))   # (1, 8192) -> 4096
    return F.relu(F.linear(x, sd["fc7.weight"], sd["fc7.bias"]))[0]


def test_c3d_pickle_fc7_by_default_equals_caffe_c3d_written_out(pickle_file):
    rgb = np.random.default_rng(0).integers(0, 256, (16, 48, 64, 3), dtype=np.uint8)
    sd = {k: v.float() for k, v in torch.load(pickle_file, weights_only=True).items()}
    with torch.no_grad():
        want = _reference_fc7(sd, rgb)
    model, source = load_c3d(pickle_file)
    prep = Preprocess(source.preprocessing)
    got = ClipRunner(model, ExtractOptions())([prep.clip(prep.frames(rgb))])[0]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    port, _ = load_c3d(pickle_file, pool5="pytorch_port")  # the port's shifted windows give other features
    assert not np.allclose(ClipRunner(port, ExtractOptions())([prep.clip(prep.frames(rgb))])[0], want.numpy(),
                           rtol=1e-3, atol=1e-3 * float(want.abs().max()))


def test_default_pool5_and_preprocessing_follow_the_weights_origin(pickle_file, mmaction2_file):
    model, source = load_c3d(pickle_file)
    assert model.pool5_mode == source.pool5 == "caffe" and source.layout == "c3d.pickle"
    assert source.provenance()["weights_sha256"] == hashlib.sha256(pickle_file.read_bytes()).hexdigest()
    assert source.preprocessing.channels == "BGR" and source.preprocessing.mean == (90.25, 97.66, 101.41)
    model, source = load_c3d(mmaction2_file)
    assert model.pool5_mode == source.pool5 == "pytorch_port" and source.layout == "mmaction2"
    assert source.preprocessing == MMACTION2_SPORTS1M and source.preprocessing.mean == (104.0, 117.0, 128.0)


def test_mmaction2_preprocessing_is_rgb_minus_its_mean():
    rgb = np.random.default_rng(1).integers(0, 256, (16, 128, 171, 3), dtype=np.uint8)  # already 128x171
    prep = Preprocess(MMACTION2_SPORTS1M)
    want = (torch.from_numpy(rgb).float() - torch.tensor([104.0, 117.0, 128.0]))[:, 8:120, 29:141].permute(3, 0, 1, 2)
    torch.testing.assert_close(prep.clip(prep.frames(rgb)), want)


def test_mean_cube_is_channels_first_bgr_and_other_shapes_are_refused(tmp_path):
    per_channel = np.array([90.25, 97.66, 101.41], np.float32).reshape(3, 1, 1, 1)
    cube = np.broadcast_to(per_channel, (3, 16, 128, 171))
    np.save(tmp_path / "caffe.npy", cube[None])  # Caffe's blob has a leading 1
    np.save(tmp_path / "last.npy", np.ascontiguousarray(cube.transpose(1, 2, 3, 0)))
    rgb = np.random.default_rng(2).integers(0, 256, (16, 40, 50, 3), dtype=np.uint8)
    with_cube, plain = Preprocess(mean_cube=load_mean_cube(tmp_path / "caffe.npy")), Preprocess()
    torch.testing.assert_close(with_cube.clip(with_cube.frames(rgb)), plain.clip(plain.frames(rgb)))
    with pytest.raises(ActionhasError, match=r"last\.npy: mean cube of shape \(16, 128, 171, 3\)"):
        load_mean_cube(tmp_path / "last.npy")


def test_fp32_means_tf32_off_while_c3d_runs():
    if not hasattr(torch.backends.cudnn, "conv"):
        pytest.skip("this torch has no per-backend fp32 precision settings")
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append((torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision))
            return x.flatten(1)

    before = torch.backends.cudnn.conv.fp32_precision
    ClipRunner(Probe(), ExtractOptions())([torch.zeros(3, 16, 2, 2)])
    assert ExtractOptions().precision == "fp32" and seen == [("ieee", "ieee")]
    assert torch.backends.cudnn.conv.fp32_precision == before


@pytest.mark.parametrize("flag, value, message", [
    ("--batch-size", "0", "--batch-size must be >= 1, got 0"),
    ("--features-per-second", "-1", "--features-per-second must be a number > 0, got -1"),
    ("--precision", "tf32", "--precision tf32 needs a CUDA --device"),
    ("--device", "cuda", "--device cuda: "),
])
def test_bad_flags_are_one_line_errors_before_any_work(tmp_path, capsys, flag, value, message):
    if flag == "--device" and torch.cuda.is_available():
        pytest.skip("this torch has CUDA")
    (tmp_path / "v").mkdir()
    code = cli.execute(extract_cli.main, [str(tmp_path / "v"), "--out", str(tmp_path / "s.h5"), "--random-weights",
                                      flag, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: " + message)
    assert list(tmp_path.iterdir()) == [tmp_path / "v"]


def test_channels_last_mean_cube_is_refused_by_the_command(tmp_path, capsys):
    np.save(tmp_path / "mean.npy", np.zeros((16, 128, 171, 3), np.float32))
    (tmp_path / "v").mkdir()
    code = cli.execute(extract_cli.main, [str(tmp_path / "v"), "--out", str(tmp_path / "s.h5"), "--random-weights",
                                      "--mean", str(tmp_path / "mean.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [(f"error: {tmp_path / 'mean.npy'}: mean cube of shape (16, 128, 171, 3) and dtype "
                                  "float32; expected Caffe's (3, 16, 128, 171) (channels first, BGR), optionally "
                                  "with a leading 1")]


def test_weights_files_asking_to_run_code_are_refused_without_running_it(tmp_path, code_in_a_pickle):
    from actionhas.formats.rundir import RunDir
    from actionhas.image.networks import build_network, load_weights

    (trap, sentinel), evil = code_in_a_pickle, tmp_path / "evil.pt"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "meta": trap}, evil)
    (tmp_path / "run").mkdir()
    torch.save({"epoch": 0, "model": trap}, tmp_path / "run" / "checkpoint.pt")
    for load, name in ((lambda: load_c3d(evil), "C3D weights file"),
                       (lambda: load_weights(build_network("small_gap", 3), evil), "weights file"),
                       (lambda: RunDir(tmp_path / "run").load_checkpoint(), "checkpoint")):
        with pytest.raises(ActionhasError, match=f"the {name} holds Python objects besides tensors"):
            load()
    assert not sentinel.exists()
