"""MaxBoxAccV2 of ``actionhas.image.boxes`` against the OpenCV restatement of wsolevaluation's BoxEvaluator.

    python benchmarks/bench_maxboxacc.py [--images 600] [--noise 0.15] [--seed 0]

Both score the same random smooth CAMs (1-3 Gaussian blobs on noise of std ``--noise``, at the
resolutions of AlexNet-GAP, GoogLeNet-GAP and ResNet-50 maps) of images of varied sizes with 1-3
boxes each: resize to 224x224,
normalise, box every contour at 100 thresholds, best IoU per threshold. Images alternate between the
two so that both see the same machine load. Prints seconds (wall and CPU) for each, the speed-up
(target >= 2x) and whether every per-image result is identical. The first image is scored apart:
its time is each side's one-time cost (importing OpenCV; importing numba and compiling, or loading
the cached, kernels). Needs ``opencv-python-headless``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from actionhas.image.boxes import maxboxacc_ious
from actionhas.image.boxes_reference import ReferenceBoxEvaluator

CAM_SIZES = (13, 14, 28)   # AlexNet-GAP, GoogLeNet-GAP, ResNet-50 (layer4 at stride 1 on 448) maps


def problem(images: int, noise: float = 0.15, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """(cam, (k, 4) boxes, height, width) per image."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(images):
        size = int(rng.choice(CAM_SIZES))
        yy, xx = np.mgrid[0:size, 0:size] / size
        cam = ndimage.gaussian_filter(rng.normal(0, noise, (size, size)), 0.5)
        for _ in range(rng.integers(1, 4)):
            cy, cx, s = rng.random(), rng.random(), rng.uniform(0.08, 0.3)
            cam += rng.uniform(0.5, 2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        h, w = (int(v) for v in rng.integers(150, 500, 2))
        k = int(rng.integers(1, 4))
        x0, y0 = rng.integers(0, w // 2, k), rng.integers(0, h // 2, k)
        boxes = np.stack([x0, y0, rng.integers(x0 + 10, w), rng.integers(y0 + 10, h)], 1)
        out.append((cam, boxes, h, w))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=600, help="at least 2")
    p.add_argument("--noise", type=float, default=0.15, help="std of the noise under the blobs (blob peaks 0.5-2)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    data = problem(args.images, args.noise, args.seed)
    reference = ReferenceBoxEvaluator()
    wall, cpu, same, first = np.zeros(2), np.zeros(2), 0, np.zeros(2)
    for n, (cam, boxes, h, w) in enumerate(data):
        if n == 1:
            first, wall[:], cpu[:] = wall.copy(), 0, 0
        results = []
        for k, score in enumerate((lambda: reference.accumulate(cam, boxes, (h, w)),
                                   lambda: maxboxacc_ious(cam, boxes, h, w))):
            t, c = time.perf_counter(), time.process_time()
            results.append(score())
            wall[k] += time.perf_counter() - t
            cpu[k] += time.process_time() - c
        same += np.array_equal(*results)
    timed = args.images - 1
    print(f"{args.images} images, noise {args.noise}, 100 thresholds each; the first one apart")
    for name, k in (("wsolevaluation (OpenCV)", 0), ("actionhas", 1)):
        print(f"  {name:24s} {wall[k]:7.2f} s wall  {cpu[k]:7.2f} s CPU  ({1e3 * wall[k] / timed:.2f} ms/image)"
              f"  first image {first[k]:.2f} s")
    print(f"  speed-up: {wall[0] / wall[1]:.2f}x wall, {cpu[0] / cpu[1]:.2f}x CPU (target >= 2x); "
          f"with the first image {(wall[0] + first[0]) / (wall[1] + first[1]):.2f}x wall")
    print(f"  identical per-image best IoUs: {same}/{args.images} {'yes' if same == args.images else 'NO'}")


if __name__ == "__main__":
    main()
