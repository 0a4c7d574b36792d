"""Voigt order of symmetric 3×3 tensors (stress, strain): xx yy zz yz xz xy.

It is ASE's order (``Atoms.get_stress()``, extxyz ``stress``) and potforge's everywhere: data
frames, predictions, the loss's ``stress_components``, strain generators and elastic
constants. (LAMMPS's thermo pressure components pxy pxz pyz come in another order; the
LAMMPS tests map them by name.)
"""

from __future__ import annotations

__all__ = ["VOIGT_NAMES", "VOIGT_PAIRS", "VOIGT_ROWS", "VOIGT_COLS"]

#: component names in Voigt order
VOIGT_NAMES = ("xx", "yy", "zz", "yz", "xz", "xy")
#: (row, column) of each component
VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: rows and columns as index lists: ``tensor[..., VOIGT_ROWS, VOIGT_COLS]`` (NumPy, PyTorch)
#: is the 6-vector
VOIGT_ROWS = [i for i, _ in VOIGT_PAIRS]
VOIGT_COLS = [j for _, j in VOIGT_PAIRS]
