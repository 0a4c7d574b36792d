"""n2p2 4G models with data-set normalisation (mean_energy, conv_energy, conv_length,
conv_charge) read exactly: potforge against the real nnp-predict on normalised variants of the
shipped Carbon_chain_4G and AlAuMgO_4G models (tests/fixtures/n2p2_4g_normalised, made by
bench/n2p2_normalised_fixtures.py; the weights, scaling and hardness files are the shipped ones
in ../shared/data/n2p2). Open and periodic, neutral and charged, all three Ewald truncation
choices, with and without conv_charge.

Measured: at most 7e-14 Ha/atom in energy, 1.1e-13 Ha/Bohr in forces, 4e-14 e in charges;
asserted 1e-9. Without the normalisation (the keywords dropped) the same files differ from
n2p2 by 1e-2 to 2.5 Ha/atom, and ignoring only conv_charge (the short-range network's charge
input) by 6e-4 to 2e-2 Ha/atom; the QEq charges are the same with and without normalisation
(n2p2 converts every electrostatic quantity consistently), as n2p2 itself shows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.units import Bohr, Hartree

from potforge.core.errors import ModelFormatError
from potforge.data.io.n2p2 import read_input_data
from potforge.export import export_model, load_model
from potforge.models.hdnnp_charges.n2p2 import read_n2p2_4g_model

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "n2p2"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "n2p2_4g_normalised"
UNITS = dict(length_unit="bohr", energy_unit="hartree")
SHIPPED = {"carbon_chain": "Carbon_chain_4G", "carbon_chain_charge": "Carbon_chain_4G",
           "alaumgo": "AlAuMgO_4G", "alaumgo_fixed_cutoff": "AlAuMgO_4G", "alaumgo_jackson": "AlAuMgO_4G"}
CASES = [(v, s.name) for v in SHIPPED for s in sorted((FIXTURES / v).iterdir()) if s.is_dir()]

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared n2p2 reference data not present")


def _model_dir(tmp_path: Path, variant: str, input_nn: str | None = None) -> Path:
    """The shipped model files with the variant's input.nn (or ``input_nn`` text)."""
    target = tmp_path / variant
    target.mkdir()
    for p in (DATA / SHIPPED[variant]).glob("*.data"):
        if p.name != "input.data":
            shutil.copy(p, target / p.name)
    text = (FIXTURES / variant / "input.nn").read_text() if input_nn is None else input_nn
    (target / "input.nn").write_text(text)
    return target


def _atoms(variant: str, structure: str):
    own = FIXTURES / variant / structure / "input.data"
    frame = read_input_data(own if own.is_file() else DATA / SHIPPED[variant] / "input.data", **UNITS)[0]
    atoms = frame.atoms
    atoms.info["total_charge"] = frame.total_charge or 0.0
    return atoms


def _reference(variant: str, structure: str):
    ref = FIXTURES / variant / structure
    energy = np.loadtxt(ref / "energy.out", ndmin=2)[0, 3]
    charges = np.loadtxt(ref / "nnatoms.out", ndmin=2)[:, 4]
    forces = np.loadtxt(ref / "nnforces.out", ndmin=2)[:, 5:8]
    return energy, forces, charges


def _differences(model, variant: str, structure: str) -> tuple[float, float, float]:
    atoms = _atoms(variant, structure)
    p = model.predict(atoms)
    energy, forces, charges = _reference(variant, structure)
    return (abs(p.energy / Hartree - energy) / len(atoms),
            float(np.abs(p.forces / (Hartree / Bohr) - forces).max()),
            float(np.abs(p.charges - charges).max()))


@pytest.mark.parametrize("variant, structure", CASES)
def test_normalised_model_equals_nnp_predict(tmp_path, variant, structure):
    model = read_n2p2_4g_model(_model_dir(tmp_path, variant), **UNITS)
    de, df, dq = _differences(model, variant, structure)
    assert de < 1e-9 and df < 1e-9 and dq < 1e-9, (de, df, dq)
    assert set(model.metadata["n2p2_normalisation"]) == {"mean_energy", "conv_energy", "conv_length",
                                                         "conv_charge"}


def _without(text: str, keys: tuple[str, ...]) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.split()[:1] or ln.split()[0] not in keys)


@pytest.mark.parametrize("keys", [("mean_energy", "conv_energy", "conv_length", "conv_charge"),
                                  ("conv_charge",)])
def test_the_fixtures_see_the_normalisation(tmp_path, keys):
    """The reference answers tell a reader that ignores (part of) the normalisation apart
    (conv_charge acts on the short-range network's charge input: energies and forces)."""
    variant = "carbon_chain_charge"
    text = _without((FIXTURES / variant / "input.nn").read_text(), keys)
    model = read_n2p2_4g_model(_model_dir(tmp_path, variant, text), **UNITS)
    de, df, dq = _differences(model, variant, "charged")
    assert de > 1e-4 and df > 1e-3, (de, df, dq)


@pytest.mark.parametrize("variant", ["carbon_chain_charge", "alaumgo"])
def test_export_of_a_normalised_model_predicts_the_same(tmp_path, variant):
    """potforge's n2p2 exporter writes the equivalent un-normalised files; re-read, they give
    the same predictions (bench/n2p2_normalised_fixtures.py --export runs nnp-predict on them)."""
    model = read_n2p2_4g_model(_model_dir(tmp_path, variant), **UNITS)
    export_model(model, "n2p2", tmp_path / "exported")
    text = (tmp_path / "exported" / "input.nn").read_text()
    assert not any(ln.split()[:1] in (["mean_energy"], ["conv_energy"], ["conv_charge"])
                   for ln in text.splitlines())
    again = load_model(tmp_path / "exported", **UNITS)
    for structure in [s.name for s in sorted((FIXTURES / variant).iterdir()) if s.is_dir()]:
        atoms = _atoms(variant, structure)
        p, q = model.predict(atoms), again.predict(atoms)
        assert abs(q.energy - p.energy) <= 1e-12 * abs(p.energy)
        np.testing.assert_allclose(q.forces, p.forces, rtol=0, atol=1e-11)
        np.testing.assert_allclose(q.charges, p.charges, rtol=0, atol=1e-11)


@pytest.mark.parametrize("lines, key", [
    ("conv_charge 2.0", "conv_charge"),                                   # alone: n2p2 refuses it
    ("mean_energy 0.1\nconv_energy 2.0", "normalisation needs"),          # conv_length missing
    ("mean_energy 0.1\nconv_energy 2.0\nconv_length 1.0\nconv_charge 0", "conv_charge"),
    ("mean_energy 0.1\nconv_energy 2.0\nconv_length 1.0\nconv_charge -1.5", "conv_charge"),
    ("mean_energy 0.1\nconv_energy 2.0\nconv_length 1.0\nconv_charge nan", "conv_charge"),
    ("mean_energy 0.1\nconv_energy -2.0\nconv_length 1.0", "conv_energy"),
    ("mean_energy 1e30\nconv_energy 2.0\nconv_length 1.0", "mean_energy"),
])
def test_broken_normalisation_is_refused_in_one_line(tmp_path, lines, key):
    text = (DATA / "Carbon_chain_4G" / "input.nn").read_text() + "\n" + lines + "\n"
    with pytest.raises(ModelFormatError, match=key) as err:
        read_n2p2_4g_model(_model_dir(tmp_path, "carbon_chain", text), **UNITS)
    assert "\n" not in str(err.value) and "input.nn" in str(err.value)
