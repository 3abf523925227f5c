"""Nothing lost, nothing mixed, never a traceback: one test per defect found at the commands' edges."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from actionhas.core.cli import execute
from actionhas.core.errors import ActionhasError
from actionhas.detect import main as detect_main
from actionhas.evaluate import main as evaluate_main
from actionhas.extract import main as extract_main
from actionhas.formats.ids import VideoIdError, check_video_id
from actionhas.formats.store import FeatureStore, StoreInfo, create_store, write_video
from actionhas.localize import main as localize_main
from actionhas.report import main as report_main
from actionhas.train import main as train_main
from feature_extraction.npy_import import import_npy

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "bad_inputs"


def _run(main, argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = execute(main, [str(a) for a in argv])
    return code, capsys.readouterr().err


def _object_array(path: Path, n: int) -> Path:
    arrays = np.empty(n, dtype=object)
    for i in range(n):
        arrays[i] = np.ones((3, 8), np.float32)
    np.save(path, arrays, allow_pickle=True)
    return path


@pytest.mark.parametrize("name", [".", "..", "a/b", "/abs", "", "a\x01b"])
def test_a_video_id_that_is_not_one_path_component_is_refused(name):
    with pytest.raises(VideoIdError, match="names.txt:3: video id"):
        check_video_id(name, "names.txt:3")


@pytest.mark.parametrize("name", [".", "..", "a/b", "/abs"])
def test_import_refuses_path_like_names_naming_the_id_and_its_file(tmp_path, name):
    (tmp_path / "names.txt").write_text(f"ok\n{name}\n")
    with pytest.raises(ActionhasError, match=r"names.txt:2: video id"):
        import_npy(_object_array(tmp_path / "all.npy", 2), tmp_path / "s.h5", 25, 16, names=tmp_path / "names.txt",
                   progress=False)
    assert not (tmp_path / "s.h5").exists()


def test_the_store_writer_refuses_a_path_like_id_itself(tmp_path):
    with create_store(tmp_path / "s.h5", StoreInfo(8, 10.0, "t")) as f, pytest.raises(VideoIdError, match="'/abs'"):
        write_video(f, "/abs", np.ones((2, 8)), np.array([0.05, 0.15]), 0.2, 30.0)


@pytest.mark.parametrize("target", ["text", "c3d store", "other import"])
def test_import_and_merge_refuse_to_replace_what_they_did_not_make(tiny_project, tmp_path, capsys, target):
    out = tmp_path / "x.h5"
    if target == "text":
        out.write_text("notes")
    elif target == "c3d store":
        with create_store(out, StoreInfo(8, 10.0, "c3d", {"features": "c3d-fc7"})) as f:
            for i in range(4):
                write_video(f, f"v{i}", np.ones((2, 8)), np.array([0.05, 0.15]), 0.2, 30.0)
    else:
        shutil.copy(tiny_project["store30"], out)
    before = out.read_bytes()
    for argv in (["import", tiny_project["npy"], "--out", out, "--fps", "25", "--frames-per-feature", "16"],
                 ["merge", tiny_project["store"], "--out", out]):
        code, err = _run(extract_main, argv, capsys)
        assert code == 1 and "--overwrite" in err and out.read_bytes() == before, err
    assert _run(extract_main, ["merge", tiny_project["store"], "--out", out, "--overwrite"], capsys)[0] == 0
    assert FeatureStore(out).video_ids == FeatureStore(tiny_project["store"]).video_ids


def test_import_with_the_same_settings_replaces_its_own_store(tiny_project, tmp_path, capsys):
    out = tmp_path / "s.h5"
    argv = ["import", tiny_project["npy"], "--out", out, "--fps", "25", "--frames-per-feature", "16"]
    assert _run(extract_main, argv, capsys)[0] == 0
    assert _run(extract_main, argv, capsys)[0] == 0


@pytest.mark.parametrize("command", ["train", "report", "detect"])
def test_an_out_that_is_a_file_is_one_line_not_a_traceback(tiny_project, tmp_path, capsys, command):
    out = tmp_path / "out"
    out.write_text("notes")
    main, argv = {"train": (train_main, ["--features", tiny_project["store"], "--labels", tiny_project["labels"]]),
                  "report": (report_main, ["--run", f"a={tiny_project['run_a']}"]),
                  "detect": (detect_main, ["video_08", "--run", tiny_project["run_a"], "--features",
                                           tiny_project["store"]])}[command]
    code, err = _run(main, [*argv, "--out", out], capsys)
    assert code == 1 and err.strip() == f"error: --out {out}: is a file; give a folder path"


def test_resume_refuses_a_store_reimported_with_other_settings(tiny_project, tmp_path, capsys):
    store = tmp_path / "store.h5"
    shutil.copy(tiny_project["store"], store)
    train = ["--features", store, "--labels", tiny_project["labels"], "--out", tmp_path / "run", "--epochs", "1",
             "--length", "8", "--workers", "0", "--channels", "8"]
    assert _run(train_main, train, capsys)[0] == 0
    assert "provenance" in json.loads((tmp_path / "run" / "store.json").read_text())
    reimport = ["import", tiny_project["npy"], "--out", store, "--fps", "30", "--frames-per-feature", "8"]
    assert _run(extract_main, [*reimport, "--overwrite"], capsys)[0] == 0
    code, err = _run(train_main, [*train[:-8], "--epochs", "2", *train[-6:], "--resume"], capsys)
    assert code == 1 and "fps: 25.0 -> 30.0" in err and "frames_per_feature: 16 -> 8" in err, err


def test_a_run_on_a_store_without_provenance_records_and_checks_a_content_digest(tiny_project, tmp_path, capsys):
    store = tmp_path / "old.h5"
    shutil.copy(tiny_project["store"], store)
    with h5py.File(store, "a") as f:
        del f.attrs["provenance"]
    train = ["--features", store, "--labels", tiny_project["labels"], "--out", tmp_path / "run", "--epochs", "1",
             "--length", "8", "--workers", "0", "--channels", "8"]
    assert _run(train_main, train, capsys)[0] == 0
    assert "digest" in json.loads((tmp_path / "run" / "store.json").read_text())
    with h5py.File(store, "a") as f:
        f["videos/video_00/features"][0] += 1
    code, err = _run(localize_main, ["--run", tmp_path / "run", "--features", store, "--out", tmp_path / "p.json"],
                     capsys)
    assert code == 1 and "content digest differs" in err, err


def test_report_refuses_one_name_over_runs_whose_settings_differ(tiny_project, tmp_path, capsys):
    code, err = _run(report_main, ["--run", f"HaS={tiny_project['run_a']}", "--run", f"HaS={tiny_project['run_b']}",
                                   "--out", tmp_path / "rep"], capsys)
    assert code == 1 and "train.length: 8 -> 4" in err and "own NAME" in err, err
    code, _ = _run(report_main, ["--run", f"A={tiny_project['run_a']}", "--run", f"B={tiny_project['run_b']}",
                                 "--out", tmp_path / "rep"], capsys)
    assert code == 0


def test_detect_refuses_a_folder_of_other_features_and_overwrite_replaces_it(tiny_project, tmp_path, capsys):
    other = tmp_path / "same_settings.h5"
    shutil.copy(tiny_project["store"], other)
    base = ["video_08", "--run", tiny_project["run_a"], "--out", tmp_path / "found"]
    assert _run(detect_main, [*base, "--features", tiny_project["store"]], capsys)[0] == 0
    code, err = _run(detect_main, [*base, "--features", other], capsys)
    assert code == 1 and "made by detect with other settings (features:" in err and "--overwrite" in err, err
    assert _run(detect_main, [*base, "--features", other, "--overwrite"], capsys)[0] == 0


def test_merge_of_a_missing_store_says_it_is_missing(tmp_path, capsys):
    code, err = _run(extract_main, ["merge", tmp_path / "nope.h5", "--out", tmp_path / "m.h5"], capsys)
    assert code == 1 and err.strip() == f"error: {tmp_path / 'nope.h5'}: no such feature store"


def test_evaluate_names_the_file_and_video_named_with_and_without_v_(tiny_project, capsys):
    code, err = _run(evaluate_main, ["--gt", BAD / "gt_x_and_v_x.json", "--pred",
                                     tiny_project["run_a"] / "predictions.json"], capsys)
    assert code == 1 and "gt_x_and_v_x.json: names video 'x' twice, as 'x' and 'v_x'" in err, err


@pytest.mark.parametrize("name", ["text.npy", "random_bytes.npy"])
def test_a_file_that_is_not_npy_is_called_so_not_pickled(tmp_path, name):
    (tmp_path / "feats").mkdir()
    shutil.copy(BAD / name, tmp_path / "feats" / "v.npy")
    with pytest.raises(ActionhasError, match="not a .npy file"):
        import_npy(tmp_path / "feats", tmp_path / "s.h5", 25, 16, progress=False)


def test_nms_iou_0_is_refused_at_the_flag(tiny_project, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        localize_main(["--run", str(tiny_project["run_a"]), "--features", str(tiny_project["store"]),
                       "--out", str(tmp_path / "p.json"), "--nms-iou", "0"])
    assert e.value.code == 2 and "--nms-iou: must lie in (0, 1]" in capsys.readouterr().err


def test_save_cams_makes_its_folder_and_a_folder_target_is_one_line(tiny_project, tmp_path, capsys):
    base = ["--run", tiny_project["run_a"], "--features", tiny_project["store"]]
    assert _run(localize_main, [*base, "--out", tmp_path / "p.json", "--save-cams", tmp_path / "new" / "c.h5"],
                capsys)[0] == 0
    assert (tmp_path / "new" / "c.h5").is_file()
    (tmp_path / "dir").mkdir()
    code, err = _run(localize_main, [*base, "--out", tmp_path / "q.json", "--save-cams", tmp_path / "dir"], capsys)
    assert code == 1 and err.strip() == f"error: --save-cams {tmp_path / 'dir'}: is a folder; give a file path"


def test_a_blank_class_in_labels_is_refused_naming_the_video(tiny_project, tmp_path, capsys):
    code, err = _run(train_main, ["--features", tiny_project["store"], "--labels", BAD / "labels_blank_class.csv",
                                  "--out", tmp_path / "r"], capsys)
    assert code == 1 and "video_00: a blank class name" in err


def test_the_printed_selected_epoch_says_how_selection_json_counts():
    from actionhas.formats.rundir import RunDir
    from actionhas.training.video import summary

    class Run(RunDir):
        def log(self):
            return [{"epoch": 0, "loss": 1.0, "train_accuracy": 0.5}]

        def selection(self):
            return {"epoch": 0, "subset": "test", "metric": "accuracy", "value": 1.0}

    import actionhas.training.video as video
    saved, video.RunDir = video.RunDir, Run
    try:
        line = summary(Path("run"))
    finally:
        video.RunDir = saved
    assert 'selected epoch 1 ("epoch": 0 in selection.json' in line


def test_a_pipe_closed_early_ends_quietly(tiny_project):
    """``extract info STORE | head``: the reader leaves; the command stops without a BrokenPipeError traceback."""
    code = ("import sys; from actionhas.core.cli import execute; from actionhas.extract import main; "
            f"sys.exit(execute(lambda argv: [main(['info', {str(tiny_project['store'])!r}]) for _ in range(3000)] "
            "and 0))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline().strip() == str(tiny_project["store"]).encode()
    proc.stdout.close()  # the reader leaves, as head does
    assert proc.wait(timeout=60) == 141 and proc.stderr.read() == b""


def test_a_zero_frame_video_is_reported_in_a_users_words(tmp_path):
    av = pytest.importorskip("av")
    from feature_extraction.decoding import DecodeError, FrameStream

    with av.open(str(tmp_path / "zero.mp4"), "w") as c:
        s = c.add_stream("mpeg4", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        c.start_encoding()  # a header with a video stream, then no frame
        for packet in s.encode():
            c.mux(packet)
    with pytest.raises(DecodeError, match="no video stream: the file holds no frames"):
        FrameStream(tmp_path / "zero.mp4")
