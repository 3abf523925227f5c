"""``python -m actionhas.demo``: the whole pipeline on generated data, in minutes on a laptop CPU.

1. writes a few short videos of moving shapes and extracts C3D fc7 features from them with the
   real extraction path (random C3D weights: no Sports-1M file ships with the package);
2. generates a THUMOS-like feature store in which every action has a short key moment and a
   long, weakly specific body (see actionhas.data.synthetic);
3. trains Video-full (--hide-prob 0) and Video-HaS (--hide-prob 0.5) with the same seed,
   localizes from the CAM, evaluates (ActivityNet protocol) and writes a report with both;
4. trains a small run on the features of the videos of step 1 (classes Bars and Squares) and
   runs ``detect`` on those video files: raw videos to instances, timelines and a page.

Every stage runs the command-line entry point of that stage with the arguments printed, so the
demo takes no path the real commands do not.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from actionhas.core import cli
from actionhas.core.errors import ActionhasError
from actionhas.data.synthetic import SyntheticSpec, make_feature_store
from actionhas.data.video_writer import write_test_video
from actionhas.detect import main as detect_main
from actionhas.evaluate import main as evaluate_main
from actionhas.evaluation.detection_map import format_table
from actionhas.extract import main as extract_main
from actionhas.formats.annotations import write_anet_gt
from actionhas.localize import main as localize_main
from actionhas.report import main as report_main
from actionhas.train import main as train_main
from feature_extraction.c3d import C3D
from feature_extraction.weights import save_c3d


def _step(name: str, entry, args: list[str]) -> None:
    print(f"\n$ python -m actionhas.{name} " + " ".join(args), flush=True)
    code = cli.execute(entry, args)
    if code != 0:
        raise ActionhasError(f"demo stage '{name}' exited with status {code}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.demo", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--out", default="actionhas_demo", help="output directory")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated data and of both trainings")
    p.add_argument("--quick", action="store_true", help="fewer videos and epochs (about a minute)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    print("== 1. extraction on generated videos (random C3D weights; real use wants Sports-1M weights and a GPU)")
    videos = out / "videos"
    videos.mkdir(exist_ok=True)
    n_videos, seconds = (2, 1.0) if args.quick else (4, 1.5)
    names = [f"{('squares', 'bars')[i % 2]}_{i}" for i in range(n_videos)]
    for i, name in enumerate(names):
        write_test_video(videos / f"{name}.mp4", int(seconds * 30), 30, (160, 120), seed=args.seed + i,
                         pattern=("square", "bar")[i % 2])
    weights = out / "c3d_random.pt"  # stands in for c3d.pickle: no Sports-1M file ships with the package
    torch.manual_seed(args.seed)
    save_c3d(C3D(), weights)
    _step("extract", extract_main, [str(videos), "--out", str(out / "videos_c3d.h5"), "--weights", str(weights),
                                    "--batch-size", "8", "--overwrite"])

    print("\n== 2. a generated THUMOS-like feature store (key moments + long weak bodies)")
    spec = SyntheticSpec(seed=args.seed, train_videos=100 if args.quick else 160, test_videos=50 if args.quick else 80)
    store, gt_path = out / "synthetic_features.h5", out / "synthetic_gt.json"
    gt = make_feature_store(store, spec)
    write_anet_gt(gt, gt_path)
    print(f"{len(gt.videos)} videos ({spec.train_videos} training, {spec.test_videos} test), "
          f"{len(gt.instances)} instances, {spec.num_classes} classes, {spec.feature_dim}-d features -> {store}")

    epochs = "15" if args.quick else "30"
    runs = {"Video-full": "0", "Video-HaS": "0.5"}
    for name, hide in runs.items():
        print(f"\n== 3. {name}: train, localize, evaluate")
        run = out / name
        shutil.rmtree(run, ignore_errors=True)  # the demo's own folder: every run starts afresh
        # the generated videos last 40-90 s (400-900 features): 500 samples keep every feature
        _step("train", train_main, ["--features", str(store), "--labels", str(gt_path), "--out", str(run),
                               "--hide-prob", hide, "--length", "500", "--epochs", epochs, "--seed", str(args.seed),
                               "--val-subset", "test", "--workers", "0"])
        _step("localize", localize_main, ["--run", str(run), "--features", str(store), "--labels", str(gt_path),
                                     "--subset", "test", "--out", str(run / "predictions.json"),
                                     "--save-cams", str(run / "cams.h5")])
        _step("evaluate", evaluate_main, ["--gt", str(gt_path), "--subset", "test", "--pred", str(run / "predictions.json"),
                                     "--out", str(run / "metrics.json")])

    print("\n== 4. report")
    _step("report", report_main, [a for n in runs for a in ("--run", f"{n}={out / n}")] +
          ["--gt", str(gt_path), "--subset", "test", "--out", str(out / "report"), "--title", "actionhas demo",
           "--overwrite"])

    print("\n== 5. detect: the videos of step 1, from files to instances (a run trained on their features)")
    labels = out / "videos_labels.csv"
    labels.write_text("video,subset,labels\n" + "".join(f"{n},validation,{n.split('_')[0].title()}\n" for n in names))
    for stale in ("shapes_run", "detect"):  # the demo's own folders: every run starts afresh
        shutil.rmtree(out / stale, ignore_errors=True)
    _step("train", train_main, ["--features", str(out / "videos_c3d.h5"), "--labels", str(labels), "--out",
                           str(out / "shapes_run"), "--epochs", "10", "--length", "16", "--segments", "4",
                           "--workers", "0", "--seed", str(args.seed)])
    _step("detect", detect_main, [*(str(videos / f"{n}.mp4") for n in names), "--run", str(out / "shapes_run"),
                             "--weights", str(weights), "--out", str(out / "detect")])

    print(f"\n== done in {time.time() - t0:.0f} s. mAP (%) on the generated test videos:")
    for name in runs:
        m = json.loads((out / name / "metrics.json").read_text())
        print(format_table(m, title=name))
    print(f"report: {out / 'report' / 'index.html'}; detections: {out / 'detect' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
