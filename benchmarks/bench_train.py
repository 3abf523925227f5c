"""Training throughput from the feature store against the bare model, and peak memory vs store size.

    python benchmarks/bench_train.py [--dim 1024] [--features 400] [--length 2000] [--device cpu]

(a) one epoch of ``actionhas.train`` reading a 100-video store (videos/s);
(b) the same model, batch size and hiding on tensors already in memory (videos/s);
prints their ratio (target >= 0.7), then the peak resident memory of a training process on
stores of 100 and 1000 videos (target: the same), each measured in a fresh process.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actionhas.data.hiding import TemporalHiding
from actionhas.formats.store import StoreInfo, create_store, write_video
from actionhas.models.paper import HaSNet, multilabel_cross_entropy


def make_store(path: Path, videos: int, dim: int, features: int, classes: int = 20) -> Path:
    rng = np.random.default_rng(0)
    rows = ["video,subset,labels"]
    with create_store(path, StoreInfo(dim, 10.0, "benchmark")) as f:
        for i in range(videos):
            feats = np.maximum(rng.standard_normal((features, dim), dtype=np.float32), 0)
            write_video(f, f"v{i:05d}", feats, (np.arange(features) + 0.5) / 10, features / 10, 30)
            rows.append(f"v{i:05d},validation,class{i % classes:02d}")
    path.with_suffix(".csv").write_text("\n".join(rows) + "\n")
    return path


def train_once(store: Path, out: Path, length: int, workers: int, device: str, epochs: int = 2) -> float:
    """Seconds of the last epoch (with 2: a steady-state one) of the real training command."""
    from actionhas.formats.train_config import TrainConfig
    from actionhas.training.video import train
    cfg = TrainConfig(features=str(store), labels=str(store.with_suffix(".csv")), out=str(out), length=length,
                      epochs=epochs, workers=workers, device=device)
    train(cfg, progress=False)
    return json.loads((out / "log.jsonl").read_text().splitlines()[-1])["seconds"]


def bare_model(videos: int, dim: int, length: int, batch: int, device: str) -> float:
    x = torch.rand(videos, length, dim)
    y = torch.nn.functional.one_hot(torch.arange(videos) % 20, 20).float()
    model = HaSNet(dim, 20).to(device)
    hider = TemporalHiding(torch.zeros(dim)).to(device).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3, weight_decay=5e-4)
    t0 = time.perf_counter()
    for i in range(0, videos, batch):
        loss = multilabel_cross_entropy(model(hider(x[i:i + batch].to(device))), y[i:i + batch].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=1024, help="feature dimension (C3D fc7: 4096)")
    p.add_argument("--features", type=int, default=400, help="features per stored video")
    p.add_argument("--length", type=int, default=2000, help="features sampled per video for training")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--peak-only", nargs=2, metavar=("STORE", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.peak_only:  # child process: train one epoch, report peak RSS
        train_once(Path(args.peak_only[0]), Path(args.peak_only[1]), args.length, args.workers, args.device, epochs=1)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = make_store(tmp / "s100.h5", 100, args.dim, args.features)
        torch.manual_seed(0)
        from_store = train_once(small, tmp / "run_a", args.length, args.workers, args.device)
        in_memory = bare_model(100, args.dim, args.length, 16, args.device)
        print(f"{args.dim}-d features, {args.length} per video, batch 16, device {args.device}")
        print(f"(a) training from the store : {100 / from_store:7.1f} videos/s")
        print(f"(b) bare model in memory    : {100 / in_memory:7.1f} videos/s")
        print(f"ratio (a)/(b)               : {in_memory / from_store:7.2f}   (target >= 0.7)")
        big = make_store(tmp / "s1000.h5", 1000, args.dim, args.features)
        peaks = {}
        for name, store in (("100", small), ("1000", big)):
            out = subprocess.run([sys.executable, __file__, "--peak-only", str(store), str(tmp / f"peak_{name}"),
                                  "--length", str(args.length), "--workers", str(args.workers), "--device", args.device],
                                 check=True, capture_output=True, text=True).stdout.split()[-1]
            peaks[name] = float(out)
            size = store.stat().st_size / 2**20
            print(f"peak RSS, store of {name:>4} videos ({size:6.0f} MiB): {peaks[name]:7.0f} MiB")
        print(f"peak ratio 1000/100: {peaks['1000'] / peaks['100']:.2f}   (target: 1.0)")


if __name__ == "__main__":
    main()
