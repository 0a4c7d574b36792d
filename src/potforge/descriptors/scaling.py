"""Scaling of symmetry functions before they enter the networks (n2p2's scaling modes).

With the training-set statistics G_min, G_max, mean, σ of each function and the target
range [S_min, S_max] (n2p2 ``scale_min_short``/``scale_max_short``, default [0, 1]):

===========  ====================================  ===============================================
mode         n2p2 keywords                         G_scaled
===========  ====================================  ===============================================
none         (none)                                G
scale        scale_symmetry_functions              S_min + (S_max − S_min)(G − G_min)/(G_max − G_min)
center       center_symmetry_functions             G − mean
scalecenter  both of the above                     S_min + (S_max − S_min)(G − mean)/(G_max − G_min)
scalesigma   scale_symmetry_functions_sigma        S_min + (S_max − S_min)(G − mean)/σ
===========  ====================================  ===============================================

Every mode is affine, G_scaled = a G + b, which is how the kernels apply it. The same
statistics flag extrapolation: a raw value outside [G_min, G_max] (beyond an absolute
tolerance of 1000 machine epsilons, as n2p2) means the structure leaves the training range.

Tiny ranges are kept as they are: mlearn's Li model has training ranges of 1e-245 to 1e-128
and scaling factors up to 5e135, which float64 represents exactly like n2p2 does. A function
that is constant on the training set (G_max = G_min, or σ = 0 for ``scalesigma``) cannot be
scaled; n2p2 divides by zero there and its network inputs become NaN (0 · inf) or inf. potforge
gives such a function a = 0, i.e. the constant input S_min that its training value maps to
in the limit, and any other value of it counts as an extrapolation. Deliberate deviation from
n2p2, which would predict NaN; a scaling factor too large for float64 is treated the same way.

Every number is checked when the statistics are made (finite, |G| <= :data:`MAX_VALUE`,
G_min <= mean <= G_max, σ >= 0) and the target range must be finite with S_min < S_max.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["SCALING_MODES", "ScalingStatistics", "SymmetryFunctionScaling", "EXTRAPOLATION_TOLERANCE",
           "MAX_VALUE", "MAX_SCALED"]

SCALING_MODES = ("none", "scale", "center", "scalecenter", "scalesigma")
#: Absolute tolerance of the extrapolation check (n2p2: 1000 * DBL_EPSILON).
EXTRAPOLATION_TOLERANCE = 1000.0 * np.finfo(np.float64).eps
#: Largest |G| a statistic may hold. A symmetry function sums at most ~1e11 triplet terms of
#: size <= 2 Z_j Z_k < 3e4 (100 Å cutoff at liquid density), so 1e20 is out of reach.
MAX_VALUE = 1.0e20
#: Largest |S_min|, |S_max| of the target range (n2p2 uses [0, 1] or [-1, 1]).
MAX_SCALED = 1.0e6


@dataclass(frozen=True)
class ScalingStatistics:
    """Per-function statistics of one element over a training set (raw G values)."""

    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    sigma: np.ndarray

    def __post_init__(self) -> None:
        arrays = [np.asarray(a, dtype=np.float64) for a in (self.minimum, self.maximum, self.mean, self.sigma)]
        n = arrays[0].shape
        if any(a.shape != n or a.ndim != 1 for a in arrays):
            raise ValueError("scaling statistics must be 1-d arrays of equal length")
        for name, a in zip(("minimum", "maximum", "mean", "sigma"), arrays):
            bad = np.flatnonzero(~(np.abs(a) <= MAX_VALUE))
            if bad.size:
                raise ValueError(f"symmetry function {bad[0] + 1}: {name} {float(a[bad[0]])} is not a finite "
                                 f"number within ±{MAX_VALUE:g}")
            object.__setattr__(self, name, a)
        lo, hi, mean, sigma = (a.tolist() for a in arrays)  # Python floats for the messages
        for k in range(len(lo)):
            slack = 1e-9 * max(abs(lo[k]), abs(hi[k]))  # a mean rounded past a constant's value
            if lo[k] > hi[k]:
                raise ValueError(f"symmetry function {k + 1}: minimum {lo[k]!r} > maximum {hi[k]!r}")
            if not lo[k] - slack <= mean[k] <= hi[k] + slack:
                raise ValueError(f"symmetry function {k + 1}: mean {mean[k]!r} outside [minimum, "
                                 f"maximum] = [{lo[k]!r}, {hi[k]!r}]")
            if sigma[k] < 0:
                raise ValueError(f"symmetry function {k + 1}: sigma {sigma[k]!r} is negative")

    @classmethod
    def from_values(cls, values: np.ndarray) -> "ScalingStatistics":
        """Statistics of a (n_atoms, n_sf) array of raw values."""
        values = np.asarray(values, dtype=np.float64)
        return cls(values.min(axis=0), values.max(axis=0), values.mean(axis=0), values.std(axis=0))

    def __len__(self) -> int:
        return int(self.minimum.shape[0])


class SymmetryFunctionScaling:
    """A scaling mode, target range and per-element statistics."""

    def __init__(self, mode: str, statistics: Mapping[str, ScalingStatistics],
                 scaled_min: float = 0.0, scaled_max: float = 1.0) -> None:
        if mode not in SCALING_MODES:
            raise ValueError(f"unknown scaling mode {mode!r}; expected one of {', '.join(SCALING_MODES)}")
        self.mode = mode
        self.statistics = dict(statistics)
        self.scaled_min = float(scaled_min)
        self.scaled_max = float(scaled_max)
        if not -MAX_SCALED <= self.scaled_min < self.scaled_max <= MAX_SCALED:
            raise ValueError(f"scaled range [{self.scaled_min!r}, {self.scaled_max!r}] must have finite "
                             f"min < max within ±{MAX_SCALED:g}")

    def affine(self, element: str) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) with G_scaled = a * G + b for the functions of ``element``; a = 0 for a
        function that is constant on the training set (module docstring).

        Raises ValueError naming the function where sigma scaling has no sigma (a statistics
        file without its sigma column: σ = 0 although G varies).
        """
        st = self.statistics[element]
        n = len(st)
        width = self.scaled_max - self.scaled_min
        if self.mode == "none":
            return np.ones(n), np.zeros(n)
        if self.mode == "center":
            return np.ones(n), -st.mean
        if self.mode in ("scale", "scalecenter"):
            denominator = st.maximum - st.minimum
        else:
            denominator = st.sigma
            bad = np.flatnonzero((denominator == 0) & (st.maximum > st.minimum))
            if bad.size:
                raise ValueError(f"element {element}, symmetry function {int(bad[0]) + 1}: sigma is "
                                 "zero but the function varies; sigma scaling needs the sigma of "
                                 "every function (a sixth column of scaling.data)")
        with np.errstate(divide="ignore", over="ignore"):
            a = width / denominator
        # constant on the training set (or a range so small that the factor overflows)
        a = np.where(np.isfinite(a), a, 0.0)
        reference = st.minimum if self.mode == "scale" else st.mean
        return a, self.scaled_min - a * reference

    def scale(self, element: str, values: np.ndarray) -> np.ndarray:
        a, b = self.affine(element)
        return values * a + b

    def to_dict(self) -> dict:
        return {"mode": self.mode, "scaled_min": self.scaled_min, "scaled_max": self.scaled_max,
                "statistics": {e: {"minimum": s.minimum.tolist(), "maximum": s.maximum.tolist(),
                                   "mean": s.mean.tolist(), "sigma": s.sigma.tolist()}
                               for e, s in self.statistics.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "SymmetryFunctionScaling":
        stats = {}
        for e, s in dict(data["statistics"]).items():
            try:
                stats[e] = ScalingStatistics(**{k: np.asarray(v, dtype=np.float64) for k, v in s.items()})
            except (ValueError, TypeError) as err:
                raise ValueError(f"statistics.{e}: {err}") from None
        return cls(data["mode"], stats, data.get("scaled_min", 0.0), data.get("scaled_max", 1.0))
