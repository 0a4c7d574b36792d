"""The training domain of any model, in terms every family shares: the interatomic distances and
coordination numbers the training structures contain.

Descriptor ranges (the HDNNP's extrapolation counts) exist only for models with descriptors;
classical models (pair, EAM, Tersoff, SW) and any model as a second opinion need a
family-independent measure. :class:`TrainingDomain` records, from the training frames:

- per element pair, the shortest distance seen (closer atoms are outside: the repulsive wall is
  where fits are least constrained);
- per element, the range of coordination numbers, counted as neighbours within the domain's
  radius (default: the model's cutoff; under-coordinated surface atoms and over-coordinated
  compressed ones are outside if the training data had none).

:meth:`TrainingDomain.outside` gives per atom the number of tests it fails (0 inside), the
counts ``ExtrapolationGuard`` (``potforge.calculators.guard``) uses for models that have no
extrapolation counts of their own. ``potforge train`` writes it beside every model as
``domain.json``; :func:`load_domain` reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_write
from ..core.errors import ModelFormatError
from ..core.neighbors import neighbor_list

__all__ = ["TrainingDomain", "load_domain", "DOMAIN_FILE"]

DOMAIN_FILE = "domain.json"


def _neighbors(atoms, radius: float):
    return neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, radius, n_threads=1)


@dataclass
class TrainingDomain:
    """Shortest distance per element pair ("A-B", A ≤ B alphabetically) and coordination
    range per element within ``radius`` (Å) seen in the training structures."""

    radius: float
    min_distance: dict[str, float] = field(default_factory=dict)
    coordination: dict[str, tuple[int, int]] = field(default_factory=dict)
    distance_tolerance: float = 0.02     # Å below the shortest distance seen still counts as inside

    @staticmethod
    def _pair(a: str, b: str) -> str:
        return "-".join(sorted((a, b)))

    @classmethod
    def from_structures(cls, structures: Iterable, radius: float) -> "TrainingDomain":
        domain = cls(float(radius))
        for atoms in structures:
            if len(atoms) < 2:   # an isolated atom (a reference energy) says nothing of environments
                continue
            nl = _neighbors(atoms, radius)
            symbols = np.array(atoms.get_chemical_symbols())
            counts = np.diff(nl.offsets)
            for s in map(str, np.unique(symbols)):
                c = counts[symbols == s]
                lo, hi = domain.coordination.get(s, (int(c.min()), int(c.max())))
                domain.coordination[s] = (min(lo, int(c.min())), max(hi, int(c.max())))
            if nl.distances.size:
                a, b = symbols[nl.centers], symbols[nl.neighbors]
                for pa in map(str, np.unique(a)):
                    for pb in map(str, np.unique(b[a == pa])):
                        d = float(nl.distances[(a == pa) & (b == pb)].min())
                        key = cls._pair(pa, pb)
                        domain.min_distance[key] = min(domain.min_distance.get(key, np.inf), d)
        return domain

    def outside(self, atoms) -> np.ndarray:
        """Per atom, how many tests it fails: an element never seen, a pair closer than any seen
        (or a pair never seen within the radius), a coordination outside the range seen."""
        symbols = np.array(atoms.get_chemical_symbols())
        counts = np.zeros(len(atoms), dtype=np.int64)
        nl = _neighbors(atoms, self.radius)
        coordination = np.diff(nl.offsets)
        for s in map(str, np.unique(symbols)):
            mask = symbols == s
            if s not in self.coordination:
                counts[mask] += 1
                continue
            lo, hi = self.coordination[s]
            counts[mask] += (coordination[mask] < lo) | (coordination[mask] > hi)
        if nl.distances.size:
            a, b = symbols[nl.centers], symbols[nl.neighbors]
            limit = np.array([self.min_distance.get(self._pair(x, y), np.inf) for x, y in zip(a, b)])
            close = nl.distances < limit - self.distance_tolerance
            np.add.at(counts, nl.centers[close], 1)
        return counts

    def to_dict(self) -> dict:
        return {"radius_angstrom": self.radius, "distance_tolerance_angstrom": self.distance_tolerance,
                "min_distance_angstrom": dict(sorted(self.min_distance.items())),
                "coordination": {s: list(v) for s, v in sorted(self.coordination.items())}}

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with atomic_write(path) as handle:
            json.dump(self.to_dict(), handle, indent=1)
            handle.write("\n")
        return path


def load_domain(path: str | os.PathLike) -> TrainingDomain:
    """A ``domain.json`` (a file, or the model directory holding it); one-line errors."""
    path = Path(path)
    if path.is_dir():
        path = path / DOMAIN_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        radius = float(raw["radius_angstrom"])
        distances = {str(k): float(v) for k, v in raw["min_distance_angstrom"].items()}
        coordination = {str(k): (int(v[0]), int(v[1])) for k, v in raw["coordination"].items()}
        tolerance = float(raw.get("distance_tolerance_angstrom", 0.02))
    except FileNotFoundError:
        raise ModelFormatError("no training domain here (potforge train writes domain.json)", path=path) from None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        raise ModelFormatError(f"not a training domain ({type(err).__name__}: {err})", path=path) from None
    if not (np.isfinite(radius) and radius > 0):
        raise ModelFormatError(f"radius_angstrom: expected a positive number, got {radius}", path=path)
    return TrainingDomain(radius, distances, coordination, tolerance)
