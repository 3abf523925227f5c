import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actionhas import evaluate
from actionhas.core import cli
from actionhas.evaluation.detection_map import (
    IOU_SETS,
    evaluate_detection,
    format_table,
)
from actionhas.evaluation.reference import evaluate_detection_loops
from actionhas.formats.annotations import THUMOS14_DIR, GroundTruth, read_anet_gt


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


def test_thumos14_detections_in_videos_without_ground_truth_of_the_class_are_false_positives():
    # The kit walks every video named by the ground truth or the detections. A of video_test_2 (which
    # has only B) at .9 and A of video_test_3 (no ground truth at all, still a test video) at .85 are
    # false positives ranked before the true positive at .8: AP = (1/3) / 1.
    gt = make_gt([("video_test_1", "A", 0, 10), ("video_test_2", "B", 0, 10)]).select("test")
    preds = make_preds([("video_test_2", "A", 0, 10, 0.9), ("video_test_3", "A", 0, 5, 0.85),
                        ("video_test_1", "A", 0, 10, 0.8)])
    m = evaluate_detection(gt, preds, [0.5], "thumos14")
    assert m["per_class"]["A"] == [pytest.approx(1 / 3)] and m["num_predictions"] == 3
    assert evaluate_detection_loops(gt, preds, [0.5], "thumos14")["per_class"]["A"] == [pytest.approx(1 / 3)]


def test_thumos14_score_ties_across_videos_fall_in_video_name_order():
    # Both detections score .5; "b" (TP) comes first in the file, but the kit concatenates videos
    # by name, so "a"'s false positive ranks first: precision at the TP is 1/2, AP .5 (not 1).
    gt = make_gt([("b", "A", 0, 10), ("a", "B", 0, 10)])
    preds = make_preds([("b", "A", 0, 10, 0.5), ("a", "A", 50, 60, 0.5)])
    assert evaluate_detection(gt, preds, [0.5], "thumos14")["per_class"]["A"] == [pytest.approx(0.5)]
    assert evaluate_detection_loops(gt, preds, [0.5], "thumos14")["per_class"]["A"] == [pytest.approx(0.5)]


def test_thumos14_overlap_is_the_kits_intersection_over_hull():
    # Overlap of [3.0, 12.5] and [7.7, 12.6]: 4.8 / 9.6 is exactly 0.5 as the kit divides (not > 0.5),
    # while intersection / (sum of lengths - intersection) rounds to 0.5000000000000001.
    gt = make_gt([("v", "A", 3.0, 12.5)])
    preds = make_preds([("v", "A", 7.7, 12.6, 1.0)])
    assert evaluate_detection(gt, preds, [0.5], "thumos14")["mAP"] == [0.0]
    assert evaluate_detection_loops(gt, preds, [0.5], "thumos14")["mAP"] == [0.0]


def test_thumos14_ignores_videos_outside_the_subset_and_excluded_ones_with_a_counted_warning():
    gt = make_gt([("video_test_1", "A", 0, 10), ("video_test_9", "A", 0, 10)]).select("test", ["video_test_9"])
    preds = make_preds([("video_test_1", "A", 0, 10, 0.5), ("video_validation_1", "A", 0, 10, 0.9),
                        ("video_test_9", "A", 50, 60, 0.9)])
    with pytest.warns(UserWarning, match="2 prediction.s. in 2 video.s. outside the evaluated videos"):
        m = evaluate_detection(gt, preds, [0.5], "thumos14")
    assert m["mAP"] == [1.0] and m["num_predictions"] == 1


def test_unknown_videos_and_labels_are_ignored_with_counted_warnings_under_anet():
    preds = pd.concat([PREDS, make_preds([("zz", "A", 0, 1, 1.0), ("v1", "Nope", 0, 1, 1.0)])])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = evaluate_detection(GT, preds, [0.5])
    text = " ".join(str(x.message) for x in w)
    assert "1 prediction(s) in 1 video(s) not in the ground truth" in text and "labels not in" in text
    assert m["num_predictions"] == 3


def test_activitynet_13_ground_truth_reads_as_distributed_and_v_prefixed_ids_match(tmp_path):
    db = {"abc": {"subset": "validation", "duration": 30.0, "resolution": "640x360", "url": "https://y/abc",
                  "annotations": [{"segment": [1.0, 5.0], "label": "Surfing"}]},
          "v_def": {"subset": "validation", "duration": 20.0,
                    "annotations": [{"segment": [2.0, 4.0], "label": "Surfing"}]},
          "ghi": {"subset": "testing", "duration": 10.0, "annotations": []}}
    (tmp_path / "gt.json").write_text(json.dumps({"version": "VERSION 1.3", "database": db,
                                                  "taxonomy": [{"nodeName": "Surfing", "parentId": 1, "nodeId": 2}]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gt = read_anet_gt(tmp_path / "gt.json").select("validation")
    preds = make_preds([("v_abc", "Surfing", 1.0, 5.0, 0.9), ("def", "Surfing", 2.0, 4.0, 0.8)])
    for protocol in ("anet", "thumos14"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert evaluate_detection(gt, preds, IOU_SETS["anet"], protocol)["mAP"] == [1.0] * 10


def test_anet_set_is_activitynets_linspace_bit_for_bit():
    # tIoU of [0, 7] and [0.7, 7] is 0.8999999999999999, which is np.linspace(0.5, 0.95, 10)[8]: a hit
    # there (>=), a miss at a literal 0.9.
    gt, preds = make_gt([("v", "A", 0.0, 7.0)]), make_preds([("v", "A", 0.7, 7.0, 1.0)])
    m = evaluate_detection(gt, preds, IOU_SETS["anet"], "anet")
    assert m["mAP"] == [1.0] * 9 + [0.0] and m["averages"] == {"0.5-0.95": pytest.approx(0.9)}
    assert evaluate_detection(gt, preds, [0.9], "anet")["mAP"] == [0.0]


def test_thresholds_outside_zero_one_are_rejected():
    with pytest.raises(ValueError):
        evaluate_detection(GT, PREDS, [0.0])


segments = st.tuples(st.integers(0, 40), st.integers(1, 15)).map(lambda t: (float(t[0]), float(t[0] + t[1])))


@settings(max_examples=60, deadline=None)
@given(gt_rows=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from("XY"), segments),
                        min_size=1, max_size=12),
       pred_rows=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "v_a"]), st.sampled_from("XYZ"), segments,
                                    st.sampled_from([0.1, 0.5, 0.5, 0.9])), max_size=30),
       amb=st.lists(st.tuples(st.sampled_from(["a", "b"]), segments), max_size=3),
       excluded=st.sampled_from([(), ("c",)]),
       ious=st.sampled_from([IOU_SETS["thumos"], IOU_SETS["anet"], (0.1, 0.3, 0.5, 0.7)]),
       protocol=st.sampled_from(["anet", "thumos14"]))
def test_vectorised_evaluator_equals_the_loop_oracle(gt_rows, pred_rows, amb, excluded, ious, protocol):
    gt = make_gt([(v, c, s, e) for v, c, (s, e) in gt_rows], [(v, s, e) for v, (s, e) in amb]).select(None, excluded)
    preds = make_preds([(v, c, s, e, sc) for v, c, (s, e), sc in pred_rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = evaluate_detection(gt, preds, ious, protocol)
        slow = evaluate_detection_loops(gt, preds, ious, protocol)
    assert fast["per_class"].keys() == slow["per_class"].keys()
    for c in fast["per_class"]:
        assert fast["per_class"][c] == pytest.approx(slow["per_class"][c], abs=1e-12)


def _shipped_test_predictions(tmp_path, extra: dict) -> str:
    db = json.loads((THUMOS14_DIR / "gt_test_anet.json").read_text())["database"]
    results = {v: [{"label": a["label"], "segment": a["segment"], "score": 1.0} for a in e["annotations"]]
               for v, e in db.items()}
    results.update(extra)
    (tmp_path / "p.json").write_text(json.dumps({"results": results}))
    return str(tmp_path / "p.json")


def test_evaluate_cli_on_the_shipped_thumos14_annotations(tmp_path, capsys):
    # video_test_0000001 is an official test video without temporal annotations: under the kit its
    # detection is a false positive (ranked first, it costs HammerThrow precision); a validation video
    # and the excluded 270 and 1496 are counted in a warning, not scored.
    pred = _shipped_test_predictions(tmp_path, {
        "video_test_0000001": [{"label": "HammerThrow", "segment": [0.0, 5.0], "score": 2.0}],
        "video_validation_0000051": [{"label": "HammerThrow", "segment": [0.0, 5.0], "score": 2.0}]})
    with pytest.warns(UserWarning, match="in 3 video"):
        code = evaluate.main(["--gt", "thumos14", "--subset", "test", "--pred", pred, "--out", str(tmp_path / "m.json"),
                              "--protocol", "thumos14", "--exclude", "thumos14-bad"])
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert code == 0 and "210 videos" in out and "0.1-0.5:" in out
    assert metrics["per_class"]["HammerThrow"][0] < 1.0
    assert all(ap == [1.0] * 7 for c, ap in metrics["per_class"].items() if c != "HammerThrow")
    assert set(metrics["averages"]) == {"0.1-0.5", "0.1-0.7", "0.3-0.7"}
    assert set(metrics) >= {"iou", "mAP", "average_mAP", "per_class", "num_videos", "num_predictions", "protocol"}


def test_evaluate_cli_named_anet_set_writes_its_average(tmp_path):
    pred = _shipped_test_predictions(tmp_path, {})
    assert evaluate.main(["--gt", "thumos14", "--pred", pred, "--iou", "anet", "--out", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["iou"] == list(IOU_SETS["anet"]) and metrics["averages"] == {"0.5-0.95": 1.0}
    assert "0.5-0.95: 100.00" in format_table(metrics)


@pytest.mark.parametrize("argv, message", [
    (["--iou", "0"], "argument --iou"),
    (["--iou", "0.5", "1.5"], "argument --iou"),
    (["--iou", "foo"], "argument --iou"),
    (["--iou", "anet", "0.5"], "argument --iou"),
    (["--protocol", "x"], "argument --protocol"),
    (["--subset", "nothing"], "--subset 'nothing'"),
])
def test_bad_flag_values_are_one_line_errors_naming_the_flag(tmp_path, capsys, argv, message):
    pred = tmp_path / "p.json"
    pred.write_text('{"results": {}}')
    try:
        code = cli.execute(evaluate.main, ["--gt", "thumos14", "--pred", str(pred)] + argv)
    except SystemExit as e:  # argparse's own "error:" line
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and message in err[-1] and "Traceback" not in "\n".join(err)


def test_importing_evaluate_does_not_import_torch():
    code = "import sys, actionhas.evaluate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_evaluate_command_runs_without_pandas_or_torch(tmp_path):
    pred = _shipped_test_predictions(tmp_path, {})
    code = ("import sys; from actionhas import evaluate; evaluate.main(['--gt', 'thumos14', '--pred', sys.argv[1]]); "
            "print(sorted(m for m in ('pandas', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, pred], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_predictions_as_columns_or_dataframe_score_the_same():
    cols = {k: np.asarray(PREDS[k]) for k in PREDS.columns}
    assert evaluate_detection(GT, cols, [0.5]) == evaluate_detection(GT, PREDS, [0.5])
