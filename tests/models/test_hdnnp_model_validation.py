"""Every number a model loader reads is checked: non-finite, absurd or inconsistent values in
n2p2 files and in potforge's saved HDNNP (2G, 1G) directories give one-line ModelFormatErrors
naming the file and line (or dotted key), never NaN output, a traceback or a hang."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from potforge.cli.main import main
from potforge.core.errors import ModelFormatError
from potforge.models import load_potential
from potforge.models.hdnnp.n2p2 import read_n2p2_model
from potforge.models.hdnnp_1g.example import example as molecule_example

from ..helpers import all_types_set, synthetic_hdnnp


def _set_token(path, line, column, value):
    """Replace field ``column`` of line ``line`` (1-based) of ``path``."""
    lines = path.read_text().splitlines()
    fields = lines[line - 1].split()
    fields[column] = value
    lines[line - 1] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")


def _line_of(path, start):
    return next(k for k, ln in enumerate(path.read_text().splitlines(), start=1) if ln.startswith(start))


def _load_error(directory):
    with pytest.raises(ModelFormatError) as err:
        read_n2p2_model(directory, length_unit="bohr", energy_unit="hartree")
    message = str(err.value)
    assert "\n" not in message and len(message) < 400
    return message


# (keyword the line starts with, field, new value); field 0 is the keyword
INPUT_NN = [
    *[("mean_energy", 1, v) for v in ("nan", "inf", "-inf", "1e308", "1_0", "١٢")],
    *[("conv_energy", 1, v) for v in ("nan", "inf", "1e308", "0", "-242.6", "1e-300")],
    *[("conv_length", 1, v) for v in ("nan", "inf", "0", "-5.8")],
    *[("scale_min_short", 1, v) for v in ("nan", "-inf", "1e308", "1.0", "2.0")],
    *[("scale_max_short", 1, v) for v in ("nan", "inf", "-1e308", "0.0")],
    *[("cutoff_type", 1, v) for v in ("nan", "9", "-1", "2.5", "２")],
    ("number_of_elements", 1, "2.0"), ("number_of_elements", 1, "nan"),
    ("global_nodes_short", 2, "nan"), ("global_nodes_short", 2, "-25"),
    ("global_hidden_layers_short", 1, "inf"),
    # radial H 2 H eta rshift rcutoff
    *[("symfunction_short H 2 H 0.001", 4, v) for v in ("nan", "inf", "1e308", "-0.001", "1e9")],
    *[("symfunction_short H 2 H 0.001", 5, v) for v in ("nan", "inf", "1e308", "-1e5")],
    *[("symfunction_short H 2 H 0.001", 6, v) for v in ("nan", "inf", "1e308", "0", "-12.0", "1e4",
                                                        "1,2", "١٢.0")],
    ("symfunction_short H 2 H 0.001", 2, "2.0"),
    # angular H 3 O H eta lambda zeta rcutoff
    *[("symfunction_short H 3 O H 0.2", 6, v) for v in ("nan", "0.5", "2", "0", "inf")],
    # zeta -1 is legal: n2p2 accepts negative exponents and its AlAuMgO_4G model uses them
    *[("symfunction_short H 3 O H 0.2", 7, v) for v in ("nan", "inf", "0.5", "-0.5", "1e308")],
    *[("symfunction_short H 3 O H 0.2", 8, v) for v in ("inf", "1e308", "nan")],
]


@pytest.mark.parametrize("start,column,value", INPUT_NN)
def test_bad_numbers_in_input_nn(water_model_copy, start, column, value):
    path = water_model_copy / "input.nn"
    line = _line_of(path, start)
    _set_token(path, line, column, value)
    message = _load_error(water_model_copy)
    if start.startswith("scale_m") and value in ("0.0", "1.0", "2.0"):  # min >= max: both lines
        line = _line_of(path, "scale_max_short")
        assert "scale_min_short" in message and "must be below scale_max_short" in message
    assert f"input.nn:{line}:" in message


def test_reproducer_of_the_issue(water_model_copy):
    """``1.0 1.0`` -> ``1.0 nan`` in a symfunction_short line (zeta = nan) gave energy=nan."""
    path = water_model_copy / "input.nn"
    text = path.read_text()
    line = next(k for k, ln in enumerate(text.splitlines(), 1) if "1.0 1.0" in ln and ln.startswith("symf"))
    path.write_text(text.replace("1.0 1.0", "1.0 nan", 1))
    message = _load_error(water_model_copy)
    assert f"input.nn:{line}: symfunction_short: zeta" in message


@pytest.mark.parametrize("text", ["atom_energy H nan", "atom_energy H inf", "atom_energy O 1e308",
                                  "atom_energy O -4e5"])
def test_bad_atom_energies(water_model_copy, text):
    path = water_model_copy / "input.nn"
    n = len(path.read_text().splitlines())
    path.write_text(path.read_text() + text + "\n")
    assert f"input.nn:{n + 1}: atom_energy" in _load_error(water_model_copy)


def test_duplicated_symmetry_function_is_reported_in_input_nn(water_model_copy):
    path = water_model_copy / "input.nn"
    line = _line_of(path, "symfunction_short H 3 O H 0.2")
    lines = path.read_text().splitlines()
    # the same function written differently (neighbour order, number format)
    lines.append("symfunction_short H 3 H O 0.20  1  1.0  12.0")
    path.write_text("\n".join(lines) + "\n")
    message = _load_error(water_model_copy)
    assert f"input.nn:{len(lines)}: symfunction_short: duplicate of line {line}" in message
    assert "scaling.data" not in message


def _scaling_line(path, element, function):
    return next(k for k, ln in enumerate(path.read_text().splitlines(), 1)
                if ln.split()[:2] == [str(element), str(function)])


# scaling.data row: element sf min max mean sigma
SCALING = [(2, v) for v in ("nan", "inf", "-1e308", "1e30", "9.7", "1,08", "١")] + \
          [(3, v) for v in ("nan", "inf", "0.5", "1e30")] + \
          [(4, v) for v in ("nan", "-inf", "100.0", "0.0")] + \
          [(5, v) for v in ("nan", "inf", "-0.1")] + \
          [(0, v) for v in ("3", "0", "1.0", "nan")] + [(1, v) for v in ("0", "2", "1e3")]


@pytest.mark.parametrize("column,value", SCALING)
def test_bad_numbers_in_scaling_data(water_model_copy, column, value):
    path = water_model_copy / "scaling.data"
    line = _scaling_line(path, 1, 1)
    _set_token(path, line, column, value)
    assert f"scaling.data:{line}:" in _load_error(water_model_copy)


@pytest.mark.parametrize("column,value", [
    (0, "nan"), (0, "inf"), (0, "-1e308"), (0, "3e7"), (0, "1_0"), (0, "١"),
    (1, "b"), (2, "7"), (3, "1"), (4, "2"), (6, "9"), (2, "x"),
])
def test_bad_values_and_index_columns_in_weights(water_model_copy, column, value):
    path = water_model_copy / "weights.001.data"
    line = next(k for k, ln in enumerate(path.read_text().splitlines(), 1)
                if ln.split()[1:3] == ["a", "2"])
    _set_token(path, line, column, value)
    assert f"weights.001.data:{line}:" in _load_error(water_model_copy)


@pytest.mark.parametrize("tag", ["a", "a 2", "a 2 0 1 1 2 7"])
def test_partial_or_extra_index_columns_in_weights(water_model_copy, tag):
    path = water_model_copy / "weights.008.data"
    lines = path.read_text().splitlines()
    k = next(k for k, ln in enumerate(lines) if ln.split()[1:3] == ["a", "2"])
    lines[k] = lines[k].split()[0] + " " + tag
    path.write_text("\n".join(lines) + "\n")
    assert f"weights.008.data:{k + 1}:" in _load_error(water_model_copy)


def test_weights_without_index_columns_still_load(water_model_copy, water_model):
    """n2p2 reads only the first column; files without the index columns are legal."""
    for name in ("weights.001.data", "weights.008.data"):
        path = water_model_copy / name
        path.write_text("".join(ln.split()[0] + "\n" for ln in path.read_text().splitlines()
                                if ln.strip() and not ln.startswith("#")))
    model = read_n2p2_model(water_model_copy, length_unit="bohr", energy_unit="hartree")
    for s in model.species:
        for w, w0 in zip(model.networks[s].weights, water_model.networks[s].weights):
            np.testing.assert_array_equal(w, w0)


def test_cli_refuses_a_nan_model_with_one_line(water_model_copy, water_dir, tmp_path, capsys):
    path = water_model_copy / "input.nn"
    path.write_text(path.read_text().replace("1.0 1.0", "1.0 nan", 1))
    out = tmp_path / "o.xyz"
    code = main(["predict", str(water_model_copy), str(water_dir / "input.data"), "-o", str(out),
                 "--length-unit", "bohr", "--energy-unit", "hartree"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "input.nn:" in err and "zeta" in err
    assert not out.exists()


@pytest.mark.parametrize("value", ["inf", "1e308"])
def test_huge_cutoffs_are_refused_not_searched(water_model_copy, value):
    """inf ended in a vesin traceback and 1e308 hung in the neighbour search."""
    path = water_model_copy / "input.nn"
    line = _line_of(path, "symfunction_short O 2 O 0.30")
    _set_token(path, line, 6, value)
    message = _load_error(water_model_copy)
    assert f"input.nn:{line}: symfunction_short: " in message
    assert "rcutoff: expected a finite number" in message or "cutoff radius 5.29" in message


# -- potforge's saved models ------------------------------------------------------------------------
def _saved(tmp_path, model):
    directory = tmp_path / "saved"
    model.save(directory)
    return directory


def _edit_json(directory, edit):
    path = directory / "model.json"
    description = json.loads(path.read_text())
    edit(description["model"])
    path.write_text(json.dumps(description))


def _saved_error(directory):
    with pytest.raises(ModelFormatError) as err:
        load_potential(directory)
    message = str(err.value)
    assert "\n" not in message and ("model.json" in message or "arrays.npz" in message)
    return message


def _names(where: str, message: str) -> bool:
    """The message names the place: the family's own words ("model.scaling: statistics.H") or
    the loader's generic finiteness check, which gives the dotted key of the JSON
    ("model.scaling.statistics.H.minimum[0] is nan") before the family reads it."""
    return where in message or where.replace(": ", ".").replace("rshift", "shift") in message


def _set(keys, value):
    def edit(d):
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


HDNNP_FIELDS = [
    *[(("output_scale_ev",), v, "model.output_scale_ev") for v in (math.nan, math.inf, 1e308, 0.0, -0.7)],
    *[(("mean_energy_ev",), v, "model.mean_energy_ev") for v in (math.nan, -math.inf, 1e308)],
    (("atom_energies_ev", "H"), math.nan, "model.atom_energies_ev"),
    (("atom_energies_ev", "H"), 1e300, "model.atom_energies_ev"),
    *[(("scaling", "scaled_min"), v, "model.scaling") for v in (math.nan, -math.inf, 5.0)],
    *[(("scaling", "statistics", "H", "minimum", 0), v, "model.scaling: statistics.H")
      for v in (math.nan, math.inf, 2.0, 1e300)],
    (("scaling", "statistics", "O", "sigma", 1), -1.0, "model.scaling: statistics.O"),
    (("scaling", "statistics", "O", "mean", 1), 7.0, "model.scaling: statistics.O"),
    *[(("symmetry_functions", "functions", "H", 0, "cutoff_radius"), v,
       "model.symmetry_functions: functions.H[0]: cutoff") for v in (math.nan, math.inf, 1e308, 0.0, -4.0)],
    *[(("symmetry_functions", "functions", "H", 0, "eta"), v,
       "model.symmetry_functions: functions.H[0]: eta") for v in (math.nan, -0.3, 1e308)],
    (("symmetry_functions", "functions", "H", 2, "zeta"), 0.5, "functions.H[2]: zeta"),
    (("symmetry_functions", "functions", "H", 2, "zeta"), math.nan, "functions.H[2]: zeta"),
    (("symmetry_functions", "functions", "H", 2, "lambda_"), 0.3, "functions.H[2]: lambda"),
    (("symmetry_functions", "functions", "H", 2, "cutoff_alpha"), 1.5, "functions.H[2]: cutoff_alpha"),
    (("symmetry_functions", "functions", "H", 2, "shift"), math.inf, "functions.H[2]: rshift"),
]


@pytest.mark.parametrize("keys,value,where", HDNNP_FIELDS)
def test_bad_numbers_in_saved_hdnnp(rng, tmp_path, keys, value, where):
    directory = _saved(tmp_path, synthetic_hdnnp(rng, all_types_set()))
    _edit_json(directory, _set(keys, value))
    assert _names(where, _saved_error(directory))


@pytest.mark.parametrize("array,value", [("H/weights0", np.nan), ("O/biases1", np.inf),
                                         ("H/weights1", 1e300), ("O/weights2", -1e7)])
def test_bad_weights_in_saved_hdnnp(rng, tmp_path, array, value):
    directory = _saved(tmp_path, synthetic_hdnnp(rng, all_types_set()))
    _break_array(directory, array, value)
    message = _saved_error(directory)
    assert f"model.networks.{array.split('/')[0]}" in message or f"array '{array}'" in message


def _break_array(directory, name, value):
    with np.load(directory / "arrays.npz") as data:
        arrays = {k: data[k].copy() for k in data.files}
    arrays[name].flat[0] = value
    with open(directory / "arrays.npz", "wb") as handle:
        np.savez(handle, **arrays)
    _edit_json(directory, lambda d: None)
    description = json.loads((directory / "model.json").read_text())
    description.pop("arrays_sha256")
    (directory / "model.json").write_text(json.dumps(description))


@pytest.mark.parametrize("keys,value,where", [
    (("output_scale_ev",), math.nan, "model.output_scale_ev"),
    (("output_scale_ev",), -1.0, "model.output_scale_ev"),
    (("energy_offset_ev",), math.inf, "model.energy_offset_ev"),
    (("energy_offset_ev",), 1e308, "model.energy_offset_ev"),
    (("length_angstrom",), math.inf, "model.length_angstrom"),
    (("length_angstrom",), 0.0, "model.length_angstrom"),
    (("input_mean", 1), math.nan, "input_mean[1]"),
    (("input_std", 0), 0.0, "standard deviations"),
    (("input_std", 2), math.inf, "input_std[2]"),
])
def test_bad_numbers_in_saved_1g_model(tmp_path, keys, value, where):
    directory = _saved(tmp_path, molecule_example().potential)
    _edit_json(directory, _set(keys, value))
    assert where in _saved_error(directory)


def test_bad_weights_in_saved_1g_model(tmp_path):
    directory = _saved(tmp_path, molecule_example().potential)
    _break_array(directory, "weights1", np.nan)
    message = _saved_error(directory)
    assert "model.network" in message or "array 'weights1'" in message


def test_cli_refuses_a_broken_saved_model_with_one_line(rng, tmp_path, capsys):
    model = synthetic_hdnnp(rng, all_types_set())
    directory = _saved(tmp_path, model)
    _edit_json(directory, _set(("output_scale_ev",), math.nan))
    structure = tmp_path / "in.xyz"
    structure.write_text('2\nProperties=species:S:1:pos:R:3 pbc="F F F"\nO 0 0 0\nH 1 0 0\n')
    code = main(["predict", str(directory), str(structure), "-o", str(tmp_path / "o.xyz")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "model.output_scale_ev" in err
    assert not (tmp_path / "o.xyz").exists()


def test_intact_models_still_load(rng, tmp_path, water_model_copy):
    read_n2p2_model(water_model_copy, length_unit="bohr", energy_unit="hartree")
    model = synthetic_hdnnp(rng, all_types_set())
    loaded = load_potential(_saved(tmp_path, model))
    assert loaded.output_scale == model.output_scale
