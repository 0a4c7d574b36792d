"""Nothing is accepted silently (issue 13, defects 4 and 5): a key, column or record given
twice, a number written with non-ASCII digits or separators, a frame that one verb would
refuse and another accept, a huge token echoed back. Each case is a one-line
DataFormatError naming the file and the line."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from potforge.core.errors import MESSAGE_LIMIT, DataFormatError, StructureError
from potforge.core.neighbors import neighbor_list
from potforge.data import Dataset, Frame, read_frames, write_frames
from potforge.data.labels import frame_labels

HEAD = 'Lattice="6 0 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 pbc="T T T"'
ATOMS = ["O 0 0 0 0.1 0.2 0.3", "H 0 0 0.96 0.1 0.2 0.3"]


def _xyz(tmp_path, comment=HEAD, atoms=ATOMS, name="bad.xyz"):
    path = tmp_path / name
    path.write_text("\n".join(["2", 'Properties=species:S:1:pos:R:3 pbc="F F F"', "O 0 0 0", "H 0 0 1",
                               str(len(atoms)), comment, *atoms]) + "\n", encoding="utf-8")
    return path, 6     # the line of the comment of the second frame (frame 1)


def _refused(path, line, *words):
    for reader in (read_frames, Dataset.read):
        with pytest.raises(DataFormatError) as info:
            reader(path)
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith(f"{path}:{line}"), msg
        for word in words:
            assert word in msg, (word, msg)


# -- extended XYZ: each thing said once ---------------------------------------------------------

XYZ_TWICE = {
    "energy twice (the last one used to win)": (HEAD + " energy=-7.0", ["'energy'", "twice"]),
    "config_type twice": (HEAD + " config_type=a config_type=b", ["'config_type'", "twice"]),
    "any other key twice": (HEAD + " temperature=300 temperature=310", ["'temperature'", "twice"]),
    "a bare flag twice": (HEAD + " relaxed relaxed", ["'relaxed'", "twice"]),
    "energy and Energy": (HEAD + " Energy=-7.0", ["'energy'", "'Energy'"]),
    "Lattice and lattice": (HEAD + ' lattice="7 0 0 0 7 0 0 0 7"', ["'Lattice'", "'lattice'"]),
    "stress and virial": (HEAD + ' stress="1 0 0 0 1 0 0 0 1" virial="1 0 0 0 1 0 0 0 1"',
                          ["stress", "virial"]),
    "a Properties column twice": (HEAD.replace(":forces:R:3", ":pos:R:3"), ["'pos'", "twice"]),
    "forces and force columns": (HEAD.replace(":forces:R:3", ":forces:R:3:force:R:3"),
                                 ["'forces'", "'force'"]),
    "a column that would replace the atomic numbers": (
        HEAD.replace(":forces:R:3", ":forces:R:3:numbers:I:1"), ["'numbers'"]),
    "an empty column name": (HEAD.replace(":forces:R:3", ":forces:R:3::R:1"), ["Properties"]),
}


@pytest.mark.parametrize("case", XYZ_TWICE)
def test_extxyz_says_each_thing_once(tmp_path, case):
    comment, words = XYZ_TWICE[case]
    width = {"forces and force columns": 3, "a Properties column twice": 0}.get(case, 0)
    extra = {"a column that would replace the atomic numbers": 1, "an empty column name": 1}.get(case, 0)
    atoms = [a + " 0.1 0.2 0.3" * (width // 3) + " 1" * extra for a in ATOMS]
    path, line = _xyz(tmp_path, comment, atoms)
    _refused(path, line, *words)


def test_plain_xyz_comment_with_a_repeated_key_is_not_free_text(tmp_path):
    """A comment line without Properties used to fall back to free text on any parse error;
    a repeated key is an error there too (else energy=1 energy=2 would be a 'comment')."""
    path = tmp_path / "plain.xyz"
    path.write_text("1\nenergy=1.0 energy=2.0\nH 0 0 0\n")
    _refused(path, 2, "'energy'", "twice")
    path.write_text("1\nenergy=1.0, from a DFT run\nH 0 0 0\n")   # never an energy-less comment
    _refused(path, 2, "energy", "'1.0,'")


def test_species_and_z_must_agree(tmp_path):
    comment = 'Properties=species:S:1:pos:R:3:Z:I:1 pbc="F F F"'
    path, _ = _xyz(tmp_path, comment, ["O 0 0 0 8", "H 0 0 0.96 1"])
    frame = read_frames(path)[1]
    assert frame.symbols == ["O", "H"] and "Z" not in frame.atoms.arrays
    path, line = _xyz(tmp_path, comment, ["O 0 0 0 8", "H 0 0 0.96 2"])
    _refused(path, line + 2, "atom 1", "Z 2")


# -- n2p2 input.data: each record once --------------------------------------------------------

N2P2 = ["begin", "comment water", "lattice 10 0 0", "lattice 0 10 0", "lattice 0 0 10",
        "atom 0 0 0 O -0.5 0 0.1 0.2 0.3", "atom 0 0 1.8 H 0.25 0 0.1 0.2 0.3",
        "energy -12.5", "charge 0.0", "end"]


def _n2p2(tmp_path, rows):
    path = tmp_path / "input.data"
    path.write_text("\n".join(N2P2 + rows) + "\n", encoding="utf-8")
    return path


N2P2_TWICE = {
    "two energy lines": (["energy -13.0"], 9, ["second 'energy'", "first at line 8"]),
    "the same energy twice": (["energy -12.5"], 9, ["second 'energy'"]),
    "two charge lines": (["charge 1.0"], 10, ["second 'charge'", "first at line 9"]),
    "two metadata comments": (['comment potforge {"group": "a"}', 'comment potforge {"group": "b"}'], 10,
                              ["second 'potforge metadata comment'"]),
    "a metadata key twice": (['comment potforge {"group": "a", "group": "b"}'], 9, ["'group' twice"]),
    "something after end": ([], 10, ["'end'", "'x'"]),
    "something after begin": ([], 1, ["'begin'", "'1'"]),
}


@pytest.mark.parametrize("case", N2P2_TWICE)
def test_input_data_says_each_record_once(tmp_path, case):
    extra, line, words = N2P2_TWICE[case]
    rows = list(N2P2)
    rows[8:8] = extra
    if case == "something after end":
        rows[-1] = "end x"
    if case == "something after begin":
        rows[0] = "begin 1"
    path = tmp_path / "input.data"
    path.write_text("\n".join(rows) + "\n")
    _refused(path, line, *words)


# -- numbers: ASCII digits, ASCII separators ---------------------------------------------------

UNICODE_NUMBERS = {
    "Arabic-Indic digits": "\u0661\u0662",
    "underscore": "1_0",
    "fullwidth digit": "\uff11",
    "superscript two": "\u00b2",
}


@pytest.mark.parametrize("token", UNICODE_NUMBERS.values(), ids=UNICODE_NUMBERS)
def test_non_ascii_digits_are_not_numbers_in_extxyz(tmp_path, token):
    path, line = _xyz(tmp_path, atoms=[f"O 0 {token} 0 0.1 0.2 0.3", ATOMS[1]])
    _refused(path, line + 1, "'pos'", "atom 0", repr(token))
    path, line = _xyz(tmp_path, HEAD.replace("energy=-1.5", f"energy={token}"))
    _refused(path, line, "energy")
    path, line = _xyz(tmp_path, HEAD.replace('6 0 0 0 6 0 0 0 6', f'6 0 0 0 6 0 0 0 {token}'))
    _refused(path, line, "Lattice")


@pytest.mark.parametrize("token", UNICODE_NUMBERS.values(), ids=UNICODE_NUMBERS)
def test_non_ascii_digits_are_not_numbers_in_input_data(tmp_path, token):
    for k, text in ((6, f"atom 0 0 {token} H 0.25 0 0.1 0.2 0.3"), (7, f"energy {token}"),
                    (2, f"lattice {token} 0 0")):
        rows = list(N2P2)
        rows[k] = text
        path = tmp_path / "input.data"
        path.write_text("\n".join(rows) + "\n")
        _refused(path, k + 1, repr(token))


def test_no_break_space_does_not_separate_numbers(tmp_path):
    """Python's str.split splits at U+00A0 and U+2028; n2p2 and ASE's C readers do not, so
    '0\u00a01' is one broken token, not two numbers."""
    rows = list(N2P2)
    rows[6] = "atom 0 0\u00a01.8 H 0.25 0 0.1 0.2 0.3"
    path = tmp_path / "input.data"
    path.write_text("\n".join(rows) + "\n")
    _refused(path, 7, "fields")
    path, line = _xyz(tmp_path, atoms=["O 0 0 0 0.1 0.2 0.3", "H 0 0\u20280.96 0.1 0.2 0.3"])
    _refused(path, line + 2, "columns")


# -- one check for every frame ----------------------------------------------------------------

def _zero_cell_files(tmp_path):
    """The same zero-length periodic cell in each format."""
    xyz = tmp_path / "zero.xyz"
    xyz.write_text('2\nLattice="0 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
                   "H 0 0 0\nH 0 0 0.74\n")
    data = tmp_path / "input.data"
    data.write_text("begin\nlattice 0 0 0\nlattice 0 5 0\nlattice 0 0 5\natom 0 0 0 H 0 0 0 0 0\n"
                    "atom 0 0 0.74 H 0 0 0 0 0\nend\n")
    db = tmp_path / "zero.db"
    from ase.db import connect

    with connect(str(db)) as con:
        con.write(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[[0, 0, 0], [0, 5, 0], [0, 0, 5]],
                        pbc=True))
    return {"extxyz": (xyz, 2), "n2p2": (data, 7), "ase-db": (db, None)}


def test_a_zero_length_periodic_cell_is_refused_by_every_reader(tmp_path):
    """`data info` used to accept the cell that `predict` refuses; now the readers apply the
    neighbour list's own check."""
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[[0, 0, 0], [0, 5, 0], [0, 0, 5]], pbc=True)
    with pytest.raises(StructureError) as predict_error:
        neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, 3.0)
    for fmt, (path, line) in _zero_cell_files(tmp_path).items():
        with pytest.raises(DataFormatError) as info:
            Dataset.read(path)
        msg = str(info.value)
        assert predict_error.value.reason in msg, (fmt, msg)
        assert msg.startswith(f"{path}:{line}" if line else f"{path} frame 0"), msg


def test_data_info_refuses_what_predict_refuses(tmp_path, capsys):
    from potforge.cli.main import main

    path = _zero_cell_files(tmp_path)["extxyz"][0]
    assert main(["data", "info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{path}:2" in err and "zero length" in err


BAD_FRAMES = {
    "nan position": dict(atoms=Atoms("H2", positions=[[0, 0, 0], [0, np.nan, 0.7]])),
    "inf energy": dict(energy=np.inf),
    "nan force": dict(forces=[[0, 0, 0], [0, 0, np.nan]]),
    "nan stress": dict(stress=[np.nan, 0, 0, 0, 0, 0]),
    "nan charge": dict(charges=[np.nan, 0]),
    "inf total charge": dict(total_charge=-np.inf),
    "nan atomic energy": dict(atomic_energies=[0, np.nan]),
    "negative weight": dict(weight=-1.0),
    "nan weight": dict(weight=np.nan),
    "dependent cell vectors": dict(atoms=Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]],
                                               cell=[[5, 0, 0], [10, 0, 0], [0, 0, 5]], pbc=True)),
    "no atoms": dict(atoms=Atoms()),
}


def _frame(**changes):
    base = dict(atoms=Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]], cell=[5, 5, 5], pbc=True),
                energy=-1.0, forces=np.zeros((2, 3)))
    base.update(changes)
    atoms = base.pop("atoms")
    if len(atoms) != 2:
        base.pop("forces")
    return Frame(atoms, **base)


@pytest.mark.parametrize("case", BAD_FRAMES)
@pytest.mark.parametrize("name", ["out.xyz", "input.data", "out.db"])
def test_writers_refuse_what_readers_refuse(tmp_path, case, name):
    """A writer never leaves a file that its reader (and so every verb) would refuse."""
    from potforge.data.frame import check_frame

    frames = [_frame(), _frame(**BAD_FRAMES[case])]
    with pytest.raises(DataFormatError) as info:
        check_frame(frames[1])
    with pytest.raises(DataFormatError, match=rf"{name} frame 1: ") as written:
        write_frames(tmp_path / name, frames)
    assert written.value.reason == info.value.reason
    assert not (tmp_path / name).exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("case", [c for c in BAD_FRAMES if c != "no atoms"])
def test_training_labels_refuse_non_finite_values(case):
    """frame_labels used to read a NaN energy as 'missing' and only refused infinities."""
    with pytest.raises(DataFormatError, match=r"^water 1: "):
        frame_labels([_frame(), _frame(**BAD_FRAMES[case])], ("H",), names=["water 0", "water 1"])


def test_ase_db_rows_are_checked(tmp_path):
    from ase.db import connect

    good = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    far = good.copy()
    far.positions[1, 2] = np.nan
    cases = {"nan.db": (dict(atoms=far), "atom 1 has a non-finite coordinate"),
             "weight.db": (dict(atoms=good, weight=-2.0), "weight -2.0 must be"),
             "group.db": (dict(atoms=good, group=2.5), "group must be text or an integer")}
    for name, (row, words) in cases.items():
        with connect(str(tmp_path / name)) as con:
            con.write(good, group=3)       # a hand-written integer group is the name "3"
            con.write(**row)
        with pytest.raises(DataFormatError, match=rf"{name} frame 1: row id 2: {words}"):
            read_frames(tmp_path / name)
    from potforge.data.io.asedb import read_ase_db

    assert read_ase_db(tmp_path / "nan.db", "id=1")[0].group == "3"


# -- messages stay short ------------------------------------------------------------------------

def test_an_800kB_token_is_not_echoed(tmp_path):
    huge = "9" * 400_000 + "x" + "9" * 400_000
    cases = []
    path, line = _xyz(tmp_path, HEAD.replace("energy=-1.5", f"energy={huge}"), name="a.xyz")
    cases.append(path)
    path, _ = _xyz(tmp_path, atoms=[f"{huge} 0 0 0 0.1 0.2 0.3", ATOMS[1]], name="b.xyz")
    cases.append(path)
    rows = list(N2P2)
    rows[7] = f"energy {huge}"
    (tmp_path / "c").mkdir()
    path = tmp_path / "c" / "input.data"
    path.write_text("\n".join(rows) + "\n")
    cases.append(path)
    for path in cases:
        with pytest.raises(DataFormatError) as info:
            read_frames(path)
        assert len(str(info.value)) < MESSAGE_LIMIT + len(str(path)) + 40, str(info.value)[:300]
        assert "characters" in str(info.value)   # says how long the value was


def test_typed_columns_of_every_kind(tmp_path):
    comment = 'Properties=species:S:1:pos:R:3:fixed:L:1:tag:I:1:name:S:1 pbc="F F F"'
    path, line = _xyz(tmp_path, comment, ["O 0 0 0 T -3 a", "H 0 0 0.96 False +7 b"])
    arrays = read_frames(path)[1].atoms.arrays
    assert arrays["fixed"].tolist() == [True, False] and arrays["tag"].tolist() == [-3, 7]
    assert arrays["name"].tolist() == ["a", "b"]
    for atom, word in ((["O 0 0 0 yes -3 a"], "'fixed' of atom 0"), (["O 0 0 0 T 1.0 a"], "'tag' of atom 0"),
                       (["O 0 0 0 T 9223372036854775808 a"], "'tag' of atom 0")):
        path, line = _xyz(tmp_path, comment, [*atom, "H 0 0 0.96 F 7 b"])
        _refused(path, line + 1, word)
