import pandas as pd
import pytest

from actionhas.formats.annotations import (
    THUMOS14_DIR,
    THUMOS14_EXCLUDED_TEST_VIDEOS,
    AnnotationError,
    canonical_video_id,
    load_thumos14,
    read_anet_gt,
    read_prediction_columns,
    read_predictions,
    read_predictions_info,
    read_thumos_txt_dir,
    thumos14_video_subsets,
    write_anet_gt,
    write_predictions,
    write_thumos_txt_dir,
)
from actionhas.formats.labels import load_labels, read_labels, write_labels_csv


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


def test_the_paper_training_set_ships_as_thumos14_101_labels():
    labels = load_labels("thumos14-101")
    val, test = labels[labels["subset"] == "validation"], labels[labels["subset"] == "test"]
    assert (len(val), len(test)) == (1010, 1574)
    assert len({c for names in val["labels"] for c in names}) == 101
    assert sum(len(names) == 0 for names in test["labels"]) == 480
    assert all((THUMOS14_DIR / f).exists() for f in ("meta_val.csv", "meta_test.csv", "ucf101_classInd.txt"))


def test_thumos14_labels_are_the_20_classes_of_the_annotated_videos():
    labels = load_labels("thumos14")
    assert labels.groupby("subset").size().to_dict() == {"test": 212, "validation": 200}
    assert len({c for names in labels["labels"] for c in names}) == 20


def test_unknown_labels_source_is_a_one_line_error_naming_the_choices():
    with pytest.raises(AnnotationError, match="thumos14-101") as e:
        load_labels("thumos15")
    assert "\n" not in str(e.value)


def test_official_video_lists_cover_every_annotated_video():
    subsets = thumos14_video_subsets()
    assert len(subsets) == 1010 + 1574
    for subset in ("validation", "test"):
        assert all(subsets[v] == subset for v in load_thumos14(subset, "txt").video_columns["video"])


@pytest.mark.parametrize("video, canonical", [("v_abc", "abc"), ("abc", "abc"), ("v_v_x", "v_x"),
                                              ("video_test_0000004", "video_test_0000004")])
def test_canonical_video_id_strips_one_leading_v_(video, canonical):
    assert canonical_video_id(video) == canonical


def test_predictions_round_trip_with_their_record(tmp_path):
    cols = {"video": ["b", "a", "b"], "label": ["X", "Y", "X"], "start": [0.0, 1.5, 3.0], "end": [1.0, 2.5, 3.0],
            "score": [0.5, 0.25, 1]}
    write_predictions(cols, tmp_path / "p.json", extra={"threshold": 0.5})
    with pytest.warns(UserWarning, match="1 prediction.s. have zero length"):
        back = read_prediction_columns(tmp_path / "p.json")
    assert list(back["video"]) == ["b", "b", "a"] and list(back["end"]) == [1.0, 3.0, 2.5]
    assert read_predictions_info(tmp_path / "p.json") == {"threshold": 0.5}


def test_predictions_with_numeric_strings_read_as_before(tmp_path):
    p = tmp_path / "p.json"
    p.write_text('{"results": {"v": [{"label": "A", "segment": ["1.5", 2], "score": 1}]}}')
    table = read_predictions(p)
    assert table[["start", "end", "score"]].values.tolist() == [[1.5, 2.0, 1.0]]
