import math

import numpy as np
import pytest
import torch

from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.models.basnet import BaSNet, topk_pool


def _tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return BaSNet(6, 3, channels=8, **kw)


@pytest.mark.parametrize("T", [1, 5, 8, 17, 64])
def test_shapes_on_any_length(T):
    out = _tiny()(torch.rand(2, T, 6))
    assert out["cas_base"].shape == out["cas_supp"].shape == (2, 4, T)
    assert out["logits_base"].shape == out["logits_supp"].shape == (2, 4)
    assert out["attention"].shape == (2, T)
    probs, cas, att = _tiny().predict(torch.rand(3, T, 6))
    assert probs.shape == (3, 3) and cas.shape == (3, 3, T) and att.shape == (3, T)


def test_published_defaults():
    net = BaSNet(2048, 20)
    assert net.cas_net[0].out_channels == 2048 and net.cas_net[4].p == 0.7
    assert net.filter[0].out_channels == 512 and net.cas_net[-1].bias is None
    assert net.k_ratio == 8 and net.norm_weight == 1e-4 == defaults.BASNET_NORM_WEIGHT


@pytest.mark.parametrize("T, k", [(7, 1), (8, 1), (16, 2), (750, 93)])
def test_video_logits_are_the_mean_of_the_top_t_over_8(T, k):
    net = _tiny().eval()
    out = net(torch.rand(2, T, 6))
    for branch in ("base", "supp"):
        cas = out[f"cas_{branch}"]
        expected = cas.sort(dim=2, descending=True).values[:, :, :k].mean(dim=2)
        assert torch.allclose(out[f"logits_{branch}"], expected, atol=1e-6)
    assert torch.equal(topk_pool(torch.tensor([[[1.0, 5.0, 3.0, 4.0]]]), 2), torch.tensor([[4.5]]))


def test_suppression_branch_is_the_same_network_on_attention_weighted_features():
    net = _tiny().eval()
    with torch.no_grad():
        net.filter[2].weight.zero_()
        net.filter[2].bias.zero_()  # attention = sigmoid(0) = 0.5 everywhere
    x = torch.rand(2, 12, 6)
    out = net(x)
    assert torch.allclose(out["attention"], torch.full((2, 12), 0.5))
    assert torch.allclose(out["cas_supp"], net.cas_net((0.5 * x).transpose(1, 2)), atol=1e-6)
    assert torch.allclose(out["cas_base"], net.cas_net(x.transpose(1, 2)), atol=1e-6)


def _official_loss(logits_base, logits_supp, attention, labels, norm_weight):
    """BaS_Net_loss (train.py) restated in float32 numpy, as the official code computes it: BCE between each branch's softmaxed scores
    and its label vector (background 1 in base, 0 in suppression) normalised to sum 1, mean over
    batch and C + 1 (logs clamped at -100 as BCELoss), plus norm_weight x the batch mean of the
    attention's L1 norm over time."""
    def bce(logits, background):
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        y = np.concatenate([labels, np.full((len(labels), 1), background, np.float32)], axis=1)
        y /= y.sum(1, keepdims=True)
        return -np.mean(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))
    with np.errstate(divide="ignore"):
        return bce(logits_base, 1.0) + bce(logits_supp, 0.0) + norm_weight * np.abs(attention).sum(1).mean()


@pytest.mark.parametrize("seed", range(6))
def test_loss_equals_the_official_bce_on_generated_batches(seed):
    g = np.random.default_rng(seed)
    B, C, T = int(g.integers(1, 9)), int(g.integers(1, 6)), int(g.integers(1, 40))
    labels = (g.random((B, C)) < 0.4).astype(np.float32)
    labels[np.arange(B), g.integers(0, C, B)] = 1.0  # every video has a class
    logits_b, logits_s = (g.normal(0, 4, (B, C + 1)).astype(np.float32) for _ in range(2))
    if seed == 0:
        logits_b[0] = 50.0 * np.arange(C + 1)  # saturated scores: logs clamped
    attention = g.random((B, T)).astype(np.float32)
    outputs = {"logits_base": torch.from_numpy(logits_b), "logits_supp": torch.from_numpy(logits_s),
               "attention": torch.from_numpy(attention)}
    net = _tiny(norm_weight=1e-4)
    net.num_classes = C
    expected = _official_loss(logits_b, logits_s, attention, labels, 1e-4)
    assert net.loss(outputs, torch.from_numpy(labels)).item() == pytest.approx(expected, abs=1e-6)


def test_loss_terms_on_a_hand_computed_example():
    net = _tiny(norm_weight=0.1)
    outputs = {"logits_base": torch.zeros(1, 4), "logits_supp": torch.zeros(1, 4),
               "attention": torch.tensor([[0.5, 0.25, 0.0]])}
    terms = net.loss_terms(outputs, torch.tensor([[1.0, 0.0, 0.0]]))
    # scores 1/4 each; base target (1/2, 0, 0, 1/2), suppression target (1, 0, 0, 0)
    base = -(2 * (0.5 * math.log(0.25) + 0.5 * math.log(0.75)) + 2 * math.log(0.75)) / 4
    supp = -(math.log(0.25) + 3 * math.log(0.75)) / 4
    assert terms["base"].item() == pytest.approx(base, rel=1e-6)
    assert terms["supp"].item() == pytest.approx(supp, rel=1e-6)
    assert terms["norm"].item() == pytest.approx(0.75)
    assert terms["total"].item() == pytest.approx(base + supp + 0.075, rel=1e-6)


def test_state_dict_lists_the_official_layers_in_their_order():
    shapes = [tuple(v.shape) for v in BaSNet(10, 4).state_dict().values()]
    assert shapes == [(512, 10, 1), (512,), (1, 512, 1), (1,),        # filter: D -> 512 -> 1
                      (2048, 10, 3), (2048,), (2048, 2048, 3), (2048,),  # CAS: D -> 2048 -> 2048 (k 3)
                      (5, 2048, 1)]                                       # -> C + 1 (k 1, no bias)


def test_attention_stays_in_unit_interval_on_extreme_inputs():
    att = _tiny().predict(torch.randn(2, 30, 6) * 1e3)[2]
    assert att.min() >= 0 and att.max() <= 1


def test_video_scores_drop_background_and_predict_is_deterministic_in_train_mode():
    net = _tiny()  # training mode: dropout active in forward
    x = torch.rand(2, 16, 6)
    scores = net.video_scores(net(x))
    assert scores.shape == (2, 3) and (scores.sum(dim=1) < 1).all()
    first, second = net.predict(x), net.predict(x)
    assert all(torch.equal(a, b) for a, b in zip(first, second)) and net.training


def test_predicted_cas_is_the_suppression_softmax_over_classes_and_background_without_background():
    net = _tiny().eval()
    x = torch.rand(2, 16, 6)
    probs, cas, att = net.predict(x)
    out = net(x)
    assert torch.allclose(cas, torch.softmax(out["cas_supp"], dim=1)[:, :3])
    assert torch.allclose(probs, torch.softmax(out["logits_supp"], dim=1)[:, :3])
    assert (cas.sum(dim=1) < 1).all() and torch.equal(att, out["attention"])


def test_bad_shapes_name_what_is_expected():
    net = _tiny()
    with pytest.raises(ActionhasError, match=r"\(batch, time, 6\)"):
        net(torch.rand(2, 10, 5))
    with pytest.raises(ActionhasError, match=r"\(batch, 3\)"):
        net.loss(net(torch.rand(2, 10, 6)), torch.ones(2, 4))


def _spans_data(seed=0, videos=8, T=48, dim=10, classes=3):
    """Background noise on units 3..9; each video's one action (class c) lights unit c over a random span."""
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.rand(videos, T, dim, generator=g)
    x[:, :, 3:] += 0.5
    labels = torch.zeros(videos, classes)
    spans = []
    for v in range(videos):
        c = v % classes
        start = int(torch.randint(0, T - 12, (1,), generator=g))
        x[v, start:start + 10, c] += 2.0
        x[v, start:start + 10, 3:] -= 0.4
        labels[v, c] = 1.0
        spans.append((c, start, start + 10))
    return x, labels, spans


def _fit(steps, seed=0):
    x, labels, spans = _spans_data()
    torch.manual_seed(seed)
    net = BaSNet(x.shape[2], labels.shape[1], channels=32, dropout=0.2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = net.loss(net(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net, losses, (x, labels, spans)


def test_overfits_generated_spans_and_cas_peaks_inside_them():
    net, losses, (x, labels, spans) = _fit(200)
    # floor: the base target (label and background, 1/2 each) keeps a BCE of 2 log(2) / (C + 1)
    assert np.mean(losses[:10]) > 1.0 and np.mean(losses[-10:]) < 2 * math.log(2) / 4 + 0.05
    probs, cas, att = net.predict(x)
    assert torch.equal(probs.argmax(dim=1), labels.argmax(dim=1))
    for v, (c, start, end) in enumerate(spans):
        assert start <= int(cas[v, c].argmax()) < end
        assert att[v, start:end].mean() > att[v].mean()  # the attention favours the action


def test_training_is_deterministic_with_a_seed_on_cpu():
    a, losses_a, _ = _fit(5)
    b, losses_b, _ = _fit(5)
    assert losses_a == losses_b
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
