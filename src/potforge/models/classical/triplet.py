"""What Tersoff and Stillinger–Weber share: one LAMMPS-style entry of named values per ordered
element triplet (i, j, k), parameters named ``<i>-<j>-<k>.<key>``, a cutoff set by some of those
values, and the unused two-body keys of (i, j, k≠j) entries (LAMMPS files put zeros there)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import ClassVar

from ...core.errors import ConfigError
from ...core.lazy import torch
from ...data.lammps.parameter_files import range_problem
from .base import ClassicalPotential, Parameter

__all__ = ["element_triplets", "triplet_table", "TripletPotential"]


def element_triplets(species: tuple[str, ...]) -> list[str]:
    return [f"{a}-{b}-{c}" for a in species for b in species for c in species]


def triplet_table(p: Mapping[str, torch.Tensor], species: tuple[str, ...], key: str) -> torch.Tensor:
    """(S, S, S) tensor of parameter ``key`` over element triplets (differentiable)."""
    n = len(species)
    return torch.stack([p[f"{t}.{key}"] for t in element_triplets(species)]).reshape(n, n, n)


class TripletPotential(ClassicalPotential):
    """Base of the per-triplet families. Subclasses set the class attributes and
    :meth:`triplet_cutoff`, and may check values in :meth:`check_values`."""

    needs_triplets = True
    label: ClassVar[str] = "triplet"
    #: the LAMMPS style, whose accepted ranges apply (:func:`range_problem`)
    style: ClassVar[str] = ""
    #: key -> (lower, upper, unit): the style's accepted ranges
    ranges: ClassVar[dict[str, tuple[float, float, str]]] = {}
    #: LAMMPS file order of the values of one entry
    keys: ClassVar[tuple[str, ...]] = ()
    bounds: ClassVar[dict[str, tuple[float, float]]] = {}
    #: keys only entries (i, j, j) use
    two_body_keys: ClassVar[tuple[str, ...]] = ()
    #: never fitted
    always_fixed: ClassVar[tuple[str, ...]] = ()
    #: fixed in new models (from_entries, configs) unless freed explicitly
    default_fixed: ClassVar[tuple[str, ...]] = ()

    def __init__(self, species: Iterable[str], parameters: Iterable[Parameter], *,
                 energy_offsets: Mapping[str, float] | None = None, metadata: dict | None = None) -> None:
        species = tuple(species)
        params = list(parameters)
        names = {p.name for p in params}
        expected = {f"{t}.{k}" for t in element_triplets(species) for k in self.keys}
        missing = sorted(expected - names)
        if missing:
            raise ConfigError(f"{self.label} parameters missing: {', '.join(missing[:6])}"
                              f"{' …' if len(missing) > 6 else ''}")
        extra = sorted(names - expected)
        if extra:
            raise ConfigError(f"not {self.label} parameters of {', '.join(species)}: {', '.join(extra[:6])}")
        value = {p.name: p.value for p in params}
        self.check_ranges(species, value)
        self.check_values(value)
        cutoff = max(self.triplet_cutoff(value, t) for t in element_triplets(species))
        super().__init__(species, params, cutoff, energy_offsets=energy_offsets, metadata=metadata)
        for p in self.parameters.values():
            if p.name.rsplit(".", 1)[1] in self.always_fixed:
                p.fixed = True

    @classmethod
    def check_ranges(cls, species: tuple[str, ...], value: Mapping[str, float]) -> None:
        """ConfigError naming the parameter and its range for a value outside the accepted
        ranges of the LAMMPS style (:func:`~potforge.data.lammps.parameter_files.range_problem`)."""
        for t in element_triplets(species):
            _, b, c = t.split("-")
            entry = {k: float(value[f"{t}.{k}"]) for k in cls.keys}
            bad = [k for k, x in entry.items() if not math.isfinite(x)]
            if bad:
                raise ConfigError(f"{t}.{bad[0]} = {entry[bad[0]]}: expected a finite number")
            problem = range_problem(cls.style, entry, b == c)
            if problem:
                raise ConfigError(f"{t}: {problem}")

    def physical_range(self, name: str) -> tuple[float, float]:
        t, key = name.rsplit(".", 1)
        _, b, c = t.split("-")
        if b != c and key in self.two_body_keys:
            return -math.inf, math.inf        # unused (check_ranges: 0 or within the range)
        lo, hi, _ = self.ranges[key]
        return lo, hi

    def check_physical(self) -> None:
        self.check_ranges(self.species, self.values())
        self.check_values(self.values())

    @classmethod
    def check_values(cls, value: Mapping[str, float]) -> None:
        """Raise ConfigError for values the family does not allow."""

    @classmethod
    def triplet_cutoff(cls, values, triplet: str) -> float:
        raise NotImplementedError

    def cutoff_of(self, values) -> float:
        """The cutoff for parameter values (name -> number or 0-d tensor)."""
        return max(self.triplet_cutoff(values, t) for t in element_triplets(self.species))

    @property
    def cutoff(self) -> float:
        return self.cutoff_of({n: p.value for n, p in self.parameters.items()})

    def hold_defaults(self):
        for p in self.parameters.values():
            if p.name.rsplit(".", 1)[1] in self.default_fixed:
                p.fixed = True
        return self

    def entries(self) -> list[tuple[str, str, str, dict[str, float]]]:
        """One (i, j, k, {key: value}) per element triplet, in LAMMPS file order."""
        out = []
        for t in element_triplets(self.species):
            a, b, c = t.split("-")
            out.append((a, b, c, {k: self.parameters[f"{t}.{k}"].value for k in self.keys}))
        return out

    @classmethod
    def from_entries(cls, species: Iterable[str], entries: Iterable[tuple[str, str, str, Mapping[str, float]]],
                     **kwargs):
        """From LAMMPS-style entries; the two-body keys of entries (i, j, k), j ≠ k, which no
        term uses, are kept as fixed parameters without bounds (LAMMPS files put zeros there).
        A value outside a key's fitting bounds widens them to include it: what LAMMPS accepts
        (the file readers check that) is a valid model, e.g. SiC_1990.tersoff's D = 0."""
        params = []
        for a, b, c, values in entries:
            for k in cls.keys:
                v = float(values[k])
                if b != c and k in cls.two_body_keys:
                    params.append(Parameter(f"{a}-{b}-{c}.{k}", v, fixed=True))
                    continue
                lo, hi = cls.bounds[k]
                params.append(Parameter(f"{a}-{b}-{c}.{k}", v, min(lo, v), max(hi, v)))
        return cls(species, params, **kwargs).hold_defaults()

    @classmethod
    def _from_description(cls, d, params, arrays):
        return cls(d["species"], params, energy_offsets=d.get("energy_offsets_ev"), metadata=d.get("metadata"))
