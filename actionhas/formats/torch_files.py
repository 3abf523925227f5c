"""Torch files, the one place they are read and written: saved atomically, read without unpickling
anything but tensors and plain containers (``torch.load(weights_only=True)``), so a weights file
from anywhere cannot run code."""
from __future__ import annotations

import pickle
from pathlib import Path

from actionhas.core.errors import ActionhasError
from actionhas.formats.atomic import atomic_path


def save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save atomically: a kill leaves the old or the new file."""
    import torch  # here, not at the top: the light commands never load torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_dict(path: str | Path, what: str = "weights file", error: type[ActionhasError] = ActionhasError) -> dict:
    """The dict saved in ``path`` (tensors on the CPU). A missing file, one torch cannot read as
    weights, or one that holds no dict raises ``error`` naming the file and ``what`` it should be."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise error(f"{path}: the {what} holds Python objects besides tensors; they are not unpickled, "
                    "for safety (re-save its state dict)") from None
    except Exception as e:  # torch raises several types for files that are not checkpoints
        raise error(f"{path}: not a loadable {what} ({type(e).__name__})") from None
    if not isinstance(obj, dict):
        raise error(f"{path}: expected a state dict, found {type(obj).__name__}")
    return obj


def state_dict_of(obj: dict) -> dict:
    """The state dict inside a checkpoint: under "state_dict" or "model" when it sits there."""
    for key in ("state_dict", "model"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj
