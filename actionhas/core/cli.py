"""What every command shares: one-line errors and warnings, and a non-zero exit on failure."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Callable, Sequence

from actionhas.core.errors import ActionhasError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` shows the module docstring as written and every option's default (a help text
    that states its own default, such as a preset's, keeps it; a required or unset one shows none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default:" in text or action.required or action.default is None:
            return text
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = float(text)
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = float(text)
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def unit_fraction(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def open_unit_fraction(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text}")
    return value


def check_device(device: str) -> None:
    """Refuse, before any work, a device this torch cannot use (``--device cuda`` on a CPU-only build)."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ActionhasError(f"--device {device!r} is not a device (cpu, cuda, cuda:1, ...)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ActionhasError(f"--device {device}: this torch build has no usable CUDA device")


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def execute(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a command's ``main``; a user error becomes ``error: <reason>`` on stderr and exit 1."""
    warnings.formatwarning = _one_line_warning
    try:
        code = int(main(argv) or 0)
        sys.stdout.flush()  # a pipe closed early fails here, not at exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ActionhasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # the file system refused: the message names the path (e.g. permission, disk full)
        print(f"error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _quiet_broken_pipe() -> int:
    """The reader of stdout left (``extract info STORE | head``): stop quietly, as a process killed by SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
    return 141
