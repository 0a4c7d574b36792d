"""Review fixes of the 3G/4G models (issue 14): threads passed to the native kernels, the
total-charge rule, hardness and charge sanity, n2p2 keyword aliases, model.json checks,
n2p2 export of physical-convention models, stress of charged cells under n2p2's convention,
and the dense/iterative charge-equilibration switch."""

from __future__ import annotations

import numpy as np
import pytest

from potforge.core.errors import StructureError
from potforge.models.hdnnp_charges import base
from potforge.models.hdnnp_charges.example import example_3g, example_4g


@pytest.fixture(scope="module")
def ex4():
    return example_4g()


def test_zero_threads_means_all_cores_in_the_native_kernels(ex4, monkeypatch):
    seen = []
    native = base._native

    class Spy:
        def __getattr__(self, name):
            f = getattr(native, name)
            if name not in ("symmetry_functions", "symmetry_functions_backward"):
                return f
            return lambda *a: seen.append(a[-1]) or f(*a)

    monkeypatch.setattr(base, "_native", Spy())
    model = example_3g().potential
    for m in (ex4.potential, model):
        m.configure(n_threads=0)
        m.predict(ex4.periodic if m is ex4.potential else example_3g().periodic)
    assert seen and all(t == 0 for t in seen)


@pytest.mark.parametrize("value", [True, np.bool_(False), "1.0", None, [1.0]])
def test_total_charge_must_be_a_number(ex4, value):
    atoms = ex4.cluster.copy()
    atoms.info["total_charge"] = value
    with pytest.raises(StructureError, match="total_charge"):
        ex4.potential.predict(atoms)


def test_total_charge_accepts_numpy_numbers(ex4):
    atoms = ex4.cluster.copy()
    for value in (np.float32(1.0), np.int64(1), np.array(1.0)):
        atoms.info["total_charge"] = value
        assert base.total_charge(atoms) == 1.0


# -- saved models (model.json) ------------------------------------------------------------------
def _mutated(tmp_path, model, edit):
    import json

    from potforge.models import load_potential

    model.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    data = json.loads(path.read_text())
    edit(data["model"])
    path.write_text(json.dumps(data))
    return lambda: load_potential(tmp_path / "m")


def _set(*keys, value):
    def edit(d):
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


@pytest.mark.parametrize("edit, match", [
    (_set("generation", value=3), r"model\.generation: 3 .*expected 4"),
    (_set("hardness_ev_per_e2", "H", value=-1.0), r"hardness_ev_per_e2\.H: .*positive"),
    (_set("hardness_ev_per_e2", "O", value=0.0), r"hardness_ev_per_e2\.O: .*positive"),
    (_set("hardness_ev_per_e2", "H", value="abc"), r"hardness_ev_per_e2\.H: 'abc'; expected a number"),
    (_set("hardness_ev_per_e2", value=[1, 2]), r"hardness_ev_per_e2: list; expected a mapping"),
    (_set("electrostatics", "screening_angstrom", value=[2.0, 6.0, "zz"]), r"unknown core function 'zz'"),
    (_set("electrostatics", "screening_angstrom", value=["a", 6.0, "c"]), r"screening: inner 'a'"),
    (_set("electrostatics", "screening_angstrom", value=[2.0]), r"screening_angstrom: \[2.0\]; expected"),
    (_set("electrostatics", "ewald", "precision", value="1e-5"), r"ewald\.precision: '1e-5'; expected a number"),
    (_set("electrostatics", "ewald", "precision", value=None), r"ewald\.precision: None; expected a number"),
    (_set("electrostatics", "ewald", "max_charge", value="1"), r"ewald\.max_charge: '1'; expected a number"),
    (_set("electrostatics", "ewald", "foo", value=1), r"ewald: unknown key 'foo'; expected method"),
    (_set("electrostatics", "ewald", value=None), r"ewald: None; expected a mapping"),
    (_set("electrostatics", value=None), r"electrostatics: None; expected a mapping"),
    (_set("electrostatics", value=[]), r"electrostatics: \[\]; expected a mapping"),
    (_set("electrostatics", "widths_angstrom", value=[1, 2]), r"widths_angstrom: \[1, 2\]; expected a mapping"),
    (_set("electrostatics", "widths_angstrom", "H", value="x"), r"widths_angstrom\.H: 'x'; expected a number"),
    (_set("electrostatics", "bogus", value=1), r"electrostatics: unknown key 'bogus'"),
])
def test_broken_saved_4g_models_are_refused_at_load_in_one_line(ex4, tmp_path, edit, match):
    from potforge.core.errors import PotforgeError

    load = _mutated(tmp_path, ex4.potential, edit)
    with pytest.raises(PotforgeError, match=match) as err:
        load()
    assert "\n" not in str(err.value) and "model.json" in str(err.value)


def test_saved_3g_model_with_another_generation_is_refused(tmp_path):
    from potforge.core.errors import PotforgeError

    load = _mutated(tmp_path, example_3g().potential, _set("generation", value=4))
    with pytest.raises(PotforgeError, match=r"model\.generation: 4 .*expected 3"):
        load()


# -- predicted charges ----------------------------------------------------------------------------
def test_absurd_predicted_charges_are_an_error_naming_the_atom(monkeypatch):
    """A broken model (here: a huge charge scale) must not return garbage silently."""
    for model, atoms in ((example_3g().potential, example_3g().cluster),):
        model.charge_scale = 1e4
        with pytest.raises(StructureError, match=r"atom \d+ \([A-Z][a-z]?\): predicted charge .* e, expected"):
            model.predict(atoms)
    ex = example_4g()
    model = ex.potential
    s = model.species[0]
    model.hardness[s] = 1e-9  # nearly no restoring force: charges run away
    model._hardness = np.array([model.hardness[t] for t in model.species])
    model.chi_scale = 1e5
    with pytest.raises(StructureError, match=r"atom \d+ .*predicted charge"):
        model.predict(ex.cluster)


# -- n2p2 export of a physical-convention model ----------------------------------------------------
def test_n2p2_export_of_a_physical_convention_model_is_refused_unless_allowed(tmp_path, capsys):
    import dataclasses
    import warnings

    from potforge.cli.main import main
    from potforge.core.errors import ModelFormatError
    from potforge.export import export_model, load_model
    from potforge.models.hdnnp_charges.settings import EwaldSettings

    ex = example_4g()
    model = ex.potential
    model.electrostatics = dataclasses.replace(model.electrostatics,
                                               ewald=EwaldSettings("kolafa-perram", 1e-6, 1.0))
    assert model.electrostatics.convention == "physical"
    with pytest.raises(ModelFormatError, match="physical convention .*--allow-charged-difference") as err:
        export_model(model, "n2p2", tmp_path / "refused")
    assert "\n" not in str(err.value) and not (tmp_path / "refused").exists()
    model.save(tmp_path / "m")
    assert main(["export", str(tmp_path / "m"), "--format", "n2p2", "-o", str(tmp_path / "cli")]) == 2
    assert "--allow-charged-difference" in capsys.readouterr().err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = export_model(model, "n2p2", tmp_path / "allowed", allow_charged_difference=True)
    assert "charged periodic cells" in written["note"] and len(caught) == 1
    assert main(["export", str(tmp_path / "m"), "--format", "n2p2", "-o", str(tmp_path / "cli"),
                 "--allow-charged-difference"]) == 0
    assert "note:" in capsys.readouterr().out
    # what the refusal protects: the re-read model (n2p2 convention) differs on a charged periodic cell
    again = load_model(tmp_path / "allowed", length_unit="bohr", energy_unit="hartree")
    assert again.electrostatics.convention == "n2p2"
    atoms = ex.periodic.copy()
    atoms.info["total_charge"] = 1.0
    assert abs(again.predict(atoms).energy - model.predict(atoms).energy) > 1e-3


# -- stress of charged periodic cells under n2p2's convention ---------------------------------------
@pytest.mark.parametrize("gen", ["4g", "3g"])
@pytest.mark.parametrize("ewald", [("potforge", 1e-10), ("jackson-catlow", 1e-6)])
def test_n2p2_convention_stress_of_charged_cells_matches_finite_differences(gen, ewald):
    """n2p2 has no neutralising background: E depends on the splitting η(V); the stress must
    differentiate it (before the fix: off by ~1.5 GPa on a +1 water cell)."""
    import dataclasses

    from potforge.models.hdnnp_charges.settings import EwaldSettings

    from ..contracts import contract

    ex = example_4g() if gen == "4g" else example_3g()
    model = ex.potential
    model.electrostatics = dataclasses.replace(model.electrostatics, convention="n2p2",
                                               ewald=EwaldSettings(*ewald))
    atoms = ex.periodic.copy()
    atoms.info["total_charge"] = 1.0
    contract.stress_matches_finite_differences(model, atoms, rtol=1e-5, atol=1e-8)
