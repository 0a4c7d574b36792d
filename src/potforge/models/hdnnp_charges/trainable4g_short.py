"""4G HDNNPs in training form, stage 2: the short-range networks on the remainder of the
fixed stage-1 electrostatics (n2p2's second 4G training stage; Ko et al., Nat. Commun. 12,
398 (2021)).

The stage-1 model (χ networks, hardness J, Gaussian widths, screening, Ewald settings) is
fixed. :meth:`TrainableHDNNP4G.prepare` computes once per frame its charges q, electrostatic
energy, forces and stress (:mod:`.response`, forces through dq/dr included) and fits

    E^s = Σ_i s · NN^s_{Z_i}([a ⊙ G_i + b, q_i]) + offsets   to   E_ref − E_elec,
    F^s = −∂E^s/∂r|_q − Σ_i ∂E^s/∂q_i ∂q_i/∂r               to   F_ref − F_elec

(and the stress alike), with exactly the input layout of :class:`~.potential4g.HDNNP4G`:
the scaled symmetry functions, then the raw charge. Everything else is the 2G machinery
(:class:`~potforge.models.hdnnp.trainable.TrainableHDNNP`: descriptor cache, networks,
every optimizer, early stopping, cross-validation). Since E_elec is the same fixed function
in training and prediction, the RMSEs the trainer reports are those of the total energy,
forces and stress; the charges it reports are stage 1's.

:meth:`to_potential` gives the :class:`~.potential4g.HDNNP4G` that predicts exactly
E^s + E_elec for the training frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np

from ...core.lazy import torch
from ...data.frame import Frame
from ...data.labels import voigt
from ...descriptors.cache import DescriptorBatch, DescriptorCache
from ...descriptors.scaling import SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import AtomicNetwork, NetworkLayout, network_forward
from ..trainable import ModelOutput, trained_model
from .potential4g import HDNNP4G
from .response import ChargeResponse, charge_response
from .settings import ElectrostaticSettings
from .stage2 import ShortRangeCache, ShortRangeTrainable

__all__ = ["TrainableHDNNP4G", "ShortRangeData"]


class ShortRangeData(ShortRangeCache):
    """A training set prepared for stage 2: the descriptor cache (with the labels minus the
    electrostatics) and the stage-1 :class:`~.response.ChargeResponse`."""

    def __init__(self, cache: DescriptorCache, response: ChargeResponse) -> None:
        super().__init__(cache)
        self.response = response


class TrainableHDNNP4G(ShortRangeTrainable):
    """Stage 2 of a 4G HDNNP: short-range networks with the charge as the last input.

    Parameters
    ----------
    symmetry_functions, scaling, hidden, activations, normalize, output_scale, dtype,
    cache_dtype, n_threads : as :class:`~potforge.models.hdnnp.trainable.TrainableHDNNP`
        (``hidden``/``activations`` of the short-range networks).
    electronegativity_networks : mapping element -> AtomicNetwork
        The fixed stage-1 χ networks (n_sf inputs, output eV/e).
    hardness : mapping element -> float, eV/e²
    electrostatics : ElectrostaticSettings
    """

    kind: ClassVar[str] = "hdnnp-4g"
    stage: ClassVar[int] = 2
    predicts_charges: ClassVar[bool] = True

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 hidden: Mapping[str, Sequence[int]], activations: Mapping[str, str],
                 electronegativity_networks: Mapping[str, AtomicNetwork], hardness: Mapping[str, float],
                 electrostatics: ElectrostaticSettings, **options) -> None:
        super().__init__(symmetry_functions, scaling, hidden, activations, **options)
        self.layout = NetworkLayout(
            [(self.n_functions[e] + 1, *self.hidden[s], 1) for e, s in enumerate(self.species)],
            [self.activations[s] for s in self.species], self.normalize)
        self.theta = torch.zeros(self.layout.n_parameters, dtype=torch.float64, requires_grad=True)
        self.electronegativity_networks = {s: electronegativity_networks[s] for s in self.species}
        self.hardness = {s: float(hardness[s]) for s in self.species}
        self.electrostatics = electrostatics

    # -- data -------------------------------------------------------------------------------
    def prepare(self, frames: Sequence[Frame], names: Sequence[str], *, derivatives: bool = True,
                progress: Callable[[int, int], None] | None = None) -> ShortRangeData:
        # dq/dr needs the pair Jacobians whatever the loss fits
        cache = DescriptorCache(frames, self.sfs, derivatives=True, dtype=self.cache_dtype,
                                n_threads=self.n_threads, names=names, progress=progress)
        response = charge_response(frames, cache, self.species, self.scaling,
                                   self.electronegativity_networks, self.hardness, self.electrostatics)
        lab = cache.labels
        cache.labels = dataclasses.replace(lab, energy=lab.energy - response.energy,
                                           forces=lab.forces - response.forces,
                                           stress=lab.stress - response.stress)
        return ShortRangeData(cache, response)

    def batch(self, data: ShortRangeData, frames: torch.Tensor | None, *,
              derivatives: bool = True) -> DescriptorBatch:
        batch = data.cache.batch(frames, derivatives=derivatives)
        _, _, atoms = data.labels.select(batch.frames)
        batch.q = data.response.charges[atoms]
        batch.dq_dr = [data.response.dq_dr[int(f)] for f in batch.frames]
        batch.dq_deps = [data.response.dq_deps[int(f)] for f in batch.frames]
        return batch

    def memory_estimate(self, frames: Sequence[Frame], n_threads: int = 1) -> tuple[str, int]:
        what, size = super().memory_estimate(frames, n_threads)
        extra = sum(3 * len(f.atoms) ** 2 * 8 for f in frames)
        return f"{what}; charge response dq/dr {extra / 2**20:,.0f} MiB", size + extra

    # -- evaluation -------------------------------------------------------------------------
    def _atomic4g(self, theta: torch.Tensor, element: torch.Tensor, values: torch.Tensor,
                  q: torch.Tensor, gradient: bool):
        """Atomic energies (n,), ∂E_i/∂G_i (n, n_max) and ∂E_i/∂q_i (n,)."""
        s = self.output_scale
        n = values.shape[0]
        energies = torch.zeros(n, dtype=self.dtype)
        dedg = torch.zeros(values.shape, dtype=self.dtype) if gradient else None
        dedq = torch.zeros(n, dtype=self.dtype) if gradient else None
        for e, sym in enumerate(self.species):
            idx = torch.nonzero(element == e).squeeze(1)
            if idx.numel() == 0:
                continue
            a, b = self._affine[e]
            n_sf = self.n_functions[e]
            x = torch.cat([values[idx, :n_sf].to(self.dtype) * a + b, q[idx, None].to(self.dtype)], 1)
            out, grad = network_forward(self.layout.layers(theta, e), self.activations[sym], x,
                                        normalize=self.normalize, gradient=gradient)
            energies = energies.index_copy(0, idx, out * s)
            if gradient:
                g = grad[:, :n_sf] * (s * a)
                if n_sf < values.shape[1]:
                    g = torch.nn.functional.pad(g, (0, values.shape[1] - n_sf))
                dedg = dedg.index_copy(0, idx, g)
                dedq = dedq.index_copy(0, idx, grad[:, n_sf] * s)
        return energies, dedg, dedq

    def predict(self, batch: DescriptorBatch, *, forces: bool = True, stress: bool = False) -> ModelOutput:
        theta = self._theta()
        need_gradient = forces or stress
        atomic, dedg, dedq = self._atomic4g(theta, batch.element, batch.values, batch.q, need_gradient)
        energy = torch.zeros(batch.n_frames, dtype=self.dtype).index_add(0, batch.frame_of_atom, atomic)
        out = ModelOutput(self.with_offsets(energy.to(torch.float64), batch), charges=batch.q)
        if not need_gradient:
            return out
        if batch.jacobian is None:
            raise ValueError("forces and stress need a cache with derivatives")
        jac = batch.jacobian
        g = torch.bmm(dedg[batch.center].to(jac.dtype).unsqueeze(1), jac).squeeze(1).to(self.dtype)
        dedq = dedq.to(torch.float64)
        starts = torch.cumsum(batch.n_atoms, 0) - batch.n_atoms
        if forces:
            f = torch.zeros((batch.values.shape[0], 3), dtype=self.dtype)
            f = f.index_add(0, batch.center, g).index_add(0, batch.neighbor, -g).to(torch.float64)
            through_q = [torch.einsum("i,ikx->kx", dedq[int(a):int(a) + int(n)], d)
                         for a, n, d in zip(starts, batch.n_atoms, batch.dq_dr)]
            out.forces = f - torch.cat(through_q)
        if stress:
            outer = g.unsqueeze(2) * batch.vectors.to(self.dtype).unsqueeze(1)
            virial = torch.zeros((batch.n_frames, 3, 3), dtype=self.dtype)
            virial = virial.index_add(0, batch.frame_of_pair, outer).to(torch.float64)
            extra = [torch.einsum("i,iab->ab", dedq[int(a):int(a) + int(n)], d) if d is not None
                     else torch.zeros((3, 3), dtype=torch.float64)
                     for a, n, d in zip(starts, batch.n_atoms, batch.dq_deps)]
            out.stress = voigt(virial + torch.stack(extra)) / batch.volume.unsqueeze(1)
        return out

    # -- single measurements (Kalman filter): one frame's atoms, no batch gathering ----------
    def _frame_of(self, data: ShortRangeData, atom: int) -> tuple[int, int, int]:
        offsets = data.labels.atom_offsets
        frame = int(torch.searchsorted(offsets, atom, right=True)) - 1
        return frame, int(offsets[frame]), int(offsets[frame + 1])

    def energy_measurement(self, data: ShortRangeData, frame: int) -> torch.Tensor:
        """Energy per atom of one frame from its atoms' networks only (as :meth:`predict`)."""
        lab = data.labels
        a0, a1 = int(lab.atom_offsets[frame]), int(lab.atom_offsets[frame + 1])
        atomic, _, _ = self._atomic4g(self._theta(), lab.element[a0:a1], data.cache.values[a0:a1],
                                      data.response.charges[a0:a1], False)
        energy = atomic.sum().to(torch.float64) + lab.composition[frame] @ self.element_energies \
            + (a1 - a0) * self.mean_energy
        return energy / (a1 - a0)

    def force_measurement(self, data: ShortRangeData, atom: int, component: int) -> torch.Tensor:
        """F_{atom, component} = Σ_i ∂E_i/∂G_i · c_i − Σ_i ∂E_i/∂q_i ∂q_i/∂r_{atom, component}:
        c_i the symmetry-function derivatives of the pairs that touch ``atom`` (as the 2G
        shortcut), the charge path through the frame's precomputed dq/dr; the frame's
        networks evaluated once, without the frame's other force components."""
        lab, cache = data.labels, data.cache
        frame, a0, a1 = self._frame_of(data, atom)
        as_center, as_neighbor = cache.pairs_of_atom(atom)
        jac = cache.jacobian
        coeff = torch.zeros((a1 - a0, jac.shape[1]), dtype=jac.dtype)
        coeff[atom - a0] = jac[as_center, :, component].sum(0)
        coeff.index_add_(0, cache.center[as_neighbor] - a0, -jac[as_neighbor, :, component])
        _, dedg, dedq = self._atomic4g(self._theta(), lab.element[a0:a1], cache.values[a0:a1],
                                       data.response.charges[a0:a1], True)
        dqdr = data.response.dq_dr[frame][:, atom - a0, component]
        return ((dedg * coeff.to(dedg.dtype)).sum().to(torch.float64)
                - (dedq.to(torch.float64) * dqdr).sum())

    # -- parameters and conversion ----------------------------------------------------------
    def to_potential(self, metadata: dict | None = None) -> HDNNP4G:
        with trained_model():
            nets = self.layout.to_atomic_networks(self.theta)
            energies = {s: float(self.element_energies[e]) + self.mean_energy
                        for e, s in enumerate(self.species)}
            return HDNNP4G(self.sfs, self.scaling, self.electronegativity_networks,
                           dict(zip(self.species, nets)), self.hardness, self.electrostatics,
                           output_scale=self.output_scale, chi_scale=1.0, atom_energies=energies,
                           n_threads=self.n_threads, metadata=metadata)

    @classmethod
    def from_potential(cls, potential: HDNNP4G, **options) -> "TrainableHDNNP4G":
        """Continue stage 2 of a saved (or n2p2-read) HDNNP4G: its functions, scaling, χ
        networks (scaled to eV/e), hardness, electrostatics and short-range weights."""
        species = potential.species
        nets = potential.short_networks
        chi = {s: _scaled(potential.electronegativity_networks[s], potential.chi_scale) for s in species}
        model = cls(potential.symmetry_functions, potential.scaling, *cls._short_shape(nets, species),
                    chi, potential.hardness, potential.electrostatics, normalize=nets[species[0]].normalize,
                    output_scale=potential.output_scale, **options)
        model._load_short(nets, potential.atom_energies)
        return model

    def description(self) -> dict:
        return {**super().description(), "stage": 2, "hardness": self.hardness,
                "electrostatics": self.electrostatics.to_dict(),
                "electronegativity_networks": {
                    s: {"weights": [w.tolist() for w in n.weights], "biases": [b.tolist() for b in n.biases],
                        "activations": n.activations, "normalize": n.normalize}
                    for s, n in self.electronegativity_networks.items()}}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableHDNNP4G":
        chi = {s: AtomicNetwork([np.asarray(w) for w in n["weights"]], [np.asarray(b) for b in n["biases"]],
                                n["activations"], n["normalize"])
               for s, n in d["electronegativity_networks"].items()}
        return cls(SymmetryFunctionSet.from_dict(d["symmetry_functions"]),
                   SymmetryFunctionScaling.from_dict(d["scaling"]), d["hidden"], d["activations"], chi,
                   d["hardness"], ElectrostaticSettings.from_dict(d["electrostatics"]),
                   normalize=d["normalize"], output_scale=d["output_scale"], dtype=d["dtype"],
                   cache_dtype=d["cache_dtype"], n_threads=d["n_threads"])


def _scaled(net: AtomicNetwork, factor: float) -> AtomicNetwork:
    """``net`` with its (linear) output multiplied by ``factor``."""
    if factor == 1.0:
        return net
    if net.activations[-1] != "l":
        raise ValueError(f"an electronegativity network with output activation {net.activations[-1]!r} "
                         "cannot be rescaled; expected a linear output")
    weights, biases = list(net.weights), list(net.biases)
    weights[-1], biases[-1] = weights[-1] * factor, biases[-1] * factor
    return AtomicNetwork(weights, biases, net.activations, net.normalize)
