"""A committee of potentials: the mean of the members' predictions is the prediction, their
spread its uncertainty (committee neural network potentials: Schran, Brezina & Marsalek,
J. Chem. Phys. 153, 104105 (2020); Behler's "query by committee").

``predict`` returns the members' mean energy, per-atom energies, forces and stress, and in
``Prediction.extras`` (the ASE calculator's ``results``) the calibrated spreads:

    energy_std            eV, of the total energy
    energy_std_per_atom   eV/atom
    energies_std          (n_atoms,) eV, of each atomic energy (scaled by the energy factor;
                          atomic energies are not unique, so read it as a ranking)
    forces_std            (n_atoms, 3) eV/Å, per component
    force_std             (n_atoms,) eV/Å, per atom: sqrt of the sum of the components' variances
    stress_std            (6,) eV/Å³ (periodic cells)
    committee_size        N

Spreads are the members' sample standard deviation (ddof = 1) times a calibration factor per
quantity (``calibration``: energy, forces, stress; 1 when not calibrated), which
:func:`calibration_factors` fits on validation data so that the spread predicts the error:
on that data the mean squared error equals the mean squared spread. Extrapolation counts are the members' largest per
atom. Saved as one model directory: ``model.json`` nests the members' descriptions, their
arrays sit in ``arrays.npz`` under ``member<k>.``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from ase import Atoms

from ...core.errors import ConfigError, ModelFormatError, PotforgeError
from ..potential import Potential, Prediction, saved_part

__all__ = ["Committee", "KIND", "calibration_factors", "example"]

KIND = "committee"
QUANTITIES = ("energy", "forces", "stress")


class Committee(Potential):
    """The mean and spread of ``members`` (two or more potentials of the same species)."""

    kind: ClassVar[str] = KIND

    def __init__(self, members: Sequence[Potential], *, calibration: Mapping[str, float] | None = None) -> None:
        members = list(members)
        if len(members) < 2:
            raise ConfigError(f"committee: needs at least two members, got {len(members)}")
        species = tuple(members[0].species)
        for k, m in enumerate(members):
            if isinstance(m, Committee):
                raise ConfigError(f"committee: member {k} is itself a committee")
            if tuple(m.species) != species:
                raise ConfigError(f"committee: member {k} describes {', '.join(m.species)}, member 0 "
                                  f"{', '.join(species)}")
        self.members = members
        calibration = dict(calibration or {})
        unknown = sorted(set(calibration) - set(QUANTITIES))
        if unknown:
            raise ConfigError(f"committee calibration: unknown quantity {unknown[0]!r} (expected "
                              f"{', '.join(QUANTITIES)})")
        self.calibration = {q: float(calibration.get(q, 1.0)) for q in QUANTITIES}
        for q, v in self.calibration.items():
            if not (np.isfinite(v) and v > 0):
                raise ConfigError(f"committee calibration {q}: expected a positive factor, got {v}")

    @property
    def species(self) -> tuple[str, ...]:
        return tuple(self.members[0].species)

    @property
    def cutoff(self) -> float:
        return max(m.cutoff for m in self.members)

    @property
    def n_threads(self) -> int:
        return int(getattr(self.members[0], "n_threads", 0))

    @property
    def dtype(self) -> str:
        return str(getattr(self.members[0], "dtype", "float64"))

    @dtype.setter
    def dtype(self, value: str) -> None:
        for m in self.members:
            m.configure(dtype=value)

    def configure(self, *, n_threads: int | None = None, dtype: str | None = None) -> "Committee":
        for m in self.members:
            m.configure(n_threads=n_threads, dtype=dtype)
        return self

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        ps = [m.predict(atoms, forces=forces, stress=stress) for m in self.members]
        n = len(atoms)
        c = self.calibration
        energies = np.stack([p.energies for p in ps])
        totals = np.array([p.energy for p in ps])
        extras = {"committee_size": len(ps),
                  "energy_std": c["energy"] * float(np.std(totals, ddof=1)),
                  "energy_std_per_atom": c["energy"] * float(np.std(totals, ddof=1)) / max(n, 1),
                  "energies_std": c["energy"] * np.std(energies, axis=0, ddof=1)}
        mean_forces = mean_stress = None
        if forces and all(p.forces is not None for p in ps):
            f = np.stack([p.forces for p in ps])
            mean_forces = f.mean(0)
            extras["forces_std"] = c["forces"] * np.std(f, axis=0, ddof=1)
            extras["force_std"] = c["forces"] * np.sqrt(np.var(f, axis=0, ddof=1).sum(1))
        if stress and all(p.stress is not None for p in ps):
            s = np.stack([p.stress for p in ps])
            mean_stress = s.mean(0)
            extras["stress_std"] = c["stress"] * np.std(s, axis=0, ddof=1)
        extrapolations = None
        if all(p.extrapolations is not None for p in ps):
            extrapolations = np.max(np.stack([p.extrapolations for p in ps]), axis=0)
        charges = None
        if all(p.charges is not None for p in ps):
            charges = np.mean([p.charges for p in ps], axis=0)
        return Prediction(energy=float(totals.mean()), energies=energies.mean(0), forces=mean_forces,
                          stress=mean_stress, charges=charges, extrapolations=extrapolations, extras=extras)

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"members": [{"kind": m.kind, "species": list(m.species),
                             "cutoff_angstrom": m.cutoff if np.isfinite(m.cutoff) else None,
                             "model": m.to_dict()} for m in self.members],
                "calibration": dict(self.calibration)}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f"member{k}.{name}": values for k, m in enumerate(self.members)
                for name, values in m._arrays().items()}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "Committee":
        from ..registry import family

        members = description["members"]
        if not isinstance(members, list) or len(members) < 2:
            raise ModelFormatError("model.members: expected a list of at least two member models")
        built = []
        for k, nested in enumerate(members):
            key = f"model.members[{k}]"
            if not isinstance(nested, dict):
                raise ModelFormatError(f"{key}: expected a mapping, got {type(nested).__name__}")
            kind = nested.get("kind")
            if kind == KIND:
                raise ModelFormatError(f"{key}.kind: a committee cannot nest another one")
            try:
                entry = family(kind, key=f"{key}.kind")
            except ConfigError as err:
                raise ModelFormatError(err.reason) from None
            prefix = f"member{k}."
            own = {name[len(prefix):]: v for name, v in arrays.items() if name.startswith(prefix)}
            with saved_part(f"{key}.model"):
                try:
                    built.append(entry.potential.from_saved(nested["model"], own))
                except PotforgeError:
                    raise
                except (KeyError, ValueError, TypeError) as err:
                    raise ModelFormatError(f"{key}.model: {err}") from None
        with saved_part("model.calibration"):
            return cls(built, calibration=description.get("calibration"))


def calibration_factors(committee: Committee, frames, *, stress: bool = True) -> dict:
    """Factors that make the spreads predict the errors on ``frames`` (labelled; usually the
    validation set): per quantity, sqrt(mean(error²) / mean(spread²)) over energies per atom,
    force components and (``stress``) stress components, with the uncalibrated spreads. A
    quantity whose spread or error is zero throughout gets no factor (it stays 1). Returns the
    factors and, for the reliability plot, the pairs (spread, |error|) per quantity."""
    raw = Committee(committee.members)
    pairs: dict[str, list[tuple[float, float]]] = {q: [] for q in QUANTITIES}
    for f in frames:
        p = raw.predict(f.atoms)
        if f.energy is not None:
            pairs["energy"].append((p.extras["energy_std_per_atom"], abs(p.energy - f.energy) / f.n_atoms))
        if f.forces is not None and "forces_std" in p.extras:
            pairs["forces"] += list(zip(p.extras["forces_std"].ravel(), np.abs(p.forces - f.forces).ravel()))
        if stress and f.stress is not None and "stress_std" in p.extras:
            pairs["stress"] += list(zip(p.extras["stress_std"], np.abs(p.stress - f.stress)))
    factors = {}
    for q, values in pairs.items():
        if len(values) >= 2:
            a = np.array(values)
            a = a[np.all(np.isfinite(a), axis=1)]
            spread2 = float(np.mean(a[:, 0] ** 2)) if len(a) else 0.0
            factor = float(np.sqrt(np.mean(a[:, 1] ** 2) / spread2)) if spread2 > 0 else 0.0
            if np.isfinite(factor) and factor > 0:   # identical members or exact labels: no factor
                factors[q] = factor
    return {"factors": factors, "pairs": {q: np.array(v) for q, v in pairs.items() if v}}


def example():
    """Two copies of the HDNNP example with different weights."""
    from ..hdnnp.example import example as hdnnp_example
    from ..registry import ModelExample

    base = hdnnp_example()
    other = type(base.potential).from_saved(base.potential.to_dict(), base.potential._arrays())
    rng = np.random.default_rng(7)
    for net in other.networks.values():
        net.weights = [w * (1 + 0.05 * rng.standard_normal(w.shape)) for w in net.weights]
    committee = Committee([base.potential, other], calibration={"energy": 1.5}).configure(n_threads=1)
    return ModelExample(committee, base.periodic, base.cluster)
