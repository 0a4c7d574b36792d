"""The interface every model family implements: structures in, energies (and charges) out.

A :class:`Potential` maps an ``ase.Atoms`` to a :class:`Prediction` (energy, per-atom
energies, forces = −∂E/∂r, stress = (1/V) ∂E/∂ε for periodic cells, charges for charge
models). Everything else in potforge — the ASE calculator, exports, training, validation,
active learning — is written against this interface, so a new model family is one folder
(:mod:`potforge.models.registry` says what it registers).

Saved models are directories with a ``model.json`` that describes them (kind, species,
cutoff, units, dtype, version, ...) plus arrays in ``arrays.npz``;
:func:`potforge.models.registry.load_potential` reads any registered kind.
"""

from __future__ import annotations

import contextlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms

from ..core.atomic import atomic_path, atomic_write
from ..core.dtypes import check_dtype
from ..core.errors import ConfigError, ModelFormatError
from ..core.neighbors import DEFAULT_MIN_DISTANCE
from ..core.provenance import __version__
from ..core.voigt import VOIGT_NAMES

__all__ = ["Prediction", "Potential", "MODEL_FORMAT", "MODEL_FORMAT_VERSION", "sha256",
           "MAX_ENERGY_PER_ATOM", "ENERGY_SCALE_RANGE", "check_energy", "check_energy_scale",
           "saved_part"]

MODEL_FORMAT = "potforge-model"
MODEL_FORMAT_VERSION = 1
#: Largest |energy| per atom a model parameter may carry (offsets, reference energies), eV.
#: All-electron total energies of the heaviest elements are about 8e5 eV per atom.
MAX_ENERGY_PER_ATOM = 1.0e7
#: Range of an energy scale (eV per network output unit): n2p2's 1/conv_energy is 1e-3-1 eV in
#: practice; outside this range a file is corrupted or in the wrong units.
ENERGY_SCALE_RANGE = (1.0e-12, 1.0e6)


def check_energy(value: float, what: str, *, n_atoms: int = 1) -> float:
    """``value`` (eV) as a float if finite and within ±n_atoms · MAX_ENERGY_PER_ATOM, else a
    ValueError naming ``what``."""
    value = float(value)
    limit = n_atoms * MAX_ENERGY_PER_ATOM
    if not abs(value) <= limit:
        raise ValueError(f"{what} {value!r} eV is not a finite energy within ±{limit:g} eV")
    return value


def check_energy_scale(value: float, what: str) -> float:
    """``value`` (eV per network unit) if within :data:`ENERGY_SCALE_RANGE`, else a ValueError."""
    value = float(value)
    low, high = ENERGY_SCALE_RANGE
    if not low <= value <= high:
        raise ValueError(f"{what} {value!r} eV is outside [{low:g}, {high:g}] eV")
    return value


@contextlib.contextmanager
def saved_part(key: str) -> Iterator[None]:
    """Rebuilding the part ``key`` (dotted, e.g. ``model.networks.H``) of a saved model: the
    errors its constructors raise become one-line ModelFormatErrors naming the key (the
    loader adds the file)."""
    try:
        yield
    except ModelFormatError:
        raise
    except KeyError as err:
        raise ModelFormatError(f"{key}: missing entry {err.args[0]!r}") from None
    except (ValueError, TypeError, AttributeError, IndexError) as err:
        raise ModelFormatError(f"{key}: {err}") from None


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

    def nonfinite(self) -> str | None:
        """The first NaN or infinite value, in words (``energy (nan; energy of atom 3 is
        nan)``, ``force on atom 5 (inf)``, ``stress component yz (nan)``, ``charge of atom
        2 (nan)``), or None when every value is finite: what a caller names before it refuses
        to write or use the prediction."""
        energy = float(self.energy)
        if not np.isfinite(energy):
            atom = _first_bad(self.energies)
            detail = f"; energy of atom {atom} is {float(np.ravel(self.energies)[atom])}" if atom is not None else ""
            return f"energy ({energy}{detail})"
        for name, values in (("energy of atom", self.energies), ("force on atom", self.forces),
                             ("charge of atom", self.charges)):
            atom = _first_bad(values, per_row=True)
            if atom is not None:
                return f"{name} {atom} ({_bad_value(np.asarray(values)[atom])})"
        k = _first_bad(self.stress)
        if k is not None:
            return f"stress component {VOIGT_NAMES[k]} ({float(np.ravel(self.stress)[k])})"
        return None


def _first_bad(values, *, per_row: bool = False) -> int | None:
    """Index of the first non-finite entry (first row with one, if ``per_row``), or None."""
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    if per_row and values.ndim > 1:
        ok = ok.reshape(values.shape[0], -1).all(axis=1)
    bad = np.flatnonzero(~ok.ravel())
    return int(bad[0]) if bad.size else None


def _bad_value(row) -> str:
    row = np.atleast_1d(np.asarray(row, dtype=np.float64))
    return str(float(row[~np.isfinite(row)][0]))


class Potential(ABC):
    """Base class of all models. Subclasses implement :attr:`species`, :attr:`cutoff`,
    :meth:`predict`, :meth:`to_dict`, :meth:`_arrays` and :meth:`from_saved`; a family
    registers its class once (:func:`potforge.models.registry.register_family`)."""

    kind: ClassVar[str] = "abstract"

    #: Atoms closer than this are rejected (Å).
    min_distance: float = DEFAULT_MIN_DISTANCE
    #: Arithmetic of the prediction: "float64", or "float32" (faster; measured on the saved
    #: models of tests/fixtures/models_v0_1, energies within 1e-7 of float64's, relative,
    #: forces within 1e-6 of the largest force, but Tersoff 2e-5 and 5e-5).
    dtype: str = "float64"
    #: Threads of the neighbour search and kernels (0: all cores).
    n_threads: int = 1

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
        """Set run-time options: threads (0: all cores) and arithmetic
        (:data:`potforge.core.dtypes.DTYPES`); a ConfigError names a value the model cannot
        use. Returns self."""
        if n_threads is not None:
            if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 0:
                raise ConfigError(f"n_threads: expected an integer >= 0 (0: all cores), got {n_threads!r}")
            self.n_threads = n_threads
        if dtype is not None:
            self.dtype = check_dtype(dtype)
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
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        description = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "kind": self.kind,
            "species": list(self.species),
            "cutoff_angstrom": self.cutoff if np.isfinite(self.cutoff) else None,  # None: global model
            "units": {"length": "angstrom", "energy": "eV", "charge": "e"},
            "dtype": self.dtype,
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
        description["arrays_sha256"] = sha256(directory / "arrays.npz")
        with atomic_write(directory / "model.json") as out:
            json.dump(description, out, indent=1)
            out.write("\n")
        return directory


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    import hashlib  # stdlib; here so that importing the model interface stays cheap

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
