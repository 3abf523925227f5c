"""BaS-Net, the background-suppression head (Lee, Uh, Byun, AAAI 2020), as its official code
(github.com/Pilhyeon/BaSNet-pytorch at c8c6bbd8, model.py and train.py).

A filtering module turns each feature into a class-agnostic foreground attention A(t) in [0, 1]
(two 1x1 temporal convs, then a sigmoid). One class-activation network, 3-wide temporal convs
over C action classes plus a background class, runs twice with shared weights:

- base branch, on the features x(t): trained towards the video's classes *and* background, since
  an untrimmed video always contains background;
- suppression branch, on A(t) * x(t): trained towards the video's classes and *no* background, so
  the attention must switch background features off for the branch to succeed.

Video scores are the softmax over C + 1 of the mean of the top k = T // 8 activations of each
class over time (multiple-instance pooling; T is the sampled length, 750 officially, so k = 93).
Each branch is trained with binary cross-entropy (mean over batch and C + 1) between its scores
and its label vector normalised to sum 1, plus ``norm_weight`` times the batch mean of the L1
norm of A over time. Hide-and-Seek, when used, hides input features before ``forward``; nothing
about hiding lives here. Localization uses the suppression branch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actionhas.core import defaults
from actionhas.models.inference import eval_forward
from actionhas.core.errors import ActionhasError


def topk_pool(cas: Tensor, k_ratio: int) -> Tensor:
    """(B, C, T) activations -> (B, C) mean of each class's k = T // k_ratio largest values.

    T < k_ratio gives k = 1 here; the official code averages an empty set there (NaN)."""
    k = max(1, cas.shape[2] // k_ratio)
    return cas.topk(k, dim=2).values.mean(dim=2)


class BaSNet(nn.Module):
    """Input (B, T, D) features, float32, any T >= 1; see the module docstring for the design.

    Layer sizes, dropout, k and the norm weight default to the official release (``defaults``):
    the filter is D -> 512 -> 1 with LeakyReLU then sigmoid; the CAS network is two 3-wide convs
    D -> channels -> channels with LeakyReLU, dropout, and a bias-free 1x1 conv to C + 1 classes.
    The state dict lists these tensors in the official order (filter, then CAS network, each
    layer's weight before its bias), so the official ``BaS_Net`` loads them by order and shape.
    """

    def __init__(self, feature_dim: int, num_classes: int, channels: int = defaults.BASNET_CHANNELS,
                 dropout: float = defaults.BASNET_DROPOUT, k_ratio: int = defaults.BASNET_K_RATIO,
                 norm_weight: float = defaults.BASNET_NORM_WEIGHT):
        super().__init__()
        if k_ratio < 1:
            raise ActionhasError(f"BaS-Net k_ratio must be >= 1, got {k_ratio}")
        self.feature_dim, self.num_classes = feature_dim, num_classes
        self.k_ratio, self.norm_weight = k_ratio, norm_weight
        self.filter = nn.Sequential(
            nn.Conv1d(feature_dim, defaults.BASNET_ATTENTION_CHANNELS, kernel_size=1), nn.LeakyReLU(),
            nn.Conv1d(defaults.BASNET_ATTENTION_CHANNELS, 1, kernel_size=1), nn.Sigmoid())
        self.cas_net = nn.Sequential(
            nn.Conv1d(feature_dim, channels, kernel_size=3, padding=1), nn.LeakyReLU(),
            nn.Conv1d(channels, channels, kernel_size=3, padding=1), nn.LeakyReLU(),
            nn.Dropout(dropout),
            nn.Conv1d(channels, num_classes + 1, kernel_size=1, bias=False))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Everything the loss and localization need, from one pass over ``x`` (B, T, D):

        ``cas_base``, ``cas_supp`` (B, C + 1, T) activations of each branch (last row background);
        ``logits_base``, ``logits_supp`` (B, C + 1) top-k pooled activations (softmax gives the
        video scores); ``attention`` (B, T) foreground attention in [0, 1].
        """
        if x.dim() != 3 or x.shape[2] != self.feature_dim:
            raise ActionhasError(f"BaS-Net expects features (batch, time, {self.feature_dim}), got {tuple(x.shape)}")
        seq = x.transpose(1, 2)
        attention = self.filter(seq)
        cas_base = self.cas_net(seq)
        cas_supp = self.cas_net(seq * attention)
        return {"cas_base": cas_base, "cas_supp": cas_supp, "attention": attention[:, 0],
                "logits_base": topk_pool(cas_base, self.k_ratio), "logits_supp": topk_pool(cas_supp, self.k_ratio)}

    def loss_terms(self, outputs: dict[str, Tensor], labels: Tensor) -> dict[str, Tensor]:
        """``base``, ``supp``, ``norm`` and their weighted sum ``total`` (scalars): the official
        ``BaS_Net_loss``.

        labels: (B, C) multi-hot float without a background column. The base target appends
        background = 1, the suppression target background = 0; each is normalised to sum 1 and
        compared with the branch's softmaxed video scores by ``binary_cross_entropy`` (its
        complement terms included, mean over B x (C + 1)). ``norm``: the attention's L1 norm over
        time, averaged over the batch (its 1e-4 weight was set for T = 750).
        """
        if labels.dim() != 2 or labels.shape[1] != self.num_classes:
            raise ActionhasError(f"BaS-Net labels must be (batch, {self.num_classes}) multi-hot, "
                                 f"got {tuple(labels.shape)}")
        background = labels.new_ones(len(labels), 1)
        terms = {}
        for branch, target in (("base", torch.cat([labels, background], dim=1)),
                               ("supp", torch.cat([labels, 0 * background], dim=1))):
            scores = F.softmax(outputs[f"logits_{branch}"], dim=1)
            terms[branch] = F.binary_cross_entropy(scores, target / target.sum(dim=1, keepdim=True))
        terms["norm"] = outputs["attention"].abs().sum(dim=1).mean()
        terms["total"] = terms["base"] + terms["supp"] + self.norm_weight * terms["norm"]
        return terms

    def loss(self, outputs: dict[str, Tensor], labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Scalar training loss: base + suppression BCE + norm_weight * attention L1."""
        return self.loss_terms(outputs, labels)["total"]

    def video_scores(self, outputs: dict[str, Tensor]) -> Tensor:
        """(B, C) class probabilities of the suppression branch, background dropped."""
        return F.softmax(outputs["logits_supp"], dim=1)[:, : self.num_classes]

    @torch.no_grad()
    def suppression_outputs(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The official test path's inputs, in eval mode: (B, C) suppression-branch video scores
        (softmax over C + 1, background dropped) and (B, C, T) raw suppression activations."""
        out = eval_forward(self, x)
        return self.video_scores(out), out["cas_supp"][:, : self.num_classes]

    @torch.no_grad()
    def predict(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, C) video-level class probabilities (suppression branch, background dropped), (B, C, T)
        class activation sequence for localization, (B, T) attention; dropout is off throughout.

        The sequence is the suppression branch's softmax over the C + 1 classes at each time step,
        background dropped: where background takes the probability mass the action classes get
        little, so thresholds of the per-class min-max normalised sequence
        (``actionhas.localization.proposals``) keep background steps out. (The official test path,
        ``--proposals basnet``, normalises the raw activations instead: ``suppression_outputs``.)
        """
        out = eval_forward(self, x)
        cas = F.softmax(out["cas_supp"], dim=1)[:, : self.num_classes]
        return self.video_scores(out), cas, out["attention"]
