"""Round trips of every data format, reference files, and interoperability with ASE.

The oracle is ``Frame.same_as`` (exact equality of structure, labels and metadata); the first
tests check that it really notices every kind of difference.
"""

from __future__ import annotations

import itertools

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from potforge.core.errors import DataFormatError
from potforge.core.units import Bohr, Hartree
from potforge.data import LABELS, Frame, iter_frames, read_frames, write_frames
from potforge.data.io.asedb import read_ase_db, write_ase_db
from potforge.data.io.extxyz import read_extxyz, write_extxyz
from potforge.data.io.n2p2 import read_input_data, write_input_data

SPECIES = ("H", "C", "O", "Cu")
FILE_NAMES = {"extxyz": "frames.xyz", "n2p2": "input.data", "ase-db": "frames.db"}

# -- frame factory (also used by the other data tests) ------------------------------------------


def random_cell(rng, scale=None):
    scale = rng.uniform(3.0, 9.0) if scale is None else scale
    return scale * (np.eye(3) + rng.uniform(-0.25, 0.25, (3, 3)))


def make_frame(rng, n_atoms, labels=LABELS, boundary="periodic", info="extxyz", meta=True,
               stress_as_matrix=False) -> Frame:
    """A frame with full-precision random numbers; ``labels`` present, the others None.

    boundary: "periodic", "open" (zero cell), "open-cell" (non-periodic with a cell) or
    "mixed" (pbc T T F with a zero third cell vector).
    info: "extxyz" (what extended XYZ can hold), "json" (what n2p2 / ase-db can hold), None.
    """
    symbols = list(rng.choice(SPECIES, n_atoms))
    if boundary == "periodic":
        cell, pbc = random_cell(rng), True
    elif boundary == "open":
        cell, pbc = np.zeros((3, 3)), False
    elif boundary == "open-cell":
        cell, pbc = random_cell(rng), False
    elif boundary == "mixed":
        cell, pbc = random_cell(rng), [True, True, False]
        cell[2] = 0.0
    else:
        raise ValueError(boundary)
    base = cell if np.any(cell) else np.eye(3) * 6.0
    positions = rng.uniform(-0.2, 1.2, (n_atoms, 3)) @ base
    atoms = Atoms(symbols=symbols, positions=positions, cell=cell, pbc=pbc)
    values = {}
    if "energy" in labels:
        values["energy"] = rng.normal(-3.0, 2.0) * n_atoms
    if "forces" in labels:
        values["forces"] = rng.normal(0, 1.5, (n_atoms, 3))
    if "stress" in labels:
        s = rng.normal(0, 0.02, (3, 3))
        values["stress"] = (s + s.T) if stress_as_matrix else rng.normal(0, 0.02, 6)
    if "charges" in labels:
        values["charges"] = rng.normal(0, 0.4, n_atoms)
    if "total_charge" in labels:
        values["total_charge"] = float(rng.integers(-2, 3)) + rng.choice([0.0, 0.5])
        if "charges" in values:  # the charges sum to the total (a contradiction is refused)
            values["charges"] += (values["total_charge"] - values["charges"].sum()) / n_atoms
    if "atomic_energies" in labels:
        values["atomic_energies"] = rng.normal(-2.0, 1.0, n_atoms)
    extra = {}
    if meta:
        extra = dict(config_type=str(rng.choice(["AIMD-NVT", "Vacancy", "surface (111)", "bulk_fcc"])),
                     group=f"traj-{rng.integers(0, 5)}a", weight=float(rng.uniform(0.1, 3.0)))
    if info == "extxyz":
        extra["info"] = {"note": "relaxed with PBE, 'tight' \"settings\"", "n_steps": int(rng.integers(-5, 10**9)),
                         "temperature": float(rng.uniform(0, 2000)), "converged": bool(rng.integers(2)),
                         "field_vector": rng.normal(size=3), "kpts": np.array([4, 4, 1])}
    elif info == "json":
        extra["info"] = {"note": "relaxed with PBE\nsecond line", "n_steps": int(rng.integers(-5, 10**9)),
                         "temperature": float(rng.uniform(0, 2000)), "converged": bool(rng.integers(2)),
                         "field_vector": rng.normal(size=3).tolist(), "nested": {"code": "vasp", "encut": 520.0},
                         "missing": None}
    return Frame(atoms, **values, **extra)


def label_combination_frames(rng, fmt):
    """Every subset of LABELS, periodic and open structures mixed, 1-7 atoms."""
    boundaries = ["periodic", "open"] + ([] if fmt == "n2p2" else ["open-cell", "mixed"])
    info = "extxyz" if fmt == "extxyz" else "json"
    frames = []
    for k, present in enumerate(itertools.product([False, True], repeat=len(LABELS))):
        labels = [name for name, p in zip(LABELS, present) if p]
        frames.append(make_frame(rng, 1 + k % 7, labels, boundaries[k % len(boundaries)],
                                 info=info if k % 3 else None, meta=k % 2 == 0,
                                 stress_as_matrix=k % 4 == 1))
    return frames


def assert_same_frames(expected, actual):
    assert len(actual) == len(expected)
    for k, (a, b) in enumerate(zip(expected, actual)):
        assert a.same_as(b), f"frame {k} differs after the round trip:\n{a!r}\n{b!r}"


# -- the oracle itself -----------------------------------------------------------------------------

def test_same_as_notices_every_difference(rng):
    frame = make_frame(rng, 4, LABELS, "periodic", info="extxyz")
    assert frame.same_as(frame.copy())

    def changed(fn):
        other = frame.copy()
        fn(other)
        return other

    tiny = np.nextafter(1.0, 2.0)
    mutations = {
        "symbol": lambda f: f.atoms.set_chemical_symbols(["Au"] + f.symbols[1:]),
        "position": lambda f: f.atoms.positions.__setitem__((2, 1), f.atoms.positions[2, 1] * tiny),
        "cell": lambda f: f.atoms.set_cell(np.asarray(f.atoms.cell) * tiny),
        "pbc": lambda f: f.atoms.set_pbc([True, False, True]),
        "energy": lambda f: setattr(f, "energy", f.energy * tiny),
        "no energy": lambda f: setattr(f, "energy", None),
        "forces": lambda f: f.forces.__setitem__((3, 2), f.forces[3, 2] * tiny),
        "stress": lambda f: f.stress.__setitem__(5, f.stress[5] * tiny),
        "charges": lambda f: f.charges.__setitem__(0, f.charges[0] * tiny),
        "total_charge": lambda f: setattr(f, "total_charge", f.total_charge + 1),
        "atomic_energies": lambda f: f.atomic_energies.__setitem__(1, f.atomic_energies[1] * tiny),
        "config_type": lambda f: setattr(f, "config_type", f.config_type + "x"),
        "group": lambda f: setattr(f, "group", None),
        "weight": lambda f: setattr(f, "weight", f.weight * tiny),
        "info value": lambda f: f.info.__setitem__("n_steps", f.info["n_steps"] + 1),
        "info array": lambda f: f.info.__setitem__("field_vector", f.info["field_vector"] * tiny),
        "info key": lambda f: f.info.pop("note"),
    }
    for name, fn in mutations.items():
        other = changed(fn)
        assert not frame.same_as(other), name
        assert not other.same_as(frame), name


def test_frame_stress_voigt_order_and_shapes(rng):
    s = rng.normal(size=(3, 3))
    s = s + s.T
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]])
    f = Frame(atoms, stress=s)
    # ASE order: xx yy zz yz xz xy
    np.testing.assert_array_equal(f.stress, [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    np.testing.assert_array_equal(Frame(atoms, stress=f.stress).stress, f.stress)
    for bad in (dict(stress=np.zeros(5)), dict(forces=np.zeros((3, 3))), dict(charges=np.zeros(3)),
                dict(atomic_energies=np.zeros((2, 1)))):
        with pytest.raises(DataFormatError):
            Frame(atoms, **bad)
    assert Frame(atoms).labels() == ()
    assert make_frame(rng, 3).labels() == LABELS


# -- round trips of every format --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["extxyz", "n2p2", "ase-db"])
def test_roundtrip_every_label_combination(tmp_path, rng, fmt):
    frames = label_combination_frames(rng, fmt)
    path = tmp_path / FILE_NAMES[fmt]
    write_frames(path, frames)
    assert_same_frames(frames, read_frames(path))
    assert_same_frames(frames, list(iter_frames(str(path))))
    # the format-specific entry points agree with the dispatcher
    direct = {"extxyz": read_extxyz, "n2p2": read_input_data, "ase-db": read_ase_db}[fmt]
    assert_same_frames(frames, direct(path))
    # writing again what was read gives the same file content (for the text formats)
    if fmt != "ase-db":
        again = tmp_path / ("again." + path.name)
        write_frames(again, read_frames(path), format=fmt)
        assert again.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("fmt", ["extxyz", "n2p2", "ase-db"])
def test_format_specific_writers(tmp_path, rng, fmt):
    frames = label_combination_frames(rng, fmt)[::5]
    path = tmp_path / "custom_name.txt"
    if fmt == "extxyz":
        write_extxyz(path, frames)
        back = read_extxyz(path)
    elif fmt == "n2p2":
        write_input_data(path, frames)
        back = read_input_data(path)
    else:
        write_ase_db(path, frames)
        back = read_ase_db(path)
    assert_same_frames(frames, back)
    assert_same_frames(frames, read_frames(path, format=fmt))


def test_writing_replaces_an_existing_file(tmp_path, rng):
    for kind, name in FILE_NAMES.items():
        path = tmp_path / name
        # nested dicts are JSON (n2p2 metadata, ASE db) but not extended XYZ
        info = "json" if name != FILE_NAMES.get("extxyz") else None
        write_frames(path, [make_frame(rng, 3, info=info) for _ in range(4)])
        second = [make_frame(rng, 2, info=None)]
        write_frames(path, second)
        assert_same_frames(second, read_frames(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILE_NAMES.values())


def test_roundtrip_through_all_formats_in_a_chain(tmp_path, rng):
    """xyz -> db -> input.data -> xyz: every writer reads what the others wrote, exactly."""
    frames = [make_frame(rng, n, LABELS[:k], b, info=None)
              for n, k, b in zip(range(1, 9), range(8), itertools.cycle(["periodic", "open"]))]
    for f in frames:  # what every format can hold
        f.info = {"note": "from the chain", "n": 3, "x": 0.1 + 0.2, "ok": False,
                  "v": np.array([1.5, -2.25, 1e-300])}
    current = frames
    for name in ("a.xyz", "b.db", "input.data", "d.extxyz", "e.data"):
        write_frames(tmp_path / name, current)
        current = read_frames(tmp_path / name)
        assert_same_frames(frames, current)


def test_n2p2_comment_lines_survive(tmp_path, rng):
    frames = [make_frame(rng, 2, info="json") for _ in range(3)]
    frames[0].info["comment"] = "written by RuNNerDecom"
    frames[1].info["comment"] = "first line\nsecond line with spaces  inside"
    path = tmp_path / "input.data"
    write_frames(path, frames)
    text = path.read_text()
    assert "comment written by RuNNerDecom\n" in text
    assert "comment second line with spaces  inside\n" in text
    assert_same_frames(frames, read_frames(path))


def test_n2p2_plain_file_has_no_metadata_comment(tmp_path, rng):
    """A frame with exactly the labels input.data holds is written as plain n2p2 (no JSON)."""
    frames = [make_frame(rng, 3, ("energy", "forces", "charges", "total_charge", "atomic_energies"),
                         b, info=None, meta=False) for b in ("periodic", "open")]
    path = tmp_path / "input.data"
    write_frames(path, frames)
    assert "potforge" not in path.read_text()
    assert_same_frames(frames, read_frames(path))


def _max_ulp(a, b, n=2):
    np.testing.assert_array_max_ulp(np.asarray(a, dtype=float), np.asarray(b, dtype=float), maxulp=n)


def assert_close_frames(expected, actual, maxulp=2):
    assert len(actual) == len(expected)
    for a, b in zip(expected, actual):
        assert a.symbols == b.symbols
        np.testing.assert_array_equal(a.atoms.pbc, b.atoms.pbc)
        _max_ulp(a.atoms.positions, b.atoms.positions, maxulp)
        _max_ulp(np.asarray(a.atoms.cell), np.asarray(b.atoms.cell), maxulp)
        for name in LABELS:
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None), name
            if x is not None:
                _max_ulp(x, y, maxulp)
        assert (a.config_type, a.group, a.weight) == (b.config_type, b.group, b.weight)


def test_n2p2_roundtrip_in_bohr_and_hartree(tmp_path, rng):
    frames = label_combination_frames(rng, "n2p2")
    path = tmp_path / "input.data"
    write_input_data(path, frames, length_unit="bohr", energy_unit="hartree")
    back = read_input_data(path, length_unit="bohr", energy_unit="hartree")
    assert_close_frames(frames, back, maxulp=2)
    # the same through the dispatcher
    assert_close_frames(frames, read_frames(path, length_unit="Bohr", energy_unit="Ha"), maxulp=2)

    # and the file really holds Bohr and Hartree: read it without conversion
    raw = read_input_data(path)
    for f, r in zip(frames, raw):
        _max_ulp(r.atoms.positions, f.atoms.positions / Bohr, 1)
        _max_ulp(np.asarray(r.atoms.cell), np.asarray(f.atoms.cell) / Bohr, 1)
        if f.energy is not None:
            _max_ulp(r.energy, f.energy / Hartree, 1)
        if f.forces is not None:
            _max_ulp(r.forces, f.forces * Bohr / Hartree, 2)
        if f.atomic_energies is not None:
            _max_ulp(r.atomic_energies, f.atomic_energies / Hartree, 1)
        if f.charges is not None:  # charges are in e in every unit system
            np.testing.assert_array_equal(r.charges, f.charges)
        if f.stress is not None:  # stress lives in the metadata comment, in eV/Å³
            np.testing.assert_array_equal(r.stress, f.stress)


# -- reference files ---------------------------------------------------------------------------------

def _raw_n2p2_blocks(path):
    """Independent minimal parser: per block, lattice rows, atom rows (8 floats) and symbols."""
    blocks = []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "begin":
            blocks.append({"lattice": [], "atoms": [], "symbols": [], "energy": None, "charge": None})
        elif f[0] == "lattice":
            blocks[-1]["lattice"].append([float(x) for x in f[1:]])
        elif f[0] == "atom":
            blocks[-1]["atoms"].append([float(x) for x in f[1:4] + f[5:]])
            blocks[-1]["symbols"].append(f[4])
        elif f[0] in ("energy", "charge"):
            blocks[-1][f[0]] = float(f[1])
    return blocks


def test_water_input_data_against_raw_numbers(water_dir):
    path = water_dir / "train" / "input.data"
    frames = read_input_data(path, length_unit="bohr", energy_unit="hartree")
    blocks = _raw_n2p2_blocks(path)
    assert len(frames) == len(blocks) == 20
    for f, b in zip(frames, blocks):
        raw = np.array(b["atoms"])
        assert f.symbols == b["symbols"]
        assert f.atoms.pbc.all() == (len(b["lattice"]) == 3)
        _max_ulp(np.asarray(f.atoms.cell), np.array(b["lattice"]) * Bohr, 0)
        _max_ulp(f.atoms.positions, raw[:, 0:3] * Bohr, 0)
        _max_ulp(f.charges, raw[:, 3], 0)
        _max_ulp(f.atomic_energies, raw[:, 4] * Hartree, 0)
        _max_ulp(f.forces, raw[:, 5:8] * (Hartree / Bohr), 1)
        _max_ulp(f.energy, b["energy"] * Hartree, 0)
        assert f.total_charge == b["charge"]
        assert f.stress is None and f.config_type is None and f.group is None and f.weight == 1.0
        assert f.info == {"comment": "written by RuNNerDecom"}


def test_water_input_data_file_roundtrip(tmp_path, water_dir):
    path = water_dir / "train" / "input.data"
    frames = read_frames(path, length_unit="bohr", energy_unit="hartree")
    # back to Bohr/Hartree: numbers agree with the original file to the last ulps
    out = tmp_path / "input.data"
    write_frames(out, frames, length_unit="bohr", energy_unit="hartree")
    assert "potforge" not in out.read_text()  # still a plain n2p2 file
    for a, b in zip(_raw_n2p2_blocks(path), _raw_n2p2_blocks(out)):
        assert a["symbols"] == b["symbols"]
        _max_ulp(a["atoms"], b["atoms"], 2)
        _max_ulp(a["lattice"], b["lattice"], 1)
        _max_ulp(a["energy"], b["energy"], 1)
        assert a["charge"] == b["charge"]
    assert_close_frames(frames, read_frames(out, length_unit="bohr", energy_unit="hartree"), maxulp=2)
    # in Å/eV, and through the other formats, exactly
    for name in ("input.data", "water.xyz", "water.db"):
        write_frames(tmp_path / name, frames)
        assert_same_frames(frames, read_frames(tmp_path / name))


def test_mlearn_cu_matches_ase_and_roundtrips(tmp_path, shared_data):
    path = shared_data / "mlearn" / "Cu" / "test.xyz"
    frames = read_frames(path)
    reference = ase.io.read(path, index=":")
    assert len(frames) == len(reference) == 31
    for f, a in zip(frames, reference):
        assert f.symbols == a.get_chemical_symbols()
        np.testing.assert_array_equal(f.atoms.positions, a.positions)
        np.testing.assert_array_equal(np.asarray(f.atoms.cell), np.asarray(a.cell))
        np.testing.assert_array_equal(f.atoms.pbc, a.pbc)
        assert f.energy == a.get_potential_energy()
        np.testing.assert_array_equal(f.forces, a.get_forces())
        np.testing.assert_array_equal(f.stress, a.get_stress(voigt=True))
        assert f.config_type == a.info["config_type"]
        assert f.info["description"] == a.info["description"]
        assert f.charges is None and f.atomic_energies is None and f.group is None
    # README of the data set: 31 structures, 3,178 atoms, 12/13/2/4 per config_type
    assert sum(f.n_atoms for f in frames) == 3178
    counts = {t: sum(f.config_type == t for f in frames) for t in ("AIMD-NVT", "Elastic", "Surface", "Vacancy")}
    assert counts == {"AIMD-NVT": 12, "Elastic": 13, "Surface": 2, "Vacancy": 4}

    for name in ("cu.xyz", "cu.db", "input.data"):
        write_frames(tmp_path / name, frames)
        assert_same_frames(frames, read_frames(tmp_path / name))
    # file -> frames -> file -> frames: the second file is the same as the first
    write_frames(tmp_path / "again.xyz", read_frames(tmp_path / "cu.xyz"))
    assert (tmp_path / "again.xyz").read_bytes() == (tmp_path / "cu.xyz").read_bytes()


# -- interoperability with ASE ------------------------------------------------------------------------

def test_ase_reads_what_potforge_writes(tmp_path, rng):
    frames = [make_frame(rng, n, ("energy", "forces", "stress"), b, info="extxyz")
              for n, b in zip((1, 2, 5, 8, 3, 4), itertools.cycle(["periodic", "open", "mixed", "open-cell"]))]
    path = tmp_path / "potforge.xyz"
    write_frames(path, frames)
    images = ase.io.read(path, index=":", format="extxyz")
    assert len(images) == len(frames)
    for f, a in zip(frames, images):
        assert a.get_chemical_symbols() == f.symbols
        np.testing.assert_array_equal(a.positions, f.atoms.positions)
        np.testing.assert_array_equal(np.asarray(a.cell), np.asarray(f.atoms.cell))
        np.testing.assert_array_equal(a.pbc, f.atoms.pbc)
        assert a.get_potential_energy() == f.energy
        np.testing.assert_array_equal(a.get_forces(), f.forces)
        np.testing.assert_array_equal(a.get_stress(voigt=True), f.stress)
        assert a.info["config_type"] == f.config_type
        assert a.info["n_steps"] == f.info["n_steps"]
        np.testing.assert_array_equal(a.info["field_vector"], f.info["field_vector"])


def test_potforge_reads_what_ase_writes(tmp_path, rng):
    images = []
    for k, n in enumerate((1, 3, 6, 2)):
        frame = make_frame(rng, n, (), "periodic" if k % 2 == 0 else "open", info=None, meta=False)
        atoms = frame.atoms
        s = rng.normal(0, 0.01, 6)
        atoms.calc = SinglePointCalculator(atoms, energy=rng.normal(-10, 3), forces=rng.normal(size=(n, 3)),
                                           stress=s)
        atoms.info["config_type"] = f"type_{k}"
        images.append(atoms)
    path = tmp_path / "ase.xyz"
    ase.io.write(path, images, format="extxyz")
    frames = read_frames(path)
    back = ase.io.read(path, index=":")  # what ASE itself reads from its (rounded) file
    assert len(frames) == len(back) == len(images)
    for f, a, orig in zip(frames, back, images):
        assert f.symbols == a.get_chemical_symbols()
        np.testing.assert_array_equal(f.atoms.positions, a.positions)
        np.testing.assert_array_equal(np.asarray(f.atoms.cell), np.asarray(a.cell))
        np.testing.assert_array_equal(f.atoms.pbc, a.pbc)
        assert f.energy == a.get_potential_energy()
        np.testing.assert_array_equal(f.forces, a.get_forces())
        np.testing.assert_array_equal(f.stress, a.get_stress(voigt=True))
        assert f.config_type == a.info["config_type"]
        # and both are the originals up to ASE's rounding
        np.testing.assert_allclose(f.atoms.positions, orig.positions, rtol=0, atol=1e-7)
        np.testing.assert_allclose(f.forces, orig.get_forces(), rtol=0, atol=1e-7)
        np.testing.assert_allclose(f.stress, orig.get_stress(), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(f.energy, orig.get_potential_energy(), rtol=1e-7)


def test_ase_db_is_readable_by_ase(tmp_path, rng):
    from ase.db import connect

    frames = [make_frame(rng, n, ("energy", "forces", "stress"), "periodic", info="json") for n in (2, 5)]
    path = tmp_path / "frames.db"
    write_frames(path, frames)
    rows = list(connect(path).select())
    assert len(rows) == 2
    for f, row in zip(frames, rows):
        a = row.toatoms()
        np.testing.assert_array_equal(a.positions, f.atoms.positions)
        assert a.get_potential_energy() == f.energy
        np.testing.assert_array_equal(a.get_forces(), f.forces)
        np.testing.assert_array_equal(a.get_stress(), f.stress)
        assert row.config_type == f.config_type and row.group == f.group


# -- round-trip bugs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["007", "1e3", "T", "1 2", "Infinity"])
def test_extxyz_number_like_config_type_and_group(tmp_path, rng, name):
    frame = make_frame(rng, 2, info=None)
    frame.config_type = name
    frame.group = name
    write_frames(tmp_path / "x.xyz", [frame])
    assert_same_frames([frame], read_frames(tmp_path / "x.xyz"))


@pytest.mark.parametrize("field,name", [("group", "17"), ("config_type", "1"), ("group", "True")])
def test_ase_db_number_like_group_and_config_type(tmp_path, rng, field, name):
    frame = make_frame(rng, 2, info=None)
    setattr(frame, field, name)
    write_frames(tmp_path / "x.db", [frame])
    assert_same_frames([frame], read_frames(tmp_path / "x.db"))


@pytest.mark.parametrize("name,where", [("x.xyz", "config_type"), ("x.xyz", "info"),
                                        ("input.data", "comment")])
def test_carriage_return_in_strings(tmp_path, rng, name, where):
    frame = make_frame(rng, 2, info=None)
    if where == "config_type":
        frame.config_type = "line\rbreak"
    elif where == "info":
        frame.info["note"] = "line\rbreak"
    else:
        frame.info["comment"] = "line\rbreak"
    write_frames(tmp_path / name, [frame])
    assert_same_frames([frame], read_frames(tmp_path / name))


def test_n2p2_mixed_boundaries_are_not_silently_changed(tmp_path, rng):
    frame = make_frame(rng, 3, boundary="mixed", info=None)
    path = tmp_path / "input.data"
    try:
        write_frames(path, [frame])
    except DataFormatError:
        return  # refusing is fine
    assert_same_frames([frame], read_frames(path))


def test_extxyz_info_is_typed_like_ase_types_it(tmp_path, rng):
    """Not a bug: extended XYZ cannot tell the string "42" from the number 42, or a
    1-element array from a scalar; potforge reads such values back exactly as ASE does."""
    frame = make_frame(rng, 2, info=None)
    frame.info = {"answer": "42", "one": np.array([1.5]), "flag": "T", "pair": [3, 4]}
    write_frames(tmp_path / "x.xyz", [frame])
    back = read_frames(tmp_path / "x.xyz")[0]
    ase_info = ase.io.read(tmp_path / "x.xyz").info
    for key in frame.info:
        ours, theirs = np.asarray(back.info[key]), np.asarray(ase_info[key])
        assert (ours.dtype.kind, ours.shape) == (theirs.dtype.kind, theirs.shape), key
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["frame.xyz", "input.data", "frames.db"])
@pytest.mark.parametrize("value", [2**63, -2**63 - 1, [1, 2**64], {"k": 10**19}])
def test_integers_past_int64_are_refused_not_turned_into_floats(tmp_path, name, value):
    """Every format stores int64 and reads a longer integer back as a float (hypothesis found
    10000000000000000001 → 1e+19): the writers refuse such an info value, naming it."""
    if name != "input.data" and not isinstance(value, int):
        value = 2**63     # lists and mappings of info values are n2p2 JSON; extxyz/db take scalars
    frame = Frame(Atoms("H", positions=[[0, 0, 0]]), info={"big": value})
    with pytest.raises(DataFormatError, match=r"info 'big': integer .* does not fit 64 bits"):
        write_frames(tmp_path / name, [frame])
    assert not (tmp_path / name).exists()
    edge = Frame(Atoms("H", positions=[[0, 0, 0]]), info={"big": 2**63 - 1, "small": -2**63})
    write_frames(tmp_path / name, [edge])
    assert read_frames(tmp_path / name)[0].info == edge.info


@pytest.mark.parametrize("name", ["frame.xyz", "input.data", "frames.db"])
@pytest.mark.parametrize("value", [np.uint64(2**63 + 5), np.array([1, 2**64 - 1], dtype=np.uint64),
                                   np.array([[7], [2**63]], dtype=np.uint64),
                                   np.array([1, 2**63], dtype=object), [np.uint64(2**64 - 1)]])
def test_numpy_integers_past_int64_are_refused(tmp_path, name, value):
    """numpy integers too: a np.uint64 past 2**63 or such an element of an integer array read
    back as a float (input.data) or 1.8e19 in an array (extxyz) before they were refused."""
    frame = Frame(Atoms("H", positions=[[0, 0, 0]]), info={"big": value})
    with pytest.raises(DataFormatError, match=r"info 'big': integer 9\d{18}|info 'big': integer 18\d{18}"):
        write_frames(tmp_path / name, [frame])
    assert not (tmp_path / name).exists()
    small = Frame(Atoms("H", positions=[[0, 0, 0]]), info={"u": np.array([1, 2**63 - 1], dtype=np.uint64)})
    write_frames(tmp_path / name, [small])
    assert np.array_equal(read_frames(tmp_path / name)[0].info["u"], [1, 2**63 - 1])
