"""The one registry of model families, keyed by the kind name that users write
(``model: {kind: eam}``) and that saved models carry (``model.json``).

A family registers once, from its folder's ``__init__.py``::

    register_family(ModelFamily(
        kind="eam", potential=EAM,
        summary="embedded-atom method, analytic or spline forms",
        example=eam_example,                      # small instance for the shared contract
        config=EAMConfig,                         # schema of the config's model: section
        build=build_classical,                    # trainable model from config + data
        trainable=TrainableClassical,             # rebuilds a definition on resume
        training_defaults={"optimizer": {"kind": "lsq"}, "epochs": 1},
        exporters={"lammps": export_eam},         # potforge export --format lammps
        importers=(),                             # other codes' files it reads
    ))

:mod:`potforge.models` imports every family folder, so the registry is complete as soon as
anything of ``potforge.models`` is imported. The trainer, the ASE calculator, the CLI, the
exports, the contract tests (``tests/contracts``) and the reports then find a family by its
kind name; nothing else in potforge lists the kinds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ..core.config import nearest
from ..core.errors import ConfigError, ModelFormatError
from ..core.text import read_text
from .building import BuildContext
from .potential import MODEL_FORMAT, Potential, sha256
from .trainable import TrainableModel

__all__ = ["ModelFamily", "ModelExample", "Importer", "register_family", "family", "families",
           "kinds", "load_potential"]

#: exporter(potential, directory, **options) -> {"files": [...], ...}; options are keyword
#: arguments of ``potforge export`` (length_unit, energy_unit, rho_max, table_points), each
#: exporter using those it needs
Exporter = Callable[..., dict]


@dataclass(frozen=True)
class ModelExample:
    """A small instance of a family for the shared contract tests, with structures it accepts.

    Attributes
    ----------
    potential : Potential
    periodic : Atoms or None
        A small periodic cell (None: the family describes no periodic systems, e.g. one
        molecule).
    cluster : Atoms
        An open structure the family accepts.
    fd_step : float, Å
        Finite-difference step for forces (tabulated models need steps inside one grid
        interval).
    cutoff_force_tolerance : float, eV/Å
        How small the force on an atom must be just inside the cutoff. Forms with infinite
        slopes (Finnis–Sinclair √ρ) or only C¹ cutoffs (Tersoff) need a loose one.
    """

    potential: Potential
    periodic: Atoms | None
    cluster: Atoms
    fd_step: float = 1e-4
    cutoff_force_tolerance: float = 1e-4


@dataclass(frozen=True)
class Importer:
    """A model file format of another code that a family reads (n2p2 directories, LAMMPS
    potential files): ``matches(path)`` says whether ``read(path, length_unit=,
    energy_unit=)`` applies."""

    name: str
    matches: Callable[[Path], bool]
    read: Callable[..., Potential]


@dataclass(frozen=True)
class ModelFamily:
    """Everything potforge knows of one model kind (see the module docstring)."""

    kind: str
    potential: type[Potential]
    summary: str
    example: Callable[[], ModelExample]
    config: type | None = None
    build: Callable[[BuildContext], tuple[TrainableModel, dict]] | None = None
    trainable: type[TrainableModel] | None = None
    training_defaults: Mapping[str, Any] = field(default_factory=dict)
    exporters: Mapping[str, Exporter] = field(default_factory=dict)
    importers: tuple[Importer, ...] = ()

    @property
    def is_trainable(self) -> bool:
        return self.config is not None and self.build is not None and self.trainable is not None


_FAMILIES: dict[str, ModelFamily] = {}


def register_family(entry: ModelFamily) -> ModelFamily:
    """Register a family under its kind (once: a second registration of a kind is an error)."""
    if entry.kind in _FAMILIES:
        raise ValueError(f"model kind {entry.kind!r} is registered twice")
    if (entry.config is None) != (entry.build is None) or (entry.build is None) != (entry.trainable is None):
        raise ValueError(f"model kind {entry.kind!r}: config, build and trainable go together")
    entry.potential.kind = entry.kind
    _FAMILIES[entry.kind] = entry
    return entry


def family(kind: str, *, key: str = "model.kind", trainable: bool = False) -> ModelFamily:
    """The family of ``kind``; a ConfigError naming ``key``, the nearest kind and all kinds
    otherwise (``trainable``: only families that training can build)."""
    options = kinds(trainable=trainable)
    entry = _FAMILIES.get(kind) if isinstance(kind, str) else None
    if entry is None or kind not in options:
        guess = nearest(str(kind), options)
        hint = f" (did you mean '{guess}'?)" if guess else ""
        what = "a trainable model" if trainable else "a model kind"
        raise ConfigError(f"{key}: {kind!r} is not {what}{hint}; expected one of {', '.join(options)}")
    return entry


def families() -> tuple[ModelFamily, ...]:
    """All registered families, by kind."""
    return tuple(_FAMILIES[k] for k in sorted(_FAMILIES))


def kinds(*, trainable: bool = False) -> list[str]:
    return sorted(k for k, f in _FAMILIES.items() if f.is_trainable or not trainable)


def load_potential(directory: str | os.PathLike) -> Potential:
    """Load a saved potforge model directory (``model.json`` + ``arrays.npz``) of any kind."""
    directory = Path(directory)
    meta_path = directory / "model.json"
    if not meta_path.exists():
        raise ModelFormatError("not a potforge model directory (no model.json)", path=directory)
    try:
        description = json.loads(read_text(meta_path, "a potforge model.json", ModelFormatError))
    except json.JSONDecodeError as err:
        raise ModelFormatError(f"invalid JSON ({err.msg})", path=meta_path, line=err.lineno) from None
    if not isinstance(description, dict) or description.get("format") != MODEL_FORMAT:
        found = description.get("format") if isinstance(description, dict) else type(description).__name__
        raise ModelFormatError(f"'format' is {found!r}, expected {MODEL_FORMAT!r}", path=meta_path)
    kind = description.get("kind")
    entry = _FAMILIES.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise ModelFormatError(f"unknown model kind {kind!r}; known: {', '.join(sorted(_FAMILIES))}",
                               path=meta_path)
    arrays_path = directory / "arrays.npz"
    arrays: dict[str, np.ndarray] = {}
    if arrays_path.exists():
        digest = sha256(arrays_path)
        if description.get("arrays_sha256") not in (None, digest):
            raise ModelFormatError("does not belong to this model.json (checksum differs; was a "
                                   "save interrupted?)", path=arrays_path)
        try:
            with np.load(arrays_path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as err:
            raise ModelFormatError(f"unreadable array file ({type(err).__name__}: {err})",
                                   path=arrays_path) from None
        except Exception as err:  # zipfile.BadZipFile and friends
            raise ModelFormatError(f"unreadable array file ({type(err).__name__})",
                                   path=arrays_path) from None
    try:
        return entry.potential.from_saved(description["model"], arrays)
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise ModelFormatError(f"inconsistent model description: {err}", path=meta_path) from None
