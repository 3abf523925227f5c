"""MKL settings that make the same command with the same seed give the same bits, under load too.

MKL otherwise picks fewer threads for a call when the machine is busy (``MKL_DYNAMIC``), and
its code path by the memory alignment of the operands (``MKL_CBWR``); either changes the order of
float reductions. MKL reads both from the environment when torch first runs MKL code, so
``import actionhas`` sets them there; when torch was imported first, they are set through MKL's
own functions instead, which works until torch has run its first MKL call. A user's own
environment setting always wins.
"""
from __future__ import annotations

import ctypes
import os
import sys
import warnings
from pathlib import Path

MKL_ENV = {"MKL_DYNAMIC": "FALSE", "MKL_CBWR": "AUTO,STRICT"}
_CBWR_AUTO_STRICT = 0x10002  # MKL_CBWR_AUTO | MKL_CBWR_STRICT
_CBWR_ALL = -1


def _mkl() -> ctypes.CDLL | None:
    """torch's statically linked MKL, or None where this torch has none."""
    import torch

    path = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        lib = ctypes.CDLL(str(path))
        lib.mkl_serv_cbwr_set.argtypes = lib.mkl_serv_cbwr_get.argtypes = [ctypes.c_int]
        lib.mkl_serv_cbwr_set.restype = lib.mkl_serv_cbwr_get.restype = ctypes.c_int
        lib.MKL_Set_Dynamic.argtypes = [ctypes.c_int]
        return lib
    except (OSError, AttributeError):
        return None


def mkl_code_path() -> int | None:
    """MKL's current conditional-numerical-reproducibility mode (None without MKL)."""
    lib = _mkl()
    return None if lib is None else lib.mkl_serv_cbwr_get(_CBWR_ALL)


def fix_mkl() -> None:
    """Set the environment; if torch is already loaded, set MKL directly (a warning if too late)."""
    user = {name for name in MKL_ENV if name in os.environ}
    for name, value in MKL_ENV.items():
        os.environ.setdefault(name, value)
    if "torch" not in sys.modules:
        return
    lib = _mkl()
    if lib is None:
        return
    if "MKL_DYNAMIC" not in user:
        lib.MKL_Set_Dynamic(0)
    if "MKL_CBWR" not in user and lib.mkl_serv_cbwr_get(_CBWR_ALL) != _CBWR_AUTO_STRICT:
        if lib.mkl_serv_cbwr_set(_CBWR_AUTO_STRICT) != 0:
            warnings.warn("torch ran MKL code before actionhas was imported, so MKL's strict reproducibility could "
                          "not be set: import actionhas first, or set MKL_CBWR=AUTO,STRICT in the environment",
                          stacklevel=3)
