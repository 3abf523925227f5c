"""Shared fixtures: small generated feature stores (videos come from actionhas.data.video_writer)."""
from __future__ import annotations

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
