"""Which classes a video is localized for, when its own are not given: the one home of class picking.

``at_least`` (every class scoring >= a threshold, the top one when none does: CoLA's test rule,
``--proposals multi`` and ``--min-prob``) and ``top_k``; BaS-Net's official rule, which has no
fallback, is ``localization.basnet.selected_classes``.
"""
from __future__ import annotations

import numpy as np

from actionhas.core.errors import ActionhasError


def _checked(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1 or not len(scores) or not np.isfinite(scores).all():
        raise ActionhasError(f"class scores must be a finite 1-D array, got shape {scores.shape}")
    return scores


def at_least(scores: np.ndarray, threshold: float, by_score: bool = False) -> list[int]:
    """Indices of the classes scoring >= ``threshold`` (in index order, or by descending score with
    ``by_score``: ties in index order); the best-scoring class alone when none does (every video
    is taken to hold an action)."""
    scores = _checked(scores)
    ranked = np.argsort(-scores, kind="stable") if by_score else np.arange(len(scores))
    chosen = [int(c) for c in ranked if scores[c] >= threshold]
    return chosen or [int(np.argmax(scores))]


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """The ``k`` best-scoring classes, best first (ties in index order)."""
    return [int(c) for c in np.argsort(-_checked(scores), kind="stable")[:k]]
