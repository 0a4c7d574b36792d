"""A data set: an ordered collection of frames, with summaries and group-wise splits."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.elements import by_atomic_number
from .frame import Frame
from .io import iter_frames

__all__ = ["Dataset", "LabelStatistics"]


@dataclass(frozen=True)
class LabelStatistics:
    """Summary statistics of the labels of a data set (eV, eV/Å, eV/Å³)."""

    n_frames: int
    n_atoms: int
    n_energy: int
    energy_per_atom_min: float | None
    energy_per_atom_max: float | None
    energy_per_atom_mean: float | None
    energy_per_atom_std: float | None
    n_forces: int
    force_component_rms: float | None
    force_max_norm: float | None
    n_stress: int
    stress_abs_max: float | None


class Dataset(Sequence[Frame]):
    """Frames of any size, periodic or open, mixed freely."""

    def __init__(self, frames: Iterable[Frame] = ()) -> None:
        self._frames: list[Frame] = list(frames)

    @classmethod
    def read(cls, paths: str | os.PathLike | Iterable[str | os.PathLike], format: str | None = None,
             *, length_unit: str = "angstrom", energy_unit: str = "ev", **options) -> "Dataset":
        """Read one or several files (formats from their names; ``options``: those of
        :func:`potforge.data.io.iter_frames`, e.g. ``dft_energy``)."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        frames: list[Frame] = []
        for path in paths:
            frames.extend(iter_frames(path, format, length_unit=length_unit, energy_unit=energy_unit,
                                      **options))
        return cls(frames)

    # -- sequence protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Dataset(self._frames[index])
        if isinstance(index, (list, np.ndarray)):
            return Dataset(self._frames[int(k)] for k in index)
        return self._frames[index]

    def __iter__(self) -> Iterator[Frame]:
        return iter(self._frames)

    def __add__(self, other: "Dataset") -> "Dataset":
        return Dataset(list(self) + list(other))

    def __repr__(self) -> str:
        return f"Dataset({len(self)} frames, {self.n_atoms} atoms, species {'/'.join(self.species)})"

    # -- summaries ------------------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return sum(f.n_atoms for f in self._frames)

    @property
    def species(self) -> tuple[str, ...]:
        """Element symbols present, ordered by atomic number."""
        found = {s for f in self._frames for s in set(f.symbols)}
        return by_atomic_number(found)

    def element_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for f in self._frames:
            counts.update(f.symbols)
        return {s: counts[s] for s in by_atomic_number(counts)}

    def config_type_counts(self) -> dict[str, tuple[int, int]]:
        """config_type -> (frames, atoms); frames without one count under ``"(none)"``."""
        out: dict[str, list[int]] = {}
        for f in self._frames:
            entry = out.setdefault(f.config_type if f.config_type is not None else "(none)", [0, 0])
            entry[0] += 1
            entry[1] += f.n_atoms
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def statistics(self) -> LabelStatistics:
        epa = np.array([f.energy / f.n_atoms for f in self._frames if f.energy is not None])
        forces = [f.forces for f in self._frames if f.forces is not None]
        stresses = [f.stress for f in self._frames if f.stress is not None]
        fcat = np.concatenate(forces) if forces else np.zeros((0, 3))
        return LabelStatistics(
            n_frames=len(self),
            n_atoms=self.n_atoms,
            n_energy=int(epa.size),
            energy_per_atom_min=float(epa.min()) if epa.size else None,
            energy_per_atom_max=float(epa.max()) if epa.size else None,
            energy_per_atom_mean=float(epa.mean()) if epa.size else None,
            energy_per_atom_std=float(epa.std()) if epa.size else None,
            n_forces=len(forces),
            force_component_rms=float(np.sqrt(np.mean(fcat**2))) if fcat.size else None,
            force_max_norm=float(np.linalg.norm(fcat, axis=1).max()) if fcat.size else None,
            n_stress=len(stresses),
            stress_abs_max=float(np.abs(np.array(stresses)).max()) if stresses else None,
        )

    # -- splits -------------------------------------------------------------------------------
    def group_keys(self) -> list[str]:
        """The group of each frame; a frame without a group is a group of its own."""
        return [f.group if f.group is not None else f"\x00frame{k}" for k, f in enumerate(self._frames)]

    def split_by_group(self, fractions: Sequence[float], seed: int = 0) -> list["Dataset"]:
        """Split into parts of about the given fractions of frames, never splitting a group.

        Groups are shuffled with ``seed`` and assigned greedily to the part that is furthest
        below its target, so every part gets whole configurations only. A group that would
        take a part past 1.5 times its target goes to the next part in need that it fits
        (a 24-frame strain set must not become a 10 % validation set of 85 frames on its own).
        """
        fractions = np.asarray(fractions, dtype=float)
        if fractions.ndim != 1 or np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
            raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions.tolist()}")
        keys = self.group_keys()
        members: dict[str, list[int]] = {}
        for k, key in enumerate(keys):
            members.setdefault(key, []).append(k)
        order = list(members)
        rng = np.random.default_rng(seed)
        rng.shuffle(order)
        targets = fractions * len(self)
        filled = np.zeros(len(fractions))
        parts: list[list[int]] = [[] for _ in fractions]
        for key in order:
            deficit = np.where(targets > 0, (targets - filled) / np.maximum(targets, 1e-12), -np.inf)
            fits = filled + len(members[key]) <= 1.5 * targets
            p = int(np.argmax(np.where(fits, deficit, -np.inf))) if np.any(fits & (targets > 0)) \
                else int(np.argmax(deficit))
            parts[p].extend(members[key])
            filled[p] += len(members[key])
        return [Dataset(self._frames[k] for k in sorted(idx)) for idx in parts]

    def group_folds(self, n_folds: int, seed: int = 0) -> list[tuple["Dataset", "Dataset"]]:
        """Leave-group-out cross-validation: ``n_folds`` (train, held-out) pairs.

        Whole groups are dealt to folds (shuffled with ``seed``, each to the fold with the
        fewest frames so far), so no configuration is ever on both sides of a split, and every
        frame is held out exactly once.
        """
        keys = self.group_keys()
        members: dict[str, list[int]] = {}
        for k, key in enumerate(keys):
            members.setdefault(key, []).append(k)
        if not 2 <= int(n_folds) <= len(members):
            raise ValueError(f"folds must be between 2 and the number of groups ({len(members)}), "
                             f"got {n_folds}")
        order = list(members)
        np.random.default_rng(seed).shuffle(order)
        folds: list[list[int]] = [[] for _ in range(int(n_folds))]
        for key in order:
            smallest = min(range(len(folds)), key=lambda f: (len(folds[f]), f))
            folds[smallest].extend(members[key])
        out = []
        for held in folds:
            held_set = set(held)
            train = [f for k, f in enumerate(self._frames) if k not in held_set]
            out.append((Dataset(train), Dataset(self._frames[k] for k in sorted(held))))
        return out

    def reference_energies(self, species: Sequence[str] | None = None) -> dict[str, float]:
        """Per-element energies ε_Z (eV) minimising Σ_f ((E_f − Σ_Z n_fZ ε_Z) / N_f)².

        Least squares on composition, per atom, over frames with an energy. With fewer distinct
        compositions than elements the problem is underdetermined; the minimum-norm solution is
        returned (any split of the energy between elements then fits equally well).
        """
        species = tuple(species) if species is not None else self.species
        index = {s: k for k, s in enumerate(species)}
        rows, rhs = [], []
        for f in self._frames:
            if f.energy is None:
                continue
            counts = np.zeros(len(species))
            for sym in f.atoms.get_chemical_symbols():
                if sym not in index:
                    raise ValueError(f"frame holds element {sym} that is not among {list(species)}")
                counts[index[sym]] += 1
            rows.append(counts / f.n_atoms)
            rhs.append(f.energy / f.n_atoms)
        if not rows:
            return {s: 0.0 for s in species}
        solution, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
        return {s: float(solution[k]) for s, k in index.items()}
