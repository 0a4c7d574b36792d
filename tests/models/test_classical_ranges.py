"""Every number a classical model is read from lies in its accepted physical range: LAMMPS
tersoff, sw, setfl and funcfl files, potforge's saved classical models and training configs.
An absurd but finite value (1e308, -1e308, 1e200, an overflowing cutoff, a table of 1e9
points) is refused by the loader with one line naming the file (and line), the parameter and
the range, instead of loading and then predicting inf or NaN. Values at the ends of the
ranges predict finite energies and forces on ordinary structures."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

import potforge
from potforge.core.errors import ConfigError, ModelFormatError
from potforge.data.lammps.funcfl import read_funcfl
from potforge.data.lammps.parameter_files import (SW_KEYS, SW_RANGES, TERSOFF_KEYS, TERSOFF_RANGES, read_sw,
                                                  read_tersoff, write_sw, write_tersoff)
from potforge.data.lammps.setfl import read_setfl, write_setfl
from potforge.models.classical.spec import potential_from_spec
from potforge.models.classical.sw import StillingerWeber
from potforge.models.classical.tersoff import Tersoff
from potforge.models.potential import sha256

from . import classical_cases as cc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models_v0_1"
ABSURD = [1e308, -1e308, 1e200, -3.3e199]
#: what a one-line refusal of a value says besides the parameter: its range, or LAMMPS' own check
REASON = re.compile(r"accepted range \[|is negative|only m = 1 or 3| > R = |physical bounds \[")


def _one_line(err: BaseException, prefix: str, *names: str) -> str:
    msg = str(err)
    assert "\n" not in msg and msg.startswith(prefix), msg
    assert any(n in msg for n in names), msg
    assert REASON.search(msg), msg
    return msg


def _entry_file(tmp_path: Path, style: str, values: dict) -> Path:
    path = tmp_path / f"Si.{style}"
    (write_tersoff if style == "tersoff" else write_sw)([("Si", "Si", "Si", values)], path)
    return path


def _mutated(path: Path, key: str, keys, value: float) -> tuple[Path, int]:
    lines = path.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("Si Si Si"))
    words = lines[k].split()
    words[3 + keys.index(key)] = repr(value)
    lines[k] = " ".join(words)
    path.write_text("\n".join(lines) + "\n")
    return path, k + 1


@pytest.mark.parametrize("value", ABSURD)
@pytest.mark.parametrize("style, keys, base", [("tersoff", TERSOFF_KEYS, cc.TERSOFF_SI_C),
                                               ("sw", SW_KEYS, cc.SW_SI)])
def test_absurd_value_in_a_tersoff_or_sw_file_is_refused_naming_file_line_and_range(tmp_path, style, keys,
                                                                                   base, value):
    reader = read_tersoff if style == "tersoff" else read_sw
    for key in keys:
        path, line = _mutated(_entry_file(tmp_path, style, base), key, keys, value)
        with pytest.raises(ModelFormatError) as err:
            reader(path)
        _one_line(err.value, f"{path}:{line}: Si Si Si: ", f"{key} = ", "cutoff")
        with pytest.raises(ModelFormatError):       # and as a model, through the CLI's loader
            potforge.load_model(path)


@pytest.mark.parametrize("style, key, value, expected", [
    ("tersoff", "B", 1e305, "B = 1e+305 is outside the accepted range [0, 1e+07] eV"),
    ("tersoff", "d", 1e-320, "d = 9.99989e-321 is outside the accepted range [1e-06, 1e+06]"),
    ("tersoff", "lambda3", 1e3, "lambda3 = 1000 is outside the accepted range [-100, 100] 1/Angstrom"),
    ("tersoff", "D", 1e-9, "D = 1e-09 is outside the accepted range [1e-06, 100] Angstrom (or 0: a step cutoff)"),
    ("tersoff", "n", 0.01, "n = 0.01 is outside the accepted range [0.1, 1000]"),
    ("sw", "costheta0", -3.3e199, "costheta0 = -3.3e+199 is outside the accepted range [-100, 100]"),
    ("sw", "a", 60.0, "the cutoff a*sigma = 125.706 Angstrom is outside the accepted range [0, 100] Angstrom"),
    ("sw", "p", 1e3, "p = 1000 is outside the accepted range [0, 50]"),
])
def test_the_refusals_the_fuzzer_found(tmp_path, style, key, value, expected):
    keys, base = (TERSOFF_KEYS, cc.TERSOFF_SI_C) if style == "tersoff" else (SW_KEYS, cc.SW_SI)
    path, line = _mutated(_entry_file(tmp_path, style, base), key, keys, value)
    with pytest.raises(ModelFormatError) as err:
        (read_tersoff if style == "tersoff" else read_sw)(path)
    assert str(err.value) == f"{path}:{line}: Si Si Si: {expected}"


def test_unused_two_body_values_may_be_zero_but_not_absurd(tmp_path):
    """Entries (i, j, k), k != j: files put zeros in the two-body values nobody reads."""
    two = ["Si", "C"]
    entries = [(a, b, c, dict(cc.TERSOFF_SI_C, **({} if b == c else {"n": 0.0, "A": 0.0, "B": 0.0})))
               for a in two for b in two for c in two]
    path = tmp_path / "SiC.tersoff"
    write_tersoff(entries, path)
    assert len(read_tersoff(path, ["Si", "C"])) == 8
    text = path.read_text().splitlines()
    k = next(i for i, line in enumerate(text) if line.startswith("Si Si C"))
    words = text[k].split()
    words[3 + TERSOFF_KEYS.index("A")] = "1e300"
    text[k] = " ".join(words)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ModelFormatError, match=rf"{k + 1}: Si Si C: A = 1e\+300 is outside the accepted range"):
        read_tersoff(path, ["Si", "C"])


# -- tabulated EAM files ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def setfl_text(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("setfl") / "Cu.eam.alloy"
    write_setfl(cc.eam_model().to_setfl(nr=40, nrho=40, rho_max=40.0), path)
    return path.read_text()


@pytest.mark.parametrize("value", ABSURD[:3])
@pytest.mark.parametrize("line, table", [(7, "F(rho) of Cu"), (16, "rho(r) of Cu"), (25, "r*phi(r) of Cu-Cu")])
def test_absurd_table_value_in_a_setfl_file_is_refused(tmp_path, setfl_text, line, table, value):
    lines = setfl_text.splitlines()
    words = lines[line - 1].split()
    words[2] = repr(value)
    lines[line - 1] = " ".join(words)
    path = tmp_path / "bad.eam.alloy"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ModelFormatError) as err:
        read_setfl(path)
    assert table in str(err.value)
    _one_line(err.value, f"{path}:{line}: value ", "value ")


@pytest.mark.parametrize("index, value, name", [(0, "1000000000", "Nrho"), (2, "99999999999", "Nr"),
                                                (1, "1e300", "drho"), (3, "1e-300", "dr"),
                                                (4, "1e5", "cutoff")])
def test_absurd_grid_of_a_setfl_file_is_refused_before_allocating(tmp_path, setfl_text, index, value, name):
    lines = setfl_text.splitlines()
    words = lines[4].split()
    words[index] = value
    lines[4] = " ".join(words)
    path = tmp_path / "bad.eam.alloy"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ModelFormatError) as err:
        read_setfl(path)
    _one_line(err.value, f"{path}:5: {name} = ", name)


def test_absurd_mass_atomic_number_and_effective_charge_of_a_funcfl_file(tmp_path):
    from potforge.data.lammps.funcfl import FuncflData, write_funcfl

    r = np.arange(10) * 0.5
    path = tmp_path / "Cu.eam"
    write_funcfl(FuncflData(29, 63.546, 10, 0.1, 10, 0.5, 4.5, -np.sqrt(np.arange(10) * 0.1), 3 * np.exp(-r),
                            np.exp(-r)), path)
    good = path.read_text().splitlines()
    assert read_funcfl(path).nr == 10
    for line, column, value, name in ((2, 1, "1e300", "mass"), (2, 0, "100000", "atomic number"),
                                      (6, 0, "1e15", "Z(r)")):
        lines = list(good)
        words = lines[line - 1].split()
        words[column] = value
        lines[line - 1] = " ".join(words)
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(ModelFormatError) as err:
            read_funcfl(path)
        _one_line(err.value, f"{path}:{line}: ", name)


# -- potforge's saved classical models -------------------------------------------------------------

def _saved(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / kind
    shutil.copytree(FIXTURES / kind, target)
    return target


def _rewrite(model: Path, edit) -> None:
    meta = json.loads((model / "model.json").read_text())
    edit(meta["model"])
    meta["arrays_sha256"] = sha256(model / "arrays.npz")
    (model / "model.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("kind", ["tersoff", "sw", "pair", "eam"])
@pytest.mark.parametrize("value", [1e301, -1e301, 1e200])
def test_absurd_parameter_of_a_saved_model_is_refused(tmp_path, kind, value):
    names = [p["name"] for p in json.loads((FIXTURES / kind / "model.json").read_text())["model"]["parameters"]]
    for k, name in enumerate(names):
        model = _saved(tmp_path / f"{k}", kind)

        def edit(m, k=k):
            m["parameters"][k]["value"] = value
            m["parameters"][k].pop("lower", None)
            m["parameters"][k].pop("upper", None)   # a model written by another tool: no bounds
        _rewrite(model, edit)
        with pytest.raises(ModelFormatError) as err:
            potforge.load_model(model)
        _one_line(err.value, f"{model / 'model.json'}: ", name.rsplit(".", 1)[1], "cutoff")


@pytest.mark.parametrize("kind", ["tersoff", "pair", "eam-setfl"])
@pytest.mark.parametrize("key, value", [("energy_offsets_ev", 1e301), ("cutoff_angstrom", 1e5)])
def test_absurd_offset_or_cutoff_of_a_saved_model_is_refused(tmp_path, kind, key, value):
    model = _saved(tmp_path, kind)

    def edit(m):
        if key == "energy_offsets_ev":
            m[key] = {s: value for s in m["species"]}
        else:
            m[key] = value
    _rewrite(model, edit)
    if kind == "tersoff" and key == "cutoff_angstrom":
        assert potforge.load_model(model).cutoff == 3.0     # derived from R + D, the saved one unused
        return
    with pytest.raises(ModelFormatError) as err:
        potforge.load_model(model)
    assert "\n" not in str(err.value) and "outside the accepted range" in str(err.value)


@pytest.mark.parametrize("array, index, value, what", [
    ("rhor_Cu", 228, -1e200, "rho(r) of Cu[228]"), ("frho_Cu", 3, 1e308, "F(rho) of Cu[3]"),
    ("z2r_Cu_Cu", 0, 1e21, "r*phi of Cu-Cu[0]")])
def test_absurd_table_value_of_a_saved_setfl_model_is_refused(tmp_path, array, index, value, what):
    model = _saved(tmp_path, "eam-setfl")
    with np.load(model / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[array][index] = value
    np.savez(model / "arrays.npz", **arrays)
    _rewrite(model, lambda m: None)
    with pytest.raises(ModelFormatError) as err:
        potforge.load_model(model)
    assert str(err.value) == (f"{model / 'model.json'}: table {what} = {value:.6g} is outside the accepted "
                              "range [-1e+20, 1e+20] (eV, density units or eV*Angstrom)")


@pytest.mark.parametrize("key, value", [("nr", 10**9), ("nr", 400.0), ("dr", 1e300), ("nrho", -1)])
def test_absurd_grid_of_a_saved_setfl_model_is_refused(tmp_path, key, value):
    model = _saved(tmp_path, "eam-setfl")
    _rewrite(model, lambda m: m.__setitem__(key, value))
    with pytest.raises(ModelFormatError, match=rf"(?i)model.json: {key} = "):
        potforge.load_model(model)


# -- training configs and fits -------------------------------------------------------------------

def test_a_config_with_an_absurd_value_is_refused():
    params = {"Si-Si-Si": dict(cc.TERSOFF_SI_C, B=1e305)}
    with pytest.raises(ConfigError, match=r"Si-Si-Si: B = 1e\+305 is outside the accepted range \[0, 1e\+07\] eV"):
        potential_from_spec("tersoff", {"parameters": params}, ["Si"])
    spec = json.loads(json.dumps(cc.EAM_CU))
    spec["pair"]["Cu-Cu"]["D0"] = 1e200
    with pytest.raises(ConfigError, match=r"pair.Cu-Cu.D0 = 1e\+200 is outside the accepted range"):
        potential_from_spec("eam", spec, ["Cu"])
    spec = json.loads(json.dumps(cc.EAM_CU))
    spec["pair"]["Cu-Cu"] = {"form": "spline", "n_knots": 10**9, "r_min": 1.5}
    with pytest.raises(ConfigError, match="n_knots: expected an integer in"):
        potential_from_spec("eam", spec, ["Cu"])


def test_fitted_values_are_clipped_into_the_accepted_ranges():
    model = cc.tersoff_si()
    model.set_values({"Si-Si-Si.A": 1e300, "Si-Si-Si.lambda3": -1e300}, clip=True)
    assert model.parameters["Si-Si-Si.A"].value == TERSOFF_RANGES["A"][1]
    assert model.parameters["Si-Si-Si.lambda3"].value == TERSOFF_RANGES["lambda3"][0]
    with pytest.raises(ConfigError, match="accepted range"):
        cc.tersoff_si().set_values({"Si-Si-Si.B": 1e300})
    eam = cc.eam_model()
    eam.set_values({"pair.Cu-Cu.alpha": 1e300}, clip=True)
    assert eam.parameters["pair.Cu-Cu.alpha"].value == 20.0


# -- the ends of the ranges predict finite values -----------------------------------------------------

def _finite(model, structures) -> None:
    for atoms in structures:
        p = model.predict(atoms)
        assert math.isfinite(p.energy) and np.all(np.isfinite(p.forces)), (atoms, p.energy)


def _structures():
    box = cc.si_box(1, rattle=0.15)
    dimer = Atoms("Si2", positions=[[0, 0, 0], [0.35, 0, 0]])       # just above the overlap distance
    lone = Atoms("Si3", positions=[[0, 0, 0], [2.3, 0, 0], [0, 2.2, 0.1]])
    return box, cc.cluster(box, 7), dimer, lone


@pytest.mark.parametrize("cls, ranges, base", [(Tersoff, TERSOFF_RANGES, cc.TERSOFF_SI_C),
                                               (StillingerWeber, SW_RANGES, cc.SW_SI)])
def test_values_at_the_ends_of_the_ranges_predict_finite_values(cls, ranges, base):
    box, cluster, dimer, lone = _structures()
    cutoff_keys = ("R", "D", "sigma", "a")
    for key, (lo, hi, _) in ranges.items():
        for value in (lo, hi):
            if key == "m" or (key == "D" and value > base["R"]) or (key in cutoff_keys and value > 10) or (
                    key in cutoff_keys and value == 0 and key != "D"):
                continue
            values = dict(base, **{key: value})
            if key == "n" and value == 0:
                continue
            model = cls.from_entries(["Si"], [("Si", "Si", "Si", values)])
            _finite(model, (box, cluster, dimer, lone) if model.cutoff < 10 else (dimer, lone))
