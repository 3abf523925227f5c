"""Extraction throughput: the whole pipeline (decode + preprocess + C3D) against the bare network.

    python benchmarks/bench_extract.py [--seconds 6] [--batch-size 16] [--device cpu]

Writes a THUMOS-like 320x180, 30 fps H.264 video, then prints clips/s of (a) the extraction
pipeline on it and (b) C3D alone on random clips of the same batch size and device, and their
ratio (target >= 0.8: decoding hidden behind compute). On CUDA it also prints the fraction of
the card's bf16 peak (``--peak-tflops``, e.g. 989 for an H100 SXM) that C3D reaches.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from actionhas.video_writer import write_test_video
from feature_extraction.c3d import C3D
from feature_extraction.pipeline import ClipRunner, ExtractOptions, Preprocess, extract_video


def gflop_per_clip(model: C3D) -> float:
    """2 x multiply-adds of every conv and linear layer on one clip, counted with forward hooks."""
    total = []

    def hook(module, inputs, output):
        fan_in = module.weight[0].numel()
        total.append(2 * output.numel() * fan_in)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv3d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, 16, 112, 112))
    for h in handles:
        h.remove()
    return sum(total) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="length of the test video")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, for the utilisation figure")
    args = p.parse_args()
    torch.manual_seed(0)
    model = C3D().eval()
    opts = ExtractOptions(batch_size=args.batch_size, device=args.device, precision=args.precision)
    runner = ClipRunner(model, opts)
    with tempfile.TemporaryDirectory() as tmp:
        video = write_test_video(Path(tmp) / "bench.mp4", int(args.seconds * 30), 30, size=(320, 180))
        clip = torch.rand(1, 3, 16, 112, 112)
        runner([clip[0]] * args.batch_size)  # warm-up
        t0 = time.perf_counter()
        feats = extract_video(video, runner, Preprocess(), opts).features
        pipeline = len(feats) / (time.perf_counter() - t0)
    batches = max(1, len(feats) // args.batch_size)
    t0 = time.perf_counter()
    for _ in range(batches):
        runner([clip[0]] * args.batch_size)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    bare = batches * args.batch_size / (time.perf_counter() - t0)
    print(f"device {args.device}, batch {args.batch_size}, {len(feats)} clips from a {args.seconds:g} s 320x180 video")
    print(f"(a) whole pipeline : {pipeline:8.2f} clips/s")
    print(f"(b) bare C3D       : {bare:8.2f} clips/s")
    print(f"ratio (a)/(b)      : {pipeline / bare:8.2f}   (target >= 0.8)")
    tflops = bare * gflop_per_clip(C3D()) / 1000
    print(f"C3D compute        : {tflops:8.3f} TFLOP/s" +
          (f" = {tflops / args.peak_tflops:.1%} of the {args.peak_tflops:g} TFLOP/s peak" if args.peak_tflops else ""))


if __name__ == "__main__":
    main()
