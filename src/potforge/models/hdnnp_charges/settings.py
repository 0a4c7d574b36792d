"""The electrostatic part of a charge-carrying HDNNP (3G, 4G): per-element Gaussian widths,
the screening of n2p2's ``screen_electrostatics`` and how periodic cells are summed (n2p2's
``ewald_prec`` / ``ewald_truncation_error_method``, or potforge's own accuracy target).

Everything is in Å, eV and e; an n2p2 model's Ewald precision is kept as written with the
units of its files, because n2p2 derives the Ewald splitting from it per structure
(EwaldSetup.cpp) and :func:`potforge.electrostatics.ewald_parameters` repeats that choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ...core.errors import ConfigError
from ...core.text import shorten
from ...core.units import energy_factor, length_factor

__all__ = ["EwaldSettings", "ElectrostaticSettings", "MAX_WIDTH", "MAX_HARDNESS", "check_hardness"]

#: Gaussian charge widths beyond this (Å) describe no atom.
MAX_WIDTH = 20.0
#: |hardness| beyond this (eV/e²) describes no atom (n2p2's water model: 10 Ha = 272 eV).
MAX_HARDNESS = 1e5


def check_hardness(value) -> float:
    """An atomic hardness J (eV/e²): a positive number up to MAX_HARDNESS, else a ValueError
    (the caller names the key or file). J <= 0 can make A + J indefinite, and the charge
    equilibration then finds a saddle point, not the minimum."""
    if not _is_number(value):
        raise ValueError(f"{value!r}; expected a number (eV/e²)")
    value = float(value)
    if not 0 < value <= MAX_HARDNESS:
        raise ValueError(f"hardness {value!r}; expected a positive number up to {MAX_HARDNESS:g} eV/e² "
                         "(J <= 0 makes the charge equilibration a saddle point)")
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _mapping(value, key: str, expected: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: {shorten(repr(value))}; expected a mapping of {expected}")
    return value


def _known_keys(data: Mapping, key: str, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{key}: unknown key {unknown[0]!r}; expected {', '.join(allowed)}")


def _optional_number(value, key: str):
    if value is not None and not _is_number(value):
        raise ConfigError(f"{key}: {shorten(repr(value))}; expected a number or null")
    return value


_METHODS = ("jackson-catlow", "kolafa-perram", "potforge")
_EWALD_KEYS = ("method", "precision", "max_charge", "real_cutoff", "length_unit", "energy_unit")
_KEYS = ("widths_angstrom", "screening_angstrom", "ewald", "solver", "convention", "n2p2_cutoffs_angstrom")


@dataclass(frozen=True)
class EwaldSettings:
    """How periodic cells are summed.

    Attributes
    ----------
    method : {"jackson-catlow", "kolafa-perram", "potforge"}
        n2p2's ``ewald_truncation_error_method`` 0 and 1, or potforge's own choice.
    precision : float
        ``ewald_prec``'s first value in the units ``length_unit``/``energy_unit`` (n2p2), or
        potforge's relative accuracy (e.g. 1e-8).
    max_charge : float or None, e
        ``ewald_prec``'s second value (Kolafa-Perram).
    real_cutoff : float or None
        ``ewald_prec``'s third value (Kolafa-Perram with a fixed real-space cutoff), in
        ``length_unit``.
    length_unit, energy_unit : str
        Units of ``precision`` and ``real_cutoff`` (those of the n2p2 files).
    """

    method: str = "potforge"
    precision: float = 1e-8
    max_charge: float | None = None
    real_cutoff: float | None = None
    length_unit: str = "angstrom"
    energy_unit: str = "ev"

    def __post_init__(self) -> None:
        if not _is_number(self.precision):
            raise ConfigError(f"ewald.precision: {shorten(repr(self.precision))}; expected a number in (0, 1)")
        for name in ("max_charge", "real_cutoff"):
            _optional_number(getattr(self, name), f"ewald.{name}")
        for name in ("length_unit", "energy_unit"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"ewald.{name}: {shorten(repr(getattr(self, name)))}; expected a unit name")
        if not isinstance(self.method, str) or self.method not in _METHODS:
            raise ConfigError(f"ewald.method: {self.method!r}; expected one of {', '.join(_METHODS)}")
        if not (math.isfinite(self.precision) and 0 < self.precision < 1):
            raise ConfigError(f"ewald.precision: {self.precision!r}; expected a number in (0, 1)")
        if self.method == "kolafa-perram" and not (self.max_charge is not None and
                                                   0 < self.max_charge <= 100):
            raise ConfigError(f"ewald.max_charge: {self.max_charge!r}; Kolafa-Perram needs the "
                              "expected largest charge, in (0, 100] e")
        if self.real_cutoff is not None and not (math.isfinite(self.real_cutoff) and self.real_cutoff > 0):
            raise ConfigError(f"ewald.real_cutoff: {self.real_cutoff!r}; expected a positive length")
        length_factor(self.length_unit, "ewald.length_unit")
        energy_factor(self.energy_unit, "ewald.energy_unit")

    def parameters(self, cell: np.ndarray, n_atoms: int, max_sigma: float):
        """The :class:`~potforge.electrostatics.EwaldParameters` of one cell (Å)."""
        from ...electrostatics import ewald_parameters

        method = {"jackson-catlow": 0, "kolafa-perram": 1, "potforge": "potforge"}[self.method]
        return ewald_parameters(np.asarray(cell, dtype=np.float64), n_atoms, precision=self.precision,
                                method=method, max_charge=self.max_charge, real_cutoff=self.real_cutoff,
                                max_sigma=max_sigma,
                                length_unit=length_factor(self.length_unit, "length_unit"),
                                energy_unit=energy_factor(self.energy_unit, "energy_unit"))

    def to_dict(self) -> dict:
        return {"method": self.method, "precision": self.precision, "max_charge": self.max_charge,
                "real_cutoff": self.real_cutoff, "length_unit": self.length_unit,
                "energy_unit": self.energy_unit}

    @classmethod
    def from_dict(cls, data: Mapping) -> "EwaldSettings":
        data = _mapping(data, "ewald", "method, precision, ...")
        _known_keys(data, "ewald", _EWALD_KEYS)
        return cls(**dict(data))


@dataclass(frozen=True)
class ElectrostaticSettings:
    """Per-element Gaussian widths σ (Å), the optional screening (Å) and the Ewald settings.

    Attributes
    ----------
    widths : mapping element -> float, Å
        Width of each element's Gaussian charge (n2p2 ``fixed_gausswidth``).
    screening : (inner, outer, core) or None
        n2p2 ``screen_electrostatics`` (Å; core ``"c"`` cosine as n2p2's default).
    ewald : EwaldSettings
    solver : {"auto", "dense", "cg"}
        Charge equilibration: dense bordered solve, or preconditioned conjugate gradients on
        matrix-vector products (``auto``: dense up to a few thousand atoms).
    convention : {"physical", "n2p2"}
        :class:`~potforge.electrostatics.GaussianCoulomb`'s convention: ``n2p2`` repeats what
        n2p2 computes where it differs from the physical sum (screening of periodic self
        images counted twice, the range of the real-space Ewald sum); models read from n2p2
        use it, others ``physical``.
    n2p2_cutoffs : mapping element -> tuple of float, Å, or None
        With ``convention="n2p2"``: every element's symmetry-function cutoffs, which decide
        how far n2p2's real-space Ewald sum reaches
        (:func:`potforge.electrostatics.n2p2_real_ranges`); None: as for a model without
        symmetry functions.
    """

    widths: Mapping[str, float]
    screening: tuple[float, float, str] | None = None
    ewald: EwaldSettings = field(default_factory=EwaldSettings)
    solver: str = "auto"
    convention: str = "physical"
    n2p2_cutoffs: Mapping[str, tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        for s, w in self.widths.items():
            if not (isinstance(w, (int, float)) and 0 < w <= MAX_WIDTH):
                raise ConfigError(f"gaussian width of {s}: {w!r}; expected a number in (0, {MAX_WIDTH:g}] Å")
        if self.screening is not None:
            from ...electrostatics.screening import CORE_FUNCTIONS

            if not (isinstance(self.screening, (tuple, list)) and len(self.screening) == 3):
                raise ConfigError(f"screening: {shorten(repr(self.screening))}; expected [inner, outer, core] "
                                  "or [inner, outer] in Å")
            inner, outer, core = self.screening
            if not (_is_number(inner) and _is_number(outer)):
                raise ConfigError(f"screening: inner {inner!r}, outer {outer!r}; expected numbers in Å")
            if core not in CORE_FUNCTIONS:
                raise ConfigError(f"screening: unknown core function {core!r}; expected one of "
                                  f"{', '.join(CORE_FUNCTIONS)}")
            if not (math.isfinite(inner) and math.isfinite(outer) and 0 <= inner < outer <= 100):
                raise ConfigError(f"screening: inner {inner!r}, outer {outer!r}; expected "
                                  "0 <= inner < outer <= 100 Å")
        if self.solver not in ("auto", "dense", "cg"):
            raise ConfigError(f"solver: {self.solver!r}; expected auto, dense or cg")
        if self.convention not in ("physical", "n2p2"):
            raise ConfigError(f"convention: {self.convention!r}; expected physical or n2p2")
        for s, cuts in (self.n2p2_cutoffs or {}).items():
            if not all(isinstance(c, (int, float)) and math.isfinite(c) and c > 0 for c in cuts):
                raise ConfigError(f"n2p2_cutoffs of {s}: {cuts!r}; expected positive lengths in Å")

    def screening_function(self):
        from ...electrostatics import Screening

        return None if self.screening is None else Screening(*self.screening)

    def coulomb(self, positions, cell, pbc: bool, sigma, method: str = "auto", elements=None):
        """The :class:`~potforge.electrostatics.GaussianCoulomb` of one geometry; ``positions``,
        ``cell`` torch tensors (may require grad), ``sigma`` (n,) tensor, Å; ``elements`` the
        element of each atom (n2p2's real-space ranges, ``convention="n2p2"``)."""
        from ...electrostatics import GaussianCoulomb, n2p2_real_ranges

        ewald = ranges = None
        if pbc:
            ewald = self.ewald.parameters(cell.detach().numpy(), int(positions.shape[0]),
                                          float(max(self.widths.values())))
            if self.convention == "n2p2" and self.n2p2_cutoffs is not None and elements is not None:
                outer = None if self.screening is None else self.screening[1]
                ranges = n2p2_real_ranges(ewald.real_cutoff, self.n2p2_cutoffs, list(elements), outer)
        return GaussianCoulomb(positions, cell, pbc, sigma, ewald=ewald,
                               screening=self.screening_function(), method=method,
                               convention=self.convention, real_ranges=ranges)

    def to_dict(self) -> dict:
        return {"widths_angstrom": dict(self.widths),
                "screening_angstrom": list(self.screening) if self.screening else None,
                "ewald": self.ewald.to_dict(), "solver": self.solver, "convention": self.convention,
                "n2p2_cutoffs_angstrom": None if self.n2p2_cutoffs is None
                else {s: list(c) for s, c in self.n2p2_cutoffs.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ElectrostaticSettings":
        """Rebuild from :meth:`to_dict`'s mapping; a wrong type or an unknown key is a one-line
        ConfigError naming the key."""
        data = _mapping(data, "electrostatics", "widths_angstrom, ewald, ...")
        _known_keys(data, "electrostatics", _KEYS)
        if "widths_angstrom" not in data or "ewald" not in data:
            raise ConfigError(f"missing entry {'widths_angstrom' if 'widths_angstrom' not in data else 'ewald'!r}")
        widths = _mapping(data["widths_angstrom"], "widths_angstrom", "element to width (Å)")
        for s, w in widths.items():
            if not _is_number(w):
                raise ConfigError(f"widths_angstrom.{s}: {shorten(repr(w))}; expected a number in Å")
        screening = data.get("screening_angstrom")
        if screening is not None:
            if not (isinstance(screening, (list, tuple)) and len(screening) in (2, 3)):
                raise ConfigError(f"screening_angstrom: {shorten(repr(screening))}; expected "
                                  "[inner, outer, core] or [inner, outer] (Å) or null")
            screening = (*screening, "c") if len(screening) == 2 else tuple(screening)
        cutoffs = data.get("n2p2_cutoffs_angstrom")
        if cutoffs is not None:
            cutoffs = _mapping(cutoffs, "n2p2_cutoffs_angstrom", "element to cutoffs (Å)")
            for s, v in cutoffs.items():
                if not (isinstance(v, (list, tuple)) and all(_is_number(c) for c in v)):
                    raise ConfigError(f"n2p2_cutoffs_angstrom.{s}: {shorten(repr(v))}; expected a list of "
                                      "lengths in Å")
        return cls({s: float(w) for s, w in widths.items()}, screening,
                   EwaldSettings.from_dict(data["ewald"]), data.get("solver", "auto"),
                   data.get("convention", "physical"),
                   None if cutoffs is None else {s: tuple(float(c) for c in v) for s, v in cutoffs.items()})
