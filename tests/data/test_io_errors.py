"""Malformed files raise DataFormatError saying where (``name:LINE``), and nothing else escapes."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from ase import Atoms

from potforge.core.errors import DataFormatError, PotforgeError, UnitError
from potforge.data import Dataset, Frame, iter_frames, read_frames, write_frames
from potforge.data.io import detect_format
from potforge.data.io.asedb import read_ase_db
from potforge.data.io.extxyz import parse_key_values, read_extxyz
from potforge.data.io.n2p2 import read_input_data

# -- input.data ------------------------------------------------------------------------------------

N2P2 = [
    "# a hand-written input.data for the error tests",   # 1
    "",                                                  # 2
    "begin",                                             # 3
    "comment first structure",                           # 4
    "lattice 10.0 0.0 0.0",                              # 5
    "lattice 0.0 10.0 0.0",                              # 6
    "lattice 0.0 0.0 10.0",                              # 7
    "atom 1.0 2.0 3.0 O -0.5 0.0 0.1 0.2 0.3",           # 8
    "atom 1.5 2.0 3.0 H 0.25 0.0 0.1 0.2 0.3",           # 9
    "atom 0.5 2.0 3.0 H 0.25 0.0 0.1 0.2 0.3",           # 10
    "energy -12.5",                                      # 11
    "charge 0.0",                                        # 12
    "end",                                               # 13
    "",                                                  # 14
    "begin",                                             # 15
    "atom 0.0 0.0 0.0 H 0.0 0.0 0.0 0.0 0.0",            # 16
    "atom 0.0 0.0 0.74 H 0.0 0.0 0.0 0.0 0.0",           # 17
    "energy -1.0",                                       # 18
    "charge 0.0",                                        # 19
    "end",                                               # 20
]


def _replace(line, text):
    def edit(rows):
        rows[line - 1] = text
    return edit


def _delete(*lines):
    def edit(rows):
        for line in sorted(lines, reverse=True):
            del rows[line - 1]
    return edit


def _insert(line, text):
    def edit(rows):
        rows.insert(line - 1, text)
    return edit


# (edit of N2P2, line the error must name, words the message must hold)
N2P2_CASES = {
    "atom line with 8 fields": (_replace(17, "atom 0.0 0.0 0.74 H 0.0 0.0 0.0 0.0"), 17, ["8 fields"]),
    "atom line with 10 fields": (_replace(8, N2P2[7] + " 0.0"), 8, ["10 fields"]),
    "non-numeric coordinate": (_replace(9, "atom 1.5 two 3.0 H 0.25 0.0 0.1 0.2 0.3"), 9, ["'two'"]),
    "non-numeric force": (_replace(16, "atom 0.0 0.0 0.0 H 0.0 0.0 0.0 0.0 O"), 16, ["'O'"]),
    "unknown element": (_replace(10, "atom 0.5 2.0 3.0 Xx 0.25 0.0 0.1 0.2 0.3"), 10, ["'Xx'"]),
    "dummy element X": (_replace(10, "atom 0.5 2.0 3.0 X 0.25 0.0 0.1 0.2 0.3"), 10, ["'X'"]),
    "lattice with 2 numbers": (_replace(6, "lattice 0.0 10.0"), 6, ["lattice", "2"]),
    "lattice with 4 numbers": (_replace(6, "lattice 0.0 10.0 0.0 1.0"), 6, ["lattice", "4"]),
    "2 lattice lines": (_delete(7), 12, ["2 'lattice' lines", "line 3"]),
    "4 lattice lines": (_insert(8, "lattice 0.0 0.0 10.0"), 14, ["4 'lattice' lines"]),
    "missing end at the end of the file": (_delete(20), 19, ["no 'end'", "line 15"]),
    "missing end before the next begin": (_delete(13), 14, ["'begin'", "line 3"]),
    "begin twice": (_insert(5, "begin"), 5, ["'begin'", "line 3"]),
    "unknown keyword": (_replace(12, "charges 0.0"), 12, ["'charges'"]),
    "text outside begin/end": (_replace(14, "stray text"), 14, ["'stray'", "outside"]),
    "atom before the first begin": (_replace(2, N2P2[7]), 2, ["'atom'", "outside"]),
    "end without begin": (_insert(15, "end"), 15, ["'end'", "outside"]),
    "nan coordinate": (_replace(8, "atom nan 2.0 3.0 O -0.5 0.0 0.1 0.2 0.3"), 8, ["non-finite"]),
    "infinite force": (_replace(16, "atom 0.0 0.0 0.0 H 0.0 0.0 -inf 0.0 0.0"), 16, ["non-finite"]),
    "overflowing lattice": (_replace(5, "lattice 1e999 0.0 0.0"), 5, ["non-finite"]),
    "infinite energy": (_replace(11, "energy inf"), 11, ["non-finite"]),
    "nan charge": (_replace(19, "charge nan"), 19, ["non-finite"]),
    "energy with two numbers": (_replace(18, "energy -1.0 2.0"), 18, ["exactly one number"]),
    "energy without a number": (_replace(11, "energy"), 11, ["exactly one number"]),
    "non-numeric energy": (_replace(18, "energy minus-one"), 18, ["'minus-one'"]),
    "structure without atoms": (_delete(16, 17), 18, ["no atoms", "line 15"]),
    "broken metadata comment": (_insert(4, 'comment potforge {"weight": 2,}'), 4, ["metadata"]),
    "metadata with a bad stress": (_insert(16, 'comment potforge {"stress": [1, 2]}'), 21, ["stress"]),
    "metadata with a bad weight": (_insert(16, 'comment potforge {"weight": "heavy"}'), 21, ["heavy"]),
}


def _write(tmp_path, rows, name="input.data"):
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_n2p2_base_file_is_valid(tmp_path):
    frames = read_input_data(_write(tmp_path, N2P2))
    assert [f.n_atoms for f in frames] == [3, 2]
    assert frames[0].info == {"comment": "first structure"}
    assert frames[0].atoms.pbc.all() and not frames[1].atoms.pbc.any()
    np.testing.assert_array_equal(frames[0].charges, [-0.5, 0.25, 0.25])


@pytest.mark.parametrize("case", N2P2_CASES)
def test_malformed_input_data(tmp_path, case):
    edit, line, words = N2P2_CASES[case]
    rows = list(N2P2)
    edit(rows)
    path = _write(tmp_path, rows)
    for reader in (read_input_data, read_frames, lambda p: Dataset.read(p)):
        with pytest.raises(DataFormatError) as info:
            reader(path)
        err = info.value
        msg = str(err)
        assert msg.startswith(f"{path}:{line}: "), msg
        assert (err.path, err.line) == (str(path), line)
        for word in words:
            assert word in msg, (word, msg)
        assert "\n" not in msg


def test_error_names_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = list(N2P2)
    rows[8] = "atom 1.5 2.0 3.0 H 0.25 0.0 0.1 0.2"
    _write(tmp_path, rows, "train.data")
    with pytest.raises(DataFormatError, match=r"^train\.data:9: "):
        read_frames("train.data")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", rows, "input.data")
    with pytest.raises(DataFormatError, match=r"^sub/input\.data:9: "):
        read_frames(os.path.join("sub", "input.data"))


def test_frames_before_an_error_are_yielded(tmp_path):
    rows = list(N2P2)
    rows[16] = "atom 0.0 0.0 0.74 Xx 0.0 0.0 0.0 0.0 0.0"
    frames = iter_frames(_write(tmp_path, rows))
    assert next(frames).n_atoms == 3
    with pytest.raises(DataFormatError, match=":17: "):
        next(frames)


# -- extended XYZ ----------------------------------------------------------------------------------

XYZ = [
    "2",                                                                                         # 1
    'Lattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 pbc="T T T"',  # 2
    "H 0 0 0 0.1 0.2 0.3",                                                                       # 3
    "H 0 0 0.7 0.1 0.2 0.3",                                                                     # 4
    "3",                                                                                         # 5
    "Properties=species:S:1:pos:R:3 energy=-2.0 config_type=water",                              # 6
    "O 0 0 0",                                                                                   # 7
    "H 0 0 1",                                                                                   # 8
    "H 0 1 0",                                                                                   # 9
]


def _multi(*edits):
    def edit(rows):
        for e in edits:
            e(rows)
    return edit


def _comment(line, old, new):
    return _replace(line, XYZ[line - 1].replace(old, new))


XYZ_CASES = {
    "atom count is a word": (_replace(5, "three"), 5, ["'three'", "frame 1"]),
    "negative atom count": (_replace(1, "-2"), 1, ["'-2'", "frame 0"]),
    "two numbers as atom count": (_replace(5, "3 4"), 5, ["'3 4'"]),
    "atom count too large": (_replace(5, "4"), 10, ["declares 4 atoms", "after 3"]),
    "truncated frame": (_delete(9), 9, ["declares 3 atoms", "after 2"]),
    "file ends before the comment line": (_delete(6, 7, 8, 9), 6, ["comment line"]),
    "atom count too small": (_replace(1, "1"), 4, ["atom count"]),
    "missing column": (_replace(8, "H 0 0"), 8, ["3 columns", "declares 4"]),
    "extra column": (_replace(3, "H 0 0 0 0.1 0.2 0.3 9"), 3, ["8 columns", "declares 7"]),
    "unknown element": (_replace(8, "Xx 0 0 1"), 8, ["'Xx'", "frame 1"]),
    "non-numeric position": (_replace(7, "O 0 zero 0"), 7, ["'pos'", "atom 0", "'zero'"]),
    "non-numeric force": (_replace(4, "H 0 0 0.7 0.1 0.2 big"), 4, ["'forces'", "atom 1", "'big'"]),
    "nan position": (_replace(7, "O 0 nan 0"), 7, ["'pos'", "finite"]),
    "lattice with 8 numbers": (_comment(2, "5 0 0 0 5 0 0 0 5", "5 0 0 0 5 0 0 0"), 2, ["Lattice"]),
    "unparsable comment line": (_comment(6, "energy", "=oops energy"), 6, ["key=value"]),
    "unterminated quote": (_comment(2, '5" Properties', "5 Properties"), 2, ["key=value"]),
    "bad Properties type": (_comment(6, "pos:R:3", "pos:Q:3"), 6, ["Properties", "Q"]),
    "Properties not in triples": (_comment(6, "pos:R:3", "pos:R"), 6, ["Properties"]),
    "no pos column": (_comment(6, "pos:R:3", "xyz:R:3"), 6, ["'pos'"]),
    "no species column": (_comment(6, "species:S:1", "name:S:1"), 6, ["species"]),
    "energy is a word": (_comment(6, "energy=-2.0", "energy=low"), 6, ["energy", "low"]),
    "two energies": (_comment(6, "energy=-2.0", 'energy="1 2"'), 6, ["energy"]),
    "stress with 5 values": (_comment(2, "energy", 'stress="1 2 3 4 5" energy'), 2, ["stress", "5"]),
    "pbc with two values": (_comment(2, 'pbc="T T T"', 'pbc="T T"'), 2, ["pbc"]),
    "weight is a word": (_comment(6, "energy", "weight=heavy energy"), 6, ["weight"]),
    "forces with 2 columns": (_multi(_comment(2, "forces:R:3", "forces:R:2"), _replace(3, "H 0 0 0 0.1 0.2"),
                                     _replace(4, "H 0 0 0.7 0.1 0.2")), 2, ["forces"]),
}


def test_the_xyz_base_file_is_valid(tmp_path):
    frames = read_extxyz(_write(tmp_path, XYZ, "base.xyz"))
    assert [f.n_atoms for f in frames] == [2, 3]
    assert frames[1].config_type == "water" and frames[1].forces is None


@pytest.mark.parametrize("case", XYZ_CASES)
def test_malformed_extxyz(tmp_path, case):
    edit, line, words = XYZ_CASES[case]
    rows = list(XYZ)
    edit(rows)
    path = _write(tmp_path, rows, "frames.xyz")
    for reader in (read_extxyz, read_frames):
        with pytest.raises(DataFormatError) as info:
            reader(path)
        msg = str(info.value)
        assert msg.startswith(f"{path}:{line}"), msg
        assert info.value.line == line
        for word in words:
            assert word in msg, (word, msg)
        assert "\n" not in msg


def test_parse_key_values():
    kv = parse_key_values('a=1 b=2.5 c="x y" d="1 2 3" e=T f="T F" flag g={4 5} h=[1.5, 2] '
                          'i="say \\"hi\\"\\nthere" j=\'q\'')
    assert kv["a"] == 1 and isinstance(kv["a"], int)
    assert kv["b"] == 2.5 and kv["c"] == "x y" and kv["e"] is True and kv["flag"] is True
    np.testing.assert_array_equal(kv["d"], [1, 2, 3])
    np.testing.assert_array_equal(kv["f"], [True, False])
    np.testing.assert_array_equal(kv["g"], [4, 5])
    np.testing.assert_array_equal(kv["h"], [1.5, 2.0])
    assert kv["i"] == 'say "hi"\nthere' and kv["j"] == "q"
    with pytest.raises(DataFormatError, match=r"^f\.xyz:7: "):
        parse_key_values("a=1 =2", path="f.xyz", line=7)


# -- files, names, formats -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["missing.xyz", "input.data", "missing.data", "missing.db"])
def test_missing_file(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(DataFormatError) as info:
        read_frames(path)
    assert str(path) in str(info.value) and "no such" in str(info.value)
    with pytest.raises(DataFormatError):
        Dataset.read([path])
    assert not path.exists()


def test_missing_ase_db(tmp_path):
    with pytest.raises(DataFormatError, match="no such"):
        read_ase_db(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("reader,name", [(read_input_data, "input.data"), (read_extxyz, "x.xyz")])
def test_missing_file_direct_readers(tmp_path, reader, name):
    with pytest.raises(DataFormatError):
        reader(tmp_path / name)


@pytest.mark.parametrize("content", [b"not a database\n" * 100, bytes(range(256)) * 8,
                                     b"SQLite format 3\x00" + b"\x00" * 200])
def test_not_an_ase_db(tmp_path, content):
    path = tmp_path / "frames.db"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        read_frames(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # reading never modifies the file


def test_reading_an_empty_db_does_not_modify_it(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    try:
        frames = read_frames(path)
    except DataFormatError:
        frames = []
    assert frames == []
    assert path.stat().st_size == 0


@pytest.mark.parametrize("name", ["frames.json", "frames.cif", "README", "frames.xyz.gz", "data.dbx"])
def test_unknown_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("1\n\nH 0 0 0\n")
    with pytest.raises(DataFormatError) as info:
        read_frames(path)
    assert str(path) in str(info.value) and "*.xyz" in str(info.value)
    frame = Frame(Atoms("H"))
    with pytest.raises(DataFormatError):
        write_frames(tmp_path / ("out_" + name), [frame])
    assert not (tmp_path / ("out_" + name)).exists()
    # naming the format explicitly works
    assert len(read_frames(path, format="extxyz")) == 1


@pytest.mark.parametrize("name,fmt", [("a.xyz", "extxyz"), ("A.EXTXYZ", "extxyz"), ("input.data", "n2p2"),
                                      ("input.data.0001", "n2p2"), ("train.data", "n2p2"),
                                      ("frames.db", "ase-db"), ("dir.xyz/frames.db", "ase-db")])
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_format_name():
    # (any format ase.io reads is a valid name since DFT outputs are read through it: cif too)
    with pytest.raises(DataFormatError, match="extxyz, n2p2, ase-db"):
        detect_format("a.xyz", format="no-such-format")


def test_unknown_unit_when_reading(tmp_path):
    path = _write(tmp_path, N2P2)
    with pytest.raises(UnitError, match="parsec"):
        read_frames(path, length_unit="parsec")
    with pytest.raises(UnitError, match="length_unit"):
        read_input_data(path, length_unit="parsec")
    assert isinstance(UnitError("x"), PotforgeError)


# -- writers ---------------------------------------------------------------------------------------

def _h2(**kw):
    return Frame(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=np.eye(3) * 5, pbc=True), **kw)


@pytest.mark.parametrize("key", ["energy", "Lattice", "pbc", "properties", "bad key", "1abc"])
def test_extxyz_writer_refuses_reserved_info_keys_atomically(tmp_path, key):
    path = tmp_path / "frames.xyz"
    write_frames(path, [_h2(energy=-1.0)])
    before = path.read_bytes()
    with pytest.raises(DataFormatError, match="info key"):
        write_frames(path, [_h2(energy=-2.0), _h2(info={key: 1.0})])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["frames.xyz"]


@pytest.mark.parametrize("name", ["input.data", "frames.db"])
def test_failed_write_leaves_previous_file(tmp_path, name):
    path = tmp_path / name
    write_frames(path, [_h2(energy=-1.0)])
    before = path.read_bytes()
    with pytest.raises(DataFormatError):
        write_frames(path, [_h2(energy=-2.0), _h2(info={"bad": {1, 2}})])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert read_frames(path)[0].energy == -1.0


@pytest.mark.parametrize("name", ["input.data", "frames.db"])
def test_unwritable_info_is_a_data_format_error(tmp_path, name):
    with pytest.raises(DataFormatError):
        write_frames(tmp_path / name, [_h2(info={"bad": {1, 2}})])


# -- bugs: exceptions other than DataFormatError escape from the readers ---------------------------

XYZ_ESCAPES = {
    "non-numeric Lattice": '2\nLattice="5 0 0 0 5 0 0 0 x" pbc="T T T"\nH 0 0 0\nH 0 0 1\n',
    "non-numeric stress": '2\nLattice="5 0 0 0 5 0 0 0 5" stress="1 2 x" pbc="T T T"\nH 0 0 0\nH 0 0 1\n',
    "virial with 3 values": '2\nLattice="5 0 0 0 5 0 0 0 5" virial="1 2 3"\nH 0 0 0\nH 0 0 1\n',
    "Properties count not ASCII": "2\nProperties=species:S:\u00b2:pos:R:3\nH 0 0 0\nH 0 0 1\n",
    "pos of type S": "2\nProperties=species:S:1:pos:S:3\nH 0 0 0\nH 0 0 1\n",
    "Z of type S": "2\nProperties=Z:S:1:pos:R:3\nH 0 0 0\nH 0 0 1\n",
    "integer column overflow": "2\nProperties=species:S:1:pos:R:3:tag:I:1\nH 0 0 0 99999999999999999999\nH 0 0 1 1\n",
    "forces of type S": "2\nProperties=species:S:1:pos:R:3:forces:S:3\nH 0 0 0 a b c\nH 0 0 1 1 1 1\n",
}


@pytest.mark.parametrize("case", XYZ_ESCAPES)
def test_extxyz_escapes(tmp_path, case):
    path = tmp_path / "bad.xyz"
    path.write_text(XYZ_ESCAPES[case], encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.xyz:[23][: ]"):  # comment line or the atom's
        read_frames(path)


N2P2_META_ESCAPES = ['{"labels": 5}', '{"labels": null}', '{"info": 5}', '{"info": "ab"}', '{"info": [1]}']


@pytest.mark.parametrize("meta", N2P2_META_ESCAPES)
def test_n2p2_metadata_of_the_wrong_type(tmp_path, meta):
    rows = list(N2P2)
    rows.insert(3, "comment potforge " + meta)
    path = _write(tmp_path, rows)
    with pytest.raises(DataFormatError, match=r"input\.data:\d+: "):
        read_frames(path)


@pytest.mark.parametrize("name,rows", [("input.data", N2P2), ("frames.xyz", XYZ)])
def test_invalid_utf8(tmp_path, name, rows):
    path = tmp_path / name
    text = ("\n".join(rows) + "\n").encode()
    path.write_bytes(text.replace(b"H", b"\xff", 1))
    with pytest.raises(DataFormatError, match=name):
        read_frames(path)


@pytest.mark.parametrize("comment,atom", [("energy=nan", "H 0 0 0 0 0 0"), ("energy=-1", "H 0 0 0 inf 0 0"),
                                          ('stress="nan 0 0 0 0 0"', "H 0 0 0 0 0 0")])
def test_extxyz_non_finite_labels(tmp_path, comment, atom):
    path = tmp_path / "nan.xyz"
    path.write_text(f'1\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3:forces:R:3 {comment}\n'
                    f"{atom}\n")
    try:
        read_frames(path)
    except DataFormatError as err:
        assert re.search(r"nan\.xyz:[23][: ]", str(err))  # the comment line, or the atom's
    else:
        pytest.fail("non-finite label accepted")


# -- found in review ---------------------------------------------------------------------------------

def test_zero_atom_extxyz_frame_is_rejected(tmp_path):
    path = tmp_path / "zero.xyz"
    path.write_text('0\nenergy=1.0 pbc="F F F"\n')
    with pytest.raises(DataFormatError, match=r"zero\.xyz:1: .*positive integer"):
        read_frames(path)


def test_plain_xyz_comment_line_is_kept(tmp_path):
    path = tmp_path / "plain.xyz"
    path.write_text("2\nwater fragment, E = -5.0 eV\nO 0 0 0\nH 0 0 0.96\n")
    frame = read_frames(path)[0]
    assert frame.info["comment"] == "water fragment, E = -5.0 eV"
    assert frame.energy is None and not frame.is_periodic


def test_writer_errors_name_the_output_file(tmp_path):
    slab = Frame(Atoms("H", cell=[[5, 0, 0], [0, 5, 0], [0, 0, 0]], pbc=[True, True, False]))
    with pytest.raises(DataFormatError, match=r"slab\.data: frame 0 is periodic along some axes"):
        write_frames(tmp_path / "slab.data", [slab])
    with pytest.raises(DataFormatError, match=r"out\.xyz: cannot write a value of type set"):
        write_frames(tmp_path / "out.xyz", [_h2(info={"bad": {1, 2}})])
