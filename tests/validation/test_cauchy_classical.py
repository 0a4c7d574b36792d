"""The Cauchy relation: C12 = C44 for every central pair potential at zero pressure (a cubic
crystal with atoms at inversion centres), and not for the embedded-atom method."""

from __future__ import annotations

import pytest

from potforge.calculators.ase import PotforgeCalculator
from potforge.core.crystals import bulk_crystal
from potforge.validation.properties import elastic_constants, lattice_constant

from ..models import classical_cases as cc


def _cauchy(model, lattice="fcc"):
    calc = PotforgeCalculator(model)
    a0 = lattice_constant(calc, "Cu", lattice, a_guess=3.6 if lattice == "fcc" else 2.87).a0
    c = elastic_constants(calc, bulk_crystal("Cu", lattice, a0))
    return c.c12, c.c44


@pytest.mark.parametrize("form", ["morse", "lj", "buckingham", "spline"])
@pytest.mark.parametrize("lattice", ["fcc", "bcc"])
def test_pair_potentials_obey_cauchy(form, lattice):
    c12, c44 = _cauchy(cc.pair_model(form), lattice)
    assert abs(c12 - c44) < 0.5, (form, lattice, c12, c44)
    assert abs(c44) > 1.0          # not a trivially vanishing pair of constants


def test_eam_breaks_cauchy():
    c12, c44 = _cauchy(cc.eam_model())
    assert c12 - c44 > 5.0, (c12, c44)
