"""CoLA, snippet contrastive learning (Zhang et al., CVPR 2021), as its official release computes it.

An embedding conv (3 wide, D -> 2048, ReLU) turns features into snippet embeddings; dropout and a
bias-free 1x1 conv with ReLU give the class activation sequence (CAS); actionness is the CAS
summed over classes. Video scores: softmax over classes of each class's mean top-(T // 5) CAS.

The loss adds, to the cross-entropy of the video scores, 0.01 x SniCo: an InfoNCE that pulls the
mean *hard* action snippet towards the mean *easy* action snippet, away from each easy background
snippet, and the same for hard background. Easy snippets are the T // 5 highest (action) and
lowest (background) actionness under a random drop mask; hard ones the T // 20 highest actionness
in the rings that erosion (inside) and dilation (outside) of the above-median actionness leave.
Mining only picks which embeddings the contrast sees, so it lives in the loss, drawing its mask
from the caller's generator. Hide-and-Seek, when used, hides input features before ``forward``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor, nn

from actionhas.core import defaults
from actionhas.models.inference import eval_forward
from actionhas.core.errors import ActionhasError


def top_snippets(scores: Tensor, embeddings: Tensor, k: int) -> Tensor:
    """(B, T) scores, (B, T, E) embeddings -> (B, k, E) embeddings of the k highest scores.

    Ties fall as torch's (unstable) descending sort puts them, the official choice.
    """
    order = scores.sort(descending=True, dim=1)[1][:, :k]
    return torch.gather(embeddings, 1, order.unsqueeze(2).expand(-1, -1, embeddings.shape[2]))


def mining_mask(shape: torch.Size, drop: float, device, generator: torch.Generator | None = None) -> Tensor:
    """The official mask: dropout applied to ones, i.e. 0 with probability ``drop``, else 1 / (1 - drop)."""
    if drop == 0:
        return torch.ones(shape, device=device)
    if drop == 1:
        return torch.zeros(shape, device=device)
    keep = torch.full(shape, 1 - drop, device=device)
    return torch.bernoulli(keep, generator=generator).div_(1 - drop)


def easy_snippets(actionness: Tensor, embeddings: Tensor, k: int, mask: Tensor) -> tuple[Tensor, Tensor]:
    """(easy action, easy background) (B, k, E): top k of actionness x mask and of
    (max actionness - actionness) x mask."""
    reverse = actionness.max(dim=1, keepdim=True)[0] - actionness
    return top_snippets(actionness * mask, embeddings, k), top_snippets(reverse * mask, embeddings, k)


def hard_regions(actionness: np.ndarray, inner: int = defaults.COLA_ERODE_INNER,
                 outer: int = defaults.COLA_ERODE_OUTER) -> tuple[np.ndarray, np.ndarray]:
    """(B, T) actionness -> (B, T) 0/1 rings (inside, outside) of the actionness above its median.

    Inside: eroded by ``inner`` but not by ``outer``; outside: dilated by ``outer`` but not by
    ``inner`` (scipy's binary morphology along time, as the official code calls it).
    """
    above = np.where(actionness > np.median(actionness, 1, keepdims=True), 1.0, 0.0)

    def morph(op, width: int) -> np.ndarray:
        return op(above, structure=np.ones((1, width))).astype(actionness.dtype)

    return (morph(ndimage.binary_erosion, inner) - morph(ndimage.binary_erosion, outer),
            morph(ndimage.binary_dilation, outer) - morph(ndimage.binary_dilation, inner))


def hard_snippets(actionness: Tensor, embeddings: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(hard action, hard background) (B, k, E): the top k of the actionness inside each ring."""
    inside, outside = hard_regions(actionness.detach().cpu().numpy())
    return (top_snippets(actionness * actionness.new_tensor(inside), embeddings, k),
            top_snippets(actionness * actionness.new_tensor(outside), embeddings, k))


def info_nce(query: Tensor, positive: Tensor, negatives: Tensor, temperature: float = defaults.COLA_TEMPERATURE
             ) -> Tensor:
    """Mean over the batch of InfoNCE: query (B, E), positive (B, E), negatives (B, K, E), all L2-normalised
    along E, cosine logits / temperature, the positive first."""
    q, p, n = F.normalize(query, dim=1), F.normalize(positive, dim=1), F.normalize(negatives, dim=2)
    logits = torch.cat([(q * p).sum(1, keepdim=True), torch.einsum("be,bke->bk", q, n)], dim=1) / temperature
    return F.cross_entropy(logits, logits.new_zeros(len(logits), dtype=torch.long))


def snico_loss(easy_act: Tensor, easy_bkg: Tensor, hard_act: Tensor, hard_bkg: Tensor,
               temperature: float = defaults.COLA_TEMPERATURE) -> Tensor:
    """Hard action against easy action (easy background negatives) + hard background against easy
    background (easy action negatives); each (B, k, E)."""
    return (info_nce(hard_act.mean(1), easy_act.mean(1), easy_bkg, temperature)
            + info_nce(hard_bkg.mean(1), easy_bkg.mean(1), easy_act, temperature))


class CoLA(nn.Module):
    """Input (B, T, D) features, float32; layer sizes and loss settings default to the official release.

    Parameters are registered in the official order (``f_embed``, then ``f_cls``).
    """

    def __init__(self, feature_dim: int, num_classes: int, channels: int = defaults.COLA_CHANNELS,
                 dropout: float = defaults.COLA_DROPOUT, mining_drop: float = defaults.COLA_MINING_DROP):
        super().__init__()
        self.feature_dim, self.num_classes, self.mining_drop = feature_dim, num_classes, mining_drop
        self.f_embed = nn.Sequential(nn.Conv1d(feature_dim, channels, kernel_size=3, padding=1), nn.ReLU())
        self.f_cls = nn.Sequential(nn.Conv1d(channels, num_classes, kernel_size=1, bias=False), nn.ReLU())
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """``embeddings`` (B, T, channels), ``cas`` (B, T, C) and ``actionness`` (B, T) of ``x`` (B, T, D)."""
        if x.dim() != 3 or x.shape[2] != self.feature_dim:
            raise ActionhasError(f"CoLA expects features (batch, time, {self.feature_dim}), got {tuple(x.shape)}")
        embedded = self.f_embed(x.transpose(1, 2))
        cas = self.f_cls(self.dropout(embedded)).transpose(1, 2)
        return {"embeddings": embedded.transpose(1, 2), "cas": cas, "actionness": cas.sum(dim=2)}

    def video_scores(self, outputs: dict[str, Tensor]) -> Tensor:
        """(B, C) softmax over classes of the mean top-k CAS, k = T // 5.

        k is at least 1: below 5 features the official code averages nothing and scores NaN.
        """
        cas = outputs["cas"]
        k = max(1, cas.shape[1] // defaults.COLA_R_EASY)
        return F.softmax(cas.sort(descending=True, dim=1)[0][:, :k].mean(1), dim=1)

    def loss_terms(self, outputs: dict[str, Tensor], labels: Tensor,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``action`` (BCE of the video scores against labels / their sum), ``snico`` and ``total``.

        The mining mask is drawn from ``generator`` in training mode (none in eval mode, as
        dropout). T < 20 mines no hard snippet and gives a NaN contrast, as the official code does.
        """
        if labels.dim() != 2 or labels.shape[1] != self.num_classes:
            raise ActionhasError(f"CoLA labels must be (batch, {self.num_classes}) multi-hot, got {tuple(labels.shape)}")
        actionness, embeddings = outputs["actionness"], outputs["embeddings"]
        steps = actionness.shape[1]
        drop = self.mining_drop if self.training else 0.0
        mask = mining_mask(actionness.shape, drop, actionness.device, generator)
        easy_act, easy_bkg = easy_snippets(actionness, embeddings, steps // defaults.COLA_R_EASY, mask)
        hard_act, hard_bkg = hard_snippets(actionness, embeddings, steps // defaults.COLA_R_HARD)
        # a video without labels (background only) targets zeros; the official 0 / 0 would be NaN
        target = labels / labels.sum(dim=1, keepdim=True).clamp(min=1)
        action = F.binary_cross_entropy(self.video_scores(outputs), target)
        snico = snico_loss(easy_act, easy_bkg, hard_act, hard_bkg)
        return {"action": action, "snico": snico, "total": action + defaults.COLA_SNICO_WEIGHT * snico}

    def loss(self, outputs: dict[str, Tensor], labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Scalar training loss: action BCE + 0.01 x SniCo."""
        return self.loss_terms(outputs, labels, generator)["total"]

    @torch.no_grad()
    def predict(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, C) video scores, (B, C, T) CAS and (B, T) actionness, dropout off."""
        out = eval_forward(self, x)
        return self.video_scores(out), out["cas"].transpose(1, 2), out["actionness"]
