"""Physical baselines: ZBL (against an independent evaluation of the ZBL formula and LAMMPS'
switching, finite differences), DFT-D3 (against the dftd3 library's own ASE calculator) and
the composite model + baselines (saved, loaded, refused when corrupted)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from potforge.core.errors import ConfigError, ModelFormatError, StructureError
from potforge.models import load_potential
from potforge.models.baselines.composite import Baselined
from potforge.models.baselines.config import baselines_config
from potforge.models.baselines.d3 import D3
from potforge.models.baselines.zbl import ZBL, zbl_energy

from ..contracts import contract
from . import classical_cases as cc


def _zbl_reference(r, zi, zj):
    """The unswitched ZBL pair energy written out term by term (LAMMPS doc pair_zbl), eV."""
    a = 0.46850 / (zi ** 0.23 + zj ** 0.23)
    x = r / a
    phi = (0.18175 * np.exp(-3.19980 * x) + 0.50986 * np.exp(-0.94229 * x)
           + 0.28022 * np.exp(-0.40290 * x) + 0.02817 * np.exp(-0.20162 * x))
    return 14.399645 * zi * zj / r * phi


def _mixed_box(seed=0):
    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", 3.3, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 4]] = "W"
    atoms.symbols[2] = "H"
    atoms.rattle(0.15, seed=seed)
    atoms.set_cell(np.asarray(atoms.cell) @ (np.eye(3) + 0.02 * rng.standard_normal((3, 3))), scale_atoms=True)
    return atoms


def test_zbl_pair_energy_is_the_formula_with_the_lammps_switch():
    inner, outer = 1.1, 2.3
    for zi, zj in ((29, 29), (74, 1), (1, 1), (92, 8)):
        r = np.linspace(0.35, 2.6, 400)
        e, de = zbl_energy(r, np.full_like(r, zi), np.full_like(r, zj), inner, outer)
        ref = _zbl_reference(r, zi, zj)
        below = r < inner
        shift = e[below] - ref[below]          # the constant C of the switch
        np.testing.assert_allclose(shift, shift[0], rtol=0, atol=1e-12 * np.abs(ref[below]).max())
        assert np.all(e[r >= outer] == 0) and np.all(de[r >= outer] == 0)
        # energy, slope and curvature vanish at outer; the derivative is the energy's slope
        h = 1e-6
        for x in (0.5, 1.0, inner + 0.3, outer - 0.2):
            ep, _ = zbl_energy(np.array([x + h]), np.array([zi]), np.array([zj]), inner, outer)
            em, _ = zbl_energy(np.array([x - h]), np.array([zi]), np.array([zj]), inner, outer)
            _, d0 = zbl_energy(np.array([x]), np.array([zi]), np.array([zj]), inner, outer)
            assert abs((ep - em)[0] / (2 * h) - d0[0]) < 1e-6 * max(1.0, abs(d0[0]))
        near = np.array([outer - 1e-3, outer - 1e-4])
        e_near, de_near = zbl_energy(near, np.full(2, zi), np.full(2, zj), inner, outer)
        assert abs(e_near[1]) < abs(e_near[0]) / 500 and abs(de_near[1]) < abs(de_near[0]) / 50
        # C = -E(rc) + (rc - r1) E'(rc) / 2 - (rc - r1)² E''(rc) / 12, from the reference formula
        w, h2 = outer - inner, 1e-4
        f = [_zbl_reference(outer + k * h2, zi, zj) for k in (-1, 0, 1)]
        d1, d2 = (f[2] - f[0]) / (2 * h2), (f[2] - 2 * f[1] + f[0]) / h2 ** 2
        assert abs(shift[0] - (-f[1] + w * d1 / 2 - w * w * d2 / 12)) < 1e-6 * abs(f[1]) + 1e-9


@pytest.mark.parametrize("periodic", [True, False])
def test_zbl_forces_and_stress_match_finite_differences(periodic):
    atoms = _mixed_box()
    if not periodic:
        atoms = cc.cluster(atoms, 6)
    z = ZBL(1.0, 2.6)
    p = z.predict(atoms)
    assert abs(p.energy) > 1.0 and abs(p.energy - p.energies.sum()) < 1e-12 * abs(p.energy)
    contract.forces_match_finite_differences(z, atoms, h=1e-5, rtol=1e-6, atol=1e-5)
    if periodic:
        contract.stress_matches_finite_differences(z, atoms, rtol=1e-6, atol=1e-8)
    else:
        assert p.stress is None


def test_zbl_refuses_bad_switches_and_elements():
    for inner, outer in ((0.0, 2.0), (2.0, 1.5), (1.0, float("nan"))):
        with pytest.raises(ConfigError, match="inner"):
            ZBL(inner, outer)
    with pytest.raises(ConfigError, match="atomic numbers"):
        ZBL(1.0, 2.0).predict(Atoms("X2", positions=[[0, 0, 0], [0, 0, 1.5]]))
    with pytest.raises(StructureError, match="overlap"):
        ZBL(1.0, 2.0).predict(Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 0.1]]))


def _d3_cases():
    si = bulk("Si", "diamond", 5.43).repeat((2, 1, 1))
    si.rattle(0.05, seed=3)
    mixed = _mixed_box(1)
    ethanol = molecule("CH3CH2OH")
    ethanol.rattle(0.05, seed=4)
    return [si, mixed, ethanol]


@pytest.mark.parametrize("damping,atm", [("d3bj", False), ("d3zero", True)])
def test_d3_equals_the_dftd3_ase_calculator(damping, atm):
    from dftd3.ase import DFTD3

    # the three-body sum with a shorter cutoff (12 Å instead of 40 Bohr) keeps the test fast
    cutoffs = {"disp2": 20.0, "disp3": 12.0, "cn": 15.0} if atm else {}
    model = D3("pbe", damping, atm=atm, cutoff=cutoffs.get("disp2"), cutoff_three_body=cutoffs.get("disp3"),
               cutoff_cn=cutoffs.get("cn"))
    for atoms in _d3_cases():
        p = model.predict(atoms)
        ref = atoms.copy()
        ref.calc = DFTD3(method="pbe", damping=damping, params_tweaks={"method": "pbe", "atm": atm},
                         realspace_cutoff=cutoffs)
        e = ref.get_potential_energy()
        assert abs(p.energy - e) <= 1e-12 * abs(e) + 1e-14
        assert abs(p.energies.sum() - p.energy) <= 1e-12 * abs(e)
        np.testing.assert_allclose(p.forces, ref.get_forces(), rtol=0, atol=1e-12)
        if atoms.pbc.all():
            np.testing.assert_allclose(p.stress, ref.get_stress(), rtol=0, atol=1e-13)
        else:
            assert p.stress is None


def test_d3_forces_and_stress_match_finite_differences():
    model = D3("pbe", "d3bj", atm=True, cutoff_three_body=10.0)
    si, _, ethanol = _d3_cases()
    contract.forces_match_finite_differences(model, ethanol, h=1e-4, atoms_to_check=range(3))
    # the library's cutoffs are sharp: a pair crossing 60 Bohr jumps the energy by ~1e-7 eV,
    # so the strain step is large enough to make such jumps small against the derivative
    contract.stress_matches_finite_differences(model, si, h=1e-3, rtol=1e-3, atol=1e-5)


def test_d3_refuses_unknown_methods_dampings_and_elements():
    with pytest.raises(ConfigError, match="baselines\\[1\\].method: the dftd3 library has no d3bj"):
        D3("no-such-functional", key="baselines[1]")
    with pytest.raises(ConfigError, match="d3.damping: 'bj' is not a D3 damping"):
        D3("pbe", "bj")
    heavy = Atoms(numbers=[6, 104], positions=[[0, 0, 0], [0, 0, 2.5]])
    with pytest.raises(ConfigError, match=r"atomic numbers \[104\]"):
        D3("pbe").predict(heavy)


def test_composite_sums_its_parts_and_keeps_the_model_charges(tmp_path):
    eam = cc.eam_model()
    zbl, d3 = ZBL(1.0, 2.4), D3("pbe", "d3bj")
    model = Baselined(eam, [zbl, d3])
    atoms = bulk("Cu", "fcc", 3.3, cubic=True).repeat((2, 1, 1))
    atoms.rattle(0.1, seed=5)
    p = model.predict(atoms)
    parts = [m.predict(atoms) for m in (eam, zbl, d3)]
    assert p.energy == pytest.approx(sum(q.energy for q in parts), rel=1e-14)
    np.testing.assert_allclose(p.forces, sum(q.forces for q in parts), rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.stress, sum(q.stress for q in parts), rtol=0, atol=1e-14)
    assert p.charges is None and model.cutoff == max(eam.cutoff, d3.cutoff)
    model.save(tmp_path / "m")
    again = load_potential(tmp_path / "m")
    assert isinstance(again, Baselined) and [b.kind for b in again.baselines] == ["zbl", "d3"]
    q = again.predict(atoms)
    assert q.energy == p.energy
    np.testing.assert_array_equal(q.forces, p.forces)


def _corrupt(tmp_path, edit):
    model = Baselined(cc.eam_model(), [ZBL(1.0, 2.4)])
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    description = json.loads(path.read_text())
    edit(description["model"])
    path.write_text(json.dumps(description))
    with pytest.raises(ModelFormatError) as info:
        load_potential(tmp_path / "m")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_corrupted_composites_are_refused_in_one_line_naming_the_key(tmp_path):
    def nan_in_baseline(m):
        m["baselines"][0]["outer"] = float("nan")

    assert "model.baselines[0].outer is nan" in _corrupt(tmp_path, nan_in_baseline)

    def unknown_kind(m):
        m["model"]["kind"] = "eamm"

    assert "model.model.kind: 'eamm' is not a model kind (did you mean 'eam'" in _corrupt(tmp_path, unknown_kind)

    def unknown_baseline(m):
        m["baselines"][0]["kind"] = "zbll"

    assert "model.baselines[0].kind: 'zbll' is not a baseline (did you mean 'zbl'" in _corrupt(tmp_path, unknown_baseline)

    def bad_switch(m):
        m["baselines"][0]["inner"] = 3.0

    assert "model.baselines[0]: expected 0 < inner < outer" in _corrupt(tmp_path, bad_switch)

    def nested(m):
        m["model"]["kind"] = "baselined"

    assert "cannot nest" in _corrupt(tmp_path, nested)


def test_baselines_config_section():
    (zbl, d3) = baselines_config([{"kind": "zbl", "inner": 1.0, "outer": 2.0},
                                  {"kind": "d3", "method": "pbe", "damping": "d3zero", "atm": True}])
    assert zbl[0] == "zbl" and zbl[1].outer == 2.0 and d3[1].atm is True
    with pytest.raises(ConfigError, match=r"baselines\[0\].kind: 'zb' is not a baseline"):
        baselines_config([{"kind": "zb"}])
    with pytest.raises(ConfigError, match=r"baselines\[0\].outr"):
        baselines_config([{"kind": "zbl", "outr": 2.0}])
    with pytest.raises(ConfigError, match=r"baselines\[1\].method: the dftd3 library"):
        baselines_config([{"kind": "zbl"}, {"kind": "d3", "method": "nonsense"}])
    with pytest.raises(ConfigError, match="expected a list"):
        baselines_config({"kind": "zbl"})


@pytest.mark.parametrize("kind, drop", [("zbl", "inner"), ("zbl", "outer"), ("d3", "method"), ("d3", "damping"),
                                        ("d3", "cutoff"), ("d3", "atm")])
def test_saved_baselines_missing_a_parameter_are_refused_naming_it(tmp_path, kind, drop):
    """A saved model holds every parameter: config defaults filled in at load could differ from
    what the model was fitted with."""
    model = Baselined(cc.eam_model(), [ZBL(1.0, 2.4), D3("pbe", "d3zero", cutoff=12.0)])
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    description = json.loads(path.read_text())
    k = [b["kind"] for b in description["model"]["baselines"]].index(kind)
    del description["model"]["baselines"][k][drop]
    path.write_text(json.dumps(description))
    with pytest.raises(ModelFormatError, match=rf"model.baselines\[{k}\].{drop}: missing from the saved {kind}"):
        load_potential(tmp_path / "m")


def test_baselined_hdnnp_exports_its_n2p2_files_and_the_lammps_lines_of_its_baselines(tmp_path, capsys):
    from potforge.cli.main import main
    from potforge.models import family

    inner = family("hdnnp").example().potential
    model = Baselined(inner, [ZBL(1.0, 2.0), D3("b3lyp", "d3zero")])
    model.save(tmp_path / "m")
    assert main(["export", str(tmp_path / "m"), "--format", "n2p2", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "note: the n2p2 files hold the hdnnp model WITHOUT its baselines (zbl, d3)" in out
    from potforge.export import load_model

    again = load_model(tmp_path / "out")                       # the n2p2 files: the inner model
    atoms = bulk(inner.species[0], "fcc", 4.0, cubic=True)
    atoms.rattle(0.05, seed=2)
    assert again.predict(atoms).energy == pytest.approx(inner.predict(atoms).energy, rel=1e-10)
    text = (tmp_path / "out" / "baselines.lammps").read_text()
    assert "pair_style hybrid/overlay hdnnp " in text and " zbl 1.0 2.0 dispersion/d3 original b3-lyp " in text
    assert "pair_coeff * * dispersion/d3 " in text and "neigh_modify one" in text
    # ATM has no LAMMPS style: refused, or left out saying so
    model = Baselined(inner, [D3("pbe", "d3bj", atm=True)])
    model.save(tmp_path / "m2")
    assert main(["export", str(tmp_path / "m2"), "--format", "n2p2", "-o", str(tmp_path / "o2")]) == 2
    assert "three-body ATM" in capsys.readouterr().err


def test_d3_skips_the_pairwise_analysis_when_per_atom_energies_are_not_wanted(monkeypatch):
    from dftd3.interface import DispersionModel

    def fail(*args, **kwargs):
        raise AssertionError("pairwise analysis called")

    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    d3 = D3("pbe", "d3bj", atm=True, cutoff=10.0)
    full = d3.predict(atoms)
    monkeypatch.setattr(DispersionModel, "get_pairwise_dispersion", fail)
    fast = d3.predict(atoms, energies=False)
    assert fast.energy == full.energy and fast.energies is None
    np.testing.assert_array_equal(fast.forces, full.forces)


def test_baseline_lengths_take_unit_strings():
    ((_, zbl), (_, d3)) = baselines_config([{"kind": "zbl", "inner": "1 Å", "outer": "2 bohr"},
                                            {"kind": "d3", "cutoff": "20 bohr", "cutoff_cn": 9.0}])
    assert zbl.inner == 1.0 and zbl.outer == pytest.approx(2 * 0.52917721, rel=1e-6)
    assert d3.cutoff == pytest.approx(20 * 0.52917721, rel=1e-6) and d3.cutoff_cn == 9.0
