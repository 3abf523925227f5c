import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actionhas import evaluate
from actionhas.annotations import GroundTruth
from actionhas.evaluation import evaluate_detection
from actionhas.evaluation_reference import evaluate_detection_loops


def make_gt(rows, ambiguous=()):
    inst = pd.DataFrame(rows, columns=["video", "label", "start", "end"])
    vids = sorted(set(inst["video"]) | {a[0] for a in ambiguous})
    videos = pd.DataFrame({"video": vids, "subset": "test", "duration": 100.0}).set_index("video")
    amb = pd.DataFrame(list(ambiguous), columns=["video", "start", "end"])
    return GroundTruth(inst, videos, amb)


def make_preds(rows):
    return pd.DataFrame(rows, columns=["video", "label", "start", "end", "score"])


GT = make_gt([("v1", "A", 0, 10), ("v1", "A", 20, 30)], ambiguous=[("v1", 40, 50)])
PREDS = make_preds([("v1", "A", 0, 10, 0.9), ("v1", "A", 0, 10, 0.8), ("v1", "A", 20, 25, 0.7)])


def test_anet_ap_by_hand():
    # tIoU 0.5: TP, FP (duplicate), TP (IoU exactly 0.5, >=); precision 1, .5, .667 at recall .5, .5, 1
    # interpolated: .5 * 1 + .5 * .667 = .8333. tIoU 0.6: only the first is TP: .5 * 1
    m = evaluate_detection(GT, PREDS, [0.5, 0.6], "anet")
    assert m["mAP"] == pytest.approx([0.5 + 0.5 * 2 / 3, 0.5])


def test_thumos14_ap_by_hand_is_strict_and_not_interpolated():
    # tIoU 0.5: the IoU-0.5 detection does not count (strict >): AP = 1 / 2.
    # tIoU 0.4: TP, FP, TP -> (1 + 2/3) / 2
    m = evaluate_detection(GT, PREDS, [0.5, 0.4], "thumos14")
    assert m["mAP"] == pytest.approx([0.5, (1 + 2 / 3) / 2])


def test_ambiguous_overlap_is_dropped_only_under_thumos14():
    preds = pd.concat([PREDS, make_preds([("v1", "A", 41, 45, 0.95)])], ignore_index=True)
    th = evaluate_detection(GT, preds, [0.4], "thumos14")["mAP"][0]
    assert th == pytest.approx((1 + 2 / 3) / 2)  # as if the detection were not there
    an = evaluate_detection(GT, preds, [0.4], "anet")["mAP"][0]
    # anet: FP, TP, FP, TP -> precision 0, .5, .333, .5; interpolated .5 * .5 + .5 * .5
    assert an == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)


def test_gt_centric_and_prediction_centric_matching_differ():
    # 3-11 (score .9) overlaps instance 0-10 by .636 and 5-15 by .5; 0-8 (score .8) overlaps 0-10 by .8.
    # ActivityNet: 3-11 takes 0-10, then 0-8 finds only 5-15 (.2): FP -> AP .5.
    # THUMOS14: 0-10 (first in file) takes its best detection 0-8, 5-15 takes 3-11 (.5 > .4) -> AP 1.
    gt = make_gt([("v", "A", 0, 10), ("v", "A", 5, 15)])
    preds = make_preds([("v", "A", 3, 11, 0.9), ("v", "A", 0, 8, 0.8)])
    assert evaluate_detection(gt, preds, [0.4], "anet")["mAP"][0] == pytest.approx(0.5)
    assert evaluate_detection(gt, preds, [0.4], "thumos14")["mAP"][0] == pytest.approx(1.0)


def test_ties_in_score_keep_file_order():
    gt = make_gt([("v", "A", 0, 10)])
    fp_first = make_preds([("v", "A", 50, 60, 0.5), ("v", "A", 0, 10, 0.5)])
    assert evaluate_detection(gt, fp_first, [0.5])["mAP"][0] == pytest.approx(0.5)
    assert evaluate_detection(gt, fp_first.iloc[::-1], [0.5])["mAP"][0] == pytest.approx(1.0)


def test_class_without_predictions_scores_zero_and_counts_in_the_mean():
    gt = make_gt([("v", "A", 0, 10), ("v", "B", 20, 30)])
    m = evaluate_detection(gt, make_preds([("v", "A", 0, 10, 1.0)]), [0.5])
    assert m["per_class"] == {"A": [1.0], "B": [0.0]} and m["mAP"] == [0.5]


def test_unknown_videos_and_labels_are_ignored_with_counted_warnings():
    preds = pd.concat([PREDS, make_preds([("zz", "A", 0, 1, 1.0), ("v1", "Nope", 0, 1, 1.0)])])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = evaluate_detection(GT, preds, [0.5])
    text = " ".join(str(x.message) for x in w)
    assert "1 prediction(s) in 1 video(s) not in the ground truth" in text and "labels not in" in text
    assert m["num_predictions"] == 3


def test_thresholds_outside_zero_one_are_rejected():
    with pytest.raises(ValueError):
        evaluate_detection(GT, PREDS, [0.0])


segments = st.tuples(st.integers(0, 40), st.integers(1, 15)).map(lambda t: (float(t[0]), float(t[0] + t[1])))


@settings(max_examples=60, deadline=None)
@given(gt_rows=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from("XY"), segments), min_size=1, max_size=12),
       pred_rows=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from("XYZ"), segments,
                                    st.sampled_from([0.1, 0.5, 0.5, 0.9])), max_size=30),
       amb=st.lists(st.tuples(st.sampled_from(["a", "b"]), segments), max_size=3),
       protocol=st.sampled_from(["anet", "thumos14"]))
def test_vectorised_evaluator_equals_the_loop_oracle(gt_rows, pred_rows, amb, protocol):
    gt = make_gt([(v, c, s, e) for v, c, (s, e) in gt_rows], [(v, s, e) for v, (s, e) in amb])
    preds = make_preds([(v, c, s, e, sc) for v, c, (s, e), sc in pred_rows])
    ious = [0.1, 0.3, 0.5, 0.7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = evaluate_detection(gt, preds, ious, protocol)
        slow = evaluate_detection_loops(gt, preds, ious, protocol)
    for c in fast["per_class"]:
        assert fast["per_class"][c] == pytest.approx(slow["per_class"][c], abs=1e-12)


def test_evaluate_cli_on_the_shipped_thumos14_annotations(tmp_path, capsys):
    db = json.loads((evaluate.load_thumos14.__globals__["THUMOS14_DIR"] / "gt_test_anet.json").read_text())["database"]
    results = {v: [{"label": a["label"], "segment": a["segment"], "score": 1.0} for a in e["annotations"]]
               for v, e in db.items()}
    (tmp_path / "p.json").write_text(json.dumps({"results": results}))
    with pytest.warns(UserWarning, match="in 2 video"):  # the excluded 270 and 1496 are counted, not scored
        code = evaluate.main(["--gt", "thumos14", "--subset", "test", "--pred", str(tmp_path / "p.json"),
                              "--out", str(tmp_path / "m.json"), "--protocol", "thumos14", "--exclude", "thumos14-bad"])
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert code == 0 and "210 videos" in out
    assert metrics["mAP"] == pytest.approx([1.0] * 7) and set(metrics) >= {"iou", "average_mAP", "per_class", "num_videos"}
