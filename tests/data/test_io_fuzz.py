"""Hypothesis fuzzing of the data formats.

1. Random frames (random species, sizes from one atom, random labels and metadata) round-trip
   exactly through every format.
2. Garbled files (truncations, character edits, deleted/duplicated/swapped/random lines, raw
   byte edits) make the readers either parse or raise :class:`DataFormatError`; any other
   exception (IndexError, a plain ValueError, TypeError, UnicodeDecodeError, ...) is a bug.
"""

from __future__ import annotations

import re
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from potforge.core.errors import DataFormatError
from potforge.data import Frame, read_frames, write_frames
from potforge.data.frame import check_frame
from potforge.data.io.extxyz import read_extxyz
from potforge.data.io.n2p2 import read_input_data

from .test_io_roundtrip import make_frame

SPECIES = ("H", "C", "O", "Cu", "Au")
FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- random frames ------------------------------------------------------------------------------

_BOOL_WORDS = {"T", "F", "True", "False", "true", "false"}


def _parses_as(token: str, conv) -> bool:
    try:
        conv(token)
    except ValueError:
        return False
    return True


def plain_string(s: str) -> bool:
    """A string that no format may mistake for a number or a boolean. Free-form info values
    like "007" come back from extended XYZ as numbers (as in ASE: the format cannot tell them
    apart); config_type and group are kept as text (test_io_roundtrip.py)."""
    if "\r" in s or _parses_as(s, int) or _parses_as(s, float) or s in _BOOL_WORDS:
        return False
    tokens = s.split()
    if tokens and (all(_parses_as(t, int) for t in tokens) or all(_parses_as(t, float) for t in tokens)
                   or all(t in _BOOL_WORDS for t in tokens)):
        return False
    return True


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=15).filter(plain_string)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
_RESERVED = {"lattice", "properties", "pbc", "energy", "stress", "virial", "config_type", "group",
             "weight", "total_charge", "comment"}
info_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-.:]{0,8}", fullmatch=True).filter(
    lambda k: k.lower() not in _RESERVED)


def info_values(fmt):
    scalars = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                        texts)
    if fmt == "extxyz":
        vectors = st.one_of(
            arrays(np.float64, st.integers(2, 5), elements=st.floats(allow_nan=False)),
            arrays(np.int64, st.integers(2, 5)),
            arrays(np.bool_, st.integers(2, 5)),
        )
        return st.one_of(scalars, vectors)
    json_scalars = st.one_of(st.none(), st.integers(-2**62, 2**62), st.floats(allow_nan=False), st.booleans(),
                             texts)
    return st.one_of(scalars, st.lists(json_scalars, max_size=4),
                     st.dictionaries(texts, json_scalars, max_size=3))


@st.composite
def frames(draw, fmt):
    n = draw(st.integers(1, 6))
    symbols = draw(st.lists(st.sampled_from(SPECIES), min_size=n, max_size=n))
    kinds = ["periodic", "open"] + ([] if fmt == "n2p2" else ["mixed", "open-cell"])
    kind = draw(st.sampled_from(kinds))
    positions = draw(arrays(np.float64, (n, 3), elements=st.floats(-60, 60)))
    if kind == "open":
        cell, pbc = np.zeros((3, 3)), False
    else:
        cell = draw(arrays(np.float64, (3, 3), elements=st.floats(-30, 30)))
        pbc = {"periodic": True, "open-cell": False,
               "mixed": draw(st.sampled_from([[True, True, False], [False, True, False]]))}[kind]
    atoms = Atoms(symbols=symbols, positions=positions, cell=cell, pbc=pbc)

    def maybe(strategy):
        return draw(st.one_of(st.none(), strategy))

    charges, total_charge = maybe(arrays(np.float64, (n,), elements=finite)), maybe(finite)
    if charges is not None and total_charge is not None:  # a contradiction is refused: keep them agreed
        with np.errstate(over="ignore"):
            total_charge = float(np.sum(charges)) if np.isfinite(np.sum(charges)) else None
    frame = Frame(
        atoms,
        energy=maybe(finite),
        forces=maybe(arrays(np.float64, (n, 3), elements=finite)),
        stress=maybe(arrays(np.float64, (6,), elements=finite)),
        charges=charges,
        total_charge=total_charge,
        atomic_energies=maybe(arrays(np.float64, (n,), elements=finite)),
        config_type=maybe(texts),
        group=maybe(texts),
        weight=draw(st.one_of(st.just(1.0), st.floats(0, 1e6))),
        info=draw(st.dictionaries(info_keys, info_values(fmt), max_size=4)),
    )
    try:        # what the readers refuse (singular periodic cells) the writers refuse too
        check_frame(frame)
    except DataFormatError:
        assume(False)
    return frame


def _roundtrip(tmp_path_factory, name, fmt, frame_list):
    path = tmp_path_factory.mktemp("fuzz") / name
    write_frames(path, frame_list)
    back = read_frames(path)
    assert len(back) == len(frame_list)
    for k, (a, b) in enumerate(zip(frame_list, back)):
        assert a.same_as(b), f"frame {k}:\n{a!r} info={a.info}\n{b!r} info={b.info}\n{path.read_text() if fmt != 'ase-db' else ''}"


@FUZZ
@given(st.lists(frames("extxyz"), min_size=1, max_size=3))
def test_random_frames_roundtrip_extxyz(tmp_path_factory, frame_list):
    _roundtrip(tmp_path_factory, "fuzz.xyz", "extxyz", frame_list)


@FUZZ
@given(st.lists(frames("n2p2"), min_size=1, max_size=3))
def test_random_frames_roundtrip_n2p2(tmp_path_factory, frame_list):
    _roundtrip(tmp_path_factory, "input.data", "n2p2", frame_list)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames("ase-db"), min_size=1, max_size=3))
def test_random_frames_roundtrip_ase_db(tmp_path_factory, frame_list):
    _roundtrip(tmp_path_factory, "fuzz.db", "ase-db", frame_list)


# -- garbled files ---------------------------------------------------------------------------------

def _base_text(fmt: str) -> str:
    """A valid file of a few small frames with every label and metadata line."""
    rng = np.random.default_rng(7)
    frames_ = [make_frame(rng, 2, boundary="periodic", info="extxyz" if fmt == "extxyz" else "json"),
               make_frame(rng, 1, ("energy", "forces", "charges", "total_charge", "atomic_energies"),
                          boundary="open", info=None, meta=False),
               make_frame(rng, 3, ("energy", "stress"), boundary="periodic", info=None)]
    frames_[0].info["comment" if fmt == "n2p2" else "remark"] = "hand written"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / FILE_NAMES[fmt]
        write_frames(path, frames_)
        return path.read_text(encoding="utf-8")


READERS = {"extxyz": read_extxyz, "n2p2": read_input_data}
FILE_NAMES = {"extxyz": "garbled.xyz", "n2p2": "input.data"}
BASE = {"extxyz": _base_text("extxyz"), "n2p2": _base_text("n2p2")}

interesting_chars = st.one_of(st.sampled_from(list("0123456789 \n\t-+.eE=\"'{}[],:#xTFnaAHOX\\")),
                              st.characters(blacklist_categories=("Cs",)))
number_tokens = st.one_of(st.sampled_from(["0", "-1", "1.5", "1e3", "nan", "inf", "-inf", "1e999",
                                           "2", "3", "0x1", "1,2"]),
                          st.floats().map(repr), st.integers(-5, 5).map(str))
word_tokens = st.sampled_from(["H", "O", "Cu", "Xx", "X", "abc", "begin", "end", "atom", "lattice",
                               "energy", "charge", "comment", "#", "potforge", "{}", "T", "F"])


def n2p2_lines():
    keyword = st.sampled_from(["begin", "end", "atom", "lattice", "energy", "charge", "comment", "#x",
                               "junk"])
    return st.builds(lambda k, toks: " ".join([k, *toks]), keyword,
                     st.lists(st.one_of(number_tokens, word_tokens), max_size=11))


def safe_extxyz_lines():
    """Count lines, atom-like lines and bare words (key=value lines: see the wide fuzz below)."""
    return st.one_of(st.integers(-2, 5).map(str),
                     st.builds(" ".join, st.lists(st.one_of(number_tokens, word_tokens), max_size=8)))


def extxyz_comment_lines():
    keys = st.sampled_from(["Lattice", "Properties", "pbc", "energy", "stress", "virial", "weight",
                            "config_type", "group", "total_charge", "foo"])
    values = st.one_of(
        number_tokens, word_tokens,
        st.lists(st.one_of(number_tokens, word_tokens), max_size=10).map(lambda t: '"' + " ".join(t) + '"'),
        st.lists(st.sampled_from(["species", "pos", "forces", "Z", "S", "R", "I", "L", "1", "3", "0", "x"]),
                 max_size=9).map(":".join))
    return st.builds(lambda kv: " ".join(f"{k}={v}" for k, v in kv), st.lists(st.tuples(keys, values), max_size=5))


@st.composite
def random_extxyz_frame(draw):
    """A count line, a random key=value comment line and that many atom-like lines."""
    n = draw(st.integers(0, 3))
    atom = st.builds(lambda sym, xs: " ".join([sym, *xs]), st.sampled_from(["H", "O", "Cu", "1", "Xx"]),
                     st.lists(number_tokens, min_size=3, max_size=7))
    rows = draw(st.lists(atom, min_size=n, max_size=n))
    return "\n".join([str(n), draw(extxyz_comment_lines()), *rows]) + "\n"


def _line_spans(text):
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line)))
        start += len(line)
    return spans


@st.composite
def garbled(draw, fmt, char_region="all", lines=None):
    """Apply 1-4 random edits to the base file of ``fmt``.

    char_region: where character edits may happen: "all", or "atoms" (extxyz: not on the
    comment lines; the wide fuzz below edits those too).
    """
    text = BASE[fmt]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "replace", "insert", "delete", "delete_line",
                                   "duplicate_line", "swap_lines", "insert_line"]))
        allowed = [(0, max(len(text), 1))]
        if op in ("replace", "insert", "delete") and char_region == "atoms":
            # spans of the current text (lines may have moved) that are not comment lines
            spans = _line_spans(text)
            allowed = [s for s, line in zip(spans, text.splitlines(keepends=True))
                       if "Properties=" not in line and s[1] > s[0]]
            if not allowed:
                continue
        if op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op in ("replace", "insert", "delete"):
            lo, hi = draw(st.sampled_from(allowed))
            pos = draw(st.integers(lo, max(lo, hi - 1)))
            if op == "replace":
                text = text[:pos] + draw(interesting_chars) + text[pos + 1:]
            elif op == "insert":
                text = text[:pos] + draw(st.text(interesting_chars, min_size=1, max_size=4)) + text[pos:]
            else:
                text = text[:pos] + text[pos + draw(st.integers(1, 12)):]
        else:
            rows = text.splitlines(keepends=True)
            if not rows:
                continue
            k = draw(st.integers(0, len(rows) - 1))
            if op == "delete_line":
                del rows[k]
            elif op == "duplicate_line":
                rows.insert(k, rows[k])
            elif op == "swap_lines":
                m = draw(st.integers(0, len(rows) - 1))
                rows[k], rows[m] = rows[m], rows[k]
            else:
                new = draw(lines if lines is not None else st.just(""))
                rows.insert(k, new + "\n")
            text = "".join(rows)
        if char_region == "atoms" and "=" in "".join(
                line for line in text.splitlines() if "Properties=" not in line):
            # an edit turned an atom line into something that could be a comment line with values
            assume(False)
    return text


def _read_or_format_error(tmp_path_factory, fmt, content):
    path = tmp_path_factory.mktemp("garbled") / FILE_NAMES[fmt]
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    try:
        frames_ = READERS[fmt](path)
    except DataFormatError as err:
        event("DataFormatError")
        assert str(path) in str(err), f"the message does not name the file: {err}"
        return
    except Exception as err:  # noqa: BLE001 - that is the point of the test
        pytest.fail(f"{type(err).__name__} instead of DataFormatError: {err}\n--- file ---\n{content!r}")
    event("parsed")
    for f in frames_:
        assert isinstance(f, Frame)


def test_base_files_are_valid(tmp_path):
    for fmt, text in BASE.items():
        path = tmp_path / FILE_NAMES[fmt]
        path.write_text(text)
        assert len(READERS[fmt](path)) == 3
    assert "comment potforge {" in BASE["n2p2"] and "lattice" in BASE["n2p2"]
    assert "Lattice=" in BASE["extxyz"] and "stress=" in BASE["extxyz"]


@FUZZ
@given(garbled("n2p2", lines=n2p2_lines()))
def test_garbled_input_data(tmp_path_factory, content):
    _read_or_format_error(tmp_path_factory, "n2p2", content)


@FUZZ
@given(st.lists(n2p2_lines(), max_size=12).map(lambda rows: "\n".join(rows) + "\n"))
def test_random_lines_input_data(tmp_path_factory, content):
    _read_or_format_error(tmp_path_factory, "n2p2", content)


@FUZZ
@given(garbled("extxyz", char_region="atoms", lines=safe_extxyz_lines()))
def test_garbled_extxyz_atom_lines_and_structure(tmp_path_factory, content):
    _read_or_format_error(tmp_path_factory, "extxyz", content)


# Wide fuzz: comment lines, arbitrary bytes. These found readers letting ValueError, TypeError,
# OverflowError and UnicodeDecodeError escape (each has a pinned case in test_io_errors.py);
# derandomized so that every run checks the same examples.
WIDE_FUZZ = settings(FUZZ, derandomize=True, database=None, max_examples=100)


@WIDE_FUZZ
@given(garbled("extxyz", lines=extxyz_comment_lines()))
def test_garbled_extxyz_anywhere(tmp_path_factory, content):
    _read_or_format_error(tmp_path_factory, "extxyz", content)


@WIDE_FUZZ
@given(st.lists(random_extxyz_frame(), min_size=1, max_size=3).map("".join))
def test_random_comment_lines_extxyz(tmp_path_factory, content):
    _read_or_format_error(tmp_path_factory, "extxyz", content)


@st.composite
def byte_edits(draw, fmt):
    data = bytearray(BASE[fmt].encode())
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.mark.parametrize("fmt", ["n2p2", "extxyz"])
@WIDE_FUZZ
@given(data=st.data())
def test_random_byte_edits(tmp_path_factory, fmt, data):
    _read_or_format_error(tmp_path_factory, fmt, data.draw(byte_edits(fmt)))


@FUZZ
@pytest.mark.parametrize("fmt", ["n2p2", "extxyz"])
@given(data=st.data())
def test_random_ascii_byte_edits(tmp_path_factory, fmt, data):
    """Byte edits that keep the file ASCII (extxyz: only outside the comment lines)."""
    base = BASE[fmt].encode()
    ranges = [(0, len(base))]
    if fmt == "extxyz":
        ranges = [(s, e) for (s, e), line in zip(_line_spans(BASE[fmt]), BASE[fmt].splitlines())
                  if "Properties=" not in line]
    content = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        lo, hi = data.draw(st.sampled_from(ranges))
        pos = data.draw(st.integers(lo, hi - 1))
        content[pos] = data.draw(st.sampled_from([b for b in string.printable.encode() if b != ord("=")]))
    _read_or_format_error(tmp_path_factory, fmt, bytes(content))


def test_plain_string_filter():
    """The filter used above rejects the strings extended XYZ reads back as numbers or booleans."""
    for s in ("007", "1e3", "T", "1 2", "Infinity", "nan", "true", "T F", "a\rb", " 12 "):
        assert not plain_string(s), s
    for s in ("", "  ", "abc", "1 a", "AIMD-NVT", "T x", "traj-3a", 'a"b\\c\nd'):
        assert plain_string(s), s
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-.:]{0,8}", "x.y:z-1")
