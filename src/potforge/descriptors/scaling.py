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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["SCALING_MODES", "ScalingStatistics", "SymmetryFunctionScaling", "EXTRAPOLATION_TOLERANCE"]

SCALING_MODES = ("none", "scale", "center", "scalecenter", "scalesigma")
#: Absolute tolerance of the extrapolation check (n2p2: 1000 * DBL_EPSILON).
EXTRAPOLATION_TOLERANCE = 1000.0 * np.finfo(np.float64).eps


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
            object.__setattr__(self, name, a)

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

    def affine(self, element: str) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) with G_scaled = a * G + b for the functions of ``element``.

        Raises ValueError naming the function when a denominator is zero.
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
            what = "max - min"
        else:
            denominator = st.sigma
            what = "sigma"
        bad = np.flatnonzero(~(np.abs(denominator) > 0))
        if bad.size:
            raise ValueError(f"element {element}, symmetry function {int(bad[0]) + 1}: {what} is "
                             f"zero, so it cannot be scaled (the function is constant on the "
                             "training set; remove it)")
        a = width / denominator
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
        stats = {e: ScalingStatistics(**{k: np.asarray(v) for k, v in s.items()})
                 for e, s in data["statistics"].items()}
        return cls(data["mode"], stats, data.get("scaled_min", 0.0), data.get("scaled_max", 1.0))
