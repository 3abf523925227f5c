"""Whole ``python -m actionhas.evaluate`` processes against a plain-loop evaluator process, THUMOS14-test sized.

    python benchmarks/bench_evaluate.py [--predictions 72000] [--repeats 3] [--seed 0]

Writes ~72k predictions over the shipped THUMOS14 test ground truth (20 classes, 213 videos):
jittered instances, some with a wrong class, segments anywhere in annotated videos and in
unannotated test videos, scores rounded to 3 decimals so that ties occur. Then, for both
protocols at tIoU 0.1:0.1:0.7, times whole processes (start-up and imports included):
``python -m actionhas.evaluate`` and the loop oracle (``actionhas.evaluation.reference``) run
by ``python -c`` on the same files. Prints wall and CPU seconds (evaluate: best of --repeats; the
loops run once, their seconds dwarf start-up noise), the wall ratio (target >= 15x) and whether
every per-class AP of the two is identical. The processes keep their bytecode cache in the
temporary folder, as an installed package has its .pyc files, even where PYTHONDONTWRITEBYTECODE
is set.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from actionhas.formats.annotations import (
    load_thumos14,
    thumos14_video_subsets,
    write_predictions,
)

LOOPS = """
import json, sys
from actionhas.formats.annotations import load_ground_truth, read_prediction_columns
from actionhas.evaluation.detection_map import DEFAULT_IOUS
from actionhas.evaluation.reference import evaluate_detection_loops
pred, protocol, out = sys.argv[1:]
gt = load_ground_truth("thumos14", "test", protocol)
metrics = evaluate_detection_loops(gt, read_prediction_columns(pred), DEFAULT_IOUS, protocol)
open(out, "w").write(json.dumps(metrics))
"""


def thumos14_test_predictions(count: int, seed: int) -> dict[str, np.ndarray]:
    """Prediction columns over the shipped THUMOS14 test videos (see the module docstring)."""
    rng = np.random.default_rng(seed)
    inst = load_thumos14("test", "txt").instance_columns
    classes = np.array(sorted(set(inst["label"])), dtype=object)
    annotated = np.array(sorted(set(inst["video"])), dtype=object)
    unannotated = np.array(sorted(v for v, s in thumos14_video_subsets().items()
                                  if s == "test" and v not in set(annotated)), dtype=object)
    kind = rng.choice(4, size=count, p=[0.6, 0.15, 0.15, 0.1])  # jittered, wrong class, anywhere, unannotated
    base = rng.integers(0, len(inst["video"]), count)
    video = inst["video"][base].copy()
    label = inst["label"][base].copy()
    start = inst["start"][base] + rng.normal(0, 1.5, count)
    end = inst["end"][base] + rng.normal(0, 1.5, count)
    label[kind == 1] = rng.choice(classes, int((kind == 1).sum()))
    anywhere = kind >= 2
    video[kind == 2] = rng.choice(annotated, int((kind == 2).sum()))
    video[kind == 3] = rng.choice(unannotated, int((kind == 3).sum()))
    label[anywhere] = rng.choice(classes, int(anywhere.sum()))
    start[anywhere] = rng.uniform(0, 200, int(anywhere.sum()))
    end[anywhere] = start[anywhere] + rng.uniform(1, 20, int(anywhere.sum()))
    start = np.maximum(start, 0.0)
    return {"video": video, "label": label, "start": start, "end": np.maximum(end, start + 0.1),
            "score": np.round(rng.random(count), 3)}


def best_time(cmd: list[str], repeats: int, env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeats`` runs of ``cmd``, start-up included."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--predictions", type=int, default=72_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pred = tmp / "predictions.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        write_predictions(thumos14_test_predictions(args.predictions, args.seed), pred)
        print(f"{args.predictions} predictions over the shipped THUMOS14 test ground truth, "
              f"{pred.stat().st_size / 1e6:.1f} MB, tIoU 0.1:0.1:0.7; evaluate: best of {args.repeats} processes")
        for protocol in ("anet", "thumos14"):
            fast_out, loop_out = tmp / f"fast_{protocol}.json", tmp / f"loops_{protocol}.json"
            evaluate = [sys.executable, "-m", "actionhas.evaluate", "--gt", "thumos14", "--subset", "test",
                        "--protocol", protocol, "--pred", str(pred), "--out", str(fast_out)]
            fast_wall, fast_cpu = best_time(evaluate, args.repeats, env)
            loop_wall, loop_cpu = best_time([sys.executable, "-c", LOOPS, str(pred), protocol, str(loop_out)], 1, env)
            fast, loops = json.loads(fast_out.read_text()), json.loads(loop_out.read_text())
            same = fast["per_class"] == loops["per_class"]
            print(f"{protocol:9s} evaluate {fast_wall:6.3f} s (CPU {fast_cpu:5.3f})   loops {loop_wall:6.2f} s "
                  f"(CPU {loop_cpu:5.2f})   ratio {loop_wall / fast_wall:5.1f}x (CPU {loop_cpu / fast_cpu:5.1f}x)   "
                  f"identical per-class AP: {same}   mAP@0.5 {100 * fast['mAP'][4]:.2f}")


if __name__ == "__main__":
    main()
