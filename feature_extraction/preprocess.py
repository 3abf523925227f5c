"""Frames to C3D input, as the weights' origin trained them.

Both origins resize every frame to 128x171 (bilinear) and take the 112x112 crop at (8, 29) (the
centre crop of 128x171), on the 0-255 scale:

- Caffe (Tran et al. 2015; ``c3d.pickle`` and the project's own format): BGR, minus the
  Sports-1M mean, per channel (B 90.25, G 97.66, R 101.41) or Caffe's mean cube;
- mmaction2 (its C3D Sports-1M configs): RGB minus (104, 117, 128), std (1, 1, 1)
  (``img_norm_cfg = dict(mean=[104, 117, 128], std=[1, 1, 1], to_bgr=False)``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actionhas.core.errors import ActionhasError
from feature_extraction.provenance import sha256_array
from feature_extraction.sampling import CLIP_LENGTH


@dataclass(frozen=True)
class Preprocessing:
    """channels: the order the network reads ("BGR" or "RGB"); mean and std per channel in that order, 0-255."""

    channels: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: tuple[int, int] = (128, 171)
    crop: int = 112
    crop_offset: tuple[int, int] = (8, 29)


CAFFE_SPORTS1M = Preprocessing("BGR", (90.25, 97.66, 101.41), (1.0, 1.0, 1.0))
MMACTION2_SPORTS1M = Preprocessing("RGB", (104.0, 117.0, 128.0), (1.0, 1.0, 1.0))
MEAN_CUBE_SHAPE = (3, CLIP_LENGTH) + CAFFE_SPORTS1M.resize  # Caffe's Sports-1M mean: (3, 16, 128, 171), BGR


def load_mean_cube(path: str | Path) -> np.ndarray:
    """Caffe's Sports-1M mean cube from a .npy file: float32 (3, 16, 128, 171), channels first, BGR.

    A leading axis of 1 (as Caffe's blob has) is dropped; any other shape, a channels-last
    (16, 128, 171, 3) cube included, is refused rather than reshaped into wrong values.
    """
    path = Path(path)
    try:
        cube = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ActionhasError(f"{path}: not a readable .npy mean cube ({str(e).splitlines()[0]})") from None
    shape = cube.shape
    if shape[:1] == (1,):
        cube = cube[0]
    if cube.shape != MEAN_CUBE_SHAPE or cube.dtype.kind not in "fiu":
        raise ActionhasError(f"{path}: mean cube of shape {shape} and dtype {cube.dtype}; expected Caffe's "
                             f"{MEAN_CUBE_SHAPE} (channels first, BGR), optionally with a leading 1")
    if not np.isfinite(cube).all():
        raise ActionhasError(f"{path}: mean cube holds NaN or Inf")
    return cube.astype(np.float32)


class Preprocess:
    """RGB uint8 frames -> network-ready 112x112 crops; 16 of them -> one network input.

    Each frame is resized, cropped, reordered and (with a per-channel mean) normalised once, as it
    is decoded, although about five overlapping clips share it: a clip is then only a stack of
    crops. The values are those of doing it all per clip; only Caffe's mean cube, which differs
    along the clip, is subtracted per clip.
    """

    def __init__(self, preprocessing: Preprocessing = CAFFE_SPORTS1M, mean_cube: np.ndarray | None = None):
        if mean_cube is not None and preprocessing.channels != "BGR":
            raise ActionhasError("--mean is Caffe's BGR mean cube; these weights read "
                                 f"{preprocessing.channels} minus {preprocessing.mean}")
        self.preprocessing = preprocessing
        self.mean_cube = mean_cube
        y, x = preprocessing.crop_offset
        self._rows, self._cols = slice(y, y + preprocessing.crop), slice(x, x + preprocessing.crop)
        self.mean = torch.tensor(preprocessing.mean).view(1, 3, 1, 1)   # per frame
        self.std = torch.tensor(preprocessing.std).view(1, 3, 1, 1)
        if mean_cube is not None:   # per clip, channels first as the network input
            self.cube = torch.as_tensor(np.asarray(mean_cube, np.float32))[:, :, self._rows, self._cols].contiguous()
            self.cube_std = self.std.view(3, 1, 1, 1)

    def frames(self, rgb: np.ndarray) -> torch.Tensor:
        """(k, H, W, 3) uint8 RGB -> (k, 3, 112, 112) float32 crops of the 128x171 resize, in the
        network's channel order, minus the mean and over the std unless a mean cube is used."""
        x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=self.preprocessing.resize, mode="bilinear", align_corners=False, antialias=False)
        x = x[:, :, self._rows, self._cols]
        x = x.flip(1) if self.preprocessing.channels == "BGR" else x
        return (x if self.mean_cube is not None else (x - self.mean) / self.std).contiguous()

    def clip(self, frames) -> torch.Tensor:
        """16 frames of ``frames`` ((3, 112, 112) each) -> the (3, 16, 112, 112) network input, contiguous."""
        x = torch.stack(list(frames), dim=1)
        return x if self.mean_cube is None else (x - self.cube) / self.cube_std

    def provenance(self) -> dict:
        """The preprocessing settings a store records (the mean cube by its SHA-256)."""
        p = self.preprocessing
        mean = {"mean_cube_sha256": sha256_array(self.mean_cube)} if self.mean_cube is not None else {"mean": list(p.mean)}
        return {"resize": list(p.resize), "resize_interpolation": "bilinear", "crop": p.crop,
                "crop_offset": list(p.crop_offset), "channel_order": p.channels, "std": list(p.std), **mean}
