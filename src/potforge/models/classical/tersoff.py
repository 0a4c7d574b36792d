"""Tersoff's bond-order potential with LAMMPS ``pair_style tersoff`` semantics.

Tersoff, PRB 37, 6991 (1988) and PRB 38, 9902 (1988); multi-element form and parameter file
as documented for LAMMPS ``pair_style tersoff``:

    E = ½ Σ_i Σ_{j≠i} f_C(r_ij) [A e^{−λ₁ r_ij} − b_ij B e^{−λ₂ r_ij}],
    b_ij = (1 + (β ζ_ij)^n)^{−1/(2n)},
    ζ_ij = Σ_{k≠i,j} f_C(r_ik) g(θ_ijk) exp[(λ₃ (r_ij − r_ik))^m],
    g(θ) = γ (1 + c²/d² − c²/(d² + (h − cos θ)²)),
    f_C(r) = 1 (r < R − D),  ½ − ½ sin(π/2 (r − R)/D) (|r − R| ≤ D),  0 (r > R + D).

One entry per ordered element triplet (i, j, k) with the LAMMPS keys m, gamma, lambda3, c, d,
costheta0 (= h), n, beta, lambda2, B, R, D, lambda1, A. As in LAMMPS, the three-body values
(m, γ, λ₃, c, d, h) and the cutoff (R, D) of f_C(r_ik) come from entry (i, j, k); the two-body
values (n, β, λ₂, B, λ₁, A) and the cutoff of f_C(r_ij) from entry (i, j, j). The repulsive
term is summed over both directions of each pair with ½, so a file whose (i, j, j) and
(j, i, i) two-body values (A, λ₁, R, D) differ gets their average; LAMMPS takes one of the two
per pair (by atom-ID parity), so its result then depends on how the atoms are numbered.
Most files are symmetric, and then both agree to round-off; for the two asymmetric files
LAMMPS ships (SiC_1989.tersoff, SiC_1994.tersoff) potforge lies within LAMMPS' own spread over
renumberings (up to 8.5e-7 eV/atom, 6.2e-4 eV/Å; tests/export/test_lammps_shipped.py,
BENCHMARKS.md). D = 0 (SiC_1990.tersoff) is a step cutoff, as in LAMMPS. The exponential
is capped as LAMMPS does (argument above 69.0776 → 1e30, below −69.0776 → 0), and b_ij uses
LAMMPS' asymptotic branches for very large or small βζ (they differ from the closed form by
less than 1e-8 relative).

Every value lies in the accepted ranges of
:data:`~potforge.data.lammps.parameter_files.TERSOFF_RANGES` (A, B ≤ 1e7 eV, λ ≤ 100 1/Å,
R + D ≤ 100 Å, …; the rationale and the shipped files' values are in that module), whether
it comes from a LAMMPS file, a saved model or a training config; fitting stays inside them.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ...core.errors import ConfigError
from ...core.lazy import torch
from ...data.lammps.parameter_files import TERSOFF_KEYS, TERSOFF_RANGES, TERSOFF_TWO_BODY_KEYS
from .base import Graph
from .triplet import TripletPotential, element_triplets, triplet_table

__all__ = ["Tersoff", "TERSOFF_BOUNDS", "TERSOFF_TWO_BODY_KEYS", "element_triplets", "triplet_table"]

INF = math.inf
#: bounds of each key for fitting (a value must also lie in the accepted ranges of
#: :data:`~potforge.data.lammps.parameter_files.TERSOFF_RANGES`, checked when a model is built
#: and when fitted values are set; the upper bounds stay infinite here because finite ones
#: change the scaling of SciPy's trust-region steps). ``from_entries`` widens a bound to a
#: value read; D = 0 is a step cutoff, as LAMMPS allows
TERSOFF_BOUNDS = {"m": (1.0, 3.0), "gamma": (0.0, INF), "lambda3": (-INF, INF), "c": (0.0, INF),
                  "d": (TERSOFF_RANGES["d"][0], INF), "costheta0": (-INF, INF),
                  "n": (TERSOFF_RANGES["n"][0], INF), "beta": (0.0, INF), "lambda2": (0.0, INF),
                  "B": (0.0, INF), "R": (0.0, INF), "D": (0.0, INF), "lambda1": (0.0, INF), "A": (0.0, INF)}
_EXP_CAP = 69.0776


def tersoff_cutoff(r: torch.Tensor, R: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    inside = r < R - D
    outside = r > R + D
    safe_d = torch.where(D > 0, D, torch.ones_like(D))
    mid = 0.5 * (1.0 - torch.sin(0.5 * math.pi * (r - R) / safe_d))
    return torch.where(inside, torch.ones_like(r), torch.where(outside, torch.zeros_like(r), mid))


def bond_order(x: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """(1 + x^n)^{−1/(2n)} for x = βζ ≥ 0 with LAMMPS' branches (``ters_bij``): x^{−1/2} above
    c1, (1 − x^{−n}/(2n)) x^{−1/2} above c2, 1 below c4, 1 − x^n/(2n) below c3, else the closed
    form; c1 = (2n·1e-16)^{−1/n}, c2 = (2n·1e-8)^{−1/n}, c3 = 1/c2, c4 = 1/c1. Each branch is
    evaluated on inputs clamped into its own range, so unselected branches cannot overflow
    into NaN gradients."""
    c1 = (2.0 * n * 1.0e-16) ** (-1.0 / n)
    c2 = (2.0 * n * 1.0e-8) ** (-1.0 / n)
    c3 = 1.0 / c2
    c4 = 1.0 / c1
    one = torch.ones_like(x)
    # large x: x >= c2
    xl = torch.where(x > c2, x, c2 * one)
    big1 = 1.0 / torch.sqrt(xl)
    big2 = (1.0 - xl ** (-n) / (2.0 * n)) / torch.sqrt(xl)
    # small x: c4 <= x <= c3
    xs = torch.where((x < c3) & (x >= c4), x, c4 * one)
    small = 1.0 - xs**n / (2.0 * n)
    # middle: c3 <= x <= c2
    xm = torch.where((x >= c3) & (x <= c2), x, one)
    full = (1.0 + xm**n) ** (-1.0 / (2.0 * n))
    return torch.where(x > c1, big1, torch.where(x > c2, big2, torch.where(
        x < c4, one, torch.where(x < c3, small, full))))


class Tersoff(TripletPotential):
    """Tersoff potential; parameters ``<i>-<j>-<k>.<key>`` for every ordered element triplet."""

    kind: ClassVar[str] = "tersoff"

    label = "Tersoff"
    style = "tersoff"
    ranges = TERSOFF_RANGES
    keys = TERSOFF_KEYS
    bounds = TERSOFF_BOUNDS
    two_body_keys = TERSOFF_TWO_BODY_KEYS
    #: an integer exponent (1 or 3)
    always_fixed = ("m",)
    #: the cutoff sets the training neighbour lists; a config may free R and D explicitly
    default_fixed = ("m", "R", "D")
    #: keys whose values set the cutoff
    cutoff_keys = ("R", "D")

    @classmethod
    def check_values(cls, value) -> None:
        for name, v in value.items():
            key = name.rsplit(".", 1)[1]
            if key == "m" and v not in (1.0, 3.0):
                raise ConfigError(f"{name} = {v:g}: LAMMPS allows only m = 1 or 3")
            a, b, c = name.rsplit(".", 1)[0].split("-")
            if key == "n" and v == 0 and b == c:
                raise ConfigError(f"{name} = 0: the bond order (1 + (beta zeta)^n)^(-1/2n) has no value at "
                                  "n = 0 (LAMMPS reads it but divides by zero)")
            if key == "d" and v == 0:
                raise ConfigError(f"{name} = 0: g(theta) = gamma (1 + c^2/d^2 - ...) divides by d^2 "
                                  "(LAMMPS reads it but computes inf or NaN)")
            if key == "D" and v > value[name[:-1] + "R"]:
                raise ConfigError(f"{name} = {v:g} exceeds R = {value[name[:-1] + 'R']:g}: "
                                  "the cutoff region R ± D must lie at positive distances")

    @classmethod
    def triplet_cutoff(cls, values, triplet: str) -> float:
        return float(values[f"{triplet}.R"]) + float(values[f"{triplet}.D"])

    def site_energies(self, p, graph: Graph) -> torch.Tensor:
        sp = self.species
        T = {k: triplet_table(p, sp, k) for k in TERSOFF_KEYS}
        r = torch.linalg.vector_norm(graph.vectors, dim=1)
        ei, ej = graph.element[graph.center], graph.element[graph.neighbor]
        two = lambda k: T[k][ei, ej, ej]  # noqa: E731  (entry i j j)
        fc = tersoff_cutoff(r, two("R"), two("D"))
        pq = graph.triplets
        P, Q = pq[:, 0], pq[:, 1]
        ek = ej[Q]
        three = lambda k: T[k][ei[P], ej[P], ek]  # noqa: E731  (entry i j k)
        cos = (graph.vectors[P] * graph.vectors[Q]).sum(1) / (r[P] * r[Q])
        c2, d2 = three("c") ** 2, three("d") ** 2
        h = three("costheta0")
        g = three("gamma") * (1.0 + c2 / d2 - c2 / (d2 + (h - cos) ** 2))
        arg = three("lambda3") * (r[P] - r[Q])
        arg = torch.where(three("m") == 3.0, arg**3, arg)
        capped = arg.clamp(-_EXP_CAP, _EXP_CAP)
        ex = torch.where(arg > _EXP_CAP, torch.full_like(arg, 1e30),
                         torch.where(arg < -_EXP_CAP, torch.zeros_like(arg), torch.exp(capped)))
        fc_k = tersoff_cutoff(r[Q], three("R"), three("D"))
        zeta = torch.zeros_like(r).index_add(0, P, fc_k * g * ex)
        b = bond_order(two("beta") * zeta, two("n"))
        v = fc * (two("A") * torch.exp(-two("lambda1") * r) - b * two("B") * torch.exp(-two("lambda2") * r))
        return torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, 0.5 * v)
