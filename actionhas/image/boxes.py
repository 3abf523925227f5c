"""Boxes from class activation maps, and the localization metrics of ILSVRC and wsolevaluation.

Conventions: a CAM is a (H, W) float array over the image; boxes are (x0, y0, x1, y1) in
inclusive pixel coordinates (x1 is the last column inside the box), as ILSVRC's annotations,
so a box's area is (x1 - x0 + 1) * (y1 - y0 + 1).

- ``cam_to_box``: the paper's (after Zhou et al.): threshold at a fraction of the CAM's max,
  keep the largest connected component (8-connected), fit a tight box.
- ``maxboxacc_ious``: wsolevaluation's ``BoxEvaluator`` (MaxBoxAccV2) for one image, equal to it
  on the same map: the CAM resized to 224x224 as ``cv2.resize(INTER_CUBIC)`` and min-max
  normalised, quantised to uint8; at each threshold t in 0, 0.01, ..., 0.99 a box around every
  contour ``cv2.findContours(RETR_TREE)`` finds in ``map > int(t * max)`` (outer borders of
  8-connected components and borders of their holes); the best IoU with any ground-truth box
  (resized to 224x224 with truncation). Computed without OpenCV, all thresholds at once.
- ``LocalizationEvaluator``: streams over images (``accumulate`` / ``compute``): Top-1 Cls,
  Top-1 Loc, GT-known Loc (IoU >= 0.5 with any ground-truth box of the class) and MaxBoxAccV2
  (best threshold per IoU 0.3 / 0.5 / 0.7, then their mean).
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from scipy import ndimage

from actionhas.core.errors import ActionhasError
from actionhas.core.intervals import fraction_of_max_level
from actionhas.image import defaults
from actionhas.image.kernels import apply_taps, level_components

_EIGHT = np.ones((3, 3), bool)
RESIZE_LENGTH = 224                            # wsolevaluation scores CAMs at 224x224
CAM_CURVE_THRESHOLDS = np.arange(0, 1, 0.01)   # its cam_curve_interval 0.01
MAXBOXACC_IOUS = (0.3, 0.5, 0.7)               # its iou_threshold_list 30, 50, 70 (MaxBoxAccV2)


def check_cam(cam: np.ndarray, where: str) -> np.ndarray:
    """The CAM as float64, or an error naming ``where``: it must be 2-D, finite and not constant
    (wsolevaluation's ``check_scoremap_validity``; a constant map has no box to offer)."""
    cam = np.asarray(cam, np.float64)
    if cam.ndim != 2 or not cam.size:
        raise ActionhasError(f"{where}: a CAM must be a non-empty 2-D map, got shape {cam.shape}")
    if not np.isfinite(cam).all():
        raise ActionhasError(f"{where}: the CAM has NaN or infinite values")
    if cam.min() == cam.max():
        raise ActionhasError(f"{where}: the CAM is constant ({cam.flat[0]:g})")
    return cam


def clip_boxes(boxes: np.ndarray, height: int, width: int, where: str) -> tuple[np.ndarray, int]:
    """(k, 4) inclusive boxes clipped to a height x width image, and how many had to be clipped.
    No box, a box that is not finite, or one with x1 < x0 or y1 < y0 is an error naming ``where``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    bad = ~np.isfinite(boxes).all(1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if not len(boxes) or bad.any():
        raise ActionhasError(f"{where}: " + (f"box {boxes[bad][0].tolist()} is not (x0, y0, x1, y1)"
                                              if len(boxes) else "no ground-truth box"))
    clipped = np.clip(boxes, 0, [width - 1, height - 1, width - 1, height - 1])
    return clipped, int((clipped != boxes).any(1).sum())


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of inclusive boxes a (n, 4) and b (m, 4); 0 where the union is empty or negative
    (wsolevaluation's ``calculate_multiple_iou``)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1, 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1, 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _component_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (k, 4) and pixel counts (k,) of the 8-connected components of a boolean mask."""
    labels, n = ndimage.label(mask, structure=_EIGHT)
    if n == 0:
        return np.zeros((0, 4)), np.zeros(0, int)
    slices = ndimage.find_objects(labels)
    boxes = np.array([[s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1] for s in slices], np.float64)
    return boxes, np.bincount(labels.ravel())[1:]


def cam_to_box(cam: np.ndarray, threshold: float = defaults.CAM_THRESHOLD) -> np.ndarray:
    """Tight (4,) box of the largest component of ``cam >= threshold * max(cam)``.

    A CAM with no positive value is min-max normalised first; an empty mask gives the whole image.
    """
    cam = np.asarray(cam, np.float64)
    boxes, sizes = _component_boxes(cam >= fraction_of_max_level(cam, threshold))
    if not len(boxes):
        return np.array([0, 0, cam.shape[1] - 1, cam.shape[0] - 1], np.float64)
    return boxes[np.argmax(sizes)]


@lru_cache(maxsize=64)
def _cubic_taps(source: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(size, 4) source indices (border replicated) and weights of OpenCV's INTER_CUBIC: a = -0.75,
    half-pixel centres, position and coefficients in float32 arithmetic as OpenCV computes them."""
    fx = ((np.arange(size) + 0.5) * (1.0 / (size / source)) - 0.5).astype(np.float32)
    start = np.floor(fx)
    fx -= start
    a, one = np.float32(-0.75), np.float32(1)
    x1, x2 = fx + one, one - fx
    c0 = ((a * x1 - np.float32(5) * a) * x1 + np.float32(8) * a) * x1 - np.float32(4) * a
    c1 = ((a + np.float32(2)) * fx - (a + np.float32(3))) * fx * fx + one
    c2 = ((a + np.float32(2)) * x2 - (a + np.float32(3))) * x2 * x2 + one
    weights = np.stack([c0, c1, c2, one - c0 - c1 - c2], 1).astype(np.float64)
    return np.clip(start.astype(np.intp)[:, None] + np.arange(-1, 3), 0, source - 1), weights


def resize_cam(cam: np.ndarray, size: int = RESIZE_LENGTH) -> np.ndarray:
    """(size, size) float64 bicubic resize, bit-identical to ``cv2.resize(cam, (size, size),
    interpolation=cv2.INTER_CUBIC)`` on float64 maps: rows first, then columns, each output the sum
    of its four weighted taps taken left to right."""
    cam = np.ascontiguousarray(cam, np.float64)
    if cam.shape == (size, size):
        return cam.copy()
    (ys, wy), (xs, wx) = _cubic_taps(cam.shape[0], size), _cubic_taps(cam.shape[1], size)
    return apply_taps(cam, ys, wy, xs, wx)


def normalized_scoremap(cam: np.ndarray) -> np.ndarray:
    """(224, 224) map in [0, 1] as wsolevaluation scores it: resized, then min-max normalised
    (``normalize_scoremap``: a constant map becomes zeros)."""
    cam = resize_cam(cam)
    low, high = cam.min(), cam.max()
    return (cam - low) / (high - low) if high > low else np.zeros_like(cam)


def resize_boxes(boxes: np.ndarray, height: int, width: int, size: int = RESIZE_LENGTH) -> np.ndarray:
    """(k, 4) int boxes scaled from a height x width image to size x size, each coordinate truncated
    (wsolevaluation's ``resize_bbox``)."""
    scale = np.array([width, height, width, height], np.float64)
    return (np.asarray(boxes, np.float64) * float(size) / scale).astype(np.int64)


def contour_boxes(scoremap: np.ndarray, thresholds: np.ndarray = CAM_CURVE_THRESHOLDS) -> np.ndarray:
    """(n, 5) int rows [threshold index, x0, y0, x1, y1]: for each threshold, the box of every contour
    wsolevaluation finds, as its ``compute_bboxes_from_scoremaps(multi_contour_eval=True)``.

    The map is quantised ``(map * 255).astype(uint8)``; the mask at threshold t is
    ``uint8 > int(t * max)``. ``cv2.findContours(RETR_TREE)`` gives one contour per 8-connected
    component (``boundingRect`` spans it) and one per hole, a 4-connected background region it
    encloses (``boundingRect`` spans the hole grown by one pixel); a box is boundingRect's
    (x, y, x + w, y + h), x1 and y1 clipped to the map. Thresholds must not decrease.

    All thresholds at once, without OpenCV, in one pass of ``actionhas.image.kernels``.
    """
    h, w = scoremap.shape
    quantised = (scoremap * 255).astype(np.uint8)
    cut = (np.asarray(thresholds, np.float64) * quantised.max()).astype(np.int64)
    band_of = np.searchsorted(cut, np.arange(256), side="left")   # a pixel is in the mask at t_l iff its band > l
    found, hole = level_components(quantised, band_of, len(cut))
    found[hole, 1:3] -= 1                             # a hole's contour runs one pixel outside it
    found[:, 3:] = np.minimum(found[:, 3:] + np.where(hole, 2, 1)[:, None], [w - 1, h - 1])
    return found


def best_ious(scoremap: np.ndarray, gt_boxes: np.ndarray, thresholds: np.ndarray = CAM_CURVE_THRESHOLDS) -> np.ndarray:
    """(len(thresholds),) best IoU of any contour box with any ground-truth box, both at the map's
    resolution; a threshold with an empty mask is scored with the box [0, 0, 0, 0], as wsolevaluation."""
    found = contour_boxes(scoremap, thresholds)
    best = np.full(len(thresholds), -1.0)
    np.maximum.at(best, found[:, 0], box_iou(found[:, 1:], gt_boxes).max(1))
    return np.where(best < 0, box_iou([0, 0, 0, 0], gt_boxes).max(), best)


def maxboxacc_ious(cam: np.ndarray, gt_boxes: np.ndarray, height: int, width: int,
                   thresholds: np.ndarray = CAM_CURVE_THRESHOLDS) -> np.ndarray:
    """What MaxBoxAccV2 counts for one image: (len(thresholds),) best IoUs of the CAM (any resolution,
    valid) with its (k, 4) ground-truth boxes in the height x width image, both brought to 224x224."""
    return best_ious(normalized_scoremap(cam), resize_boxes(gt_boxes, height, width), thresholds)


class LocalizationEvaluator:
    """Accumulates per-image results; ``compute()`` returns fractions in [0, 1]."""

    def __init__(self, threshold: float = defaults.CAM_THRESHOLD, iou: float = 0.5, sweep_ious=MAXBOXACC_IOUS, sweep_step: float = 0.01):
        self.threshold, self.iou = threshold, iou
        self.sweep_ious = tuple(sweep_ious)
        self.sweep = np.arange(0, 1, sweep_step)
        self.count = self.cls_hits = self.top1_loc = self.gt_known = 0
        self.sweep_hits = np.zeros((len(self.sweep_ious), len(self.sweep)))
        self.clipped, self.clipped_example = 0, None

    def accumulate(self, cam: np.ndarray, gt_boxes: np.ndarray, correct_class: bool | None = None, *,
                   model_cam: np.ndarray | None = None, image_id: str = "image") -> np.ndarray:
        """Score one image and return its GT-known box.

        ``cam``: (H, W) CAM of the ground-truth class at the image's resolution, for GT-known and
        Top-1 Loc; ``gt_boxes``: (k, 4) boxes in the image (clipped to it, counted); ``correct_class``:
        whether the top-1 class is right (None when unknown); ``model_cam``: the same CAM before it
        was resized to the image (any resolution; default ``cam``), which MaxBoxAccV2 resizes to
        224x224 as wsolevaluation. ``image_id`` names the image in errors.
        """
        cam = check_cam(cam, image_id)
        model_cam = cam if model_cam is None else check_cam(model_cam, image_id)
        height, width = cam.shape
        gt_boxes, clipped = clip_boxes(gt_boxes, height, width, image_id)
        if clipped:
            self.clipped += clipped
            self.clipped_example = self.clipped_example or image_id
        box = cam_to_box(cam, self.threshold)
        hit = box_iou(box, gt_boxes).max() >= self.iou
        self.count += 1
        self.gt_known += int(hit)
        if correct_class is not None:
            self.cls_hits += int(correct_class)
            self.top1_loc += int(hit and correct_class)
        best = maxboxacc_ious(model_cam, gt_boxes, height, width, self.sweep)
        self.sweep_hits += best >= np.array(self.sweep_ious)[:, None]
        return box

    def compute(self) -> dict:
        if self.clipped:
            warnings.warn(f"{self.clipped} ground-truth boxes reached outside their image and were clipped to it "
                          f"(the first in image {self.clipped_example})", stacklevel=2)
        n = max(self.count, 1)
        max_box = {f"{i:.1f}": float(self.sweep_hits[k].max() / n) for k, i in enumerate(self.sweep_ious)}
        return {"images": self.count, "top1_cls": self.cls_hits / n, "top1_loc": self.top1_loc / n,
                "gt_known_loc": self.gt_known / n, "maxboxacc": max_box,
                "maxboxaccv2": float(np.mean(list(max_box.values()))),
                "cam_threshold": self.threshold, "iou": self.iou}
