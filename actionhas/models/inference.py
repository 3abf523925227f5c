"""A head's forward pass for prediction: eval mode (dropout off) without leaving the head there."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


@torch.no_grad()
def eval_forward(head: nn.Module, x: Tensor):
    """``head(x)`` in eval mode and without gradients; the head's train/eval state is restored."""
    was_training = head.training
    head.eval()
    try:
        return head(x)
    finally:
        head.train(was_training)


@torch.no_grad()
def head_outputs(model: nn.Module, features: np.ndarray, device: str = "cpu"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(C,) class probabilities, (C, n) activation sequence and (n,) attention (or None) of one
    video's (n, D) features, through the head's ``predict``."""
    probs, cas, attention = model.predict(torch.from_numpy(features).unsqueeze(0).to(device))
    return (probs[0].cpu().numpy(), cas[0].float().cpu().numpy(),
            None if attention is None else attention[0].float().cpu().numpy())
