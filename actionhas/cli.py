"""What every command shares: one-line errors and warnings, and a non-zero exit on failure."""
from __future__ import annotations

import sys
import warnings
from typing import Callable, Sequence

from actionhas.errors import ActionhasError


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def run(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a command's ``main``; a user error becomes ``error: <reason>`` on stderr and exit 1."""
    warnings.formatwarning = _one_line_warning
    try:
        return int(main(argv) or 0)
    except (ActionhasError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
