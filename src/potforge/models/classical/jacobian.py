"""Exact parameter Jacobians of energies, forces and stress for pair and EAM potentials, fast.

For these families the energy depends on the pair vectors only through the distances, so
everything follows from one scalar per (full-list) pair p = (i → j),

    s_p = ∂E/∂r_p = ½ φ′(r_p) + F′(ρ_i) ρ′_{Z_j}(r_p),      g_p = s_p d_p / r_p,

(F ≡ 0 for pair potentials), with F_a = Σ_{p: i=a} g_p − Σ_{p: j=a} g_p and
σ = (1/V) Σ_p s_p d_p ⊗ d_p / r_p, as in :mod:`potforge.models.classical.base`. Their derivatives
with respect to a parameter θ are linear in ∂s_p/∂θ:

    ∂s_p/∂θ = ½ ∂φ′/∂θ + ∂F′/∂θ(ρ_i) ρ′ + F″(ρ_i) (∂ρ_i/∂θ) ρ′ + F′(ρ_i) ∂ρ′/∂θ,
    ∂E/∂θ  = ½ Σ_p ∂φ/∂θ + Σ_i [∂F/∂θ(ρ_i) + F′(ρ_i) ∂ρ_i/∂θ],   ∂ρ_i/∂θ = Σ_{p∈i} ∂ρ/∂θ(r_p).

The one-dimensional derivatives (f, f′, ∂f/∂θ, ∂f′/∂θ of every radial form; F, F′, F″, ∂F/∂θ,
∂F′/∂θ of every embedding form) come from forward-mode automatic differentiation of the forms
themselves (``torch.func``), element-wise, so any form is covered and nothing is differenced.
This costs a few vector operations per pair and parameter, where the generic forward-over-
reverse Jacobian replays the whole model once per parameter; tests check that both agree.
"""

from __future__ import annotations

from ...core.lazy import torch
from ...core.voigt import VOIGT_COLS, VOIGT_ROWS
from .base import ClassicalPotential
from .eam import EAM
from .functions import smooth_switch
from .pair import PairPotential, pair_type_index

__all__ = ["supports_pair_jacobian", "pair_outputs_and_jacobian"]


def supports_pair_jacobian(potential: ClassicalPotential) -> bool:
    return type(potential) in (EAM, PairPotential)


def _radial_parts(form, names: list[str], values: dict[str, torch.Tensor], r: torch.Tensor,
                  cutoff: float, width: float):
    """f, f′ (N,) and ∂f/∂θ, ∂f′/∂θ (N, k) for the form's parameters ``names`` (full names)."""
    short = [n.rsplit(".", 1)[1] for n in names]
    switch = smooth_switch(r, cutoff, width) if form.smooth else None

    def f(pvec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = form(dict(zip(short, pvec)), x)
        return out * smooth_switch(x, cutoff, width) if switch is not None else out

    def f_and_slope(pvec: torch.Tensor):
        return torch.func.jvp(lambda x: f(pvec, x), (r,), (torch.ones_like(r),))

    pvec = torch.stack([values[n] for n in names]) if names else torch.zeros(0, dtype=torch.float64)
    value, slope = f_and_slope(pvec)
    if names:
        d_value, d_slope = torch.func.jacfwd(f_and_slope)(pvec)
    else:
        d_value = d_slope = torch.zeros((r.shape[0], 0), dtype=torch.float64)
    return value, slope, d_value, d_slope


def _embedding_parts(form, names: list[str], values: dict[str, torch.Tensor], rho: torch.Tensor):
    """F, F′, F″ (N,) and ∂F/∂θ, ∂F′/∂θ (N, k)."""
    short = [n.rsplit(".", 1)[1] for n in names]
    ones = torch.ones_like(rho)

    def f_slope(pvec: torch.Tensor, x: torch.Tensor):
        return torch.func.jvp(lambda y: form(dict(zip(short, pvec)), y), (x,), (ones,))

    def f_slope_curv(pvec: torch.Tensor):
        (value, slope), (_, curvature) = torch.func.jvp(lambda x: f_slope(pvec, x), (rho,), (ones,))
        return value, slope, curvature

    pvec = torch.stack([values[n] for n in names])
    value, slope, curvature = f_slope_curv(pvec)
    d_value, d_slope = torch.func.jacfwd(lambda pv: f_slope(pv, rho))(pvec)
    return value, slope, curvature, d_value, d_slope


def half_pairs(center: torch.Tensor, neighbor: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Indices of one direction of every pair of a full list: i < j, or for an atom and its own
    periodic image the lexicographically positive vector (the reverse pair is exactly −d)."""
    x, y, z = vectors.unbind(1)
    positive = (x > 0) | ((x == 0) & ((y > 0) | ((y == 0) & (z > 0))))
    return torch.nonzero((center < neighbor) | ((center == neighbor) & positive)).squeeze(1)


def pair_outputs_and_jacobian(potential: ClassicalPotential, free: list[str], theta: torch.Tensor,
                              batch, element_energies: torch.Tensor, mean_energy: float, *,
                              forces: bool, stress: bool):
    """Energies (F,), forces (n, 3), stress (F, 6) and their Jacobians with respect to the free
    parameters: (F, P), (n, 3, P), (F, 6, P). ``batch`` is a PairBatch (full neighbour list);
    the work runs over one direction of each pair, h = (i, j):

        s_h = φ′(r) + F′(ρ_i) ρ′_{Z_j}(r) + F′(ρ_j) ρ′_{Z_i}(r)."""
    values = potential.parameter_tensors(theta.detach(), free)
    column = {name: k for k, name in enumerate(free)}
    n_par = len(free)
    cutoff = potential.cutoff
    width = potential.smooth_width
    n_atoms = int(batch.element.shape[0])
    keep = half_pairs(batch.center, batch.neighbor, batch.vectors)
    ci, cj = batch.center[keep], batch.neighbor[keep]
    d = batch.vectors[keep]
    frame_of_pair = batch.frame_of_pair[keep]
    r = torch.linalg.vector_norm(d, dim=1)
    ei, ej = batch.element[ci], batch.element[cj]
    species = potential.species
    types = pair_type_index(len(species), ei, ej)
    is_eam = isinstance(potential, EAM)
    pair_forms = potential.pair if is_eam else potential.forms
    n_h = r.shape[0]
    f64 = torch.float64

    def params_of(prefix: str) -> list[str]:
        return [n for n in potential.parameters if n.startswith(prefix + ".")]

    def place(names: list[str], block: torch.Tensor, rows: int, factor: float = 1.0) -> torch.Tensor:
        """(rows, k) derivatives of the form's parameters -> (rows, P) columns of the free ones."""
        out = torch.zeros((rows, n_par), dtype=f64)
        for k, name in enumerate(names):
            if name in column:
                out[:, column[name]] = factor * block[:, k]
        return out

    # pair term: φ once per pair (given to atom i: only frame sums matter here)
    e_atom = torch.zeros(n_atoms, dtype=f64)
    de_atom = torch.zeros((n_atoms, n_par), dtype=f64)
    s = torch.zeros_like(r)
    ds = torch.zeros((n_h, n_par), dtype=f64)
    for t, name in enumerate(potential.type_names):
        idx = torch.nonzero(types == t).squeeze(1)
        if not idx.numel():
            continue
        names = params_of(f"pair.{name}")
        phi, dphi, phi_t, dphi_t = _radial_parts(pair_forms[name], names, values, r[idx], cutoff, width)
        e_atom.index_add_(0, ci[idx], phi)
        de_atom.index_add_(0, ci[idx], place(names, phi_t, idx.numel()))
        s[idx] += dphi
        ds[idx] += place(names, dphi_t, idx.numel())

    if is_eam:
        e_atom, de_atom, s, ds = _embedding_terms(potential, values, place, params_of, r, ci, cj, ei, ej,
                                                  batch.element, n_atoms, e_atom, de_atom, s, ds)
    return _assemble(batch, element_energies, mean_energy, e_atom, de_atom, s, ds, d, r, ci, cj,
                     frame_of_pair, forces=forces, stress=stress)


def _embedding_terms(potential: EAM, values, place, params_of, r, ci, cj, ei, ej, element, n_atoms,
                     e_atom, de_atom, s, ds):
    """Add the embedding energy F(ρ_i) and its share of s_h, with their parameter derivatives."""
    species = potential.species
    cutoff, width = potential.cutoff, potential.smooth_width
    n_h, n_par = r.shape[0], ds.shape[1]
    f64 = torch.float64

    def density(which: torch.Tensor):
        """ρ_{Z}(r_h) for Z = which[h]: value, slope and their (n_h, P) parameter derivatives."""
        f, fp = torch.zeros_like(r), torch.zeros_like(r)
        f_t, fp_t = torch.zeros((n_h, n_par), dtype=f64), torch.zeros((n_h, n_par), dtype=f64)
        for e, el in enumerate(species):
            idx = torch.nonzero(which == e).squeeze(1)
            if not idx.numel():
                continue
            names = params_of(f"density.{el}")
            v, vp, v_t, vp_t = _radial_parts(potential.density[el], names, values, r[idx], cutoff, width)
            f[idx], fp[idx] = v, vp
            f_t[idx], fp_t[idx] = place(names, v_t, idx.numel()), place(names, vp_t, idx.numel())
        return f, fp, f_t, fp_t

    to_i = density(ej)                         # what j gives to atom i
    to_j = to_i if len(species) == 1 else density(ei)
    rho = torch.zeros(n_atoms, dtype=f64).index_add(0, ci, to_i[0]).index_add(0, cj, to_j[0])
    rho_t = torch.zeros((n_atoms, n_par), dtype=f64).index_add(0, ci, to_i[2]).index_add(0, cj, to_j[2])
    F, Fp, Fpp = (torch.zeros(n_atoms, dtype=f64) for _ in range(3))
    F_t, Fp_t = torch.zeros((n_atoms, n_par), dtype=f64), torch.zeros((n_atoms, n_par), dtype=f64)
    for e, el in enumerate(species):
        idx = torch.nonzero(element == e).squeeze(1)
        if not idx.numel():
            continue
        names = params_of(f"embedding.{el}")
        v, vp, vpp, v_t, vp_t = _embedding_parts(potential.embedding[el], names, values, rho[idx])
        F[idx], Fp[idx], Fpp[idx] = v, vp, vpp
        F_t[idx], Fp_t[idx] = place(names, v_t, idx.numel()), place(names, vp_t, idx.numel())
    e_atom = e_atom + F
    de_atom = de_atom + F_t + Fp.unsqueeze(1) * rho_t
    # s_h gains F′(ρ_i) ρ′_{Z_j} + F′(ρ_j) ρ′_{Z_i}; its derivative by the chain rule
    dF_i = Fp_t[ci] + Fpp[ci].unsqueeze(1) * rho_t[ci]        # ∂F′(ρ_i)/∂θ
    dF_j = Fp_t[cj] + Fpp[cj].unsqueeze(1) * rho_t[cj]
    s = s + Fp[ci] * to_i[1] + Fp[cj] * to_j[1]
    ds = ds + dF_i * to_i[1].unsqueeze(1) + Fp[ci].unsqueeze(1) * to_i[3] \
        + dF_j * to_j[1].unsqueeze(1) + Fp[cj].unsqueeze(1) * to_j[3]
    return e_atom, de_atom, s, ds


def _assemble(batch, element_energies, mean_energy, e_atom, de_atom, s, ds, d, r, ci, cj,
              frame_of_pair, *, forces: bool, stress: bool):
    """Frame energies, forces and stress (and their Jacobians) from the per-atom energies and
    the per-pair s_h = ∂E/∂r_h."""
    f64 = torch.float64
    n_atoms, n_par = e_atom.shape[0], de_atom.shape[1]
    n_frames = batch.n_frames
    offsets = element_energies[batch.element] + mean_energy
    energy = torch.zeros(n_frames, dtype=f64).index_add(0, batch.frame_of_atom, e_atom + offsets)
    d_energy = torch.zeros((n_frames, n_par), dtype=f64).index_add(0, batch.frame_of_atom, de_atom)
    unit = d / r.unsqueeze(1)
    out_f = d_f = out_s = d_s = None
    if forces:
        g = s.unsqueeze(1) * unit
        out_f = torch.zeros((n_atoms, 3), dtype=f64).index_add(0, ci, g).index_add(0, cj, -g)
        dg = unit.unsqueeze(2) * ds.unsqueeze(1)                              # (n_h, 3, P)
        d_f = torch.zeros((n_atoms, 3, n_par), dtype=f64).index_add(0, ci, dg).index_add(0, cj, -dg)
    if stress:
        a, b = VOIGT_ROWS, VOIGT_COLS
        w = d[:, a] * d[:, b] / r.unsqueeze(1)                                # (n_h, 6)
        volume = batch.volume.unsqueeze(1)
        out_s = torch.zeros((n_frames, 6), dtype=f64).index_add(0, frame_of_pair, w * s.unsqueeze(1)) / volume
        d_s = torch.zeros((n_frames, 6, n_par), dtype=f64).index_add(
            0, frame_of_pair, w.unsqueeze(2) * ds.unsqueeze(1)) / volume.unsqueeze(2)
    return (energy, out_f, out_s), (d_energy, d_f, d_s)
