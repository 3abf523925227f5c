"""Shared fixtures: small generated feature stores (videos come from actionhas.data.video_writer)."""
from __future__ import annotations

import pytest

from actionhas.data.synthetic import SyntheticSpec, make_feature_store
from actionhas.formats.annotations import write_anet_gt

SMALL = SyntheticSpec(train_videos=60, test_videos=30, num_classes=6, feature_dim=64, seconds=(30, 60))


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
