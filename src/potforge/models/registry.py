"""The one registry of model families, keyed by the kind name that users write
(``model: {kind: eam}``) and that saved models carry (``model.json``).

A family registers once, from its folder's ``__init__.py``, naming where each of its parts
lives as ``"module:attribute"``::

    register_family(ModelFamily(
        kind="eam", summary="embedded-atom method, analytic or spline forms",
        potential_ref="potforge.models.classical.eam:EAM",            # the Potential class
        example_ref="potforge.models.classical.examples:eam_example",  # contract example
        config_ref="potforge.models.classical.config:EAMConfig",       # the model: section
        build_ref="potforge.models.classical.build:build_classical",   # trainable from config + data
        rebuild_ref="potforge.models.classical.build:rebuild_classical",  # ... from a definition
        training_defaults={"optimizer": {"kind": "lsq"}, "epochs": 1},
        exporter_refs={"lammps": "potforge.models.classical.lammps:export_eam"},
        importers=(),                                  # other codes' files it reads (Importer)
    ))

:mod:`potforge.models` imports every family folder, so the registry is complete as soon as
anything of ``potforge.models`` is imported; the attributes of an entry (``entry.potential``,
``entry.build``, ...) import their module on first use. Why the indirection: registering must
cost nothing, because predicting with an HDNNP (compiled kernels, 0.2 s for a 1,000-atom
box) should import neither the classical families nor any training code (importing PyTorch
alone takes 1.5-2 s). The structure tests treat these references as imports (cycles, layers) and resolve
every one of them. The trainer, the ASE calculator, the CLI, the exports, the contract tests
and the reports find a family by its kind name; nothing else in potforge lists the kinds.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

from ..core.errors import ConfigError, ModelFormatError, PotforgeError, nearest
from ..core.text import read_text
from .potential import MODEL_FORMAT, Potential, sha256

if TYPE_CHECKING:
    from .building import BuildContext
    from .trainable import TrainableModel

__all__ = ["ModelFamily", "ModelExample", "Importer", "keyword_options", "check_options",
           "register_family", "family", "families",
           "kinds", "load_potential", "resolve"]


@cache
def resolve(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported on first use)."""
    module, sep, name = reference.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{reference!r}: expected 'package.module:attribute'")
    return getattr(importlib.import_module(module), name)


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
    long_range : bool
        The energy reaches beyond ``cutoff`` (electrostatics, charge equilibration): atoms
        leaving the cutoff sphere still interact and far fragments do not add up, so the
        contract skips those two checks.
    """

    potential: Potential
    periodic: Atoms | None
    cluster: Atoms
    fd_step: float = 1e-4
    cutoff_force_tolerance: float = 1e-4
    long_range: bool = False


@dataclass(frozen=True)
class Importer:
    """A model file format of another code that a family reads (n2p2 directories, LAMMPS
    potential files): ``matches(path)`` (cheap, imports nothing heavy) says whether the
    function that ``read`` names, ``read(path, **options)``, applies. Its keyword-only
    parameters say which of the units of the files it takes (n2p2: ``length_unit``,
    ``energy_unit``; LAMMPS files are in metal units and take none) and whether it takes a
    ``species`` selection (LAMMPS files: their element names mapped to chemical symbols)."""

    name: str
    matches: Callable[[Path], bool]
    read: str

    def load(self, path: str | os.PathLike, *, length_unit: str = "angstrom",
             energy_unit: str = "ev", species: Any = None) -> Potential:
        """The model at ``path``, the units passed where the format has units; ``species``
        (which of the file's elements, under which chemical symbols: LAMMPS files) only to a
        reader that takes it, else a ConfigError."""
        reader = resolve(self.read)
        units = {"length_unit": length_unit, "energy_unit": energy_unit}
        accepted = keyword_options(reader)
        options = {k: v for k, v in units.items() if k in accepted}
        if species is not None:
            if "species" not in accepted:
                raise ConfigError(f"species: a {self.name} names its own elements; a species mapping "
                                  "applies to LAMMPS potential files")
            options["species"] = species
        return reader(path, **options)


def keyword_options(function: Callable) -> tuple[str, ...]:
    """The keyword-only parameters of ``function``: the options an importer or exporter takes."""
    import inspect

    return tuple(name for name, p in inspect.signature(function).parameters.items()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY)


def check_options(function: Callable, options: Mapping[str, Any], what: str) -> None:
    """A ConfigError for the first of ``options`` that ``function`` does not take."""
    accepted = keyword_options(function)
    for name in options:
        if name not in accepted:
            raise ConfigError(f"{name}: not an option when {what} (its options: "
                              f"{', '.join(accepted) or 'none'})")


@dataclass(frozen=True)
class ModelFamily:
    """Everything potforge knows of one model kind (see the module docstring). The string
    fields are ``"module:attribute"`` references; the properties without the ``_ref`` give
    the objects."""

    kind: str
    summary: str
    potential_ref: str
    example_ref: str
    config_ref: str | None = None
    build_ref: str | None = None
    rebuild_ref: str | None = None
    training_defaults: Mapping[str, Any] = field(default_factory=dict)
    exporter_refs: Mapping[str, str] = field(default_factory=dict)
    importers: tuple[Importer, ...] = ()

    @property
    def potential(self) -> type[Potential]:
        """The Potential class (its ``kind`` is this family's)."""
        cls = resolve(self.potential_ref)
        if getattr(cls, "kind", None) != self.kind:
            raise TypeError(f"{self.potential_ref} has kind {getattr(cls, 'kind', None)!r}, "
                            f"registered as {self.kind!r}")
        return cls

    @property
    def example(self) -> Callable[[], ModelExample]:
        return resolve(self.example_ref)

    @property
    def config(self) -> type | None:
        """The schema of the ``model:`` section of a training config (None: not trainable)."""
        return resolve(self.config_ref) if self.config_ref else None

    @property
    def build(self) -> Callable[[BuildContext], tuple[TrainableModel, dict]]:
        """An initialised trainable model and facts for the summary, from config and data."""
        return resolve(self.build_ref)

    @property
    def rebuild(self) -> Callable[[dict], TrainableModel]:
        """The trainable model a saved definition (``TrainableModel.description``) describes."""
        return resolve(self.rebuild_ref)

    @property
    def exporters(self) -> dict[str, Callable[..., dict]]:
        """format -> exporter(potential, directory, *, options): each declares its options as
        keyword-only parameters (:func:`keyword_options`), and callers pass only those."""
        return {name: resolve(ref) for name, ref in self.exporter_refs.items()}

    @property
    def is_trainable(self) -> bool:
        return None not in (self.config_ref, self.build_ref, self.rebuild_ref)


_FAMILIES: dict[str, ModelFamily] = {}


def register_family(entry: ModelFamily) -> ModelFamily:
    """Register a family under its kind (once: a second registration of a kind is an error)."""
    if entry.kind in _FAMILIES:
        raise ValueError(f"model kind {entry.kind!r} is registered twice")
    training = (entry.config_ref, entry.build_ref, entry.rebuild_ref)
    if any(training) and not all(training):
        raise ValueError(f"model kind {entry.kind!r}: config, build and rebuild go together")
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
    except ValueError as err:  # an integer of more than sys.get_int_max_str_digits() digits
        raise ModelFormatError(f"invalid JSON ({str(err).split(';')[0]})", path=meta_path) from None
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
    _check_finite(description.get("model"), arrays, meta_path, arrays_path)
    cls = entry.potential
    try:
        potential = cls.from_saved(description["model"], arrays)
    except PotforgeError as err:  # a family's own one-line message, naming the dotted key
        raise ModelFormatError(err.reason, path=meta_path) from None
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ModelFormatError(f"inconsistent model description: {err}", path=meta_path) from None
    # what the model made of them too: a null read as NaN, a value that overflowed on the way
    _check_finite(potential.to_dict(), potential._arrays(), meta_path, arrays_path)
    return potential


def _check_finite(model: Any, arrays: Mapping[str, np.ndarray], meta_path: Path, arrays_path: Path) -> None:
    """Every number a saved model holds is finite (JSON admits NaN and Infinity, npz anything):
    a model's parameters never are NaN or infinite, and one that loaded with them would
    predict NaN. (The resolved config and metadata beside the model are not parameters.)"""
    key = _nonfinite_key(model, "model")
    if key is not None:
        raise ModelFormatError(f"{key[0]} is {key[1]}; a saved model holds finite numbers only",
                               path=meta_path)
    for name, values in arrays.items():
        values = np.asarray(values)
        if values.dtype.kind in "fc":
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise ModelFormatError(f"array {name!r} holds {values.reshape(-1)[bad[0]]} (flat index "
                                       f"{bad[0]} of {values.size}); a saved model holds finite numbers "
                                       "only", path=arrays_path)


def _nonfinite_key(value: Any, key: str) -> tuple[str, float] | None:
    """(dotted key, value) of the first NaN or infinite float in JSON data, or None."""
    if isinstance(value, float):
        return None if np.isfinite(value) else (key, value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        bad = np.flatnonzero(~np.isfinite(value))
        return (f"{key}[{bad[0]}]", value.reshape(-1)[bad[0]]) if bad.size else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = ((f"[{k}]", v) for k, v in enumerate(value))
    else:
        return None
    for k, v in items:
        found = _nonfinite_key(v, f"{key}{k}" if str(k).startswith("[") else f"{key}.{k}")
        if found is not None:
            return found
    return None
