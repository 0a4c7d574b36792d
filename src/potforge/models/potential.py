"""The interface every model family implements: structures in, energies (and charges) out.

A :class:`Potential` maps an ``ase.Atoms`` to a :class:`Prediction` (energy, per-atom
energies, forces = −∂E/∂r, stress = (1/V) ∂E/∂ε for periodic cells, charges for charge
models). Everything else in potforge — the ASE calculator, exports, training, validation,
active learning — is written against this interface, so a new model family is one module.

Saved models are directories with a ``model.json`` that describes them (kind, species,
cutoff, units, dtype, version, ...) plus arrays in ``.npz`` files; :func:`load_potential`
reads any registered kind.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from ..core.errors import ModelFormatError, StructureError, UnknownElementError

__all__ = ["Prediction", "Potential", "register_potential", "load_potential", "MODEL_FORMAT",
           "DEFAULT_MIN_DISTANCE", "species_indices"]

MODEL_FORMAT = "potforge-model"
MODEL_FORMAT_VERSION = 1
#: Atoms closer than this (Å) are treated as overlapping: no interatomic potential is valid there.
DEFAULT_MIN_DISTANCE = 0.3

_REGISTRY: dict[str, type["Potential"]] = {}


@dataclass
class Prediction:
    """What a potential says about one structure (eV, Å, e).

    Attributes
    ----------
    energy : float, eV
    energies : (n_atoms,) float, eV
        Per-atom energies, summing to ``energy``.
    forces : (n_atoms, 3) float, eV/Å, or None if not requested.
    stress : (6,) float, eV/Å³, Voigt order, ASE sign; None for non-periodic cells or if not requested.
    charges : (n_atoms,) float, e; charge models only.
    extrapolations : (n_atoms,) int or None
        Per atom, the number of descriptor components outside the training range
        (n2p2's extrapolation warnings); None for models without such a notion.
    extras : dict
        Model-specific outputs (e.g. committee spread).
    """

    energy: float
    energies: np.ndarray
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    charges: np.ndarray | None = None
    extrapolations: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def n_extrapolations(self) -> int:
        return 0 if self.extrapolations is None else int(np.sum(self.extrapolations))


def register_potential(kind: str) -> Callable[[type], type]:
    """Class decorator: make a Potential loadable by its ``kind`` name."""

    def wrap(cls: type) -> type:
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return wrap


def species_indices(atoms: Atoms, species: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``species`` and atomic number of every atom; UnknownElementError otherwise."""
    numbers = atoms.numbers
    lookup = np.full(119, -1, dtype=np.int32)
    for k, s in enumerate(species):
        lookup[atomic_numbers[s]] = k
    idx = lookup[numbers]
    if np.any(idx < 0):
        bad = sorted({atoms.get_chemical_symbols()[k] for k in np.flatnonzero(idx < 0)})
        raise UnknownElementError(f"structure contains element(s) {', '.join(bad)} that the model "
                                  f"does not know; model species: {', '.join(species)}")
    return idx, numbers.astype(np.float64)


def check_min_distance(distances: np.ndarray, centers: np.ndarray, neighbors: np.ndarray,
                       min_distance: float) -> None:
    """Raise StructureError if two atoms (or an atom and an image) are closer than min_distance."""
    if distances.size == 0 or min_distance <= 0:
        return
    k = int(np.argmin(distances))
    if distances[k] < min_distance:
        raise StructureError(f"atoms {int(centers[k])} and {int(neighbors[k])} overlap: distance "
                             f"{distances[k]:.4g} Å < {min_distance} Å")


class Potential(ABC):
    """Base class of all models. Subclasses implement :meth:`predict`, :meth:`to_dict`,
    :meth:`_save_arrays` and :meth:`from_saved`."""

    kind: ClassVar[str] = "abstract"

    #: Atoms closer than this are rejected (Å).
    min_distance: float = DEFAULT_MIN_DISTANCE

    @property
    @abstractmethod
    def species(self) -> tuple[str, ...]:
        """Element symbols the model knows."""

    @property
    @abstractmethod
    def cutoff(self) -> float:
        """Interaction range (Å)."""

    @abstractmethod
    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        """Energy (and forces, stress) of one structure."""

    def configure(self, *, n_threads: int | None = None, dtype: str | None = None) -> "Potential":
        """Set run-time options (threads, arithmetic) where the model has them; a ConfigError
        names an option the model does not support. Returns self."""
        from ..core.errors import ConfigError

        for name, value in (("n_threads", n_threads), ("dtype", dtype)):
            if value is None:
                continue
            if not hasattr(self, name):
                raise ConfigError(f"{name}: a {self.kind} model has no such option")
            setattr(self, name, value)
        return self

    def predict_many(self, structures: Iterable[Atoms], *, forces: bool = True,
                     stress: bool = True) -> list[Prediction]:
        """Predictions for several structures; equal to calling :meth:`predict` on each."""
        return [self.predict(a, forces=forces, stress=stress) for a in structures]

    # -- persistence ------------------------------------------------------------------------------
    @abstractmethod
    def to_dict(self) -> dict:
        """JSON-able description (everything but large arrays)."""

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """Named arrays saved to ``arrays.npz``."""

    @classmethod
    @abstractmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "Potential":
        """Rebuild from :meth:`to_dict` output and the arrays."""

    def save(self, directory: str | os.PathLike, *, config: dict | None = None) -> Path:
        """Write the model to a directory (``model.json`` + ``arrays.npz``), atomically per file."""
        from .. import __version__
        from ..core.atomic import atomic_path, atomic_write

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        description = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "kind": self.kind,
            "species": list(self.species),
            "cutoff_angstrom": self.cutoff if np.isfinite(self.cutoff) else None,  # None: global model
            "units": {"length": "angstrom", "energy": "eV", "charge": "e"},
            "dtype": getattr(self, "dtype", "float64"),
            "potforge_version": __version__,
            "model": self.to_dict(),
        }
        if config is not None:
            description["config"] = config
        # arrays first, then the description with their checksum: a save killed in between
        # leaves an old model.json that refuses the new arrays instead of a silent mixture
        with atomic_path(directory / "arrays.npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **self._arrays())
        description["arrays_sha256"] = _sha256(directory / "arrays.npz")
        with atomic_write(directory / "model.json") as out:
            json.dump(description, out, indent=1)
            out.write("\n")
        return directory


def load_potential(directory: str | os.PathLike) -> Potential:
    """Load a saved potforge model directory (any registered kind)."""
    directory = Path(directory)
    meta_path = directory / "model.json"
    if not meta_path.exists():
        raise ModelFormatError("not a potforge model directory (no model.json)", path=directory)
    from ..core.text import read_text

    try:
        description = json.loads(read_text(meta_path, "a potforge model.json", ModelFormatError))
    except json.JSONDecodeError as err:
        raise ModelFormatError(f"invalid JSON ({err.msg})", path=meta_path, line=err.lineno) from None
    if not isinstance(description, dict) or description.get("format") != MODEL_FORMAT:
        found = description.get("format") if isinstance(description, dict) else type(description).__name__
        raise ModelFormatError(f"'format' is {found!r}, expected {MODEL_FORMAT!r}", path=meta_path)
    kind = description.get("kind")
    if kind not in _REGISTRY:
        _import_model_families()
    cls = _REGISTRY.get(kind)
    if cls is None:
        raise ModelFormatError(f"unknown model kind {kind!r}; known: {', '.join(sorted(_REGISTRY))}",
                               path=meta_path)
    arrays_path = directory / "arrays.npz"
    arrays: dict[str, np.ndarray] = {}
    if arrays_path.exists():
        digest = _sha256(arrays_path)
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
        return cls.from_saved(description["model"], arrays)
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise ModelFormatError(f"inconsistent model description: {err}", path=meta_path) from None


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _import_model_families() -> None:
    from . import classical, hdnnp  # noqa: F401  (register their kinds)
