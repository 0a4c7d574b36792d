"""Classical models and structures for the LAMMPS comparison tests (physically sensible values)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk

from potforge.models.classical.base import Parameter
from potforge.models.classical.eam import EAM
from potforge.models.classical.pair import PairPotential
from potforge.models.classical.sw import StillingerWeber
from potforge.models.classical.tersoff import Tersoff
from potforge.models.classical.functions import embedding_form, radial_form
from potforge.data.lammps.parameter_files import SW_KEYS, TERSOFF_KEYS

#: Tersoff, PRB 39, 5566 (1989): LAMMPS potentials/SiCGe.tersoff, entries "Si(D)", "C" and the
#: mixed ones (renamed Si); the same Si numbers as the brief's "Si(C)" line except that LAMMPS
#: labels them Si(D) (Si(C) of PRB 38, 9902 has lambda3 = 1.7322, d = 16.218, h = -0.59826,
#: beta = 1.0999e-6).
SIC_TERSOFF = """\
# Tersoff PRB 39, 5566 (1989), from LAMMPS potentials/SiCGe.tersoff (Si(D) renamed Si)
C  C  C   3.0 1.0 0.0 3.8049e4 4.3484 -0.57058 0.72751 1.5724e-7  2.2119  346.7     1.95    0.15   3.4879  1393.6
Si Si Si  3.0 1.0 0.0 1.0039e5 16.217 -0.59825 0.78734 1.1000e-6  1.7322  471.18    2.85    0.15   2.4799  1830.8
C  Si Si  3.0 1.0 0.0 3.8049e4 4.3484 -0.57058 0.72751 1.5724e-7  1.97205 395.1223  2.3573  0.1527 2.9839  1597.3111
C  Si C   3.0 1.0 0.0 3.8049e4 4.3484 -0.57058 0.72751 1.5724e-7  0.0     0.0       1.95    0.15   0.0     0.0
C  C  Si  3.0 1.0 0.0 3.8049e4 4.3484 -0.57058 0.72751 1.5724e-7  0.0     0.0       2.3573  0.1527 0.0     0.0
Si C  C   3.0 1.0 0.0 1.0039e5 16.217 -0.59825 0.78734 1.1000e-6  1.97205 395.1223  2.3573  0.1527 2.9839  1597.3111
Si Si C   3.0 1.0 0.0 1.0039e5 16.217 -0.59825 0.78734 1.1000e-6  0.0     0.0       2.3573  0.1527 0.0     0.0
Si C  Si  3.0 1.0 0.0 1.0039e5 16.217 -0.59825 0.78734 1.1000e-6  0.0     0.0       2.85    0.15   0.0     0.0
"""

SI_TERSOFF_VALUES = [3.0, 1.0, 0.0, 1.0039e5, 16.217, -0.59825, 0.78734, 1.1000e-6, 1.7322, 471.18,
                     2.85, 0.15, 2.4799, 1830.8]
#: Stillinger & Weber, PRB 31, 5262 (1985), as in LAMMPS potentials/Si.sw
SI_SW_VALUES = [2.1683, 2.0951, 1.80, 21.0, 1.20, -0.333333333333, 7.049556277, 0.6022245584, 4.0,
                0.0, 0.0]


def tersoff_si(offset: float = 0.0) -> Tersoff:
    return Tersoff.from_entries(["Si"], [("Si", "Si", "Si", dict(zip(TERSOFF_KEYS, SI_TERSOFF_VALUES)))],
                                energy_offsets={"Si": offset})


def sw_si(offset: float = 0.0) -> StillingerWeber:
    return StillingerWeber.from_entries(["Si"], [("Si", "Si", "Si", dict(zip(SW_KEYS, SI_SW_VALUES)))],
                                        energy_offsets={"Si": offset})


def sw_sige() -> StillingerWeber:
    """A two-element SW (Si/Ge-like: Ge with 4 % larger sigma, 10 % weaker epsilon; mixed
    entries symmetric in j, k as LAMMPS assumes)."""
    base = dict(zip(SW_KEYS, SI_SW_VALUES))
    species = ["Si", "Ge"]
    eps = {"Si": 2.1683, "Ge": 1.93}
    sig = {"Si": 2.0951, "Ge": 2.181}
    entries = []
    for a in species:
        for b in species:
            for c in species:
                v = dict(base)
                v["epsilon"] = float(np.sqrt(eps[a] * eps[b])) if b == c else float(
                    np.sqrt(eps[a] * np.sqrt(eps[b] * eps[c])))
                v["sigma"] = 0.5 * (sig[a] + sig[b])
                v["lambda"] = 21.0 if a == "Si" else 31.0
                entries.append((a, b, c, v))
    return StillingerWeber.from_entries(species, entries)


def _params(prefix: str, **values: float) -> list[Parameter]:
    return [Parameter(f"{prefix}.{k}", float(v)) for k, v in values.items()]


def pair_morse_cu(offset: float = 0.0) -> PairPotential:
    """Morse Cu (Girifalco & Weizer-like numbers), cutoff 5.5 Å, switched over 1 Å."""
    forms = {"Cu-Cu": radial_form("morse", cutoff=5.5, key="pair.Cu-Cu")}
    return PairPotential(["Cu"], forms, _params("pair.Cu-Cu", D0=0.3429, alpha=1.3588, r0=2.866),
                         cutoff=5.5, smooth_width=1.0, energy_offsets={"Cu": offset})


def pair_mixed_cuni() -> PairPotential:
    """Cu-Cu Morse, Cu-Ni Lennard-Jones, Ni-Ni cubic B-spline: every form in one table file."""
    cutoff = 5.5
    forms = {"Cu-Cu": radial_form("morse", cutoff=cutoff, key="pair.Cu-Cu"),
             "Cu-Ni": radial_form("lj", cutoff=cutoff, key="pair.Cu-Ni"),
             "Ni-Ni": radial_form("spline", cutoff=cutoff, key="pair.Ni-Ni", n_knots=10, r_min=1.5)}
    # spline coefficients: a Morse-like curve (minimum near 2.5 Å) sampled at the knots
    knots = 1.5 + 0.4 * np.arange(-1, 9)
    e = np.exp(-1.4 * (knots - 2.5))
    c = 0.42 * (e * e - 2 * e) * np.clip((cutoff - 0.4 - knots) / 1.5, 0, 1)
    params = (_params("pair.Cu-Cu", D0=0.3429, alpha=1.3588, r0=2.866)
              + _params("pair.Cu-Ni", epsilon=0.35, sigma=2.30)
              + [Parameter(f"pair.Ni-Ni.c{k}", float(v)) for k, v in enumerate(c)])
    return PairPotential(["Cu", "Ni"], forms, params, cutoff=cutoff, smooth_width=1.0,
                         energy_offsets={"Cu": -0.5, "Ni": -1.25})


def eam_cu(offset: float = 0.0) -> EAM:
    """Single-element EAM: Morse pair, exponential density, universal embedding."""
    cutoff = 5.5
    return EAM(["Cu"], {"Cu-Cu": radial_form("morse", cutoff=cutoff, key="pair.Cu-Cu")},
               {"Cu": radial_form("exponential", cutoff=cutoff, key="density.Cu")},
               {"Cu": embedding_form("universal", key="embedding.Cu")},
               _params("pair.Cu-Cu", D0=0.15, alpha=1.6, r0=2.7)
               + _params("density.Cu", A=1.0, beta=5.5, re=2.556)
               + _params("embedding.Cu", F0=-2.3, eta=0.6, rho_e=12.0),
               cutoff=cutoff, smooth_width=1.0, energy_offsets={"Cu": offset})


def eam_cuni() -> EAM:
    """Two-element EAM: Zhou-type forms for Ni, Morse/exponential/fs for Cu, Morse cross pair."""
    cutoff = 5.6
    pair = {"Cu-Cu": radial_form("morse", cutoff=cutoff, key="pair.Cu-Cu"),
            "Cu-Ni": radial_form("morse", cutoff=cutoff, key="pair.Cu-Ni"),
            "Ni-Ni": radial_form("zhou_pair", cutoff=cutoff, key="pair.Ni-Ni")}
    density = {"Cu": radial_form("exponential", cutoff=cutoff, key="density.Cu"),
               "Ni": radial_form("zhou_density", cutoff=cutoff, key="density.Ni")}
    embedding = {"Cu": embedding_form("fs", key="embedding.Cu"),
                 "Ni": embedding_form("universal", key="embedding.Ni")}
    params = (_params("pair.Cu-Cu", D0=0.15, alpha=1.6, r0=2.7)
              + _params("pair.Cu-Ni", D0=0.17, alpha=1.55, r0=2.62)
              + _params("pair.Ni-Ni", A=0.44, B=0.63, alpha=8.38, beta=4.47, re=2.488,
                        kappa=0.44, lam=0.88)
              + _params("density.Cu", A=1.0, beta=5.5, re=2.556)
              + _params("density.Ni", fe=2.0, beta=4.47, re=2.488, lam=0.88)
              + _params("embedding.Cu", A=1.1, B=0.004)
              + _params("embedding.Ni", F0=-2.6, eta=0.55, rho_e=24.0))
    return EAM(["Cu", "Ni"], pair, density, embedding, params, cutoff=cutoff, smooth_width=1.0,
               energy_offsets={"Cu": -0.25, "Ni": -0.75})


def eam_repulsive_cuni() -> EAM:
    """A two-element EAM that funcfl (pair_style eam) can hold: purely repulsive exponential
    pairs whose Cu-Ni pair is the geometric mean of Cu-Cu and Ni-Ni (same r_e: A = √(A₁A₂),
    β = (β₁ + β₂)/2), exponential densities, fs / universal embedding."""
    cutoff = 5.6
    pair = {n: radial_form("exponential", cutoff=cutoff, key=f"pair.{n}") for n in ("Cu-Cu", "Cu-Ni", "Ni-Ni")}
    density = {s: radial_form("exponential", cutoff=cutoff, key=f"density.{s}") for s in ("Cu", "Ni")}
    embedding = {"Cu": embedding_form("fs", key="embedding.Cu"),
                 "Ni": embedding_form("universal", key="embedding.Ni")}
    params = (_params("pair.Cu-Cu", A=0.4, beta=8.0, re=2.5)
              + _params("pair.Cu-Ni", A=float(np.sqrt(0.4 * 0.5)), beta=7.5, re=2.5)
              + _params("pair.Ni-Ni", A=0.5, beta=7.0, re=2.5)
              + _params("density.Cu", A=1.0, beta=5.5, re=2.556)
              + _params("density.Ni", A=1.2, beta=5.0, re=2.49)
              + _params("embedding.Cu", A=1.1, B=0.004)
              + _params("embedding.Ni", F0=-2.6, eta=0.55, rho_e=14.0))
    return EAM(["Cu", "Ni"], pair, density, embedding, params, cutoff=cutoff, smooth_width=1.0,
               energy_offsets={"Cu": -0.25, "Ni": -0.75})


# -- structures ------------------------------------------------------------------------------------
def crystal(kind: str, symbols: tuple[str, ...], repeat: int = 3) -> Atoms:
    """The base crystal: fcc Cu or random fcc CuNi (108 atoms), diamond Si or random SiGe
    (216 atoms), zincblende SiC (216 atoms)."""
    if kind == "fcc":
        atoms = bulk("Cu", "fcc", a=3.615, cubic=True) * (repeat, repeat, repeat)
    elif kind == "diamond":
        atoms = bulk("Si", "diamond", a=5.431 if "Ge" not in symbols else 5.54, cubic=True) * (repeat, repeat, repeat)
    elif kind == "zincblende":
        atoms = bulk("SiC", "zincblende", a=4.36, cubic=True) * (repeat, repeat, repeat)
        return atoms
    else:
        raise ValueError(kind)
    if len(symbols) == 1:
        atoms.symbols = [symbols[0]] * len(atoms)
    else:
        rng = np.random.default_rng(7)
        atoms.symbols = list(rng.choice(list(symbols), size=len(atoms)))
    return atoms


def structures(kind: str, symbols: tuple[str, ...], seed: int = 1) -> dict[str, Atoms]:
    """(a) rattled crystal, (b) vacancy, (c) (001) slab with vacuum (pbc all True), (d) sheared
    triclinic cell; all rattled by 0.1 Å (b–d by 0.05 Å) so no force vanishes by symmetry."""
    rng = np.random.default_rng(seed)
    base = crystal(kind, symbols)
    out = {}
    a = base.copy()
    a.rattle(0.1, rng=rng)
    out["rattled"] = a
    v = base.copy()
    del v[len(v) // 2]
    v.rattle(0.05, rng=rng)
    out["vacancy"] = v
    s = base.copy()
    cell = s.cell.array.copy()
    cell[2, 2] += 10.0
    s.set_cell(cell, scale_atoms=False)
    s.center(axis=2)
    s.rattle(0.05, rng=rng)
    s.pbc = True
    out["slab"] = s
    t = base.copy()
    cell = t.cell.array.copy()
    L = cell[0, 0]
    sheared = cell + np.array([[0.0, 0.0, 0.0], [0.12 * L, 0.0, 0.0], [-0.08 * L, 0.1 * L, 0.0]])
    # rotate the whole thing so that the cell is a general (not lower-triangular) one
    t.set_cell(sheared, scale_atoms=True)
    t.rattle(0.05, rng=rng)
    t.rotate(25, (1, 2, 3), rotate_cell=True)
    out["triclinic"] = t
    return out
