"""Readers and writers of structure/label files; the format follows from the file name.

========== ==================================== =========================================
format     names                                units
========== ==================================== =========================================
extxyz     ``*.xyz``, ``*.extxyz``              Å, eV (the file's own convention)
n2p2       ``input.data``, ``*.data``           chosen by ``length_unit``/``energy_unit``
ase-db     ``*.db``                             Å, eV
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


def detect_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The format named by ``format`` or implied by the file name."""
    if format is not None:
        if format not in FORMATS:
            raise DataFormatError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
        return format
    name = Path(path).name.lower()
    if name.endswith((".xyz", ".extxyz")):
        return "extxyz"
    if name.endswith(".data") or name.startswith("input.data"):
        return "n2p2"
    if name.endswith(".db"):
        return "ase-db"
    raise DataFormatError("cannot tell the format from the file name; expected *.xyz/*.extxyz, "
                          "input.data/*.data or *.db (rename the file, or name the format when "
                          "calling potforge.data.read_frames)", path=os.fspath(path))


def iter_frames(path: str | os.PathLike, format: str | None = None, *,
                length_unit: str = "angstrom", energy_unit: str = "ev") -> Iterator[Frame]:
    """Yield frames from a file; units apply to n2p2 files (others are Å/eV by convention).

    Every frame of every format passes :func:`~potforge.data.frame.check_frame` (the readers
    check earlier where they know the line), so all verbs accept and refuse the same frames.
    """
    frames = _iter_format(path, format, length_unit=length_unit, energy_unit=energy_unit)
    if detect_format(path, format) in _CHECKED_BY_READER:
        yield from frames
        return
    for index, frame in enumerate(frames):
        check_frame(frame, path=os.fspath(path), index=index)
        yield frame


#: formats whose readers run check_frame themselves, where they know the line
_CHECKED_BY_READER = frozenset({"extxyz", "n2p2", "ase-db"})


def _iter_format(path: str | os.PathLike, format: str | None = None, *,
                 length_unit: str = "angstrom", energy_unit: str = "ev") -> Iterator[Frame]:
    fmt = detect_format(path, format)
    if not Path(path).exists():
        raise DataFormatError("no such file", path=os.fspath(path))
    if fmt == "extxyz":
        from .extxyz import iter_extxyz

        yield from iter_extxyz(path)
    elif fmt == "n2p2":
        from .n2p2 import iter_input_data

        yield from iter_input_data(path, length_unit=length_unit, energy_unit=energy_unit)
    else:
        from .asedb import iter_ase_db

        yield from iter_ase_db(path)


def read_frames(path: str | os.PathLike, format: str | None = None, *,
                length_unit: str = "angstrom", energy_unit: str = "ev") -> list[Frame]:
    """Read all frames of a file (see :func:`iter_frames`)."""
    return list(iter_frames(path, format, length_unit=length_unit, energy_unit=energy_unit))


def write_frames(path: str | os.PathLike, frames: Iterable[Frame], format: str | None = None, *,
                 length_unit: str = "angstrom", energy_unit: str = "ev") -> None:
    """Write frames atomically in the format implied by the name (units for n2p2 files)."""
    fmt = detect_format(path, format)
    if fmt == "extxyz":
        from .extxyz import write_extxyz

        write_extxyz(path, frames)
    elif fmt == "n2p2":
        from .n2p2 import write_input_data

        write_input_data(path, frames, length_unit=length_unit, energy_unit=energy_unit)
    else:
        from .asedb import write_ase_db

        write_ase_db(path, frames)
