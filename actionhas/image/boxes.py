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

from actionhas.errors import ActionhasError

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
    cam = np.asarray(cam, np.float64)
    if cam.shape == (size, size):
        return cam.copy()
    (ys, wy), (xs, wx) = _cubic_taps(cam.shape[0], size), _cubic_taps(cam.shape[1], size)
    rows = cam[:, xs[:, 0]] * wx[:, 0] + cam[:, xs[:, 1]] * wx[:, 1] + cam[:, xs[:, 2]] * wx[:, 2] \
        + cam[:, xs[:, 3]] * wx[:, 3]
    wy = wy[:, :, None]
    return rows[ys[:, 0]] * wy[:, 0] + rows[ys[:, 1]] * wy[:, 1] + rows[ys[:, 2]] * wy[:, 2] \
        + rows[ys[:, 3]] * wy[:, 3]


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


def _join(parent: np.ndarray, depth: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root (smallest index) of every node of a forest whose pointers go to smaller indices and whose
    trees are at most ``depth`` deep, after also joining nodes a[k] and b[k].

    Pointer jumping first points every node at its root; then, round after round, each root of an
    edge whose ends still differ is hooked onto the smaller root, the hooked roots are resolved among
    themselves and every node follows its root once.
    """
    for _ in range(max(depth - 1, 0).bit_length()):
        parent = parent[parent]
    while True:
        ra, rb = parent[a], parent[b]
        apart = np.flatnonzero(ra != rb)
        if not len(apart):
            return parent
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        hooked = np.maximum(ra, rb)
        np.minimum.at(parent, hooked, np.minimum(ra, rb))
        while True:
            target = parent[parent[hooked]]
            if np.array_equal(target, parent[hooked]):
                break
            parent[hooked] = target
        parent = parent[parent]


def _link(key: np.ndarray, first: np.ndarray, last: np.ndarray, width: int, depth: int, margin: int) -> np.ndarray:
    """Component (index of its first interval) of each interval [first, last] of a row.

    ``key`` = flat position of ``first`` in a (level, row, column) grid ``width`` columns wide and
    ``depth`` rows high, sorted; intervals of the same level in adjacent rows join when they overlap
    with ``margin`` columns to spare (1: 8-connected pixels, 0: 4-connected). The intervals of the row
    above that overlap one are consecutive, and the first of them is the last one starting at or
    before it or the next; linking each interval to it gives a forest. The other overlaps are seen
    from the upper interval: the last interval of the row below starting at or before it, when that
    one is not already linked to it.
    """
    n = len(key)
    order = np.argsort(np.concatenate([key - width, key]), kind="stable")   # merge of two sorted lists
    place = np.empty(2 * n, np.intp)
    place[order] = np.arange(2 * n)
    i = np.arange(n)
    row_start = key - first
    after = np.minimum(place[:n] - i, n - 1)       # first interval starting at or after key - width
    above_start, reach_first, reach_last = row_start - width, last + margin, first - margin
    parent = i
    for above in (after, np.maximum(after - 1, 0)):   # the earlier one wins, when both overlap
        meets = ((key[above] - above_start).view(np.uintp) < width) & (first[above] <= reach_first) \
            & (last[above] >= reach_last)
        parent = np.where(meets, above, parent)
    below = np.maximum(place[n:] - i - 1, 0)      # last whose key - width <= key
    join = np.flatnonzero((place[n:] > i) & (key[below] >= row_start + width) & (last[below] >= reach_last)
                          & (parent[below] != i))
    return _join(parent, depth, below[join], join)


def _runs(band: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every horizontal run of ``band > l``, for every level l, in one pass over the row transitions.

    Returns level, row, first and last column, and key (see ``_link``), sorted by level, row and
    column; rows and columns count a border of one background pixel on each side.
    """
    h, w = band.shape
    padded = np.zeros((h + 2, w + 2), np.int16)
    padded[1:-1, 1:-1] = band
    flat = padded.ravel()
    step = flat[1:] - flat[:-1]
    pos = np.flatnonzero(step)                        # a run starts or ends after pos at levels [low, low + count)
    count = np.abs(step[pos])
    low = flat[pos] + np.minimum(step[pos], 0)
    entry = np.cumsum(count) - count                  # first of each position's (position, level) entries
    rise = np.ones(entry[-1] + count[-1], np.int16)   # levels count up within a position, jump between them
    rise[0] = low[0]
    rise[entry[1:]] = low[1:] - low[:-1] - count[:-1] + 1
    level = np.cumsum(rise, dtype=np.int16)
    order = np.argsort(level, kind="stable")          # radix sort; starts and ends alternate in each row
    pixel = np.repeat(pos.astype(np.int32), count)[order]
    level = level[order][0::2].astype(np.intp)
    start, end = pixel[0::2].astype(np.intp) + 1, pixel[1::2].astype(np.intp)
    row = start // (w + 2)
    return level, row, start - row * (w + 2), end - row * (w + 2), level * flat.size + start


def _boxes(parent: np.ndarray, row: np.ndarray, first: np.ndarray, last: np.ndarray, width: int):
    """Roots, and the top row, bottom row, first and last column of the intervals of each root."""
    n = len(parent)
    index = np.arange(n)
    roots = np.flatnonzero(parent == index)
    bottom = np.zeros(n, np.intp)
    np.maximum.at(bottom, parent, index)
    x0, x1 = np.full(n, width), np.zeros(n, np.intp)
    np.minimum.at(x0, parent, first)
    np.maximum.at(x1, parent, last)
    return roots, row[roots], row[bottom[roots]], x0[roots], x1[roots]


def contour_boxes(scoremap: np.ndarray, thresholds: np.ndarray = CAM_CURVE_THRESHOLDS) -> np.ndarray:
    """(n, 5) int rows [threshold index, x0, y0, x1, y1]: for each threshold, the box of every contour
    wsolevaluation finds, as its ``compute_bboxes_from_scoremaps(multi_contour_eval=True)``.

    The map is quantised ``(map * 255).astype(uint8)``; the mask at threshold t is
    ``uint8 > int(t * max)``. ``cv2.findContours(RETR_TREE)`` gives one contour per 8-connected
    component (``boundingRect`` spans it) and one per hole, a 4-connected background region it
    encloses (``boundingRect`` spans the hole grown by one pixel); a box is boundingRect's
    (x, y, x + w, y + h), x1 and y1 clipped to the map. Thresholds must not decrease.

    All thresholds at once, without OpenCV: the horizontal runs of every mask come from one pass
    over the row transitions, runs of adjacent rows join into components, and the background gaps
    between the runs of a row join into regions, holes being those that never reach the border.
    """
    h, w = scoremap.shape
    quantised = (scoremap * 255).astype(np.uint8)
    cut = (np.asarray(thresholds, np.float64) * quantised.max()).astype(np.int64)
    band = np.searchsorted(cut, np.arange(256), side="left")[quantised]   # pixel is in the mask at t_l iff band > l
    if not band.any():
        return np.zeros((0, 5), np.int64)
    level, row, first, last, key = _runs(band)
    roots, top, bottom, x0, x1 = _boxes(_link(key, first, last, w + 2, h + 2, 1), row, first, last, w + 2)
    found = [np.stack([level[roots], x0 - 1, top - 1, np.minimum(x1, w - 1), np.minimum(bottom, h - 1)], 1)]
    row_key = key - first
    same_row = row_key[1:] == row_key[:-1]
    inside = np.flatnonzero(same_row)                      # background between two runs of a row
    if len(inside):
        g_first, g_last, g_row = last[inside] + 1, first[inside + 1] - 1, row[inside]
        g_parent = _link(row_key[inside] + g_first, g_first, g_last, w + 2, h + 2, 0)
        # a gap belongs to the outside when it touches the background that reaches the image border
        # in the row above or below: left of that row's first run, right of its last, or an empty row
        group = level * (h + 2) + row
        opens, closes = np.r_[0, np.flatnonzero(~same_row) + 1], np.r_[np.flatnonzero(~same_row), len(group) - 1]
        span_first, span_last = np.full(len(thresholds) * (h + 2), w + 2), np.full(len(thresholds) * (h + 2), -1)
        span_first[group[opens]] = first[opens]
        span_last[group[closes]] = last[closes]
        g_group = group[inside]
        outside = np.zeros(len(inside), bool)
        for g in (g_group - 1, g_group + 1):
            outside[g_parent[(g_first < span_first[g]) | (g_last > span_last[g])]] = True
        roots, top, bottom, x0, x1 = _boxes(g_parent, g_row, g_first, g_last, w + 2)
        hole = ~outside[roots]
        found.append(np.stack([level[inside][roots], x0 - 2, top - 2, np.minimum(x1 + 1, w - 1),
                               np.minimum(bottom + 1, h - 1)], 1)[hole])
    return np.concatenate(found)


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

    def __init__(self, threshold: float = 0.2, iou: float = 0.5, sweep_ious=MAXBOXACC_IOUS, sweep_step: float = 0.01):
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
