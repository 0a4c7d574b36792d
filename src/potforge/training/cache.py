"""Symmetry functions and their Jacobians of a training set, computed once.

An epoch of training then costs only the networks' passes and a contraction with the cached
derivatives, as in n2p2: with g_p = Σ_s (∂E/∂G_{i,s}) J_{p,s,:} for every neighbour pair
p = (i → j) of a frame (J_p = ∂G_i/∂(r_j − r_i), from the compiled kernel),

    F_i = Σ_{p: centre i} g_p − Σ_{p: neighbour i} g_p,      σ = (1/V) Σ_p sym(g_p ⊗ d_p),

with d_p the pair vector. Frames are stored one after another (atoms and pairs contiguous per
frame) so that a batch of frames is a gather of whole blocks.

The Jacobians dominate the memory: n_pairs × n_functions × 3 numbers. :func:`cache_size`
tells it before anything is computed; ``dtype="float32"`` halves it (the contraction then runs
in single precision; values, labels and networks stay in the training dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import DataFormatError, StructureError, UnknownElementError
from ..core.neighbors import neighbor_list
from ..data.frame import Frame
from ..descriptors.symmetry_functions import SymmetryFunctionSet
from ..models.potential import DEFAULT_MIN_DISTANCE, check_min_distance, species_indices

__all__ = ["FrameLabels", "DescriptorCache", "BatchLabels", "Batch", "cache_size", "frame_labels"]

_VOIGT = ([0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1])


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

    @property
    def n_frames(self) -> int:
        return int(self.n_atoms.shape[0])

    @property
    def total_atoms(self) -> int:
        return int(self.element.shape[0])

    def gather(self, frames: torch.Tensor, atoms: torch.Tensor) -> dict[str, torch.Tensor]:
        """The :class:`BatchLabels` fields of ``frames`` whose atoms are ``atoms`` (global
        indices, frame by frame): pass them on with ``**`` to a batch class."""
        n_at = self.n_atoms[frames]
        return {"frames": frames, "n_atoms": n_at, "element": self.element[atoms],
                "frame_of_atom": torch.repeat_interleave(torch.arange(len(frames)), n_at),
                "energy": self.energy[frames], "forces": self.forces[atoms],
                "stress": self.stress[frames], "volume": self.volume[frames],
                "weight": self.weight[frames], "composition": self.composition[frames],
                "config_type": self.config_type[frames]}

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
    for k, frame in enumerate(frames):
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
        weight[k] = frame.weight
        config_type[k] = types.setdefault(frame.config_type or "(none)", len(types))
        for what, value in (("energy", energy[k:k + 1]), ("forces", forces[a:b]),
                            ("stress", stress[k]), ("weight", weight[k:k + 1])):
            if np.any(np.isinf(value)):
                raise DataFormatError(f"{names[k]}: {what} is not finite")
        if not weight[k] >= 0:
            raise DataFormatError(f"{names[k]}: weight {weight[k]} must be >= 0")
    t = torch.from_numpy
    return FrameLabels(t(n_atoms), t(offsets), t(element), t(composition), t(energy), t(forces),
                       t(stress), t(volume), t(weight), t(config_type), list(types), names)


def cache_size(frames: Sequence[Frame], sfs: SymmetryFunctionSet, *, dtype: str = "float64",
               n_threads: int = 1) -> tuple[int, int]:
    """(number of neighbour pairs, bytes of the Jacobian cache) for ``frames``."""
    n_pairs = 0
    for frame in frames:
        a = frame.atoms
        nl = neighbor_list(a.positions, np.asarray(a.cell), a.pbc, sfs.cutoff, n_threads=n_threads)
        n_pairs += nl.n_pairs
    n_max = max(sfs.n_functions(s) for s in sfs.species)
    itemsize = 4 if dtype == "float32" else 8
    return n_pairs, n_pairs * n_max * 3 * itemsize


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

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


@dataclass
class Batch(BatchLabels):
    """A set of frames gathered from a descriptor cache (all torch tensors).

    ``values`` are the raw symmetry functions of the batch's atoms; pairs refer to atoms by
    their position in the batch. ``frame_of_atom``/``frame_of_pair`` index the batch's frames.
    """

    values: torch.Tensor
    jacobian: torch.Tensor | None
    center: torch.Tensor | None
    neighbor: torch.Tensor | None
    vectors: torch.Tensor | None
    frame_of_pair: torch.Tensor | None


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
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
    pairs = _ranges(pair_offsets[frames], n_p)
    frame_of_pair = torch.repeat_interleave(torch.arange(len(frames)), n_p)
    shift = (torch.cumsum(n_atoms, 0) - n_atoms) - atom_offsets[frames]
    return pairs, frame_of_pair, shift


class DescriptorCache:
    """Raw symmetry-function values (and Jacobians) of a list of frames.

    Parameters
    ----------
    frames : sequence of Frame
    sfs : SymmetryFunctionSet
    derivatives : bool
        Also cache the pair Jacobians (needed for forces and stress).
    dtype : {"float64", "float32"}
        Storage of the Jacobians.
    n_threads : int
        Threads of the neighbour search and the kernel (0: all cores).
    names : sequence of str
        Where each frame came from (``train.xyz frame 17``), for messages.
    progress : callable(done, total) or None
    """

    def __init__(self, frames: Sequence[Frame], sfs: SymmetryFunctionSet, *,
                 derivatives: bool = True, dtype: str = "float64", n_threads: int = 1,
                 names: Sequence[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        if dtype not in ("float64", "float32"):
            raise ValueError(f"cache dtype must be 'float64' or 'float32', got {dtype!r}")
        self.sfs = sfs
        self.species = sfs.species
        self.labels = frame_labels(frames, sfs.species, names=names)
        self.derivatives = derivatives
        self.dtype = torch.float32 if dtype == "float32" else torch.float64
        n_max = max(sfs.n_functions(s) for s in sfs.species)
        self.n_functions = [sfs.n_functions(s) for s in sfs.species]
        names = self.labels.names
        values = np.zeros((self.labels.total_atoms, n_max))
        jac_parts: list[torch.Tensor] = []
        centers, neighbors, vectors, pair_counts = [], [], [], []
        offsets = self.labels.atom_offsets.numpy()
        for k, frame in enumerate(frames):
            a = frame.atoms
            idx, numbers = species_indices(a, sfs.species)
            try:
                nl = neighbor_list(a.positions, np.asarray(a.cell), a.pbc, sfs.cutoff,
                                   n_threads=n_threads, min_height=DEFAULT_MIN_DISTANCE)
                check_min_distance(nl.distances, nl.centers, nl.neighbors, DEFAULT_MIN_DISTANCE)
            except StructureError as err:
                raise StructureError(f"{names[k]}: {err.reason}") from None
            v, j = sfs.compute(idx, numbers, nl, derivatives=derivatives, n_threads=n_threads)
            values[offsets[k]:offsets[k + 1]] = v
            if derivatives:
                jac_parts.append(torch.from_numpy(j).to(self.dtype))
                centers.append(nl.centers + offsets[k])
                neighbors.append(nl.neighbors + offsets[k])
                vectors.append(nl.vectors)
                pair_counts.append(nl.n_pairs)
            if progress is not None:
                progress(k + 1, len(frames))
        self.values = torch.from_numpy(values)
        if derivatives:
            self.jacobian = torch.cat(jac_parts) if jac_parts else torch.zeros((0, n_max, 3), dtype=self.dtype)
            del jac_parts
            self.center = torch.from_numpy(np.concatenate(centers)).long()
            self.neighbor = torch.from_numpy(np.concatenate(neighbors)).long()
            self.vectors = torch.from_numpy(np.concatenate(vectors))
            counts = np.array(pair_counts, dtype=np.int64)
            pair_offsets = np.zeros(len(frames) + 1, dtype=np.int64)
            np.cumsum(counts, out=pair_offsets[1:])
            self.pair_offsets = torch.from_numpy(pair_offsets)
            self.n_pairs = torch.from_numpy(counts)
        else:
            self.jacobian = self.center = self.neighbor = self.vectors = None
            self.pair_offsets = self.n_pairs = None
        self._by_neighbor: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- sizes --------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.labels.n_frames

    @property
    def nbytes(self) -> int:
        total = self.values.numel() * 8
        if self.jacobian is not None:
            total += self.jacobian.numel() * self.jacobian.element_size()
            total += (self.center.numel() + self.neighbor.numel()) * 8 + self.vectors.numel() * 8
        return total

    # -- batches --------------------------------------------------------------------------------
    def batch(self, frames: Sequence[int] | torch.Tensor | None = None, *,
              derivatives: bool = True) -> Batch:
        """Gather the given frames (all if None) into a :class:`Batch`."""
        lab = self.labels
        if frames is None:
            frames = torch.arange(self.n_frames)
        frames = torch.as_tensor(frames, dtype=torch.long)
        n_at = lab.n_atoms[frames]
        atoms = _ranges(lab.atom_offsets[frames], n_at)
        jac = center = neighbor = vectors = frame_of_pair = None
        if derivatives and self.jacobian is not None:
            pairs, frame_of_pair, shift = pair_rows(frames, lab.atom_offsets, n_at, self.pair_offsets,
                                                    self.n_pairs)
            jac = self.jacobian[pairs]
            center = self.center[pairs] + shift[frame_of_pair]
            neighbor = self.neighbor[pairs] + shift[frame_of_pair]
            vectors = self.vectors[pairs]
        return Batch(**lab.gather(frames, atoms), values=self.values[atoms], jacobian=jac,
                     center=center, neighbor=neighbor, vectors=vectors, frame_of_pair=frame_of_pair)

    def pairs_of_atom(self, atom: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Pair indices with ``atom`` as centre, and with ``atom`` as neighbour (global indices)."""
        if self.jacobian is None:
            raise ValueError("the cache holds no derivatives")
        if self._by_neighbor is None:
            order = torch.argsort(self.neighbor, stable=True)
            counts = torch.bincount(self.neighbor, minlength=self.labels.total_atoms)
            starts = torch.zeros(self.labels.total_atoms + 1, dtype=torch.long)
            torch.cumsum(counts, 0, out=starts[1:])
            self._by_neighbor = (order, starts)
            counts_c = torch.bincount(self.center, minlength=self.labels.total_atoms)
            self._center_starts = torch.zeros(self.labels.total_atoms + 1, dtype=torch.long)
            torch.cumsum(counts_c, 0, out=self._center_starts[1:])
        order, starts = self._by_neighbor
        cs = self._center_starts
        return (torch.arange(int(cs[atom]), int(cs[atom + 1])),
                order[int(starts[atom]):int(starts[atom + 1])])

    def element_values(self) -> dict[str, np.ndarray]:
        """Raw values per element (for scaling statistics and pruning)."""
        el = self.labels.element
        return {s: self.values[el == e, :self.n_functions[e]].numpy()
                for e, s in enumerate(self.species)}


def voigt(tensor: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) → (…, 6) in Voigt order xx yy zz yz xz xy (symmetric part)."""
    sym = 0.5 * (tensor + tensor.transpose(-1, -2))
    return sym[..., _VOIGT[0], _VOIGT[1]]
