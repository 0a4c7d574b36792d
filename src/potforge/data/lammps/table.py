"""LAMMPS ``pair_style table`` files as plain data.

Sections ``KEYWORD`` / ``N n [R|RSQ lo hi] [FPRIME lo hi]`` / blank line / n lines
``i r e f`` with f = −dE/dr; values written as ``%.16e`` so that LAMMPS reads exactly them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...core.atomic import atomic_write
from ...core.errors import ModelFormatError
from ...core.text import read_text
from ._text import parse_float, parse_int

__all__ = ["TableSection", "read_table", "write_table"]


class TableSection(NamedTuple):
    """One section of a ``pair_style table`` file: r (Å), E (eV), f = −dE/dr (eV/Å) on the same
    points, and optionally ``fp`` = (f′ at the first point, f′ at the last point) in eV/Å², which
    LAMMPS then uses as the end slopes of its force spline instead of one-sided differences."""

    r: np.ndarray
    e: np.ndarray
    f: np.ndarray
    fp: tuple[float, float] | None = None


def write_table(path: str | os.PathLike, sections: Mapping[str, Sequence], *,
                comment: str = "pair_style table file written by potforge") -> Path:
    """Write a LAMMPS table file; ``sections`` maps keyword -> (r, e, f) or (r, e, f, fp) or a
    :class:`TableSection`. The r column is written explicitly (no ``R``/``RSQ`` keyword), so
    LAMMPS uses exactly these points."""
    parts = [f"# {comment}\n", "# units metal: r Angstrom, e eV, f = -de/dr eV/Angstrom\n"]
    for keyword, section in sections.items():
        if not keyword or any(ch.isspace() for ch in keyword) or keyword.startswith("#"):
            raise ModelFormatError(f"table keyword {keyword!r}: must be one word not starting with #")
        sec = TableSection(*section)
        r, e, f = (np.asarray(x, dtype=np.float64) for x in (sec.r, sec.e, sec.f))
        if not (r.ndim == e.ndim == f.ndim == 1 and len(r) == len(e) == len(f) >= 2):
            raise ModelFormatError(f"table {keyword}: r, e, f must be 1-d of equal length >= 2")
        if not np.all(np.diff(r) > 0) or r[0] <= 0:
            raise ModelFormatError(f"table {keyword}: r must be positive and increasing")
        if not (np.all(np.isfinite(e)) and np.all(np.isfinite(f))):
            raise ModelFormatError(f"table {keyword}: NaN or inf values")
        params = f"N {len(r)}"
        if sec.fp is not None:
            lo, hi = (float(x) for x in sec.fp)
            params += f" FPRIME {lo:.16e} {hi:.16e}"
        parts.append(f"\n{keyword}\n{params}\n\n")
        parts.append("".join(f"{k + 1} {r[k]:.16e} {e[k]:.16e} {f[k]:.16e}\n" for k in range(len(r))))
    if len(parts) == 2:
        raise ModelFormatError("no table sections to write")
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(parts))
    return path


def read_table(path: str | os.PathLike) -> dict[str, TableSection]:
    """All sections of a ``pair_style table`` file (keyword -> :class:`TableSection`). With
    ``R``/``RSQ lo hi`` the points are recomputed from lo and hi as LAMMPS does (the r column is
    then ignored); ``BITMAP`` tables are not supported."""
    name = os.fspath(path)
    lines = read_text(path, "a LAMMPS table file", ModelFormatError).splitlines()
    out: dict[str, TableSection] = {}
    k = 0
    while k < len(lines):
        words = lines[k].split()
        k += 1
        if not words or words[0].startswith("#"):
            continue
        keyword, kw_line = words[0], k
        if keyword in out:
            raise ModelFormatError(f"table keyword {keyword} appears twice", path=name, line=kw_line)
        if k >= len(lines):
            raise ModelFormatError(f"section {keyword}: file ends before its 'N ...' line", path=name,
                                   line=kw_line)
        params = lines[k].split()
        p_line = k + 1
        k += 1
        n, rflag, fp = None, None, None
        j = 0
        while j < len(params):
            word = params[j]
            try:
                if word == "N":
                    n = parse_int(params[j + 1], name, p_line, "N")
                    j += 2
                elif word in ("R", "RSQ"):
                    rflag = (word, parse_float(params[j + 1], name, p_line, f"{word} lo"),
                             parse_float(params[j + 2], name, p_line, f"{word} hi"))
                    j += 3
                elif word == "FPRIME":
                    fp = (parse_float(params[j + 1], name, p_line, "FPRIME lo"),
                          parse_float(params[j + 2], name, p_line, "FPRIME hi"))
                    j += 3
                elif word == "BITMAP":
                    raise ModelFormatError(f"section {keyword}: BITMAP tables are not supported",
                                           path=name, line=p_line)
                else:
                    raise ModelFormatError(f"section {keyword}: unknown table parameter {word!r} "
                                           "(expected N, R, RSQ, FPRIME)", path=name, line=p_line)
            except IndexError:
                raise ModelFormatError(f"section {keyword}: {word} needs more values", path=name,
                                       line=p_line) from None
        if n is None or n < 2:
            raise ModelFormatError(f"section {keyword}: 'N n' with n >= 2 missing", path=name, line=p_line)
        # LAMMPS skips exactly one line (blank) after the parameters
        if k < len(lines) and lines[k].split():
            raise ModelFormatError(f"section {keyword}: expected a blank line after the parameters",
                                   path=name, line=k + 1)
        k += 1
        rows = np.empty((n, 3))
        for i in range(n):
            while k < len(lines) and not lines[k].split():
                k += 1
            if k >= len(lines):
                raise ModelFormatError(f"section {keyword}: file ends after {i} of {n} rows", path=name,
                                       line=len(lines))
            cols = lines[k].split()
            k += 1
            if len(cols) != 4:
                raise ModelFormatError(f"section {keyword}: row has {len(cols)} values, expected 4 "
                                       "(index r e f)", path=name, line=k)
            parse_int(cols[0], name, k, f"section {keyword} index")
            rows[i] = [parse_float(c, name, k, f"section {keyword}") for c in cols[1:]]
        r = rows[:, 0]
        if rflag is not None:
            kind, lo, hi = rflag
            i = np.arange(n)
            if kind == "R":
                r = lo + (hi - lo) * i / (n - 1)
            else:
                r = np.sqrt(lo * lo + (hi * hi - lo * lo) * i / (n - 1))
        out[keyword] = TableSection(r, rows[:, 1].copy(), rows[:, 2].copy(), fp)
    if not out:
        raise ModelFormatError("no table sections found", path=name)
    return out
