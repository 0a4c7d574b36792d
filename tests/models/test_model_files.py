"""Model files: bad input gives one-line errors; potforge and n2p2 formats round-trip."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from potforge.core.errors import ModelFormatError, StructureError, UnknownElementError
from potforge.data.io import read_frames
from potforge.export import load_model
from potforge.models.hdnnp.n2p2 import read_n2p2_model, write_n2p2_model
from potforge.models import load_potential

from ..helpers import all_types_set, random_structure, synthetic_hdnnp


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_wrong_architecture_in_input_nn(water_model_copy):
    """n2p2 accepts weights that do not fit global_nodes_short; potforge names the file."""
    _edit(water_model_copy / "input.nn", "global_nodes_short              25 25",
          "global_nodes_short              25 20")
    with pytest.raises(ModelFormatError) as err:
        read_n2p2_model(water_model_copy, length_unit="bohr", energy_unit="hartree")
    message = str(err.value)
    assert "weights.001.data" in message and "27-25-20-1" in message and "\n" not in message


def test_carbon_chain_as_shipped_is_rejected(shared_data, tmp_path):
    """Carbon_chain_4G/input.nn.as-shipped declares 15-15 for weights that fit 10-10."""
    source = shared_data / "n2p2" / "Carbon_chain_4G"
    settings = (source / "input.nn.as-shipped").read_text()
    target = tmp_path / "carbon"
    target.mkdir()
    # reduce to a short-range-only model so that the check under test is the weight count
    lines = [ln for ln in settings.splitlines() if not ln.strip().startswith(("nnp_generation",))]
    (target / "input.nn").write_text("\n".join(lines) + "\n")
    for name in ("scaling.data", "weights.001.data", "weights.006.data"):
        shutil.copy(source / name, target / name)
    with pytest.raises(ModelFormatError, match=r"weights\.00[16]\.data.*needs"):
        read_n2p2_model(target, length_unit="bohr", energy_unit="hartree")


def test_missing_scaling_data(water_model_copy):
    (water_model_copy / "scaling.data").unlink()
    with pytest.raises(ModelFormatError, match="scaling.data: missing"):
        read_n2p2_model(water_model_copy)


def test_scaling_data_with_wrong_index(water_model_copy):
    path = water_model_copy / "scaling.data"
    lines = path.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("   1    3") or ln.split()[:2] == ["1", "3"])
    fields = lines[k].split()
    fields[1] = "4"
    lines[k] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ModelFormatError, match=rf"scaling.data:{k + 1}: .*expected element 1 \(H\), function 3"):
        read_n2p2_model(water_model_copy)


@pytest.mark.parametrize("old,new,pattern", [
    ("global_activation_short         t t l", "global_activation_short         t t",
     "input.nn:.*needs 3 letters"),
    ("global_activation_short         t t l", "global_activation_short         t q l",
     "unknown activation 'q'"),
    ("symfunction_short H 2 H 0.001 0.0 12.00", "symfunction_short H 2 H 0.001 12.00",
     r"input.nn:\d+: symfunction_short: type 2 needs"),
    ("elements                        H O", "elements                        H Q", "unknown element 'Q'"),
    ("elements                        H O", "elements                        O H O",
     r"input.nn:\d+: elements: O is listed twice"),
    ("cutoff_type                     2", "cutoff_type                     12", "not a cutoff type"),
])
def test_bad_input_nn(water_model_copy, old, new, pattern):
    _edit(water_model_copy / "input.nn", old, new)
    with pytest.raises(ModelFormatError, match=pattern):
        read_n2p2_model(water_model_copy)


def test_unknown_element_and_bad_structures(water_model, water_dir):
    frame = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[1]
    atoms = frame.atoms.copy()
    atoms[0].symbol = "Na"
    with pytest.raises(UnknownElementError, match="Na.*model species: H, O"):
        water_model.predict(atoms)
    atoms = frame.atoms.copy()
    atoms.positions[3, 1] = np.nan
    with pytest.raises(StructureError, match="atom 3"):
        water_model.predict(atoms)
    atoms = frame.atoms.copy()
    atoms.positions[5] = atoms.positions[4] + [0.05, 0, 0]
    with pytest.raises(StructureError, match="overlap"):
        water_model.predict(atoms)


def test_n2p2_export_round_trip(water_model, water_dir, tmp_path):
    frame = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[0]
    before = water_model.predict(frame.atoms)
    for length, energy in [("bohr", "hartree"), ("angstrom", "ev")]:
        out = tmp_path / f"export_{length}"
        write_n2p2_model(water_model, out, length_unit=length, energy_unit=energy)
        again = read_n2p2_model(out, length_unit=length, energy_unit=energy)
        after = again.predict(frame.atoms)
        assert abs(after.energy - before.energy) < 1e-9
        np.testing.assert_allclose(after.forces, before.forces, rtol=0, atol=1e-11)


def test_potforge_model_round_trip(rng, tmp_path):
    sfs = all_types_set()
    structures = [random_structure(rng, n_atoms=10, cell_size=4.3) for _ in range(3)]
    model = synthetic_hdnnp(rng, sfs, activations="tpl", structures=structures)
    model.save(tmp_path / "m", config={"note": "test"})
    again = load_potential(tmp_path / "m")
    again.n_threads = model.n_threads  # summation order (last bits) depends on the thread count
    assert load_model(tmp_path / "m").species == model.species
    for atoms in structures:
        a, b = model.predict(atoms), again.predict(atoms)
        assert a.energy == b.energy
        np.testing.assert_array_equal(a.forces, b.forces)
        np.testing.assert_array_equal(a.stress, b.stress)


def test_load_model_errors(tmp_path):
    with pytest.raises(ModelFormatError, match="not a directory"):
        load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="neither model.json"):
        load_model(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match=r"model.json:1: invalid JSON"):
        load_model(tmp_path / "bad")
