"""Settings declared once: a dataclass field carries its flag, type check, choices and help.

From the one declaration come the command's flags (``add_flags``), ``--help`` with the default,
the checks a library call gets too (``check``), config.json (``dataclasses.asdict``) and the
settings a resumed run may change (``resumable``). A field whose default is ``None`` and that a
head's preset names takes the preset's value (``resolve_presets``), so published settings are data.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
from typing import Any, Callable

from actionhas.core.errors import ActionhasError


def setting(default: Any = dataclasses.MISSING, help: str = "", *, check: Callable[[Any], Any] | None = None,
            choices: tuple | None = None, nargs: str | None = None, aliases: tuple[str, ...] = (),
            resumable: bool = False, flag: bool = True) -> Any:
    """A dataclass field declared with everything its flag needs.

    check: converts and validates one value (``cli.positive_int``...): argparse's ``type`` and
    ``check``'s test. aliases: older flag names still accepted (``--hidden`` for ``--channels``).
    resumable: a resumed run may change it. flag: False for settings a command fills itself.
    """
    meta = {"help": help, "check": check, "choices": choices, "nargs": nargs, "aliases": aliases,
            "resumable": resumable, "flag": flag}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
              only: tuple[str, ...] | None = None, presets: dict[str, dict] | None = None) -> None:
    """One flag per declared field of ``cls`` (those in ``only`` when given, in declaration order).

    presets: {head: {field: value}}; a field they name shows each head's value in its help.
    """
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("flag", False) or (only is not None and f.name not in only):
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else (f.default if f.default_factory is dataclasses.MISSING else f.default_factory())
        text = meta["help"]
        if presets and any(f.name in values for values in presets.values()):
            shown = ", ".join(f"{head} {values[f.name]}" for head, values in presets.items() if f.name in values)
            text += f" (default: the --model's own: {shown})"
        names = [flag_name(f.name)] + [flag_name(a) for a in meta["aliases"]]
        kwargs: dict[str, Any] = {"help": text, "dest": f.name}
        if f.type in (bool, "bool"):
            kwargs.update(action="store_true")
        else:
            kwargs.update(default=default, required=required)
            if meta["check"] is not None:
                kwargs["type"] = meta["check"]
            if meta["choices"] is not None:
                kwargs["choices"] = meta["choices"]
            if meta["nargs"] is not None:
                kwargs["nargs"] = meta["nargs"]
        parser.add_argument(*names, **kwargs)


def from_args(cls: type, args: argparse.Namespace | dict, **extra: Any) -> Any:
    """An instance of ``cls`` from parsed flags (fields without a flag keep their default)."""
    values = vars(args) if isinstance(args, argparse.Namespace) else args
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names}, **extra)


def check(settings: Any) -> None:
    """The flags' own checks, for settings made in Python: one line naming the flag at fault."""
    for f in dataclasses.fields(settings):
        value, meta = getattr(settings, f.name), f.metadata
        if value is None or not meta.get("help"):
            continue
        values = value if isinstance(value, (list, tuple)) and meta.get("nargs") else [value]
        for v in values:
            if meta.get("choices") is not None and v not in meta["choices"]:
                raise ActionhasError(f"{flag_name(f.name)} must be one of {', '.join(map(str, meta['choices']))}, "
                                     f"got {v!r}")
            if meta.get("check") is not None:
                try:
                    meta["check"](v)
                except (argparse.ArgumentTypeError, ValueError, TypeError) as e:
                    raise ActionhasError(f"{flag_name(f.name)}: {e}") from None


def resumable(cls: type) -> set[str]:
    """Names of the settings a resumed run may change."""
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("resumable")}


def resolve_presets(settings: Any, preset: dict[str, Any]) -> Any:
    """A copy with every unset (None) field that ``preset`` names set to the preset's value."""
    unset = {f.name: preset[f.name] for f in dataclasses.fields(settings)
             if getattr(settings, f.name) is None and f.name in preset}
    return dataclasses.replace(settings, **unset)
