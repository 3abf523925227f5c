"""The paper's video classifier: two 1x1 convolutions over time, global pooling, a linear classifier.

Because every layer before the pooling is 1x1 over time, the same network runs on a sequence of
any length; the class activation map CAM(c, t) = sum_i W(c, i) F_i(t) (paper, Eq. 1) is the
classifier applied at every time step, so localization uses all of a video's features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actionhas.core import defaults


class HaSNet(nn.Module):
    """Input (B, T, D) features; output (B, C) logits (softmax gives the class probabilities)."""

    def __init__(self, feature_dim: int, num_classes: int, channels: int = defaults.CHANNELS,
                 pool: str = defaults.POOL, dropout: float = defaults.DROPOUT):
        super().__init__()
        self.pool = pool
        self.conv1 = nn.Conv1d(feature_dim, channels, kernel_size=1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    def feature_maps(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, channels, T): the maps F_i(t) the CAM is built from."""
        h = F.relu(self.conv1(x.transpose(1, 2)))
        return F.relu(self.conv2(self.dropout(h)))

    def _pool(self, maps: Tensor) -> Tensor:
        return maps.amax(dim=2) if self.pool == "max" else maps.mean(dim=2)

    def _cam(self, maps: Tensor) -> Tensor:
        return torch.einsum("ci,bit->bct", self.classifier.weight, maps)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(self._pool(self.feature_maps(x))))

    def cam(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, C, T) class activation maps, without the classifier bias."""
        return self._cam(self.feature_maps(x))

    def logits_and_cam(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C) logits and (B, C, T) CAMs from one pass over the sequence."""
        maps = self.feature_maps(x)
        return self.classifier(self.dropout(self._pool(maps))), self._cam(maps)

    # The head protocol the trainer and the localizer use (every head in actionhas.models has it):
    # loss(forward output, labels, generator) (the generator serves heads that draw, such as CoLA's mining),
    # video_scores(forward output) = (B, C) class probabilities, predict(x).
    def loss(self, logits: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return multilabel_cross_entropy(logits, labels)

    def video_scores(self, logits: Tensor) -> Tensor:
        """(B, C) video-level class probabilities, as every head's ``video_scores`` gives them."""
        return torch.softmax(logits, dim=1)

    @torch.no_grad()
    def predict(self, x: Tensor) -> tuple[Tensor, Tensor, None]:
        """(B, C) class probabilities, (B, C, T) CAMs, and no attention."""
        logits, cam = self.logits_and_cam(x)
        return self.video_scores(logits), cam, None


def multilabel_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Softmax cross-entropy against the label vector normalised to sum 1.

    A video with two classes (CliffDiving and Diving) asks for half of the probability mass on
    each; with one class this is ordinary cross-entropy. Rows without a label are skipped.
    """
    mass = labels.sum(dim=1, keepdim=True)
    keep = mass.squeeze(1) > 0
    target = labels[keep] / mass[keep]
    return -(target * F.log_softmax(logits[keep], dim=1)).sum(dim=1).mean()
