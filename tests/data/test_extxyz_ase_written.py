"""Extended XYZ files that ASE writes (ase.io.write(format="extxyz")) are read by potforge
as ASE reads them back: same positions, cell, pbc, elements, labels, info and extra arrays.

Each case is a structure ASE writes; a few are values whose ASE read-back loses what was
written (an empty string, bare commas): there potforge must return what was written."""

from __future__ import annotations

import math

import ase.io
import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator

from potforge.data.io.extxyz import parse_key_values, read_extxyz, write_extxyz

RNG = np.random.default_rng(7)


def _cu(**info):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=1)
    atoms.info.update(info)
    return atoms


def _with_calc(atoms, stress=True):
    n = len(atoms)
    results = {"energy": -3.25 * n, "forces": RNG.normal(size=(n, 3)), "free_energy": -3.3 * n}
    if stress:
        results["stress"] = RNG.normal(size=6) * 0.01
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def _arrays(atoms, **arrays):
    for name, value in arrays.items():
        atoms.new_array(name, np.asarray(value))
    return atoms


def _case_slab():
    atoms = _with_calc(bulk("Al", "fcc", a=4.05, cubic=True).repeat((1, 1, 2)))
    atoms.pbc = [True, True, False]
    return atoms


def _case_nocell():
    atoms = molecule("H2O")
    atoms.info["comment_text"] = "water, no cell"
    return atoms


def _case_cell_nopbc():
    atoms = molecule("CH4")
    atoms.cell = np.eye(3) * 10.0
    atoms.pbc = False
    atoms.info["charge_state"] = 0
    return atoms


CASES = {
    # --- defects found by review: each fails on the reader before the fix
    "empty_string": lambda: _cu(empty="", after=2),
    "empty_string_last": lambda: _cu(name="x", empty=""),
    "equals_in_bare_value": lambda: _cu(s="a=b", t="x=y=z", eq="="),
    "unicode_keys": lambda: _cu(**{"Ünicode": 1, "ключ": "значение", "énergie_ref": 2.5}),
    "nan_in_extra_column": lambda: _arrays(_cu(), nanarr=[math.nan, 1.0, -math.inf, 2.0]),
    "json_dict": lambda: _cu(d={"a": 1, "b": [1, 2], "c": "text"}),
    "json_matrix": lambda: _cu(mat=np.arange(9.0).reshape(3, 3) / 7, nested=[[1, 2], [3, 4]]),
    "json_text_lists": lambda: _cu(words=["a b", "c"], mixed=[1, "x", None]),
    "backslash": lambda: _cu(bs="a\\b", path="C:\\data\\x"),
    # --- a broad mix of what ASE writes
    "scalars": lambda: _cu(n=3, big=10**12, neg=-7, x=1.5, tiny=1e-30, negzero=-0.0, flag=True,
                           off=False, nanv=math.nan),
    "strings": lambda: _cu(name="has space here", q='quote"d', sq="it's", uni="Ångström ✓",
                           col="a:b", br="[1,2]", cb="{x}", word="AIMD-NVT"),
    "vectors": lambda: _cu(vec=np.array([1.0, 2.5, -3.0]), ivec=np.array([1, 2, 3]),
                           bools=np.array([True, False, True]), eye=np.eye(3)),
    "frame_fields": lambda: _with_calc(_cu(config_type="bulk_md", weight=2.0, group="g1")),
    "calc_no_stress": lambda: _with_calc(_cu(), stress=False),
    "per_atom_columns": lambda: _arrays(
        _cu(), ints=[1, 2, 3, 4], reals=[0.5, 1.5, 2.5, 3.5], flags=[True, False, True, True],
        tags_s=["a", "bb", "c", "d"], vec3=np.arange(12.0).reshape(4, 3), charges=[0.1, -0.1, 0.2, -0.2]),
    "slab_pbc_TTF": _case_slab,
    "molecule_no_cell": _case_nocell,
    "cell_without_pbc": _case_cell_nopbc,
}

#: values whose ASE read-back differs from what was written: potforge returns what was written
WRITTEN_WINS = {"empty_string": ("empty", "after"), "empty_string_last": ("empty",),
                "equals_in_bare_value": ("eq",)}


def _same(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list) and not all(np.ndim(x) == np.ndim(a[0]) for x in a):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape or (x.dtype.kind in "OUS") != (y.dtype.kind in "OUS"):
        return False
    if x.dtype.kind in "fc" or y.dtype.kind in "fc":
        return np.array_equal(x.astype(float), y.astype(float), equal_nan=True)
    return np.array_equal(x, y)


def _check(frame, ref, written):
    atoms = frame.atoms
    np.testing.assert_array_equal(atoms.numbers, ref.numbers)
    np.testing.assert_allclose(atoms.positions, ref.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(atoms.cell), np.asarray(ref.cell), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(atoms.pbc, ref.pbc)
    results = ref.calc.results if ref.calc is not None else {}
    assert (frame.energy is None) == ("energy" not in results)
    if "energy" in results:
        assert frame.energy == pytest.approx(results["energy"], abs=1e-12)
    for ours, theirs in (("forces", "forces"), ("stress", "stress"), ("charges", "charges")):
        if theirs in results:
            np.testing.assert_allclose(getattr(frame, ours), results[theirs], rtol=0, atol=1e-12)
        else:
            assert getattr(frame, ours) is None, ours
    ref_arrays = {k: v for k, v in ref.arrays.items() if k not in ("numbers", "positions")}
    if "charges" in results:        # ASE writes atoms.arrays["charges"] as column "charge"
        np.testing.assert_allclose(frame.charges, results["charges"], rtol=0, atol=1e-12)
    else:
        assert frame.charges is None
    got_arrays = {k: v for k, v in atoms.arrays.items() if k not in ("numbers", "positions")}
    assert got_arrays.keys() == ref_arrays.keys()
    for key, value in ref_arrays.items():
        assert _same(got_arrays[key], value), (key, got_arrays[key], value)
    info = dict(ref.info)
    for field in ("config_type", "group", "weight"):
        if field in info:
            assert _same(getattr(frame, field), info.pop(field)), field
    # what ASE's reader puts in the calculator, potforge keeps as info or labels
    kept = {k: v for k, v in frame.info.items() if k not in results or k == "free_energy"}
    for key in written:
        info[key] = written[key]
    for key in kept.keys() - info.keys():
        assert _same(kept[key], results.get(key)), key
    assert info.keys() <= kept.keys(), (info.keys(), kept.keys())
    for key, value in info.items():
        assert _same(kept[key], value), (key, kept[key], value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reads_what_ase_writes_as_ase_reads_it(tmp_path, name):
    atoms = CASES[name]()
    path = tmp_path / f"{name}.xyz"
    ase.io.write(path, atoms, format="extxyz")
    ref = ase.io.read(path, format="extxyz")
    written = {k: atoms.info[k] for k in WRITTEN_WINS.get(name, ())}
    frames = read_extxyz(path)
    assert len(frames) == 1
    _check(frames[0], ref, written)
    # and potforge writes what it read so that it reads back the same (matrices, dicts, NaN arrays)
    again = tmp_path / "again.xyz"
    write_extxyz(again, frames)
    back = read_extxyz(again)[0]
    assert back.same_as(frames[0])
    assert all(_same(back.info[k], v) for k, v in frames[0].info.items())
    for key, value in frames[0].atoms.arrays.items():
        assert _same(back.atoms.arrays[key], value), key


def test_many_frames_mixed(tmp_path):
    images = [CASES[name]() for name in sorted(CASES)]
    path = tmp_path / "all.xyz"
    ase.io.write(path, images, format="extxyz")
    refs = ase.io.read(path, index=":", format="extxyz")
    frames = read_extxyz(path)
    assert len(frames) == len(refs)
    for name, frame, ref, atoms in zip(sorted(CASES), frames, refs, images):
        _check(frame, ref, {k: atoms.info[k] for k in WRITTEN_WINS.get(name, ())})


def test_json_ragged_lists_round_trip(tmp_path):
    """ASE writes ragged lists as _JSON (its own reader then fails): potforge keeps the lists."""
    path = tmp_path / "ragged.xyz"
    ase.io.write(path, _cu(ragged=[[1, 2], [3]], deep={"k": [[1.5], [2, 3]]}), format="extxyz")
    frame = read_extxyz(path)[0]
    assert frame.info["ragged"] == [[1, 2], [3]] and frame.info["deep"] == {"k": [[1.5], [2, 3]]}
    write_extxyz(tmp_path / "again.xyz", [frame])
    assert read_extxyz(tmp_path / "again.xyz")[0].info == frame.info


def test_key_value_grammar():
    """The grammar ASE writes: an empty bare value, '=' inside bare values, escapes, spaces
    around '=' still read as before."""
    kv = parse_key_values('a= b=1 c=x=y d=a\\ b e="q\\\\r" f = 2 g= h')
    assert kv == {"a": "", "b": 1, "c": "x=y", "d": "a b", "e": "q\\r", "f": 2, "g": "h"}
    assert parse_key_values("x=") == {"x": ""}
    assert parse_key_values("x=b\\") == {"x": "b\\"}   # a lone backslash at the end stays
    assert parse_key_values("ß=1 x_é=T") == {"ß": 1, "x_é": True}


@pytest.mark.parametrize("text", ["a=1 =2", "1a=2", "١=2", "a=1 a=2", "a=\"x",
                                  'd="_JSON {bad"'])
def test_still_refused(text):
    from potforge.core.errors import DataFormatError
    with pytest.raises(DataFormatError):
        parse_key_values(text, path="f.xyz", line=2)


def test_unicode_digits_stay_text_and_labels_stay_finite(tmp_path):
    kv = parse_key_values("n=١٢ m=12")
    assert kv == {"n": "١٢", "m": 12}
    from potforge.core.errors import DataFormatError
    for column in ("forces:R:3", "charges:R:1", "energies:R:1"):
        width = int(column[-1])
        row = "Cu 0 0 0 " + " ".join(["nan"] * width)
        path = tmp_path / "bad.xyz"
        path.write_text(f'1\nProperties=species:S:1:pos:R:3:{column} pbc="F F F"\n{row}\n')
        with pytest.raises(DataFormatError, match="non-finite"):
            read_extxyz(path)
    path.write_text('1\nProperties=species:S:1:pos:R:3 pbc="F F F"\nCu nan 0 0\n')
    with pytest.raises(DataFormatError, match="finite"):
        read_extxyz(path)
