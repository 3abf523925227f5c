"""``python -m actionhas.image.evaluate``: Top-1 Cls, Top-1 Loc, GT-known Loc and MaxBoxAccV2.

    python -m actionhas.image.evaluate --run runs/alexnet_has --data ILSVRC/val --boxes LOC_val_solution.csv \\
        --out metrics.json --figure grid.png --ten-crop
    python -m actionhas.image.evaluate --cams my_cams.npz --boxes LOC_val_solution.csv --out metrics.json

``--data`` is an ImageFolder directory (``<synset>/<image>``) or a flat one (ILSVRC's val/),
whose classes then come from ``--boxes`` (LOC_val_solution.csv or a folder of the devkit's
XML files). The CAM of the ground-truth class, resized to the image, gives the GT-known box
(largest component above ``--threshold`` of its max); Top-1 Loc also needs the top-1 class right.
``--ten-crop`` averages probabilities and CAMs over 4 corner and the centre crops and their flips,
each CAM mapped back onto the image.

MaxBoxAccV2 equals wsolevaluation's ``BoxEvaluator`` (multi_contour_eval, IoU 30/50/70,
cam_curve_interval 0.01): the CAM at the network's resolution (the averaged map with
``--ten-crop``; with ``--cams``, the stored map) is resized to 224x224 by OpenCV's bicubic
interpolation (reproduced exactly), min-max normalised and quantised to uint8; at every threshold
t = 0, 0.01, ..., 0.99 each contour of ``map > int(t * 255)`` (8-connected regions and the holes
inside them) gives a box; an image counts at t when a box has IoU >= d with one of its ground-truth
boxes scaled to 224x224 (coordinates truncated). MaxBoxAcc(d) is the best fraction over t, and
MaxBoxAccV2 the mean over d = 0.3, 0.5, 0.7. A CAM with NaN or infinite values, or a constant one,
is an error naming its image; ground-truth boxes reaching outside their image are clipped to it,
with one warning that counts them.

``--cams FILE.npz`` scores maps from any model: ``image_ids`` (N,) str, ``cams`` (N, h, w) float,
the CAM of each image's ground-truth class covering the whole image; optional ``pred_classes``
(N,) str (top-1 synsets, for Top-1 Cls/Loc) and ``image_sizes`` (N, 2) int (height, width of the
original image, when the CAMs are at another resolution; they are resized bilinearly for GT-known).
Loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tqdm import tqdm  # noqa: E402

from actionhas.core import cli  # noqa: E402
from actionhas.core.errors import ActionhasError  # noqa: E402
from actionhas.formats import outputs  # noqa: E402
from actionhas.formats.atomic import atomic_path, write_text_atomic  # noqa: E402
from actionhas.image import defaults  # noqa: E402
from actionhas.image.boxes import LocalizationEvaluator  # noqa: E402
from actionhas.image.data import (  # noqa: E402
    IMAGE_EXTENSIONS,
    load_image,
    normalize,
    read_boxes,
    read_synset_mapping,
    resize,
    ten_crop_offsets,
)
from actionhas.image.networks import CAM_THRESHOLDS, CAMNet  # noqa: E402
from actionhas.image.training import load_image_run  # noqa: E402


@torch.no_grad()
def model_cams(model: CAMNet, img: torch.Tensor, size: int, mean, std, ten_crop: bool = False,
               resize_to: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(C,) class probabilities and (C, h, w) CAMs covering the whole image, before any resize to it:
    the network's map of the size x size input, or with ``ten_crop`` the crops' maps (each resized to
    its crop) averaged on the resize_to x resize_to image."""
    if not ten_crop:
        cams, logits = model.cam(normalize(resize(img, (size, size)), mean, std)[None])
        return logits.softmax(1)[0], cams[0]
    base = normalize(resize(img, (resize_to, resize_to)), mean, std)
    spots = ten_crop_offsets(resize_to, resize_to, size)
    crops = torch.stack([(base[:, y:y + size, x:x + size].flip(2) if f else base[:, y:y + size, x:x + size])
                         for y, x, f in spots])
    cams, logits = model.cam(crops)
    cams = F.interpolate(cams, size=(size, size), mode="bilinear", align_corners=False)
    total = torch.zeros(cams.shape[1], resize_to, resize_to)
    count = torch.zeros(1, resize_to, resize_to)
    for cam, (y, x, flipped) in zip(cams, spots):
        total[:, y:y + size, x:x + size] += cam.flip(2) if flipped else cam
        count[:, y:y + size, x:x + size] += 1
    return logits.softmax(1).mean(0), total / count.clamp(min=1)


def to_image(cams: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(C, h, w) maps resized bilinearly to (C, height, width)."""
    return F.interpolate(cams[None], size=(height, width), mode="bilinear", align_corners=False)[0]


def image_cams(model: CAMNet, img: torch.Tensor, size: int, mean, std, ten_crop: bool = False,
               resize_to: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(C,) class probabilities and (C, H, W) CAMs at the image's own resolution."""
    probs, cams = model_cams(model, img, size, mean, std, ten_crop, resize_to)
    return probs, to_image(cams, img.shape[1], img.shape[2])


def _val_items(data: Path, boxes: dict) -> list[tuple[Path, str]]:
    """(image path, ground-truth synset) of a class-folder or flat validation directory."""
    if any(p.is_dir() for p in data.iterdir()):
        return [(p, d.name) for d in sorted(data.iterdir()) if d.is_dir()
                for p in sorted(d.iterdir()) if p.suffix in IMAGE_EXTENSIONS]
    items = []
    for p in sorted(data.iterdir()):
        if p.suffix in IMAGE_EXTENSIONS:
            if p.stem not in boxes:
                raise ActionhasError(f"{p}: image has no row in the boxes file")
            items.append((p, boxes[p.stem][0][0]))
    return items


def _gt_boxes(boxes: dict, image_id: str, synset: str) -> np.ndarray:
    if image_id not in boxes:
        raise ActionhasError(f"{image_id}: no ground-truth boxes")
    own = [b for s, b in boxes[image_id] if s == synset]
    if not own:
        raise ActionhasError(f"{image_id}: no box of its class {synset}")
    return np.array(own, np.float64)


def evaluate_run(run, data, boxes_path, threshold=None, ten_crop=False, device="cpu", figure=None,
                 figure_count=8, progress=True) -> dict:
    model, cfg, classes = load_image_run(run, device)
    boxes = read_boxes(boxes_path)
    threshold = CAM_THRESHOLDS.get(cfg.arch, 0.2) if threshold is None else threshold
    index = {c: i for i, c in enumerate(classes)}
    ev = LocalizationEvaluator(threshold)
    shown = []
    for path, synset in tqdm(_val_items(Path(data), boxes), desc="evaluate", unit="img", disable=not progress):
        if synset not in index:
            raise ActionhasError(f"{path}: class {synset} is not among the run's {len(classes)} classes")
        img = load_image(path)
        probs, cams = model_cams(model, img.to(device), cfg.image_size, cfg.mean, cfg.std, ten_crop, cfg.resize)
        small = cams[index[synset]].cpu()
        cam = to_image(small[None], img.shape[1], img.shape[2])[0].numpy()
        gt = _gt_boxes(boxes, path.stem, synset)
        box = ev.accumulate(cam, gt, bool(probs.argmax().item() == index[synset]), model_cam=small.numpy(),
                            image_id=str(path))
        if len(shown) < figure_count:
            shown.append((img.permute(1, 2, 0).numpy(), cam, gt, box))
    if figure and shown:
        figure_grid(shown, figure)
    return {**ev.compute(), "ten_crop": ten_crop, "arch": cfg.arch}


def evaluate_npz(npz_path, boxes_path, threshold: float = 0.2, progress: bool = True) -> dict:
    boxes = read_boxes(boxes_path)
    with np.load(npz_path, allow_pickle=False) as f:
        if "image_ids" not in f or "cams" not in f:
            raise ActionhasError(f"{npz_path}: needs arrays 'image_ids' and 'cams'")
        ids, cams = f["image_ids"].astype(str), f["cams"]
        preds = f["pred_classes"].astype(str) if "pred_classes" in f else None
        sizes = f["image_sizes"] if "image_sizes" in f else None
    if cams.ndim != 3 or len(cams) != len(ids):
        raise ActionhasError(f"{npz_path}: 'cams' must be (N, h, w) with N = {len(ids)} image ids")
    if sizes is not None and (sizes.shape != (len(ids), 2) or not np.issubdtype(sizes.dtype, np.integer)
                              or (sizes < 1).any()):
        raise ActionhasError(f"{npz_path}: 'image_sizes' must be (N, 2) positive ints (height, width)")
    ev = LocalizationEvaluator(threshold)
    for i, image_id in enumerate(tqdm(ids, desc="evaluate", unit="img", disable=not progress)):
        if image_id not in boxes:
            raise ActionhasError(f"{npz_path}: image {image_id} has no row in {boxes_path}")
        synset = boxes[image_id][0][0]
        small = cams[i].astype(np.float64)
        cam = small if sizes is None else to_image(torch.from_numpy(small)[None], *map(int, sizes[i]))[0].numpy()
        ev.accumulate(cam, _gt_boxes(boxes, image_id, synset), None if preds is None else bool(preds[i] == synset),
                      model_cam=small, image_id=f"{npz_path}: image {image_id}")
    out = ev.compute()
    if preds is None:
        out["top1_cls"] = out["top1_loc"] = None
    return out


def figure_grid(rows, path, columns: int = 4) -> None:
    """The paper's Figure 4 layout: image, CAM overlay, ground truth red, prediction green."""
    n = len(rows)
    fig, axes = plt.subplots(((n + columns - 1) // columns) * 2, columns, figsize=(2.4 * columns, 4.8 * ((n + columns - 1) // columns)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (img, cam, gt, box) in enumerate(rows):
        r, c = 2 * (k // columns), k % columns
        axes[r, c].imshow(img)
        axes[r + 1, c].imshow(img)
        axes[r + 1, c].imshow(cam, cmap="jet", alpha=0.5)
        for b, colour in [(g, "red") for g in gt] + [(box, "lime")]:
            axes[r + 1, c].add_patch(plt.Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0] + 1, b[3] - b[1] + 1,
                                                   fill=False, color=colour, lw=1.5))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.image.evaluate", description=__doc__,
                                formatter_class=cli.HelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="image training run directory")
    src.add_argument("--cams", help="score CAMs from a .npz file instead of a run")
    p.add_argument("--data", help="validation images (with --run)")
    p.add_argument("--boxes", required=True, help="LOC_val_solution.csv or a folder of VOC-style XML files")
    p.add_argument("--synsets", help="LOC_synset_mapping.txt, to check the boxes' classes")
    p.add_argument("--out", required=True, help="metrics JSON")
    p.add_argument("--threshold", type=float, help="CAM fraction for the GT-known box; unset: the run's "
                                                   "architecture's (0.2 AlexNet, 0.3 GoogLeNet), 0.2 with --cams")
    p.add_argument("--ten-crop", action="store_true", help="average 10 crops (corners, centre, flips)")
    p.add_argument("--figure", help="PNG grid of images, CAMs and boxes")
    p.add_argument("--device", default=defaults.DEVICE, help="cpu, cuda, cuda:1, ... (with --run)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out (and --figure) not written by image.evaluate or made with other settings")
    return p


def _claim_outputs(args: argparse.Namespace) -> dict:
    """Apply the output rule to --out and --figure; the record --out keeps of how it was made."""
    record = {name: outputs.input_path(getattr(args, name)) for name in ("run", "cams", "data", "boxes", "synsets")}
    record.update(threshold=args.threshold, ten_crop=args.ten_crop, figure=outputs.input_path(args.figure))
    read_out = outputs.json_record("made_with", "image.evaluate")
    outputs.claim(args.out, "--out", "file", "image.evaluate", read_out, record, args.overwrite)
    if args.figure:
        def read_figure(path: Path) -> outputs.Record:  # a PNG keeps no record: --out's says it drew this one
            found = read_out(Path(args.out)) if Path(args.out).is_file() else "was not drawn by image.evaluate"
            return found if isinstance(found, str) or found.get("figure") == record["figure"] else \
                "was not drawn by image.evaluate"

        outputs.claim(args.figure, "--figure", "file", "image.evaluate", read_figure, record, args.overwrite)
    return record


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    record = _claim_outputs(args)
    if args.synsets:
        known = read_synset_mapping(args.synsets)
        for image_id, objects in read_boxes(args.boxes).items():
            for synset, _ in objects:
                if synset not in known:
                    raise ActionhasError(f"{args.boxes}: {image_id}: class {synset} is not in {args.synsets}")
    if args.run:
        if not args.data:
            raise ActionhasError("--run needs --data (the validation images)")
        metrics = evaluate_run(args.run, args.data, args.boxes, args.threshold, args.ten_crop, args.device, args.figure)
    else:
        metrics = evaluate_npz(args.cams, args.boxes, 0.2 if args.threshold is None else args.threshold)
    write_text_atomic(args.out, json.dumps({**metrics, "made_with": record}, indent=1))
    pct = {k: f"{100 * v:.2f}" for k, v in metrics.items() if k in ("top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2")
           and v is not None}
    print(f"{metrics['images']} images: " + ", ".join(f"{k} {v}%" for k, v in pct.items()))
    print(f"metrics written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
