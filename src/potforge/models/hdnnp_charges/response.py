"""What stage 2 of 4G training needs of the fixed stage-1 model, per frame, computed once:
the charges q, the electrostatic energy, forces and stress (through q as well), and the
charge response dq/dr (and dq/dε for periodic cells).

With the bordered QEq system M [q; μ] = [−χ; Q] (M = [[A + diag J, 1], [1ᵀ, 0]]), for every
coordinate x of the geometry

    M [∂q/∂x; ∂μ/∂x] = [−(∂A/∂x q + ∂χ/∂x); 0],

one dense factorisation per frame and 3N (+ 9) right-hand sides. ∂χ_i/∂x comes from the
χ networks' input gradients and the cached symmetry-function pair Jacobians (no recomputation
of the functions); ∂(A q)/∂x by autograd through
:class:`~potforge.electrostatics.GaussianCoulomb` (open or periodic, the model's convention).
Stage 2 then adds −Σ_i ∂E^s/∂q_i ∂q_i/∂r to the short-range forces exactly as the adjoint
solve of :class:`~.potential4g.HDNNP4G` does in prediction. Memory: 3N² numbers per frame
(110 atoms: 0.3 MB); frames of the 4G training sets are small molecules and slabs.

Units: Å, eV, e. Forces F = −dE/dr; stress = (1/V) dE/dε (potforge's sign, as
:func:`~potforge.data.labels.voigt` of the virial in :mod:`~potforge.models.hdnnp.trainable`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...core.lazy import torch
from ...data.frame import Frame
from ...data.labels import voigt
from ...descriptors.cache import DescriptorCache
from ...descriptors.scaling import SymmetryFunctionScaling
from ..network import AtomicNetwork
from .settings import ElectrostaticSettings
from .trainable4g import frame_coulomb

__all__ = ["ChargeResponse", "charge_response"]


@dataclass
class ChargeResponse:
    """Stage-1 quantities of a prepared set (all torch float64).

    charges (total_atoms,) e; energy (n_frames,) eV; forces (total_atoms, 3) eV/Å and stress
    (n_frames, 6) eV/Å³ (NaN for open frames) of the electrostatics; dq_dr[f] (n, n, 3) with
    dq_dr[f][i, k, :] = ∂q_i/∂r_k; dq_deps[f] (n, 3, 3) = ∂q_i/∂ε, or None for open frames."""

    charges: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor
    dq_dr: list
    dq_deps: list


def _chi(cache: DescriptorCache, species: Sequence[str], scaling: SymmetryFunctionScaling,
         networks: Mapping[str, AtomicNetwork], atoms: slice) -> tuple[np.ndarray, np.ndarray]:
    """χ (n,) and ∂χ/∂G (n, n_max) of a frame's atoms (raw functions; scaling applied)."""
    values = cache.values[atoms].numpy()
    element = cache.labels.element[atoms].numpy()
    chi, grad = np.zeros(len(values)), np.zeros(values.shape)
    for e, s in enumerate(species):
        mask = element == e
        if not mask.any():
            continue
        n_sf = cache.n_functions[e]
        a, b = scaling.affine(s)
        out, g = networks[s].forward(values[mask, :n_sf] * a + b, gradient=True)
        chi[mask] = out
        grad[np.ix_(mask, np.arange(n_sf))] = g * a
    return chi, grad


def _dchi(cache: DescriptorCache, k: int, dchi_dG: np.ndarray, n: int):
    """∂χ_i/∂r_k (n, n, 3) and ∂χ_i/∂ε (n, 3, 3) from the frame's cached pair Jacobians."""
    p0, p1 = int(cache.pair_offsets[k]), int(cache.pair_offsets[k + 1])
    a0 = int(cache.labels.atom_offsets[k])
    center = cache.center[p0:p1] - a0
    neighbor = cache.neighbor[p0:p1] - a0
    jac = cache.jacobian[p0:p1].to(torch.float64)
    g = torch.bmm(torch.as_tensor(dchi_dG)[center].unsqueeze(1), jac).squeeze(1)  # dχ_c/d(r_nb − r_c)
    d = torch.zeros((n * n, 3), dtype=torch.float64)
    d = d.index_add(0, center * n + neighbor, g).index_add(0, center * n + center, -g)
    virial = torch.zeros((n, 3, 3), dtype=torch.float64)
    virial = virial.index_add(0, center, g.unsqueeze(2) * cache.vectors[p0:p1].unsqueeze(1))
    return d.reshape(n, n, 3), virial


def _jacobian_rows(v: torch.Tensor, inputs: list) -> list:
    """∂v_i/∂input for every i: (n, *input.shape) per input (n backward passes of one graph)."""
    n = v.shape[0]
    rows = [[] for _ in inputs]
    for i in range(n):
        grads = torch.autograd.grad(v[i], inputs, retain_graph=True, allow_unused=True)
        for r, g, x in zip(rows, grads, inputs):
            r.append(torch.zeros_like(x) if g is None else g)
    return [torch.stack(r) for r in rows]


def charge_response(frames: Sequence[Frame], cache: DescriptorCache, species: Sequence[str],
                    scaling: SymmetryFunctionScaling, networks: Mapping[str, AtomicNetwork],
                    hardness: Mapping[str, float], electrostatics: ElectrostaticSettings) -> ChargeResponse:
    """The :class:`ChargeResponse` of ``frames`` (``cache`` with derivatives) under the
    stage-1 model (χ ``networks`` in eV/e, ``hardness`` eV/e², ``electrostatics``)."""
    lab = cache.labels
    sigma_of = np.array([electrostatics.widths[s] for s in species])
    J_of = np.array([hardness[s] for s in species])
    n_frames = lab.n_frames
    charges = torch.zeros(lab.total_atoms, dtype=torch.float64)
    forces = torch.zeros((lab.total_atoms, 3), dtype=torch.float64)
    energy = torch.zeros(n_frames, dtype=torch.float64)
    stress = torch.full((n_frames, 6), float("nan"), dtype=torch.float64)
    dq_dr, dq_deps = [], []
    for k, frame in enumerate(frames):
        a0, a1 = int(lab.atom_offsets[k]), int(lab.atom_offsets[k + 1])
        n = a1 - a0
        element = lab.element[a0:a1].numpy()
        chi, dchi_dG = _chi(cache, species, scaling, networks, slice(a0, a1))
        coulomb, positions, eps = frame_coulomb(frame, sigma_of[element], electrostatics, lab.names[k],
                                                strain=True)
        A = coulomb.matrix()
        m = torch.zeros((n + 1, n + 1), dtype=torch.float64)
        m[:n, :n] = A.detach() + torch.diag(torch.as_tensor(J_of[element]))
        m[:n, n] = m[n, :n] = 1.0
        lu = torch.linalg.lu_factor(m)
        rhs = torch.cat([-torch.as_tensor(chi), lab.total_charge[k].reshape(1).to(torch.float64)])
        q = torch.linalg.lu_solve(*lu, rhs.unsqueeze(1))[:n, 0]
        inputs = [positions] + ([eps] if eps is not None else [])
        rows = _jacobian_rows(A @ q, inputs)  # ∂(A q)_i/∂x at fixed q
        dchi_dr, dchi_deps = _dchi(cache, k, dchi_dG, n)
        r = [(rows[0] + dchi_dr).reshape(n, 3 * n)]
        if eps is not None:
            r.append((rows[1] + dchi_deps).reshape(n, 9))
        rhs = torch.cat([torch.cat(r, 1), torch.zeros((1, sum(x.shape[1] for x in r)), dtype=torch.float64)])
        sol = -torch.linalg.lu_solve(*lu, rhs)[:n]
        dqdr = sol[:, :3 * n].reshape(n, n, 3)
        dq_dr.append(dqdr)
        q_var = q.clone().requires_grad_(True)
        e = coulomb.energy(q_var)
        grads = torch.autograd.grad(e, [q_var] + inputs, allow_unused=True)
        gq = grads[0].detach()
        partial = grads[1] if grads[1] is not None else torch.zeros((n, 3), dtype=torch.float64)
        forces[a0:a1] = -(partial + torch.einsum("i,ikx->kx", gq, dqdr))
        energy[k] = e.detach()
        charges[a0:a1] = q
        if eps is not None:
            dqde = sol[:, 3 * n:].reshape(n, 3, 3)
            de = (grads[2] if grads[2] is not None else 0.0) + torch.einsum("i,iab->ab", gq, dqde)
            stress[k] = voigt(de) / frame.atoms.get_volume()
            dq_deps.append(dqde)
        else:
            dq_deps.append(None)
    return ChargeResponse(charges, energy, forces, stress, dq_dr, dq_deps)
