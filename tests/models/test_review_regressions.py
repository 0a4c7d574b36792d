"""Regression tests for bugs found in review (each failed before its fix)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase import Atoms

from potforge import _native
from potforge.core.errors import ModelFormatError, StructureError
from potforge.models.hdnnp.n2p2 import read_n2p2_model
from potforge.models import load_potential

from ..helpers import all_types_set, synthetic_hdnnp


@pytest.mark.parametrize("architecture", _native.supported_architectures())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pair_just_inside_the_cutoff(water_model, architecture, dtype, monkeypatch):
    """A distance that rounds up to the cutoff in float32 must neither be counted nor stored
    (it used to leave a stale neighbour slot: a 0.6 eV error)."""
    monkeypatch.setenv("POTFORGE_KERNEL_ARCH", architecture)
    rc = water_model.cutoff
    far = Atoms("OH", positions=[[0, 0, 0], [rc + 1.0, 0, 0]])
    near = Atoms("OH", positions=[[0, 0, 0], [rc - 1e-8, 0, 0]])
    try:
        water_model.dtype = dtype
        water_model._kernel = None
        e_far, p_near = water_model.predict(far).energy, water_model.predict(near)
    finally:
        water_model.dtype = "float64"
        water_model._kernel = None
    assert abs(p_near.energy - e_far) < 1e-5
    assert np.abs(p_near.forces).max() < 1e-5


@pytest.mark.parametrize("cell,pbc,message", [
    ([[3, 0, 0], [6, 0, 0], [0, 0, 0]], [1, 1, 0], "linearly dependent"),
    ([[3, 0, 0], [0, 1e-4, 0], [0, 0, 5]], [1, 1, 1], "thick"),
    ([[0.1, 0, 0], [0, 0, 0], [0, 0, 0]], [1, 0, 0], "thick"),
])
def test_degenerate_periodic_cells_are_rejected(water_model, cell, pbc, message):
    atoms = Atoms("OH", positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=cell, pbc=pbc)
    with pytest.raises(StructureError, match=message):
        water_model.predict(atoms)


def test_tabs_in_input_nn(water_model_copy):
    nn = water_model_copy / "input.nn"
    nn.write_text(nn.read_text().replace("elements                        H O", "elements\tH O"))
    assert read_n2p2_model(water_model_copy).species == ("H", "O")


@pytest.mark.parametrize("edit", ["nan index", "bare cutoff_type", "binary input.nn", "binary weights"])
def test_broken_model_files_give_model_format_errors(water_model_copy, edit):
    if edit == "nan index":
        path = water_model_copy / "scaling.data"
        lines = path.read_text().splitlines()
        k = next(i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
        lines[k] = "nan " + " ".join(lines[k].split()[1:])
        path.write_text("\n".join(lines) + "\n")
    elif edit == "bare cutoff_type":
        nn = water_model_copy / "input.nn"
        nn.write_text(nn.read_text().replace("cutoff_type                     2", "cutoff_type"))
    elif edit == "binary input.nn":
        (water_model_copy / "input.nn").write_bytes(b"elements \xff\xfe H O\n")
    else:
        (water_model_copy / "weights.001.data").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ModelFormatError) as err:
        read_n2p2_model(water_model_copy)
    assert "\n" not in str(err.value)


def test_potforge_model_files_checked(rng, tmp_path):
    model = synthetic_hdnnp(rng, all_types_set())
    model.save(tmp_path / "a")
    other = synthetic_hdnnp(rng, all_types_set())
    other.save(tmp_path / "b")
    shutil.copy(tmp_path / "b" / "arrays.npz", tmp_path / "a" / "arrays.npz")
    with pytest.raises(ModelFormatError, match="checksum differs"):
        load_potential(tmp_path / "a")
    (tmp_path / "b" / "arrays.npz").write_bytes(b"not a zip file")
    description = (tmp_path / "b" / "model.json").read_text()
    (tmp_path / "b" / "model.json").write_text(description.replace('"arrays_sha256"', '"old_sha"'))
    with pytest.raises(ModelFormatError, match="unreadable array file"):
        load_potential(tmp_path / "b")
    (tmp_path / "b" / "model.json").write_text("[1]")
    with pytest.raises(ModelFormatError, match="'format' is 'list'"):
        load_potential(tmp_path / "b")


def test_negative_thread_count_is_refused(rng):
    from potforge.core.neighbors import neighbor_list

    with pytest.raises(ValueError, match="n_threads"):
        synthetic_hdnnp(rng, all_types_set()).__class__(
            all_types_set(), synthetic_hdnnp(rng, all_types_set()).scaling,
            synthetic_hdnnp(rng, all_types_set()).networks, n_threads=-1)
    with pytest.raises(ValueError, match="n_threads"):
        neighbor_list(np.zeros((1, 3)), np.eye(3), True, 2.0, n_threads=-2)


def test_n2p2_export_replaces_a_model_but_refuses_other_directories(water_model, tmp_path):
    from potforge.models.hdnnp.n2p2 import write_n2p2_model

    out = tmp_path / "export"
    write_n2p2_model(water_model, out)
    write_n2p2_model(water_model, out)  # replacing an n2p2 model is fine
    assert sorted(p.name for p in out.iterdir()) == ["input.nn", "scaling.data", "weights.001.data",
                                                    "weights.008.data"]
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ModelFormatError, match="holds other files"):
        write_n2p2_model(water_model, out)
    assert (out / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temporary directory left
