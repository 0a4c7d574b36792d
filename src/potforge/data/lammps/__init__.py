"""LAMMPS files as plain data: funcfl (``eam``), setfl (``eam/alloy``) and ``eam/fs`` tables,
Tersoff and Stillinger–Weber parameter files, ``pair_style table`` files, and ``in.lammps``
scripts — read and written exactly as LAMMPS (22 Jul 2025) reads them, with one-line errors
naming file and line.

Modules: :mod:`.funcfl`, :mod:`.setfl` (eam/alloy, eam/fs), :mod:`.parameter_files` (tersoff,
sw), :mod:`.table`,
:mod:`.input_script`. This package itself only recognises potential files by name (the model
registry asks it when loading a path, and should not pay for the readers). No models here: the
classical families turn themselves into these files and back
(:mod:`potforge.models.classical.lammps`).
"""

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["LAMMPS_STYLES", "style_for_path", "is_potential_file"]

#: styles whose potential files potforge reads
LAMMPS_STYLES = ("eam", "eam/alloy", "eam/fs", "tersoff", "sw")
#: file-name endings that identify a LAMMPS potential file, and their style
_SUFFIX_STYLES = ((".eam.alloy", "eam/alloy"), (".setfl", "eam/alloy"), (".eam.fs", "eam/fs"),
                  (".eam", "eam"), (".tersoff", "tersoff"), (".sw", "sw"))


def style_for_path(path: str | os.PathLike) -> str | None:
    """The LAMMPS style a file name suggests (``.eam``, ``.eam.alloy``/``.setfl``, ``.eam.fs``,
    ``.tersoff``, ``.sw``)."""
    low = os.fspath(path).lower()
    return next((style for suffix, style in _SUFFIX_STYLES if low.endswith(suffix)), None)


def is_potential_file(style: str) -> Callable[[Path], bool]:
    """A test of whether a path is an existing file named like a potential file of ``style``."""
    def matches(path: Path) -> bool:
        return Path(path).is_file() and style_for_path(path) == style

    matches.__name__ = f"is_{style.replace('/', '_')}_file"
    return matches
