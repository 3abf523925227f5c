"""Shared fixtures: small generated feature stores and real encoded videos written with PyAV."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from actionhas.annotations import write_anet_gt
from actionhas.synthetic import SyntheticSpec, make_feature_store


def write_video(path: Path, frames: int, fps: int, size=(64, 48), codec: str = "libx264", seed: int = 0) -> Path:
    """A real encoded video of a bright bar moving over noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
            img[:, (3 * i) % w] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


SMALL = SyntheticSpec(train_videos=60, test_videos=30, num_classes=6, feature_dim=64, seconds=(30, 60))


@pytest.fixture(scope="session")
def small_store(tmp_path_factory):
    """(store path, ground-truth JSON path, GroundTruth) of a small synthetic THUMOS-like store."""
    d = tmp_path_factory.mktemp("store")
    gt = make_feature_store(d / "store.h5", SMALL)
    write_anet_gt(gt, d / "gt.json")
    return d / "store.h5", d / "gt.json", gt
