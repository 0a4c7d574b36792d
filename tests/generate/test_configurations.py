"""Configuration generators: every kind gives valid, tagged structures of the stated geometry
(strain recovered from the cell, defects at their sites, faults displaced by the stated vector,
surfaces oriented and separated by vacuum), MD is seeded and decorrelated, farthest-point
selection is deterministic, and config errors are one line naming the key."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from potforge.core.errors import ConfigError, StructureError
from potforge.core.crystals import lattice_constants, nearest_neighbor_distance, strain_tensor
from potforge.generate import farthest_point_selection
from potforge.generate.common import check_structure_valid
from potforge.generate.common import parent_crystal as bulk_crystal
from potforge.generate.configurations import generate_structures, generation_config
from potforge.generate.crystal import bulk_structures, eos_structures, rattle_structures, strain_structures
from potforge.generate.defects import interstitial_structures, vacancy_structures
from potforge.generate.dynamics import md_snapshots
from potforge.generate.planar import FAULT_SYSTEMS, stacking_fault_structures, surface_slab

A_AL = 4.05


def min_distance(atoms) -> float:
    """Smallest interatomic distance with periodic images, by brute force (independent of
    potforge's neighbour list)."""
    cell = np.asarray(atoms.cell)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) @ cell
    d = atoms.positions[:, None, None, :] - atoms.positions[None, :, None, :] + shifts[None, None]
    r = np.linalg.norm(d, axis=-1)
    n = len(atoms)
    r[np.arange(n), np.arange(n), 13] = np.inf  # the atom itself (zero shift is index 13)
    return float(r.min())


def assert_valid(structures, config_type, nn=A_AL / np.sqrt(2)):
    assert structures
    for atoms in structures:
        assert atoms.info["config_type"] == config_type
        assert isinstance(atoms.info["group"], str) and atoms.info["group"]
        assert np.all(np.isfinite(atoms.positions))
        assert abs(np.linalg.det(np.asarray(atoms.cell))) > 1.0
        if len(atoms) > 1:
            assert min_distance(atoms) >= 0.5 * nn - 1e-9


# -- crystals ------------------------------------------------------------------------------------
def test_lattice_constants_reference_and_equal_volume():
    assert lattice_constants("Al", "fcc") == (4.05, None)
    a_bcc, _ = lattice_constants("Al", "bcc")
    a_hcp, c_hcp = lattice_constants("Al", "hcp")
    v = A_AL**3 / 4
    assert a_bcc**3 / 2 == pytest.approx(v)
    assert np.sqrt(3) / 4 * a_hcp**2 * c_hcp == pytest.approx(v)
    assert c_hcp / a_hcp == pytest.approx(np.sqrt(8 / 3))
    assert lattice_constants("Al", "bcc", a=3.3) == (3.3, None)


def test_bulk_phases_tagged_with_one_group_each():
    out = bulk_structures("Al", ["fcc", "bcc", "hcp", "diamond", "sc"], supercell=(2, 2, 2))
    assert_valid(out, "bulk")
    assert [a.info["phase"] for a in out] == ["fcc", "bcc", "hcp", "diamond", "sc"]
    assert len({a.info["group"] for a in out}) == 5
    vols = [a.get_volume() / len(a) for a in out]
    assert np.allclose(vols, A_AL**3 / 4)  # competing phases at equal volume per atom


def test_eos_volumes_span_the_range():
    parent = bulk_crystal("Al", "fcc", supercell=(1, 1, 1))
    out = eos_structures(parent, (-0.06, 0.06), 7)
    assert_valid(out, "eos", nn=A_AL / np.sqrt(2) * 0.98)
    v0 = parent.get_volume()
    assert np.allclose([a.get_volume() / v0 - 1 for a in out], np.linspace(-0.06, 0.06, 7))
    assert len({a.info["group"] for a in out}) == 1
    lin = eos_structures(parent, (-0.02, 0.02), 3, mode="linear")
    assert lin[0].cell.lengths()[0] / parent.cell.lengths()[0] == pytest.approx(0.98)


# -- strains -------------------------------------------------------------------------------------
def test_strains_have_the_stated_voigt_components():
    parent = bulk_crystal("Al", "fcc", cubic=True)
    out = strain_structures(parent, [0.01, 0.02])
    assert_valid(out, "strain", nn=A_AL / np.sqrt(2) * 0.97)
    assert len(out) == 6 * 2 * 2
    seen = set()
    ref = np.asarray(parent.cell)
    for atoms in out:
        e = atoms.info["strain_voigt"]
        f = np.linalg.solve(ref, np.asarray(atoms.cell)).T  # cell' = cell Fᵀ
        eps = 0.5 * (f + f.T) - np.eye(3)
        # engineering shear: Voigt 4..6 are 2ε
        voigt = np.array([eps[0, 0], eps[1, 1], eps[2, 2], 2 * eps[1, 2], 2 * eps[0, 2], 2 * eps[0, 1]])
        np.testing.assert_allclose(voigt, e, atol=1e-12)
        green = 0.5 * (f.T @ f - np.eye(3))  # Lagrangian strain agrees to first order
        np.testing.assert_allclose(green, strain_tensor(e), atol=0.6 * np.max(np.abs(e)) ** 2)
        assert np.count_nonzero(e) == 1
        k = int(np.flatnonzero(e)[0])
        seen.add((k, float(e[k])))
        # fractional coordinates unchanged (homogeneous deformation)
        np.testing.assert_allclose(atoms.get_scaled_positions(), parent.get_scaled_positions(), atol=1e-12)
    assert seen == {(k, s * m) for k in range(6) for s in (-1, 1) for m in (0.01, 0.02)}


# -- rattles -------------------------------------------------------------------------------------
def test_rattles_are_seeded_and_redraw_close_atoms():
    parent = bulk_crystal("Al", "fcc", cubic=True, supercell=(2, 2, 2))
    one = rattle_structures(parent, 0.05, 4, seed=3)
    two = rattle_structures(parent, 0.05, 4, seed=3)
    other = rattle_structures(parent, 0.05, 4, seed=4)
    assert_valid(one, "rattle")
    for x, y, z in zip(one, two, other):
        assert np.array_equal(x.positions, y.positions)
        assert not np.allclose(x.positions, z.positions)
    d = np.concatenate([a.positions - parent.positions for a in one]).ravel()
    assert np.std(d) == pytest.approx(0.05, rel=0.2)
    # huge displacements force redraws; the result still keeps atoms apart
    wild = rattle_structures(parent, 0.6, 3, seed=0)
    assert_valid(wild, "rattle")


def test_check_structure_valid_rejects_overlaps():
    atoms = bulk("Al", "fcc", a=A_AL, cubic=True)
    atoms.positions[1] = atoms.positions[0] + [0.5, 0, 0]
    with pytest.raises(StructureError, match="closer than"):
        check_structure_valid(atoms, 1.4)


# -- surfaces ------------------------------------------------------------------------------------
def layer_count(z, tol=0.02):
    z = np.sort(z)
    return 1 + int(np.sum(np.diff(z) > tol))


@pytest.mark.parametrize("phase,miller", [("fcc", (1, 0, 0)), ("fcc", (1, 1, 0)), ("fcc", (1, 1, 1)),
                                          ("bcc", (1, 1, 0)), ("bcc", (1, 0, 0)),
                                          ("diamond", (1, 1, 1)), ("fcc", (2, 1, 0))])
def test_surface_layers_vacuum_and_orientation(phase, miller):
    a = 4.05 if phase == "fcc" else (3.2 if phase == "bcc" else 5.43)
    slab = surface_slab("Al", phase, miller, layers=5, vacuum=9.0, a=a)
    z = slab.positions[:, 2]
    assert layer_count(z) == 5
    cell = np.asarray(slab.cell)
    assert np.allclose(cell[2, :2], 0) and np.allclose(cell[:2, 2], 0)  # normal along z
    assert cell[2, 2] - (z.max() - z.min()) >= 9.0 - 1e-9  # the vacuum gap
    # z is the Miller direction in crystal coordinates, and the slab is a piece of the crystal
    axes = np.asarray(slab.info["crystal_axes"]).reshape(3, 3)
    n = np.asarray(miller, float) / np.linalg.norm(miller)
    assert axes[2] @ n == pytest.approx(1.0)
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-12)
    crystal = (slab.positions - slab.positions[0]) @ axes / a  # lab -> cubic crystal frame, units of a
    basis = {"fcc": [(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0)], "bcc": [(0, 0, 0), (.5, .5, .5)],
             "diamond": [(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0), (.25, .25, .25),
                         (.25, .75, .75), (.75, .25, .75), (.75, .75, .25)]}[phase]
    frac = crystal - np.floor(crystal + 1e-9)
    for p in frac:
        assert min(np.linalg.norm((p - np.array(b) + 0.5) % 1 - 0.5) for b in basis) < 1e-6
    assert tuple(slab.info["miller"]) == miller
    if phase == "fcc" and miller == (1, 1, 1):
        assert np.diff(np.unique(z.round(6))).min() == pytest.approx(a / np.sqrt(3))


def test_hcp_basal_surface():
    slab = surface_slab("Al", "hcp", (0, 0, 1), layers=4, vacuum=8.0)
    z = slab.positions[:, 2]
    assert layer_count(z) == 4 and slab.cell[2, 2] - np.ptp(z) >= 8.0 - 1e-9


# -- stacking faults -----------------------------------------------------------------------------
@pytest.mark.parametrize("system", list(FAULT_SYSTEMS))
def test_stacking_fault_displacement(system):
    fractions = [0.0, 0.3, 1.0]
    out = stacking_fault_structures("Al", system, fractions, layers=12)
    phase = FAULT_SYSTEMS[system][0]
    a, _ = lattice_constants("Al", phase)
    assert_valid(out, "stacking_fault", nn=nearest_neighbor_distance(phase, a))
    assert len({s.info["group"] for s in out}) == 1
    perfect = out[0]
    assert np.allclose(perfect.info["fault_displacement"], 0)
    burgers = perfect.info["fault_burgers"]
    assert abs(burgers[2]) < 1e-12  # in the fault plane
    plane = perfect.info["fault_plane_z"]
    upper = perfect.positions[:, 2] > plane
    assert 0 < upper.sum() < len(perfect)
    for s, f in zip(out[1:], fractions[1:]):
        d = np.asarray(s.info["fault_displacement"])
        np.testing.assert_allclose(d, f * burgers, atol=1e-12)
        inv = np.linalg.inv(np.asarray(s.cell))
        for block, shift in ((upper, d), (~upper, np.zeros(3))):
            delta = (s.positions[block] - perfect.positions[block] - shift) @ inv
            np.testing.assert_allclose(delta, np.round(delta), atol=1e-8)  # equal mod the lattice
        # the tilt keeps one fault per cell: the cell's third vector carries the same shift
        np.testing.assert_allclose(np.asarray(s.cell)[2] - np.asarray(perfect.cell)[2], d, atol=1e-12)


def emt_energy(atoms):
    atoms = atoms.copy()
    atoms.calc = EMT()
    return atoms.get_potential_energy()


def test_full_burgers_shift_is_the_perfect_crystal_with_emt():
    full = stacking_fault_structures("Al", "fcc111_110", [0.0, 0.5, 1.0])
    e = [emt_energy(s) for s in full]
    assert e[2] == pytest.approx(e[0], abs=1e-8)
    assert e[1] > e[0] + 0.05
    partial = stacking_fault_structures("Al", "fcc111_112", [0.0, 1.0, 3.0])
    e = [emt_energy(s) for s in partial]
    assert e[2] == pytest.approx(e[0], abs=1e-8)  # three Shockley partials: a full period
    assert e[1] > e[0] + 1e-3  # intrinsic stacking fault costs energy
    # bulk energy per atom of the oriented cell equals the primitive cell's
    assert e[0] / len(partial[0]) == pytest.approx(emt_energy(bulk("Al", "fcc", a=A_AL)), abs=1e-8)


def test_stacking_fault_slab_has_vacuum():
    out = stacking_fault_structures("Al", "fcc111_112", [0.5], layers=6, vacuum=8.0)
    s = out[0]
    assert s.cell[2, 2] - np.ptp(s.positions[:, 2]) >= 8.0 - 1e-9
    assert np.allclose(s.cell[2, :2], 0)


# -- point defects -------------------------------------------------------------------------------
def test_vacancy_has_one_atom_fewer():
    parent = bulk_crystal("Al", "fcc", cubic=True, supercell=(2, 2, 2))
    (vac,) = vacancy_structures(parent)
    assert_valid([vac], "vacancy")
    assert len(vac) == len(parent) - 1
    d = np.linalg.norm(vac.positions - vac.info["vacancy_position"], axis=1)
    assert d.min() > 1.0  # nothing left at the site


@pytest.mark.parametrize("phase,site,n_neighbors,distance", [
    ("fcc", "octahedral", 6, 0.5), ("fcc", "tetrahedral", 4, np.sqrt(3) / 4),
    ("bcc", "octahedral", 2, 0.5), ("bcc", "tetrahedral", 4, np.sqrt(5) / 4)])
@pytest.mark.parametrize("cubic", [True, False])
def test_interstitial_at_the_stated_site(phase, site, n_neighbors, distance, cubic):
    a = 4.05 if phase == "fcc" else 3.2
    parent = bulk_crystal("Al", phase, a=a, cubic=cubic, supercell=(3, 3, 3) if not cubic else (2, 2, 2))
    (out,) = interstitial_structures(parent, [site])
    assert len(out) == len(parent) + 1
    assert_valid([out], "interstitial", nn=nearest_neighbor_distance(phase, a))
    np.testing.assert_allclose(out.positions[-1], out.info["interstitial_position"])
    d = out.get_distances(len(out) - 1, range(len(out) - 1), mic=True)
    assert np.sum(np.abs(d - distance * a) < 1e-6) == n_neighbors
    assert d.min() == pytest.approx(distance * a)


# -- molecular dynamics --------------------------------------------------------------------------
def test_md_snapshots_decorrelated_seeded_and_near_temperature():
    parent = bulk_crystal("Al", "fcc", cubic=True, supercell=(2, 2, 2))
    lines = []
    kw = dict(steps=120, interval=20, equilibration=60, timestep=2.0, friction=0.05)
    out = md_snapshots(parent, EMT(), 600.0, seed=5, progress=lines.append, **kw)
    assert_valid(out, "md")
    assert [s.info["md_step"] for s in out] == [80, 100, 120, 140, 160, 180]
    assert len({s.info["group"] for s in out}) == 1 and lines
    assert all(s.info["temperature"] == 600.0 for s in out)
    t = np.mean([s.info["kinetic_temperature"] for s in out])
    assert 300 < t < 900
    for s, t in zip(out, out[1:]):
        assert np.abs(s.positions - t.positions).max() > 0.05  # snapshots differ
    short = dict(kw, steps=20, equilibration=0)
    one, again = (md_snapshots(parent, EMT(), 600.0, seed=5, **short) for _ in range(2))
    assert len(one) == 1 and np.array_equal(one[0].positions, again[0].positions)
    other = md_snapshots(parent, EMT(), 600.0, seed=6, **short)
    assert not np.allclose(one[0].positions, other[0].positions)
    assert parent.calc is None and "config_type" not in parent.info  # input untouched


def test_liquid_and_amorphous_through_config():
    config = generation_config({
        "element": "Al", "seed": 2, "calculator": {"name": "emt"},
        "generators": [
            {"kind": "liquid", "temperature": 3000, "steps": 20, "interval": 10, "equilibration": 200,
             "supercell": [2, 2, 1], "timestep": 2.0},
            {"kind": "amorphous", "melt": 3000, "melt_steps": 400, "quench_rate": 5e16,
             "final": 300, "snapshots": 2, "supercell": [2, 2, 2], "timestep": 2.0},
        ]})
    out = generate_structures(config, calculator=EMT())
    liquid = [s for s in out if s.info["config_type"] == "liquid"]
    amorphous = [s for s in out if s.info["config_type"] == "amorphous"]
    assert_valid(liquid, "liquid", nn=A_AL / np.sqrt(2) * 0.9)
    assert_valid(amorphous, "amorphous", nn=A_AL / np.sqrt(2) * 0.9)
    assert len(liquid) == 2 and len(amorphous) == 2
    # 2700 K at 5e16 K/s with 2 fs steps: 27 quench steps after 400 melt steps
    assert [s.info["md_step"] for s in amorphous] == [400 + 14, 400 + 27]
    assert amorphous[-1].info["temperature"] == pytest.approx(300.0)
    # melted: the atoms moved from their sites by more than the threshold (positions unwrapped)
    assert all(s.info["rms_displacement"] > 0.3 * A_AL / np.sqrt(2) for s in liquid)


@pytest.mark.parametrize("entry, key", [
    ({"kind": "liquid", "temperature": 400, "steps": 10, "interval": 10, "equilibration": 200},
     "generators[0].temperature"),
    ({"kind": "amorphous", "melt": 400, "melt_steps": 200, "quench_rate": 1e16, "final": 300,
      "snapshots": 1}, "generators[0].melt"),
])
def test_a_crystal_that_does_not_melt_is_an_error(entry, key):
    """Below the melting point the 'liquid' would be a hot crystal: refused, naming the key."""
    config = generation_config({"element": "Al", "seed": 2, "calculator": {"name": "emt"},
                                "generators": [dict(entry, supercell=[2, 2, 1], timestep=2.0)]})
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}: .*did not melt \(rms displacement "):
        generate_structures(config, calculator=EMT())


# -- the whole config ----------------------------------------------------------------------------
def test_every_kind_from_one_config():
    config = generation_config({
        "element": "Al", "seed": 1, "calculator": {"name": "emt"},
        "generators": [
            {"kind": "bulk", "phases": ["fcc", "bcc", "hcp"]},
            {"kind": "eos", "phase": "fcc", "strains": [-0.06, 0.06], "n": 3},
            {"kind": "strain", "magnitudes": 0.01, "components": ["xx", "yz"]},
            {"kind": "rattle", "supercell": [2, 1, 1], "sigma": "0.05 Å", "n": 2},
            {"kind": "surface", "miller": [[1, 1, 1]], "layers": 3, "vacuum": "0.8 nm"},
            {"kind": "stacking_fault", "system": "fcc111_112", "fractions": [0.5], "layers": 6},
            {"kind": "vacancy", "supercell": [1, 1, 1]},
            {"kind": "interstitial", "site": "octahedral", "supercell": [1, 1, 1]},
            {"kind": "md", "temperatures": 300, "steps": 4, "interval": 2, "equilibration": 0,
             "supercell": [1, 1, 1]},
        ]})
    out = generate_structures(config, calculator=EMT())
    types = [s.info["config_type"] for s in out]
    assert types == ["bulk"] * 3 + ["eos"] * 3 + ["strain"] * 4 + ["rattle"] * 2 + ["surface"] + \
        ["stacking_fault"] + ["vacancy", "interstitial"] + ["md"] * 2
    assert out[12].cell[2, 2] - np.ptp(out[12].positions[:, 2]) >= 8.0 - 1e-9
    groups = {}
    for s in out:
        groups.setdefault(s.info["group"], set()).add(s.info["config_type"])
    assert all(len(v) == 1 for v in groups.values())  # a group never mixes generators
    again = generate_structures(config, calculator=EMT())
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(out, again))


# -- config errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,message", [
    ({"element": "Al", "generators": [{"kind": "ratle"}]},
     r"^generators\[0\]\.kind: 'ratle' is not one of .*did you mean 'rattle'"),
    ({"element": "Al", "generators": [{"kind": "eos", "strain": [0, 1]}]},
     r"^generators\[0\]\.strain: unknown key; did you mean 'strains'\?"),
    ({"element": "Al", "generators": [{"kind": "surface", "vacuum": "8 parsec"}]},
     r"^generators\[0\]\.vacuum: unknown unit"),
    ({"element": "Al", "generators": [{"kind": "rattle", "sigma": -0.1}]},
     r"^generators\[0\]\.sigma: expected 0 < sigma"),
    ({"element": "Al", "generators": [{"kind": "eos", "phase": "fccc"}]},
     r"^generators\[0\]\.phase: 'fccc' is not one of .*did you mean 'fcc'"),
    # spelled exactly: the phase also names the groups
    ({"element": "Al", "generators": [{"kind": "bulk", "phases": ["fcc", "BCC"]}]},
     r"^generators\[0\]\.phases\[1\]: 'BCC' is not one of .*did you mean 'bcc'"),
    ({"element": "Al", "generators": [{"kind": "md"}]}, r"^calculator: missing"),
    ({"element": "Xx", "generators": [{"kind": "bulk"}]}, r"^element: 'Xx' is not a chemical element symbol"),
    ({"element": "Al", "generators": []}, r"^generators: missing"),
    ({"element": "Al", "generatrs": [{"kind": "bulk"}]}, r"^generatrs: unknown key; did you mean 'generators'"),
    ({"element": "Al", "generators": [{"kind": "stacking_fault", "system": "fcc111"}]},
     r"^generators\[0\]\.system: 'fcc111' is not one of"),
    ({"element": "Al", "generators": [{"kind": "interstitial", "phase": "hcp"}]},
     r"^generators\[0\]\.site: no octahedral site in hcp"),
    ({"element": "Al", "calculator": {"name": "emt"},
      "generators": [{"kind": "amorphous", "quench_rate": 1e10}]},
     r"^generators\[0\]\.quench_rate: 1e\+10 K/s needs"),
    ({"element": "Al", "generators": [{"kind": "md", "steps": 1.5}], "calculator": {}},
     r"^generators\[0\]\.steps: expected an integer"),
])
def test_config_errors_are_one_line_naming_the_key(raw, message):
    with pytest.raises(ConfigError, match=message) as info:
        generation_config(raw)
    assert "\n" not in str(info.value)


# -- farthest-point selection --------------------------------------------------------------------
def test_farthest_point_selection_deterministic_outlier_early():
    rng = np.random.default_rng(0)
    features = [rng.normal(0.0, 0.1, (rng.integers(2, 6), 4)) for _ in range(20)]
    features[13] = features[13] + 5.0  # the outlier
    picked = farthest_point_selection(features, 8)
    assert picked[0] == 0 and picked[1] == 13
    assert len(set(picked)) == 8 and all(0 <= k < 20 for k in picked)
    assert picked == farthest_point_selection(features, 8)
    assert farthest_point_selection(features, 8, start=5)[:2] == [5, 13]
    everything = farthest_point_selection(features, 50)
    assert sorted(everything) == list(range(20))
    assert farthest_point_selection(features, 0) == []


def test_farthest_point_selection_sees_spread_not_only_mean():
    base = np.zeros((4, 2))
    spread = np.array([[1.0, 0], [-1.0, 0], [1.0, 0], [-1.0, 0]])  # same mean, larger spread
    features = [base, base + 1e-3, spread, base - 1e-3]
    assert farthest_point_selection(features, 2)[1] == 2
    assert farthest_point_selection(features, 2, std=False)[1] != 2


def test_farthest_point_selection_distinct_with_duplicates():
    x = np.ones((3, 2))
    features = [x, x.copy(), x.copy(), 2 * x]
    picked = farthest_point_selection(features, 4)
    assert picked[:2] == [0, 3] and sorted(picked) == [0, 1, 2, 3]


def test_npt_md_changes_the_cell():
    parent = bulk_crystal("Al", "fcc", cubic=True, supercell=(2, 1, 1))
    out = md_snapshots(parent, EMT(), 300.0, steps=10, interval=5, ensemble="npt", pressure=5.0,
                       timestep=2.0, seed=1)
    assert_valid(out, "md")
    assert out[-1].get_volume() < parent.get_volume()  # compressed towards 5 GPa
