"""``python -m actionhas.demo``: the whole pipeline on generated data, in minutes on a laptop CPU.

1. writes a few short videos of moving shapes and extracts C3D fc7 features from them with the
   real extraction path (random C3D weights: no Sports-1M file ships with the package);
2. generates a THUMOS-like feature store in which every action has a short key moment and a
   long, weakly specific body (see actionhas.synthetic);
3. trains Video-full (--hide-prob 0) and Video-HaS (--hide-prob 0.5) with the same seed,
   localizes from the CAM, evaluates (ActivityNet protocol) and writes a report with both.

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


from actionhas import cli, evaluate, extract, localize, report, train
from actionhas.errors import ActionhasError
from actionhas.annotations import write_anet_gt
from actionhas.synthetic import SyntheticSpec, make_feature_store
from actionhas.video_writer import write_test_video


def _step(name: str, entry, args: list[str]) -> None:
    print(f"\n$ python -m actionhas.{name} " + " ".join(args), flush=True)
    code = cli.run(entry.main, args)
    if code != 0:
        raise ActionhasError(f"demo stage '{name}' exited with status {code}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m actionhas.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="actionhas_demo", help="output directory (default: ./actionhas_demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated data and of both trainings")
    p.add_argument("--quick", action="store_true", help="fewer videos and epochs (about a minute)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    print("== 1. extraction on generated videos (random C3D weights; real use wants Sports-1M weights and a GPU)")
    videos = out / "videos"
    videos.mkdir(exist_ok=True)
    n_videos, seconds = (2, 1.0) if args.quick else (3, 1.5)
    for i in range(n_videos):
        write_test_video(videos / f"shapes_{i}.mp4", int(seconds * 30), 30, (160, 120), seed=args.seed + i,
                         pattern="square")
    _step("extract", extract, [str(videos), "--out", str(out / "videos_c3d.h5"), "--random-weights",
                               "--seed", str(args.seed), "--batch-size", "8"])

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
        _step("train", train, ["--features", str(store), "--labels", str(gt_path), "--out", str(run),
                               "--hide-prob", hide, "--length", "500", "--epochs", epochs, "--seed", str(args.seed),
                               "--val-subset", "test", "--workers", "0"])
        _step("localize", localize, ["--run", str(run), "--features", str(store), "--labels", str(gt_path),
                                     "--subset", "test", "--out", str(run / "predictions.json"),
                                     "--save-cams", str(run / "cams.h5")])
        _step("evaluate", evaluate, ["--gt", str(gt_path), "--subset", "test", "--pred", str(run / "predictions.json"),
                                     "--out", str(run / "metrics.json")])

    print("\n== 4. report")
    _step("report", report, [a for n in runs for a in ("--run", f"{n}={out / n}")] +
          ["--gt", str(gt_path), "--subset", "test", "--out", str(out / "report"), "--title", "actionhas demo"])

    print(f"\n== done in {time.time() - t0:.0f} s. mAP (%) on the generated test videos:")
    for name in runs:
        m = json.loads((out / name / "metrics.json").read_text())
        print(evaluate.format_table(m, title=name))
    print(f"report: {out / 'report' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
