import json

import h5py
import numpy as np
import pytest
import torch

from actionhas import localize as localize_cli
from actionhas import train as train_cli
from actionhas.core.errors import ActionhasError
from actionhas.data.sampling import mean_feature, sample_uniform
from actionhas.evaluation.detection_map import evaluate_detection
from actionhas.formats.store import FeatureStore, StoreInfo, create_store, write_video
from actionhas.formats.train_config import TrainConfig
from actionhas.localization.pipeline import (
    LocalizeSettings,
    cam_to_instances,
    localize,
    predicted_classes,
)
from actionhas.models.heads import load_run
from actionhas.models.paper import HaSNet, multilabel_cross_entropy
from actionhas.training.video import train


def test_sample_uniform_spreads_and_repeats():
    assert sample_uniform(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert sample_uniform(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    idx = sample_uniform(4321, 2000)
    assert len(idx) == 2000 and idx[0] == 1 and idx[-1] == 4319 and np.all(np.diff(idx) > 0)


def test_mean_feature_is_float64_over_every_feature(tmp_path):
    with create_store(tmp_path / "s.h5", StoreInfo(2, 10.0, "t")) as f:
        write_video(f, "a", np.array([[1, 2], [3, 4]], np.float32), np.array([0.05, 0.15]), 0.2, 30)
        write_video(f, "b", np.array([[5, 6]], np.float32), np.array([0.05]), 0.1, 30)
    mean = mean_feature(FeatureStore(tmp_path / "s.h5"), ["a", "b"], progress=False)
    assert mean.dtype == np.float64 and mean.tolist() == [3.0, 4.0]


def test_multilabel_loss_splits_mass_between_two_labels():
    logits = torch.tensor([[2.0, 2.0, -10.0]])
    both = multilabel_cross_entropy(logits, torch.tensor([[1.0, 1.0, 0.0]]))
    assert both.item() == pytest.approx(np.log(2), abs=1e-4)


def test_cam_runs_on_any_length_and_matches_eq1():
    net = HaSNet(8, 3).eval()
    x = torch.rand(1, 37, 8)
    cam = net.cam(x)
    assert cam.shape == (1, 3, 37)
    maps = net.feature_maps(x)[0]
    assert torch.allclose(cam[0, 1], (net.classifier.weight[1][:, None] * maps).sum(0), atol=1e-6)


def test_cam_to_instances_golden():
    cam = np.array([0, 1, 6, 10, 7, 2, 0, 5, 5, 1], float)
    times = (np.arange(10) + 0.5) / 10
    segs = cam_to_instances(cam, times, 0.5, step=0.1, duration=0.95)
    assert [(round(a, 3), round(b, 3)) for a, b, _ in segs] == [(0.2, 0.5), (0.7, 0.9)]
    assert segs[0][2] == pytest.approx(23 / 3)


def test_cam_with_no_positive_value_still_thresholds_relative_to_its_range():
    segs = cam_to_instances(np.array([-5.0, -1.0, -4.0]), np.array([0.05, 0.15, 0.25]), 0.5, step=0.1)
    assert [(round(a, 2), round(b, 2)) for a, b, _ in segs] == [(0.1, 0.2)]


def _cfg(store, gt, out, **kw):
    base = dict(features=str(store), labels=str(gt), out=str(out), length=200, epochs=2, workers=0, batch_size=8)
    base.update(kw)
    return TrainConfig(**base)


def test_run_directory_holds_config_classes_mean_and_log(small_store, tmp_path):
    store, gt, _ = small_store
    run = train(_cfg(store, gt, tmp_path / "run", val_subset="test"), progress=False)
    config = json.loads((run / "config.json").read_text())
    assert config["hide_prob"] == 0.5 and config["segments"] == 20 and config["weight_decay"] == 5e-4
    assert json.loads((run / "classes.json").read_text()) == [f"Action{i:02d}" for i in range(6)]
    assert np.load(run / "mean_feature.npy").shape == (64,)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1] and "heldout_accuracy" in log[0]
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(small_store, tmp_path):
    store, gt, _ = small_store
    straight = train(_cfg(store, gt, tmp_path / "a", epochs=3, length=50), progress=False)
    train(_cfg(store, gt, tmp_path / "b", epochs=1, length=50), progress=False)
    resumed = train(_cfg(store, gt, tmp_path / "b", epochs=3, length=50), resume=True, progress=False)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len((resumed / "log.jsonl").read_text().splitlines()) == 3


def test_a_run_dying_while_it_logs_an_epoch_resumes_with_every_log_line(small_store, tmp_path, monkeypatch):
    """The process dies in the middle of writing epoch 1's log line; --resume reruns epoch 1."""
    from actionhas.formats.rundir import RunDir

    store, gt, _ = small_store
    straight = train(_cfg(store, gt, tmp_path / "a", epochs=3, length=50), progress=False)
    append = RunDir.append_log

    def dies_at_epoch_1(self, record):
        if record["epoch"] == 1:
            with open(self.path / "log.jsonl", "a") as f:
                f.write('{"epoch": 1, "lo')          # half a line, then the process is gone
            raise SystemExit("killed")
        append(self, record)

    monkeypatch.setattr(RunDir, "append_log", dies_at_epoch_1)
    with pytest.raises(SystemExit):
        train(_cfg(store, gt, tmp_path / "b", epochs=3, length=50), progress=False)
    monkeypatch.setattr(RunDir, "append_log", append)
    resumed = train(_cfg(store, gt, tmp_path / "b", epochs=3, length=50), resume=True, progress=False)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    logs = [[json.loads(line) for line in (r / "log.jsonl").read_text().splitlines()] for r in (straight, resumed)]
    assert [r["epoch"] for r in logs[1]] == [0, 1, 2]
    assert [r["loss"] for r in logs[1]] == [r["loss"] for r in logs[0]]


def test_same_seed_same_numbers_different_seed_differs(small_store, tmp_path):
    store, gt, _ = small_store
    runs = [train(_cfg(store, gt, tmp_path / n, epochs=1, seed=s), progress=False) for n, s in [("x", 3), ("y", 3), ("z", 4)]]
    w = [torch.load(r / "checkpoint.pt", weights_only=True)["model"]["classifier.weight"] for r in runs]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


def test_resume_refuses_changed_settings(small_store, tmp_path):
    store, gt, _ = small_store
    train(_cfg(store, gt, tmp_path / "r", epochs=1), progress=False)
    with pytest.raises(ActionhasError, match="hide_prob"):
        train(_cfg(store, gt, tmp_path / "r", epochs=2, hide_prob=0.0), resume=True, progress=False)


@pytest.mark.slow
def test_hide_and_seek_beats_full_video_at_every_iou(small_store, tmp_path):
    """The paper's claim on data with short key moments and long weak bodies (small version)."""
    store, gt_path, gt = small_store
    maps = {}
    for hide in (0.0, 0.5):
        run = train(_cfg(store, gt_path, tmp_path / f"h{hide}", length=400, epochs=20, hide_prob=hide), progress=False)
        preds = localize(run, store, "test", str(gt_path), progress=False)
        maps[hide] = evaluate_detection(gt.select("test"), preds, [0.1, 0.2, 0.3, 0.4, 0.5])
    full, has = maps[0.0], maps[0.5]
    assert all(h > f for h, f in zip(has["mAP"], full["mAP"])), (full["mAP"], has["mAP"])
    assert has["average_mAP"] > full["average_mAP"]


def test_localize_cli_writes_predictions_and_cams(small_store, tiny_run, tmp_path):
    store, gt, _ = small_store
    code = localize_cli.main(["--run", str(tiny_run), "--features", str(store), "--labels", str(gt),
                              "--out", str(tmp_path / "p.json"), "--save-cams", str(tmp_path / "cams.h5")])
    results = json.loads((tmp_path / "p.json").read_text())["results"]
    assert code == 0 and all(v.startswith("video_test") for v in results)
    with h5py.File(tmp_path / "cams.h5") as f:
        vid = next(iter(results))
        assert f[vid]["cam"].shape == (6, len(f[vid]["times"]))


def test_predicted_classes_without_labels(small_store, tiny_run):
    store, gt, _ = small_store
    preds = localize(tiny_run, store, None, None, LocalizeSettings(top_k=2), progress=False)
    assert preds.groupby("video")["label"].nunique().max() <= 2 and preds["video"].nunique() == 90


def test_predicted_classes_by_rank_or_probability():
    probs = np.array([0.1, 0.5, 0.3, 0.1])
    assert predicted_classes(probs, top_k=2) == [1, 2]
    assert predicted_classes(probs, min_prob=0.25) == [1, 2]
    assert predicted_classes(probs, min_prob=0.9) == [1]


def test_store_with_another_feature_dim_is_refused(small_store, tiny_run, tmp_path):
    _, gt, _ = small_store
    run = tiny_run
    with create_store(tmp_path / "other.h5", StoreInfo(32, 10.0, "t")) as f:
        write_video(f, "video_test_0000070", np.ones((5, 32)), np.arange(5) / 10 + 0.05, 0.5, 30)
    with pytest.raises(ActionhasError, match="gives 32-d features"):
        localize(run, tmp_path / "other.h5", "test", str(gt), progress=False)


def test_nan_features_name_the_video(tmp_path):
    with create_store(tmp_path / "s.h5", StoreInfo(4, 10.0, "t")) as f:
        bad = np.ones((3, 4), np.float32)
        bad[1, 2] = np.nan
        write_video(f, "vid_nan", bad, np.array([0.05, 0.15, 0.25]), 0.3, 30)
        write_video(f, "vid_ok", np.ones((3, 4), np.float32), np.array([0.05, 0.15, 0.25]), 0.3, 30)
    (tmp_path / "labels.csv").write_text("video,subset,labels\nvid_nan,validation,A\nvid_ok,validation,B\n")
    with pytest.raises(ActionhasError, match="vid_nan: 1 feature row"):
        train(_cfg(tmp_path / "s.h5", tmp_path / "labels.csv", tmp_path / "run"), progress=False)


def test_labels_for_videos_missing_from_the_store_warn_with_counts(small_store, tmp_path):
    store, _, _ = small_store
    rows = ["video,subset,labels", "video_validation_0000000,validation,Action00",
            "video_validation_0000001,validation,Action01", "ghost,validation,Action01"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match="1 of 3 training videos are not in"):
        train(_cfg(store, tmp_path / "labels.csv", tmp_path / "run", epochs=1), progress=False)


def test_train_cli_reports_and_load_run_restores(small_store, tmp_path, capsys):
    store, gt, _ = small_store
    code = train_cli.main(["--features", str(store), "--labels", str(gt), "--out", str(tmp_path / "run"),
                           "--epochs", "1", "--length", "100", "--workers", "0"])
    assert code == 0 and "run written to" in capsys.readouterr().out
    model, cfg, classes, mean = load_run(tmp_path / "run")
    assert not model.training and cfg.length == 100 and len(classes) == 6 and mean.shape == (64,)


def test_dataset_keeps_the_times_of_the_sampled_features(small_store):
    from actionhas.data.sampling import VideoFeatures
    store = FeatureStore(small_store[0])
    vid = store.video_ids[0]
    feats, labels, times = VideoFeatures(store, [vid], np.ones((1, 6), np.float32), 50)[0]
    rows = sample_uniform(store.num_features(vid), 50)
    assert feats.shape == (50, 64) and np.array_equal(times.numpy(), store.times(vid)[rows])
    assert np.array_equal(feats.numpy(), store.features(vid)[rows])


def test_importing_actionhas_fixes_mkl_threads_and_code_path_unless_the_user_did():
    """Without these MKL varies its thread count with load and its code path with operand alignment."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MKL_DYNAMIC", "MKL_CBWR")}
    show = ("{first}; from actionhas.core.reproducibility import mkl_code_path; import os; "
            "print(os.environ['MKL_DYNAMIC'], os.environ['MKL_CBWR'], mkl_code_path())")

    def run(first: str, extra: dict | None = None) -> tuple[list[str], str]:
        out = subprocess.run([sys.executable, "-c", show.format(first=first)], env={**env, **(extra or {})},
                             capture_output=True, text=True)
        return out.stdout.split(), out.stderr

    strict = str(0x10002)  # MKL_CBWR_AUTO | MKL_CBWR_STRICT
    assert run("import actionhas, torch")[0] == ["FALSE", "AUTO,STRICT", strict]
    assert run("import torch, actionhas")[0] == ["FALSE", "AUTO,STRICT", strict]  # torch first: set through MKL
    assert run("import actionhas", {"MKL_CBWR": "COMPATIBLE"})[0][:2] == ["FALSE", "COMPATIBLE"]
    out, err = run("import torch; torch.ones(64, 64) @ torch.ones(64, 64); import actionhas")
    assert out[2] != strict and "import actionhas first" in err  # too late: said once, clearly

@pytest.mark.slow
def test_resume_after_kill_with_worker_processes_matches_an_uninterrupted_run(small_store, tmp_path):
    """Default-style settings (DataLoader workers > 0): a kill -9 mid-run, then --resume."""
    import os
    import signal
    import subprocess
    import sys
    import time

    store, gt, _ = small_store
    args = ["--features", str(store), "--labels", str(gt), "--length", "200", "--batch-size", "8",
            "--workers", "2", "--epochs", "6", "--seed", "1"]
    command = [sys.executable, "-m", "actionhas.train", *args]  # every run in a fresh process, as a user runs it
    assert subprocess.run(command + ["--out", str(tmp_path / "straight")], capture_output=True).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen(command + ["--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = killed / "log.jsonl"
    while proc.poll() is None and not (log.exists() and log.read_text().count("\n") >= 2):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = log.read_text().count("\n")
    assert 2 <= done < 6, "the run must be killed mid-way"
    assert subprocess.run(command + ["--out", str(killed), "--resume"], capture_output=True).returncode == 0
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(killed / "checkpoint.pt", weights_only=True)["model"]
    losses = [[r["loss"] for r in map(json.loads, (d / "log.jsonl").read_text().splitlines())]
              for d in (tmp_path / "straight", killed)]
    assert all(torch.equal(a[k], b[k]) for k in a), losses
    assert [r["epoch"] for r in map(json.loads, log.read_text().splitlines())] == list(range(6))


def test_bad_flag_values_stop_before_any_work(small_store, tmp_path, capsys):
    store, gt, _ = small_store
    base = ["--features", str(store), "--labels", str(gt), "--out", str(tmp_path / "run")]
    for bad in (["--pool", "foo"], ["--hide-prob", "1.5"], ["--model", "x"], ["--epochs", "0"]):
        with pytest.raises(SystemExit):
            train_cli.build_parser().parse_args(base + bad)
        assert bad[0] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    if not torch.cuda.is_available():
        with pytest.raises(ActionhasError, match="--device cuda"):
            localize_cli.main(["--run", str(tmp_path / "run"), "--features", str(store), "--out",
                               str(tmp_path / "p.json"), "--device", "cuda"])


def test_selection_keeps_the_best_heldout_epoch_and_refuses_reporting_on_it(small_store, tmp_path):
    import pandas as pd

    store, gt_path, gt = small_store
    # hold out a third of the training videos as a "heldout" subset with temporal labels
    data = json.loads(gt_path.read_text())
    train_videos = sorted(v for v, e in data["database"].items() if e["subset"] == "validation")
    for vid in train_videos[::4]:
        data["database"][vid]["subset"] = "heldout"
    split = tmp_path / "gt_split.json"
    split.write_text(json.dumps(data))
    run = train(_cfg(store, split, tmp_path / "sel", epochs=4, select_on="heldout"), progress=False)
    chosen = json.loads((run / "selection.json").read_text())
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    scores = [r["select_average_mAP"] for r in log]
    assert chosen["subset"] == "heldout" and chosen["metric"] == "average_mAP"
    assert chosen["epoch"] == int(np.argmax(scores)) and chosen["value"] == max(scores)
    selected = torch.load(run / "selected.pt", weights_only=True)
    model, *_ = load_run(run)
    assert all(torch.equal(model.state_dict()[k], selected[k]) for k in selected)
    with pytest.raises(ActionhasError, match="selected on 'heldout'"):
        localize(run, store, "heldout", str(split), progress=False)
    preds = localize(run, store, "test", str(split), progress=False)
    assert isinstance(preds, pd.DataFrame) and len(preds)
    with pytest.raises(ActionhasError, match="training subset"):
        train(_cfg(store, split, tmp_path / "bad", select_on="validation"), progress=False)


def test_activitynet_ids_match_with_or_without_the_v_prefix(tmp_path):
    from actionhas.data.sampling import select_videos

    with create_store(tmp_path / "s.h5", StoreInfo(2, 1.0, "t")) as f:
        for vid in ("v_abc", "def"):
            write_video(f, vid, np.ones((3, 2), np.float32), np.array([0.5, 1.5, 2.5]), 3.0, 30)
    import pandas as pd
    labels = pd.DataFrame({"video": ["abc", "v_def", "ghi"], "subset": ["training"] * 3, "labels": [["A"], ["B"], ["A"]]})
    with pytest.warns(UserWarning, match="1 of 3 training videos"):
        table = select_videos(labels, FeatureStore(tmp_path / "s.h5"), "training")
    assert list(table["video"]) == ["v_abc", "def"]


def test_basnet_with_hiding_trains_and_localizes_with_multi_proposals(small_store, tmp_path):
    store, gt_path, gt = small_store
    run = train(_cfg(store, gt_path, tmp_path / "bas", model="basnet", epochs=2, length=64, channels=32), progress=False)
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "basnet" and config["channels"] is not None and config["hide_prob"] == 0.5
    code = localize_cli.main(["--run", str(run), "--features", str(store), "--out", str(tmp_path / "p.json"),
                              "--proposals", "multi", "--nms", "soft-nms"])
    data = json.loads((tmp_path / "p.json").read_text())
    assert code == 0 and data["external_data"]["proposals"] == "multi" and data["external_data"]["method"] == "soft-nms"
    assert len(data["results"]) == 90 and all(r["segment"][0] < r["segment"][1] for v in data["results"].values()
                                               for r in v)
    paper = localize(run, store, "test", str(gt_path), progress=False)
    assert len(paper) and set(paper["label"]) <= set(gt.classes)


def test_basnet_one_batch_run_logs_its_loss_and_steps_cut_the_last_epoch(small_store, tmp_path):
    from actionhas.data.sampling import VideoFeatures, label_matrix, select_videos
    from actionhas.formats.labels import load_labels
    from actionhas.formats.store import FeatureStore
    from actionhas.models.heads import build_model

    store, gt, _ = small_store
    cfg = _cfg(store, gt, tmp_path / "one", model="basnet", channels=16, length=40, hide_prob=0.0, dropout=0.0,
               lr=1e-12, batch_size=60)
    run = train(cfg, progress=False)
    logged = json.loads((run / "log.jsonl").read_text().splitlines()[0])["loss"]
    resolved = TrainConfig.from_record(json.loads((run / "config.json").read_text()))
    model = build_model(resolved, 64, 6)
    model.load_state_dict(torch.load(run / "checkpoint.pt", weights_only=True)["model"])
    fs = FeatureStore(store)
    table = select_videos(load_labels(str(gt)), fs, "validation")
    data = VideoFeatures(fs, list(table["video"]), label_matrix(table["labels"], sorted(json.loads(
        (run / "classes.json").read_text()))), 40, "perturbed")
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.stack([data[i][1] for i in range(len(data))])
    with torch.no_grad():
        assert logged == pytest.approx(model.loss(model(x), y).item(), abs=1e-6)
    # 60 videos in batches of 16: 4 steps an epoch; 6 steps are one epoch and 2 steps of the next
    cut = train(_cfg(store, gt, tmp_path / "cut", model="basnet", channels=16, length=40, epochs=None, steps=6,
                     batch_size=16), progress=False)
    state = torch.load(cut / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and next(iter(state["optimizer"]["state"].values()))["step"] == 6


def test_head_presets_give_each_model_its_published_settings():
    paper = TrainConfig(features="s", labels="l", out="o").resolved()
    assert (paper.length, paper.lr, paper.epochs, paper.steps, paper.sampling) == (2000, 1e-3, 40, None, "uniform")
    bas = TrainConfig(features="s", labels="l", out="o", model="basnet").resolved()
    assert (bas.length, bas.lr, bas.weight_decay, bas.batch_size, bas.dropout, bas.steps, bas.epochs, bas.sampling,
            bas.norm_weight) == (750, 1e-4, 5e-4, 16, 0.7, 1500, None, "perturbed", 1e-4)
