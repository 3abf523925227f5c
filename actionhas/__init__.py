"""Hide-and-Seek for weakly-supervised temporal action and object localization."""
import os

# MKL otherwise picks fewer threads for a call when the machine is busy, which changes the order of
# float reductions: the same command with the same seed would give other numbers under load. Set
# before torch loads MKL (a user's own MKL_DYNAMIC wins).
os.environ.setdefault("MKL_DYNAMIC", "FALSE")
