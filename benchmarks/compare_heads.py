"""Hiding as a plug-in: {paper head, BaS-Net, CoLA} x {no hiding, hiding} over several seeds, each head's post-processings.

    python benchmarks/compare_heads.py [--heads paper basnet cola] [--seeds 0 1 2] [--epochs 20] [--out DIR]

Trains on a generated THUMOS-like store (actionhas.data.synthetic: short key moments, long weakly
specific bodies), localizes the test videos with their own classes (``--proposals paper`` and
``multi``; BaS-Net also ``basnet`` and CoLA ``cola``, their official test paths, CoLA's with its predicted
classes), evaluates (ActivityNet protocol, tIoU
0.1-0.7) and prints mean +- std mAP (%) per tIoU over the seeds, with the same data for every run.
The paper head samples 500 features per video; BaS-Net runs its official settings (750 features,
perturbed sampling, lr 1e-4, batch 16, dropout 0.7, its loss) but for its hidden channels and
``--epochs`` (20 epochs of 8 batches: 160 of its 1500 steps); CoLA likewise (750 features, lr 1e-4,
its loss and mining; 160 of its 6000 steps). Generated data shows the mechanism; it says
nothing about THUMOS14 or ActivityNet numbers.
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from actionhas.data.synthetic import SyntheticSpec, make_feature_store
from actionhas.evaluation.detection_map import evaluate_detection
from actionhas.formats.annotations import write_anet_gt
from actionhas.formats.train_config import TrainConfig
from actionhas.localization.pipeline import LocalizeSettings, localize
from actionhas.training.video import train

IOUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heads", nargs="+", default=["paper", "basnet", "cola"], choices=["paper", "basnet", "cola"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--basnet-channels", type=int, default=256,
                   help="BaS-Net's hidden channels (its published 2048 suits 2048-d I3D features, not these 128-d ones)")
    p.add_argument("--cola-channels", type=int, default=256, help="CoLA's embedding channels (published 2048), as above")
    p.add_argument("--out", help="working directory (default: a temporary one)")
    args = p.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="compare_heads_"))
    work.mkdir(parents=True, exist_ok=True)
    spec = SyntheticSpec(seed=0, train_videos=120, test_videos=60)
    store, gt_path = work / "store.h5", work / "gt.json"
    gt = make_feature_store(store, spec)
    write_anet_gt(gt, gt_path)
    test = gt.select("test")
    results: dict[tuple[str, str, str], list[list[float]]] = {}
    t0 = time.time()
    channels = {"paper": None, "basnet": args.basnet_channels, "cola": args.cola_channels}
    for model in args.heads:
        for hide in (0.0, 0.5):
            for seed in args.seeds:
                run = work / f"{model}_hide{hide}_seed{seed}"
                cfg = TrainConfig(features=str(store), labels=str(gt_path), out=str(run), model=model, hide_prob=hide,
                                  channels=channels[model], length=500 if model == "paper" else None,
                                  epochs=args.epochs, seed=seed, workers=0)
                train(cfg, resume=True, progress=False)   # a finished run is kept; a killed one goes on
                for post in ("paper", "multi", *((model,) if model in ("basnet", "cola") else ())):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        preds = localize(run, store, "test", str(gt_path), LocalizeSettings(proposals=post),
                                         progress=False)
                    m = evaluate_detection(test, preds, IOUS)["mAP"]
                    results.setdefault((model, "HaS" if hide else "no hiding", post), []).append(m)
                print(f"  {model} hide={hide} seed={seed} done ({time.time() - t0:.0f} s)", flush=True)
    print(f"\nmAP (%) on the generated test videos, mean ± std over seeds {args.seeds}, {args.epochs} epochs")
    print("| head | hiding | post-processing | " + " | ".join(f"{t:.1f}" for t in IOUS) + " | avg |")
    print("|---|---|---|" + "---|" * (len(IOUS) + 1))
    for (model, hiding, post), runs in results.items():
        a = 100 * np.asarray(runs)
        mean, std = a.mean(0), a.std(0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])
        avg = a.mean(1)
        cells = [f"{m:.1f} ± {s:.1f}" for m, s in zip(mean, std)]
        print(f"| {model} | {hiding} | {post} | " + " | ".join(cells)
              + f" | {avg.mean():.1f} ± {avg.std(ddof=1) if len(avg) > 1 else 0:.1f} |")


if __name__ == "__main__":
    main()
