"""Writes that a kill cannot leave half done: write a temporary file beside the target, then rename."""
from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def torch_save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save to a temporary file, fsync, then rename: a kill leaves the old or the new file."""
    import torch  # here, not at the top: the light commands that write text never load torch

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
