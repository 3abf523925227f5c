"""Nothing mixes silently in a store: provenance recorded, compared before any work, checked by assemble and
merge; old stores read but not extended; the `extract` command's subcommands and its `info` printout."""
import json
import os

import h5py
import numpy as np
import pytest

from actionhas import extract as extract_cli
from actionhas.core import cli
from actionhas.data.video_writer import write_test_video
from actionhas.formats.store import FeatureStore, StoreInfo, create_store, write_video
from feature_extraction.pipeline import ExtractOptions, extraction_provenance
from feature_extraction.preprocess import Preprocess
from feature_extraction.provenance import ProvenanceError
from feature_extraction.weights import random_c3d
from feature_extraction.work_store import ExtractedVideo, assemble, merge, save_video

# 16 frames at 16 fps, 2 features per second: 2 clips per video keep C3D on CPU quick.
RUN = ["--random-weights", "--features-per-second", "2", "--batch-size", "2"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A store extracted from a folder named `merge` (given as ./merge): one video and one broken file."""
    root = tmp_path_factory.mktemp("made")
    videos = root / "merge"
    videos.mkdir()
    write_test_video(videos / "v0.mp4", 16, 16, seed=1)
    (videos / "broken.mp4").write_bytes(b"\x00" * 500)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = extract_cli.main(["./merge", "--out", str(root / "s.h5"), *RUN])
    finally:
        os.chdir(cwd)
    assert code == 1  # the broken file is a recorded failure
    return videos, root / "s.h5"


def _info(seed: int = 0, features_per_second: float = 2.0) -> StoreInfo:
    """The store info an extraction with --random-weights --seed SEED makes."""
    _, weights = random_c3d(seed)
    opts = ExtractOptions(features_per_second=features_per_second)
    return StoreInfo(4096, features_per_second, weights.extractor,
                     extraction_provenance(weights, Preprocess(weights.preprocessing), opts))


def _video(seed: int) -> ExtractedVideo:
    feats = np.random.default_rng(seed).random((2, 4096), dtype=np.float32)
    return ExtractedVideo(feats, np.array([0.25, 0.75]), 1.0, 16.0,
                          {"frames_reported": 16, "frames_decoded": 16, "truncated": False})


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_store_records_provenance_per_video_counts_and_failures(made):
    _, store = made
    with h5py.File(store) as f:
        prov = json.loads(f.attrs["provenance"])
        attrs = dict(f["videos/v0"].attrs)
        assert sorted(f["failures"]) == ["broken"]
    assert prov["features"] == "c3d-fc7" and prov["weights_layout"] == "random" and prov["weights_seed"] == 0
    assert prov["pool5"] == "caffe" and prov["precision"] == "fp32" and prov["features_per_second"] == 2.0
    assert prov["channel_order"] == "BGR" and prov["mean"] == [90.25, 97.66, 101.41] and prov["crop_offset"] == [8, 29]
    assert prov["frames_per_clip"] == 16 and prov["decoder"].startswith("decord ") and "package_version" in prov
    assert attrs["frames_reported"] == attrs["frames_decoded"] == 16 and not attrs["truncated"]
    assert FeatureStore(store).num_features("v0") == 2


@pytest.mark.parametrize("change, diff", [
    (["--seed", "1"], "weights_seed: 0 -> 1"),
    (["--pool5", "pytorch_port"], 'pool5: "caffe" -> "pytorch_port"'),
    (["--features-per-second", "4"], "features_per_second: 2.0 -> 4.0"),
])
def test_rerun_with_other_settings_is_refused_before_any_work(made, tmp_path, capsys, change, diff):
    videos, store = made
    (tmp_path / "s.h5").write_bytes(store.read_bytes())
    write_test_video(tmp_path / "new.mp4", 16, 16, seed=3)  # a video the refused run would have decoded
    (tmp_path / "v0.mp4").symlink_to(videos / "v0.mp4")
    before = _files(tmp_path)
    code = cli.execute(extract_cli.main, [str(tmp_path), "--out", str(tmp_path / "s.h5"), *RUN, *change])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"error: {tmp_path / 's.h5'}: made with other settings (") and diff in err[0]
    assert err[0].endswith("use --overwrite to start clean, or another --out")
    assert _files(tmp_path) == before  # byte-identical, and no work-in-progress folder


def test_killed_run_of_other_settings_blocks_the_rerun_and_resumes_with_its_own(made, tmp_path, capsys):
    videos, _ = made
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "v0.mp4").symlink_to(videos / "v0.mp4")
    out = tmp_path / "s.h5"
    save_video(out, _info(seed=0), "v0", _video(5), "float16")  # what a killed run leaves behind
    before = _files(tmp_path / "s.h5.partial")
    code = cli.execute(extract_cli.main, [str(tmp_path / "in"), "--out", str(out), *RUN, "--seed", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "s.h5.partial/v0.h5: made with other settings (" in err[0]
    assert "weights_seed: 0 -> 1" in err[0] and not out.exists() and _files(tmp_path / "s.h5.partial") == before
    # the run with the killed run's own settings keeps its finished video: nothing is decoded again
    assert extract_cli.main([str(tmp_path / "in"), "--out", str(out), *RUN]) == 0
    np.testing.assert_array_equal(FeatureStore(out).features("v0"), _video(5).features.astype(np.float16))


def test_overwrite_starts_clean(made, tmp_path):
    videos, store = made
    out = tmp_path / "s.h5"
    out.write_bytes(store.read_bytes())
    save_video(out, _info(seed=7), "stray", _video(1), "float16")  # unfinished work of yet other settings
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "v0.mp4").symlink_to(videos / "v0.mp4")
    assert extract_cli.main([str(tmp_path / "in"), "--out", str(out), *RUN, "--seed", "1", "--overwrite"]) == 0
    s = FeatureStore(out)
    assert s.video_ids == ["v0"] and s.info.provenance["weights_seed"] == 1
    assert not (tmp_path / "s.h5.partial").exists()
    with h5py.File(out) as f:
        assert "failures" not in f or len(f["failures"]) == 0


def test_assemble_refuses_a_foreign_partial_file(made, tmp_path):
    _, store = made
    out = tmp_path / "s.h5"
    out.write_bytes(store.read_bytes())
    save_video(out, _info(seed=0, features_per_second=4.0), "stray", _video(1), "float16")
    with pytest.raises(ProvenanceError, match=r"stray\.h5: made with other settings \(features_per_second: 4\.0 -> 2\.0"):
        assemble(out, _info(seed=0))
    assert out.read_bytes() == store.read_bytes() and not (tmp_path / "s.h5.tmp").exists()


def _shard(path, provenance: dict | None, vid: str) -> None:
    with create_store(path, StoreInfo(4, 10.0, "t", provenance)) as f:
        write_video(f, vid, np.ones((3, 4), np.float32), np.arange(3) / 10, 0.3, 25.0)


def test_merge_refuses_shards_of_different_provenance(tmp_path):
    prov = {"features": "c3d-fc7", "pool5": "caffe", "package_version": "0.1.0"}
    _shard(tmp_path / "a.h5", prov, "v0")
    _shard(tmp_path / "b.h5", {**prov, "package_version": "0.2.0"}, "v1")  # recorded, not compared
    _shard(tmp_path / "c.h5", {**prov, "pool5": "pytorch_port"}, "v2")
    assert merge([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "ab.h5") == 2
    assert FeatureStore(tmp_path / "ab.h5").info.provenance["pool5"] == "caffe"
    with pytest.raises(ProvenanceError, match=r"c\.h5: made with other settings \(pool5: \"caffe\" -> \"pytorch_port\""
                                              r"\); merge joins only shards of one extraction"):
        merge([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "ac.h5")
    assert not (tmp_path / "ac.h5").exists()


def test_store_of_an_earlier_version_reads_but_is_not_extended(made, tmp_path, capsys):
    videos, _ = made
    _shard(tmp_path / "old.h5", None, "v9")
    assert FeatureStore(tmp_path / "old.h5").features("v9").shape == (3, 4)
    before = (tmp_path / "old.h5").read_bytes()
    code = cli.execute(extract_cli.main, [str(videos), "--out", str(tmp_path / "old.h5"), *RUN])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [(f"error: {tmp_path / 'old.h5'}: made by an earlier version that recorded no "
                                  "provenance: it reads as before but cannot be extended (use --overwrite to start "
                                  "clean, or another --out)")]
    assert (tmp_path / "old.h5").read_bytes() == before and not (tmp_path / "old.h5.partial").exists()
    assert extract_cli.main(["info", str(tmp_path / "old.h5")]) == 0
    assert "provenance           none (made by an earlier version" in capsys.readouterr().out


def test_info_prints_settings_video_count_and_failures(made, capsys):
    _, store = made
    assert extract_cli.main(["info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "  videos               1\n" in out and "  failures             1\n" in out
    assert "    broken: " in out and "merge/broken.mp4" in out
    assert '    pool5                  "caffe"' in out and "    weights_seed           0" in out


def test_help_lists_every_command_with_defaults(capsys):
    with pytest.raises(SystemExit):
        extract_cli.main(["--help"])
    top = capsys.readouterr().out
    assert all(f"    {c}" in top for c in ("c3d", "merge", "import", "info"))
    with pytest.raises(SystemExit):
        extract_cli.main(["c3d", "--help"])
    assert "clips per forward pass (default: 16)" in capsys.readouterr().out
