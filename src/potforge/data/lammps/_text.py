"""Number formatting and parsing shared by the LAMMPS file readers and writers."""

from __future__ import annotations

import math

import numpy as np

from ...core.errors import ModelFormatError

__all__ = ["fmt", "values_block", "strip_comment", "parse_float", "parse_int", "is_plain_number"]


def fmt(x: float) -> str:
    """Shortest text that reads back as the same double."""
    return repr(float(x))


def values_block(values: np.ndarray, per_line: int = 5) -> str:
    """``%.16e`` values, ``per_line`` to a line, the block ending with a newline."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ModelFormatError("a table holds NaN or inf values; LAMMPS cannot use it")
    text = [" ".join(f"{x:.16e}" for x in v[k:k + per_line]) for k in range(0, len(v), per_line)]
    return "\n".join(text) + "\n"


def strip_comment(line: str) -> str:
    k = line.find("#")
    return line if k < 0 else line[:k]


def parse_float(token: str, path: str, line: int, what: str) -> float:
    try:
        if "_" in token:
            raise ValueError
        value = float(token)
    except ValueError:
        raise ModelFormatError(f"{what}: {token!r} is not a number", path=path, line=line) from None
    if not math.isfinite(value):
        raise ModelFormatError(f"{what}: {token!r} is not a finite number", path=path, line=line)
    return value


def parse_int(token: str, path: str, line: int, what: str) -> int:
    try:
        if "_" in token:
            raise ValueError
        return int(token)
    except ValueError:
        raise ModelFormatError(f"{what}: {token!r} is not an integer", path=path, line=line) from None


def is_plain_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return "_" not in token
