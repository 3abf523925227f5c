"""Multi-threshold proposals and their suppression on one long class activation sequence.

    python benchmarks/bench_proposals.py [--length 2000] [--repeats 20]

Prints milliseconds per call of ``class_proposals`` (20 thresholds: 10 on the CAS, 10 on the
attention; without and with the default 24x interpolation; and with every default threshold),
of ``nms`` and ``soft_nms`` on the proposals it returns, and the cost of interpolation as a ratio.
Target: every figure a few milliseconds on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.ndimage import gaussian_filter1d

from actionhas.core import defaults
from actionhas.localization.proposals import class_proposals, nms, soft_nms


def sequences(length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth CAS with ~1 action per 100 features, and an attention that follows it with noise."""
    rng = np.random.default_rng(seed)
    cas = gaussian_filter1d(rng.normal(0, 1, length), 3)
    for start in rng.integers(0, length - 40, length // 100):
        cas[start:start + rng.integers(5, 40)] += rng.uniform(1, 3)
    attention = 1 / (1 + np.exp(-(cas + rng.normal(0, 0.3, length))))
    return cas, attention


def best_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--length", type=int, default=2000, help="features in the sequence")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    cas, attention = sequences(args.length)
    times = (np.arange(args.length) + 0.5) * 0.64
    twenty = {"cas_thresholds": defaults.PROPOSAL_CAS_THRESHOLDS,
              "attention_thresholds": defaults.PROPOSAL_ATTENTION_THRESHOLDS[::3][:10]}
    every = len(defaults.PROPOSAL_CAS_THRESHOLDS) + len(defaults.PROPOSAL_ATTENTION_THRESHOLDS)
    print(f"{args.length} features; best of {args.repeats} runs")
    results = {}
    for name, kw in [("20 thresholds, upsample 1", {**twenty, "upsample": 1}),
                     ("20 thresholds, upsample 24", {**twenty, "upsample": 24}),
                     (f"{every} thresholds (defaults), upsample 24", {})]:
        props = class_proposals(cas, times, 0.5, 0.64, None, attention, **kw)
        ms = best_ms(lambda kw=kw: class_proposals(cas, times, 0.5, 0.64, None, attention, **kw), args.repeats)
        nms_ms = best_ms(lambda props=props: nms(props, defaults.PROPOSAL_NMS_IOU), args.repeats)
        soft_ms = best_ms(lambda props=props: soft_nms(props), args.repeats)
        results[name] = ms
        print(f"{name:42s} proposals {ms:7.2f} ms ({len(props):5d})   nms {nms_ms:7.2f} ms "
              f"({len(nms(props, defaults.PROPOSAL_NMS_IOU))} kept)   soft-nms {soft_ms:7.2f} ms")
    up1, up24 = results["20 thresholds, upsample 1"], results["20 thresholds, upsample 24"]
    print(f"interpolation 24x costs {up24 / up1:.1f}x the proposals of the raw sequence")


if __name__ == "__main__":
    main()
