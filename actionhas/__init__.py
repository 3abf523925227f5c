"""Hide-and-Seek for weakly-supervised temporal action and object localization."""
import os

# The same command with the same seed must give the same numbers, under load too. MKL otherwise
# picks fewer threads for a call when the machine is busy, and picks its code path by the memory
# alignment of the operands; either changes the order of float reductions. Set before torch loads
# MKL (a user's own setting wins).
os.environ.setdefault("MKL_DYNAMIC", "FALSE")
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
