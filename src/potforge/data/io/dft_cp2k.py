"""CP2K's molecular-dynamics and geometry-optimisation trajectories, which ``ase.io`` does not
read with their labels: ``PROJECT-pos-1.xyz`` (positions, Å), ``PROJECT-frc-1.xyz`` beside it
(forces, hartree/bohr) and ``PROJECT-1.cell`` (cell vectors, Å; MOTION/PRINT/CELL). Each block
of the xyz files has CP2K's comment line ``i = STEP, time = T, E = ENERGY`` (energy in
hartree; ``time`` absent in optimisations). Steps pair by their number ``i``: a step is a
frame when both files have it. CP2K writes one energy (that of its force evaluation, which
includes the electronic entropy term of smeared occupations: the energy the forces belong
to), so both ``energy`` choices give it. No stress: CP2K's ``.stress`` file is not read.

The rules of :mod:`.dft` apply: the last step of a stopped run (positions written, forces not,
or a block cut short) is dropped with a warning; any other damage is a one-line
:class:`DataFormatError` naming the file and line. Without the ``.cell`` file the periodic
box is unknown: an error, not an open structure.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.units import Bohr, Hartree

from ...core.errors import DataFormatError
from ...core.text import parse_float, parse_int
from ..frame import Frame

__all__ = ["CP2K_NAME", "iter_cp2k"]

#: File names of CP2K trajectories (``PROJECT-pos-1.xyz``; ``-frc-``, ``-vel-``: its companions).
CP2K_NAME = re.compile(r"^(?P<project>.+)-(?P<kind>pos|frc|vel)-(?P<n>[0-9]+)\.xyz$")
_COMMENT = re.compile(r"^\s*i\s*=\s*(?P<i>[0-9]+)\s*,(?:\s*time\s*=\s*\S+\s*,)?\s*E\s*=\s*(?P<e>\S+)\s*$",
                      re.ASCII)


def iter_cp2k(path: str | os.PathLike, *, config_type: str | None = None,
              group: str | None = None) -> Iterator[Frame]:
    """Yield the frames of a CP2K ``PROJECT-pos-N.xyz`` with its ``-frc-N.xyz`` and
    ``-N.cell`` (module docstring); names default to the project's (config_type) and the
    position file's path (group)."""
    pos = Path(path)
    match = CP2K_NAME.match(pos.name)
    if match is None or match.group("kind") != "pos":
        raise DataFormatError("a CP2K trajectory is read from its PROJECT-pos-N.xyz file (this "
                              "name is not one; its xyz alone: --format extxyz)", path=os.fspath(pos))
    project, n = match.group("project"), match.group("n")
    frc, cell = pos.with_name(f"{project}-frc-{n}.xyz"), pos.with_name(f"{project}-{n}.cell")
    for companion, what in ((frc, "the forces (MOTION/PRINT/FORCES)"),
                            (cell, "the cell (MOTION/PRINT/CELL); without it the box is unknown")):
        if not companion.is_file():
            raise DataFormatError(f"no {companion.name} beside it: CP2K writes {what} (the "
                                  "positions alone: --format extxyz)", path=os.fspath(pos))
    positions, stopped_pos = _blocks(pos)
    forces, stopped_frc = _blocks(frc)
    cells = _cells(cell)
    steps = [i for i in positions if i in forces]
    notes = [s for s in (stopped_pos, stopped_frc) if s]
    last = max(positions) if positions else None
    if last is not None and last not in forces and (not forces or last > max(forces)):
        notes.append(f"step i = {last}, the last, has no forces in {frc.name}: dropped")
    if not steps:
        raise DataFormatError(f"no step has both positions and forces ({frc.name})",
                              path=os.fspath(pos))
    if notes:
        warnings.warn(f"{pos}: {'; '.join(notes)} (the run was stopped?)", stacklevel=2)
    config_type = config_type if config_type is not None else Path(project).name
    group = group if group is not None else os.fspath(pos)
    for k, i in enumerate(steps):
        (symbols, r, _, line), (symbols_f, f, energy, line_f) = positions[i], forces[i]
        if symbols != symbols_f:
            raise DataFormatError(f"step i = {i}: the atoms differ from {pos.name} line {line}",
                                  path=os.fspath(frc), line=line_f)
        atoms = Atoms(symbols, positions=r, cell=_cell_of(cells, i, cell), pbc=True)
        yield Frame(atoms, energy=energy * Hartree, forces=f * (Hartree / Bohr),
                    config_type=config_type, group=group,
                    info={"dft_energy": "energy", "dft_step": k, "cp2k_step": i})


def _blocks(path: Path) -> tuple[dict[int, tuple[list[str], np.ndarray, float, int]], str | None]:
    """``{step: (symbols, (n, 3) values, energy, line of the comment)}`` of a CP2K xyz file,
    and a sentence if its last block is cut short (then left out)."""
    name = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    blocks: dict[int, tuple[list[str], np.ndarray, float, int]] = {}
    k = 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        count = parse_int(lines[k].strip(), "number of atoms", path=name, line=k + 1)
        if count < 1:
            raise DataFormatError(f"number of atoms: expected >= 1, found {count}", path=name, line=k + 1)
        if k + 2 + count > len(lines):
            return blocks, f"{path.name} ends inside the block at line {k + 1}: left out"
        match = _COMMENT.match(lines[k + 1])
        if match is None:
            raise DataFormatError(f"expected CP2K's 'i = STEP, time = T, E = ENERGY', found "
                                  f"{lines[k + 1].strip()[:60]!r}", path=name, line=k + 2)
        step = int(match.group("i"))
        energy = parse_float(match.group("e"), "E", path=name, line=k + 2)
        symbols, values = [], np.empty((count, 3))
        for j in range(count):
            fields = lines[k + 2 + j].split()
            if len(fields) != 4 or fields[0] not in chemical_symbols[1:]:
                raise DataFormatError("expected 'Element x y z'", path=name, line=k + 3 + j)
            symbols.append(fields[0])
            values[j] = [parse_float(x, "coordinate", path=name, line=k + 3 + j) for x in fields[1:]]
        if step in blocks:
            raise DataFormatError(f"step i = {step} appears twice", path=name, line=k + 2)
        blocks[step] = (symbols, values, energy, k + 2)
        k += 2 + count
    return blocks, None


def _cells(path: Path) -> dict[int, np.ndarray]:
    """``{step: (3, 3) cell rows, Å}`` of a CP2K ``.cell`` file."""
    cells: dict[int, np.ndarray] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 12:
                raise DataFormatError("expected 'Step Time Ax Ay Az Bx By Bz Cx Cy Cz Volume'",
                                      path=os.fspath(path), line=number)
            step = parse_int(fields[0], "step", path=os.fspath(path), line=number)
            values = [parse_float(x, "cell", path=os.fspath(path), line=number) for x in fields[1:]]
            cells[step] = np.array(values[1:10]).reshape(3, 3)
    return cells


def _cell_of(cells: dict[int, np.ndarray], step: int, path: Path) -> np.ndarray:
    if step in cells:
        return cells[step]
    rows = list(cells.values())
    if rows and all(np.array_equal(rows[0], c) for c in rows):  # a fixed box, printed less often
        return rows[0]
    raise DataFormatError(f"no cell for step i = {step} (the box changes and this step is not "
                          "printed)", path=os.fspath(path))
