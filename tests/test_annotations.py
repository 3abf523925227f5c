import pandas as pd
import pytest

from actionhas.annotations import (THUMOS14_DIR, THUMOS14_EXCLUDED_TEST_VIDEOS, AnnotationError, load_thumos14,
                                   read_anet_gt, read_labels, read_predictions, read_thumos_txt_dir,
                                   write_anet_gt, write_labels_csv, write_thumos_txt_dir)


def test_shipped_thumos14_counts_match_the_official_files():
    val, test = load_thumos14("validation", "txt"), load_thumos14("test", "txt")
    assert (len(val.instances), len(test.instances)) == (3007, 3358)
    assert (len(val.ambiguous), len(test.ambiguous)) == (89, 99)
    assert len(test.videos) == 213 and "video_test_0001292" in test.videos.index
    assert test.instances.groupby("label").size()["Diving"] == 388


def test_txt_and_json_give_the_same_instances():
    txt, js = load_thumos14("test", "txt"), load_thumos14("test", "json")
    key = ["video", "label", "start", "end"]
    a = txt.instances.sort_values(key).reset_index(drop=True)
    b = js.instances.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[key], b[key])


def test_txt_json_round_trip(tmp_path):
    gt = load_thumos14("validation", "txt")
    write_thumos_txt_dir(gt, tmp_path / "txt", "val")
    back = read_thumos_txt_dir(tmp_path / "txt")
    assert len(back.instances) == len(gt.instances) and len(back.ambiguous) == len(gt.ambiguous)
    write_anet_gt(back, tmp_path / "gt.json")
    key = ["video", "label", "start", "end"]
    again = read_anet_gt(tmp_path / "gt.json").instances.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(again[key], back.instances.sort_values(key).reset_index(drop=True)[key])


def test_excluding_the_known_bad_test_videos():
    gt = load_thumos14("test", "txt").select("test", THUMOS14_EXCLUDED_TEST_VIDEOS)
    assert len(gt.videos) == 210
    assert not gt.instances["video"].isin(THUMOS14_EXCLUDED_TEST_VIDEOS).any()


def test_video_labels_carry_both_cliffdiving_and_diving(tmp_path):
    labels = load_thumos14("validation").video_labels()
    both = labels[labels["labels"].apply(lambda x: "CliffDiving" in x)]
    assert len(both) and all("Diving" in x for x in both["labels"])
    write_labels_csv(labels, tmp_path / "labels.csv")
    back = read_labels(tmp_path / "labels.csv")
    assert back["labels"].tolist() == labels["labels"].tolist()
    assert "CliffDiving;Diving" in (tmp_path / "labels.csv").read_text()


def test_durations_come_from_video_info():
    gt = load_thumos14("test", "txt")
    assert abs(gt.videos.loc["video_test_0000004", "duration"] - 33.73) < 0.01
    assert (THUMOS14_DIR / "SOURCES.md").exists()


@pytest.mark.parametrize("text, match", [
    ('{"results": {"v": [{"label": "A", "segment": [1, 2], "score": NaN}]}}', "finite number"),
    ('{"results": {"v": [{"label": "A", "segment": [3, 2], "score": 1}]}}', "end 2.0 < start 3.0"),
    ('{"results": {"v": [{"segment": [1, 2], "score": 1}]}}', "missing 'label'"),
    ('{"results": {"v": [{"label": "A", "segment": [1], "score": 1}]}}', "segment"),
    ('{"results": ', "not valid JSON"),
    ('{"database": {}}', "no 'results'"),
])
def test_bad_predictions_are_one_line_errors_naming_the_video(tmp_path, text, match):
    p = tmp_path / "pred.json"
    p.write_text(text)
    with pytest.raises(AnnotationError, match=match) as e:
        read_predictions(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_labels_csv_missing_column_is_named(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("video,labels\na,X\n")
    with pytest.raises(AnnotationError, match="subset"):
        read_labels(p)
