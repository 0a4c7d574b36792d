"""Text files as every reader opens them: bytes that are not UTF-8 are reported at the
file's line, column and byte offset (issue 13, defect 5; it used to say "byte N of a
block"), things that are not regular files are refused before they can block, and fields
are split where C readers split them."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from potforge.core.errors import ConfigError, DataFormatError
from potforge.core.text import (decode_error_location, is_number, parse_floats, read_text,
                                split_fields)


def _expected(prefix: str) -> tuple[int, int, int]:
    """Line, column and byte offset of what follows ``prefix``, as text mode counts lines."""
    breaks = prefix.count("\n") + prefix.count("\r") - prefix.count("\r\n")
    start = max(prefix.rfind("\n"), prefix.rfind("\r")) + 1
    return breaks + 1, len(prefix) - start + 1, len(prefix.encode())


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(st.text(st.sampled_from("ab é€😀\t "), max_size=12), min_size=1, max_size=12),
       ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=12, max_size=12),
       cut=st.integers(0, 400), bad=st.sampled_from([b"\xff", b"\xc3(", b"\x80", b"\xe2\x82x", b"\xed\xa0\x80"]),
       chunk=st.sampled_from([1, 2, 3, 5, 1 << 20]))
def test_decode_error_location_is_exact(tmp_path_factory, lines, ends, cut, bad, chunk):
    text = "".join(line + end for line, end in zip(lines, ends))
    prefix = text[:min(cut, len(text))]
    path = tmp_path_factory.mktemp("utf8") / "f.txt"
    path.write_bytes(prefix.encode() + bad + text[len(prefix):].encode())
    line, column, offset, reason = decode_error_location(path, chunk_size=chunk)
    assert (line, column, offset) == _expected(prefix)
    assert reason


def test_a_valid_file_has_no_decode_error(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_bytes("é€😀\r\nx\n".encode() * 1000)
    assert decode_error_location(path, chunk_size=7) is None


READERS = {
    "extxyz": ("frames.xyz", b"2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 0 0 \xe9.74\n", 4, 7),
    "input.data": ("input.data", b"begin\r\natom 0 0 0 H 0 0 0 0 0\r\ncomment caf\xe9\r\nend\r\n", 3, 12),
    "YAML config": ("train.yaml", b"data:\n  train: [a.xyz]\n# r\xe9sum\xc3\n", 3, 4),
}


@pytest.mark.parametrize("case", READERS)
def test_not_utf8_names_file_line_column_and_offset(tmp_path, case):
    from potforge.core.config import load_yaml
    from potforge.data import read_frames

    name, data, line, column = READERS[case]
    path = tmp_path / name
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    reader, error = (load_yaml, ConfigError) if name.endswith(".yaml") else (read_frames, DataFormatError)
    with pytest.raises(error) as info:
        reader(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}: not UTF-8 text at column {column} (byte {offset} of the file)"), msg
    assert "block" not in msg and info.value.line == line


def test_not_utf8_far_into_a_large_file(tmp_path):
    path = tmp_path / "big.xyz"
    frame = b"1\nProperties=species:S:1:pos:R:3\nH 0 0 0\n"
    path.write_bytes(frame * 200_000 + b"1\n\xff\nH 0 0 0\n")   # 8 MB, past the first blocks
    with pytest.raises(DataFormatError, match=rf"big\.xyz:600002: not UTF-8 text at column 1 "
                                              rf"\(byte {len(frame) * 200_000 + 2} of the file\)"):
        read_text(path, "x")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    """Opening a FIFO for reading blocks until someone writes: a reader must not hang."""
    from potforge.data import read_frames

    fifo = tmp_path / "frames.xyz"
    os.mkfifo(fifo)
    with pytest.raises(DataFormatError, match=r"frames\.xyz: not a regular file"):
        read_frames(fifo)
    with pytest.raises(ConfigError, match=r"frames\.xyz: not a regular file"):
        read_text(fifo, "a YAML config", ConfigError)
    with pytest.raises(DataFormatError, match="is a directory"):
        read_text(tmp_path, "x")


@pytest.mark.parametrize("line,fields", [
    ("a  b\tc\r\n", ["a", "b", "c"]),
    ("1\u00a02 3", ["1\u00a02", "3"]),        # no-break space: not a separator
    ("1\u20282", ["1\u20282"]),                # Unicode line separator: not one either
    ("1\x1c2 \x0b3", ["1\x1c2", "3"]),        # str.split() splits at \x1c, C does not
    ("", []),
])
def test_split_fields_splits_at_ascii_whitespace_only(line, fields):
    assert split_fields(line) == fields


def test_parse_floats_is_strict_and_fast_path_agrees():
    assert parse_floats(["1", "-2.5e3", ".5", "nan"], "x", finite=False)[:3] == [1.0, -2500.0, 0.5]
    for bad in ("١", "1_0", "0x1", "1d3", "", "\uff11"):
        with pytest.raises(DataFormatError, match="expected a number"):
            parse_floats(["1", bad], "atom", path="f", line=2)
    with pytest.raises(DataFormatError, match=r"^f:2: atom holds a non-finite number \(inf\)"):
        parse_floats(["1", "inf"], "atom", path="f", line=2)
    rng = random.Random(0)
    alphabet = "0123456789.eE+-_ nafiINFxy١"
    for _ in range(2000):   # the fast path accepts exactly what is_number accepts
        token = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        try:
            parse_floats([token], "x", finite=False)
            ok = True
        except DataFormatError:
            ok = False
        assert ok == is_number(token), token


def test_is_number_cannot_be_made_to_backtrack():
    """The number pattern once tried every split of a run of digits: 800 kB took minutes."""
    import time

    start = time.perf_counter()
    for token in ("9" * 400_000 + "x" + "9" * 400_000, "1" * 800_000 + "e", "." + "1" * 800_000 + "."):
        assert not is_number(token)
    assert time.perf_counter() - start < 2.0
