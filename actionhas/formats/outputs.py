"""One rule for every path a command writes: nothing of the user's is lost, nothing mixed.

Each output carries a record of how it was made (a store's provenance, a run's config.json, a
JSON's ``made_with`` or ``external_data`` object, a folder's made_with.json). Before any work a
command ``claim``s its output:

- absent (or an empty folder): written, a missing parent folder made;
- written by this command with the same settings: replaced (or resumed, extended) as before;
- written by it with other settings, or not by it at all: refused in one line naming the path,
  the flag and each differing setting, unless ``--overwrite`` says to replace it;
- a folder where a file is expected, or the reverse: refused in one line.

Files are then replaced atomically (``actionhas.formats.atomic``), so a refused or failed run
leaves the old output as it was.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from actionhas.core.errors import ActionhasError
from actionhas.formats.atomic import write_text_atomic

MARKER = "made_with.json"
"""The record a command keeps in an output folder that has no other (report, detect)."""

Record = dict | str
"""What an output's reader found: its settings, or a sentence saying why it is not this command's."""


class OutputError(ActionhasError):
    """An output path the command may not write."""


def _show(value) -> str:
    if value is None:
        return "(none)"
    text = json.dumps(value)
    return text[1:13] + "..." if isinstance(value, str) and len(value) == 64 else text  # a SHA-256: its first 12 digits


def differences(have: dict, want: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """``"key: old -> new"`` for every key (but ``ignore``) on which two records differ, sorted by key."""
    keys = sorted((set(have) | set(want)) - set(ignore))
    return [f"{k}: {_show(have.get(k))} -> {_show(want.get(k))}" for k in keys if have.get(k) != want.get(k)]


def input_path(value: str | Path | None) -> str | None:
    """How a record names an input: an existing path absolute (the same file from any folder), a name as given."""
    if value is None:
        return None
    return str(Path(value).resolve()) if Path(value).exists() else str(value)


def check_shape(path: str | Path, flag: str, kind: Literal["file", "folder"]) -> Path:
    """``path`` as a Path when it can be written as a ``kind``; one line when it is the other kind
    or when a folder above it is a file."""
    path = Path(path)
    if path.exists():
        if kind == "file" and path.is_dir():
            raise OutputError(f"{flag} {path}: is a folder; give a file path")
        if kind == "folder" and not path.is_dir():
            raise OutputError(f"{flag} {path}: is a file; give a folder path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{flag} {path}: {parent} is a file, not a folder")
            break
    return path


def claim(path: str | Path, flag: str, kind: Literal["file", "folder"], command: str,
          read_record: Callable[[Path], Record], settings: dict, overwrite: bool = False,
          ignore: tuple[str, ...] = ()) -> bool:
    """Apply the rule to one output before any work; True when it exists and is to be replaced or kept.

    read_record(path): the settings recorded in the existing output, or why it is not ``command``'s.
    ignore: settings that may differ (package version, paths of inputs that may move).
    """
    path = check_shape(path, flag, kind)
    if not path.exists() or (kind == "folder" and not any(path.iterdir())):
        return False
    if overwrite:
        return True
    found = read_record(path)
    if isinstance(found, str):
        raise OutputError(f"{flag} {path}: exists and {found}; use --overwrite to replace it, or another {flag}")
    diffs = differences(found, settings, ignore)
    if diffs:
        raise OutputError(f"{flag} {path}: made by {command} with other settings ({'; '.join(diffs)}); "
                          f"use --overwrite to replace it, or another {flag}")
    return True


def json_record(key: str, command: str) -> Callable[[Path], Record]:
    """Reader of the record a command keeps under ``key`` of a JSON file it writes."""

    def read(path: Path) -> Record:
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return f"is not a JSON file written by {command}"
        found = data.get(key) if isinstance(data, dict) else None
        return found if isinstance(found, dict) else f"was not written by {command}"

    return read


def folder_record(command: str) -> Callable[[Path], Record]:
    """Reader of the made_with.json a command keeps in an output folder."""

    def read(path: Path) -> Record:
        marker = path / MARKER
        if not marker.is_file():
            return f"holds files not written by {command}"
        try:
            data = json.loads(marker.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return f"is not a JSON file written by {command}"
        if not isinstance(data, dict) or data.get("command") != command or not isinstance(data.get("settings"), dict):
            return f"was not written by {command}"
        return data["settings"]

    return read


def hdf5_record(command: str) -> Callable[[Path], Record]:
    """Reader of the record a command keeps as the ``made_with`` attribute of an HDF5 file it writes."""

    def read(path: Path) -> Record:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                text = f.attrs.get("made_with")
        except OSError:
            return "is not an HDF5 file"
        try:
            found = json.loads(text) if text is not None else None
        except (TypeError, ValueError):
            found = None
        return found if isinstance(found, dict) else f"was not written by {command}"

    return read


def write_folder_record(path: str | Path, command: str, settings: dict) -> None:
    """Mark an output folder as ``command``'s, made with ``settings``."""
    write_text_atomic(Path(path) / MARKER, json.dumps({"command": command, "settings": settings}, indent=1))
