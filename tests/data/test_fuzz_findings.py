"""Inputs the fuzzer (tests/fuzz_inputs.py) found slipping through, each reduced to its class."""

from __future__ import annotations

from pathlib import Path

import ase
import pytest
from ase import Atoms

from potforge.core.errors import DataFormatError
from potforge.data import Frame, read_frames, write_frames
from potforge.data.frame import frame_problem


@pytest.mark.parametrize("count", ["1" * 100_000, "9" * 20])
def test_an_atom_count_of_absurd_length_is_one_line(tmp_path, count):
    """int() of 4300+ digits raises ValueError (CPython's limit), beyond int64 is never a count."""
    path = tmp_path / "big.xyz"
    path.write_text(f"{count}\nProperties=species:S:1:pos:R:3\nH 0 0 0\n")
    with pytest.raises(DataFormatError, match=r"big\.xyz:1: expected the atom count") as err:
        read_frames(path)
    assert len(str(err.value)) < 300


@pytest.mark.parametrize("value", ["99999999999999999999999", "1" * 5000])
def test_input_data_metadata_integers_past_int64(tmp_path, value):
    path = tmp_path / "input.data"
    path.write_text("begin\n"
                    f'comment potforge {{"weight": {value}}}\n'
                    "atom 0.0 0.0 0.0 H 0.0 0.0 0.0 0.0 0.0\n"
                    "energy -1.0\ncharge 0.0\nend\n")
    try:
        frames = read_frames(path)
    except DataFormatError as err:  # refused in one line naming the place ...
        assert "input.data:" in str(err) and "\n" not in str(err)
    else:                           # ... or read as the (finite or not) number it is
        assert frames[0].weight == float(value)


def test_text_names_must_be_writable_unicode(tmp_path):
    """A lone surrogate (JSON and SQLite carry one) in a name would crash the writers."""
    for changes in ({"config_type": "bulk\ud800"}, {"group": "\udc80"}, {"info": {"note": "\ud800"}}):
        frame = Frame(Atoms("H", positions=[[0, 0, 0]]), **changes)
        assert "surrogate" in frame_problem(frame)
        with pytest.raises(DataFormatError, match="surrogate"):
            write_frames(tmp_path / "out.xyz", [frame])
        assert not (tmp_path / "out.xyz").exists()


def test_a_dft_output_with_an_absurdly_long_line_is_refused_fast(tmp_path):
    """ASE's CASTEP reader takes minutes on a 150 kB line; no DFT code writes one."""
    source = next((Path(ase.__file__).parent / "test" / "testdata").rglob("*.castep"), None)
    if source is None:
        pytest.skip("ASE's test data has no .castep file in this installation")
    lines = source.read_text().splitlines(keepends=True)
    lines.insert(41, "x" * 150_000 + "\n")
    damaged = tmp_path / "run.castep"
    damaged.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"run\.castep:42: a line of more than"):
        read_frames(damaged, "castep")
    assert len(read_frames(source, "castep")) >= 1
