"""Hide-and-Seek's hiding core, shared by the video and the image side.

During training only, an input is split into a grid of cells along one axis (video: time) or two
(image or conv map: height and width); each cell of each sample is hidden with probability p
and every value in it replaced by the fill: the data mean (the mean C3D feature, the mean pixel,
zero after mean/std normalisation). The mean keeps the expected first-layer response of hidden
and visible inputs equal (paper, section 3.1), so the network sees the same statistics at test
time, when nothing is hidden. A cell covers every channel; cells at the far edge may be partial.

``hide_cells`` is the pure function; ``TemporalHiding`` and ``PatchHiding`` are the modules a
training loop holds, inactive in eval mode.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn


def cell_mask(batch: int, sizes: Sequence[int], cell_sizes: Sequence[int], p: float,
              generator: torch.Generator | None = None, device: torch.device | str | None = None) -> Tensor:
    """Boolean (batch, *sizes) mask, True where hidden, constant inside each cell.

    One Bernoulli(p) draw per cell per sample, then each draw is repeated over its cell.
    """
    cells = [math.ceil(s / c) for s, c in zip(sizes, cell_sizes)]
    gen_device = generator.device if generator is not None else device
    draws = torch.rand((batch, *cells), generator=generator, device=gen_device) < p
    mask = draws.to(device)
    for axis, (size, cell) in enumerate(zip(sizes, cell_sizes), start=1):
        mask = mask.repeat_interleave(cell, dim=axis).narrow(axis, 0, size)
    return mask


def hide_cells(x: Tensor, axes: Sequence[int], cell_size: int | Sequence[int], p: float,
               fill: Tensor | float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """Return ``x`` with random cells replaced by ``fill``; dim 0 of ``x`` is the batch.

    axes: the one or two dims split into cells, e.g. (1,) for (B, T, D) features or (2, 3) for
        (B, C, H, W) images. Every other dim (channels) shares the cell's fate.
    cell_size: cell length along each axis (an int applies to all axes), in elements.
    fill: broadcastable to ``x`` (e.g. a (D,) mean feature for (B, T, D), (C, 1, 1) for images).
    """
    axes = [a % x.dim() for a in axes]
    if 0 in axes:
        raise ValueError("dim 0 is the batch; hide along other axes")
    sizes = [x.shape[a] for a in axes]
    cells = [cell_size] * len(axes) if isinstance(cell_size, int) else list(cell_size)
    if len(cells) != len(axes) or any(c <= 0 for c in cells):
        raise ValueError(f"need one positive cell size per axis, got {cell_size} for axes {axes}")
    if p <= 0:
        return x
    mask = cell_mask(x.shape[0], sizes, cells, p, generator, x.device)
    shape = [x.shape[0]] + [x.shape[d] if d in axes else 1 for d in range(1, x.dim())]
    fill = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
    return torch.where(mask.view(shape), fill, x)


class TemporalHiding(nn.Module):
    """Hide ``segments`` equal runs of a feature sequence, each with probability ``p`` (training only).

    Input (B, T, D) with ``time_dim=1`` or (B, D, T) with ``time_dim=2``; ``fill`` is the (D,)
    dataset-mean feature. Segment length is ceil(T / segments): 100 features for T=2000, 20 segments.
    """

    def __init__(self, fill: Tensor, segments: int = 20, p: float = 0.5, time_dim: int = 1):
        super().__init__()
        self.register_buffer("fill", torch.as_tensor(fill, dtype=torch.float32), persistent=False)
        self.segments, self.p, self.time_dim = segments, p, time_dim

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.training or self.p <= 0:
            return x
        fill = self.fill if self.time_dim == x.dim() - 2 else self.fill[:, None]
        seg = math.ceil(x.shape[self.time_dim] / self.segments)
        return hide_cells(x, (self.time_dim,), seg, self.p, fill.to(x.dtype), generator)

    def extra_repr(self) -> str:
        return f"segments={self.segments}, p={self.p}, time_dim={self.time_dim}"


class PatchHiding(nn.Module):
    """Hide SxS patches of (B, C, H, W) images or conv maps, each with probability ``p`` (training only).

    patch_sizes: one size (the paper's HaS-16/32/44/56) or a set drawn per sample on every call
        ("Mixed", where 0 means that sample is not hidden).
    fill: the mean pixel as (C,) or a scalar; 0 for inputs already normalised by mean and std.
    """

    def __init__(self, patch_sizes: int | Sequence[int] = 32, p: float = 0.5, fill: Tensor | float = 0.0):
        super().__init__()
        self.patch_sizes = [patch_sizes] if isinstance(patch_sizes, int) else list(patch_sizes)
        self.p = p
        self.register_buffer("fill", torch.as_tensor(fill, dtype=torch.float32).reshape(-1, 1, 1), persistent=False)

    def forward(self, x: Tensor, generator: torch.Generator | None = None, fill: Tensor | None = None) -> Tensor:
        """``fill`` (C,) overrides the module's own, e.g. a conv layer's mean activation."""
        if not self.training or self.p <= 0:
            return x
        if x.dim() == 3:  # one (C, H, W) image, as a per-sample transform
            return self.forward(x[None], generator, fill)[0]
        if len(self.patch_sizes) == 1:
            sizes = torch.full((x.shape[0],), self.patch_sizes[0])
        else:
            pick = torch.randint(len(self.patch_sizes), (x.shape[0],), generator=generator,
                                 device=generator.device if generator is not None else "cpu")
            sizes = torch.tensor(self.patch_sizes)[pick.cpu()]
        fill = (self.fill if fill is None else fill.reshape(-1, 1, 1)).to(x.dtype)
        out = x
        for size in sizes.unique().tolist():  # a handful of distinct sizes, never a loop over cells
            if size <= 0:
                continue
            rows = (sizes == size).nonzero().flatten().to(x.device)
            hidden = hide_cells(x.index_select(0, rows), (2, 3), int(size), self.p, fill, generator)
            out = out.index_copy(0, rows, hidden)
        return out

    def extra_repr(self) -> str:
        return f"patch_sizes={self.patch_sizes}, p={self.p}"
