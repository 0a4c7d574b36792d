"""core.units (names, aliases, exact agreement with ase.units), core.errors (locations in
messages) and core.atomic (atomic replacement of files)."""

from __future__ import annotations

import os

import pytest
from ase import units as ase_units
from hypothesis import given, settings
from hypothesis import strategies as st

from potforge.core import units
from potforge.core.atomic import atomic_path, atomic_write
from potforge.core.errors import (ConfigError, DataFormatError, ModelFormatError, NotFittedError,
                                  PotforgeError, StructureError, UnitError, UnknownElementError,
                                  location)
from potforge.core.units import ENERGY_UNITS, LENGTH_UNITS, energy_factor, length_factor

# -- units ----------------------------------------------------------------------------------------

LENGTHS = {
    "angstrom": 1.0, "Angstrom": 1.0, "ANGSTROM": 1.0, "a": 1.0, "A": 1.0, "ang": 1.0, "Ang": 1.0,
    "Å": 1.0, "  angstrom\t": 1.0,
    "bohr": ase_units.Bohr, "Bohr": ase_units.Bohr, " BOHR ": ase_units.Bohr,
    "nm": 10 * ase_units.Angstrom, "NM": 10 * ase_units.Angstrom,
}
ENERGIES = {
    "ev": ase_units.eV, "eV": ase_units.eV, "EV": ase_units.eV,
    "hartree": ase_units.Hartree, "Hartree": ase_units.Hartree, "ha": ase_units.Hartree,
    "Ha": ase_units.Hartree,
    "rydberg": ase_units.Rydberg, "Ry": ase_units.Rydberg, "ry": ase_units.Rydberg,
    "kcal/mol": ase_units.kcal / ase_units.mol, "KCAL/MOL": ase_units.kcal / ase_units.mol,
    "kj/mol": ase_units.kJ / ase_units.mol, "kJ/mol": ase_units.kJ / ase_units.mol,
}


@pytest.mark.parametrize("name,value", LENGTHS.items())
def test_length_factor_equals_ase(name, value):
    assert length_factor(name) == value  # exact: same constants as ASE


@pytest.mark.parametrize("name,value", ENERGIES.items())
def test_energy_factor_equals_ase(name, value):
    assert energy_factor(name) == value


def test_module_constants_are_ase_constants():
    assert units.Bohr == ase_units.Bohr
    assert units.Hartree == ase_units.Hartree
    assert units.GPa == ase_units.GPa
    assert units.Angstrom == ase_units.Angstrom == 1.0
    assert units.eV == ase_units.eV == 1.0
    assert 0.529 < units.Bohr < 0.53 and 27.2 < units.Hartree < 27.22  # not swapped


@pytest.mark.parametrize("func,table,kind,name", [
    (length_factor, LENGTH_UNITS, "length", "furlong"),
    (length_factor, LENGTH_UNITS, "length", "hartree"),   # an energy unit is not a length
    (length_factor, LENGTH_UNITS, "length", "au"),        # ambiguous on purpose
    (length_factor, LENGTH_UNITS, "length", ""),
    (energy_factor, ENERGY_UNITS, "energy", "bohr"),
    (energy_factor, ENERGY_UNITS, "energy", "au"),
    (energy_factor, ENERGY_UNITS, "energy", "meV"),
])
def test_unknown_unit_lists_valid_names(func, table, kind, name):
    with pytest.raises(UnitError) as info:
        func(name)
    msg = str(info.value)
    assert repr(name) in msg and kind in msg
    for valid in table:
        assert valid in msg
    assert isinstance(info.value, ConfigError) and isinstance(info.value, PotforgeError)


def test_unknown_unit_names_the_config_key():
    with pytest.raises(UnitError, match=r"^data\.length_unit: unknown length unit 'parsec'"):
        length_factor("parsec", key="data.length_unit")
    with pytest.raises(UnitError, match=r"^energy_unit: "):
        energy_factor("erg", key="energy_unit")


_VALID_LENGTH = set(LENGTH_UNITS) | {"a", "ang", "å"}
_VALID_ENERGY = set(ENERGY_UNITS) | {"ha", "ry"}


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=12))
def test_any_name_gives_a_factor_or_a_unit_error(name):
    canon = name.strip().lower()
    for func, valid, table in ((length_factor, _VALID_LENGTH, LENGTH_UNITS),
                               (energy_factor, _VALID_ENERGY, ENERGY_UNITS)):
        if canon in valid:
            assert func(name) in table.values()
        else:
            with pytest.raises(UnitError):
                func(name)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(LENGTH_UNITS) + sorted(ENERGY_UNITS)), st.data())
def test_unit_names_are_case_insensitive(name, data):
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    mixed = "".join(c.upper() if f else c for c, f in zip(name, flips))
    if name in LENGTH_UNITS:
        assert length_factor(mixed) == LENGTH_UNITS[name]
    else:
        assert energy_factor(mixed) == ENERGY_UNITS[name]


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [DataFormatError, ModelFormatError, ConfigError, StructureError,
                                 UnitError, NotFittedError, UnknownElementError])
def test_messages_say_where(cls):
    err = cls("atom line has 8 fields", path="runs/input.data", line=1234, frame=17)
    assert str(err) == "runs/input.data:1234 frame 17: atom line has 8 fields"
    assert (err.path, err.line, err.frame, err.reason) == ("runs/input.data", 1234, 17,
                                                           "atom line has 8 fields")
    assert isinstance(err, PotforgeError)
    assert str(cls("bad", path="x.xyz")) == "x.xyz: bad"
    assert str(cls("bad", line=7)) == "line 7: bad"
    assert str(cls("bad", frame=0)) == "frame 0: bad"
    assert str(cls("bad", path="x.xyz", frame=3)) == "x.xyz frame 3: bad"
    assert str(cls("bad")) == "bad"


def test_location():
    assert location("input.data", 12) == "input.data:12"
    assert location("data.xyz", None, 3) == "data.xyz frame 3"
    assert location(None, 5, 2) == "line 5 frame 2"
    assert location() == ""


def test_error_hierarchy():
    for cls in (ConfigError, DataFormatError, ModelFormatError, StructureError):
        assert issubclass(cls, ValueError) and issubclass(cls, PotforgeError)
    assert issubclass(UnitError, ConfigError)
    assert issubclass(UnknownElementError, KeyError)
    assert issubclass(NotFittedError, RuntimeError)
    # KeyError would quote the message; the subclass keeps it one plain line
    assert str(UnknownElementError("unknown element 'Xe'", frame=2)) == "frame 2: unknown element 'Xe'"


# -- atomic writes --------------------------------------------------------------------------------

def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "model.txt"
    target.write_text("old content\n")
    with atomic_write(target) as out:
        out.write("new ")
        # until the block ends, readers still see the old file
        assert target.read_text() == "old content\n"
        out.write("content ✓\n")
    assert target.read_text(encoding="utf-8") == "new content ✓\n"
    assert _leftovers(tmp_path, {"model.txt"}) == []


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_atomic_write_keeps_old_file_on_error(tmp_path, exc):
    target = tmp_path / "model.txt"
    target.write_text("old content\n")
    with pytest.raises(exc):
        with atomic_write(target) as out:
            out.write("half of the new con")
            raise exc()
    assert target.read_text() == "old content\n"
    assert _leftovers(tmp_path, {"model.txt"}) == []


def test_atomic_write_error_without_previous_file(tmp_path):
    target = tmp_path / "new.txt"
    with pytest.raises(Boom):
        with atomic_write(target) as out:
            out.write("x")
            raise Boom
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_binary_and_new_directory(tmp_path):
    target = tmp_path / "a" / "b" / "blob.bin"
    payload = bytes(range(256))
    with atomic_write(target, "wb") as out:
        out.write(payload)
    assert target.read_bytes() == payload
    assert _leftovers(target.parent, {"blob.bin"}) == []


def test_atomic_path(tmp_path):
    target = tmp_path / "out.db"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target  # same file system: rename is atomic
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path, {"out.db"}) == []

    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise Boom
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path, {"out.db"}) == []

    # the body may remove the temporary file itself (ase.db creates its own) and then fail
    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            tmp.unlink()
            raise Boom
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path, {"out.db"}) == []


def test_atomic_write_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_write("plain.txt") as out:
        out.write("ok")
    assert (tmp_path / "plain.txt").read_text() == "ok"
    assert os.listdir(tmp_path) == ["plain.txt"]
