"""Boxes from class activation maps, and the localization metrics of ILSVRC and wsolevaluation.

Conventions: a CAM is a (H, W) float array over the image; boxes are (x0, y0, x1, y1) in
inclusive pixel coordinates (x1 is the last column inside the box), as ILSVRC's annotations,
so a box's area is (x1 - x0 + 1) * (y1 - y0 + 1).

- ``cam_to_box``: the paper's (after Zhou et al.): threshold at a fraction of the CAM's max,
  keep the largest connected component (8-connected), fit a tight box.
- ``LocalizationEvaluator``: streams over images (``accumulate`` / ``compute``): Top-1 Cls,
  Top-1 Loc, GT-known Loc (IoU >= 0.5 with any ground-truth box of the class) and
  wsolevaluation's MaxBoxAccV2 (CAM min-max normalised, thresholds 0, 0.01, ..., 0.99, a box
  around every connected component, best threshold per IoU 0.3 / 0.5 / 0.7, then their mean).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from actionhas.errors import ActionhasError

_EIGHT = np.ones((3, 3), bool)


def check_boxes(boxes: np.ndarray, height: int, width: int, where: str) -> np.ndarray:
    """(k, 4) inclusive boxes inside a height x width image, or an error naming ``where``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]) | (boxes[:, :2] < 0).any(1) \
        | (boxes[:, 2] > width - 1) | (boxes[:, 3] > height - 1)
    if bad.any():
        raise ActionhasError(f"{where}: box {boxes[bad][0].tolist()} is not inside the {width}x{height} image")
    return boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of inclusive boxes a (n, 4) and b (m, 4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1, 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1, 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _component_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (k, 4) and pixel counts (k,) of the 8-connected components of a boolean mask."""
    labels, n = ndimage.label(mask, structure=_EIGHT)
    if n == 0:
        return np.zeros((0, 4)), np.zeros(0, int)
    slices = ndimage.find_objects(labels)
    boxes = np.array([[s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1] for s in slices], np.float64)
    return boxes, np.bincount(labels.ravel())[1:]


def cam_to_box(cam: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Tight (4,) box of the largest component of ``cam >= threshold * max(cam)``.

    A CAM with no positive value is min-max normalised first; an empty mask gives the whole image.
    """
    cam = np.asarray(cam, np.float64)
    peak = cam.max()
    level = threshold * peak if peak > 0 else cam.min() + threshold * (peak - cam.min())
    boxes, sizes = _component_boxes(cam >= level)
    if not len(boxes):
        return np.array([0, 0, cam.shape[1] - 1, cam.shape[0] - 1], np.float64)
    return boxes[np.argmax(sizes)]


def normalize_cam(cam: np.ndarray) -> np.ndarray:
    """Min-max normalised to [0, 1] (a constant map becomes zeros), as wsolevaluation."""
    cam = np.asarray(cam, np.float64)
    span = cam.max() - cam.min()
    return (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)


class LocalizationEvaluator:
    """Accumulates per-image results; ``compute()`` returns fractions in [0, 1]."""

    def __init__(self, threshold: float = 0.2, iou: float = 0.5, sweep_ious=(0.3, 0.5, 0.7), sweep_step: float = 0.01):
        self.threshold, self.iou = threshold, iou
        self.sweep_ious = tuple(sweep_ious)
        self.sweep = np.arange(0, 1, sweep_step)
        self.count = self.cls_hits = self.top1_loc = self.gt_known = 0
        self.sweep_hits = np.zeros((len(self.sweep_ious), len(self.sweep)))

    def accumulate(self, cam: np.ndarray, gt_boxes: np.ndarray, correct_class: bool | None = None) -> np.ndarray:
        """Score one image: ``cam`` of its ground-truth class at image resolution, its boxes (k, 4),
        and whether the top-1 predicted class is right (None when unknown). Returns the box."""
        box = cam_to_box(cam, self.threshold)
        hit = box_iou(box, gt_boxes).max() >= self.iou
        self.count += 1
        self.gt_known += int(hit)
        if correct_class is not None:
            self.cls_hits += int(correct_class)
            self.top1_loc += int(hit and correct_class)
        norm = normalize_cam(cam)
        for j, t in enumerate(self.sweep):
            boxes, _ = _component_boxes(norm >= t)
            best = box_iou(boxes, gt_boxes).max() if len(boxes) else 0.0
            self.sweep_hits[:, j] += [best >= i for i in self.sweep_ious]
        return box

    def compute(self) -> dict:
        n = max(self.count, 1)
        max_box = {f"{i:.1f}": float(self.sweep_hits[k].max() / n) for k, i in enumerate(self.sweep_ious)}
        return {"images": self.count, "top1_cls": self.cls_hits / n, "top1_loc": self.top1_loc / n,
                "gt_known_loc": self.gt_known / n, "maxboxacc": max_box,
                "maxboxaccv2": float(np.mean(list(max_box.values()))),
                "cam_threshold": self.threshold, "iou": self.iou}
