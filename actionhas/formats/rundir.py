"""The one place that knows a training run directory, for the video and the image side.

    config.json      every setting of the run, defaults included
    classes.json     the class names, in the classifier's order
    checkpoint.pt    weights and optimiser of the last finished epoch (atomically replaced)
    log.jsonl        one JSON line per finished epoch
    selected.pt      weights of the epoch chosen on a held-out split (only with model selection)
    selection.json   which epoch was chosen, on what split and metric, and why
    mean_feature.npy (video side) the fill of hidden segments, float64 over the training features
    store.json       (video side) the feature store trained on: its provenance, or for a store without
                     one a digest of the training videos' features (``FeatureStore.identity``)

``model_state()`` is what localization and evaluation load: the selected weights when the run
chose an epoch, otherwise the last epoch's.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.formats import outputs
from actionhas.formats.atomic import save_npy_atomic, write_text_atomic
from actionhas.formats.store import PROVENANCE_NOT_COMPARED, FeatureStore
from actionhas.formats.torch_files import load_dict, save_atomic

RUN_FILES = ("checkpoint.pt", "selected.pt", "selection.json", "mean_feature.npy", "store.json", "log.jsonl",
             "classes.json", "config.json")
"""Every file a run writes; ``--overwrite`` removes them (and nothing else) before a fresh start."""
ALREADY_A_RUN = "already holds a run; use --resume to continue it, --overwrite to start it afresh, or another --out"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint_path(self) -> Path:
        return self._file("checkpoint.pt")

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def claim(self, config: dict, resume: bool = False, overwrite: bool = False) -> None:
        """Before any work: refuse a --out that is a file, a folder that holds no run, a run made with
        other settings, and (without --resume) a run that has begun, unless ``overwrite``."""
        if self.has_checkpoint() and not (resume or overwrite):
            raise ActionhasError(f"--out {self.path}: {ALREADY_A_RUN}")

        def read(path: Path) -> outputs.Record:
            try:
                found = self.config()
            except ActionhasError:
                found = None
            return found if isinstance(found, dict) else "holds files but no training run"

        if not (resume and self.has_checkpoint()):  # a resume checks its settings itself (check_resume)
            outputs.claim(self.path, "--out", "folder", "train", read, config, overwrite,
                          ignore=("out", "device", "workers"))

    def start(self, config: dict, classes: list[str], overwrite: bool = False) -> None:
        """Begin a new run: refuse a directory that already holds one (``overwrite``: remove its files first)."""
        if self.has_checkpoint() and not overwrite:
            raise ActionhasError(f"--out {self.path}: {ALREADY_A_RUN}")
        for stale in RUN_FILES:
            self._file(stale).unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._file("config.json"), json.dumps(config, indent=1))
        write_text_atomic(self._file("classes.json"), json.dumps(classes, indent=1))
        write_text_atomic(self._file("log.jsonl"), "")

    def save_store(self, identity: dict) -> None:
        """Record the store the run is trained on (``FeatureStore.identity``)."""
        write_text_atomic(self._file("store.json"), json.dumps(identity, indent=1))

    def check_store(self, store: FeatureStore, resume: bool = False) -> None:
        """Refuse features made otherwise than those the run was trained on, naming each differing setting.

        A run made before runs recorded their store (no store.json) is not checked. resume: the
        store must be the very one trained on; otherwise (localize, detect) any store made the same way.
        """
        path = self._file("store.json")
        if not path.is_file():
            return
        try:
            recorded = json.loads(path.read_text())
        except ValueError as e:
            raise ActionhasError(f"{path}: not valid JSON ({e})") from None
        remedy = ("--resume would mix features: resume with the store the run began with, or train afresh with "
                  "--overwrite") if resume else "use features made as the run's (or that store)"
        if "provenance" in recorded:
            if store.info.provenance is None:
                if resume:
                    raise ActionhasError(f"{store.path}: records no provenance, but run {self.path} was trained on a "
                                         f"store that does; {remedy}")
                warnings.warn(f"{store.path} records no provenance: cannot check it is made as run {self.path}'s "
                              "features")
                return
            diffs = outputs.differences(recorded["provenance"], store.info.provenance, PROVENANCE_NOT_COMPARED)
            if diffs:
                raise ActionhasError(f"{store.path}: made with other settings than the features run {self.path} was "
                                     f"trained on ({'; '.join(diffs)}); {remedy}")
            return
        videos = recorded.get("digest_videos", [])
        if not set(videos) <= set(store.video_ids):
            if resume:
                raise ActionhasError(f"{store.path}: lacks videos run {self.path} was trained on; {remedy}")
            warnings.warn(f"{store.path} records no provenance and lacks run {self.path}'s training videos: cannot "
                          "check it is made as the run's features")
            return
        if store.digest(videos) != recorded["digest"]:
            raise ActionhasError(f"{store.path}: its features of the run's training videos are not those run "
                                 f"{self.path} was trained on (content digest differs); {remedy}")

    def config(self) -> dict:
        path = self._file("config.json")
        if not path.exists():
            raise ActionhasError(f"{self.path}: no config.json (not a training run directory)")
        try:
            return json.loads(path.read_text())
        except ValueError as e:
            raise ActionhasError(f"{path}: not valid JSON ({e})") from None

    def classes(self) -> list[str]:
        return json.loads(self._file("classes.json").read_text())

    def check_resume(self, config: dict, may_change: set[str], saved: dict | None = None) -> None:
        """Refuse to resume with settings (other than ``may_change``) that differ from the run's.

        saved: config.json as the current declaration reads it (older key names, settings added
        since); config.json as written when not given.
        """
        diffs = outputs.differences(self.config() if saved is None else saved, config, tuple(may_change))
        if diffs:
            raise ActionhasError(f"{self.path}: --resume with settings that differ from the run's config.json: "
                                 + "; ".join(diffs))

    def save_checkpoint(self, state: dict) -> None:
        save_atomic(state, self.checkpoint_path)

    def load_checkpoint(self) -> dict:
        if not self.has_checkpoint():
            raise ActionhasError(f"{self.path}: no checkpoint.pt (not a training run directory)")
        return load_dict(self.checkpoint_path, "checkpoint")

    def save_selected(self, model_state: dict, selection: dict) -> None:
        """Keep the weights of the epoch chosen on the held-out split, and the reason."""
        save_atomic(model_state, self._file("selected.pt"))
        write_text_atomic(self._file("selection.json"), json.dumps(selection, indent=1))

    def selection(self) -> dict | None:
        path = self._file("selection.json")
        return json.loads(path.read_text()) if path.exists() else None

    def feature_dim(self) -> int:
        """The feature dimension the run was trained on (its checkpoint records it)."""
        return int(self.load_checkpoint()["feature_dim"])

    def check_feature_dim(self, dim: int, source: str) -> None:
        """A run trained on D-dimensional features cannot read others: say so before any work."""
        trained = self.feature_dim()
        if trained != dim:
            raise ActionhasError(f"run {self.path} was trained on {trained}-d features but {source} gives {dim}-d "
                                 "features; use the extractor the run was trained with (or its store)")

    def load_model(self, build):
        """``build()``'s network with the weights the run stands for (``model_state``)."""
        model = build()
        model.load_state_dict(self.model_state())
        return model

    def model_state(self) -> dict:
        """The weights the run stands for: the selected epoch's when it chose one, else the last."""
        if self._file("selected.pt").exists():
            return load_dict(self._file("selected.pt"), "selected model")
        return self.load_checkpoint()["model"]

    def log(self) -> list[dict]:
        """One record per epoch; a last line cut short by a kill mid-write is not a record."""
        path = self._file("log.jsonl")
        if not path.exists():
            return []
        text = path.read_text()
        complete = text if text.endswith("\n") else text[:text.rfind("\n") + 1]
        return [json.loads(ln) for ln in complete.splitlines() if ln.strip()]

    def append_log(self, record: dict) -> None:
        with open(self._file("log.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")

    def trim_log(self, start_epoch: int) -> None:
        """Drop log lines of epochs the checkpoint does not hold (a run killed after the log line and
        before the checkpoint, the order ``fit`` writes them in)."""
        kept = [r for r in self.log() if r["epoch"] < start_epoch]
        write_text_atomic(self._file("log.jsonl"), "".join(json.dumps(r) + "\n" for r in kept))

    def save_mean_feature(self, mean: np.ndarray) -> None:
        save_npy_atomic(self._file("mean_feature.npy"), mean)

    def mean_feature(self) -> np.ndarray:
        return np.load(self._file("mean_feature.npy"), allow_pickle=False)
