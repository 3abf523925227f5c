"""Generated images where each class has a small, highly discriminative part and a larger body
whose cues are each shared with one other class: the case Hide-and-Seek is for.

The body is an ellipse with a colour family ({0, 1} share one, {2, 3} the other, ...) and a
stripe direction (horizontal for even classes, vertical for odd): together class-specific,
each alone shared. The part is a small square of the class's own bright colour, somewhere on
the body. The ground-truth box is the body's. Written as an ImageFolder training directory, a
validation directory and ILSVRC-style ``LOC_val_solution.csv`` / ``LOC_synset_mapping.txt``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

PART_COLOURS = np.array([[255, 40, 40], [255, 230, 0], [0, 230, 255], [255, 0, 255],
                         [255, 140, 0], [120, 255, 80], [255, 255, 255], [0, 90, 255]], np.float64)
BODY_COLOURS = np.array([[70, 110, 170], [150, 120, 60], [90, 150, 90], [140, 80, 140]], np.float64)


@dataclass
class ImageSpec:
    num_classes: int = 4
    train_per_class: int = 100
    val_per_class: int = 25
    size: int = 48
    part: int = 6
    stripe_contrast: float = 0.15   # weak, noisy body cues ...
    body_jitter: float = 25.0
    body_noise: float = 25.0        # ... against a part of pure, class-specific colour
    seed: int = 0


def _image(spec: ImageSpec, c: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    s = spec.size
    img = gaussian_filter(rng.uniform(0, 255, size=(s, s, 3)), sigma=(4, 4, 0)) * 0.8
    bw, bh = rng.integers(s // 2, int(s * 0.8), size=2)
    x0, y0 = rng.integers(0, s - bw), rng.integers(0, s - bh)
    yy, xx = np.mgrid[0:s, 0:s]
    cx, cy = x0 + (bw - 1) / 2, y0 + (bh - 1) / 2
    inside = ((xx - cx) / (bw / 2)) ** 2 + ((yy - cy) / (bh / 2)) ** 2 <= 1
    stripes = np.sin((yy if c % 2 == 0 else xx) * np.pi / 2.5) > 0
    colour = BODY_COLOURS[(c // 2) % len(BODY_COLOURS)] + rng.normal(0, spec.body_jitter, size=3)
    body = colour * (1 + spec.stripe_contrast * (stripes[..., None] - 0.5))
    img[inside] = body[inside] + rng.normal(0, spec.body_noise, size=(int(inside.sum()), 3))
    ys, xs = np.nonzero(inside)
    box = [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]
    k = int(rng.integers(len(ys)))  # the part sits on the body
    py = int(np.clip(ys[k] - spec.part // 2, box[1], box[3] - spec.part + 1))
    px = int(np.clip(xs[k] - spec.part // 2, box[0], box[2] - spec.part + 1))
    img[py:py + spec.part, px:px + spec.part] = PART_COLOURS[c % len(PART_COLOURS)]
    return np.clip(img, 0, 255).astype(np.uint8), box


def make_image_dataset(root: str | Path, spec: ImageSpec = ImageSpec()) -> dict[str, Path]:
    """Write train/, val/, LOC_val_solution.csv and LOC_synset_mapping.txt under ``root``."""
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    synsets = [f"n{c:08d}" for c in range(spec.num_classes)]
    rows = []
    for split, per_class in (("train", spec.train_per_class), ("val", spec.val_per_class)):
        for c, syn in enumerate(synsets):
            (root / split / syn).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img, box = _image(spec, c, rng)
                name = f"{split}_{syn}_{i:05d}"
                Image.fromarray(img).save(root / split / syn / f"{name}.png")
                if split == "val":
                    rows.append(f"{name},{syn} {' '.join(map(str, box))}")
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{s} shape class {c}\n" for c, s in enumerate(synsets)))
    return {"train": root / "train", "val": root / "val", "boxes": root / "LOC_val_solution.csv",
            "synsets": root / "LOC_synset_mapping.txt"}
