"""Scoring an image run or stored CAMs: Top-1 Cls, Top-1 Loc, GT-known Loc and MaxBoxAccV2 (the
library behind ``python -m actionhas.image.evaluate``, whose --help states the rules), and the
paper's Figure 4 grid of images, CAMs and boxes."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tqdm import tqdm  # noqa: E402

from actionhas.core.errors import ActionhasError  # noqa: E402
from actionhas.formats.atomic import atomic_path  # noqa: E402
from actionhas.image.boxes import LocalizationEvaluator  # noqa: E402
from actionhas.image.data import (  # noqa: E402
    IMAGE_EXTENSIONS,
    load_image,
    normalize,
    read_boxes,
    read_synset_mapping,
    resize,
    ten_crop_offsets,
)
from actionhas.image import defaults  # noqa: E402
from actionhas.image.networks import CAMNet  # noqa: E402
from actionhas.image.training import load_image_run  # noqa: E402


@torch.no_grad()
def model_cams(model: CAMNet, img: torch.Tensor, size: int, mean, std, ten_crop: bool = False,
               resize_to: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(C,) class probabilities and (C, h, w) CAMs covering the whole image, before any resize to it:
    the network's map of the size x size input, or with ``ten_crop`` the crops' maps (each resized to
    its crop) averaged on the resize_to x resize_to image."""
    if not ten_crop:
        cams, logits = model.cam(normalize(resize(img, (size, size)), mean, std)[None])
        return logits.softmax(1)[0], cams[0]
    base = normalize(resize(img, (resize_to, resize_to)), mean, std)
    spots = ten_crop_offsets(resize_to, resize_to, size)
    crops = torch.stack([(base[:, y:y + size, x:x + size].flip(2) if f else base[:, y:y + size, x:x + size])
                         for y, x, f in spots])
    cams, logits = model.cam(crops)
    cams = F.interpolate(cams, size=(size, size), mode="bilinear", align_corners=False)
    total = torch.zeros(cams.shape[1], resize_to, resize_to)
    count = torch.zeros(1, resize_to, resize_to)
    for cam, (y, x, flipped) in zip(cams, spots):
        total[:, y:y + size, x:x + size] += cam.flip(2) if flipped else cam
        count[:, y:y + size, x:x + size] += 1
    return logits.softmax(1).mean(0), total / count.clamp(min=1)


def to_image(cams: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(C, h, w) maps resized bilinearly to (C, height, width)."""
    return F.interpolate(cams[None], size=(height, width), mode="bilinear", align_corners=False)[0]


def image_cams(model: CAMNet, img: torch.Tensor, size: int, mean, std, ten_crop: bool = False,
               resize_to: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(C,) class probabilities and (C, H, W) CAMs at the image's own resolution."""
    probs, cams = model_cams(model, img, size, mean, std, ten_crop, resize_to)
    return probs, to_image(cams, img.shape[1], img.shape[2])


def _val_items(data: Path, boxes: dict) -> list[tuple[Path, str]]:
    """(image path, ground-truth synset) of a class-folder or flat validation directory."""
    if any(p.is_dir() for p in data.iterdir()):
        return [(p, d.name) for d in sorted(data.iterdir()) if d.is_dir()
                for p in sorted(d.iterdir()) if p.suffix in IMAGE_EXTENSIONS]
    items = []
    for p in sorted(data.iterdir()):
        if p.suffix in IMAGE_EXTENSIONS:
            if p.stem not in boxes:
                raise ActionhasError(f"{p}: image has no row in the boxes file")
            items.append((p, boxes[p.stem][0][0]))
    return items


def _gt_boxes(boxes: dict, image_id: str, synset: str) -> np.ndarray:
    if image_id not in boxes:
        raise ActionhasError(f"{image_id}: no ground-truth boxes")
    own = [b for s, b in boxes[image_id] if s == synset]
    if not own:
        raise ActionhasError(f"{image_id}: no box of its class {synset}")
    return np.array(own, np.float64)


def evaluate_run(run, data, boxes_path, threshold=None, ten_crop=False, device="cpu", figure=None,
                 figure_count=8, progress=True) -> dict:
    model, cfg, classes = load_image_run(run, device)
    boxes = read_boxes(boxes_path)
    threshold = defaults.CAM_THRESHOLDS.get(cfg.arch, defaults.CAM_THRESHOLD) if threshold is None else threshold
    index = {c: i for i, c in enumerate(classes)}
    ev = LocalizationEvaluator(threshold)
    shown = []
    for path, synset in tqdm(_val_items(Path(data), boxes), desc="evaluate", unit="img", disable=not progress):
        if synset not in index:
            raise ActionhasError(f"{path}: class {synset} is not among the run's {len(classes)} classes")
        img = load_image(path)
        probs, cams = model_cams(model, img.to(device), cfg.image_size, cfg.mean, cfg.std, ten_crop, cfg.resize)
        small = cams[index[synset]].cpu()
        cam = to_image(small[None], img.shape[1], img.shape[2])[0].numpy()
        gt = _gt_boxes(boxes, path.stem, synset)
        box = ev.accumulate(cam, gt, bool(probs.argmax().item() == index[synset]), model_cam=small.numpy(),
                            image_id=str(path))
        if len(shown) < figure_count:
            shown.append((img.permute(1, 2, 0).numpy(), cam, gt, box))
    if figure and shown:
        figure_grid(shown, figure)
    return {**ev.compute(), "ten_crop": ten_crop, "arch": cfg.arch}


def evaluate_npz(npz_path, boxes_path, threshold: float = defaults.CAM_THRESHOLD, progress: bool = True) -> dict:
    boxes = read_boxes(boxes_path)
    with np.load(npz_path, allow_pickle=False) as f:
        if "image_ids" not in f or "cams" not in f:
            raise ActionhasError(f"{npz_path}: needs arrays 'image_ids' and 'cams'")
        ids, cams = f["image_ids"].astype(str), f["cams"]
        preds = f["pred_classes"].astype(str) if "pred_classes" in f else None
        sizes = f["image_sizes"] if "image_sizes" in f else None
    if cams.ndim != 3 or len(cams) != len(ids):
        raise ActionhasError(f"{npz_path}: 'cams' must be (N, h, w) with N = {len(ids)} image ids")
    if sizes is not None and (sizes.shape != (len(ids), 2) or not np.issubdtype(sizes.dtype, np.integer)
                              or (sizes < 1).any()):
        raise ActionhasError(f"{npz_path}: 'image_sizes' must be (N, 2) positive ints (height, width)")
    ev = LocalizationEvaluator(threshold)
    for i, image_id in enumerate(tqdm(ids, desc="evaluate", unit="img", disable=not progress)):
        if image_id not in boxes:
            raise ActionhasError(f"{npz_path}: image {image_id} has no row in {boxes_path}")
        synset = boxes[image_id][0][0]
        small = cams[i].astype(np.float64)
        cam = small if sizes is None else to_image(torch.from_numpy(small)[None], *map(int, sizes[i]))[0].numpy()
        ev.accumulate(cam, _gt_boxes(boxes, image_id, synset), None if preds is None else bool(preds[i] == synset),
                      model_cam=small, image_id=f"{npz_path}: image {image_id}")
    out = ev.compute()
    if preds is None:
        out["top1_cls"] = out["top1_loc"] = None
    return out


def figure_grid(rows, path, columns: int = 4) -> None:
    """The paper's Figure 4 layout: image, CAM overlay, ground truth red, prediction green."""
    n = len(rows)
    fig, axes = plt.subplots(((n + columns - 1) // columns) * 2, columns, figsize=(2.4 * columns, 4.8 * ((n + columns - 1) // columns)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (img, cam, gt, box) in enumerate(rows):
        r, c = 2 * (k // columns), k % columns
        axes[r, c].imshow(img)
        axes[r + 1, c].imshow(img)
        axes[r + 1, c].imshow(cam, cmap="jet", alpha=0.5)
        for b, colour in [(g, "red") for g in gt] + [(box, "lime")]:
            axes[r + 1, c].add_patch(plt.Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0] + 1, b[3] - b[1] + 1,
                                                   fill=False, color=colour, lw=1.5))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def check_synsets(boxes_path, synsets_path) -> None:
    """Every class the boxes name is in the synset list (LOC_synset_mapping.txt)."""
    known = read_synset_mapping(synsets_path)
    for image_id, objects in read_boxes(boxes_path).items():
        for synset, _ in objects:
            if synset not in known:
                raise ActionhasError(f"{boxes_path}: {image_id}: class {synset} is not in {synsets_path}")
