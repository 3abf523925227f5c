"""CoLA held to its official code (zhang-can/CoLA d21f1b5), restated below as small oracles."""
import json

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.interpolate import interp1d

from actionhas import localize as localize_cli
from actionhas import train as train_cli
from actionhas.core.errors import ActionhasError
from actionhas.data.sampling import floor_indices_up_to
from actionhas.formats.train_config import TrainConfig
from actionhas.localization import cola as cola_post
from actionhas.models.cola import CoLA, mining_mask
from actionhas.training.video import train


# ---- oracle: core/model.py and core/loss.py, order of operations as written there ----
def _topk(scores, emb, k):
    idx = scores.sort(descending=True, dim=1)[1][:, :k]
    return torch.gather(emb, 1, idx.unsqueeze(2).expand([-1, -1, emb.shape[2]]))


def _nce(q, k, neg, t=0.07):
    q, k = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(k, dim=1)
    neg = torch.nn.functional.normalize(neg.permute(0, 2, 1), dim=1)
    logits = torch.cat([torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1), torch.einsum("nc,nck->nk", [q, neg])], 1) / t
    return torch.nn.CrossEntropyLoss()(logits, torch.zeros(len(logits), dtype=torch.long))


def oracle_loss(emb, cas, aness, label, select):
    T = emb.shape[1]
    k_easy, k_hard = T // 5, T // 20
    rev = torch.max(aness, dim=1, keepdim=True)[0] - aness
    ea, eb = _topk(aness * select, emb, k_easy), _topk(rev * select, emb, k_easy)
    a = aness.numpy()
    b = np.where(a > np.median(a, 1, keepdims=True), 1.0, 0.0)
    er = {w: ndimage.binary_erosion(b, structure=np.ones((1, w))).astype(a.dtype) for w in (3, 6)}
    di = {w: ndimage.binary_dilation(b, structure=np.ones((1, w))).astype(a.dtype) for w in (3, 6)}
    ha = _topk(aness * aness.new_tensor(er[3] - er[6]), emb, k_hard)
    hb = _topk(aness * aness.new_tensor(di[6] - di[3]), emb, k_hard)
    scores = torch.softmax(cas.sort(descending=True, dim=1)[0][:, :k_easy, :].mean(1), dim=1)
    action = torch.nn.BCELoss()(scores, label / label.sum(1, keepdim=True))
    snico = _nce(ha.mean(1), ea.mean(1), eb) + _nce(hb.mean(1), eb.mean(1), ea)
    return action + 0.01 * snico


def _outputs(T, C, kind, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.rand(3, T, 8, generator=g)
    if kind == "ties":
        cas = torch.randint(0, 3, (3, T, C), generator=g).float()
    elif kind == "flat":
        cas = torch.ones(3, T, C)
    else:
        cas = torch.rand(3, T, C, generator=g)
    return {"embeddings": emb, "cas": cas, "actionness": cas.sum(2)}


def _labels(C):
    y = torch.zeros(3, C)
    y[0, 0] = y[1, -1] = y[2, 0] = y[2, -1] = 1
    return y


@pytest.mark.parametrize("T", [20, 21, 39, 64])
@pytest.mark.parametrize("C", [1, 4])
@pytest.mark.parametrize("kind", ["random", "ties", "flat"])
def test_loss_and_mining_equal_the_official_without_mask(T, C, kind):
    net = CoLA(5, C, channels=8, mining_drop=0.0).train()
    out = _outputs(T, C, kind)
    got = net.loss(out, _labels(C))
    want = oracle_loss(out["embeddings"], out["cas"], out["actionness"], _labels(C), torch.ones(3, T))
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["random", "ties"])
def test_loss_with_a_seeded_mask_equals_the_official_with_that_mask(kind):
    net = CoLA(5, 3, channels=8, mining_drop=0.6).train()
    out = _outputs(50, 3, kind, seed=1)
    got = net.loss(out, _labels(3), torch.Generator().manual_seed(7))
    mask = mining_mask((3, 50), 0.6, "cpu", torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, oracle_loss(out["embeddings"], out["cas"], out["actionness"], _labels(3), mask))


def test_mining_mask_is_the_official_dropout_of_ones():
    mask = mining_mask((64, 500), 0.6, "cpu", torch.Generator().manual_seed(0))
    assert set(mask.unique().tolist()) == {0.0, 2.5}
    assert (mask == 0).float().mean().item() == pytest.approx(0.6, abs=0.01)
    assert torch.equal(mask, mining_mask((64, 500), 0.6, "cpu", torch.Generator().manual_seed(0)))
    assert torch.equal(mining_mask((2, 5), 0.0, "cpu"), torch.ones(2, 5))


def test_short_sequences_mine_no_hard_snippet_and_give_nan_as_the_official():
    net = CoLA(5, 2, channels=8, mining_drop=0.0).train()
    out = _outputs(19, 2, "random")
    assert torch.isnan(net.loss(out, _labels(2)))
    assert torch.isnan(oracle_loss(out["embeddings"], out["cas"], out["actionness"], _labels(2), torch.ones(3, 19)))


def test_network_layout_and_video_scores():
    net = CoLA(2048, 20)
    assert [k for k, _ in net.state_dict().items()] == ["f_embed.0.weight", "f_embed.0.bias", "f_cls.0.weight"]
    assert net.f_embed[0].kernel_size == (3,) and net.f_embed[0].out_channels == 2048 and net.dropout.p == 0.7
    small = CoLA(6, 3, channels=8).eval()
    for T in (1, 4, 5, 23):
        probs, cas, aness = small.predict(torch.rand(2, T, 6))
        k = max(1, T // 5)  # the official averages nothing below 5 features (NaN)
        want = torch.softmax(cas.transpose(1, 2).sort(descending=True, dim=1)[0][:, :k].mean(1), dim=1)
        torch.testing.assert_close(probs, want)
        torch.testing.assert_close(aness, cas.sum(1))


# ---- oracle: main_cola.py test_all with core/utils.py ----
def _minmax(x):
    top, low = np.maximum(x.max(0), 0), np.maximum(x.min(0), 0)
    d = top - low
    d[d <= 0] = 1
    r = (x - low) / d
    r[r > 1], r[r < 0] = 1, 0
    return r


def _oic(tlist, wtcam, final_score, c_pred, t_factor):
    temp = []
    for i in range(len(tlist)):
        c_temp = []
        pts = np.array(tlist[i])[0]
        if pts.any():
            for g in np.split(pts, np.where(np.diff(pts) != 1)[0] + 1):
                if len(g) < 2:
                    continue
                inner = np.mean(wtcam[g, i, 0])
                s, e = max(0, int(g[0] - 0.25 * len(g))), min(int(wtcam.shape[0] - 1), int(g[-1] + 0.25 * len(g)))
                outer_idx = list(range(s, int(g[0]))) + list(range(int(g[-1] + 1), e + 1))
                outer = 0 if not outer_idx else np.mean(wtcam[outer_idx, i, 0])
                c_temp.append([c_pred[i], inner - outer + 0.2 * final_score[c_pred[i]], g[0] * t_factor,
                               (g[-1] + 1) * t_factor])
            temp.append(c_temp)
    return temp


def _nms(props, thresh=0.6):
    p = np.array(props)
    x1, x2, sc = p[:, 2], p[:, 3], p[:, 1]
    areas, order, keep = x2 - x1 + 1, sc.argsort()[::-1], []
    while order.size > 0:
        i = order[0]
        keep.append(p[i].tolist())
        inter = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        order = order[np.where(inter / (areas[i] + areas[order[1:]] - inter) < thresh)[0] + 1]
    return keep


def oracle_proposals(scores, cas, aness, n):
    """scores (C,), cas (T, C), aness (T,): the official (class, start, end, score) list."""
    pred = np.where(scores >= 0.2)[0]
    if len(pred) == 0:
        pred = np.array([np.argmax(scores)])
    T = len(cas)
    up = np.arange(0, T, 1 / 24)

    def act(src):
        return interp1d(np.arange(T), _minmax(src)[:, pred].reshape(T, -1, 1), axis=0, fill_value="extrapolate")(up)
    cas_pred, aness_pred = act(cas), act(np.repeat(aness[:, None], cas.shape[1], 1))
    t_factor = (16 * n) / (24 * (len(up) // 24) * 25)
    props = {}
    for src, ths, scored in ((cas_pred, np.arange(0, 0.25, 0.025), None), (aness_pred, np.arange(0.1, 0.925, 0.025),
                                                                           cas_pred)):
        for th in ths:
            tmp = src.copy()
            tmp[tmp[:, :, 0] < th] = 0
            seg = [np.where(tmp[:, c, 0] > 0) for c in range(len(pred))]
            for p in _oic(seg, tmp if scored is None else scored, scores, pred, t_factor):
                props[p[0][0]] = props.get(p[0][0], []) + p   # p[0] raises on an empty class, as the official
    return [(int(c), t0, t1, s) for v in props.values() for c, s, t0, t1 in _nms(v)]


def _video(T, C, kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "ties":
        cas = rng.integers(0, 3, (T, C)).astype(np.float32)
    elif kind == "flat":
        cas = np.ones((T, C), np.float32)
    else:
        cas = (np.sin(np.arange(T)[:, None] / rng.uniform(1, 4, C)) + rng.random((T, C))).clip(0).astype(np.float32)
    scores = rng.dirichlet(np.ones(C)).astype(np.float32)
    return scores, cas, cas.sum(1)


@pytest.mark.parametrize("T, n", [(2, 2), (5, 5), (19, 19), (40, 40), (40, 97), (150, 1000)])
@pytest.mark.parametrize("C", [1, 5])
@pytest.mark.parametrize("kind", ["random", "ties", "flat"])
def test_proposals_equal_the_official_test_path(T, n, C, kind):
    scores, cas, aness = _video(T, C, kind, seed=T * 7 + C)
    try:
        want = oracle_proposals(scores, cas, aness, n)
    except IndexError:
        pytest.skip("the official code raises here")
    got = cola_post.video_proposals(scores, cas.T, aness, n, 25 / 16)
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_array_equal(np.array([g[1:] for g in got]).reshape(-1, 3), np.array([w[1:] for w in want])
                                  .reshape(-1, 3))


def test_isolated_points_make_no_proposal_and_runs_have_outer_inner_scores():
    wtcam = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0])
    mask = np.isin(np.arange(len(wtcam)), [1, 3, 4, 5, 6])
    got = cola_post.oic_proposals(mask, wtcam, np.float32(0.5), 2.0)
    # run 3..6: margin int(3 - 1) = 2 .. int(6 + 1) = 7, outer = mean(wtcam[[2, 7]]) = 0.25
    assert len(got) == 1 and got[0] == pytest.approx((1.0 - 0.25 + 0.2 * 0.5, 6.0, 14.0))


def test_test_sampling_keeps_short_videos_whole():
    assert floor_indices_up_to(7, 10).tolist() == list(range(7))
    assert floor_indices_up_to(10, 10).tolist() == list(range(10))
    assert floor_indices_up_to(25, 10).tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22]


# ---- settings, training and the command line ----
def test_presets_are_the_official_values_and_leave_the_paper_head_alone():
    cola = TrainConfig(features="f", labels="l", out="o", model="cola").resolved()
    assert (cola.lr, cola.batch_size, cola.length, cola.steps, cola.dropout, cola.channels, cola.sampling,
            cola.mining_drop, cola.weight_decay) == (1e-4, 16, 750, 6000, 0.7, 2048, "perturbed", 0.6, 5e-4)
    assert cola.epochs is None  # training ends at the 6000th step, as the official loop
    paper = TrainConfig(features="f", labels="l", out="o").resolved()
    assert (paper.lr, paper.length, paper.epochs, paper.batch_size, paper.steps) == (1e-3, 2000, 40, 16, None)


def test_length_below_20_is_refused_with_the_reason(small_store, tmp_path):
    store, gt, _ = small_store
    with pytest.raises(ActionhasError, match="--length >= 20.*hard snippets"):
        train_cli.main(["--features", str(store), "--labels", str(gt), "--out", str(tmp_path / "r"),
                        "--model", "cola", "--length", "19"])
    assert not (tmp_path / "r").exists()


def test_cola_trains_reproducibly_with_hiding_and_localizes_with_its_test_path(small_store, tmp_path):
    store, gt, _ = small_store
    kw = dict(features=str(store), labels=str(gt), model="cola", length=40, epochs=1, channels=16, workers=0)
    runs = [train(TrainConfig(out=str(tmp_path / name), **kw), progress=False) for name in ("a", "b")]
    a, b = (torch.load(r / "checkpoint.pt", weights_only=True)["model"] for r in runs)
    assert list(a) == ["f_embed.0.weight", "f_embed.0.bias", "f_cls.0.weight"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((runs[0] / "config.json").read_text())["hide_prob"] == 0.5
    out = tmp_path / "p.json"
    assert localize_cli.main(["--run", str(runs[0]), "--features", str(store), "--labels", str(gt), "--subset", "test",
                              "--proposals", "cola", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["external_data"]["proposals"] == "cola" and len(data["results"]) == 30


def test_cola_proposals_on_another_head_name_it(small_store, tmp_path):
    store, gt, _ = small_store
    run = train(TrainConfig(features=str(store), labels=str(gt), out=str(tmp_path / "p"), length=50, epochs=1,
                            channels=8, workers=0), progress=False)
    with pytest.raises(ActionhasError, match="--model paper"):
        localize_cli.main(["--run", str(run), "--features", str(store), "--proposals", "cola",
                           "--out", str(tmp_path / "x.json")])
