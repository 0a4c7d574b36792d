"""``potforge properties`` on a saved potforge model: JSON keys, the lattice constant at the
model's energy minimum, a DFT comparison table and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import units
from ase.build import bulk

from potforge.cli.main import main


def pair_model_dir(path):
    """A potforge HDNNP that is exactly a pair potential: one linear network on two radial
    functions, E_i = Σ_j [20 e^{−r²} − 0.35 e^{−2 (r − 2.55)²}] f_c(r) (r in Å, f_c cosine,
    5 Å). fcc at about 3.53 Å is its stable minimum, and as a pair potential it obeys the
    Cauchy relation C12 = C44 at zero pressure."""
    from potforge.descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
    from potforge.descriptors.symmetry_functions import SymmetryFunction, SymmetryFunctionSet
    from potforge.models.hdnnp.potential import HDNNP
    from potforge.models.network import AtomicNetwork

    kw = dict(element="Cu", neighbors=("Cu",), cutoff_radius=5.0, cutoff_type="cos")
    sfs = SymmetryFunctionSet(("Cu",), {"Cu": [SymmetryFunction(2, eta=2.0, shift=2.55, **kw),
                                               SymmetryFunction(2, eta=1.0, shift=0.0, **kw)]},
                              sort=False)
    identity = ScalingStatistics(np.zeros(2), np.ones(2), np.zeros(2), np.ones(2))
    scaling = SymmetryFunctionScaling("none", {"Cu": identity})
    net = AtomicNetwork([np.array([[-0.35, 20.0]]), np.array([[1.0]])],
                        [np.zeros(1), np.zeros(1)], "ll", False)
    HDNNP(sfs, scaling, {"Cu": net}, n_threads=1).save(path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return pair_model_dir(tmp_path_factory.mktemp("pair") / "model")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_lattice_and_elastic(model, capsys):
    import potforge

    code, out, err = run(capsys, "properties", model, "--element", "Cu", "--lattice", "fcc",
                         "--only", "lattice,elastic", "--json")
    assert code == 0, err
    props = json.loads(out)
    assert set(props) == {"element", "lattice", "a0_angstrom", "cohesive_energy_ev", "c11_gpa",
                          "c12_gpa", "c44_gpa", "cij_gpa", "cauchy_pressure_gpa",
                          "bulk_modulus_voigt_gpa"}
    assert "properties: lattice: a0 =" in err and "properties: elastic:" in err
    # a0 is the minimum of the model's own energy, and stress-free
    calc = potforge.calculator(model)

    def energy(a):
        atoms = bulk("Cu", "fcc", a=a)
        atoms.calc = calc
        return atoms.get_potential_energy()

    a0 = props["a0_angstrom"]
    assert energy(a0 - 0.01) > energy(a0) < energy(a0 + 0.01)
    atoms = bulk("Cu", "fcc", a=a0)
    atoms.calc = calc
    assert np.max(np.abs(atoms.get_stress())) / units.GPa < 1e-3
    # a pair potential at zero pressure: Cauchy relation
    assert abs(props["c12_gpa"] - props["c44_gpa"]) < 0.5
    assert props["c11_gpa"] > props["c12_gpa"] > 0
    assert props["cauchy_pressure_gpa"] == pytest.approx(props["c12_gpa"] - props["c44_gpa"])


def test_text_table_with_dft_comparison(model, tmp_path, capsys):
    """--dft with labelled frames written here (the model itself as the 'DFT', so the
    comparison must show small differences)."""
    import potforge
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    calc = potforge.calculator(model)
    code, out, _ = run(capsys, "properties", model, "--element", "Cu", "--lattice", "fcc",
                       "--only", "lattice", "--json")
    a0 = json.loads(out)["a0_angstrom"]
    ground = bulk("Cu", "fcc", a=a0, cubic=True)
    frames = []
    strains = [(None, 0.0)] + [(k, s) for k in range(6) for s in (-0.02, -0.01, 0.01, 0.02, 0.03, -0.03)]
    for k, s in strains:
        atoms = ground.copy()
        if k is not None:
            f = np.eye(3)
            pair = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)][k]
            f[pair] += s
            atoms.set_cell(ground.cell.array @ f.T, scale_atoms=True)
        atoms.calc = calc
        labels = dict(energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                      stress=atoms.get_stress())
        atoms.calc = SinglePointCalculator(atoms, **labels)
        atoms.info["config_type"] = "Elastic"
        atoms.info["description"] = "Ground state crystal" if k is None else "strained"
        frames.append(atoms)
    data = tmp_path / "dft.xyz"
    write(data, frames, format="extxyz")

    code, out, err = run(capsys, "properties", model, "--element", "Cu", "--lattice", "fcc",
                         "--only", "elastic", "--dft", data)
    assert code == 0, err
    assert "a0_angstrom" in out and "Comparison with" in out
    rows = {line.split("|")[1].strip(): line.split("|")[2:5] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| property")}
    for key in ("a0_angstrom", "c11_gpa", "c12_gpa", "c44_gpa"):
        model_value, dft_value, diff = (cell.strip() for cell in rows[key])
        assert float(model_value) == pytest.approx(float(dft_value), rel=0.02), key
        assert abs(float(diff)) < 2.0


@pytest.mark.parametrize("argv, message", [
    (["--element", "Cu", "--lattice", "fcx"], "'fcx' is not one of fcc"),
    (["--element", "Ni", "--lattice", "fcc"], "the model does not know Ni; model species: Cu"),
    (["--element", "Cu", "--lattice", "fcc", "--only", "elastics"], "did you mean 'elastic'"),
    (["--element", "Cu", "--lattice", "bcc", "--only", "stacking_fault"], "not available for bcc"),
    (["--element", "Zz", "--lattice", "fcc"], "not a chemical element"),
])
def test_errors_are_one_line(model, capsys, argv, message):
    code, out, err = run(capsys, "properties", model, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("potforge properties: error:")
    assert message in lines[0]
    assert "Traceback" not in err


def test_bad_dft_file_is_one_line(model, tmp_path, capsys):
    bad = tmp_path / "bad.xyz"
    bad.write_text("3\nnot an extxyz comment line with = = broken\nCu 0 0\n")
    code, _, err = run(capsys, "properties", model, "--element", "Cu", "--lattice", "fcc",
                       "--only", "lattice", "--dft", bad)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and str(bad) in err
    code, _, err = run(capsys, "properties", model, "--element", "Cu", "--lattice", "fcc",
                       "--dft", tmp_path / "missing.xyz")
    assert code == 2 and "no such file" in err
