"""Small instances of the classical kinds for the shared contract tests: Cu (pair, EAM, setfl)
and Si (Tersoff Si(C), Stillinger–Weber) in rattled, sheared cells, with energy offsets."""

from __future__ import annotations

from ...data.lammps.parameter_files import SW_KEYS, TERSOFF_KEYS
from ..examples import nearest_cluster, strained_crystal
from ..registry import ModelExample
from .base import ClassicalPotential
from .eam_tables import FuncflEAM, SetflEAM
from .spec import potential_from_spec
from .sw import StillingerWeber
from .tersoff import Tersoff

__all__ = ["pair_example", "eam_example", "setfl_example", "funcfl_example", "tersoff_example", "sw_example"]

_SHEAR = [[0.0, 0.02, 0.0], [0.0, 0.0, -0.01], [0.015, 0.0, 0.0]]
#: Tersoff, PRB 38, 9902 (1988), Si(C), in LAMMPS form (as in LAMMPS potentials/SiCGe.tersoff)
TERSOFF_SI_C = dict(zip(TERSOFF_KEYS, [3.0, 1.0, 1.7322, 1.0039e5, 16.218, -0.59826, 0.78734, 1.0999e-6,
                                       1.7322, 471.18, 2.85, 0.15, 2.4799, 1830.8]))
#: Stillinger & Weber, PRB 31, 5262 (1985), silicon, in LAMMPS form
SW_SI = dict(zip(SW_KEYS, [2.1683, 2.0951, 1.80, 21.0, 1.20, -1.0 / 3.0, 7.049556277, 0.6022245584,
                           4.0, 0.0, 0.0]))
_EAM_CU = {"cutoff": 5.0, "smooth_width": 1.0,
           "pair": {"Cu-Cu": {"form": "morse", "D0": 0.25, "alpha": 1.5, "r0": 2.7}},
           "density": {"Cu": {"form": "exponential", "A": 1.0, "beta": 3.0, "re": 2.55}},
           "embedding": {"Cu": {"form": "fs", "A": 1.2, "B": 0.002}}}


def _cu(model: ClassicalPotential, **options) -> ModelExample:
    from ase.build import bulk  # here: ase.build costs 0.4 s at import, and examples run in tests only

    model.energy_offsets = {s: -0.5 * (k + 1) for k, s in enumerate(model.species)}
    box = strained_crystal(bulk("Cu", "fcc", 3.61, cubic=True).repeat((2, 2, 2)), 0, 0.08, _SHEAR)
    return ModelExample(model, box, nearest_cluster(box, 9), **options)


def _si(model: ClassicalPotential, **options) -> ModelExample:
    from ase.build import bulk

    model.energy_offsets = {s: -0.5 * (k + 1) for k, s in enumerate(model.species)}
    box = strained_crystal(bulk("Si", "diamond", 5.43, cubic=True), 0, 0.1,
                           [[0.0, 0.015, 0.0], [0.0, 0.0, 0.01], [-0.02, 0.0, 0.0]]).repeat((1, 1, 2))
    return ModelExample(model, box, nearest_cluster(box, 9), **options)


def pair_example() -> ModelExample:
    spline = {"form": "spline", "n_knots": 8, "r_min": 1.8,
              "coefficients": [1.5, 0.4, -0.25, -0.3, -0.12, -0.05, 0.02, 0.01]}
    return _cu(potential_from_spec("pair", {"cutoff": 5.0, "smooth_width": 1.0,
                                            "pair": {"Cu-Cu": spline}}, ["Cu"]))


def eam_example() -> ModelExample:
    # F = −A√ρ (Finnis–Sinclair) has an infinite slope at ρ = 0: the force on an atom leaving
    # its last neighbour vanishes only as δ^{1/2} for the quintic switch (ρ ~ δ³)
    return _cu(potential_from_spec("eam", _EAM_CU, ["Cu"]), cutoff_force_tolerance=0.05)


def setfl_example() -> ModelExample:
    eam = potential_from_spec("eam", _EAM_CU, ["Cu"])
    # the table is a piecewise cubic: finite differences must stay inside one grid interval
    return _cu(SetflEAM(eam.to_setfl(nr=4000, nrho=4000, rho_max=60.0)), fd_step=2e-5,
               cutoff_force_tolerance=0.05)


def funcfl_example() -> ModelExample:
    # a purely repulsive pair term (funcfl holds it as Z(r)²), tabulated as LAMMPS reads it
    spec = dict(_EAM_CU, pair={"Cu-Cu": {"form": "exponential", "A": 0.3, "beta": 7.0, "re": 2.55}})
    eam = potential_from_spec("eam", spec, ["Cu"])
    return _cu(FuncflEAM(eam.to_funcfl(nr=4000, nrho=4000, rho_max=60.0), ["Cu"]), fd_step=2e-5,
               cutoff_force_tolerance=0.05)


def tersoff_example() -> ModelExample:
    # Tersoff's sine cutoff is only C¹ (f_C″ ≠ 0 at R + D): the force falls linearly in δ there
    return _si(Tersoff.from_entries(["Si"], [("Si", "Si", "Si", TERSOFF_SI_C)]),
               cutoff_force_tolerance=0.05)


def sw_example() -> ModelExample:
    return _si(StillingerWeber.from_entries(["Si"], [("Si", "Si", "Si", SW_SI)]))
