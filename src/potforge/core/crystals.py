"""Crystal structures of one element, their lattice constants, and small strains: the knowledge
that configuration generators and property calculations share.

Lattices are ``fcc``, ``bcc``, ``hcp``, ``diamond`` and ``sc``, built by
:func:`ase.build.bulk`, whose Cartesian axes are the cubic axes for the cubic lattices and
a ∥ x, c ∥ z for hcp. Strains are small-strain tensors ε with engineering shears in Voigt
order xx yy zz yz xz xy (e₄ = γ_yz = 2 ε_yz, ...); a cell is strained as cell' = cell (1 + ε)ᵀ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from .elements import check_element
from .errors import ConfigError, nearest
from .voigt import VOIGT_PAIRS

__all__ = ["LATTICES", "ATOMS_PER_CELL", "IDEAL_C_OVER_A",
           "check_lattice", "reference_lattice", "volume_per_atom", "lattice_constants", "lattice_guess",
           "nearest_neighbor_distance", "bulk_crystal", "strain_tensor", "voigt_strain"]

#: Lattices of one element (names as :func:`ase.build.bulk` spells them).
LATTICES: tuple[str, ...] = ("fcc", "bcc", "hcp", "diamond", "sc")
#: Atoms per conventional cell volume a³ (hcp: per a²c·√3/2).
ATOMS_PER_CELL = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8, "hcp": 2}
#: c/a of close-packed hard spheres, √(8/3).
IDEAL_C_OVER_A = math.sqrt(8.0 / 3.0)


def check_lattice(lattice: str, key: str = "lattice", *, exact: bool = False) -> str:
    """The canonical lattice name, or a ConfigError naming ``key``, the nearest name and the
    valid ones. Case and surrounding spaces are ignored unless ``exact`` (configuration files,
    where the name also becomes part of group names, spell it as :data:`LATTICES` does)."""
    name = str(lattice) if exact else str(lattice).strip().lower()
    if name not in LATTICES:
        guess = nearest(str(lattice).strip().lower(), LATTICES)
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"{key}: {lattice!r} is not one of {', '.join(LATTICES)}{hint}")
    return name


def reference_lattice(element: str) -> str:
    """The element's reference crystal structure (ASE's ``reference_states``), if one of
    :data:`LATTICES`."""
    from ase.data import atomic_numbers, reference_states

    state = reference_states[atomic_numbers[check_element(element)]] or {}
    lattice = state.get("symmetry")
    if lattice not in LATTICES:
        raise ConfigError(f"phase: {element}'s reference state is {lattice!r}; give a phase, one of "
                          f"{', '.join(LATTICES)}")
    return lattice


def volume_per_atom(lattice: str, a: float, c_over_a: float = IDEAL_C_OVER_A) -> float:
    """Volume per atom (Å³) of a perfect crystal with lattice constant ``a`` (hcp: and c/a)."""
    lattice = check_lattice(lattice)
    if lattice == "hcp":
        return math.sqrt(3.0) / 4.0 * a ** 3 * c_over_a
    return a ** 3 / ATOMS_PER_CELL[lattice]


def lattice_constants(element: str, lattice: str, a: float | None = None,
                      c: float | None = None) -> tuple[float, float | None]:
    """Lattice constant ``a`` (and ``c`` for hcp; None otherwise) of a crystal to build, Å.

    Given values are kept. Otherwise, for the element's reference lattice, ASE's reference
    ``a`` (and c/a); for any other lattice, the ``a`` that gives the volume per atom of the
    reference crystal as :func:`ase.build.bulk` builds it (hcp with the given c/a, else the
    ideal √(8/3)); a ConfigError asks for the lattice constant where ASE has no reference.
    The lattice is spelled as in :data:`LATTICES` (generator configurations; key ``phase``).
    """
    from ase.build import bulk
    from ase.data import atomic_numbers, reference_states

    lattice = check_lattice(lattice, "phase", exact=True)
    state = reference_states[atomic_numbers[check_element(element)]] or {}
    if a is None:
        if state.get("symmetry") == lattice and "a" in state:
            a = float(state["a"])
            if lattice == "hcp" and c is None:
                c = a * float(state.get("c/a", IDEAL_C_OVER_A))
        else:
            try:
                ref = bulk(element)
            except Exception:  # ASE raises several kinds for elements without a usable reference
                raise ConfigError(f"a: ASE has no reference crystal for {element}; give the lattice "
                                  f"constant of {lattice} (lattice_constants: {{{lattice}: ...}})") from None
            v = ref.get_volume() / len(ref)
            if lattice == "hcp":
                q = (c / a) if (c is not None and a is not None) else IDEAL_C_OVER_A
                a = (4.0 * v / (math.sqrt(3.0) * q)) ** (1.0 / 3.0)
            else:
                a = (v * ATOMS_PER_CELL[lattice]) ** (1.0 / 3.0)
    if lattice == "hcp" and c is None:
        c = a * IDEAL_C_OVER_A
    if not a > 0 or (c is not None and not c > 0):
        raise ConfigError(f"a: lattice constants must be positive, got a={a}, c={c}")
    return float(a), (float(c) if lattice == "hcp" else None)


def lattice_guess(element: str, lattice: str) -> tuple[float, float]:
    """A starting point for relaxing the lattice: (a Å, c/a). For the element's reference
    lattice, ASE's reference a and c/a; for another lattice, the a that keeps the reference
    state's volume per atom (ideal c/a); for an element whose reference state is none of
    :data:`LATTICES`, close-packed spheres of twice the covalent radius."""
    from ase.data import atomic_numbers, covalent_radii, reference_states

    lattice = check_lattice(lattice)
    z = atomic_numbers[check_element(element)]
    ref = reference_states[z] or {}
    sym = ref.get("symmetry")
    if sym in LATTICES and "a" in ref:
        c_over_a = ref.get("c/a", IDEAL_C_OVER_A) if sym == "hcp" else IDEAL_C_OVER_A
        if sym == lattice:
            return float(ref["a"]), float(c_over_a)
        volume = volume_per_atom(sym, ref["a"], c_over_a)
    else:
        d = 2.0 * covalent_radii[z]          # nearest-neighbour distance of close packing
        volume = d ** 3 / math.sqrt(2.0)
    if lattice == "hcp":
        return (4.0 * volume / (math.sqrt(3.0) * IDEAL_C_OVER_A)) ** (1 / 3), IDEAL_C_OVER_A
    return (volume * ATOMS_PER_CELL[lattice]) ** (1 / 3), IDEAL_C_OVER_A


def nearest_neighbor_distance(lattice: str, a: float, c: float | None = None) -> float:
    """Nearest-neighbour distance (Å) of a perfect crystal."""
    lattice = check_lattice(lattice)
    if lattice == "fcc":
        return a / math.sqrt(2.0)
    if lattice == "bcc":
        return a * math.sqrt(3.0) / 2.0
    if lattice == "diamond":
        return a * math.sqrt(3.0) / 4.0
    if lattice == "sc":
        return a
    c = a * IDEAL_C_OVER_A if c is None else c
    return min(a, math.sqrt(a * a / 3.0 + c * c / 4.0))


def bulk_crystal(element: str, lattice: str, a: float, c: float | None = None, *,
                 cubic: bool = False) -> Atoms:
    """The perfect crystal at lattice constant ``a`` (Å; hcp also ``c``, default ideal c/a):
    the primitive cell, or with ``cubic`` the conventional cubic cell (the orthorhombic
    four-atom cell for hcp), built by :func:`ase.build.bulk`."""
    from ase.build import bulk

    lattice = check_lattice(lattice)
    if lattice == "hcp":
        c = a * IDEAL_C_OVER_A if c is None else c
        return bulk(element, "hcp", a=a, c=c, orthorhombic=cubic)
    return bulk(element, lattice, a=a, cubic=cubic)


def strain_tensor(voigt: Sequence[float]) -> np.ndarray:
    """Symmetric small-strain tensor ε (3×3) from a Voigt 6-vector with engineering shears."""
    e = np.asarray(voigt, dtype=float)
    eps = np.diag(e[:3])
    for k, (i, j) in enumerate(VOIGT_PAIRS[3:], start=3):
        eps[i, j] = eps[j, i] = 0.5 * e[k]
    return eps


def voigt_strain(index: int, value: float) -> np.ndarray:
    """The strain tensor of one Voigt component (``voigt_strain(3, γ)`` has ε_yz = γ/2)."""
    e = np.zeros(6)
    e[index] = value
    return strain_tensor(e)
