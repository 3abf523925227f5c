import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.localization.classes import at_least
from actionhas.localization.proposals import (
    class_proposals,
    minmax_normalize,
    multi_threshold_instances,
    nms,
    soft_nms,
)

TIMES = np.arange(10) + 0.5  # feature centres, one feature per second


def _rounded(segments, digits=6):
    return [tuple(round(v, digits) for v in s) for s in segments]


def _golden(cas, thresholds, class_score=0.5, times=TIMES, duration=10.0, **kw):
    kw.setdefault("upsample", 1)
    return _rounded(class_proposals(np.array(cas, float), times, class_score, 1.0, duration,
                                    cas_thresholds=thresholds, **kw))


def test_runs_and_outer_inner_contrastive_scores_golden():
    cas = [0, 0.2, 1.0, 0.8, 0, 0, 0, 0.6, 0.6, 0]
    # run [2, 3]: inner 0.9, margin ceil(0.25 * 2) = 1 -> points 1 and 4 (0.2, 0), outer 0.1; + 0.2 * 0.5
    # run [7, 8]: inner 0.6, margins 6 and 9 are 0
    assert _golden(cas, [0.5]) == [(2.0, 4.0, 0.9), (7.0, 9.0, 0.7)]
    # at 0.1 the first run grows to [1, 3]: inner 2/3, margins 0 and 4 are 0
    assert _golden(cas, [0.1]) == _rounded([(1.0, 4.0, 2 / 3 + 0.1), (7.0, 9.0, 0.7)])
    assert _golden(cas, [0.1, 0.5]) == _golden(cas, [0.1]) + _golden(cas, [0.5])


def test_proposals_touching_the_ends_clip_their_time_and_their_outer_region():
    cas = [1.0, 0.9, 0.1, 0, 0, 0, 0, 0, 0.3, 0.7]
    times = np.arange(10) + 0.3  # first window starts before 0, last ends after the duration
    # [0, 1]: no left margin, right margin point 2 (0.1); [9]: left margin point 8 (0.3), no right one
    assert _golden(cas, [0.5], class_score=0.0, times=times, duration=9.5) == [(0.0, 1.8, 0.85), (8.8, 9.5, 0.4)]


def test_outer_region_scales_with_outer_ratio_and_is_cut_at_both_ends():
    cas, times = [0.2, 1.0, 0.8, 0.0, 0.4], np.arange(5) + 0.5
    # run [1, 2]; a margin of 4 points reaches past both ends: outer = points 0, 3, 4
    assert _golden(cas, [0.5], class_score=0.0, times=times, outer_ratio=2.0) == [(1.0, 3.0, 0.7)]
    assert _golden(cas, [0.5], class_score=0.0, times=times, outer_ratio=0.0) == [(1.0, 3.0, 0.9)]  # no margin


def test_thresholds_apply_to_the_min_max_normalised_cas():
    cas = np.array([0, 0.2, 1.0, 0.8, 0, 0, 0, 0.6, 0.6, 0])
    assert _golden(10 * cas + 3, [0.5]) == _golden(cas, [0.5]) == _golden(cas / 4, [0.5])
    rows = minmax_normalize(np.array([[2.0, 4.0, 3.0], [-2.0, -1.0, 4.0], [5.0, 5.0, 5.0]]))
    assert rows.tolist() == [[0.0, 1.0, 0.5], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]  # per class; negatives stay at 0
    # threshold 0 selects the strictly positive part only
    assert _golden([-2, -1, 0, 2, 4, 0, 0, 0, 0, 0], [0.0], class_score=0.0) == [(3.0, 5.0, 0.75)]


def test_attention_runs_are_scored_on_the_cas():
    cas, attention = np.array([0, 0, 1, 1, 0, 0.0]), np.array([0, 1, 1, 1, 1, 0.0])
    segs = class_proposals(cas, np.arange(6) + 0.5, 1.0, 1.0, 6.0, attention, cas_thresholds=[],
                           attention_thresholds=[0.5], upsample=1)
    assert _rounded(segs) == [(1.0, 5.0, 0.5 + 0.2)]  # inner CAS mean 0.5, margins 0 and 5 are 0
    assert class_proposals(cas, np.arange(6) + 0.5, 1.0, 1.0, 6.0, cas_thresholds=[], upsample=1) == []


def test_upsampling_refines_boundaries_inside_features_and_keeps_whole_windows():
    cas = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    assert _golden(cas, [0.75], class_score=0.0) == [(2.0, 6.0, 1.0)]
    # 4 cells per feature: the linear ramps cross 0.75 a quarter feature inside
    segs = _golden(cas, [0.75], class_score=0.0, upsample=4)
    assert [s[:2] for s in segs] == [(2.25, 5.75)]
    # runs reaching the sequence end keep the whole last window; 2 cells of margin on the left (0.625, 0.875)
    assert _golden([0, 0, 1, 1], [0.9], class_score=0.0, times=np.arange(4) + 0.5, upsample=4) == [(2.5, 4.0, 0.25)]


def test_published_defaults_are_used():
    assert defaults.PROPOSAL_CAS_THRESHOLDS == (0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225)
    assert defaults.PROPOSAL_ATTENTION_THRESHOLDS[0] == 0.1 and defaults.PROPOSAL_ATTENTION_THRESHOLDS[-1] == 0.9
    cas = np.array([0, 0.2, 1.0, 0.8, 0, 0, 0, 0.6, 0.6, 0])
    segs = class_proposals(cas, TIMES, 0.5, 1.0, 10.0)
    assert segs == class_proposals(cas, TIMES, 0.5, 1.0, 10.0, cas_thresholds=defaults.PROPOSAL_CAS_THRESHOLDS,
                                   outer_ratio=0.25, class_weight=0.2, upsample=24)
    assert segs != class_proposals(cas, TIMES, 0.5, 1.0, 10.0, upsample=1)


def _oracle(cas, thresholds, class_score, outer_ratio=0.25, class_weight=0.2):
    """Plain loops over points, as the official code groups and scores them (margins rounded up)."""
    low, high = max(min(cas), 0.0), max(max(cas), 0.0)
    norm = [min(max((v - low) / (high - low if high > low else 1.0), 0.0), 1.0) for v in cas]
    out = []
    for th in thresholds:
        runs, current = [], []
        for i, v in enumerate(norm):
            if v >= th and v > 0:
                current.append(i)
            elif current:
                runs.append(current)
                current = []
        runs += [current] if current else []
        for run in runs:
            m = math.ceil(outer_ratio * len(run))
            outer = list(range(max(run[0] - m, 0), run[0])) + list(range(run[-1] + 1, min(run[-1] + m, len(norm) - 1) + 1))
            outer_mean = sum(norm[i] for i in outer) / len(outer) if outer else 0.0
            score = sum(norm[i] for i in run) / len(run) - outer_mean + class_weight * class_score
            out.append((TIMES[0] - 0.5 + run[0], TIMES[0] + 0.5 + run[-1], score))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=40),
       st.lists(st.floats(0, 1), min_size=1, max_size=4), st.floats(0, 1), st.floats(0, 1))
def test_vectorised_proposals_match_plain_loops(cas, thresholds, class_score, outer_ratio):
    times = TIMES[0] + np.arange(len(cas))
    fast = class_proposals(np.array(cas), times, class_score, 1.0, None, cas_thresholds=thresholds,
                           outer_ratio=outer_ratio, upsample=1)
    slow = _oracle(cas, thresholds, class_score, outer_ratio)
    assert np.allclose(np.array(fast).reshape(-1, 3), np.array(slow).reshape(-1, 3), atol=1e-9)


def test_nms_keeps_the_better_of_two_overlapping_and_both_of_two_disjoint():
    assert nms([(0.0, 10.0, 0.5), (1.0, 10.0, 0.9)], 0.7) == [(1.0, 10.0, 0.9)]
    assert nms([(0.0, 4.0, 0.5), (5.0, 9.0, 0.9)], 0.7) == [(5.0, 9.0, 0.9), (0.0, 4.0, 0.5)]
    assert nms([(0.0, 4.0, 0.5), (2.0, 6.0, 0.9)], 0.7) == [(2.0, 6.0, 0.9), (0.0, 4.0, 0.5)]  # IoU 1/3 < 0.7
    assert nms([(0.0, 4.0, 0.5), (2.0, 6.0, 0.9)], 1 / 3) == [(2.0, 6.0, 0.9)]  # IoU >= threshold drops
    # greedy, not transitive: B is dropped by A, so C (overlapping only B) survives
    assert nms([(0.0, 4.0, 0.9), (1.0, 5.0, 0.8), (3.0, 7.0, 0.7)], 0.5) == [(0.0, 4.0, 0.9), (3.0, 7.0, 0.7)]
    assert nms([], 0.5) == []


def _iou_loop(a, b):
    inter = max(min(a[1], b[1]) - max(a[0], b[0]), 0.0)
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def _nms_loop(segments, iou):
    rest = sorted(segments, key=lambda s: -s[2])  # stable: ties keep list order
    keep = []
    while rest:
        keep.append(rest.pop(0))
        rest = [s for s in rest if _iou_loop(keep[-1], s) < iou]
    return keep


def _soft_nms_loop(segments, sigma, min_score):
    rest = [list(s) for s in segments if s[2] >= min_score]
    keep = []
    while rest:
        best = max(range(len(rest)), key=lambda i: (rest[i][2], -i))
        keep.append(tuple(rest.pop(best)))
        for s in rest:
            s[2] *= math.exp(-_iou_loop(keep[-1], s) ** 2 / sigma)
        rest = [s for s in rest if s[2] >= min_score]
    return keep


segment_lists = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 8), st.integers(-3, 20)), max_size=40).map(
    lambda rows: [(float(a), float(a + d), s / 10) for a, d, s in rows])  # coarse values: ties and equal overlaps


@settings(max_examples=80, deadline=None)
@given(segment_lists, st.sampled_from([0.1, 1 / 3, 0.5, 0.7, 1.0]))
def test_nms_matches_the_plain_greedy_loop(segments, iou):
    assert nms(segments, iou) == _nms_loop(segments, iou)


@settings(max_examples=80, deadline=None)
@given(segment_lists, st.sampled_from([0.1, 0.5, 2.0]), st.sampled_from([0.001, 0.2]))
def test_soft_nms_matches_the_plain_loop(segments, sigma, min_score):
    fast, slow = soft_nms(segments, sigma, min_score), _soft_nms_loop(segments, sigma, min_score)
    assert [s[:2] for s in fast] == [s[:2] for s in slow]
    assert np.allclose([s[2] for s in fast], [s[2] for s in slow], rtol=1e-12)


def test_soft_nms_decays_by_a_gaussian_of_the_iou():
    segs = soft_nms([(0.0, 3.0, 1.0), (1.0, 4.0, 0.8), (10.0, 12.0, 0.3)], sigma=0.5)
    assert _rounded(segs) == _rounded([(0.0, 3.0, 1.0), (1.0, 4.0, 0.8 * math.exp(-0.25 / 0.5)), (10.0, 12.0, 0.3)])
    # the decayed score reorders: (1, 4) falls to 0.8 * exp(-1 / 0.2 * 0.25) = 0.23 < 0.3
    segs = soft_nms([(0.0, 3.0, 1.0), (1.0, 4.0, 0.8), (10.0, 12.0, 0.3)], sigma=0.2)
    assert [s[:2] for s in segs] == [(0.0, 3.0), (10.0, 12.0), (1.0, 4.0)]
    # scores below min_score (negative OIC scores too) are dropped, also once decayed
    assert soft_nms([(0.0, 3.0, 1.0), (0.0, 3.0, 0.5), (5.0, 6.0, -0.1)], sigma=0.5, min_score=0.1) == [(0.0, 3.0, 1.0)]


def test_multi_threshold_instances_merges_duplicates_across_thresholds():
    cas, times = np.array([0, 0, 1, 1, 0, 0.0]), np.arange(6) + 0.5
    raw = class_proposals(cas, times, 0.5, 1.0, 6.0, upsample=1)
    assert len(raw) == 10 and len(set(raw)) == 1  # the same run at every default threshold
    assert multi_threshold_instances(cas, times, 0.5, 1.0, 6.0, upsample=1) == [raw[0]]
    soft = multi_threshold_instances(cas, times, 0.5, 1.0, 6.0, method="soft-nms", upsample=1)
    assert soft[0] == raw[0] and soft[1][2] == pytest.approx(raw[0][2] * math.exp(-1 / 0.5))
    with pytest.raises(ActionhasError, match="'nms' or 'soft-nms'"):
        multi_threshold_instances(cas, times, 0.5, 1.0, 6.0, method="hard")


def test_select_classes_by_threshold_with_top_class_fallback():
    assert at_least(np.array([0.1, 0.3, 0.25, 0.2]), 0.25) == [1, 2]  # default 0.25, inclusive
    assert at_least(np.array([0.1, 0.2, 0.15]), 0.25) == [1]
    assert at_least(np.array([0.1, 0.2, 0.15]), threshold=0.1) == [0, 1, 2]
    with pytest.raises(ActionhasError, match="1-D"):
        at_least(np.array([[0.5]]), 0.25)


def test_bad_sequences_name_the_field():
    with pytest.raises(ActionhasError, match="cas must be .* as long as times"):
        class_proposals(np.zeros(5), TIMES, 0.5, 1.0, 10.0)
    with pytest.raises(ActionhasError, match="attention"):
        class_proposals(np.zeros(10), TIMES, 0.5, 1.0, 10.0, np.full(10, np.nan))
    with pytest.raises(ActionhasError, match="step"):
        class_proposals(np.zeros(10), TIMES, 0.5, 0.0, 10.0)
