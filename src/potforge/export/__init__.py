"""Interchange with other codes (n2p2, LAMMPS) and loading of any model directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["load_model"]


def load_model(path: str | os.PathLike, *, length_unit: str = "angstrom", energy_unit: str = "ev"):
    """Load a potforge model directory, an n2p2 model directory (recognised by ``input.nn``)
    or a LAMMPS potential file (``.eam.alloy``/``.setfl``, ``.tersoff``, ``.sw``: all elements
    of the file; use :func:`potforge.export.lammps.read_lammps_potential` to choose them).

    ``length_unit``/``energy_unit`` apply to n2p2 directories only (potforge models carry
    their units; LAMMPS files are read in metal units).
    """
    from ..core.errors import ModelFormatError
    from ..models.potential import load_potential
    from .n2p2 import is_n2p2_model, read_n2p2_model

    path = Path(path)
    if path.is_file():
        from .lammps import read_lammps_potential, style_for_path

        style = style_for_path(path)
        if style is not None:
            return read_lammps_potential(path, style)
    if not path.is_dir():
        raise ModelFormatError("not a directory; expected a potforge model (model.json), an "
                               "n2p2 model (input.nn) or a LAMMPS potential file (.eam.alloy, "
                               ".setfl, .tersoff, .sw)", path=os.fspath(path))
    if (path / "model.json").is_file():
        return load_potential(path)
    if is_n2p2_model(path):
        return read_n2p2_model(path, length_unit=length_unit, energy_unit=energy_unit)
    raise ModelFormatError("neither model.json (potforge) nor input.nn (n2p2) found",
                           path=os.fspath(path))
