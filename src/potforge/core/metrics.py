"""Error metrics: pure functions on arrays, and the one record every report uses.

:class:`ErrorMetrics` holds the errors of predictions against reference labels in report
units — energies per atom in meV/atom (one value per frame), force components in eV/Å,
stress components in GPa, per-atom charges in me (milli-e, for charge models) — as RMSE, MAE
and largest absolute error, with the counts behind
each figure (so that per-group mean squares combine to the overall one). Training's running
sums (:meth:`ErrorMetrics.from_sums`) and validation's per-frame comparison
(:meth:`ErrorMetrics.from_errors`) give the same record; NaN marks a label that no frame has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["rmse", "mae", "max_abs", "robust_sigma", "ErrorMetrics", "format_metric"]


def format_metric(value: float, digits: int, width: int = 0) -> str:
    """A metric in a table: ``digits`` decimals, right-aligned in ``width``; "-" where the
    value is missing (NaN: no labels of that kind)."""
    return f"{value:>{width}.{digits}f}" if math.isfinite(value) else f"{'-':>{width}}"


def rmse(error: np.ndarray) -> float:
    """Root-mean-square of all entries (nan for an empty array)."""
    e = np.asarray(error, dtype=np.float64)
    return float(np.sqrt(np.mean(e * e))) if e.size else float("nan")


def mae(error: np.ndarray) -> float:
    """Mean absolute value of all entries (nan for an empty array)."""
    e = np.asarray(error, dtype=np.float64)
    return float(np.mean(np.abs(e))) if e.size else float("nan")


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 × the median absolute deviation from the median: the standard deviation of a
    Gaussian, unmoved by a minority of outliers (nan for an empty array)."""
    v = np.asarray(values, dtype=np.float64)
    return 1.4826 * float(np.median(np.abs(v - np.median(v)))) if v.size else float("nan")


def max_abs(error: np.ndarray) -> float:
    """Largest absolute value of all entries (nan for an empty array)."""
    e = np.asarray(error, dtype=np.float64)
    return float(np.max(np.abs(e))) if e.size else float("nan")


@dataclass(frozen=True)
class ErrorMetrics:
    """Errors in report units: meV/atom, eV/Å, GPa, me (NaN where no frame has the label).

    ``n_frames_with_energy``, ``n_force_components``, ``n_frames_with_stress`` and
    ``n_charges`` count the labels behind each figure. The charge fields (per-atom charges,
    milli-e) stay NaN unless both the model and the data have charges.
    """

    n_frames: int
    n_atoms: int
    n_frames_with_energy: int
    n_force_components: int
    n_frames_with_stress: int
    energy_rmse_mev_per_atom: float
    energy_mae_mev_per_atom: float
    energy_max_mev_per_atom: float
    force_rmse_ev_per_angstrom: float
    force_mae_ev_per_angstrom: float
    force_max_ev_per_angstrom: float
    stress_rmse_gpa: float
    stress_mae_gpa: float
    stress_max_gpa: float
    n_charges: int = 0
    charge_rmse_me: float = math.nan
    charge_mae_me: float = math.nan
    charge_max_me: float = math.nan

    @classmethod
    def from_errors(cls, energy: np.ndarray, forces: np.ndarray, stress: np.ndarray, *,
                    n_frames: int, n_atoms: int, n_frames_with_stress: int,
                    charges: np.ndarray | None = None) -> "ErrorMetrics":
        """From the errors themselves: energy per atom of each frame with one (meV/atom),
        all force components (eV/Å), all stress components (GPa), per-atom charges (me)."""
        e, f, s, q = (np.asarray(x, dtype=np.float64).ravel()
                      for x in (energy, forces, stress, charges if charges is not None else ()))
        return cls(n_frames, n_atoms, int(e.size), int(f.size), int(n_frames_with_stress),
                   rmse(e), mae(e), max_abs(e), rmse(f), mae(f), max_abs(f), rmse(s), mae(s), max_abs(s),
                   int(q.size), rmse(q), mae(q), max_abs(q))

    @classmethod
    def from_sums(cls, n_frames: int, n_atoms: int,
                  sums: Sequence[tuple[float, float, float, float]],
                  factors: Sequence[float]) -> "ErrorMetrics":
        """From running sums per quantity (energy, forces, stress and optionally charges):
        (count, Σe², Σ|e|, max|e|) in internal units, with ``factors`` to report units. The
        stress count is of components; a frame has six."""
        values = []
        counts = []
        for (n, s2, s1, top), factor in zip(sums, factors):
            counts.append(int(n))
            values += [math.sqrt(s2 / n) * factor if n else math.nan, s1 / n * factor if n else math.nan,
                       top * factor if n else math.nan]
        charge = (counts[3], *values[9:12]) if len(counts) > 3 else ()
        return cls(int(n_frames), int(n_atoms), counts[0], counts[1], counts[2] // 6, *values[:9], *charge)

    def to_dict(self, *, json: bool = False) -> dict:
        """All fields by name; with ``json``, NaN becomes None (JSON has no NaN)."""
        out: dict = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if json and isinstance(value, float) and not math.isfinite(value):
                value = None
            out[f.name] = value
        return out
