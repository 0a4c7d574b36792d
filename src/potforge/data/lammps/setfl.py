"""DYNAMO setfl files (LAMMPS ``pair_style eam/alloy``) as plain data.

Format as LAMMPS (22 Jul 2025) reads it: three comment lines; ``N el1 el2 …``;
``Nrho drho Nr dr cutoff``; per element ``Z mass a0 lattice`` then Nrho values of F(ρ) and
Nr values of ρ(r); then r·φ(r) (eV·Å) for i = 1..N, j = 1..i. LAMMPS reads each block with
``next_dvector``: a block starts on a new line and any values after its end *on the same
line* are silently dropped. The reader here turns that case into an error instead. Values
are written as ``%.16e`` (17 significant digits), the grid as Python's shortest round-trip
repr, so that LAMMPS reads exactly the doubles written.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_write
from ...core.elements import is_element
from ...core.errors import ModelFormatError
from ...core.text import read_text
from ._text import fmt, is_plain_number, parse_float, parse_int, strip_comment, values_block

__all__ = ["SetflData", "read_setfl", "write_setfl"]


@dataclass
class SetflData:
    """The content of a DYNAMO setfl file (LAMMPS ``pair_style eam/alloy``).

    ``frho[el]`` (nrho,) eV on ρ = 0, drho, …; ``rhor[el]`` (nr,) on r = 0, dr, …;
    ``z2r[(a, b)]`` (nr,) r·φ(r) in eV·Å for element a listed after (or equal to) b, as in the
    file's lower-triangle order; ``info`` per element: (atomic number, mass, lattice constant,
    lattice type).
    """

    elements: list[str]
    info: list[tuple[int, float, float, str]]
    nrho: int
    drho: float
    nr: int
    dr: float
    cutoff: float
    frho: dict[str, np.ndarray]
    rhor: dict[str, np.ndarray]
    z2r: dict[tuple[str, str], np.ndarray]
    comments: list[str] = field(default_factory=lambda: ["", "", ""])

    def pair(self, a: str, b: str) -> np.ndarray:
        """r·φ of the unordered pair (a, b)."""
        ia, ib = self.elements.index(a), self.elements.index(b)
        hi, lo = (a, b) if ia >= ib else (b, a)
        return self.z2r[(hi, lo)]


def read_setfl(path: str | os.PathLike) -> SetflData:
    """Read a DYNAMO setfl file (LAMMPS ``pair_style eam/alloy``).

    Errors (:class:`ModelFormatError`, one line with file and line number): a missing or
    malformed header, element names that are not chemical symbols, Nrho or Nr below 5,
    non-positive spacings, non-numeric or non-finite values, a block that ends early or
    shares a line with the next one (LAMMPS would drop those values), or values left over
    after the last table.
    """
    name = os.fspath(path)
    lines = read_text(path, "a setfl (eam/alloy) file", ModelFormatError).splitlines()
    if len(lines) < 5:
        raise ModelFormatError(f"has {len(lines)} lines; a setfl file starts with 3 comment lines, "
                               "'N el1 el2 ...' and 'Nrho drho Nr dr cutoff'", path=name)
    reader = _Lines(lines, name, cursor=3)
    elements = _elements(reader)
    nrho, drho, nr, dr, cutoff = _grid(reader)
    info, frho, rhor = [], {}, {}
    for s in elements:
        words, ln = reader.next_words(f"line 'Z mass a0 lattice' of {s}")
        if not 2 <= len(words) <= 4:
            raise ModelFormatError(f"line of {s} has {len(words)} words, expected 'Z mass a0 lattice' "
                                   "(at least Z and mass)", path=name, line=ln)
        z = parse_int(words[0], name, ln, f"atomic number of {s}")
        mass = parse_float(words[1], name, ln, f"mass of {s}")
        a0 = parse_float(words[2], name, ln, f"lattice constant of {s}") if len(words) > 2 else 0.0
        lattice = words[3] if len(words) > 3 else ""
        info.append((z, mass, a0, lattice))
        frho[s] = reader.block(nrho, f"F(rho) of {s}")
        rhor[s] = reader.block(nr, f"rho(r) of {s}")
    z2r = {}
    for i, a in enumerate(elements):
        for b in elements[: i + 1]:
            z2r[(a, b)] = reader.block(nr, f"r*phi(r) of {a}-{b}")
    for k in range(reader.cursor, len(lines)):
        if strip_comment(lines[k]).split():
            raise ModelFormatError("values after the last r*phi table: the header announces fewer "
                                   "elements or points than the file holds", path=name, line=k + 1)
    return SetflData(elements, info, nrho, drho, nr, dr, cutoff, frho, rhor, z2r, lines[:3])


class _Lines:
    """A cursor over a setfl file's lines: the next non-empty line's words, or a block of n
    numbers that starts on a new line and must end at a line's end (as LAMMPS reads it)."""

    def __init__(self, lines: list[str], name: str, cursor: int) -> None:
        self.lines, self.name, self.cursor = lines, name, cursor

    def next_words(self, what: str) -> tuple[list[str], int]:
        while self.cursor < len(self.lines):
            words = strip_comment(self.lines[self.cursor]).split()
            self.cursor += 1
            if words:
                return words, self.cursor
        raise ModelFormatError(f"file ends before the {what}", path=self.name, line=len(self.lines))

    def block(self, n: int, what: str) -> np.ndarray:
        out = np.empty(n)
        k = 0
        while k < n:
            if self.cursor >= len(self.lines):
                raise ModelFormatError(f"file ends in {what} after {k} of {n} values", path=self.name,
                                       line=len(self.lines))
            tokens = strip_comment(self.lines[self.cursor]).split()
            self.cursor += 1
            if not tokens:
                continue
            if k + len(tokens) > n:
                raise ModelFormatError(f"{what} ({n} values) ends inside this line, {k + len(tokens) - n} "
                                       "value(s) left over: a value is missing above or Nrho/Nr is "
                                       "wrong (LAMMPS starts each table on a new line and would "
                                       "silently drop them)", path=self.name, line=self.cursor)
            try:
                if any("_" in t for t in tokens):
                    raise ValueError
                vals = [float(t) for t in tokens]
            except ValueError:
                bad = next(t for t in tokens if not is_plain_number(t))
                raise ModelFormatError(f"{what}: {bad!r} is not a number", path=self.name,
                                       line=self.cursor) from None
            if not all(math.isfinite(v) for v in vals):
                raise ModelFormatError(f"{what}: NaN or inf value", path=self.name, line=self.cursor)
            out[k:k + len(vals)] = vals
            k += len(vals)
        return out


def _elements(reader: _Lines) -> list[str]:
    name = reader.name
    words, ln = reader.next_words("element line 'N el1 el2 ...'")
    n_el = parse_int(words[0], name, ln, "number of elements")
    if n_el < 1 or len(words) != n_el + 1:
        raise ModelFormatError(f"element line {' '.join(words)!r}: expected N followed by N element "
                               f"names, found N = {words[0]} and {len(words) - 1} names", path=name, line=ln)
    elements = words[1:]
    for s in elements:
        if not is_element(s):
            raise ModelFormatError(f"element name {s!r} is not a chemical symbol (potforge maps "
                                   "setfl elements to atoms by symbol)", path=name, line=ln)
    if len(set(elements)) != len(elements):
        raise ModelFormatError(f"element line lists an element twice: {' '.join(elements)}",
                               path=name, line=ln)
    return elements


def _grid(reader: _Lines) -> tuple[int, float, int, float, float]:
    name = reader.name
    words, ln = reader.next_words("grid line 'Nrho drho Nr dr cutoff'")
    if len(words) != 5:
        raise ModelFormatError(f"grid line has {len(words)} values, expected 5 "
                               "(Nrho drho Nr dr cutoff)", path=name, line=ln)
    nrho = parse_int(words[0], name, ln, "Nrho")
    drho = parse_float(words[1], name, ln, "drho")
    nr = parse_int(words[2], name, ln, "Nr")
    dr = parse_float(words[3], name, ln, "dr")
    cutoff = parse_float(words[4], name, ln, "cutoff")
    for label, n in (("Nrho", nrho), ("Nr", nr)):
        if n < 5:
            raise ModelFormatError(f"{label} = {n}: a setfl table needs at least 5 points (LAMMPS "
                                   "interpolates with 5-point differences)", path=name, line=ln)
    for label, x in (("drho", drho), ("dr", dr), ("cutoff", cutoff)):
        if not x > 0:
            raise ModelFormatError(f"{label} = {x:g}: expected a positive number", path=name, line=ln)
    return nrho, drho, nr, dr, cutoff


def write_setfl(data: SetflData, path: str | os.PathLike) -> Path:
    """Write ``data`` as a setfl file (atomically); each table starts on a new line, five
    ``%.16e`` values to a line, so LAMMPS reads exactly these doubles."""
    els = list(data.elements)
    comments = list(data.comments) + ["", "", ""]
    for k in range(3):
        if "\n" in comments[k] or "\r" in comments[k]:
            raise ModelFormatError(f"setfl comment line {k + 1} contains a line break")
    for s, arr in ((s, data.frho.get(s)) for s in els):
        if arr is None or len(arr) != data.nrho:
            raise ModelFormatError(f"F(rho) of {s}: expected {data.nrho} values")
    for s in els:
        if s not in data.rhor or len(data.rhor[s]) != data.nr:
            raise ModelFormatError(f"rho(r) of {s}: expected {data.nr} values")
    out = [c for c in comments[:3]]
    out.append(f"{len(els)} " + " ".join(els))
    out.append(f"{data.nrho} {fmt(data.drho)} {data.nr} {fmt(data.dr)} {fmt(data.cutoff)}")
    text = "\n".join(out) + "\n"
    parts = [text]
    for s, (z, mass, a0, lattice) in zip(els, data.info):
        parts.append(f"{int(z)} {fmt(mass)} {fmt(a0)} {lattice}".rstrip() + "\n")
        parts.append(values_block(data.frho[s]))
        parts.append(values_block(data.rhor[s]))
    for i, a in enumerate(els):
        for b in els[: i + 1]:
            values = data.pair(a, b)
            if len(values) != data.nr:
                raise ModelFormatError(f"r*phi of {a}-{b}: expected {data.nr} values")
            parts.append(values_block(values))
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(parts))
    return path
