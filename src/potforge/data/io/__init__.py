"""Readers and writers of structure/label files; the format follows from the file name.

========== ==================================== =========================================
format     names                                units
========== ==================================== =========================================
extxyz     ``*.xyz``, ``*.extxyz``              Å, eV (the file's own convention)
n2p2       ``input.data``, ``*.data``           chosen by ``length_unit``/``energy_unit``
ase-db     ``*.db``                             Å, eV
DFT output ``OUTCAR``, ``vasprun.xml``, pw.x, aims, Å, eV (ase.io converts; see :mod:`.dft`)
           CASTEP, GPAW, ...: ASE's format names;
           ``*-pos-N.xyz``: CP2K trajectories
========== ==================================== =========================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...core.errors import DataFormatError
from ..frame import Frame, check_frame

__all__ = ["FORMATS", "detect_format", "read_frames", "iter_frames", "write_frames"]

FORMATS = ("extxyz", "n2p2", "ase-db")


def detect_format(path: str | os.PathLike, format: str | None = None, *, write: bool = False) -> str:
    """The format named by ``format`` or implied by the file name or content (a DFT output:
    ASE's format name, see :mod:`.dft`); ``write``: one that potforge writes."""
    from .dft import dft_format, sniff_format

    fmt = format if format in FORMATS else None
    if format is not None and fmt is None:
        fmt = dft_format(format)
    if fmt is None:
        fmt = _own_format(path, reading=not write)
    if write:
        if fmt not in FORMATS:
            fmt = fmt or sniff_format(path)
            raise DataFormatError(f"potforge writes *.xyz/*.extxyz, input.data/*.data or *.db, not "
                                  f"{fmt or 'this format'}; rename the output", path=os.fspath(path))
        return fmt
    fmt = fmt or sniff_format(path)
    if fmt is None:
        raise DataFormatError("cannot tell the format from the file name or content; expected "
                              "*.xyz/*.extxyz, input.data/*.data, *.db or a DFT output such as "
                              "OUTCAR (rename the file, or name the format: --format, data.format)",
                              path=os.fspath(path))
    return fmt


def _own_format(path: str | os.PathLike, reading: bool = True) -> str | None:
    name = Path(path).name.lower()
    if name.endswith((".xyz", ".extxyz")) and not (reading and _is_cp2k_trajectory(Path(path))):
        return "extxyz"
    if name.endswith(".data") or name.startswith("input.data"):
        return "n2p2"
    if name.endswith(".db"):
        return "ase-db"
    return None


def _is_cp2k_trajectory(path: Path) -> bool:
    """A ``PROJECT-pos-N.xyz`` (or ``-frc-``/``-vel-``) with CP2K's companion files beside it;
    the same name alone is an ordinary (ext)xyz file that happens to be called so."""
    from .dft_cp2k import CP2K_NAME

    match = CP2K_NAME.match(path.name)
    if match is None:
        return False
    project, n = match["project"], match["n"]
    companions = ([f"{project}-frc-{n}.xyz", f"{project}-{n}.cell"] if match["kind"] == "pos"
                  else [f"{project}-pos-{n}.xyz"])
    return any((path.parent / name).exists() for name in companions)


def iter_frames(path: str | os.PathLike, format: str | None = None, *,
                length_unit: str = "angstrom", energy_unit: str = "ev", dft_energy: str = "free",
                config_type: str | None = None, group: str | None = None) -> Iterator[Frame]:
    """Yield frames from a file; units apply to n2p2 files (others are Å/eV by convention).

    ``dft_energy`` chooses the energy of DFT outputs (:mod:`.dft`); ``config_type`` and
    ``group``, when given, name every frame read (DFT outputs otherwise take them from the path).
    Every frame of every format passes :func:`~potforge.data.frame.check_frame` (the readers
    check earlier where they know the line), so all verbs accept and refuse the same frames.
    """
    frames = _iter_format(path, format, length_unit=length_unit, energy_unit=energy_unit,
                          dft_energy=dft_energy, config_type=config_type, group=group)
    if detect_format(path, format) in _CHECKED_BY_READER:
        yield from frames
        return
    for index, frame in enumerate(frames):
        check_frame(frame, path=os.fspath(path), index=index)
        yield frame


#: formats whose readers run check_frame themselves, where they know the line
_CHECKED_BY_READER = frozenset({"extxyz", "n2p2", "ase-db"})


def _iter_format(path: str | os.PathLike, format: str | None = None, *,
                 length_unit: str = "angstrom", energy_unit: str = "ev", dft_energy: str = "free",
                 config_type: str | None = None, group: str | None = None) -> Iterator[Frame]:
    fmt = detect_format(path, format)
    if not Path(path).exists():
        raise DataFormatError("no such file", path=os.fspath(path))
    if fmt not in FORMATS:
        from .dft import iter_dft

        yield from iter_dft(path, format, energy=dft_energy, config_type=config_type, group=group)
        return
    for frame in _iter_own(path, fmt, length_unit, energy_unit):
        if config_type is not None:
            frame.config_type = config_type
        if group is not None:
            frame.group = group
        yield frame


def _iter_own(path, fmt: str, length_unit: str, energy_unit: str) -> Iterator[Frame]:
    if fmt == "extxyz":
        from .extxyz import iter_extxyz

        yield from iter_extxyz(path)
    elif fmt == "n2p2":
        from .n2p2 import iter_input_data

        yield from iter_input_data(path, length_unit=length_unit, energy_unit=energy_unit)
    else:
        from .asedb import iter_ase_db

        yield from iter_ase_db(path)


def read_frames(path: str | os.PathLike, format: str | None = None, **options) -> list[Frame]:
    """Read all frames of a file (options: see :func:`iter_frames`)."""
    return list(iter_frames(path, format, **options))


def write_frames(path: str | os.PathLike, frames: Iterable[Frame], format: str | None = None, *,
                 length_unit: str = "angstrom", energy_unit: str = "ev") -> None:
    """Write frames atomically in the format implied by the name (units for n2p2 files)."""
    fmt = detect_format(path, format, write=True)
    if fmt == "extxyz":
        from .extxyz import write_extxyz

        write_extxyz(path, frames)
    elif fmt == "n2p2":
        from .n2p2 import write_input_data

        write_input_data(path, frames, length_unit=length_unit, energy_unit=energy_unit)
    else:
        from .asedb import write_ase_db

        write_ase_db(path, frames)
