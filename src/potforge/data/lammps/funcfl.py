"""DYNAMO funcfl files (LAMMPS ``pair_style eam``): one element per file, as plain data.

Format as LAMMPS (22 Jul 2025, ``PairEAM::read_file``) reads it: one comment line;
``Z mass [a0 lattice]`` (LAMMPS reads Z and mass, Z as an integer it then ignores);
``Nrho drho Nr dr cutoff``; then Nrho values of F(ρ) (eV), Nr values of the effective
charge Z(r) and Nr values of the density ρ(r), each block starting on a new line (as for
setfl, values after a block's end on the same line are an error here; LAMMPS drops them).
Z(r) is in √(Hartree·Bohr): LAMMPS forms the pair term of elements i, j as
r·φ_ij(r) = 27.2 · 0.529 · Z_i(r) Z_j(r) (:data:`HARTREE_BOHR`, LAMMPS' rounded
constants, not CODATA's), which is what the file's numbers mean.

Accepted ranges: those of setfl files (:data:`~potforge.data.lammps.setfl.TABLE_LIMITS`: F and
ρ within ±1e20, at least 6 and at most 1,000,000 points, dr in [1e-6, 10] Å, drho in
[1e-10, 1e6], cutoff ≤ 100 Å), and |Z(r)| ≤ 1e10 √(eV·Å) (:data:`ZR_LIMIT`: r·φ = 14.4 Z² then
stays within ±1.5e21; the files LAMMPS ships hold |Z| ≤ 11).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_write
from ...core.errors import ModelFormatError
from ...core.text import read_text
from ._text import Lines, check_name, fmt, values_block
from .setfl import TABLE_LIMITS, check_grid, check_info, check_tables, element_line, grid_line

__all__ = ["FuncflData", "HARTREE_BOHR", "ZR_LIMIT", "read_funcfl", "write_funcfl", "check_funcfl"]

#: largest |Z(r)| accepted (module docstring)
ZR_LIMIT = 1e10

#: LAMMPS' factor from Z_i(r) Z_j(r) to r·φ(r) in eV·Å: 27.2 eV/Hartree × 0.529 Å/Bohr
HARTREE_BOHR = 27.2 * 0.529


@dataclass
class FuncflData:
    """The content of a funcfl file: ``frho`` (nrho,) eV on ρ = 0, drho, …; ``zr`` (nr,)
    effective charge Z(r) in √(Hartree·Bohr) and ``rhor`` (nr,) density on r = 0, dr, …;
    ``z`` atomic number, ``mass`` (u), ``a0`` (Å, 0 if absent) and ``lattice`` from line 2."""

    z: int
    mass: float
    nrho: int
    drho: float
    nr: int
    dr: float
    cutoff: float
    frho: np.ndarray
    zr: np.ndarray
    rhor: np.ndarray
    a0: float = 0.0
    lattice: str = ""
    comment: str = ""


def read_funcfl(path: str | os.PathLike) -> FuncflData:
    """Read a funcfl file (LAMMPS ``pair_style eam``).

    Errors (:class:`ModelFormatError`, one line with file and line number): a line 2 without
    an integer Z and a positive mass, a grid line without ``Nrho drho Nr dr cutoff``, fewer than 6
    points in a table (LAMMPS regrids to one point less and needs 5), non-positive spacings
    or cutoff, non-numeric or non-finite values, a block that ends early or shares a line
    with the next one, values after the last table.
    """
    name = os.fspath(path)
    lines = read_text(path, "a funcfl (eam) file", ModelFormatError).splitlines()
    if len(lines) < 3:
        raise ModelFormatError(f"has {len(lines)} lines; a funcfl file starts with a comment line, "
                               "'Z mass a0 lattice' and 'Nrho drho Nr dr cutoff'", path=name)
    reader = Lines(lines, name, cursor=1)
    z, mass, a0, lattice = element_line(reader)
    nrho, drho, nr, dr, cutoff = grid_line(reader, minimum=6)
    limit = TABLE_LIMITS["value"][1]
    frho = reader.block(nrho, "F(rho)", limit, "eV")
    zr = reader.block(nr, "Z(r)", ZR_LIMIT, "(eV*Angstrom)^(1/2)")
    rhor = reader.block(nr, "rho(r)", limit)
    reader.check_end("table (rho(r))")
    return FuncflData(z, mass, nrho, drho, nr, dr, cutoff, frho, zr, rhor, a0, lattice, lines[0])


def check_funcfl(data: FuncflData, what: str, *, path: str | None = None) -> FuncflData:
    """``data`` (e.g. of a saved model) within the ranges :func:`read_funcfl` accepts, else a
    ModelFormatError naming ``what`` and the value."""
    for label, n in (("nrho", data.nrho), ("nr", data.nr)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ModelFormatError(f"{what}: {label} = {n!r} is not an integer", path=path)
    check_grid(data.nrho, data.drho, data.nr, data.dr, data.cutoff, path, None, minimum=6)
    check_info(data.z, data.mass, f" of {what}", path=path)
    check_tables({"F(rho)": data.frho}, data.nrho, what, path=path)
    check_tables({"rho(r)": data.rhor}, data.nr, what, path=path)
    check_tables({"Z(r)": data.zr}, data.nr, what, path=path, limit=ZR_LIMIT, unit="(eV*Angstrom)^(1/2)")
    return data


def write_funcfl(data: FuncflData, path: str | os.PathLike) -> Path:
    """Write ``data`` as a funcfl file (atomically), tables as ``%.16e``, five to a line."""
    if "\n" in data.comment or "\r" in data.comment:
        raise ModelFormatError("funcfl comment contains a line break")
    head = f"{int(data.z)} {fmt(data.mass)} {fmt(data.a0)} "
    head += check_name(data.lattice, "lattice") if data.lattice else ""
    parts = [data.comment + "\n", head.rstrip() + "\n",
             f"{data.nrho} {fmt(data.drho)} {data.nr} {fmt(data.dr)} {fmt(data.cutoff)}\n"]
    for values, n, what in ((data.frho, data.nrho, "F(rho)"), (data.zr, data.nr, "Z(r)"),
                            (data.rhor, data.nr, "rho(r)")):
        if len(values) != n:
            raise ModelFormatError(f"{what}: expected {n} values, got {len(values)}")
        parts.append(values_block(values))
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(parts))
    return path
