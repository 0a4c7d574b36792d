"""A frame: one structure (``ase.Atoms``) with its reference labels.

Units are potforge's internal ones: Å, eV, eV/Å, eV/Å³ (stress, ASE sign: a compressed
cell has negative stress; Voigt order xx yy zz yz xz xy), e. A label that a data source does
not have is ``None``; periodic and open structures of any size mix freely in one data set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from ..core.errors import DataFormatError, StructureError
from ..core.neighbors import check_structure
from ..core.text import shorten
from ..core.voigt import VOIGT_COLS, VOIGT_ROWS

__all__ = ["Frame", "LABELS", "charge_sum_tolerance", "check_frame", "frame_problem"]

#: Names of the optional reference labels a frame may carry.
LABELS = ("energy", "forces", "stress", "charges", "total_charge", "atomic_energies")


@dataclass(eq=False)
class Frame:
    """One structure and its labels.

    Parameters
    ----------
    atoms : ase.Atoms
        Species, positions (Å), cell (Å) and periodicity. Periodic and open structures mix.
    energy : float, eV
        Total (potential) energy.
    forces : (n_atoms, 3) float, eV/Å
    stress : (6,) float, eV/Å³, Voigt order, ASE sign convention.
    charges : (n_atoms,) float, e
        Per-atom reference charges (e.g. Hirshfeld), used by charge (3G/4G) models.
    total_charge : float, e
        Also set as ``atoms.info["total_charge"]``, which charge models (3G, 4G) read.
    atomic_energies : (n_atoms,) float, eV
        Per-atom energies where a source provides them (n2p2 ``input.data`` column).
    config_type : str
        Kind of configuration ("AIMD-NVT", "Vacancy", ...): weights and reports follow it.
    group : str
        Configurations in one group are never split between training and test sets.
    weight : float
        Per-frame weight in the loss.
    info : dict
        Anything else a file carried (comments, provenance); kept through round trips.
    """

    atoms: Atoms
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    charges: np.ndarray | None = None
    total_charge: float | None = None
    atomic_energies: np.ndarray | None = None
    config_type: str | None = None
    group: str | None = None
    weight: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.atoms)
        if self.energy is not None:
            self.energy = _as_float(self.energy, "energy")
        if self.total_charge is not None:
            # + 0.0: a total of -0.0 (e.g. the negated sum of zero charges) is written as 0.0
            self.total_charge = _as_float(self.total_charge, "total_charge") + 0.0
            # where charge models read it (potforge.models.hdnnp_charges.base.total_charge)
            self.atoms.info["total_charge"] = self.total_charge
        self.weight = _as_float(self.weight, "weight")
        self.forces = _as_array(self.forces, (n, 3), "forces")
        self.stress = _as_stress(self.stress)
        self.charges = _as_array(self.charges, (n,), "charges")
        self.atomic_energies = _as_array(self.atomic_energies, (n,), "atomic_energies")

    # -- convenience -----------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    @property
    def symbols(self) -> list[str]:
        return self.atoms.get_chemical_symbols()

    @property
    def is_periodic(self) -> bool:
        return bool(np.any(self.atoms.pbc))

    def has(self, label: str) -> bool:
        """Whether the label (one of :data:`LABELS`) is present."""
        if label not in LABELS:
            raise KeyError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
        return getattr(self, label) is not None

    def labels(self) -> tuple[str, ...]:
        return tuple(name for name in LABELS if getattr(self, name) is not None)

    def copy(self) -> "Frame":
        def cp(x):
            return None if x is None else np.array(x, copy=True)

        return Frame(self.atoms.copy(), self.energy, cp(self.forces), cp(self.stress),
                     cp(self.charges), self.total_charge, cp(self.atomic_energies),
                     self.config_type, self.group, self.weight, dict(self.info))

    def same_as(self, other: "Frame") -> bool:
        """Exact equality of structure, labels and metadata (used by round-trip tests)."""
        a, b = self.atoms, other.atoms
        if (a.get_chemical_symbols() != b.get_chemical_symbols()
                or not np.array_equal(a.positions, b.positions)
                or not np.array_equal(np.asarray(a.cell), np.asarray(b.cell))
                or not np.array_equal(a.pbc, b.pbc)):
            return False
        for name in LABELS:
            x, y = getattr(self, name), getattr(other, name)
            if (x is None) != (y is None):
                return False
            if x is not None and not np.array_equal(np.asarray(x), np.asarray(y)):
                return False
        return (self.config_type == other.config_type and self.group == other.group
                and self.weight == other.weight and _info_equal(self.info, other.info))

    def __repr__(self) -> str:
        labels = ",".join(self.labels()) or "unlabelled"
        return (f"Frame({self.atoms.get_chemical_formula()}, {labels}, "
                f"config_type={self.config_type!r}, group={self.group!r})")


def _info_equal(x: dict, y: dict) -> bool:
    if x.keys() != y.keys():
        return False
    for k in x:
        u, v = x[k], y[k]
        if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
            if not np.array_equal(np.asarray(u), np.asarray(v)):
                return False
        elif isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v):
            continue
        elif u != v:
            return False
    return True


def _as_float(value, name: str) -> float:
    """One number (a bool, a string or an array of several values is refused)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise DataFormatError(f"{name} must be a number, found {type(value).__name__}")
    try:
        return float(np.asarray(value, dtype=np.float64).item())
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError(f"{name} must be one number, found {type(value).__name__}") from None


def _as_numbers(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind in "USb":
            raise DataFormatError(f"{name} must hold numbers, found {arr.dtype.name} values")
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError(f"{name} must hold numbers") from None
    return arr


def _as_array(value, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = _as_numbers(value, name)
    if arr.shape != shape:
        raise DataFormatError(f"{name} has shape {arr.shape}, expected {shape}")
    return arr


def _as_stress(value) -> np.ndarray | None:
    if value is None:
        return None
    arr = _as_numbers(value, "stress")
    if arr.shape == (3, 3):
        arr = arr[VOIGT_ROWS, VOIGT_COLS]
    if arr.shape != (6,):
        raise DataFormatError(f"stress has shape {arr.shape}, expected (6,) Voigt or (3, 3)")
    return arr


def check_frame(frame: Frame, *, path: object | None = None, line: int | None = None,
                index: int | None = None) -> None:
    """The checks every frame passes wherever it comes from or goes to, so that ``data info``,
    ``data convert``, ``predict``, ``evaluate`` and training accept and refuse the same
    frames: at least one atom, chemical elements only, finite positions, a finite cell whose
    periodic vectors are non-zero and independent (:func:`~potforge.core.neighbors.check_structure`,
    the check the neighbour list makes), finite labels, a finite weight >= 0 and text names.

    Raises a one-line :class:`DataFormatError` located at ``path``, ``line`` and frame
    ``index`` (as far as the caller knows them).
    """
    problem = frame_problem(frame)
    if problem is not None:
        raise DataFormatError(problem, path=path, line=line, frame=index)


def charge_sum_tolerance(n_atoms: int) -> float:
    """How far (e) the per-atom reference charges may sum from the total charge: 0.01 e +
    1e-4 e per atom. Charge partitions (Hirshfeld, Mulliken, ...) of DFT codes, printed to
    a few decimals, do not sum exactly to the total (the shipped n2p2 sets: up to 3.3e-4 e in
    96-atom water frames, 2e-12 e in the carbon chains); a contradiction in the total (an
    integer: 5 e stated, charges summing to 0) is caught up to some 10,000 atoms."""
    return 0.01 + 1e-4 * n_atoms


def frame_problem(frame: Frame) -> str | None:
    """What :func:`check_frame` refuses in ``frame``, or None."""
    atoms = frame.atoms
    if len(atoms) == 0:
        return "the structure has no atoms"
    numbers = atoms.numbers
    if np.any((numbers < 1) | (numbers > 118)):
        return f"atomic number {int(numbers[(numbers < 1) | (numbers > 118)][0])} is not a chemical element"
    try:
        check_structure(np.asarray(atoms.positions, dtype=np.float64),
                        np.asarray(atoms.cell, dtype=np.float64), np.asarray(atoms.pbc, dtype=bool))
    except StructureError as err:
        return err.reason
    for name in LABELS:
        value = getattr(frame, name)
        if value is not None and not np.all(np.isfinite(value)):
            return f"{name} is not finite ({_first_bad(value)})"
    if not (math.isfinite(frame.weight) and frame.weight >= 0):
        return f"weight {frame.weight} must be a finite number >= 0"
    if frame.charges is not None and frame.total_charge is not None:
        total, tolerance = float(np.sum(frame.charges)), charge_sum_tolerance(len(atoms))
        if abs(total - frame.total_charge) > tolerance:
            return (f"the atomic charges sum to {total:.6g} e but the total charge is "
                    f"{frame.total_charge:.6g} e (tolerance {tolerance:.3g} e); expected them to agree")
    for name in ("config_type", "group"):
        value = getattr(frame, name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be text, found {type(value).__name__}"
        if value is not None and not _is_unicode_text(value):
            return f"{name} must be Unicode text, found {shorten(ascii(value))} (a lone surrogate)"
    for key, value in (frame.info or {}).items():
        if not _is_unicode_text(str(key)) or (isinstance(value, str) and not _is_unicode_text(value)):
            return f"info key {shorten(ascii(key))} must be Unicode text (a lone surrogate)"
        big = _integer_past_int64(value)
        if big is not None:
            return (f"info {shorten(ascii(key))}: integer {shorten(str(big))} does not fit 64 bits, which "
                    "every format stores (it would read back as a float); expected a float or text")
    return None


def _integer_past_int64(value, depth: int = 0) -> int | None:
    """The first integer outside int64 in an info value: a Python or numpy integer (np.uint64
    reaches 2**64 - 1), an element of an integer numpy array, inside lists, tuples, mappings and
    object arrays too."""
    if isinstance(value, (bool, np.bool_)) or depth > 20:
        return None
    if isinstance(value, (int, np.integer)):
        number = int(value)
        return number if not -2**63 <= number < 2**63 else None
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "u" and value.size:              # int64 arrays always fit
            past = value[value >= np.uint64(2**63)]
            return int(past.flat[0]) if past.size else None
        if value.dtype.kind != "O":
            return None
        value = value.ravel().tolist()
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        big = _integer_past_int64(item, depth + 1)
        if big is not None:
            return big
    return None


def _is_unicode_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8 (a lone surrogate, which JSON and SQLite can
    carry, cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_bad(value) -> str:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    flat = int(np.flatnonzero(~np.isfinite(arr))[0])
    if arr.ndim == 1 and arr.size == 1:
        return str(float(arr[0]))
    index = np.unravel_index(flat, arr.shape)
    return f"{float(arr[index])} at {list(map(int, index))}"
