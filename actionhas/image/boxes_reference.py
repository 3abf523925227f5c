"""wsolevaluation's MaxBoxAccV2 restated with OpenCV: the oracle ``actionhas.image.boxes`` is held to.

As clovaai/wsolevaluation computes it: ``inference.py`` resizes the CAM to 224x224 with
``cv2.resize(..., INTER_CUBIC)`` and min-max normalises it (``normalize_scoremap``);
``evaluation.py``'s ``BoxEvaluator`` (``multi_contour_eval=True``, IoU thresholds 30/50/70,
``cam_curve_interval=0.01``) resizes each ground-truth box to 224x224 (``resize_bbox``), and at every
CAM threshold boxes every contour ``cv2.findContours`` finds (``compute_bboxes_from_scoremaps``) and
keeps the best IoU (``calculate_multiple_iou``). One threshold at a time, as the original. OpenCV
is a test dependency (``opencv-python-headless``), imported inside the functions.
"""
from __future__ import annotations

import numpy as np

from actionhas.image.boxes import CAM_CURVE_THRESHOLDS, MAXBOXACC_IOUS, RESIZE_LENGTH


def resize_cam(cam: np.ndarray) -> np.ndarray:
    """(h, w) CAM -> (224, 224) float64, bicubic, as wsolevaluation's ``CAMComputer``."""
    import cv2

    return cv2.resize(np.asarray(cam, np.float64), (RESIZE_LENGTH, RESIZE_LENGTH), interpolation=cv2.INTER_CUBIC)


def normalize_scoremap(cam: np.ndarray) -> np.ndarray:
    """Min-max normalised to [0, 1]; a map with a NaN, or a constant one, becomes zeros."""
    cam = np.array(cam, np.float64)
    if np.isnan(cam).any() or cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def resize_bbox(box, image_size: tuple[int, int], resize_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """x0y0x1y1 box scaled from ``image_size`` (width, height) to ``resize_size``, each coordinate truncated."""
    x0, y0, x1, y1 = map(float, box)
    w, h = map(float, image_size)
    new_w, new_h = map(float, resize_size)
    return int(x0 * new_w / w), int(y0 * new_h / h), int(x1 * new_w / w), int(y1 * new_h / h)


def calculate_multiple_iou(box_a: np.ndarray, box_b: np.ndarray) -> np.ndarray:
    """(num_a, num_b) IoU of x0y0x1y1 integer boxes, areas counting inclusive pixels; a degenerate
    denominator gives 0."""
    a, b = np.asarray(box_a)[:, None, :], np.asarray(box_b)[None, :, :]
    inter = (np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
             * np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1))
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    denominator = area_a + area_b - inter
    degenerate = denominator <= 0
    ious = inter / np.where(degenerate, 1, denominator)
    ious[degenerate] = 0
    return ious


def compute_bboxes_from_scoremaps(scoremap: np.ndarray, thresholds=CAM_CURVE_THRESHOLDS) -> list[np.ndarray]:
    """For each threshold, the (k, 4) boxes of every contour of ``uint8(255 map) > int(t * max)``;
    [[0, 0, 0, 0]] when there is none. A box is ``boundingRect``'s (x, y, x + w, y + h), clipped."""
    import cv2

    height, width = scoremap.shape
    image = (scoremap * 255).astype(np.uint8)
    out = []
    for t in thresholds:
        _, mask = cv2.threshold(image, int(t * np.max(image)), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
        if not contours:
            out.append(np.array([[0, 0, 0, 0]]))
            continue
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        out.append(np.array(boxes))
    return out


def best_ious(scoremap: np.ndarray, gt_boxes: np.ndarray, thresholds=CAM_CURVE_THRESHOLDS) -> np.ndarray:
    """(len(thresholds),) best IoU of any contour box with any ground-truth box (224x224 coordinates),
    as ``BoxEvaluator.accumulate``: one IoU matrix over all boxes, then the best of each threshold's slice."""
    boxes_at_thresholds = compute_bboxes_from_scoremaps(scoremap, thresholds)
    ious = calculate_multiple_iou(np.concatenate(boxes_at_thresholds), np.asarray(gt_boxes)).max(1)
    best, start = [], 0
    for boxes in boxes_at_thresholds:
        best.append(max(ious[start:start + len(boxes)]))
        start += len(boxes)
    return np.array(best)


class ReferenceBoxEvaluator:
    """``accumulate(cam, gt_boxes, image_size)`` per image, ``compute()`` -> MaxBoxAcc per IoU and V2."""

    def __init__(self):
        self.count = 0
        self.correct = np.zeros((len(MAXBOXACC_IOUS), len(CAM_CURVE_THRESHOLDS)))

    def accumulate(self, cam: np.ndarray, gt_boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """``cam`` (h, w) at any resolution, ``gt_boxes`` (k, 4) at ``image_size`` (height, width).
        Returns the (len(thresholds),) best IoUs."""
        scoremap = normalize_scoremap(resize_cam(cam))
        h, w = image_size
        gt = np.array([resize_bbox(b, (w, h), (RESIZE_LENGTH, RESIZE_LENGTH)) for b in np.asarray(gt_boxes)])
        ious = best_ious(scoremap, gt)
        for k, iou in enumerate(MAXBOXACC_IOUS):
            self.correct[k] += ious >= iou
        self.count += 1
        return ious

    def compute(self) -> dict:
        max_box = {f"{iou:.1f}": float((self.correct[k] / self.count).max()) for k, iou in enumerate(MAXBOXACC_IOUS)}
        return {"maxboxacc": max_box, "maxboxaccv2": float(np.mean(list(max_box.values())))}
