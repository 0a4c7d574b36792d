"""Error metrics on arrays (pure functions)."""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae", "max_abs"]


def rmse(error: np.ndarray) -> float:
    """Root-mean-square of all entries (nan for an empty array)."""
    e = np.asarray(error, dtype=np.float64)
    return float(np.sqrt(np.mean(e * e))) if e.size else float("nan")


def mae(error: np.ndarray) -> float:
    """Mean absolute value of all entries (nan for an empty array)."""
    e = np.asarray(error, dtype=np.float64)
    return float(np.mean(np.abs(e))) if e.size else float("nan")


def max_abs(error: np.ndarray) -> float:
    e = np.asarray(error, dtype=np.float64)
    return float(np.max(np.abs(e))) if e.size else float("nan")
