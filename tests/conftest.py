"""Shared fixtures: small generated feature stores (videos come from actionhas.data.video_writer)."""
from __future__ import annotations

import av  # noqa: F401 before any test module imports decord (see feature_extraction.decoding: PyAV first)
import pytest

from actionhas.data.synthetic import SyntheticSpec, make_feature_store
from actionhas.formats.annotations import write_anet_gt

SMALL = SyntheticSpec(train_videos=60, test_videos=30, num_classes=6, feature_dim=64, seconds=(30, 60))


@pytest.fixture(scope="session")
def c3d_model():
    """One C3D with random weights (seed 0, Caffe's pool5) for the whole test run: building the
    78M-parameter network is the costly part, so every test that needs one shares it (read only)."""
    import torch

    from feature_extraction.c3d import C3D

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return C3D(pool5="caffe").eval()


@pytest.fixture(scope="session")
def c3d_weights_file(c3d_model, tmp_path_factory):
    """``c3d_model`` saved once in the project's own weights format."""
    from feature_extraction.weights import save_c3d

    path = tmp_path_factory.mktemp("c3d") / "c3d_own.pt"
    save_c3d(c3d_model, path)
    return path


@pytest.fixture(scope="session")
def small_store(tmp_path_factory):
    """(store path, ground-truth JSON path, GroundTruth) of a small synthetic THUMOS-like store."""
    d = tmp_path_factory.mktemp("store")
    gt = make_feature_store(d / "store.h5", SMALL)
    write_anet_gt(gt, d / "gt.json")
    return d / "store.h5", d / "gt.json", gt


@pytest.fixture(scope="session")
def tiny_run(small_store, tmp_path_factory):
    """One paper-head run trained for an epoch on ``small_store``, shared by the tests that only read
    a run (localize, checks on stores); a test that trains or resumes makes its own."""
    from actionhas.formats.train_config import TrainConfig
    from actionhas.training.video import train

    store, gt, _ = small_store
    out = tmp_path_factory.mktemp("tiny_run") / "run"
    return train(TrainConfig(features=str(store), labels=str(gt), out=str(out), length=200, epochs=1, workers=0,
                             batch_size=8), progress=False)


class _RunsCode:
    """Unpickling this runs ``touch sentinel``: a file that loads it has run code."""

    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.sentinel}",)


@pytest.fixture
def code_in_a_pickle(tmp_path):
    """(an object whose unpickling runs code, the file that code would create)."""
    sentinel = tmp_path / "code_ran"
    return _RunsCode(sentinel), sentinel


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory):
    """A whole small project on disk, made through the commands: per-video .npy features imported
    twice (fps 25 / 16 frames, and fps 30 / 8 frames: other provenance), labels, ground truth, and
    two runs of one seed that differ in --length, each localized and evaluated into its folder."""
    import json

    import numpy as np

    from actionhas.core.cli import execute
    from actionhas.evaluate import main as evaluate_main
    from actionhas.extract import main as extract_main
    from actionhas.localize import main as localize_main
    from actionhas.train import main as train_main

    d = tmp_path_factory.mktemp("project")
    rng = np.random.default_rng(0)
    (d / "npy").mkdir()
    rows, db = ["video,subset,labels"], {}
    for i in range(12):
        vid, label, subset = f"video_{i:02d}", "AB"[i % 2], ("validation", "test")[i // 8]
        feats = rng.normal(size=(24, 8)).astype(np.float32)
        feats[6:14, i % 2] += 4.0
        np.save(d / "npy" / f"{vid}.npy", feats)
        rows.append(f"{vid},{subset},{label}")
        db[vid] = {"subset": subset, "duration": 16.0,
                   "annotations": [{"label": label, "segment": [4.0, 9.0]}]}
    (d / "labels.csv").write_text("\n".join(rows) + "\n")
    (d / "gt.json").write_text(json.dumps({"database": db}))
    p = {"store": d / "store.h5", "store30": d / "store_30fps.h5", "labels": d / "labels.csv", "gt": d / "gt.json",
         "npy": d / "npy"}
    steps = [(extract_main, ["import", str(d / "npy"), "--out", str(p["store"]), "--fps", "25",
                             "--frames-per-feature", "16"]),
             (extract_main, ["import", str(d / "npy"), "--out", str(p["store30"]), "--fps", "30",
                             "--frames-per-feature", "8"])]
    for name, length in (("run_a", "8"), ("run_b", "4")):
        run = d / name
        p[name] = run
        steps += [(train_main, ["--features", str(p["store"]), "--labels", str(p["labels"]), "--out", str(run),
                                "--epochs", "1", "--length", length, "--segments", "2", "--workers", "0",
                                "--batch-size", "4", "--channels", "8"]),
                  (localize_main, ["--run", str(run), "--features", str(p["store"]), "--labels", str(p["gt"]),
                                   "--subset", "test", "--out", str(run / "predictions.json")]),
                  (evaluate_main, ["--gt", str(p["gt"]), "--subset", "test", "--pred",
                                   str(run / "predictions.json"), "--out", str(run / "metrics.json")])]
    for main, argv in steps:
        assert execute(main, argv) == 0, argv
    return p
