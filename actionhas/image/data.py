"""Image data: ImageFolder directories, ILSVRC boxes (VOC XML or LOC_val_solution.csv), synsets,
and the tensor transforms training and 10-crop testing need (plain torch, Pillow decoding).

Images become float (3, H, W) tensors normalised by a per-channel mean and std, so the mean
pixel is 0: the fill of hidden patches is then explicitly 0.
"""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from actionhas.core.errors import ActionhasError
from actionhas.image.defaults import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402,F401 (read by the 10-crop transforms)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".JPEG"}


def load_image(path: str | Path) -> torch.Tensor:
    """(3, H, W) float in [0, 1]; an unreadable file is an error naming it."""
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ActionhasError(f"{path}: unreadable image ({type(e).__name__})") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


def image_folder(root: str | Path, classes: list[str] | None = None) -> tuple[list[tuple[Path, int]], list[str]]:
    """(path, class index) pairs of ``root/<class>/<image>``, sorted, and the class list."""
    root = Path(root)
    if not root.is_dir():
        raise ActionhasError(f"{root}: not a directory of class folders")
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    classes = classes or found
    index = {c: i for i, c in enumerate(classes)}
    unknown = [c for c in found if c not in index]
    if unknown:
        raise ActionhasError(f"{root}: class folder {unknown[0]!r} is not among the run's classes")
    items = [(p, index[c]) for c in found for p in sorted((root / c).iterdir()) if p.suffix in IMAGE_EXTENSIONS]
    if not items:
        raise ActionhasError(f"{root}: no images found")
    return items, classes


def read_synset_mapping(path: str | Path) -> dict[str, str]:
    """LOC_synset_mapping.txt lines ``n01440764 tench, Tinca tinca`` -> {synset: name}."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            synset, _, name = line.partition(" ")
            out[synset] = name.strip()
    return out


def read_loc_solution(path: str | Path) -> dict[str, list[tuple[str, list[float]]]]:
    """LOC_val_solution.csv (``ImageId,PredictionString`` with ``syn x0 y0 x1 y1 ...``)."""
    out: dict[str, list] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not {"ImageId", "PredictionString"} <= set(reader.fieldnames or []):
            raise ActionhasError(f"{path}: header must be ImageId,PredictionString")
        for n, row in enumerate(reader, start=2):
            parts = row["PredictionString"].split()
            if not parts or len(parts) % 5:
                raise ActionhasError(f"{path}:{n}: {row['ImageId']}: PredictionString needs groups of 'synset x0 y0 x1 y1'")
            try:
                out[row["ImageId"]] = [(parts[i], [float(v) for v in parts[i + 1:i + 5]]) for i in range(0, len(parts), 5)]
            except ValueError:
                raise ActionhasError(f"{path}:{n}: {row['ImageId']}: box coordinates are not numbers") from None
    return out


def read_voc_boxes(directory: str | Path) -> dict[str, list[tuple[str, list[float]]]]:
    """The devkit's VOC-style XML files (one per image) -> {image id: [(synset, box)]}."""
    out = {}
    for path in sorted(Path(directory).glob("*.xml")):
        try:
            root = ET.parse(path).getroot()
            objects = [(o.findtext("name"), [float(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
                       for o in root.iter("object")]
        except (ET.ParseError, AttributeError, TypeError, ValueError):
            raise ActionhasError(f"{path}: not a VOC annotation with object/name and bndbox") from None
        out[path.stem] = objects
    if not out:
        raise ActionhasError(f"{directory}: no .xml box files")
    return out


def read_boxes(path: str | Path) -> dict[str, list[tuple[str, list[float]]]]:
    path = Path(path)
    return read_voc_boxes(path) if path.is_dir() else read_loc_solution(path)


def resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(img[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]


def normalize(img: torch.Tensor, mean, std) -> torch.Tensor:
    return (img - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def random_crop_flip(img: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
    """A random ``crop`` x ``crop`` window, horizontally flipped with probability 1/2."""
    _, h, w = img.shape
    y = int(torch.randint(h - crop + 1, (1,), generator=generator))
    x = int(torch.randint(w - crop + 1, (1,), generator=generator))
    out = img[:, y:y + crop, x:x + crop]
    return out.flip(2) if torch.rand(1, generator=generator).item() < 0.5 else out


def ten_crop_offsets(h: int, w: int, crop: int) -> list[tuple[int, int, bool]]:
    """(y, x, flipped) of the 4 corner crops, the centre crop, and the same flipped."""
    spots = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), ((h - crop) // 2, (w - crop) // 2)]
    return [(y, x, flip) for flip in (False, True) for y, x in spots]


class TrainImages(Dataset):
    """Resized to ``resize_to``, random ``crop`` with flip drawn from a (seed, epoch, index) generator."""

    def __init__(self, items: list[tuple[Path, int]], resize_to: int, crop: int, mean, std, seed: int = 0):
        self.items, self.resize_to, self.crop, self.mean, self.std, self.seed = items, resize_to, crop, mean, std, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, label = self.items[i]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch * 100_003 + i)
        img = resize(load_image(path), (self.resize_to, self.resize_to))
        return normalize(random_crop_flip(img, self.crop, g), self.mean, self.std), label
