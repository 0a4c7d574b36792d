"""The labels of a set of frames as tensors, and batches of frames gathered from them.

Every model family's training data starts here: :func:`frame_labels` collects energies,
forces, stress, volumes, weights and config types of a list of frames into flat tensors
(frames one after another, atoms contiguous per frame; missing labels NaN), and
:meth:`FrameLabels.gather` cuts out the :class:`BatchLabels` of any subset of frames, which a
family's batch extends with what its model needs (descriptors, pairs, coordinates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.elements import species_indices
from ..core.errors import DataFormatError, UnknownElementError
from ..core.lazy import torch
from ..core.voigt import VOIGT_COLS, VOIGT_ROWS
from .frame import Frame, frame_problem

__all__ = ["FrameLabels", "BatchLabels", "frame_labels", "frame_total_charge", "ranges", "pair_rows", "voigt"]


@dataclass
class FrameLabels:
    """Reference labels of a set of frames as tensors (eV, Å; missing entries are NaN).

    Attributes
    ----------
    n_atoms : (n_frames,) long
    atom_offsets : (n_frames + 1,) long — atoms of frame f are ``atom_offsets[f]:atom_offsets[f+1]``
    element : (total_atoms,) long — species index of every atom
    composition : (n_frames, n_species) float — atoms of each species
    energy : (n_frames,) — NaN where missing
    forces : (total_atoms, 3) — NaN where missing
    stress : (n_frames, 6) eV/Å³ — NaN where missing or the frame is not periodic
    volume : (n_frames,) Å³ — NaN for frames that are not periodic in all directions
    weight : (n_frames,) — per-frame weights
    config_type : (n_frames,) long — index into ``config_types``
    config_types : list of str
    names : list of str — where each frame came from (for messages)
    charges : (total_atoms,) e — per-atom reference charges (Hirshfeld, ...), NaN where the
        frame has none (a frame has charges for all its atoms or for none)
    total_charge : (n_frames,) e — the frame's total charge: its ``total_charge`` label; where
        that is missing, the sum of its reference charges; where both are missing, 0 (neutral).
        Never NaN: charge models always need a total charge (the QEq constraint), and a
        structure given without one is taken as neutral, as n2p2 does (no ``charge`` line).
    """

    n_atoms: torch.Tensor
    atom_offsets: torch.Tensor
    element: torch.Tensor
    composition: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor
    volume: torch.Tensor
    weight: torch.Tensor
    config_type: torch.Tensor
    config_types: list[str]
    names: list[str]
    charges: torch.Tensor
    total_charge: torch.Tensor

    @property
    def n_frames(self) -> int:
        return int(self.n_atoms.shape[0])

    @property
    def total_atoms(self) -> int:
        return int(self.element.shape[0])

    def select(self, frames: Sequence[int] | torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The frames of a batch (all if None) as a long tensor, their atom counts and the
        global indices of their atoms, frame by frame."""
        frames = torch.arange(self.n_frames) if frames is None else torch.as_tensor(frames, dtype=torch.long)
        n_atoms = self.n_atoms[frames]
        return frames, n_atoms, ranges(self.atom_offsets[frames], n_atoms)

    def gather(self, frames: torch.Tensor, atoms: torch.Tensor) -> dict[str, torch.Tensor]:
        """The :class:`BatchLabels` fields of ``frames`` whose atoms are ``atoms`` (global
        indices, frame by frame): pass them on with ``**`` to a batch class."""
        n_at = self.n_atoms[frames]
        return {"frames": frames, "n_atoms": n_at, "element": self.element[atoms],
                "frame_of_atom": torch.repeat_interleave(torch.arange(len(frames)), n_at),
                "energy": self.energy[frames], "forces": self.forces[atoms],
                "stress": self.stress[frames], "volume": self.volume[frames],
                "weight": self.weight[frames], "composition": self.composition[frames],
                "config_type": self.config_type[frames], "charges": self.charges[atoms],
                "total_charge": self.total_charge[frames]}

    def frame_of_atom(self) -> torch.Tensor:
        return torch.repeat_interleave(torch.arange(self.n_frames), self.n_atoms)


def frame_labels(frames: Sequence[Frame], species: Sequence[str], *,
                 names: Sequence[str] | None = None) -> FrameLabels:
    """Collect the labels of ``frames`` (species order ``species``)."""
    species = tuple(species)
    names = list(names) if names is not None else [f"frame {k}" for k in range(len(frames))]
    n_atoms = np.array([f.n_atoms for f in frames], dtype=np.int64)
    offsets = np.zeros(len(frames) + 1, dtype=np.int64)
    np.cumsum(n_atoms, out=offsets[1:])
    element = np.empty(int(offsets[-1]), dtype=np.int64)
    composition = np.zeros((len(frames), len(species)))
    energy = np.full(len(frames), np.nan)
    forces = np.full((int(offsets[-1]), 3), np.nan)
    stress = np.full((len(frames), 6), np.nan)
    volume = np.full(len(frames), np.nan)
    weight = np.empty(len(frames))
    types: dict[str, int] = {}
    config_type = np.empty(len(frames), dtype=np.int64)
    charges = np.full(int(offsets[-1]), np.nan)
    total_charge = np.zeros(len(frames))
    for k, frame in enumerate(frames):
        # the readers' checks, for frames made in code too: a NaN label is an error, never
        # read as "missing" (missing labels are None)
        problem = frame_problem(frame)
        if problem is not None:
            raise DataFormatError(f"{names[k]}: {problem}")
        try:
            idx, _ = species_indices(frame.atoms, species)
        except UnknownElementError as err:
            raise UnknownElementError(f"{names[k]}: {err.reason}") from None
        a, b = offsets[k], offsets[k + 1]
        element[a:b] = idx
        composition[k] = np.bincount(idx, minlength=len(species))
        if frame.energy is not None:
            energy[k] = frame.energy
        if frame.forces is not None:
            forces[a:b] = frame.forces
        if frame.atoms.pbc.all():
            volume[k] = frame.atoms.get_volume()
            if frame.stress is not None:
                stress[k] = frame.stress
        if frame.charges is not None:
            charges[a:b] = frame.charges
        total_charge[k] = frame_total_charge(frame)
        weight[k] = frame.weight
        config_type[k] = types.setdefault(frame.config_type or "(none)", len(types))
    t = torch.from_numpy
    return FrameLabels(t(n_atoms), t(offsets), t(element), t(composition), t(energy), t(forces),
                       t(stress), t(volume), t(weight), t(config_type), list(types), names,
                       t(charges), t(total_charge))


def frame_total_charge(frame: Frame) -> float:
    """A frame's total charge (e): its label, else the sum of its reference charges, else 0."""
    if frame.total_charge is not None:
        return float(frame.total_charge)
    if frame.charges is not None:
        return float(np.sum(frame.charges))
    return 0.0


@dataclass
class BatchLabels:
    """What every model family's batch holds: frames, their atoms and the labels the loss
    reads (gathered by :meth:`FrameLabels.gather`). Atom indices are local to the batch."""

    frames: torch.Tensor
    n_atoms: torch.Tensor
    element: torch.Tensor
    frame_of_atom: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor
    volume: torch.Tensor
    weight: torch.Tensor
    composition: torch.Tensor
    config_type: torch.Tensor
    charges: torch.Tensor  # (n_atoms,) e, NaN where missing
    total_charge: torch.Tensor  # (n_frames,) e

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Concatenation of arange(s, s + c) for all (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return torch.zeros(0, dtype=torch.long)
    first = torch.cumsum(counts, 0) - counts
    return torch.repeat_interleave(starts - first, counts) + torch.arange(total)


def pair_rows(frames: torch.Tensor, atom_offsets: torch.Tensor, n_atoms: torch.Tensor,
              pair_offsets: torch.Tensor, n_pairs: torch.Tensor):
    """For frames stored one after another: the rows of their pairs, the batch frame of each,
    and per batch frame the shift from global to batch atom indices."""
    n_p = n_pairs[frames]
    pairs = ranges(pair_offsets[frames], n_p)
    frame_of_pair = torch.repeat_interleave(torch.arange(len(frames)), n_p)
    shift = (torch.cumsum(n_atoms, 0) - n_atoms) - atom_offsets[frames]
    return pairs, frame_of_pair, shift


def voigt(tensor: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) → (…, 6) in Voigt order xx yy zz yz xz xy (symmetric part)."""
    sym = 0.5 * (tensor + tensor.transpose(-1, -2))
    return sym[..., VOIGT_ROWS, VOIGT_COLS]
