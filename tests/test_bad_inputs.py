"""Every command against a corpus of bad and unusual inputs (tests/bad_inputs/ plus generated ones).

Each case must end as a user can act on: exit status 1 (2 for a flag argparse refuses), one
``error:`` line on stderr naming what is at fault, no traceback, and nothing changed on disk.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from actionhas.core.cli import execute
from actionhas.demo import main as demo_main
from actionhas.detect import main as detect_main
from actionhas.evaluate import main as evaluate_main
from actionhas.extract import main as extract_main
from actionhas.formats.store import StoreInfo, create_store, write_video
from actionhas.image.evaluate import main as image_evaluate_main
from actionhas.image.train import main as image_train_main
from actionhas.localize import main as localize_main
from actionhas.report import main as report_main
from actionhas.train import main as train_main

BAD = Path(__file__).parent / "bad_inputs"
COMMANDS = {"extract": extract_main, "train": train_main, "localize": localize_main, "evaluate": evaluate_main,
            "report": report_main, "detect": detect_main, "demo": demo_main, "image.train": image_train_main,
            "image.evaluate": image_evaluate_main}


def _text(w: Path) -> None:
    (w / "out.txt").write_text("the user's notes\n")


def _folder(w: Path) -> None:
    (w / "dir").mkdir()
    (w / "dir" / "keep.txt").write_text("the user's file\n")


def _c3d_store(w: Path) -> None:
    """A store of four videos made by another extractor (other provenance)."""
    info = StoreInfo(8, 10.0, "c3d-sports1m-fc7", {"features": "c3d-fc7", "feature_dim": 8, "pool5": "caffe"})
    with create_store(w / "c3d.h5", info) as f:
        for i in range(4):
            write_video(f, f"v{i}", np.ones((3, 8)), np.arange(3) / 10 + 0.05, 0.3, 30.0)


def _object_array(w: Path) -> None:
    arrays = np.empty(1, dtype=object)
    arrays[0] = np.ones((3, 8), np.float32)
    np.save(w / "all.npy", arrays, allow_pickle=True)


def _npy_dir_of(name: str):
    def make(w: Path) -> None:
        (w / "feats").mkdir()
        shutil.copy(BAD / name, w / "feats" / "video_00.npy")
    return make


def _detect_folder_of_other_features(w: Path, p: dict) -> None:
    (w / "found").mkdir()
    (w / "found" / "made_with.json").write_text('{"command": "detect", "settings": {"features": "elsewhere.h5"}}')


# (id, command, argv with {B} bad_inputs, {W} the case's folder, {name} project paths; setup; rc; expected text)
CASES = [
    ("import-name-dot", "extract", "import {W}/all.npy --names {B}/names_dot.txt --out {W}/s.h5 --fps 25 "
     "--frames-per-feature 16", _object_array, 1, "'.'"),
    ("import-name-dotdot", "extract", "import {W}/all.npy --names {B}/names_dotdot.txt --out {W}/s.h5 --fps 25 "
     "--frames-per-feature 16", _object_array, 1, "'..'"),
    ("import-name-slash", "extract", "import {W}/all.npy --names {B}/names_slash.txt --out {W}/s.h5 --fps 25 "
     "--frames-per-feature 16", _object_array, 1, "'a/b'"),
    ("import-name-abs", "extract", "import {W}/all.npy --names {B}/names_abs.txt --out {W}/s.h5 --fps 25 "
     "--frames-per-feature 16", _object_array, 1, "'/abs'"),
    ("import-name-control", "extract", "import {W}/all.npy --names {B}/names_control.txt --out {W}/s.h5 --fps 25 "
     "--frames-per-feature 16", _object_array, 1, "control character"),
    ("import-text-npy", "extract", "import {W}/feats --out {W}/s.h5 --fps 25 --frames-per-feature 16",
     _npy_dir_of("text.npy"), 1, "not a .npy file"),
    ("import-random-npy", "extract", "import {W}/feats --out {W}/s.h5 --fps 25 --frames-per-feature 16",
     _npy_dir_of("random_bytes.npy"), 1, "not a .npy file"),
    ("import-onto-text", "extract", "import {npy} --out {W}/out.txt --fps 25 --frames-per-feature 16", _text, 1,
     "--overwrite"),
    ("import-onto-c3d-store", "extract", "import {npy} --out {W}/c3d.h5 --fps 25 --frames-per-feature 16",
     _c3d_store, 1, "other settings"),
    ("import-onto-other-import", "extract", "import {npy} --out {store30} --fps 25 --frames-per-feature 16",
     None, 1, "fps: 30.0 -> 25.0"),
    ("import-onto-folder", "extract", "import {npy} --out {W}/dir --fps 25 --frames-per-feature 16", _folder, 1,
     "is a folder"),
    ("import-under-a-file", "extract", "import {npy} --out {W}/out.txt/s.h5 --fps 25 --frames-per-feature 16",
     _text, 1, "is a file"),
    ("import-fps-0", "extract", "import {npy} --out {W}/s.h5 --fps 0 --frames-per-feature 16", None, 1, "--fps"),
    ("import-missing-source", "extract", "import {W}/nope --out {W}/s.h5 --fps 25 --frames-per-feature 16", None, 1,
     "nope"),
    ("merge-missing-store", "extract", "merge {W}/nope.h5 --out {W}/m.h5", None, 1, "no such feature store"),
    ("merge-text-store", "extract", "merge {B}/not_a_store.h5 --out {W}/m.h5", None, 1, "not a readable"),
    ("merge-onto-text", "extract", "merge {store} --out {W}/out.txt", _text, 1, "--overwrite"),
    ("merge-onto-c3d-store", "extract", "merge {store} --out {W}/c3d.h5", _c3d_store, 1, "other settings"),
    ("info-text-file", "extract", "info {B}/not_a_store.h5", None, 1, "not a readable HDF5"),
    ("info-missing", "extract", "info {W}/nope.h5", None, 1, "not found"),
    ("c3d-missing-videos", "extract", "{W}/novideos --out {W}/s.h5 --random-weights", None, 1, "novideos"),
    ("c3d-out-under-a-file", "extract", "{W} --out {W}/out.txt/s.h5 --random-weights", _text, 1, "is a file"),
    ("c3d-onto-text", "extract", "{W} --out {W}/out.txt --random-weights", _text, 1, "not a readable feature store"),
    ("train-out-is-file", "train", "--features {store} --labels {labels} --out {W}/out.txt", _text, 1,
     "is a file"),
    ("train-out-foreign-folder", "train", "--features {store} --labels {labels} --out {W}/dir", _folder, 1,
     "no training run"),
    ("train-out-is-run-of-other-settings", "train", "--features {store} --labels {labels} --out {run_a}",
     None, 1, "--resume"),
    ("train-blank-class", "train", "--features {store} --labels {B}/labels_blank_class.csv --out {W}/r", None, 1,
     "blank class"),
    ("train-bad-label-id", "train", "--features {store} --labels {B}/labels_bad_id.csv --out {W}/r", None, 1,
     "'../x'"),
    ("train-one-class", "train", "--features {store} --labels {B}/labels_one_class.csv --out {W}/r", None, 1,
     "needs at least two"),
    ("train-one-class-and-background", "train", "--features {store} --labels "
     "{B}/labels_one_class_and_background.csv --out {W}/r", None, 1, "needs at least two"),
    ("train-missing-store", "train", "--features {W}/nope.h5 --labels {labels} --out {W}/r", None, 1, "nope.h5"),
    ("train-text-store", "train", "--features {B}/not_a_store.h5 --labels {labels} --out {W}/r", None, 1,
     "not_a_store.h5"),
    ("train-lr-0", "train", "--features {store} --labels {labels} --out {W}/r --lr 0", None, 2, "--lr"),
    ("localize-nms-iou-0", "localize", "--run {run_a} --features {store} --out {W}/p.json --nms-iou 0", None, 2,
     "--nms-iou"),
    ("localize-out-is-folder", "localize", "--run {run_a} --features {store} --out {W}/dir", _folder, 1,
     "is a folder"),
    ("localize-out-foreign", "localize", "--run {run_a} --features {store} --out {W}/out.txt", _text, 1,
     "--overwrite"),
    ("localize-out-other-settings", "localize", "--run {run_a} --features {store} --labels {gt} "
     "--out {run_a}/predictions.json --threshold 0.3", None, 1, "threshold: 0.5 -> 0.3"),
    ("localize-cams-onto-folder", "localize", "--run {run_a} --features {store} --out {W}/p.json "
     "--save-cams {W}/dir", _folder, 1, "--save-cams"),
    ("localize-cams-onto-foreign", "localize", "--run {run_a} --features {store} --out {W}/p.json "
     "--save-cams {W}/out.txt", _text, 1, "--save-cams"),
    ("localize-store-of-other-settings", "localize", "--run {run_a} --features {store30} --out {W}/p.json",
     None, 1, "fps: 25.0 -> 30.0"),
    ("localize-missing-run", "localize", "--run {W}/norun --features {store} --out {W}/p.json", None, 1, "norun"),
    ("evaluate-x-and-v_x", "evaluate", "--gt {B}/gt_x_and_v_x.json --pred {run_a}/predictions.json", None, 1,
     "gt_x_and_v_x.json: names video 'x' twice"),
    ("evaluate-slash-id", "evaluate", "--gt {B}/gt_slash_id.json --pred {run_a}/predictions.json", None, 1, "'a/b'"),
    ("evaluate-pred-not-json", "evaluate", "--gt {gt} --pred {B}/not_json.json", None, 1, "not_json.json"),
    ("evaluate-pred-missing", "evaluate", "--gt {gt} --pred {W}/nope.json", None, 1, "nope.json"),
    ("evaluate-out-is-folder", "evaluate", "--gt {gt} --pred {run_a}/predictions.json --out {W}/dir", _folder,
     1, "is a folder"),
    ("evaluate-out-foreign", "evaluate", "--gt {gt} --pred {run_a}/predictions.json --out {W}/out.txt", _text,
     1, "--overwrite"),
    ("evaluate-iou-0", "evaluate", "--gt {gt} --pred {run_a}/predictions.json --iou 0", None, 2, "--iou"),
    ("report-out-is-file", "report", "--run a={run_a} --out {W}/out.txt", _text, 1, "is a file"),
    ("report-out-foreign-folder", "report", "--run a={run_a} --out {W}/dir", _folder, 1, "not written by report"),
    ("report-mixed-settings", "report", "--run HaS={run_a} --run HaS={run_b} --out {W}/rep", None, 1,
     "train.length: 8 -> 4"),
    ("report-no-metrics", "report", "--run a={W} --out {W}/rep", None, 1, "no metrics.json"),
    ("detect-out-is-file", "detect", "video_08 --run {run_a} --features {store} --out {W}/out.txt", _text, 1,
     "is a file"),
    ("detect-out-foreign-folder", "detect", "video_08 --run {run_a} --features {store} --out {W}/dir", _folder, 1,
     "not written by detect"),
    ("detect-out-of-other-features", "detect", "video_08 --run {run_a} --features {store} --out {W}/found",
     _detect_folder_of_other_features, 1, "use --overwrite"),
    ("detect-dotdot-id", "detect", ".. --run {run_a} --features {store} --out {W}/found", None, 1, "'..'"),
    ("detect-store-of-other-settings", "detect", "video_08 --run {run_a} --features {store30} --out {W}/f",
     None, 1, "frames_per_feature: 16 -> 8"),
    ("demo-out-is-file", "demo", "--out {W}/out.txt --quick", _text, 1, "out.txt"),
    ("image-train-out-is-file", "image.train", "--data {W}/images --out {W}/out.txt", _text, 1, "is a file"),
    ("image-train-out-foreign", "image.train", "--data {W}/images --out {W}/dir", _folder, 1, "no training run"),
    ("image-evaluate-out-is-folder", "image.evaluate", "--cams {W}/c.npz --boxes {W}/b.csv --out {W}/dir", _folder,
     1, "is a folder"),
    ("image-evaluate-out-foreign", "image.evaluate", "--cams {W}/c.npz --boxes {W}/b.csv --out {W}/out.txt", _text,
     1, "--overwrite"),
]


def _snapshot(*roots: Path) -> dict[str, tuple]:
    return {str(p): (p.is_dir(), None if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns))
            for root in roots for p in [root, *root.rglob("*")]}


def _error_lines(stderr: str) -> list[str]:
    """stderr's lines that are neither warnings nor progress bars (tqdm redraws with carriage returns)."""
    lines = [line.rsplit("\r", 1)[-1].strip() for line in stderr.splitlines()]
    return [line for line in lines if line and not line.startswith("warning:") and "%|" not in line]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_command_refuses_bad_input_in_one_line_touching_nothing(case, tiny_project, tmp_path, capsys,
                                                                      monkeypatch):
    name, command, argv, setup, rc, expected = case
    if setup is not None:
        setup(tmp_path) if setup.__code__.co_argcount == 1 else setup(tmp_path, tiny_project)
    monkeypatch.chdir(tmp_path)
    paths = {"B": BAD, "W": tmp_path, **{k: str(v) for k, v in tiny_project.items()}}
    args = [a.format(**paths) for a in argv.split()]
    roots = [tmp_path, tiny_project["store"].parent]
    before = _snapshot(*roots)
    capsys.readouterr()
    try:
        code = execute(COMMANDS[command], args)
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == rc, err
    assert "Traceback" not in err
    lines = _error_lines(err)
    if rc == 1:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    else:
        assert lines[-1].split(": ", 1)[1].startswith("error: "), err
    assert expected in lines[-1], lines[-1]
    assert _snapshot(*roots) == before, f"{name} changed files on disk"
