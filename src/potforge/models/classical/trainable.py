"""Classical potentials (pair, EAM, Tersoff, Stillinger–Weber) in training form.

The learned state ``theta`` is the vector of the model's *free* named parameters; fixed ones
keep their values. Predictions run the family's own energy kernel on cached neighbour pairs
(and pair-of-pair triplets for three-body families), so the trained model and the
:class:`~potforge.models.classical.base.ClassicalPotential` it becomes compute the same numbers
by the same code. Forces and stress come from the reverse pass over the pair vectors with
``create_graph`` when parameter gradients are needed; the least-squares optimizer pushes
forward-mode tangents of theta through the same code for the exact Jacobian.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...core.elements import species_indices
from ...core.errors import StructureError
from ...core.lazy import torch
from ...core.neighbors import DEFAULT_MIN_DISTANCE, check_min_distance, neighbor_list
from ...data.frame import Frame
from ...data.labels import BatchLabels, FrameLabels, frame_labels, pair_rows, ranges
from ..potential import Potential
from ..registry import family
from ..trainable import ModelOutput, TrainableModel
from .base import ClassicalPotential, Graph, assemble_forces, assemble_virial, triplets
from .jacobian import pair_outputs_and_jacobian, supports_pair_jacobian

__all__ = ["TrainableClassical", "PairCache", "PairBatch"]

_SPLINE = re.compile(r"\.c\d+$")


@dataclass
class PairBatch(BatchLabels):
    """Frames with their neighbour pairs (atom indices local to the batch)."""

    center: torch.Tensor
    neighbor: torch.Tensor
    vectors: torch.Tensor
    frame_of_pair: torch.Tensor
    triplets: torch.Tensor | None


class PairCache:
    """Neighbour pairs (and triplets) of a list of frames, computed once."""

    def __init__(self, frames: Sequence[Frame], species: tuple[str, ...], cutoff: float, *,
                 with_triplets: bool, names: Sequence[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.labels: FrameLabels = frame_labels(frames, species, names=names)
        names = self.labels.names
        offsets = self.labels.atom_offsets.numpy()
        centers, neighbors, vectors, counts, trip, trip_counts = [], [], [], [], [], []
        pair_base = 0
        for k, frame in enumerate(frames):
            a = frame.atoms
            species_indices(a, species)
            try:
                nl = neighbor_list(a.positions, np.asarray(a.cell), a.pbc, cutoff,
                                   min_height=DEFAULT_MIN_DISTANCE)
                check_min_distance(nl.distances, nl.centers, nl.neighbors, DEFAULT_MIN_DISTANCE)
            except StructureError as err:
                raise StructureError(f"{names[k]}: {err.reason}") from None
            c = torch.from_numpy(np.asarray(nl.centers, dtype=np.int64))
            centers.append(c + int(offsets[k]))
            neighbors.append(torch.from_numpy(np.asarray(nl.neighbors, dtype=np.int64)) + int(offsets[k]))
            vectors.append(torch.from_numpy(np.ascontiguousarray(nl.vectors, dtype=np.float64)))
            counts.append(nl.n_pairs)
            if with_triplets:
                t = triplets(c, len(a))
                trip.append(t + pair_base)
                trip_counts.append(t.shape[0])
            pair_base += nl.n_pairs
            if progress is not None:
                progress(k + 1, len(frames))
        cat = lambda parts, shape: torch.cat(parts) if parts else torch.zeros(shape, dtype=torch.long)  # noqa: E731
        self.center = cat(centers, (0,))
        self.neighbor = cat(neighbors, (0,))
        self.vectors = torch.cat(vectors) if vectors else torch.zeros((0, 3), dtype=torch.float64)
        self.n_pairs = torch.tensor(counts, dtype=torch.long)
        self.pair_offsets = torch.zeros(len(frames) + 1, dtype=torch.long)
        torch.cumsum(self.n_pairs, 0, out=self.pair_offsets[1:])
        self.triplets = cat(trip, (0, 2)) if with_triplets else None
        if with_triplets:
            self.n_triplets = torch.tensor(trip_counts, dtype=torch.long)
            self.triplet_offsets = torch.zeros(len(frames) + 1, dtype=torch.long)
            torch.cumsum(self.n_triplets, 0, out=self.triplet_offsets[1:])
        self.jacobian = True  # the trainer asks whether derivatives are available

    @property
    def n_frames(self) -> int:
        return self.labels.n_frames

    def batch(self, frames: torch.Tensor | None = None) -> PairBatch:
        lab = self.labels
        frames, n_at, atoms = lab.select(frames)
        pairs, frame_of_pair, shift = pair_rows(frames, lab.atom_offsets, n_at, self.pair_offsets,
                                                self.n_pairs)
        n_p = self.n_pairs[frames]
        trip = None
        if self.triplets is not None:
            n_t = self.n_triplets[frames]
            rows = ranges(self.triplet_offsets[frames], n_t)
            # global pair index -> batch pair index
            pshift = (torch.cumsum(n_p, 0) - n_p) - self.pair_offsets[frames]
            trip = self.triplets[rows] + torch.repeat_interleave(pshift, n_t).unsqueeze(1)
        return PairBatch(**lab.gather(frames, atoms), center=self.center[pairs] + shift[frame_of_pair],
                         neighbor=self.neighbor[pairs] + shift[frame_of_pair], vectors=self.vectors[pairs],
                         frame_of_pair=frame_of_pair, triplets=trip)


class TrainableClassical(TrainableModel):
    """Any :class:`ClassicalPotential` with its free parameters as ``theta``; the trainable form
    of every classical kind (pair, eam, tersoff, sw), whose :attr:`kind` it takes.

    L2 regularisation applies to B-spline coefficients only: analytic parameters have units
    and natural sizes, for which a pull towards zero has no meaning.
    """

    supports_least_squares = True

    def __init__(self, potential: ClassicalPotential) -> None:
        self.potential = potential.copy()
        self.kind = potential.kind
        self.species = self.potential.species
        self.free = self.potential.free_parameters()
        self.theta = torch.tensor([self.potential.parameters[n].value for n in self.free],
                                  dtype=torch.float64, requires_grad=True)
        self.element_energies = torch.zeros(len(self.species), dtype=torch.float64)
        self.mean_energy = 0.0
        # a fit that may move the cutoff (free Tersoff R/D, SW a/σ) needs neighbour lists
        # reaching further than the starting cutoff, and a check that it stays inside them
        keys = self.potential.cutoff_keys
        self._moving_cutoff = any(n.rsplit(".", 1)[1] in keys for n in self.free)
        self.list_cutoff = self.potential.cutoff * (1.15 if self._moving_cutoff else 1.0)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        ps = [self.potential.parameters[n] for n in self.free]
        return np.array([p.lower for p in ps]), np.array([p.upper for p in ps])

    # -- data -------------------------------------------------------------------------------
    def prepare(self, frames, names, *, derivatives: bool = True, progress=None) -> PairCache:
        return PairCache(frames, self.species, self.list_cutoff,
                         with_triplets=self.potential.needs_triplets, names=names, progress=progress)

    def batch(self, data: PairCache, frames, *, derivatives: bool = True) -> PairBatch:
        return data.batch(frames)

    def labels(self, data: PairCache) -> FrameLabels:
        return data.labels

    # -- evaluation -------------------------------------------------------------------------
    def predict(self, batch: PairBatch, *, forces: bool, stress: bool,
                theta: torch.Tensor | None = None) -> ModelOutput:
        theta = self.theta if theta is None else theta
        keep_graph = torch.is_grad_enabled()
        need = forces or stress
        with torch.enable_grad():
            vectors = batch.vectors.clone().requires_grad_(need)
            graph = Graph(int(batch.element.shape[0]), batch.element, batch.center, batch.neighbor,
                          vectors, batch.triplets)
            p = self.potential.parameter_tensors(theta, self.free)
            if self._moving_cutoff and self.potential.cutoff_of(p) > self.list_cutoff:
                raise FloatingPointError(
                    f"the fit moved the cutoff to {self.potential.cutoff_of(p):.4g} Å, beyond the "
                    f"neighbour lists ({self.list_cutoff:.4g} Å); bound or fix "
                    f"{'/'.join(self.potential.cutoff_keys)}")
            e_atoms = self.potential.site_energies(p, graph)
            g = None
            if need and graph.n_pairs:
                (g,) = torch.autograd.grad(e_atoms.sum(), vectors, create_graph=keep_graph,
                                           allow_unused=True)
            if g is None:
                g = torch.zeros_like(vectors)
        offsets = self.element_energies[batch.element] + self.mean_energy
        energy = torch.zeros(batch.n_frames, dtype=torch.float64).index_add(
            0, batch.frame_of_atom, e_atoms + offsets)
        f = assemble_forces(g, batch.center, batch.neighbor, graph.n_atoms) if forces else None
        s = None
        if stress:
            virial = assemble_virial(g, vectors, batch.frame_of_pair, batch.n_frames)
            # open frames have no volume: NaN stress, without NaN reaching any gradient
            open_ = torch.isnan(batch.volume).unsqueeze(1)
            s = virial / torch.where(open_, torch.ones_like(batch.volume.unsqueeze(1)), batch.volume.unsqueeze(1))
            s = torch.where(open_, torch.full_like(s, float("nan")), s)
        if not keep_graph:
            energy = energy.detach()
            f = f.detach() if f is not None else None
            s = s.detach() if s is not None else None
        return ModelOutput(energy, f, s)

    def output_jacobian(self, batch: PairBatch, theta: torch.Tensor, *, forces: bool, stress: bool):
        """Jacobians of energies, forces and stress with respect to theta by the closed-form
        pair/EAM route (:mod:`.jacobian`); None for families without one."""
        if not supports_pair_jacobian(self.potential):
            return None
        _, jac = pair_outputs_and_jacobian(self.potential, self.free, theta, batch, self.element_energies,
                                           self.mean_energy, forces=forces, stress=stress)
        return jac

    # -- parameters ---------------------------------------------------------------------------
    def regularized(self) -> torch.Tensor:
        return torch.tensor([bool(_SPLINE.search(n)) for n in self.free], dtype=torch.bool)

    def project(self) -> None:
        """Clip theta into the parameter bounds (after optimizers that ignore them)."""
        lo, hi = self.bounds
        with torch.no_grad():
            self.theta.copy_(torch.from_numpy(np.clip(self.theta.detach().numpy(), lo, hi)))

    def fitted_potential(self) -> ClassicalPotential:
        out = self.potential.copy()
        out.set_values({n: float(v) for n, v in zip(self.free, self.theta.detach().tolist())}, clip=True)
        ee = self.element_energies.tolist()
        out.energy_offsets = {s: float(ee[k] + self.mean_energy) for k, s in enumerate(self.species)}
        return out

    def to_potential(self, metadata: dict | None = None) -> Potential:
        out = self.fitted_potential()
        out.metadata.update(metadata or {})
        return out

    def description(self) -> dict:
        return {"kind": self.kind, "potential": {"kind": self.potential.kind, **self.potential.to_dict()},
                "arrays": {k: v.tolist() for k, v in self.potential._arrays().items()}}

    @classmethod
    def from_description(cls, description: dict) -> "TrainableClassical":
        """Rebuild from :meth:`description` (also the ``kind: classical`` definitions written
        before the families had one home each, which name the potential's kind inside)."""
        d = dict(description["potential"])
        kind = d.pop("kind")
        arrays = {k: np.asarray(v) for k, v in description.get("arrays", {}).items()}
        return cls(family(kind).potential.from_saved(d, arrays))

    def random_start(self, generator: torch.Generator, spread: float) -> torch.Tensor:
        """A random point near the current parameters: each free value times
        exp(spread · N(0, 1)) (sign kept), clipped into its bounds; zeros get ±spread."""
        lo, hi = self.bounds
        x = self.theta.detach().clone()
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64) * spread
        x = torch.where(x != 0, x * torch.exp(noise), noise)
        return torch.from_numpy(np.clip(x.numpy(), lo, hi))
