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

from ..core.dtypes import check_dtype
from ..core.elements import species_indices
from ..core.errors import StructureError
from ..core.lazy import torch
from ..core.neighbors import DEFAULT_MIN_DISTANCE, check_min_distance, neighbor_list
from ..data.frame import Frame
from ..data.labels import BatchLabels, frame_labels, pair_rows
from .symmetry_functions import SymmetryFunctionSet

__all__ = ["DescriptorCache", "DescriptorBatch", "cache_size"]


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
class DescriptorBatch(BatchLabels):
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
        check_dtype(dtype, "cache dtype")
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
              derivatives: bool = True) -> DescriptorBatch:
        """Gather the given frames (all if None) into a :class:`DescriptorBatch`."""
        lab = self.labels
        frames, n_at, atoms = lab.select(frames)
        jac = center = neighbor = vectors = frame_of_pair = None
        if derivatives and self.jacobian is not None:
            pairs, frame_of_pair, shift = pair_rows(frames, lab.atom_offsets, n_at, self.pair_offsets,
                                                    self.n_pairs)
            jac = self.jacobian[pairs]
            center = self.center[pairs] + shift[frame_of_pair]
            neighbor = self.neighbor[pairs] + shift[frame_of_pair]
            vectors = self.vectors[pairs]
        return DescriptorBatch(**lab.gather(frames, atoms), values=self.values[atoms], jacobian=jac,
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
