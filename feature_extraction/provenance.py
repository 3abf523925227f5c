"""What made a store's features, and the checks that keep one store to one set of settings.

A provenance is a flat JSON dict recorded as the ``provenance`` file attribute of a store and of
every work-in-progress file: the kind of features, then every setting that changes a feature
value (weights SHA-256 and layout, pool5, preprocessing, precision, features per second, frames
per clip, decoder and its version for extraction; fps, frames per feature, stride and layout for
imports). Two runs may add to one store only when their provenances agree on every compared key.

``package_version`` is recorded but not compared: every setting that changes a value has its own
key, so an upgrade that leaves them all equal must still be able to resume a days-long extraction.
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.formats import outputs
from actionhas.formats.store import PROVENANCE_NOT_COMPARED, summarize

NOT_COMPARED = PROVENANCE_NOT_COMPARED


class ProvenanceError(ActionhasError):
    """Features made with other settings than the store or shard they would join."""


def package_version() -> str:
    try:
        return metadata.version("actionhas")
    except metadata.PackageNotFoundError:
        return "unknown"


def make_provenance(features: str, settings: dict) -> dict:
    """The provenance of a run: ``features`` (e.g. "c3d-fc7", "imported:i3d"), its settings, the package version."""
    return {"features": features, **settings, "package_version": package_version()}


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_array(array: np.ndarray) -> str:
    """SHA-256 of an array's values as C-ordered float32 (the same for any file the array came from)."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def differences(have: dict, want: dict) -> list[str]:
    """``"key: old -> new"`` for every compared key on which two provenances differ, sorted by key."""
    return outputs.differences(have, want, NOT_COMPARED)


def check_same(path: str | Path, have: dict | None, want: dict, remedy: str) -> None:
    """Refuse, in one line naming ``path`` and each differing setting, features made otherwise than ``want``.

    have: the provenance found at ``path`` (None: made by an earlier version, which recorded none).
    remedy: what the user can do, e.g. "use --overwrite to start clean, or another --out".
    """
    if have is None:
        raise ProvenanceError(f"{path}: made by an earlier version that recorded no provenance: it reads as before "
                              f"but cannot be extended ({remedy})")
    diffs = differences(have, want)
    if diffs:
        raise ProvenanceError(f"{path}: made with other settings ({'; '.join(diffs)}); {remedy}")


def describe_store(path: str | Path) -> str:
    """A store's attributes, provenance, video count and failures as text a person reads."""
    s = summarize(path)
    lines = [f"{path}",
             f"  extractor            {s.info.extractor}",
             f"  feature_dim          {s.info.feature_dim}",
             f"  features_per_second  {s.info.features_per_second:g}",
             f"  videos               {s.videos}" + (f" ({len(s.truncated)} cut short: container over-reported "
                                                     f"its frames)" if s.truncated else ""),
             f"  failures             {len(s.failures)}"]
    lines += [f"    {vid}: {rec['file']}: {rec['reason']}" for vid, rec in sorted(s.failures.items())]
    if s.info.provenance is None:
        lines.append("  provenance           none (made by an earlier version: readable, not extendable "
                     "without --overwrite)")
    else:
        lines.append("  provenance")
        lines += [f"    {k:<22} {json.dumps(v)}" for k, v in sorted(s.info.provenance.items())]
    return "\n".join(lines)
