"""``python -m actionhas.demo``: the whole pipeline on generated data, in minutes on a laptop CPU.

1. writes a few untrimmed videos, a still scene in which a moving shape (a bar or a square, or
   one of each) appears for a few seconds at a known time, and extracts C3D fc7 features from
   them with the real extraction path (random C3D weights: no Sports-1M file ships with the
   package; they still tell a moving shape from the still scene);
2. generates a THUMOS-like feature store in which every action has a short key moment and a
   long, weakly specific body (see actionhas.data.synthetic);
3. trains Video-full (--hide-prob 0) and Video-HaS (--hide-prob 0.5) with the same seed,
   localizes from the CAM, evaluates (ActivityNet protocol) and writes a report with both;
4. trains a small run on the features of the videos of step 1 (classes Bars and Squares, from
   video-level labels only) and runs ``detect`` on those video files: instances, timelines and
   a page that plays each video; every instance it finds is printed beside the event that was
   planted (DIR/detect/truth.json) with their tIoU.

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

import numpy as np
import torch

from actionhas.core import cli, defaults
from actionhas.detect import main as detect_main
from actionhas.evaluate import main as evaluate_main
from actionhas.extract import main as extract_main
from actionhas.localize import main as localize_main
from actionhas.report import main as report_main
from actionhas.train import main as train_main
from actionhas.core.errors import ActionhasError
from actionhas.evaluation.detection_map import format_table
from actionhas.formats.annotations import read_predictions, write_anet_gt
from actionhas.formats.ground_truth import GroundTruth
from actionhas.data.synthetic import SyntheticSpec, make_feature_store
from actionhas.data.video_writer import write_event_video
from actionhas.evaluation.detection_map import interval_iou
from feature_extraction.c3d import C3D
from feature_extraction.weights import save_c3d


TRAIN_SHAPES = ["--epochs", "30", "--length", "12", "--segments", "4", "--lr", "0.01", "--batch-size", "6",
                "--dropout", "0", "--weight-decay", "0", "--workers", "0"]
"""Few short videos of small random-C3D features: every feature sampled, one batch, a high learning rate."""


def _step(name: str, entry, args: list[str]) -> None:
    print(f"\n$ python -m actionhas.{name} " + " ".join(args), flush=True)
    code = cli.execute(entry, args)
    if code != 0:
        raise ActionhasError(f"demo stage '{name}' exited with status {code}")


SHAPE_CLASSES = {"bar": "Bars", "square": "Squares"}
VIDEO_KINDS = (("square",), ("bar",), ("bar", "square"))
"""Videos with one shape and videos with both: a class cannot be learnt as "the other one's absence"."""


def plant_events(count: int, seconds: float, seed: int) -> dict[str, list[tuple[str, float, float]]]:
    """Video name -> its events (shape, start s, end s): 3-5 s alone, 2.5-3.5 s each when two share a video."""
    rng = np.random.default_rng(seed)
    videos = {}
    for i in range(count):
        shapes = VIDEO_KINDS[i % len(VIDEO_KINDS)]
        span, events = seconds / len(shapes), []
        for k, shape in enumerate(rng.permutation(shapes)):
            length = rng.uniform(3, 5) if len(shapes) == 1 else rng.uniform(2.5, 3.5)
            start = k * span + 1 + rng.uniform(0, max(span - length - 2, 0))
            events.append((str(shape), round(start, 1), round(start + length, 1)))
        videos["_".join(SHAPE_CLASSES[s].lower() for s in shapes) + f"_{i}"] = events
    return videos


def planted_truth(videos: dict[str, list[tuple[str, float, float]]], seconds: float) -> GroundTruth:
    instances = [(v, SHAPE_CLASSES[shape], start, end) for v, events in videos.items() for shape, start, end in events]
    return GroundTruth({"video": [i[0] for i in instances], "label": [i[1] for i in instances],
                        "start": [i[2] for i in instances], "end": [i[3] for i in instances]},
                       {"video": list(videos), "subset": ["validation"] * len(videos),
                        "duration": [seconds] * len(videos)})


def detection_lines(truth: GroundTruth, predictions) -> list[str]:
    """Per planted event: the best-overlapping instance of its class beside it, with their tIoU."""
    lines = []
    for t in truth.instances.itertuples():
        mine = predictions[(predictions["video"] == t.video) & (predictions["label"] == t.label)]
        ious = interval_iou(mine["start"].to_numpy(), mine["end"].to_numpy(), t.start, t.end)
        planted = f"{t.video}: planted {t.label} {t.start:5.1f}-{t.end:5.1f} s"
        if not len(mine):
            lines.append(f"{planted} | found nothing of that class")
            continue
        best = mine.iloc[int(np.argmax(ious))]
        iou = float(ious.max())
        lines.append(f"{planted} | found {best['label']} {best['start']:5.1f}-{best['end']:5.1f} s "
                     f"(score {best['score']:.2f}) | tIoU {iou:.2f} {'ok' if iou >= 0.5 else 'MISSED'}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.demo", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--out", default=defaults.DEMO_OUT, help="output directory")
    p.add_argument("--seed", type=int, default=defaults.SEED, help="seed of the generated data and of both trainings")
    p.add_argument("--quick", action="store_true", help="fewer videos and epochs (about a minute)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    print("== 1. extraction on generated videos (random C3D weights; real use wants Sports-1M weights and a GPU)")
    videos = out / "videos"
    shutil.rmtree(videos, ignore_errors=True)  # the demo's own folder: every run starts afresh
    videos.mkdir()
    seconds = 12.0  # one video of each kind, with and without --quick: the run learns each shape from both
    planted = plant_events(len(VIDEO_KINDS), seconds, args.seed)
    for name, events in planted.items():
        write_event_video(videos / f"{name}.webm", seconds, 30, events, seed=args.seed)
    weights = out / "c3d_random.pt"  # stands in for c3d.pickle: no Sports-1M file ships with the package
    torch.manual_seed(args.seed)
    save_c3d(C3D(), weights)
    # one feature a second keeps C3D's share of the demo small; real use keeps the default 10
    _step("extract", extract_main, [str(videos), "--out", str(out / "videos_c3d.h5"), "--weights", str(weights),
                                    "--features-per-second", "1", "--batch-size", "8", "--overwrite"])

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

    print("\n== 5. detect: the videos of step 1, from files to instances (a run trained on their video-level labels)")
    truth = planted_truth(planted, seconds)
    for stale in ("shapes_run", "detect"):  # the demo's own folders: every run starts afresh
        shutil.rmtree(out / stale, ignore_errors=True)
    write_anet_gt(truth, out / "videos_events.json")  # the run learns the video-level labels from it
    _step("train", train_main, ["--features", str(out / "videos_c3d.h5"), "--labels", str(out / "videos_events.json"),
                                "--out", str(out / "shapes_run"), *TRAIN_SHAPES, "--seed", str(args.seed)])
    # the features of step 1 (same weights, same rate); with --weights detect would extract them again
    _step("detect", detect_main, [*(str(videos / f"{n}.webm") for n in planted), "--run", str(out / "shapes_run"),
                                  "--features", str(out / "videos_c3d.h5"), "--out", str(out / "detect")])
    write_anet_gt(truth, out / "detect" / "truth.json")  # beside what detect found, once detect has made its folder
    found = detection_lines(truth, read_predictions(out / "detect" / "predictions.json"))
    print("\nplanted events (DIR/detect/truth.json) against what detect found:\n" + "\n".join(found))

    print(f"\n== done in {time.time() - t0:.0f} s. mAP (%) on the generated test videos:")
    for name in runs:
        m = json.loads((out / name / "metrics.json").read_text())
        print(format_table(m, title=name))
    print("\n".join(found))
    print(f"report: {out / 'report' / 'index.html'}; detections: {out / 'detect' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
