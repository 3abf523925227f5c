"""Hide-and-Seek for weakly-supervised temporal action and object localization."""
from actionhas.core.reproducibility import fix_mkl

fix_mkl()
