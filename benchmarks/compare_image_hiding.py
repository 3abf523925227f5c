"""GT-known Loc without hiding against Hide-and-Seek on generated part-and-body images.

    python benchmarks/compare_image_hiding.py [--seeds 0 1 2] [--epochs 15]

For each seed: writes a dataset (actionhas.image.synthetic), trains small_gap with
``--hide-sizes 0`` and with ``--hide-sizes 16`` through ``python -m actionhas.image.train``'s
entry point, evaluates both with ``actionhas.image.evaluate``, and prints a row per seed.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from actionhas.image import evaluate, train
from actionhas.image.synthetic import ImageSpec, make_image_dataset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=15)
    args = p.parse_args()
    print("seed  GT-known Loc (%): no hiding -> HaS-16   Top-1 Loc (%): no hiding -> HaS-16")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            data = make_image_dataset(Path(tmp) / "data", ImageSpec(seed=seed))
            metrics = {}
            for sizes in ("0", "16"):
                run, out = Path(tmp) / f"run{sizes}", Path(tmp) / f"m{sizes}.json"
                train.main(["--data", str(data["train"]), "--out", str(run), "--arch", "small_gap", "--hide-sizes", sizes,
                            "--epochs", str(args.epochs), "--lr", "0.05", "--lr-step", str(args.epochs * 2 // 3), "--batch-size", "32",
                            "--resize", "48", "--image-size", "40", "--workers", "0", "--mean-std", "auto",
                            "--seed", str(seed)])
                evaluate.main(["--run", str(run), "--data", str(data["val"]), "--boxes", str(data["boxes"]),
                               "--out", str(out)])
                metrics[sizes] = json.loads(out.read_text())
        a, b = metrics["0"], metrics["16"]
        print(f"{seed:4d}  {100 * a['gt_known_loc']:27.1f} -> {100 * b['gt_known_loc']:5.1f}"
              f"   {100 * a['top1_loc']:24.1f} -> {100 * b['top1_loc']:5.1f}")


if __name__ == "__main__":
    main()
