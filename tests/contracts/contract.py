"""The checks every :class:`~potforge.models.potential.Potential` must pass.

Each function takes a potential and a structure and raises AssertionError with a message on
failure. test_registry_contract.py runs them over every registered model kind, on the example
its family registers: a new family passes them by registering. test_potential_contract.py and
test_classical_contract.py run them on more cases of the HDNNP and classical families (real
n2p2 weights, every activation and symmetry-function type, every classical form).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation


def _energy(potential, atoms):
    return potential.predict(atoms, forces=False, stress=False).energy


def forces_match_finite_differences(potential, atoms, h=1e-3, atoms_to_check=None, rtol=1e-6, atol=1e-7):
    """Fourth-order central differences of the energy (step h, Å) against the analytic forces.

    The tolerance adds the rounding noise of the energy differences, ~10 ε |E| / h, which
    matters for models with large total energies (e.g. -33,000 eV for 48 water atoms).
    """
    p0 = potential.predict(atoms)
    forces = p0.forces
    noise = 10 * np.finfo(float).eps * max(1.0, abs(p0.energy)) / h
    check = range(len(atoms)) if atoms_to_check is None else atoms_to_check
    worst = 0.0
    for i in check:
        for c in range(3):
            e = {}
            for step in (-2, -1, 1, 2):
                moved = atoms.copy()
                moved.positions[i, c] += step * h
                e[step] = _energy(potential, moved)
            numeric = -(-e[2] + 8 * e[1] - 8 * e[-1] + e[-2]) / (12 * h)
            err = abs(numeric - forces[i, c])
            worst = max(worst, err)
            assert err <= atol + noise + rtol * abs(numeric), (
                f"atom {i} component {c}: analytic {forces[i, c]:.10g} vs finite difference {numeric:.10g}")
    return worst


def stress_matches_finite_differences(potential, atoms, h=1e-6, rtol=1e-5, atol=1e-7):
    """σ_ab V = dE/dF_ab at F = 1 for the deformation F = 1 + h e_a e_b^T (central)."""
    assert np.all(atoms.pbc)
    stress = potential.predict(atoms).stress
    full = np.array([[stress[0], stress[5], stress[4]], [stress[5], stress[1], stress[3]],
                     [stress[4], stress[3], stress[2]]])
    volume = atoms.get_volume()
    for a in range(3):
        for b in range(3):
            values = []
            for sign in (1, -1):
                F = np.eye(3)
                F[a, b] += sign * h
                strained = atoms.copy()
                strained.set_cell(np.asarray(atoms.cell) @ F.T, scale_atoms=False)
                strained.positions = atoms.positions @ F.T
                values.append(_energy(potential, strained))
            numeric = (values[0] - values[1]) / (2 * h) / volume
            assert abs(numeric - full[a, b]) <= atol + rtol * abs(numeric), (
                f"stress {a}{b}: analytic {full[a, b]:.10g} vs finite difference {numeric:.10g} eV/Å³")


def invariant_under_rotation(potential, atoms, rng, tol=1e-9):
    R = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
    p0 = potential.predict(atoms)
    rotated = atoms.copy()
    rotated.positions = atoms.positions @ R.T
    if np.any(atoms.pbc):
        rotated.set_cell(np.asarray(atoms.cell) @ R.T, scale_atoms=False)
    p1 = potential.predict(rotated)
    assert abs(p1.energy - p0.energy) <= tol * max(1.0, abs(p0.energy)), "energy changed on rotation"
    np.testing.assert_allclose(p1.forces, p0.forces @ R.T, rtol=0, atol=tol * 10,
                               err_msg="forces do not rotate with the structure")
    if p0.stress is not None:
        s0 = _full(p0.stress)
        np.testing.assert_allclose(_full(p1.stress), R @ s0 @ R.T, rtol=0, atol=tol,
                                   err_msg="stress does not rotate with the structure")


def invariant_under_translation(potential, atoms, tol=1e-9):
    p0 = potential.predict(atoms)
    moved = atoms.copy()
    moved.positions += np.array([0.37, -1.91, 2.53])
    p1 = potential.predict(moved)
    assert abs(p1.energy - p0.energy) <= tol * max(1.0, abs(p0.energy))
    np.testing.assert_allclose(p1.forces, p0.forces, rtol=0, atol=tol * 10)


def invariant_under_permutation(potential, atoms, rng, tol=1e-9):
    p0 = potential.predict(atoms)
    order = rng.permutation(len(atoms))
    permuted = atoms[order]
    p1 = potential.predict(permuted)
    assert abs(p1.energy - p0.energy) <= tol * max(1.0, abs(p0.energy))
    np.testing.assert_allclose(p1.energies, p0.energies[order], rtol=0, atol=tol)
    np.testing.assert_allclose(p1.forces, p0.forces[order], rtol=0, atol=tol * 10)


def invariant_under_periodic_image_choice(potential, atoms, rng, tol=1e-9):
    """Atoms moved by lattice vectors, an equivalent (sheared) choice of cell vectors, and a
    2x1x1 supercell (extensive energy, repeated forces) all give the same physics."""
    assert np.all(atoms.pbc)
    p0 = potential.predict(atoms)
    shifted = atoms.copy()
    shifts = rng.integers(-2, 3, size=(len(atoms), 3))
    shifted.positions += shifts @ np.asarray(atoms.cell)
    p1 = potential.predict(shifted)
    assert abs(p1.energy - p0.energy) <= tol * max(1.0, abs(p0.energy)), "lattice-vector shift"
    np.testing.assert_allclose(p1.forces, p0.forces, rtol=0, atol=tol * 10)
    cell = np.asarray(atoms.cell)
    other = atoms.copy()
    other.set_cell(np.array([cell[0], cell[1] + cell[0], cell[2] - cell[1]]), scale_atoms=False)
    p2 = potential.predict(other)
    assert abs(p2.energy - p0.energy) <= tol * max(1.0, abs(p0.energy)), "equivalent cell vectors"
    np.testing.assert_allclose(p2.forces, p0.forces, rtol=0, atol=tol * 10)
    np.testing.assert_allclose(p2.stress, p0.stress, rtol=0, atol=tol)
    big = atoms.repeat((2, 1, 1))
    p3 = potential.predict(big)
    assert abs(p3.energy - 2 * p0.energy) <= 2 * tol * max(1.0, abs(p0.energy)), "supercell energy"
    np.testing.assert_allclose(p3.forces, np.concatenate([p0.forces, p0.forces]), rtol=0, atol=tol * 10)
    np.testing.assert_allclose(p3.stress, p0.stress, rtol=0, atol=tol)


def smooth_at_cutoff(potential, atoms, moving: int, direction, deltas=(1e-2, 1e-3, 1e-4),
                     force_tol=1e-4):
    """Move atom ``moving`` along ``direction`` until it leaves everyone's cutoff sphere:
    the energy approaches its value outside continuously and the force on it vanishes."""
    direction = np.asarray(direction, float) / np.linalg.norm(direction)
    rc = potential.cutoff
    others = np.delete(atoms.positions, moving, axis=0)
    # distance along the path at which the last neighbour is exactly rc away
    def closest_beyond(t):
        p = atoms.positions[moving] + t * direction
        return np.linalg.norm(others - p, axis=1).min()
    lo, hi = 0.0, 10 * rc
    assert closest_beyond(hi) > rc
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if closest_beyond(mid) < rc:
            lo = mid
        else:
            hi = mid
    t_c = hi
    outside = atoms.copy()
    outside.positions[moving] += (t_c + 0.05) * direction
    e_out = _energy(potential, outside)
    previous = None
    for d in deltas:
        inside = atoms.copy()
        inside.positions[moving] += (t_c - d) * direction
        p = potential.predict(inside)
        gap = abs(p.energy - e_out)
        force = np.linalg.norm(p.forces[moving])
        if previous is not None:
            assert gap <= previous[0] * 0.5 + 1e-12, f"energy gap at rc - {d}: {gap} does not shrink"
            assert force <= previous[1] * 0.5 + 1e-12, f"force at rc - {d}: {force} does not shrink"
        previous = (gap, force)
    assert previous[0] < 1e-6 and previous[1] < force_tol, previous


def batch_equals_single(potential, structures):
    batch = potential.predict_many(structures)
    for atoms, p in zip(structures, batch):
        q = potential.predict(atoms)
        assert p.energy == q.energy
        np.testing.assert_array_equal(p.forces, q.forces)
        if q.stress is not None:
            np.testing.assert_array_equal(p.stress, q.stress)


def fragments_add_up(potential, a: Atoms, b: Atoms, tol=1e-9):
    """Two open fragments far apart: energies add, forces are those of each alone."""
    pa, pb = potential.predict(a), potential.predict(b)
    far = b.copy()
    far.positions += np.array([3 * potential.cutoff + 20.0, 0, 0])
    joint = a + far
    pj = potential.predict(joint)
    assert abs(pj.energy - pa.energy - pb.energy) <= tol * max(1.0, abs(pj.energy))
    np.testing.assert_allclose(pj.forces, np.concatenate([pa.forces, pb.forces]), rtol=0, atol=tol)


def _full(v):
    return np.array([[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]])
