"""More classical cases for the shared contract (contract.py; every kind passes it through the
registry in test_registry_contract.py): every pair form, a two-element EAM of mixed forms,
a two-element Tersoff."""

from __future__ import annotations

import numpy as np
import pytest

from potforge.models.classical.eam import SetflEAM

from ..models import classical_cases as cc
from . import contract


def _setfl():
    return SetflEAM(cc.eam_model().to_setfl(nr=4000, nrho=4000, rho_max=60.0))


CASES = {
    "pair_morse": (lambda: cc.pair_model("morse"), cc.cu_box),
    "pair_lj": (lambda: cc.pair_model("lj"), cc.cu_box),
    "pair_buckingham": (lambda: cc.pair_model("buckingham"), cc.cu_box),
    "pair_spline": (lambda: cc.pair_model("spline"), cc.cu_box),
    "eam_analytic": (cc.eam_model, cc.cu_box),
    "eam_alloy_mixed_forms": (cc.eam_alloy_model, cc.cu_ni_box),
    "eam_setfl": (_setfl, cc.cu_box),
    "tersoff_si": (cc.tersoff_si, cc.si_box),
    "tersoff_sic": (cc.tersoff_sic, cc.sic_box),
    "sw_si": (cc.sw_si, cc.si_box),
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request):
    make_model, make_box = CASES[request.param]
    model = make_model()
    model.energy_offsets = {s: -0.5 * (k + 1) for k, s in enumerate(model.species)}
    box = make_box(1)
    return request.param, model, box, cc.cluster(box, 9)


def test_forces_finite_differences(case):
    name, model, box, cluster = case
    # the setfl table is a piecewise cubic: keep the steps well inside one grid interval
    h = 2e-5 if name == "eam_setfl" else 1e-4
    contract.forces_match_finite_differences(model, box, h=h, atoms_to_check=range(5), rtol=1e-5, atol=1e-6)
    contract.forces_match_finite_differences(model, cluster, h=h, rtol=1e-5, atol=1e-6)


def test_stress_finite_differences(case):
    _, model, box, _ = case
    contract.stress_matches_finite_differences(model, box, rtol=1e-5, atol=1e-8)


def test_invariances(case, rng):
    _, model, box, cluster = case
    for atoms in (box, cluster):
        contract.invariant_under_rotation(model, atoms, rng)
        contract.invariant_under_translation(model, atoms)
        contract.invariant_under_permutation(model, atoms, rng)
    contract.invariant_under_periodic_image_choice(model, box, rng)


def test_smooth_at_cutoff(case):
    name, model, _, cluster = case
    centre = cluster.positions.mean(axis=0)
    far = int(np.argmax(np.linalg.norm(cluster.positions - centre, axis=1)))
    # F = −A√ρ (Finnis–Sinclair) has an infinite slope at ρ = 0: the force on an atom leaving
    # its last neighbour vanishes only as δ^{3/2 − 1} = δ^{1/2} for the quintic switch (ρ ~ δ³)
    # Tersoff's sine cutoff is only C¹ (f_C″ ≠ 0 at R + D): there the force falls linearly in δ
    loose = name in ("eam_analytic", "eam_setfl") or name.startswith("tersoff")
    contract.smooth_at_cutoff(model, cluster, far, cluster.positions[far] - centre,
                              force_tol=0.05 if loose else 1e-4)


def test_batch_fragments_and_saving(case, tmp_path):
    from potforge.models import load_potential

    _, model, box, cluster = case
    contract.batch_equals_single(model, [box, cluster, box])
    half = len(cluster) // 2
    contract.fragments_add_up(model, cluster[:half], cluster[half:])
    model.save(tmp_path / "m")
    again = load_potential(tmp_path / "m")
    assert type(again) is type(model)
    p, q = model.predict(box), again.predict(box)
    assert p.energy == q.energy
    np.testing.assert_array_equal(p.forces, q.forces)
    np.testing.assert_array_equal(p.stress, q.stress)
