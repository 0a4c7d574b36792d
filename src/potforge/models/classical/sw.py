"""The Stillinger–Weber potential (PRB 31, 5262 (1985)) with LAMMPS ``pair_style sw`` semantics:

    E = Σ_i Σ_{j>i} φ₂(r_ij) + Σ_i Σ_{j≠i} Σ_{k>j} φ₃(r_ij, r_ik, θ_jik),
    φ₂ = A ε [B (σ/r)^p − (σ/r)^q] exp(σ/(r − aσ)),
    φ₃ = λ ε (cos θ_jik − cos θ₀)² exp(γ_ij σ_ij/(r_ij − a_ij σ_ij)) exp(γ_ik σ_ik/(r_ik − a_ik σ_ik)),

both zero beyond r = aσ. One entry per ordered element triplet (i, j, k) with the LAMMPS keys
epsilon, sigma, a, lambda, gamma, costheta0, A, B, p, q, tol; two-body values come from entry
(i, j, j), λ, ε (of λε) and cos θ₀ from (i, j, k), as in LAMMPS. ``tol`` is carried but unused
(as in LAMMPS without tabulation).

Each unordered triplet is summed in both orders (j, k) and (k, j) with ½, and each pair in
both directions with ½, so a file whose (i, j, k) and (i, k, j) entries (or (i, j, j) and
(j, i, i)) differ gets their average. LAMMPS evaluates each once, in the order of its
neighbour list (pairs: by atom-ID parity), so its result then depends on atom numbering and
binning; for CdTeZnSeHgS0.sw potforge lies within LAMMPS' own spread over renumberings (up to
3.9e-9 eV/atom, 6.4e-7 eV/Å; tests/export/test_lammps_shipped.py, BENCHMARKS.md). σ = 0 or
a = 0, which LAMMPS accepts, leave a pair without interaction. Every value lies in the
accepted ranges of :data:`~potforge.data.lammps.parameter_files.SW_RANGES` (ε ≤ 1e7 eV,
a·σ ≤ 100 Å, p, q ≤ 50, …), whether it comes from a file, a saved model or a config.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ...core.lazy import torch
from ...data.lammps.parameter_files import SW_KEYS, SW_RANGES, SW_TWO_BODY_KEYS
from .base import Graph
from .triplet import TripletPotential, triplet_table

__all__ = ["StillingerWeber", "SW_BOUNDS", "SW_TWO_BODY_KEYS"]

INF = math.inf
#: bounds of each key for fitting (values must also lie in the accepted ranges of
#: :data:`~potforge.data.lammps.parameter_files.SW_RANGES`, checked when a model is built and
#: when fitted values are set)
SW_BOUNDS = {"epsilon": (0.0, INF), "sigma": (1e-3, INF), "a": (1e-3, INF), "lambda": (0.0, INF),
             "gamma": (0.0, INF), "costheta0": (-1.0, 1.0), "A": (0.0, INF), "B": (0.0, INF),
             "p": (0.0, INF), "q": (0.0, INF), "tol": (0.0, INF)}


def _decay(r: torch.Tensor, scale: torch.Tensor, rc: torch.Tensor) -> torch.Tensor:
    """exp(scale/(r − rc)) for r < rc, else 0 (with a gradient-safe denominator)."""
    inside = r < rc
    denom = torch.where(inside, r - rc, -torch.ones_like(r))
    return torch.where(inside, torch.exp(scale / denom), torch.zeros_like(r))


class StillingerWeber(TripletPotential):
    """Stillinger–Weber; parameters ``<i>-<j>-<k>.<key>`` for every ordered element triplet."""

    kind: ClassVar[str] = "sw"

    label = "Stillinger–Weber"
    style = "sw"
    ranges = SW_RANGES
    keys = SW_KEYS
    bounds = SW_BOUNDS
    two_body_keys = SW_TWO_BODY_KEYS
    #: tol is unused
    always_fixed = ("tol",)
    #: a (with σ) sets the cutoff of the training neighbour lists; σ stays free, within a
    #: margin the training checks
    default_fixed = ("tol", "a")
    #: keys whose values set the cutoff
    cutoff_keys = ("a", "sigma")

    @classmethod
    def triplet_cutoff(cls, values, triplet: str) -> float:
        return float(values[f"{triplet}.a"]) * float(values[f"{triplet}.sigma"])

    def site_energies(self, p, graph: Graph) -> torch.Tensor:
        sp = self.species
        T = {k: triplet_table(p, sp, k) for k in SW_KEYS if k != "tol"}
        r = torch.linalg.vector_norm(graph.vectors, dim=1)
        ei, ej = graph.element[graph.center], graph.element[graph.neighbor]
        two = lambda k: T[k][ei, ej, ej]  # noqa: E731
        sigma, eps = two("sigma"), two("epsilon")
        rc = two("a") * sigma
        inside = r < rc
        # σ = 0 or a = 0 (LAMMPS accepts both) leaves the pair without interaction; x stays
        # away from 0 there so that no power's gradient is NaN
        x = torch.where(inside, sigma / r, torch.ones_like(r))
        phi2 = two("A") * eps * (two("B") * x ** two("p") - x ** two("q")) * _decay(r, sigma, rc)
        phi2 = torch.where(inside, phi2, torch.zeros_like(phi2))
        e = torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, 0.5 * phi2)
        pq = graph.triplets
        if pq is None or pq.shape[0] == 0:
            return e
        P, Q = pq[:, 0], pq[:, 1]
        ek = ej[Q]
        three = lambda k: T[k][ei[P], ej[P], ek]  # noqa: E731
        # exponential factor of each leg with that leg's two-body (i j j) values
        leg = _decay(r, two("gamma") * sigma, rc)
        cos = (graph.vectors[P] * graph.vectors[Q]).sum(1) / (r[P] * r[Q])
        phi3 = three("lambda") * three("epsilon") * (cos - three("costheta0")) ** 2 * leg[P] * leg[Q]
        # ordered (j, k) and (k, j) both appear: each unordered triplet once with the ½
        return e.index_add(0, graph.center[P], 0.5 * phi3)
