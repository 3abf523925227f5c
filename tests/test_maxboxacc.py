"""MaxBoxAccV2 equals wsolevaluation's BoxEvaluator: the package's OpenCV-free implementation is held to
the OpenCV restatement in ``actionhas.image.boxes_reference`` on the same maps, plus golden cases."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from actionhas.core.errors import ActionhasError
from actionhas.image import boxes_reference as reference
from actionhas.image.boxes import (
    LocalizationEvaluator,
    best_ious,
    contour_boxes,
    normalized_scoremap,
    resize_boxes,
    resize_cam,
)
from actionhas.image.evaluation import evaluate_npz


@pytest.fixture(scope="module")
def opencv():
    return pytest.importorskip("cv2")


def _per_threshold(found: np.ndarray, count: int) -> list[list[tuple]]:
    """contour_boxes rows grouped by threshold, sorted; [[0, 0, 0, 0]] where a mask is empty (as wsolevaluation)."""
    return [sorted(map(tuple, found[found[:, 0] == t, 1:].tolist())) or [(0, 0, 0, 0)] for t in range(count)]


def _smooth_cam(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A CAM-like map: a few Gaussian blobs on noise about as fine as a 28x28 network map's."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    cam = ndimage.gaussian_filter(rng.normal(0, 0.15, shape), max(shape) / 56) * max(1, max(shape) / 28)
    for _ in range(rng.integers(1, 4)):
        cy, cx, s = rng.random(), rng.random(), rng.uniform(0.08, 0.3)
        cam += rng.uniform(0.5, 2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return cam


def _random_maps(seed: int, count: int):
    """Maps in [0, 1] of many shapes: noise, smooth blobs, a few levels (ties, plateaus, nested parts, holes,
    rings, parts touching the border) and binary masks."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        shape = tuple(rng.integers(1, 40, 2))
        m = [rng.random(shape), ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.5, 3)),
             rng.integers(0, 4, shape) / 3.0, (rng.random(shape) < rng.random()).astype(float)][k % 4]
        yield (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros(shape)


def test_golden_boxes_of_components_holes_and_border_parts():
    m = np.zeros((7, 9))
    m[0:5, 0:5] = 1          # a square touching the border, with a one-pixel hole
    m[2, 2] = 0
    m[3, 7] = m[4, 8] = 1    # two diagonal pixels: one 8-connected part, on the right border
    m[6, 0:2] = 1            # a bar on the bottom border
    expected = [(0, 0, 5, 5), (0, 6, 2, 6), (1, 1, 4, 4), (7, 3, 8, 5)]   # boundingRect (x, y, x + w, y + h), clipped
    assert _per_threshold(contour_boxes(m), 100) == [expected] * 100
    assert best_ious(m, np.array([[0, 0, 4, 4]])) == pytest.approx(np.full(100, 25 / 36))


def test_empty_masks_are_scored_with_the_zero_box():
    assert best_ious(np.zeros((5, 5)), np.array([[0, 0, 1, 1]])).tolist() == [0.25] * 100


def test_resize_is_opencvs_bicubic_bit_for_bit(opencv):
    rng = np.random.default_rng(0)
    shapes = [tuple(rng.integers(1, 40, 2)) for _ in range(60)] + [(224, 224), (375, 500), (13, 13), (1, 1)]
    for shape in shapes:
        cam = rng.normal(size=shape) * 10.0 ** rng.uniform(-3, 3)
        assert np.array_equal(resize_cam(cam), opencv.resize(cam, (224, 224), interpolation=opencv.INTER_CUBIC)), shape


def test_contour_boxes_equal_findcontours_on_random_maps(opencv):
    for m in [*_random_maps(1, 100), np.random.default_rng(5).random((224, 224))]:   # the last: runs everywhere
        assert _per_threshold(contour_boxes(m), 100) == \
            [sorted(map(tuple, b.tolist())) for b in reference.compute_bboxes_from_scoremaps(m)], m.shape


@settings(max_examples=150, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 20)), elements=st.integers(0, 3)),
       st.lists(st.floats(0, 0.99), min_size=1, max_size=6))
def test_contour_boxes_equal_findcontours_for_any_levels_and_thresholds(opencv, levels, thresholds):
    m, thresholds = levels / 3.0, np.sort(thresholds)
    assert _per_threshold(contour_boxes(m, thresholds), len(thresholds)) == \
        [sorted(map(tuple, b.tolist())) for b in reference.compute_bboxes_from_scoremaps(m, thresholds)]


def test_maxboxaccv2_equals_wsolevaluation_on_the_same_cams(opencv):
    rng = np.random.default_rng(2)
    ours, theirs = LocalizationEvaluator(), reference.ReferenceBoxEvaluator()
    for i in range(18):
        cam = _smooth_cam(rng, [(7, 7), (13, 13), (14, 14), (28, 28), (224, 224), (60, 45)][i % 6])
        h, w = (int(v) for v in rng.integers(60, 500, 2))
        x0, y0 = rng.integers(0, w - 20, 3), rng.integers(0, h - 20, 3)
        gt = np.stack([x0, y0, rng.integers(x0 + 5, w), rng.integers(y0 + 5, h)], 1)[:rng.integers(1, 4)]
        assert np.array_equal(best_ious(normalized_scoremap(cam), resize_boxes(gt, h, w)),
                              theirs.accumulate(cam, gt, (h, w)))
        ours.accumulate(np.add.outer(np.arange(h), np.arange(w)) / (h + w), gt, model_cam=cam, image_id=f"img{i}")
    got, expected = ours.compute(), theirs.compute()
    assert got["maxboxacc"] == pytest.approx(expected["maxboxacc"], abs=1e-9)
    assert got["maxboxaccv2"] == pytest.approx(expected["maxboxaccv2"], abs=1e-9)
    assert 0 < got["maxboxaccv2"] < 1


def test_npz_cams_are_scored_at_their_own_resolution_as_wsolevaluation(opencv, tmp_path):
    rng = np.random.default_rng(4)
    ids, sizes, cams, rows = [f"img{i}" for i in range(6)], rng.integers(80, 400, (6, 2)), [], []
    theirs = reference.ReferenceBoxEvaluator()
    for image_id, (h, w) in zip(ids, sizes):
        cams.append(_smooth_cam(rng, (14, 14)))
        box = [int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2)), int(w - 1 - rng.integers(0, w // 3)),
               int(h - 1)]
        rows.append(f"{image_id},n01 {' '.join(map(str, box))}")
        theirs.accumulate(cams[-1], np.array([box]), (h, w))
    (tmp_path / "boxes.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    np.savez(tmp_path / "cams.npz", image_ids=np.array(ids), cams=np.array(cams),
             image_sizes=sizes)
    got = evaluate_npz(tmp_path / "cams.npz", tmp_path / "boxes.csv")
    assert got["maxboxacc"] == pytest.approx(theirs.compute()["maxboxacc"], abs=1e-9)


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (None, "constant")])
def test_nan_inf_and_constant_cams_are_errors_naming_the_image(bad, message):
    cam = np.full((8, 8), 0.5)
    if bad is not None:
        cam[3, 3] = bad
    with pytest.raises(ActionhasError, match=f"img42: the CAM .*{message}"):
        LocalizationEvaluator().accumulate(cam, np.array([[0, 0, 7, 7]]), image_id="img42")


def test_gt_boxes_outside_the_image_are_clipped_with_one_counted_warning():
    ev = LocalizationEvaluator(threshold=0.5)
    cam = np.zeros((20, 20))
    cam[5:15, 5:15] = 1
    ev.accumulate(cam, np.array([[5, 5, 14, 30]]), image_id="first")           # clipped to [5, 5, 14, 19]
    ev.accumulate(cam, np.array([[5, 5, 14, 14], [-3, 0, 40, 19]]), image_id="second")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = ev.compute()
    assert len(caught) == 1 and "2 ground-truth boxes" in str(caught[0].message) and "first" in str(caught[0].message)
    assert metrics["gt_known_loc"] == 1.0                 # unclipped, the first box would miss
    with pytest.raises(ActionhasError, match="third: box"):
        ev.accumulate(cam, np.array([[9, 5, 4, 14]]), image_id="third")
