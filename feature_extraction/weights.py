"""Loading C3D Sports-1M weights from a local file, in the layouts people have.

- ``c3d.pickle``, the widely used converted PyTorch state dict: keys conv1, conv2, conv3a ...
  conv5b, fc6, fc7, fc8 with .weight/.bias (made for the PyTorch port: pool5 defaults to
  "pytorch_port");
- mmaction2 checkpoints: ``backbone.conv1a.conv.weight`` ..., ``backbone.fc6.weight``,
  ``cls_head.fc_cls.weight`` (also the port's pool5), optionally under "state_dict";
- the project's own file (``save_c3d``): {"format": "actionhas-c3d", "pool5": ..., "state_dict": ...}.

Files are read with ``torch.load(weights_only=True)``: nothing is unpickled beyond tensors.
"""
from __future__ import annotations

from pathlib import Path

import torch

from actionhas.errors import ActionhasError
from feature_extraction.c3d import C3D, POOL5_MODES

OWN_FORMAT = "actionhas-c3d"
_PICKLE_RENAME = {"conv1": "conv1a", "conv2": "conv2a"}


class WeightsError(ActionhasError):
    """A weights file that is missing, unreadable, or does not fit C3D."""


def _canonical(state: dict) -> tuple[dict, str]:
    """Keys renamed to the C3D module's own (conv1a.weight, fc6.bias, ...), and the file's origin."""
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    keys = list(state)
    if any(k.startswith("backbone.") or ".conv.weight" in k for k in keys):
        out = {}
        for k, v in state.items():
            k = k.removeprefix("module.").removeprefix("backbone.").replace(".conv.", ".")
            out[k.replace("cls_head.fc_cls", "fc8")] = v
        return out, "mmaction2"
    if any(k.startswith("conv1.") for k in keys):
        return {_PICKLE_RENAME.get(k.split(".")[0], k.split(".")[0]) + "." + k.split(".", 1)[1]: v
                for k, v in state.items()}, "c3d.pickle"
    return dict(state), OWN_FORMAT


def load_c3d(path: str | Path, pool5: str | None = None, with_fc8: bool = False) -> tuple[C3D, str]:
    """C3D with the weights of ``path`` (eval mode) and a description for the store's ``extractor``.

    pool5: None picks the file's own convention ("pytorch_port" for c3d.pickle and mmaction2).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: C3D weights file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for non-checkpoint files
        raise WeightsError(f"{path}: not a loadable weights file ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(raw).__name__}")
    file_pool5 = raw.get("pool5") if raw.get("format") == OWN_FORMAT else None
    state, origin = _canonical(raw)
    pool5 = pool5 or file_pool5 or ("caffe" if origin == OWN_FORMAT else "pytorch_port")
    if pool5 not in POOL5_MODES:
        raise WeightsError(f"{path}: pool5 must be one of {POOL5_MODES}, got {pool5!r}")
    fc8 = with_fc8 and "fc8.weight" in state
    model = C3D(pool5=pool5, with_fc8=fc8, num_classes=state["fc8.weight"].shape[0] if fc8 else 487)
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise WeightsError(f"{path}: missing key {key!r} (file layout read as {origin})")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(f"{path}: {key!r} has shape {tuple(state[key].shape)}, C3D needs {tuple(tensor.shape)}")
    model.load_state_dict({k: state[k] for k in expected})
    return model.eval(), f"c3d-sports1m-fc7 ({origin}, pool5={pool5}, {path.name})"


def save_c3d(model: C3D, path: str | Path) -> None:
    """Write ``model`` in the project's own format (pool5 convention recorded)."""
    torch.save({"format": OWN_FORMAT, "pool5": model.pool5_mode, "state_dict": model.state_dict()}, path)
