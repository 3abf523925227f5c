"""`extract import`: the field's three .npy release layouts, window-centre times with a stride, one-line errors,
and object arrays read without running arbitrary pickled code."""
import pickle

import numpy as np
import pytest

from actionhas import extract as extract_cli
from actionhas.core.errors import ActionhasError
from actionhas.formats.store import FeatureStore
from feature_extraction.npy_import import import_npy


def _rand(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _object_npy(path, arrays):
    a = np.empty(len(arrays), dtype=object)
    a[:] = arrays
    np.save(path, a, allow_pickle=True)


def test_per_video_files_with_a_stride_sit_at_window_centres(tmp_path):
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "video_test_0000004.npy", _rand((5, 8)))
    np.save(tmp_path / "npy" / "v_abc.npy", _rand((3, 8), 1))
    assert extract_cli.main(["import", str(tmp_path / "npy"), "--out", str(tmp_path / "s.h5"), "--fps", "30",
                             "--frames-per-feature", "16", "--stride", "4", "--name", "i3d-actionformer"]) == 0
    s = FeatureStore(tmp_path / "s.h5")
    assert s.video_ids == ["v_abc", "video_test_0000004"] and s.info.features_per_second == pytest.approx(30 / 4)
    np.testing.assert_allclose(s.times("video_test_0000004"), (np.arange(5) * 4 + 8) / 30)  # frames [4i, 4i + 16)
    assert s.duration("video_test_0000004") == pytest.approx((4 * 4 + 16) / 30)
    np.testing.assert_array_equal(s.features("v_abc"), _rand((3, 8), 1))
    assert s.info.extractor == "imported:i3d-actionformer"
    assert {k: s.info.provenance[k] for k in ("layout", "fps", "frames_per_feature", "stride", "feature_dim")} == \
        {"layout": "per-video", "fps": 30.0, "frames_per_feature": 16, "stride": 4, "feature_dim": 8}


def test_rgb_and_flow_folders_are_concatenated_rgb_then_flow(tmp_path):
    for stream, seed in (("rgb", 1), ("flow", 2)):
        (tmp_path / stream).mkdir()
        np.save(tmp_path / stream / "video_validation_0000051.npy", _rand((4, 6), seed))
    assert import_npy(tmp_path, tmp_path / "s.h5", fps=25, frames_per_feature=16, what="i3d", progress=False) == 1
    s = FeatureStore(tmp_path / "s.h5")
    np.testing.assert_array_equal(s.features("video_validation_0000051"), np.hstack([_rand((4, 6), 1), _rand((4, 6), 2)]))
    assert s.times("video_validation_0000051")[:2] == pytest.approx([0.32, 0.96])
    assert s.info.provenance["layout"] == "two-stream" and s.info.features_per_second == pytest.approx(25 / 16)


def test_rgb_without_flow_and_stream_length_mismatch_are_one_line_errors(tmp_path):
    for stream in ("rgb", "flow"):
        (tmp_path / stream).mkdir()
    np.save(tmp_path / "rgb" / "a.npy", _rand((4, 6)))
    np.save(tmp_path / "rgb" / "b.npy", _rand((4, 6)))
    np.save(tmp_path / "flow" / "a.npy", _rand((3, 6)))
    with pytest.raises(ActionhasError, match=r"rgb/b\.npy: no flow counterpart \(.*flow/b\.npy is missing\)"):
        import_npy(tmp_path, tmp_path / "s.h5", fps=25, frames_per_feature=16, progress=False)
    (tmp_path / "rgb" / "b.npy").unlink()
    with pytest.raises(ActionhasError, match=r"^video a: rgb has 4 features \(.*\), flow 3 \(.*\)$"):
        import_npy(tmp_path, tmp_path / "s.h5", fps=25, frames_per_feature=16, progress=False)
    assert not (tmp_path / "s.h5").exists() and not (tmp_path / "s.h5.tmp").exists()


def test_object_array_with_its_name_list(tmp_path):
    arrays = [_rand((7, 5), 1), _rand((2, 5), 2)]
    _object_npy(tmp_path / "features.npy", arrays)
    (tmp_path / "names.txt").write_text("video_test_0000004\nvideo_test_0000006\n")
    assert extract_cli.main(["import", str(tmp_path / "features.npy"), "--names", str(tmp_path / "names.txt"),
                             "--out", str(tmp_path / "s.h5"), "--fps", "25", "--frames-per-feature", "16"]) == 0
    s = FeatureStore(tmp_path / "s.h5")
    assert s.video_ids == ["video_test_0000004", "video_test_0000006"]
    np.testing.assert_array_equal(s.features("video_test_0000006"), arrays[1])
    assert s.info.provenance["layout"] == "object-array"
    (tmp_path / "names.txt").write_text("video_test_0000004\n")
    with pytest.raises(ActionhasError, match=r"features\.npy: 2 videos, but .*names\.txt lists 1 names"):
        import_npy(tmp_path / "features.npy", tmp_path / "x.h5", 25, 16, names=tmp_path / "names.txt", progress=False)


def test_object_array_asking_for_other_code_is_refused_without_running_it(tmp_path, code_in_a_pickle):
    trap, sentinel = code_in_a_pickle
    with open(tmp_path / "evil.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        f.write(pickle.dumps(np.array([trap], dtype=object), protocol=4))
    (tmp_path / "names.txt").write_text("v\n")
    with pytest.raises(ActionhasError, match=r"evil\.npy: refused to unpickle posix\.system: only numpy arrays"):
        import_npy(tmp_path / "evil.npy", tmp_path / "s.h5", 25, 16, names=tmp_path / "names.txt", progress=False)
    assert not sentinel.exists() and not (tmp_path / "s.h5").exists()


def test_bad_features_name_the_file_or_video_and_leave_the_old_store(tmp_path):
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "a.npy", _rand((3, 4)))
    import_npy(tmp_path / "npy", tmp_path / "s.h5", 25, 16, progress=False)
    before = (tmp_path / "s.h5").read_bytes()
    bad = _rand((3, 4))
    bad[1, 2] = np.nan
    np.save(tmp_path / "npy" / "b.npy", bad)
    with pytest.raises(ActionhasError, match=r"npy/b\.npy: holds NaN or Inf"):
        import_npy(tmp_path / "npy", tmp_path / "s.h5", 25, 16, progress=False)
    np.save(tmp_path / "npy" / "b.npy", _rand(5))
    with pytest.raises(ActionhasError, match=r"npy/b\.npy: shape \(5,\), expected \(T>=1, 4\)"):
        import_npy(tmp_path / "npy", tmp_path / "s.h5", 25, 16, progress=False)
    _object_npy(tmp_path / "npy" / "b.npy", [_rand((2, 4))])
    with pytest.raises(ActionhasError, match=r"npy/b\.npy: holds pickled objects"):
        import_npy(tmp_path / "npy", tmp_path / "s.h5", 25, 16, progress=False)
    assert (tmp_path / "s.h5").read_bytes() == before and not (tmp_path / "s.h5.tmp").exists()
    _object_npy(tmp_path / "all.npy", [_rand((2, 4)), _rand(4)])
    (tmp_path / "names.txt").write_text("x\ny\n")
    with pytest.raises(ActionhasError, match=r"all\.npy\[1\] \(video y\): shape \(4,\)"):
        import_npy(tmp_path / "all.npy", tmp_path / "t.h5", 25, 16, names=tmp_path / "names.txt", progress=False)
    with pytest.raises(ActionhasError, match=r"all\.npy: a single \.npy of all videos needs --names"):
        import_npy(tmp_path / "all.npy", tmp_path / "t.h5", 25, 16, progress=False)
    with pytest.raises(ActionhasError, match=r"--stride must be a whole number of frames >= 1, got 0"):
        import_npy(tmp_path / "npy", tmp_path / "t.h5", 25, 16, stride=0, progress=False)
