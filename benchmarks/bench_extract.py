"""Extraction throughput: what the decoders supply, what the network takes, what the pipeline gets.

    python benchmarks/bench_extract.py [--videos 3] [--seconds 3] [--batch-size 16] [--workers 1 2 4]
        [--decode-workers N] [--device cuda] [--precision bf16] [--peak-tflops 989]

Writes ``--videos`` THUMOS-like videos (320x180, 30 fps, H.264, ``--seconds`` each), then prints
clips/s of
(a) everything but the network (decode, resize, cut, batch, copy to the device, store), with the
    network replaced by one that costs nothing, for each of ``--workers`` decoder threads;
(b) C3D alone on a batch already on the device, at the batch size and precision (on CUDA also
    (b'), C3D as the pipeline calls it: host clips stacked, pinned, copied in, rows copied out);
(c) the whole pipeline (``extract`` into a store) with ``--decode-workers`` decoders;
and (c)/(b) (target >= 0.8: decoding hidden behind compute). On CUDA also C3D's TFLOP/s and its
share of the card's peak for the precision used (``--peak-tflops``: dense peak of that precision,
e.g. 989 for bf16 on an H100 SXM). Defaults take a few minutes on a 2-core CPU; on a GPU use
e.g. ``--videos 16 --seconds 60 --batch-size 128 --workers 1 2 4 8``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from actionhas.core import defaults
from actionhas.data.video_writer import write_test_video
from actionhas.formats.store import FeatureStore
from feature_extraction.c3d import C3D, FC7_DIM
from feature_extraction.engine import DECODE_WORKERS
from feature_extraction.pipeline import ClipRunner, ExtractOptions, extract
from feature_extraction.weights import random_c3d


class FreeNetwork(torch.nn.Module):
    """Stands in for C3D at no cost: (B, 3, 16, 112, 112) -> zeros (B, 4096)."""

    pool5_mode = "caffe"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(len(x), FC7_DIM)


def gflop_per_clip(model: C3D) -> float:
    """2 x multiply-adds of every conv and linear layer on one clip, counted with forward hooks."""
    total = []

    def hook(module, inputs, output):
        total.append(2 * output.numel() * module.weight[0].numel())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv3d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, 16, 112, 112))
    for h in handles:
        h.remove()
    return sum(total) / 1e9


def bare_network(runner: ClipRunner, batch_size: int, batches: int) -> float:
    """clips/s of the network alone on a batch already on its device, in the runner's precision."""
    x = torch.rand(batch_size, 3, 16, 112, 112, device=runner.device) * 255 - 128
    if runner.cuda:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    with torch.no_grad(), torch.autocast(runner.device.type, dtype=runner.autocast_dtype,
                                         enabled=runner.autocast_dtype is not None):
        runner.model(x)  # warm-up: CUDA context, cuDNN's algorithm choice
        _sync(runner)
        t0 = time.perf_counter()
        for _ in range(batches):
            runner.model(x)
        _sync(runner)
    return batches * batch_size / (time.perf_counter() - t0)


def fed_network(runner: ClipRunner, batch_size: int, batches: int) -> float:
    """clips/s of the network as the pipeline calls it: host clips stacked, copied in, rows copied out."""
    clips = [torch.rand(3, 16, 112, 112) * 255 - 128 for _ in range(batch_size)]
    t0 = time.perf_counter()
    for _ in range(batches):
        runner(clips)
    return batches * batch_size / (time.perf_counter() - t0)


def _sync(runner: ClipRunner) -> None:
    if runner.cuda:
        torch.cuda.synchronize(runner.device)


def timed_extract(paths: list[Path], out: Path, model, weights, opts: ExtractOptions) -> float:
    """clips/s of one ``extract`` run into a fresh store."""
    t0 = time.perf_counter()
    extract(paths, out, model, weights, opts, progress=False)
    seconds = time.perf_counter() - t0
    store = FeatureStore(out)
    return sum(store.num_features(v) for v in store.video_ids) / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=3, help="number of test videos")
    p.add_argument("--seconds", type=float, default=3.0, help="length of each test video")
    p.add_argument("--batch-size", type=int, default=defaults.EXTRACT_BATCH_SIZE)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="decoder counts for (a)")
    p.add_argument("--decode-workers", type=int, default=DECODE_WORKERS, help="decoders of the whole pipeline (c)")
    p.add_argument("--bare-batches", type=int, default=1, help="batches timed for (b)")
    p.add_argument("--device", default=defaults.DEVICE)
    p.add_argument("--precision", default=defaults.EXTRACT_PRECISION, choices=("fp32", "bf16", "fp16"))
    p.add_argument("--peak-tflops", type=float, help="the card's dense peak for --precision, for the utilisation figure")
    args = p.parse_args()
    model, weights = random_c3d(0)
    opts = {"batch_size": args.batch_size, "device": args.device, "precision": args.precision}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = [write_test_video(tmp / f"v{i}.mp4", int(args.seconds * 30), 30, size=(320, 180), seed=i)
                 for i in range(args.videos)]
        print(f"device {args.device}, precision {args.precision}, batch {args.batch_size}, "
              f"{args.videos} videos of {args.seconds:g} s at 320x180, 30 fps")
        for w in args.workers:
            rate = timed_extract(paths, tmp / f"free{w}.h5", FreeNetwork(), weights, ExtractOptions(**opts, decode_workers=w))
            print(f"(a)  all but C3D, {w:2d} workers      : {rate:9.2f} clips/s")
        runner = ClipRunner(model, ExtractOptions(**opts))
        bare = bare_network(runner, args.batch_size, args.bare_batches)
        print(f"(b)  C3D alone, on the device       : {bare:9.2f} clips/s")
        if runner.cuda:
            print(f"(b') C3D fed host clips (ClipRunner): {fed_network(runner, args.batch_size, args.bare_batches):9.2f} clips/s")
        whole = timed_extract(paths, tmp / "c3d.h5", model, weights, ExtractOptions(**opts, decode_workers=args.decode_workers))
        print(f"(c)  whole pipeline, {args.decode_workers:2d} workers    : {whole:9.2f} clips/s")
    print(f"ratio (c)/(b)                       : {whole / bare:9.2f}   (target >= 0.8)")
    if runner.cuda:
        gflop = gflop_per_clip(C3D())
        for name, rate in (("(b)", bare), ("(c)", whole)):
            tflops = rate * gflop / 1000
            share = f" = {tflops / args.peak_tflops:.1%} of the {args.peak_tflops:g} TFLOP/s peak" if args.peak_tflops else ""
            print(f"C3D compute in {name}                 : {tflops:9.2f} TFLOP/s{share}")


if __name__ == "__main__":
    main()
