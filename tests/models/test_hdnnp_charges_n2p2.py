"""n2p2 4G models read exactly: the three shipped models (periodic water, the periodic Au/MgO
slab, the open carbon chain) against n2p2's own outputs (reference/: nnp-predict;
reference_train/output.data: nnp-dataset), the weight-count refusal of the carbon chain's
shipped input.nn, the checks of the 4G files, and the n2p2 round trip.

Measured (this build): max differences to n2p2 of 1e-13 Ha/atom in energy, 1e-14 Ha/Bohr in
forces and 1e-13 e in charges; the asserted tolerances are the issue's 1e-6 and tighter ones
(1e-9) that show the import is exact, not merely within the acceptance."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.units import Bohr, Hartree

from potforge.core.errors import ModelFormatError, PotforgeError
from potforge.data.io.n2p2 import read_input_data
from potforge.export import export_model, load_model
from potforge.models import load_potential
from potforge.models.hdnnp.n2p2 import read_n2p2_model
from potforge.models.hdnnp_charges.n2p2 import read_n2p2_4g_model

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "n2p2"
MODELS = ("H2O_RPBE-D3_4G", "AlAuMgO_4G", "Carbon_chain_4G")
UNITS = dict(length_unit="bohr", energy_unit="hartree")

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared n2p2 reference data not present")


def _atoms(frame):
    atoms = frame.atoms
    atoms.info["total_charge"] = frame.total_charge or 0.0
    return atoms


@pytest.fixture(scope="module")
def models():
    return {name: read_n2p2_4g_model(DATA / name, **UNITS) for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_prediction_equals_n2p2(models, name):
    model = models[name]
    atoms = _atoms(read_input_data(DATA / name / "input.data", **UNITS)[0])
    p = model.predict(atoms)
    ref = DATA / name / "reference"
    energy = np.loadtxt(ref / "energy.out", ndmin=2)[0]
    per_atom = np.loadtxt(ref / "nnatoms.out")
    forces = np.loadtxt(ref / "nnforces.out")[:, 5:8]
    n = len(atoms)
    de = abs(p.energy / Hartree - energy[3]) / n
    dq = np.abs(p.charges - per_atom[:, 4]).max()
    df = np.abs(p.forces / (Hartree / Bohr) - forces).max()
    assert de < 1e-9 and dq < 1e-9 and df < 1e-9, (de, dq, df)
    assert abs(p.charges.sum() - atoms.info["total_charge"]) < 1e-10
    assert abs(p.energies.sum() - p.energy) < 1e-9 * abs(p.energy)


@pytest.mark.parametrize("name", MODELS)
def test_training_frames_equal_nnp_dataset(models, name):
    """nnp-dataset's output.data (NNP energy, forces, charges) on the first frames of train/,
    charged carbon chains included."""
    model = models[name]
    inputs = read_input_data(DATA / name / "train" / "input.data", **UNITS)
    outputs = read_input_data(DATA / name / "reference_train" / "output.data", **UNITS)
    charged = [k for k, f in enumerate(inputs) if f.total_charge]
    picks = sorted(set([0, 1] + charged[:2]))
    for k in picks:
        p = model.predict(_atoms(inputs[k]))
        ref = outputs[k]
        n = len(ref.atoms)
        assert abs(p.energy - ref.energy) / n < 1e-9 * Hartree
        assert np.abs(p.forces - ref.forces).max() < 1e-9 * Hartree / Bohr
        assert np.abs(p.charges - ref.charges).max() < 1e-9
    if name == "Carbon_chain_4G":
        assert charged, "the carbon-chain set has charged structures"


def test_loaders_hand_4g_directories_to_the_4g_family():
    for model in (load_model(DATA / "Carbon_chain_4G", **UNITS),
                  read_n2p2_model(DATA / "Carbon_chain_4G", **UNITS)):
        assert model.kind == "hdnnp-4g"


def test_default_units_are_refused_with_a_hint():
    with pytest.raises(ModelFormatError, match="Coulomb constant of 1 eV"):
        read_n2p2_4g_model(DATA / "Carbon_chain_4G")


def _copy(tmp_path, name="Carbon_chain_4G") -> Path:
    target = tmp_path / name
    shutil.copytree(DATA / name, target, ignore=shutil.ignore_patterns("reference*", "train", "*.data",
                                                                        "README*"))
    for p in (DATA / name).glob("*.data"):
        if p.name != "input.data":
            shutil.copy(p, target / p.name)
    return target


def test_shipped_carbon_chain_input_nn_is_refused(tmp_path):
    target = _copy(tmp_path)
    shutil.copy(target / "input.nn.as-shipped", target / "input.nn")
    with pytest.raises(ModelFormatError) as err:
        load_model(target, **UNITS)
    message = str(err.value)
    assert "\n" not in message and "global_nodes_short" in message and "needs" in message


@pytest.mark.parametrize("prefix", ["weights", "weightse"])
@pytest.mark.parametrize("z", [1, 6])
@pytest.mark.parametrize("change", ["extra", "missing"])
def test_weight_count_mismatch_is_refused(tmp_path, prefix, z, change):
    target = _copy(tmp_path)
    path = target / f"{prefix}.{z:03d}.data"
    lines = path.read_text().splitlines()
    lines = lines + ["0.5"] if change == "extra" else lines[:-1]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ModelFormatError, match=rf"{path.name}: \d+ values, but the architecture") as err:
        read_n2p2_4g_model(target, **UNITS)
    keyword = "global_nodes_short" if prefix == "weights" else "global_nodes_electrostatic"
    assert keyword in str(err.value)


@pytest.mark.parametrize("edit, match", [
    (lambda d: (d / "hardness.001.data").write_text("1.0\n2.0\n"), "exactly one"),
    (lambda d: (d / "hardness.006.data").unlink(), "hardness of element C missing"),
    (lambda d: (d / "hardness.006.data").write_text("1e30\n"), "outside"),
    (lambda d: (d / "hardness.006.data").write_text("nan\n"), "hardness"),
    (lambda d: _edit(d, "fixed_gausswidth H", None), "no width for H"),
    (lambda d: _edit(d, "fixed_gausswidth C", "fixed_gausswidth C -1.0"), "fixed_gausswidth"),
    (lambda d: _edit(d, "screen_electrostatics", "screen_electrostatics 8.0 4.8"), "inner radius"),
    (lambda d: _edit(d, "ewald_prec", "ewald_prec 1.e-5"), "ewald_prec"),
    (lambda d: _edit(d, "global_nodes_electrostatic", "global_nodes_electrostatic 15"), "hidden layers"),
    # incomplete data-set normalisation (n2p2 refuses it too; complete: test_hdnnp_charges_n2p2_normalised)
    (lambda d: _edit(d, "nnp_generation", "nnp_generation 4\nmean_energy 0.1\nconv_energy 2"),
     "normalisation needs"),
    (lambda d: _edit(d, "nnp_generation", "nnp_generation 3"), "generation"),
])
def test_broken_4g_files_are_refused_in_one_line(tmp_path, edit, match):
    target = _copy(tmp_path)
    edit(target)
    with pytest.raises(PotforgeError, match=match) as err:
        read_n2p2_4g_model(target, **UNITS)
    assert "\n" not in str(err.value)


def _edit(directory: Path, startswith: str, replacement: str | None) -> None:
    path = directory / "input.nn"
    out = []
    for line in path.read_text().splitlines():
        if line.startswith(startswith):
            if replacement is not None:
                out.append(replacement)
        else:
            out.append(line)
    path.write_text("\n".join(out) + "\n")


@pytest.mark.parametrize("name", ["AlAuMgO_4G", "Carbon_chain_4G"])
def test_n2p2_export_and_saved_model_predict_identically(models, name, tmp_path):
    model = models[name]
    atoms = _atoms(read_input_data(DATA / name / "input.data", **UNITS)[0])
    p = model.predict(atoms)
    export_model(model, "n2p2", tmp_path / "n2p2")
    again = load_model(tmp_path / "n2p2", **UNITS)
    q = again.predict(atoms)
    assert abs(q.energy - p.energy) <= 1e-12 * abs(p.energy)
    np.testing.assert_allclose(q.forces, p.forces, rtol=0, atol=1e-12)
    np.testing.assert_allclose(q.charges, p.charges, rtol=0, atol=1e-12)
    model.save(tmp_path / "saved")
    loaded = load_potential(tmp_path / "saved")
    r = loaded.predict(atoms)
    assert r.energy == p.energy
    np.testing.assert_array_equal(r.forces, p.forces)
    np.testing.assert_array_equal(r.charges, p.charges)


def test_iterative_charges_equal_the_dense_solve_on_the_water_box(models):
    """The large-system path (preconditioned CG on matrix-free products) against the dense
    bordered solve on the 384-atom water box: charges within 1e-8 e (the issue's scale point),
    energies and forces within round-off of the solve's tolerance."""
    import dataclasses

    model = models["H2O_RPBE-D3_4G"]
    atoms = _atoms(read_input_data(DATA / "H2O_RPBE-D3_4G" / "input.data", **UNITS)[0])
    dense = model.predict(atoms)
    settings = model.electrostatics
    try:
        model.electrostatics = dataclasses.replace(settings, solver="cg")
        iterative = model.predict(atoms)
    finally:
        model.electrostatics = settings
    assert np.abs(iterative.charges - dense.charges).max() < 1e-8
    assert abs(iterative.energy - dense.energy) / len(atoms) < 1e-8
    assert np.abs(iterative.forces - dense.forces).max() < 1e-6


@pytest.mark.parametrize("keyword", ["nnp_gen 4", "nnp_type_gen 4", "nnp_type 4G-HDNNP", "nnp_type 4"])
def test_n2p2_generation_aliases_are_read_as_4g(models, tmp_path, keyword):
    """n2p2's Settings.cpp: nnp_type = nnp_generation = nnp_type_gen = nnp_gen."""
    target = _copy(tmp_path)
    _edit(target, "nnp_generation", keyword)
    for read in (read_n2p2_4g_model, read_n2p2_model, load_model):
        model = read(target, **UNITS)
        assert model.kind == "hdnnp-4g"
    atoms = _atoms(read_input_data(DATA / "Carbon_chain_4G" / "input.data", **UNITS)[0])
    assert model.predict(atoms).energy == models["Carbon_chain_4G"].predict(atoms).energy


def test_two_generation_keywords_are_refused(tmp_path):
    target = _copy(tmp_path)
    _edit(target, "nnp_generation", "nnp_generation 4\nnnp_gen 4")
    with pytest.raises(ModelFormatError, match="'nnp_gen'.* appears again"):
        read_n2p2_4g_model(target, **UNITS)


def test_4g_files_without_a_generation_keyword_get_a_hint(tmp_path):
    target = _copy(tmp_path)
    _edit(target, "nnp_generation", None)
    with pytest.raises(ModelFormatError, match=r"declares no generation, but (weightse|hardness)\.\d+\.data "
                                               r"belongs to a 4G model; add 'nnp_generation 4'") as err:
        read_n2p2_model(target, **UNITS)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, match", [("0.0\n", "positive"), ("-0.3\n", "positive"),
                                         ("10.0 11.0\n", "2 numbers on the line, expected one")])
def test_hardness_files_that_are_not_one_positive_number_are_refused(tmp_path, text, match):
    target = _copy(tmp_path)
    (target / "hardness.006.data").write_text(text)
    with pytest.raises(ModelFormatError, match=match) as err:
        read_n2p2_4g_model(target, **UNITS)
    assert "hardness.006.data" in str(err.value) and "\n" not in str(err.value)
