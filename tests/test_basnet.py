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


def test_loss_targets_background_one_in_base_and_zero_in_suppression():
    net = _tiny(norm_weight=0.1)
    logits = torch.tensor([[1.0, 2.0, 0.0, 3.0]])  # classes 0..2, background last
    outputs = {"logits_base": logits, "logits_supp": logits, "attention": torch.tensor([[0.5, 0.25, 0.0]])}
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    log_p = np.array([1.0, 2.0, 0.0, 3.0]) - math.log(sum(math.exp(v) for v in (1.0, 2.0, 0.0, 3.0)))
    base = -(0.5 * log_p[0] + 0.5 * log_p[3])  # label and background share the mass
    supp = -log_p[0]                          # label only
    terms = net.loss_terms(outputs, labels)
    assert terms["base"].item() == pytest.approx(base, rel=1e-6)
    assert terms["supp"].item() == pytest.approx(supp, rel=1e-6)
    assert terms["norm"].item() == pytest.approx(0.75)
    assert net.loss(outputs, labels).item() == pytest.approx(base + supp + 0.1 * 0.75, rel=1e-6)


def test_two_labels_split_the_mass_and_norm_is_l1_over_time_averaged_over_videos():
    net = _tiny(norm_weight=1.0)
    logits = torch.zeros(2, 4)
    outputs = {"logits_base": logits, "logits_supp": logits, "attention": torch.tensor([[0.5, 0.25], [1.0, 0.0]])}
    terms = net.loss_terms(outputs, torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    assert terms["base"].item() == pytest.approx(math.log(4))  # uniform scores: any target costs log(C + 1)
    assert terms["norm"].item() == pytest.approx((0.75 + 1.0) / 2)


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
    # floor: the base target (label and background, 1/2 each) keeps an entropy of log 2
    assert np.mean(losses[:10]) > 2.0 and np.mean(losses[-10:]) < math.log(2) + 0.1
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
