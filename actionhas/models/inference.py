"""A head's forward pass for prediction: eval mode (dropout off) without leaving the head there."""
from __future__ import annotations

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
