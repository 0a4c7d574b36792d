"""input.nn settings that the water model does not exercise: scaling modes and atom energies."""

from __future__ import annotations


import numpy as np
import pytest

from potforge.core.errors import ModelFormatError
from potforge.core.units import Hartree
from potforge.data.io import read_frames
from potforge.descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from potforge.models.hdnnp.n2p2 import read_n2p2_model


def _set_scaling_keywords(path, keywords):
    lines = [ln for ln in path.read_text().splitlines()
             if not ln.split("#")[0].strip().startswith(("scale_symmetry_functions",
                                                          "center_symmetry_functions",
                                                          "scale_min_short", "scale_max_short"))]
    path.write_text("\n".join(lines + keywords) + "\n")


@pytest.mark.parametrize("keywords,mode", [
    ([], "none"),
    (["scale_symmetry_functions"], "scale"),
    (["center_symmetry_functions"], "center"),
    (["scale_symmetry_functions", "center_symmetry_functions"], "scalecenter"),
    (["scale_symmetry_functions_sigma"], "scalesigma"),
    (["scale_symmetry_functions_sigma", "center_symmetry_functions"], "center"),  # n2p2's precedence
])
def test_scaling_keywords_select_n2p2_modes(water_model_copy, keywords, mode):
    _set_scaling_keywords(water_model_copy / "input.nn", keywords + ["scale_min_short -0.5", "scale_max_short 2.0"])
    model = read_n2p2_model(water_model_copy)
    assert model.scaling.mode == mode


@pytest.mark.parametrize("mode", ["none", "scale", "center", "scalecenter", "scalesigma"])
def test_scaling_formulas(mode, rng):
    """The affine map of each mode equals n2p2's formula (SymFnc::scale)."""
    g = rng.normal(size=(50, 4))
    st = ScalingStatistics(g.min(0), g.max(0), g.mean(0), g.std(0))
    smin, smax = -0.5, 2.0
    scaling = SymmetryFunctionScaling(mode, {"H": st}, smin, smax)
    expected = {
        "none": g,
        "scale": smin + (smax - smin) * (g - st.minimum) / (st.maximum - st.minimum),
        "center": g - st.mean,
        "scalecenter": smin + (smax - smin) * (g - st.mean) / (st.maximum - st.minimum),
        "scalesigma": smin + (smax - smin) * (g - st.mean) / st.sigma,
    }[mode]
    np.testing.assert_allclose(scaling.scale("H", g), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", ["scale", "scalecenter", "scalesigma"])
def test_constant_function_is_a_constant_input(mode):
    """min == max (a function constant on the training set) is legal in scaling.data; n2p2
    divides by zero there (NaN inputs), potforge feeds the constant S_min."""
    st = ScalingStatistics(np.array([1.0, 2.0]), np.array([1.0, 3.0]), np.array([1.0, 2.5]),
                           np.array([0.0, 0.1]))
    a, b = SymmetryFunctionScaling(mode, {"O": st}, -0.5, 2.0).affine("O")
    assert a[0] == 0.0 and b[0] == -0.5 and np.all(np.isfinite(a)) and np.all(np.isfinite(b))


def test_sigma_scaling_needs_sigma():
    st = ScalingStatistics(np.array([1.0]), np.array([3.0]), np.array([2.5]), np.array([0.0]))
    with pytest.raises(ValueError, match="symmetry function 1: sigma is zero but the function varies"):
        SymmetryFunctionScaling("scalesigma", {"O": st}).affine("O")


def test_model_with_a_constant_function_loads_and_runs(water_model_copy, water_dir):
    path = water_model_copy / "scaling.data"
    lines = path.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["1", "3"])
    fields = lines[k].split()
    fields[3] = fields[4] = fields[2]  # max = mean = min
    lines[k] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    model = read_n2p2_model(water_model_copy, length_unit="bohr", energy_unit="hartree")
    frame = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[1]
    p = model.predict(frame.atoms)
    assert np.isfinite(p.energy) and np.all(np.isfinite(p.forces)) and np.all(np.isfinite(p.stress))
    assert p.n_extrapolations > 0  # the H function 3 varies: every other value is outside


def test_scaling_mode_changes_predictions_consistently(water_model_copy, water_dir):
    """Re-fitting nothing but switching min/max scaling to sigma scaling must change the
    network inputs, hence the energy: the mode really reaches the kernel."""
    frame = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[1]
    e_ref = read_n2p2_model(water_model_copy).predict(frame.atoms).energy
    _set_scaling_keywords(water_model_copy / "input.nn", ["scale_symmetry_functions_sigma"])
    assert read_n2p2_model(water_model_copy).predict(frame.atoms).energy != pytest.approx(e_ref, abs=1e-3)


def test_atom_energies_are_added(water_model_copy, water_dir):
    frame = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[1]
    before = read_n2p2_model(water_model_copy, length_unit="bohr", energy_unit="hartree").predict(frame.atoms)
    nn = water_model_copy / "input.nn"
    nn.write_text(nn.read_text() + "atom_energy H -0.45890771\natom_energy O -74.94518524\n")
    after = read_n2p2_model(water_model_copy, length_unit="bohr", energy_unit="hartree").predict(frame.atoms)
    n_h = frame.symbols.count("H")
    n_o = frame.symbols.count("O")
    shift = (n_h * -0.45890771 + n_o * -74.94518524) * Hartree
    assert after.energy - before.energy == pytest.approx(shift, rel=1e-14)
    np.testing.assert_array_equal(after.forces, before.forces)
    with pytest.raises(ModelFormatError, match="atom_energy"):
        nn.write_text(nn.read_text() + "atom_energy Na -1.0\n")
        read_n2p2_model(water_model_copy)
