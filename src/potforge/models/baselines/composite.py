"""A model with physical baselines: E = E_model + Σ_b E_b, and likewise per-atom energies,
forces and stress; charges (and extrapolation counts) are the model's.

Saved as one model directory: ``model.json`` nests the model's own description (its kind,
species, cutoff and ``to_dict``) and the baselines' (``{kind, options}``); the model's arrays
sit in ``arrays.npz`` under the prefix ``model.``. Loading goes through the registry of the
model's kind, with the same refusals as :func:`potforge.models.registry.load_potential`
(finite numbers, one-line errors naming the dotted key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

import numpy as np
from ase import Atoms

from ...core.errors import ConfigError, ModelFormatError, PotforgeError
from ..potential import Potential, Prediction, saved_part
from .config import baseline_from_saved

__all__ = ["Baselined", "KIND", "add_predictions"]

KIND = "baselined"
_PREFIX = "model."


def add_predictions(base: Prediction, extra: Iterable[Prediction]) -> Prediction:
    """``base`` plus the energies, forces and stress of ``extra`` (a new Prediction)."""
    out = Prediction(energy=base.energy, energies=np.array(base.energies, dtype=np.float64),
                     forces=None if base.forces is None else np.array(base.forces, dtype=np.float64),
                     stress=None if base.stress is None else np.array(base.stress, dtype=np.float64),
                     charges=base.charges, extrapolations=base.extrapolations, extras=dict(base.extras))
    for p in extra:
        out.energy = float(out.energy + p.energy)
        out.energies = out.energies + p.energies
        if out.forces is not None:
            out.forces = out.forces + p.forces
        if out.stress is not None:
            out.stress = out.stress + p.stress
    return out


class Baselined(Potential):
    """``model`` plus physical ``baselines`` (ZBL, D3, ...: Potentials of any elements).

    Parameters
    ----------
    model : Potential
        The fitted model (any registered kind except another composite).
    baselines : sequence of Potential
        Added to the model's predictions; each must describe the model's species.
    """

    kind: ClassVar[str] = KIND

    def __init__(self, model: Potential, baselines: Sequence[Potential]) -> None:
        if isinstance(model, Baselined):
            raise ConfigError("baselines: the model already has baselines; give its inner model and "
                              "all baselines in one list")
        self.model = model
        self.baselines = tuple(baselines)
        for k, b in enumerate(self.baselines):
            missing = [s for s in model.species if s not in b.species]
            if missing:
                raise ConfigError(f"baselines[{k}]: a {b.kind} baseline does not describe "
                                  f"{', '.join(missing)} (of the model's species)")
        self.dtype = model.dtype
        self.n_threads = model.n_threads
        self.min_distance = model.min_distance

    @property
    def species(self) -> tuple[str, ...]:
        return self.model.species

    @property
    def cutoff(self) -> float:
        return max([self.model.cutoff, *(b.cutoff for b in self.baselines)])

    def configure(self, *, n_threads: int | None = None, dtype: str | None = None) -> "Baselined":
        self.model.configure(n_threads=n_threads, dtype=dtype)
        for b in self.baselines:
            b.configure(n_threads=n_threads, dtype=dtype)
        super().configure(n_threads=n_threads, dtype=dtype)
        return self

    def baseline_prediction(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        """The sum of the baselines alone (what training subtracts from the labels)."""
        n = len(atoms)
        zero = Prediction(energy=0.0, energies=np.zeros(n), forces=np.zeros((n, 3)) if forces else None,
                          stress=np.zeros(6) if stress and np.all(atoms.pbc) else None)
        return add_predictions(zero, (b.predict(atoms, forces=forces, stress=stress) for b in self.baselines))

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        base = self.model.predict(atoms, forces=forces, stress=stress)  # checks the elements first
        return add_predictions(base, (b.predict(atoms, forces=forces, stress=stress) for b in self.baselines))

    def predict_many(self, structures: Iterable[Atoms], *, forces: bool = True,
                     stress: bool = True) -> list[Prediction]:
        structures = list(structures)
        base = self.model.predict_many(structures, forces=forces, stress=stress)
        return [add_predictions(p, (b.predict(a, forces=forces, stress=stress) for b in self.baselines))
                for a, p in zip(structures, base)]

    # -- persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        inner = self.model
        return {"model": {"kind": inner.kind, "species": list(inner.species),
                          "cutoff_angstrom": inner.cutoff if np.isfinite(inner.cutoff) else None,
                          "model": inner.to_dict()},
                "baselines": [{"kind": b.kind, **b.to_dict()} for b in self.baselines]}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {_PREFIX + name: values for name, values in self.model._arrays().items()}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "Baselined":
        from ..registry import family

        nested = description["model"]
        if not isinstance(nested, dict):
            raise ModelFormatError(f"model.model: expected a mapping, got {type(nested).__name__}")
        kind = nested.get("kind")
        if kind == KIND:
            raise ModelFormatError("model.model.kind: a model with baselines cannot nest another one")
        try:
            entry = family(kind, key="model.model.kind")
        except ConfigError as err:
            raise ModelFormatError(err.reason) from None
        inner_arrays = {name[len(_PREFIX):]: values for name, values in arrays.items()
                        if name.startswith(_PREFIX)}
        stray = sorted(name for name in arrays if not name.startswith(_PREFIX))
        if stray:
            raise ModelFormatError(f"arrays: {stray[0]!r} belongs to no part of a model with baselines")
        with saved_part("model.model"):
            try:
                model = entry.potential.from_saved(nested["model"], inner_arrays)
            except PotforgeError as err:
                raise ModelFormatError(f"model.model: {err.reason}") from None
        raw = description.get("baselines")
        if not isinstance(raw, list) or not raw:
            raise ModelFormatError(f"model.baselines: expected a non-empty list, got {raw!r:.60}")
        baselines = []
        for k, item in enumerate(raw):
            try:
                baselines.append(baseline_from_saved(item, f"model.baselines[{k}]"))
            except ConfigError as err:
                raise ModelFormatError(err.reason) from None
        try:
            return cls(model, baselines)
        except ConfigError as err:
            raise ModelFormatError(f"model.{err.reason}") from None
