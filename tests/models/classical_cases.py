"""Classical potentials and structures shared by the classical tests."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk

from potforge.models.classical.base import Parameter
from potforge.models.classical.sw import StillingerWeber
from potforge.models.classical.tersoff import Tersoff
from potforge.models.classical.spec import potential_from_spec
from potforge.data.lammps.parameter_files import SW_KEYS, TERSOFF_KEYS

#: Tersoff, PRB 38, 9902 (1988), Si(C) in LAMMPS form (as in LAMMPS potentials/SiCGe.tersoff)
TERSOFF_SI_C = dict(zip(TERSOFF_KEYS, [3.0, 1.0, 1.7322, 1.0039e5, 16.218, -0.59826, 0.78734, 1.0999e-6,
                                       1.7322, 471.18, 2.85, 0.15, 2.4799, 1830.8]))
#: Tersoff, PRB 37, 6991 (1988), Si(B) in LAMMPS form
TERSOFF_SI_B = dict(zip(TERSOFF_KEYS, [3.0, 1.0, 1.3258, 4.8381, 2.0417, 0.0, 22.956, 0.33675,
                                       1.3258, 95.373, 3.0, 0.2, 3.2394, 3264.7]))
#: Stillinger & Weber, PRB 31, 5262 (1985), silicon, in LAMMPS form
SW_SI = dict(zip(SW_KEYS, [2.1683, 2.0951, 1.80, 21.0, 1.20, -1.0 / 3.0, 7.049556277, 0.6022245584,
                           4.0, 0.0, 0.0]))

EAM_CU = {"cutoff": 5.0, "smooth_width": 1.0,
          "pair": {"Cu-Cu": {"form": "morse", "D0": 0.25, "alpha": 1.5, "r0": 2.7}},
          "density": {"Cu": {"form": "exponential", "A": {"value": 1.0, "fixed": True}, "beta": 3.0,
                             "re": {"value": 2.55, "fixed": True}}},
          "embedding": {"Cu": {"form": "fs", "A": 1.2, "B": 0.002}}}

EAM_ALLOY = {"cutoff": 4.8, "smooth_width": 1.2,
             "pair": {"Cu-Cu": {"form": "morse", "D0": 0.25, "alpha": 1.5, "r0": 2.7},
                      "Cu-Ni": {"form": "spline", "n_knots": 6, "r_min": 1.8,
                                "coefficients": [1.2, 0.3, -0.2, -0.15, -0.05, 0.01]},
                      "Ni-Ni": {"form": "zhou_pair", "A": 0.4, "B": 0.6, "alpha": 8.0, "beta": 4.5,
                                "re": 2.49, "kappa": 0.4, "lam": 0.8}},
             "density": {"Cu": {"form": "exponential", "A": 1.0, "beta": 3.0, "re": 2.55},
                         "Ni": {"form": "zhou_density", "fe": 1.2, "beta": 5.0, "re": 2.49, "lam": 0.8}},
             "embedding": {"Cu": {"form": "universal", "F0": -2.2, "eta": 0.6, "rho_e": 10.0},
                           "Ni": {"form": "spline", "n_knots": 7, "rho_max": 30.0,
                                  "coefficients": [0.5, 0.0, -1.5, -2.5, -3.0, -3.2, -3.0]}}}


def pair_model(form: str = "morse"):
    forms = {"morse": {"form": "morse", "D0": 0.34, "alpha": 1.36, "r0": 2.63},
             "lj": {"form": "lj", "epsilon": 0.4, "sigma": 2.3},
             "buckingham": {"form": "buckingham", "A": 2000.0, "rho": 0.3, "C": 160.0},
             "spline": {"form": "spline", "n_knots": 8, "r_min": 1.8,
                        "coefficients": [1.5, 0.4, -0.25, -0.3, -0.12, -0.05, 0.02, 0.01]}}
    return potential_from_spec("pair", {"cutoff": 5.0, "smooth_width": 1.0, "pair": {"Cu-Cu": forms[form]}}, ["Cu"])


def eam_model():
    return potential_from_spec("eam", EAM_CU, ["Cu"])


def eam_alloy_model():
    return potential_from_spec("eam", EAM_ALLOY, ["Cu", "Ni"])


def tersoff_si(values=TERSOFF_SI_C):
    return Tersoff.from_entries(["Si"], [("Si", "Si", "Si", values)])


def tersoff_sic():
    """A two-element Tersoff (Si, C) with physical but invented cross terms."""
    c_vals = dict(TERSOFF_SI_C, c=38049.0, d=4.3484, costheta0=-0.57058, n=0.72751, beta=1.5724e-7,
                  lambda2=2.2119, B=346.74, R=1.95, D=0.15, lambda1=3.4879, A=1393.6)
    entries = []
    for a in ("Si", "C"):
        for b in ("Si", "C"):
            for c in ("Si", "C"):
                base = TERSOFF_SI_C if a == "Si" else c_vals
                v = dict(base)
                if b != a:  # mixed two-body values for i-j pairs of different elements
                    v.update(A=1597.3, B=395.13, lambda1=2.9839, lambda2=1.9887, R=2.36, D=0.15)
                if c != a:
                    v.update(R=2.36, D=0.15)
                entries.append((a, b, c, v))
    return Tersoff.from_entries(["Si", "C"], entries)


def sw_si():
    return StillingerWeber.from_entries(["Si"], [("Si", "Si", "Si", SW_SI)])


def cu_box(seed: int = 0, a: float = 3.61, rattle: float = 0.08) -> Atoms:
    atoms = bulk("Cu", "fcc", a, cubic=True).repeat((2, 2, 2))
    atoms.rattle(rattle, seed=seed)
    cell = np.asarray(atoms.cell) @ (np.eye(3) + np.array([[0.0, 0.02, 0.0], [0.0, 0.0, -0.01], [0.015, 0.0, 0.0]]))
    atoms.set_cell(cell, scale_atoms=True)
    return atoms


def cu_ni_box(seed: int = 0) -> Atoms:
    atoms = cu_box(seed, a=3.56)
    rng = np.random.default_rng(seed)
    symbols = np.array(atoms.get_chemical_symbols())
    symbols[rng.random(len(atoms)) < 0.4] = "Ni"
    atoms.set_chemical_symbols(list(symbols))
    return atoms


def cluster(atoms: Atoms, n: int = 8) -> Atoms:
    """n atoms nearest the first one, as an open cluster."""
    d = np.linalg.norm(atoms.positions - atoms.positions[0], axis=1)
    out = atoms[np.argsort(d)[:n]].copy()
    out.pbc = False
    out.cell = None
    return out


def si_box(seed: int = 0, a: float = 5.43, rattle: float = 0.1) -> Atoms:
    atoms = bulk("Si", "diamond", a, cubic=True)
    atoms.rattle(rattle, seed=seed)
    cell = np.asarray(atoms.cell) @ (np.eye(3) + np.array([[0.0, 0.015, 0.0], [0.0, 0.0, 0.01], [-0.02, 0.0, 0.0]]))
    atoms.set_cell(cell, scale_atoms=True)
    return atoms.repeat((1, 1, 2))


def sic_box(seed: int = 0) -> Atoms:
    atoms = bulk("SiC", "zincblende", 4.36, cubic=True).repeat((1, 1, 2))
    atoms.rattle(0.08, seed=seed)
    return atoms


def with_parameters(model, values: dict[str, float]):
    out = model.copy()
    out.set_values(values)
    return out


__all__ = ["Parameter"]
