"""DYNAMO setfl files (LAMMPS ``pair_style eam/alloy``) and their Finnis–Sinclair variant
(``pair_style eam/fs``) as plain data.

Format as LAMMPS (22 Jul 2025) reads it: three comment lines; ``N el1 el2 …``;
``Nrho drho Nr dr cutoff``; per element ``Z mass a0 lattice`` then Nrho values of F(ρ) and
the density table(s): one of Nr values ρ(r) (setfl), or N of them (eam/fs: the density that
this element contributes at an atom of element 1, 2, …, N); then r·φ(r) (eV·Å) for
i = 1..N, j = 1..i. LAMMPS reads each block with ``next_dvector``: a block starts on a new
line and any values after its end *on the same line* are silently dropped. The reader here
turns that case into an error instead. Values are written as ``%.16e`` (17 significant
digits), the grid as Python's shortest round-trip repr, so that LAMMPS reads exactly the
doubles written.

Accepted ranges (:data:`TABLE_LIMITS`; the same for funcfl files and for potforge's saved
tabulated models, :func:`check_tables`): every table value |F|, |ρ|, |r·φ| ≤ 1e20 (eV, density
units, eV·Å; the files LAMMPS ships reach 2.1e13: F of Al_mm.eam.fs, and r·φ = 1e12 at
r → 0 in the ``*_mm.eam.fs`` files); Nrho, Nr ≤ 1,000,000 points (shipped: ≤ 10,001; checked
before any table is allocated); dr in [1e-6, 10] Å (shipped: 5.3e-4 … 0.015), drho in
[1e-10, 1e6] (shipped: 1e-4 … 1.04), the cutoff in (0, 100] Å (shipped: 4.8 … 10.1; potforge's
neighbour lists and the HDNNP loader cap cutoffs at 100 Å too); the mass in (0, 1e4] u, Z in
[0, 200]. Within these, the interpolated values, their slopes (≤ 1e21/Δ) and the linear
continuation of F above ρ_max stay far below the float64 range on any structure whose atoms
are not closer than potforge's overlap distance.

Element names are kept as the file spells them (LAMMPS matches them to the names in
``pair_coeff``); models map them to chemical symbols (:meth:`SetflData.select`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_write
from ...core.errors import ModelFormatError
from ...core.text import read_text
from ._text import Lines, check_name, check_range, fmt, is_plain_number, parse_float, parse_int, values_block

__all__ = ["SetflData", "read_setfl", "write_setfl", "read_fs", "write_fs", "element_line", "grid_line",
           "check_grid", "TABLE_LIMITS", "check_tables", "check_setfl", "check_info"]

#: accepted ranges of the tabulated EAM formats (module docstring): (lower, upper, unit)
TABLE_LIMITS = {"value": (-1e20, 1e20, "(eV, density units or eV*Angstrom)"), "points": (5, 1_000_000, "points"),
                "dr": (1e-6, 10.0, "Angstrom"), "drho": (1e-10, 1e6, "(density units)"),
                "cutoff": (0.0, 100.0, "Angstrom"), "mass": (0.0, 1e4, "u"), "Z": (0, 200, "")}


@dataclass
class SetflData:
    """The content of a DYNAMO setfl file (``eam/alloy``) or of an ``eam/fs`` file.

    ``frho[el]`` (nrho,) eV on ρ = 0, drho, …; ``rhor`` (nr,) on r = 0, dr, …, keyed by
    element (setfl: the density an atom of that element contributes) or, for ``eam/fs``, by
    ``(a, b)``: the density an atom of element a contributes at an atom of element b (the
    b-th table in a's section of the file); ``z2r[(a, b)]`` (nr,) r·φ(r) in eV·Å for element
    a listed after (or equal to) b, as in the file's lower-triangle order; ``info`` per
    element: (atomic number, mass, lattice constant, lattice type). ``fs``: the eam/fs form.
    """

    elements: list[str]
    info: list[tuple[int, float, float, str]]
    nrho: int
    drho: float
    nr: int
    dr: float
    cutoff: float
    frho: dict[str, np.ndarray]
    rhor: dict
    z2r: dict[tuple[str, str], np.ndarray]
    comments: list[str] = field(default_factory=lambda: ["", "", ""])
    fs: bool = False

    def pair(self, a: str, b: str) -> np.ndarray:
        """r·φ of the unordered pair (a, b)."""
        ia, ib = self.elements.index(a), self.elements.index(b)
        hi, lo = (a, b) if ia >= ib else (b, a)
        return self.z2r[(hi, lo)]

    def density(self, source: str, host: str) -> np.ndarray:
        """ρ(r) that an atom of element ``source`` contributes at an atom of element ``host``."""
        return self.rhor[(source, host)] if self.fs else self.rhor[source]

    def select(self, names: list[str], symbols: list[str] | None = None, *, fs: bool | None = None
               ) -> "SetflData":
        """The tables of the elements ``names`` only, in that order, renamed to ``symbols``
        (LAMMPS' ``pair_coeff * * file el1 el2 …`` element mapping); ``fs``: the result's form
        (an eam/alloy table as eam/fs repeats each density for every host)."""
        symbols = list(names if symbols is None else symbols)
        fs = self.fs if fs is None else fs
        if not fs and self.fs:
            for a in names:
                if any(not np.array_equal(self.density(a, b), self.density(a, names[0])) for b in names):
                    raise ModelFormatError(f"the density of {a} differs between host elements: an "
                                           "eam/fs table has no eam/alloy form")
        k = {n: self.elements.index(n) for n in names}
        rename = dict(zip(names, symbols))
        rhor = ({(rename[a], rename[b]): self.density(a, b) for a in names for b in names} if fs
                else {rename[a]: self.density(a, names[0]) for a in names})
        z2r = {(rename[a], rename[b]): self.pair(a, b) for i, a in enumerate(names) for b in names[: i + 1]}
        return SetflData(symbols, [self.info[k[n]] for n in names], self.nrho, self.drho, self.nr,
                         self.dr, self.cutoff, {rename[n]: self.frho[n] for n in names}, rhor, z2r,
                         list(self.comments), fs)


def read_setfl(path: str | os.PathLike) -> SetflData:
    """Read a DYNAMO setfl file (LAMMPS ``pair_style eam/alloy``).

    Errors (:class:`ModelFormatError`, one line with file and line number): a missing or
    malformed header, an element named twice, Nrho or Nr below 5, non-positive spacings,
    non-numeric or non-finite values, a block that ends early or shares a line with the next
    one (LAMMPS would drop those values), or values left over after the last table.
    """
    return _read(path, fs=False)


def read_fs(path: str | os.PathLike) -> SetflData:
    """Read an ``eam/fs`` file (per-pair densities), with the errors of :func:`read_setfl`."""
    return _read(path, fs=True)


def _read(path: str | os.PathLike, *, fs: bool) -> SetflData:
    name = os.fspath(path)
    style = "eam/fs" if fs else "setfl (eam/alloy)"
    lines = read_text(path, f"an {style} file", ModelFormatError).splitlines()
    if len(lines) < 5:
        raise ModelFormatError(f"has {len(lines)} lines; an {style} file starts with 3 comment lines, "
                               "'N el1 el2 ...' and 'Nrho drho Nr dr cutoff'", path=name)
    reader = Lines(lines, name, cursor=3)
    elements = _elements(reader)
    nrho, drho, nr, dr, cutoff = grid_line(reader, minimum=5)
    info, frho, rhor = [], {}, {}
    for s in elements:
        info.append(element_line(reader, f" of {s}"))
        frho[s] = reader.block(nrho, f"F(rho) of {s}", _VALUE, "eV")
        if fs:
            for b in elements:
                rhor[(s, b)] = reader.block(nr, f"rho(r) of {s} at {b}", _VALUE)
        else:
            rhor[s] = reader.block(nr, f"rho(r) of {s}", _VALUE)
    z2r = {}
    for i, a in enumerate(elements):
        for b in elements[: i + 1]:
            z2r[(a, b)] = reader.block(nr, f"r*phi(r) of {a}-{b}", _VALUE, "eV*Angstrom")
    reader.check_end("r*phi table")
    return SetflData(elements, info, nrho, drho, nr, dr, cutoff, frho, rhor, z2r, lines[:3], fs)


_VALUE = TABLE_LIMITS["value"][1]


def _elements(reader: Lines) -> list[str]:
    name = reader.name
    words, ln = reader.next_words("element line 'N el1 el2 ...'")
    n_el = parse_int(words[0], name, ln, "number of elements")
    if n_el < 1 or len(words) != n_el + 1 or n_el > 200:
        raise ModelFormatError(f"element line {' '.join(words)!r}: expected N followed by N element "
                               f"names, found N = {words[0]} and {len(words) - 1} names", path=name, line=ln)
    elements = words[1:]
    if len(set(elements)) != len(elements):
        raise ModelFormatError(f"element line lists an element twice: {' '.join(elements)}",
                               path=name, line=ln)
    return elements


def element_line(reader: Lines, what: str = "") -> tuple[int, float, float, str]:
    """``Z mass [a0 lattice]``: LAMMPS reads an integer Z (which it ignores) and the mass, and
    ignores the rest; the mass must be positive (LAMMPS: "Invalid mass value")."""
    name = reader.name
    words, ln = reader.next_words(f"line 'Z mass a0 lattice'{what}")
    if len(words) < 2:
        raise ModelFormatError(f"line 'Z mass a0 lattice'{what} has {len(words)} word(s); LAMMPS needs at "
                               "least Z and the mass", path=name, line=ln)
    z = parse_int(words[0], name, ln, f"atomic number{what}")
    mass = parse_float(words[1], name, ln, f"mass{what}")
    if not mass > 0:
        raise ModelFormatError(f"mass{what} = {mass:g}: expected a positive mass (LAMMPS refuses it)",
                               path=name, line=ln)
    check_info(z, mass, f"{what}", path=name, line=ln)
    a0 = float(words[2]) if len(words) > 2 and is_plain_number(words[2]) else 0.0
    if not np.isfinite(a0):
        a0 = 0.0
    return z, mass, a0, words[3] if len(words) > 3 else ""


def grid_line(reader: Lines, minimum: int) -> tuple[int, float, int, float, float]:
    """``Nrho drho Nr dr cutoff`` (LAMMPS reads these five and ignores more), checked by
    :func:`check_grid`."""
    name = reader.name
    words, ln = reader.next_words("grid line 'Nrho drho Nr dr cutoff'")
    if len(words) < 5:
        raise ModelFormatError(f"grid line has {len(words)} values, expected 5 "
                               "(Nrho drho Nr dr cutoff)", path=name, line=ln)
    nrho = parse_int(words[0], name, ln, "Nrho")
    drho = parse_float(words[1], name, ln, "drho")
    nr = parse_int(words[2], name, ln, "Nr")
    dr = parse_float(words[3], name, ln, "dr")
    cutoff = parse_float(words[4], name, ln, "cutoff")
    check_grid(nrho, drho, nr, dr, cutoff, name, ln, minimum=minimum)
    return nrho, drho, nr, dr, cutoff


def check_grid(nrho: int, drho: float, nr: int, dr: float, cutoff: float, name: str, line: int, *,
               minimum: int) -> None:
    """The grid checks of the tabulated EAM formats: ``minimum`` points per table (LAMMPS'
    5-point slopes index outside its arrays below 5; it checks only Nrho, Nr > 0), positive
    spacings and cutoff (LAMMPS checks dr > 0; drho = 0 divides by zero in its lookup, and a
    cutoff of 0 leaves no interaction)."""
    for label, n in (("Nrho", nrho), ("Nr", nr)):
        if n < minimum:
            raise ModelFormatError(f"{label} = {n}: the table needs at least {minimum} points (LAMMPS "
                                   "interpolates with 5-point differences)", path=name, line=line)
        check_range(label, n, minimum, TABLE_LIMITS["points"][1], "points", path=name, line=line)
    for label, x in (("drho", drho), ("dr", dr), ("cutoff", cutoff)):
        if not x > 0:
            raise ModelFormatError(f"{label} = {x:g}: expected a positive number", path=name, line=line)
        check_range(label, x, *TABLE_LIMITS[label], path=name, line=line)


def check_info(z: int, mass: float, what: str = "", *, path: str | None = None, line: int | None = None) -> None:
    """Z and mass of an element line within :data:`TABLE_LIMITS`."""
    check_range(f"atomic number{what}", z, *TABLE_LIMITS["Z"], path=path, line=line)
    check_range(f"mass{what}", mass, *TABLE_LIMITS["mass"], path=path, line=line)
    if not mass > 0:
        raise ModelFormatError(f"mass{what} = {mass:g}: expected a positive mass", path=path, line=line)


def check_tables(tables, n: int, what: str, *, path: str | None = None, limit: float = _VALUE,
                 unit: str = TABLE_LIMITS["value"][2]) -> None:
    """Each array of ``tables`` (name -> values) a float table of ``n`` finite values within
    ``[-limit, limit]`` (saved models; the file readers check value by value)."""
    for name, values in tables.items():
        values = np.asarray(values)
        if values.dtype.kind not in "fiu" or values.shape != (n,):
            raise ModelFormatError(f"{what} {name}: expected {n} numbers, got an array of shape "
                                   f"{values.shape} ({values.dtype})", path=path)
        bad = np.flatnonzero(~(np.abs(values.astype(np.float64)) <= limit))
        if bad.size:
            check_range(f"{what} {name}[{bad[0]}]", float(values[bad[0]]), -limit, limit, unit, path=path)


def check_setfl(data: SetflData, *, path: str | None = None) -> SetflData:
    """``data`` (e.g. of a saved model) within the ranges the readers accept: the grid, each
    element's Z and mass, and every table (``nrho`` values of F, ``nr`` of ρ and r·φ)."""
    for label, n in (("nrho", data.nrho), ("nr", data.nr)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ModelFormatError(f"{label} = {n!r} is not an integer", path=path)
    check_grid(data.nrho, data.drho, data.nr, data.dr, data.cutoff, path, None, minimum=5)
    if len(data.info) != len(data.elements):
        raise ModelFormatError(f"info: expected one (Z, mass, a0, lattice) per element, got {len(data.info)}",
                               path=path)
    for s, info in zip(data.elements, data.info):
        if len(info) != 4 or isinstance(info[0], bool) or not isinstance(info[0], (int, np.integer)):
            raise ModelFormatError(f"info of {s}: expected [Z, mass, a0, lattice] with an integer Z, "
                                   f"got {list(info)}", path=path)
        check_info(info[0], float(info[1]), f" of {s}", path=path)
    els = list(data.elements)
    check_tables({f"F(rho) of {s}": data.frho[s] for s in els}, data.nrho, "table", path=path)
    check_tables({f"rho(r) of {'-'.join(k) if isinstance(k, tuple) else k}": v for k, v in data.rhor.items()},
                 data.nr, "table", path=path)
    check_tables({f"r*phi of {a}-{b}": data.pair(a, b) for i, a in enumerate(els) for b in els[: i + 1]},
                 data.nr, "table", path=path)
    return data


def write_setfl(data: SetflData, path: str | os.PathLike) -> Path:
    """Write ``data`` as a setfl file (atomically); each table starts on a new line, five
    ``%.16e`` values to a line, so LAMMPS reads exactly these doubles. An eam/fs ``data``
    must have one density per element (else ModelFormatError)."""
    if data.fs:
        data = data.select(list(data.elements), fs=False)
    return _write(data, path)


def write_fs(data: SetflData, path: str | os.PathLike) -> Path:
    """Write ``data`` as an eam/fs file (an eam/alloy ``data`` repeats each element's density
    for every host element, which LAMMPS evaluates exactly as the setfl file)."""
    if not data.fs:
        data = data.select(list(data.elements), fs=True)
    return _write(data, path)


def _write(data: SetflData, path: str | os.PathLike) -> Path:
    els = [check_name(s, "element") for s in data.elements]
    comments = list(data.comments) + ["", "", ""]
    for k in range(3):
        if "\n" in comments[k] or "\r" in comments[k]:
            raise ModelFormatError(f"comment line {k + 1} contains a line break")
    out = [c for c in comments[:3]]
    out.append(f"{len(els)} " + " ".join(els))
    out.append(f"{data.nrho} {fmt(data.drho)} {data.nr} {fmt(data.dr)} {fmt(data.cutoff)}")
    parts = ["\n".join(out) + "\n"]
    if len(data.info) != len(els):
        raise ModelFormatError(f"info: expected one (Z, mass, a0, lattice) per element, got {len(data.info)}")
    for s, (z, mass, a0, lattice) in zip(els, data.info):
        parts.append(f"{int(z)} {fmt(mass)} {fmt(a0)} {check_name(lattice, 'lattice') if lattice else ''}"
                     .rstrip() + "\n")
        parts.append(_block(data.frho.get(s), data.nrho, f"F(rho) of {s}"))
        for b in (els if data.fs else [els[0]]):
            label = f"rho(r) of {s} at {b}" if data.fs else f"rho(r) of {s}"
            parts.append(_block(data.rhor.get((s, b) if data.fs else s), data.nr, label))
    for i, a in enumerate(els):
        for b in els[: i + 1]:
            parts.append(_block(data.pair(a, b), data.nr, f"r*phi of {a}-{b}"))
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(parts))
    return path


def _block(values, n: int, what: str) -> str:
    if values is None or len(values) != n:
        raise ModelFormatError(f"{what}: expected {n} values")
    return values_block(values)
