"""Loading C3D Sports-1M weights from a local file, in the layouts people have.

- ``c3d.pickle``, the widely used state dict converted from Caffe: keys conv1, conv2, conv3a ...
  conv5b, fc6, fc7, fc8 with .weight/.bias. Caffe-derived: pool5 "caffe", Caffe preprocessing;
- mmaction2 checkpoints: ``backbone.conv1a.conv.weight`` ..., ``backbone.fc6.weight``,
  ``cls_head.fc_cls.weight``, optionally under "state_dict". mmaction2 pads pool5 (0, 1, 1)
  ("pytorch_port") and normalises RGB minus (104, 117, 128);
- the project's own file (``save_c3d``): {"format": "actionhas-c3d", "pool5": ..., "state_dict": ...},
  Caffe preprocessing, the pool5 it records ("caffe" when it records none).

Files are read through ``actionhas.formats.torch_files`` (``weights_only=True``): nothing is unpickled beyond tensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from actionhas.core.errors import ActionhasError
from actionhas.formats.torch_files import load_dict, save_atomic, state_dict_of
from feature_extraction.c3d import C3D, POOL5_MODES
from feature_extraction.preprocess import (
    CAFFE_SPORTS1M,
    MMACTION2_SPORTS1M,
    Preprocessing,
)
from feature_extraction.provenance import sha256_file

OWN_FORMAT = "actionhas-c3d"
RANDOM = "random"
_PICKLE_RENAME = {"conv1": "conv1a", "conv2": "conv2a"}
# Per origin: the pool5 its fc6 was trained on and the preprocessing its training used.
_POOL5 = {"c3d.pickle": "caffe", "mmaction2": "pytorch_port", OWN_FORMAT: "caffe", RANDOM: "caffe"}
_PREPROCESSING = {"c3d.pickle": CAFFE_SPORTS1M, "mmaction2": MMACTION2_SPORTS1M, OWN_FORMAT: CAFFE_SPORTS1M,
                  RANDOM: CAFFE_SPORTS1M}


class WeightsError(ActionhasError):
    """A weights file that is missing, unreadable, or does not fit C3D."""


@dataclass(frozen=True)
class WeightsSource:
    """Where a C3D's weights came from: layout (c3d.pickle, mmaction2, actionhas-c3d, random), pool5 in use,
    the file's name and SHA-256, or the seed of random weights."""

    layout: str
    pool5: str
    name: str
    sha256: str | None = None
    seed: int | None = None

    @property
    def preprocessing(self) -> Preprocessing:
        return _PREPROCESSING[self.layout]

    @property
    def extractor(self) -> str:
        """The store's ``extractor`` attribute: a line a person reads."""
        if self.layout == RANDOM:
            return f"c3d-random-weights (seed {self.seed}, pool5={self.pool5}; not Sports-1M: features are meaningless)"
        return f"c3d-sports1m-fc7 ({self.layout}, pool5={self.pool5}, {self.name})"

    def provenance(self) -> dict:
        identity = {"weights_seed": self.seed} if self.layout == RANDOM else {"weights_sha256": self.sha256}
        return {"weights_layout": self.layout, **identity, "pool5": self.pool5}


def _canonical(state: dict) -> tuple[dict, str]:
    """Keys renamed to the C3D module's own (conv1a.weight, fc6.bias, ...), and the file's origin."""
    state = state_dict_of(state)
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


def _check_pool5(where: str, pool5: str) -> None:
    if pool5 not in POOL5_MODES:
        raise WeightsError(f"{where}: pool5 must be one of {POOL5_MODES}, got {pool5!r}")


def load_c3d(path: str | Path, pool5: str | None = None, with_fc8: bool = False) -> tuple[C3D, WeightsSource]:
    """C3D with the weights of ``path`` (eval mode) and where they came from.

    pool5: None picks the one the weights were trained on ("caffe" for c3d.pickle and the own
    format unless it records otherwise, "pytorch_port" for mmaction2).
    """
    path = Path(path)
    raw = load_dict(path, "C3D weights file", WeightsError)
    state, origin = _canonical(raw)
    recorded = raw.get("pool5") if raw.get("format") == OWN_FORMAT else None
    pool5 = pool5 or recorded or _POOL5[origin]
    _check_pool5(str(path), pool5)
    fc8 = with_fc8 and "fc8.weight" in state
    model = C3D(pool5=pool5, with_fc8=fc8, num_classes=state["fc8.weight"].shape[0] if fc8 else 487)
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise WeightsError(f"{path}: missing key {key!r} (file layout read as {origin})")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(f"{path}: {key!r} has shape {tuple(state[key].shape)}, C3D needs {tuple(tensor.shape)}")
    model.load_state_dict({k: state[k] for k in expected})
    return model.eval(), WeightsSource(origin, pool5, path.name, sha256=sha256_file(path))


def random_c3d(seed: int, pool5: str | None = None) -> tuple[C3D, WeightsSource]:
    """C3D with random weights drawn from ``seed`` (tests and demos: its features mean nothing)."""
    pool5 = pool5 or _POOL5[RANDOM]
    _check_pool5("--pool5", pool5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = C3D(pool5=pool5)
    return model.eval(), WeightsSource(RANDOM, pool5, f"random (seed {seed})", seed=seed)


def save_c3d(model: C3D, path: str | Path) -> None:
    """Write ``model`` in the project's own format (pool5 convention recorded)."""
    save_atomic({"format": OWN_FORMAT, "pool5": model.pool5_mode, "state_dict": model.state_dict()}, path)
