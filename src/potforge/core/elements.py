"""Chemical elements as potforge's models and data see them: symbols, species order, and the
species index of every atom of a structure."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from .errors import ConfigError, UnknownElementError

__all__ = ["check_element", "by_atomic_number", "species_indices"]


def is_element(symbol: object) -> bool:
    """Whether ``symbol`` is a chemical element symbol (ASE's, without the dummy ``X``)."""
    return isinstance(symbol, str) and symbol in atomic_numbers and symbol != "X"


def check_element(element: str, key: str = "element") -> str:
    """``element`` if it is a chemical symbol (not the dummy ``X``), else a ConfigError naming
    ``key``."""
    if not is_element(element):
        raise ConfigError(f"{key}: {element!r} is not a chemical element symbol (e.g. Al, Cu, Si)")
    return element


def by_atomic_number(symbols: Iterable[str]) -> tuple[str, ...]:
    """Distinct symbols ordered by atomic number (n2p2's and potforge's default species order)."""
    return tuple(sorted(set(symbols), key=lambda s: atomic_numbers[s]))


def species_indices(atoms: Atoms, species: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``species`` and atomic number (as float) of every atom; UnknownElementError
    naming the foreign elements and the model's species otherwise."""
    numbers = atoms.numbers
    lookup = np.full(119, -1, dtype=np.int32)
    for k, s in enumerate(species):
        lookup[atomic_numbers[s]] = k
    idx = lookup[numbers]
    if np.any(idx < 0):
        bad = sorted({atoms.get_chemical_symbols()[k] for k in np.flatnonzero(idx < 0)})
        raise UnknownElementError(f"structure contains element(s) {', '.join(bad)} that the model "
                                  f"does not know; model species: {', '.join(species)}")
    return idx, numbers.astype(np.float64)
