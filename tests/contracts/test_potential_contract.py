"""More HDNNP cases for the shared contract (contract.py; every kind passes it through the
registry in test_registry_contract.py): n2p2's water HDNNP (real weights) and random-weight
HDNNPs that use every symmetry-function type, several cutoff functions and all activation
functions.
"""

from __future__ import annotations

import numpy as np
import pytest

from potforge.data.io import read_frames

from ..helpers import all_types_set, random_structure, synthetic_hdnnp
from . import contract


def _water_cases(water_model, water_dir):
    frames = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")
    box = frames[1].atoms  # 48 atoms, periodic
    cluster = box[:12].copy()  # four molecules as an open cluster
    cluster.pbc = False
    cluster.cell = None
    return water_model, box, cluster


def _synthetic_cases(seed, activations, cutoff_type, normalize=False):
    rng = np.random.default_rng(seed)
    sfs = all_types_set(rc=4.0, cutoff_type=cutoff_type, alpha=0.0 if cutoff_type.startswith("tanh") else 0.15)
    box = random_structure(rng, n_atoms=9, cell_size=3.9)
    cluster = random_structure(rng, n_atoms=8, periodic=False, cell_size=3.6)
    model = synthetic_hdnnp(rng, sfs, hidden=(7, 5), activations=activations, normalize=normalize,
                            structures=[box, cluster])
    return model, box, cluster


MODELS = {
    "water_n2p2": None,
    "synthetic_tanh_tanhu": (1, "ttl", "tanhu", False),
    "synthetic_softplus_cos": (2, "psl", "cos", True),
    "synthetic_gauss_poly2": (3, "gcl", "poly2", False),
    "synthetic_misc_exp": (4, "Seh", "exp", False),
}


@pytest.fixture(params=list(MODELS), scope="module")
def case(request, water_model, water_dir):
    spec = MODELS[request.param]
    if spec is None:
        return _water_cases(water_model, water_dir)
    return _synthetic_cases(*spec)


def test_forces_finite_differences(case):
    model, box, cluster = case
    # large total energies (water: -33,000 eV) need a larger step against rounding; the
    # synthetic models include functions that are only C1 (p1 windows), which need a small one
    h = 1e-3 if abs(model.mean_energy) > 100 else 1e-4
    contract.forces_match_finite_differences(model, box, h=h, atoms_to_check=range(min(len(box), 8)))
    contract.forces_match_finite_differences(model, cluster, h=h)


def test_stress_finite_differences(case):
    model, box, _ = case
    contract.stress_matches_finite_differences(model, box)


def test_rotation_translation_permutation(case, rng):
    model, box, cluster = case
    for atoms in (box, cluster):
        contract.invariant_under_rotation(model, atoms, rng)
        contract.invariant_under_translation(model, atoms)
        contract.invariant_under_permutation(model, atoms, rng)


def test_periodic_image_choice(case, rng):
    model, box, _ = case
    contract.invariant_under_periodic_image_choice(model, box, rng)


def test_smooth_at_cutoff(case):
    model, _, cluster = case
    if model.symmetry_functions.functions[model.species[0]][0].cutoff_type == "hard":
        pytest.skip("hard cutoff is not smooth by design")
    centre = cluster.positions.mean(axis=0)
    far = int(np.argmax(np.linalg.norm(cluster.positions - centre, axis=1)))
    contract.smooth_at_cutoff(model, cluster, far, cluster.positions[far] - centre)


def test_batch_equals_single(case):
    model, box, cluster = case
    contract.batch_equals_single(model, [box, cluster, box])


def test_fragments_add_up(case):
    model, _, cluster = case
    half = len(cluster) // 2
    contract.fragments_add_up(model, cluster[:half], cluster[half:])


def test_float32_all_types_close_to_float64(rng):
    """Every symmetry-function type through the float32 kernels (each architecture)."""
    from potforge import _native

    model, box, cluster = _synthetic_cases(5, "ttl", "tanhu")
    for atoms in (box, cluster):
        ref = model.predict(atoms)
        for arch in _native.supported_architectures():
            import os

            os.environ["POTFORGE_KERNEL_ARCH"] = arch
            try:
                model.dtype = "float32"
                model._kernel = None
                p = model.predict(atoms)
            finally:
                os.environ.pop("POTFORGE_KERNEL_ARCH")
                model.dtype = "float64"
                model._kernel = None
            scale = np.abs(ref.forces).max()
            assert abs(p.energy - ref.energy) < 1e-5 * max(1.0, abs(ref.energy)), arch
            assert np.abs(p.forces - ref.forces).max() < 1e-4 * max(1.0, scale), arch
