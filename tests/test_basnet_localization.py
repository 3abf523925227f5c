"""``--proposals basnet`` held to BaS-Net's test.py / utils.py (c8c6bbd8), restated below as plain loops."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.interpolate import interp1d

from actionhas import localize as localize_cli
from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.formats.train_config import TrainConfig
from actionhas.localization.basnet import (
    feature_step,
    minmax_norm,
    official_nms,
    selected_classes,
    time_factor,
    video_proposals,
)
from actionhas.training.video import train


def _oracle(scores, cas, n, length=750, class_th=0.25, classes=None):
    """test.py's per-video loop on (C,) scores and (C, T) raw suppression CAS, for 16-frame
    features at 25 fps, as [class, score, start, end] rows; a class without a run at some threshold
    (where test.py raises) contributes its other thresholds' proposals."""
    score = np.asarray(scores, np.float32).copy()
    score[np.where(score < class_th)] = 0
    score[np.where(score >= class_th)] = 1
    pred = np.where(score > class_th)[0] if classes is None else np.array(sorted(classes))
    t = torch.from_numpy(np.asarray(cas, np.float32).T[None])  # (1, T, C)
    max_val, min_val = torch.relu(t.max(dim=1)[0]), torch.relu(t.min(dim=1)[0])
    delta = max_val - min_val
    delta[delta <= 0] = 1
    cas_pred = ((t - min_val) / delta)[0].numpy()[:, pred]
    positions = np.arange(0, cas_pred.shape[0], 1 / 24)
    if cas_pred.shape[0] == 1:
        up = np.repeat(cas_pred, len(positions), axis=0)
    else:
        up = interp1d(np.arange(cas_pred.shape[0]), cas_pred, kind="linear", axis=0, fill_value="extrapolate")(positions)
    t_factor = (16 * n) / (24 * length * 25)
    per_class = {}
    for th in np.arange(0, 0.25, 0.025):
        wt = up.copy()
        wt[wt < th] = 0
        for i, c in enumerate(pred):
            pos = list(np.where(wt[:, i] > 0)[0])
            groups = []
            for p in pos:
                if groups and p == groups[-1][-1] + 1:
                    groups[-1].append(p)
                else:
                    groups.append([p])
            for g in groups:
                inner = np.mean(wt[g, i])
                outer_s = max(0, int(g[0] - 0.25 * len(g)))
                outer_e = min(int(wt.shape[0] - 1), int(g[-1] + 0.25 * len(g)))
                outer = list(range(outer_s, g[0])) + list(range(g[-1] + 1, outer_e + 1))
                outer_score = 0 if not outer else np.mean(wt[outer, i])
                per_class.setdefault(int(c), []).append(
                    [c, inner - outer_score + 0.2 * float(score[c]), g[0] * t_factor, (g[-1] + 1) * t_factor])
    out = []
    for c, props in per_class.items():
        p = np.array(props)
        x1, x2, s = p[:, 2], p[:, 3], p[:, 1]
        areas = x2 - x1 + 1
        order = s.argsort()[::-1]
        while order.size > 0:
            i = order[0]
            out.append((int(p[i, 0]), p[i, 2], p[i, 3], p[i, 1]))
            inter = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
            order = order[1:][inter / (areas[i] + areas[order[1:]] - inter) < 0.7]
    return out


def _ours(scores, cas, n, length=750, class_th=0.25, classes=None):
    from actionhas.localization.basnet import OfficialSettings

    return video_proposals(np.asarray(scores, np.float32), torch.from_numpy(np.asarray(cas, np.float32)),
                           time_factor(n, length, 24, 16.0, 25.0), classes, OfficialSettings(class_threshold=class_th))


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x[0] == y[0] and x[1:] == pytest.approx(y[1:], abs=1e-12)


CASES = {
    "ties": ([0.3, 0.3, 0.1], [[0, 1, 1, 0, 1, 1, 0, 0], [0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0], [1] * 8]),
    "negative": ([0.4, 0.5, 0.1], [[-3, -1, -2, -5], [-1, 2, -1, 3], [0, 0, 0, 0]]),
    "constant": ([0.6, 0.3], [[2.0] * 5, [0.1, 0.2, 0.1, 0.2, 0.1]]),
    "below every threshold": ([0.1, 0.2, 0.24], [[1, 2, 3], [3, 2, 1], [0, 5, 0]]),
    "thresholds hit exactly": ([0.9], [[0, 0.025, 0.05, 0.075, 0.1, 0.2, 0.225, 1.0]]),
}


@pytest.mark.parametrize("name", CASES)
def test_hand_made_sequences_match_the_official_loop(name):
    scores, cas = CASES[name]
    for n in (5, 750, 2000):
        _same(_ours(scores, cas, n), _oracle(scores, cas, n))


@pytest.mark.parametrize("T", [1, 2, 3, 4, 40, 750])
@pytest.mark.parametrize("seed", [0, 1])
def test_generated_sequences_match_the_official_loop(T, seed):
    g = np.random.default_rng(seed * 100 + T)
    C = 4
    scores = g.dirichlet(np.ones(C + 1))[:C]
    cas = g.normal(0, 2, (C, T)).round(1)  # rounding makes ties
    n = int(g.integers(1, 3000))
    _same(_ours(scores, cas, n), _oracle(scores, cas, n))
    _same(_ours(scores, cas, n, classes=[3, 0]), _oracle(scores, cas, n, classes=[3, 0]))


def test_the_official_constants():
    assert defaults.BASNET_ACT_THRESHOLDS == tuple(np.arange(0, 0.25, 0.025))
    assert time_factor(900, 750, 24, 16.0, 25.0) == (16 * 900) / (24 * 750 * 25)


def test_class_selection_binarises_then_compares_as_test_py():
    assert selected_classes(np.array([0.25, 0.2499, 0.5, 0.0]), 0.25) == [0, 2]
    assert selected_classes(np.array([0.1, 0.9]), 1.0) == []


def test_minmax_keeps_negative_values_and_zeroes_constant_ones():
    out = minmax_norm(torch.tensor([[-2.0, -1.0], [3.0, 3.0], [1.0, 3.0]]))
    assert torch.equal(out, torch.tensor([[-2.0, -1.0], [0.0, 0.0], [0.0, 1.0]]))


def test_nms_adds_one_to_lengths():
    # disjoint [0, 1] and [1.5, 2.5] "overlap" by 1 - 0.5 = 0.5 of 2 + 2 - 0.5: IoU 1/7
    starts, ends, scores = np.array([0.0, 1.5]), np.array([1.0, 2.5]), np.array([0.9, 0.8])
    assert official_nms(starts, ends, scores, 0.14) == [0]
    assert official_nms(starts, ends, scores, 0.15) == [0, 1]


def test_store_feature_step_is_frames_at_fps_for_imported_stores():
    from actionhas.formats.store import StoreInfo

    assert feature_step(StoreInfo(8, 25 / 16, "imported:i3d", {"stride": 16, "fps": 25.0})) == (16.0, 25.0)
    assert feature_step(StoreInfo(8, 10.0, "c3d-sports1m-fc7", {})) == (1.0, 10.0)


def test_localize_basnet_writes_official_proposals_and_refuses_a_paper_run(small_store, tmp_path):
    store, gt, _ = small_store
    base = dict(features=str(store), labels=str(gt), workers=0, epochs=1, channels=16, length=40)
    run = train(TrainConfig(out=str(tmp_path / "bas"), model="basnet", **base), progress=False)
    config = json.loads((run / "config.json").read_text())
    assert config["norm_weight"] == 1e-4 and config["lr"] == 1e-4 and config["steps"] == 1500
    out = tmp_path / "p.json"
    assert localize_cli.main(["--run", str(run), "--features", str(store), "--out", str(out), "--proposals", "basnet",
                              "--labels", str(gt)]) == 0
    data = json.loads(out.read_text())
    assert data["external_data"]["proposals"] == "basnet" and data["results"]
    paper = train(TrainConfig(out=str(tmp_path / "paper"), **base), progress=False)
    with pytest.raises(ActionhasError, match="--proposals basnet"):
        localize_cli.main(["--run", str(paper), "--features", str(store), "--out", str(tmp_path / "q.json"),
                           "--proposals", "basnet"])
    assert not (tmp_path / "q.json").exists()
