"""Models in and out of potforge: any model path loaded, any model exported, through the
registry.

- :func:`load_model`: a potforge model directory (``model.json``), or a file format of
  another code that a family imports (n2p2 directories, LAMMPS potential files; each
  family lists its :class:`~potforge.models.registry.Importer` objects);
- :func:`export_model`: the exporter that the model's family registers for a format
  (``n2p2`` for HDNNPs, ``lammps`` for the classical kinds).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import ConfigError, ModelFormatError
from ..models.potential import Potential
from ..models.registry import check_options, families, family, keyword_options, load_potential

__all__ = ["load_model", "export_model", "export_options"]


def load_model(path: str | os.PathLike, *, length_unit: str = "angstrom", energy_unit: str = "ev",
               species=None) -> Potential:
    """Load a potforge model directory, an n2p2 model directory (recognised by ``input.nn``)
    or a LAMMPS potential file (``.eam``, ``.eam.alloy``/``.setfl``, ``.eam.fs``, ``.tersoff``,
    ``.sw``).

    ``length_unit``/``energy_unit`` are those of the files and apply to n2p2 directories
    only (potforge models carry their units; LAMMPS files are in metal units), so that one
    pair of unit options can describe a model and the data it is used on. ``species``
    applies to LAMMPS files only: which of the file's elements, in which order, as LAMMPS'
    ``pair_coeff * * FILE Si C`` — a list of the file's element names, or a mapping file name
    -> chemical symbol (``{"Si(D)": "Si"}``, or the text ``"Si(D)=Si C"``); default all its
    elements (:func:`potforge.models.classical.lammps.read_lammps_potential`).
    """
    path = Path(path)
    if path.is_dir() and (path / "model.json").is_file():
        if species is not None:
            raise ConfigError("species: a potforge model names its own species; the mapping applies to "
                              "LAMMPS potential files")
        return load_potential(path)
    for entry in families():
        for importer in entry.importers:
            if importer.matches(path):
                return importer.load(path, length_unit=length_unit, energy_unit=energy_unit,
                                     species=species)
    names = ", ".join(i.name for f in families() for i in f.importers)
    if not path.is_dir():
        raise ModelFormatError(f"not a directory; expected a potforge model (model.json) or one of: "
                               f"{names}", path=os.fspath(path))
    raise ModelFormatError(f"neither model.json (potforge) nor another known model format ({names}) "
                           "found", path=os.fspath(path))


def export_options(potential: Potential, format: str) -> tuple[str, ...]:
    """The keyword options of the exporter that writes ``potential`` in ``format``."""
    return keyword_options(_exporter(potential, format))


def export_model(potential: Potential, format: str, directory: str | os.PathLike, **options) -> dict:
    """Write ``potential`` in ``format`` into ``directory`` with its family's exporter.
    ``options`` are the exporter's keyword options (:func:`export_options`: length_unit and
    energy_unit for n2p2, rho_max and table_points for EAM tables, ...); one it does not
    take is a ConfigError. Returns the exporter's record (``files`` and more)."""
    exporter = _exporter(potential, format)
    check_options(exporter, options, f"exporting a {potential.kind} model to {format}")
    return exporter(potential, directory, **options)


def _exporter(potential: Potential, format: str):
    exporters = family(potential.kind, key=f"{type(potential).__name__}.kind").exporters
    if format not in exporters:
        kinds = [e.kind for e in families() if format in e.exporter_refs]
        hint = f"; {format} export is for {', '.join(kinds)} models" if kinds else ""
        have = ", ".join(sorted(exporters)) or "none"
        raise ModelFormatError(f"a {potential.kind} model has no {format} form (its formats: {have}){hint}")
    return exporters[format]
