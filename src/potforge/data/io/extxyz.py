"""Extended XYZ files, read and written by potforge itself.

potforge writes every float with the shortest representation that reads back to the same
float64 (ASE's writer rounds to 8 decimals), so files round-trip exactly, and reads the
files that ASE and other codes write. Conventions follow ASE: ``Lattice`` (cell rows, Å;
its presence means periodic unless ``pbc`` says otherwise), ``Properties`` (per-atom
columns: ``species:S:1:pos:R:3`` then ``forces:R:3``, ``charges:R:1``, ``energies:R:1``),
``energy`` (eV), ``stress`` (eV/Å³, 6 Voigt or 9 values, ASE sign) or ``virial`` (eV, 9
values), ``config_type``, ``group``, ``weight``, ``total_charge``; anything else goes to
``Frame.info`` (scalars and arrays) or ``atoms.arrays`` (per-atom columns).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ...core.atomic import atomic_write
from ...core.elements import is_element
from ...core.errors import DataFormatError, located
from ...core.text import is_number, number_characters_only, open_text, shorten, split_fields, split_lines
from ..frame import Frame, check_frame

__all__ = ["read_extxyz", "iter_extxyz", "write_extxyz", "parse_key_values"]

_SPACE = r"[ \t\n\r\f\v]"      # ASCII whitespace only, as split_fields splits
#: a key: a letter or _ (any script, as ASE writes them) then word characters or - . :
_KEY = r"[^\W\d][\w\-.:]*"
_KV = re.compile(
    rf"""{_SPACE}*({_KEY})                 # key
        (?:{_SPACE}*(=)(?:
            (?={_SPACE}+{_KEY}{_SPACE}*=|{_SPACE}*$)   # empty value: ASE writes '' as "key= "
          | {_SPACE}*(
            "(?:[^"\\]|\\.)*"             # double-quoted value with escapes
          | '(?:[^'\\]|\\.)*'             # single-quoted value
          | \{{[^}}]*\}}                     # {{a b c}}
          | \[[^\]]*\]                    # [a, b, c]
          | (?:[^ \t\n\r\f\v"'\\]|\\.|\\$)+    # bare value (may hold '='; backslash escapes)
        )))?{_SPACE}*""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")
#: per-atom label columns; ASE writes atoms.arrays["charges"] as a "charge" column
_PER_ATOM_LABELS = {"forces": "forces", "force": "forces", "charges": "charges", "charge": "charges",
                    "energies": "atomic_energies"}
_RESERVED = {"lattice", "properties", "pbc", "energy", "stress", "virial", "config_type",
             "group", "weight", "total_charge"}


_RAW_KEYS = frozenset({"config_type", "group"})
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")  # int64 has 19 digits; longer is never a count
_PROPERTY_NAME = re.compile(r"[A-Za-z_][\w\-.]*", re.ASCII)
#: names of ASE's own per-atom arrays, which a Properties column must not replace
_ATOMS_ARRAYS = {"numbers", "positions"}


class _AmbiguousComment(DataFormatError):
    """A comment line that parses but says one thing twice (never read as free text)."""


def parse_key_values(text: str, path: str = "?", line: int | None = None,
                     raw_keys: frozenset[str] = _RAW_KEYS) -> dict[str, object]:
    """Parse the comment line of an extended XYZ frame into a dict of typed values.

    Values of ``raw_keys`` stay strings exactly as written (a group "007" is not the number 7).
    """
    pairs: list[tuple[str, str | None]] = []
    pos = 0
    text = text.rstrip("\n")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _KV.match(text, pos)
        if m is None or m.end() == pos:
            raise DataFormatError(f"cannot parse key=value pairs near {shorten(text[pos:], 30)!r}",
                                  path=path, line=line)
        pairs.append((m.group(1), None if m.group(2) is None else m.group(3) or ""))
        pos = m.end()
    # the whole line parses; now it must say each thing once (no "last one wins")
    result: dict[str, object] = {}
    reserved: dict[str, str] = {}
    for key, raw in pairs:
        if key in result:
            raise _AmbiguousComment(f"key {shorten(key)!r} appears twice in the comment line; "
                                    "expected each key once", path=path, line=line)
        if key.lower() in _RESERVED:
            first = reserved.setdefault(key.lower(), key)
            if first != key:
                raise _AmbiguousComment(f"keys {shorten(first)!r} and {shorten(key)!r} are both "
                                        "given; they name the same quantity (case is ignored); "
                                        "expected one", path=path, line=line)
        if raw is None:
            result[key] = True
        elif key.lower() in raw_keys:
            result[key] = _unquote(raw)[0]
        else:
            result[key] = _typed(raw, key, path, line)
    return result


def _unescape(text: str) -> str:
    """Backslash escapes as ASE reads them (``\\x`` is ``x``), except that ``\\n`` and ``\\r``
    are a newline and a carriage return (potforge writes them so; ASE cannot write either)."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), text)


def _unquote(raw: str) -> tuple[str, bool]:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return _unescape(raw[1:-1]), True
    if raw.startswith("{") or raw.startswith("["):
        return raw[1:-1].replace(",", " "), True
    return _unescape(raw), False


def _json_value(text: str, key: str, path: str, line: int | None) -> object:
    """A ``_JSON ...`` value as ASE decodes it: an array where the JSON is a regular
    nest of numbers or booleans, else the decoded lists and dicts."""
    try:
        decoded = json.loads(text[6:])
    except (ValueError, RecursionError) as err:
        raise DataFormatError(f"value of {shorten(key)!r} starts with '_JSON ' but is not JSON "
                              f"({shorten(err, 40)})", path=path, line=line) from None
    try:
        arr = np.array(decoded)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return decoded              # ragged lists: kept as lists
    return arr if arr.dtype.kind in "ifb" else decoded


def _typed(raw: str, key: str = "?", path: str = "?", line: int | None = None) -> object:
    text, quoted = _unquote(raw)
    if text.startswith("_JSON "):
        return _json_value(text, key, path, line)
    tokens = split_fields(text)
    if not tokens:
        return text
    # strict ASCII numbers (Python's int/float would also read "١٢" or "1_0")
    values: list | None = None
    if all(_INTEGER.fullmatch(t) for t in tokens):
        values = [int(t) for t in tokens]
    elif all(is_number(t) for t in tokens):
        values = [float(t) for t in tokens]
    if values is not None:
        if len(values) == 1 and not (quoted and len(tokens) > 1):
            return values[0]
        return np.array(values)
    if all(t in ("T", "F", "True", "False", "true", "false") for t in tokens):
        values = [t in ("T", "True", "true") for t in tokens]
        return values[0] if len(values) == 1 else np.array(values)
    return text


def _parse_properties(spec: str, path: str, line: int) -> list[tuple[str, str, int]]:
    parts = spec.split(":")
    if len(parts) % 3 != 0:
        raise DataFormatError(f"Properties={shorten(spec)!r} is not a list of name:type:count "
                              "triples", path=path, line=line)
    columns = []
    for k in range(0, len(parts), 3):
        name, kind, count = parts[k], parts[k + 1].upper(), parts[k + 2]
        if kind not in ("S", "R", "I", "L") or not re.fullmatch(r"[0-9]{1,6}", count) or int(count) < 1:
            raise DataFormatError(f"Properties entry {shorten(':'.join(parts[k:k + 3]))} has an "
                                  "unknown type or count; expected S, R, I or L and a positive count",
                                  path=path, line=line)
        if not _PROPERTY_NAME.fullmatch(name):
            raise DataFormatError(f"Properties column name {shorten(name)!r} is not a name "
                                  "(letters, digits, _ - .)", path=path, line=line)
        if any(name == c[0] for c in columns):
            raise DataFormatError(f"Properties names column {shorten(name)!r} twice; expected each "
                                  "column once", path=path, line=line)
        if name in _ATOMS_ARRAYS:
            raise DataFormatError(f"Properties column {name!r} would replace the atoms' own "
                                  f"{name}; use species/Z and pos", path=path, line=line)
        columns.append((name, kind, int(count)))
    aliases = [c[0] for c in columns if c[0] in _PER_ATOM_LABELS]
    for target in set(_PER_ATOM_LABELS.values()):
        named = [a for a in aliases if _PER_ATOM_LABELS[a] == target]
        if len(named) > 1:
            raise DataFormatError(f"Properties has both {named[0]!r} and {named[1]!r} columns, "
                                  f"which both mean {target}; expected one", path=path, line=line)
    return columns


def iter_extxyz(path: str | os.PathLike) -> Iterator[Frame]:
    """Yield the frames of an extended XYZ file."""
    with open_text(path, "an extended XYZ file") as handle:
        yield from _frames(handle, os.fspath(path))


def _frames(handle, name: str) -> Iterator[Frame]:
    lineno = 0
    frame_index = 0
    while True:
        header = handle.readline()
        lineno += 1
        if not header:
            return
        if header.strip() == "":
            continue
        fields = split_fields(header)
        if len(fields) != 1 or not _INTEGER.fullmatch(fields[0]) or int(fields[0]) < 1:
            raise DataFormatError(f"expected the atom count (a positive integer) of frame "
                                  f"{frame_index}, found {shorten(header.strip(), 40)!r}", path=name,
                                  line=lineno)
        n_atoms = int(fields[0])
        comment = handle.readline()
        lineno += 1
        if not comment:
            raise DataFormatError(f"frame {frame_index} ends before its comment line",
                                  path=name, line=lineno)
        comment_line = lineno
        texts = []
        for _ in range(n_atoms):
            text = handle.readline()
            lineno += 1
            if not text:
                raise DataFormatError(f"frame {frame_index} declares {n_atoms} atoms but the "
                                      f"file ends after {len(texts)}", path=name, line=lineno)
            texts.append(text)
        rows = split_lines(texts)
        try:
            yield _build_frame(comment, rows, name, comment_line, frame_index)
        except (ValueError, TypeError, OverflowError) as err:
            if isinstance(err, DataFormatError):
                raise
            # last line of defence: anything unforeseen in a frame is still a one-line data error
            raise DataFormatError(f"unreadable frame {frame_index}: {err}", path=name,
                                  line=comment_line) from None
        frame_index += 1


def read_extxyz(path: str | os.PathLike) -> list[Frame]:
    """Read all frames of an extended XYZ file."""
    return list(iter_extxyz(path))


def _build_frame(comment: str, rows: list[list[str]], path: str, line: int, index: int) -> Frame:
    try:
        kv = parse_key_values(comment, path, line)
    except _AmbiguousComment:
        raise
    except DataFormatError:
        if re.search(r"\b(Properties|Lattice|pbc|energy|stress|virial|config_type|group|weight|"
                     r"total_charge)\s*=", comment, re.IGNORECASE):
            raise  # meant as extended XYZ: report the broken key=value pairs
        # a plain XYZ file: free text on the comment line (ASE reads it the same way)
        kv = {"comment": comment.strip()} if comment.strip() else {}
    lower = {k.lower(): k for k in kv}

    def take(key: str):
        k = lower.get(key)
        return kv.pop(k) if k is not None else None

    spec = take("properties")
    spec = "species:S:1:pos:R:3" if spec is None else spec
    arrays = _columns(_parse_properties(str(spec), path, line), rows, path, line, index)
    symbols, positions = _species_and_positions(arrays, path, line, index)
    lattice = take("lattice")
    pbc_value = take("pbc")
    if lattice is not None:
        cell = _numbers(lattice, "Lattice", (9,), path, line).reshape(3, 3)
    else:
        cell = np.zeros((3, 3))
    if pbc_value is None:
        pbc = np.array([lattice is not None] * 3)
    else:
        pbc = np.atleast_1d(np.asarray(pbc_value))
        if pbc.dtype != bool or pbc.shape != (3,):
            raise DataFormatError(f"pbc must be three of T/F, found {shorten(pbc_value)!r}", path=path,
                                  line=line)
    atoms = Atoms(symbols=symbols, positions=positions, cell=cell, pbc=pbc)

    labels = _take_labels(arrays)
    for col_name, value in arrays.items():
        atoms.arrays[col_name] = value

    energy = take("energy")
    stress = take("stress")
    virial = take("virial")
    if stress is not None and virial is not None:
        raise DataFormatError("both stress and virial are given; expected one of them",
                              path=path, line=line)
    if virial is not None:
        vir = _numbers(virial, "virial", (9,), path, line).reshape(3, 3)
        if not atoms.pbc.all() or abs(atoms.get_volume()) < 1e-12:
            raise DataFormatError("virial given for a structure without a periodic cell",
                                  path=path, line=line)
        stress = -vir / atoms.get_volume()
    if stress is not None:
        stress = _numbers(stress, "stress", (6, 9), path, line)
        if stress.shape == (9,):
            stress = stress.reshape(3, 3)
    config_type = take("config_type")
    group = take("group")
    weight = take("weight")
    total_charge = take("total_charge")
    try:
        frame = Frame(
            atoms,
            energy=_scalar(energy, "energy", path, line),
            stress=stress,
            total_charge=_scalar(total_charge, "total_charge", path, line),
            config_type=None if config_type is None else str(config_type),
            group=None if group is None else str(group),
            weight=1.0 if weight is None else _scalar(weight, "weight", path, line),
            info=kv,
            **labels,
        )
        check_frame(frame)
    except DataFormatError as err:
        raise DataFormatError(err.reason, path=path, line=line, frame=index) from None
    return frame


#: the real columns that must be finite: positions and the per-atom labels
_FINITE_COLUMNS = frozenset({"pos", *_PER_ATOM_LABELS})
def _take_labels(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-atom label columns, taken out of ``arrays`` (the rest are extra arrays)."""
    labels = {}
    for col_name in list(arrays):
        target = _PER_ATOM_LABELS.get(col_name)
        if col_name == "charge" and (arrays[col_name].dtype.kind != "f" or arrays[col_name].ndim != 1):
            target = None           # another code's "charge" column that is not ASE's charges
        if target is not None:      # _parse_properties refused two columns for one label
            labels[target] = arrays.pop(col_name)
    return labels


_EXPECTED_KINDS = {"species": ("S", 1), "Z": ("I", 1), "pos": ("R", 3), "forces": ("R", 3),
                   "charges": ("R", 1), "energies": ("R", 1)}


def _columns(columns: list[tuple[str, str, int]], rows: list[list[str]], path: str, line: int,
             index: int) -> dict[str, np.ndarray]:
    """The atom lines as typed arrays, one per Properties column (name -> (n,) or (n, count))."""
    for col_name, kind, count in columns:
        want = _EXPECTED_KINDS.get(col_name)
        if want is not None and (kind, count) != want:
            raise DataFormatError(f"Properties column {shorten(col_name)!r} is {kind}:{count}, expected "
                                  f"{want[0]}:{want[1]}", path=path, line=line, frame=index)
    width = sum(c for _, _, c in columns)
    for k, row in enumerate(rows):
        if len(row) != width:
            raise DataFormatError(f"atom line has {len(row)} columns; Properties declares {width}",
                                  path=path, line=line + 1 + k)
    table = np.array(rows, dtype=object).reshape(len(rows), width) if rows else np.zeros((0, width), object)
    arrays: dict[str, np.ndarray] = {}
    col = 0
    for name, kind, count in columns:
        block = table[:, col:col + count]
        col += count
        value = _typed_column(block, name, kind, path, line, index, name in _FINITE_COLUMNS)
        arrays[name] = value[:, 0] if count == 1 else value
    return arrays


_KIND_WORDS = {"R": "a real number", "I": "an integer", "L": "T or F"}


def _token_ok(token: str, kind: str) -> bool:
    if kind == "R":
        return is_number(token)
    if kind == "I":
        return _INTEGER.fullmatch(token) is not None and -2**63 <= int(token) < 2**63
    return token in ("T", "F", "True", "False")


def _typed_column(block: np.ndarray, name: str, kind: str, path: str, line: int,
                  index: int, finite: bool = True) -> np.ndarray:
    """One Properties column (atoms × count strings) as typed values; a token of the wrong
    type, or a non-finite real where ``finite`` (positions, labels), is an error naming the
    atom's line. Other real columns are kept as written, NaN included (as ASE keeps them)."""
    if kind == "S":
        return block.astype(str)
    value = None
    if kind == "L":
        if np.isin(block, ["T", "F", "True", "False"]).all():
            value = np.isin(block, ["T", "True"])
    elif number_characters_only("".join(block.ravel().tolist())):
        try:                        # float/int accept exactly the strict syntax here
            value = block.astype(np.float64 if kind == "R" else np.int64)
        except (ValueError, OverflowError):
            value = None
    if value is None:
        for (row, _), token in np.ndenumerate(block):
            if not _token_ok(token, kind):
                raise DataFormatError(f"column {shorten(name)!r} of atom {row}: expected "
                                      f"{_KIND_WORDS[kind]}, found {shorten(token)!r}", path=path,
                                      line=line + 1 + row, frame=index)
        raise DataFormatError(f"column {shorten(name)!r}: unreadable values", path=path, line=line,
                              frame=index)
    if kind == "R" and finite and not np.all(np.isfinite(value)):
        row = int(np.argwhere(~np.isfinite(value))[0, 0])
        raise DataFormatError(f"column {shorten(name)!r} of atom {row} holds a non-finite number",
                              path=path, line=line + 1 + row, frame=index)
    return value


def _species_and_positions(arrays: dict[str, np.ndarray], path: str, line: int,
                           index: int) -> tuple[list[str], np.ndarray]:
    """Element symbols (from ``species`` or ``Z``) and positions, taken out of ``arrays``."""
    if "species" in arrays:
        symbols = [str(s) for s in arrays.pop("species")]
        for k, s in enumerate(symbols):
            if not is_element(s):
                raise DataFormatError(f"unknown element {shorten(s)!r}", path=path, line=line + 1 + k,
                                      frame=index)
        if "Z" in arrays:           # both given (ASE allows it): they must agree
            z = arrays.pop("Z")
            for k, (s, number) in enumerate(zip(symbols, z.tolist())):
                if not 0 < number < len(chemical_symbols) or chemical_symbols[number] != s:
                    raise DataFormatError(f"atom {k}: species {s} but Z {int(number)}; expected "
                                          "them to agree", path=path, line=line + 1 + k, frame=index)
    elif "Z" in arrays:
        z = arrays.pop("Z")
        if np.any((z < 1) | (z >= len(chemical_symbols))):
            raise DataFormatError("column 'Z' holds an invalid atomic number", path=path, line=line)
        symbols = [chemical_symbols[int(v)] for v in z]
    else:
        raise DataFormatError("Properties has no 'species' (or 'Z') column", path=path, line=line)
    if "pos" not in arrays:
        raise DataFormatError("Properties has no 'pos' column", path=path, line=line)
    positions = arrays.pop("pos")
    if positions.ndim != 2 or positions.shape[1] != 3 or not np.all(np.isfinite(positions)):
        raise DataFormatError("'pos' must be 3 finite reals per atom", path=path, line=line)
    return symbols, positions


def _scalar(value, key: str, path: str, line: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.ndarray, str)) or not np.isfinite(float(value)):
        raise DataFormatError(f"{key} must be one finite number, found {shorten(value)!r}", path=path,
                              line=line)
    return float(value)


def _numbers(value, key: str, sizes: tuple[int, ...], path: str, line: int) -> np.ndarray:
    """A flat array of finite numbers with one of the allowed sizes, or a DataFormatError."""
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (ValueError, TypeError):
        raise DataFormatError(f"{key} must hold numbers, found {shorten(value)!r}", path=path,
                              line=line) from None
    if arr.size not in sizes:
        raise DataFormatError(f"{key} must hold {' or '.join(map(str, sizes))} numbers, found {arr.size}",
                              path=path, line=line)
    if not np.all(np.isfinite(arr)):
        raise DataFormatError(f"{key} holds a non-finite number", path=path, line=line)
    return arr


def _fmt(x) -> str:
    return repr(float(x))


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write a value of type {type(value).__name__} to extended XYZ")


def _format_value(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "T" if value else "F"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _fmt(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray(value)
        except ValueError:          # ragged lists: JSON below
            arr = np.zeros((0, 0))
        if arr.ndim == 1 and arr.size and arr.dtype == bool:
            return '"' + " ".join("T" if v else "F" for v in arr.ravel()) + '"'
        if arr.ndim == 1 and arr.size and arr.dtype.kind in "iu":
            return '"' + " ".join(str(int(v)) for v in arr.ravel()) + '"'
        if arr.ndim == 1 and arr.size and arr.dtype.kind == "f":
            return '"' + " ".join(_fmt(v) for v in arr.ravel()) + '"'
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        # matrices, lists of text, dicts: JSON, as ASE writes and reads them
        try:
            value = "_JSON " + json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as err:
            raise DataFormatError(f"cannot write {shorten(err)} to extended XYZ") from None
    if not isinstance(value, str):
        raise DataFormatError(f"cannot write a value of type {type(value).__name__} to extended XYZ")
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{text}"'


def format_frame(frame: Frame) -> str:
    """One frame as extended XYZ text (ends with a newline)."""
    atoms = frame.atoms
    n = len(atoms)
    parts = []
    cell = np.asarray(atoms.cell)
    if atoms.pbc.any() or np.any(cell != 0.0):
        parts.append('Lattice="' + " ".join(_fmt(v) for v in cell.ravel()) + '"')
    columns: list[tuple[str, str, int, np.ndarray]] = [
        ("species", "S", 1, np.array(atoms.get_chemical_symbols(), dtype=object)[:, None]),
        ("pos", "R", 3, atoms.positions),
    ]
    if frame.forces is not None:
        columns.append(("forces", "R", 3, frame.forces))
    if frame.charges is not None:
        columns.append(("charges", "R", 1, frame.charges[:, None]))
    if frame.atomic_energies is not None:
        columns.append(("energies", "R", 1, frame.atomic_energies[:, None]))
    for name, value in atoms.arrays.items():
        if name in ("numbers", "positions"):
            continue
        arr = np.asarray(value)
        kind = {"f": "R", "i": "I", "u": "I", "b": "L"}.get(arr.dtype.kind, "S")
        arr2 = arr.reshape(n, -1)
        columns.append((name, kind, arr2.shape[1], arr2))
    parts.append("Properties=" + ":".join(f"{c[0]}:{c[1]}:{c[2]}" for c in columns))
    if frame.energy is not None:
        parts.append(f"energy={_fmt(frame.energy)}")
    if frame.stress is not None:
        s = frame.stress
        full = [s[0], s[5], s[4], s[5], s[1], s[3], s[4], s[3], s[2]]
        parts.append('stress="' + " ".join(_fmt(v) for v in full) + '"')
    if frame.total_charge is not None:
        parts.append(f"total_charge={_fmt(frame.total_charge)}")
    if frame.config_type is not None:
        parts.append(f"config_type={_format_value(str(frame.config_type))}")
    if frame.group is not None:
        parts.append(f"group={_format_value(str(frame.group))}")
    if frame.weight != 1.0:
        parts.append(f"weight={_fmt(frame.weight)}")
    for key, value in frame.info.items():
        if key.lower() in _RESERVED or not re.fullmatch(_KEY, key):
            raise DataFormatError(f"info key {shorten(key)!r} cannot be written to extended XYZ")
        parts.append(f"{key}={_format_value(value)}")
    parts.append('pbc="' + " ".join("T" if p else "F" for p in atoms.pbc) + '"')

    lines = [str(n), " ".join(parts)]
    texts = []
    for _, kind, _, arr in columns:
        if kind == "R":
            texts.append([" ".join(map(repr, row)) for row in np.asarray(arr, dtype=float).tolist()])
        elif kind == "L":
            texts.append([" ".join("T" if v else "F" for v in row) for row in arr.tolist()])
        else:
            texts.append([" ".join(map(str, row)) for row in arr.tolist()])
    lines.extend(" ".join(cells) for cells in zip(*texts))
    return "\n".join(lines) + "\n"


def write_extxyz(path: str | os.PathLike, frames: Iterable[Frame]) -> None:
    """Write frames to an extended XYZ file atomically (exact float round trip)."""
    with located(os.fspath(path)):
        with atomic_write(path) as out:
            for index, frame in enumerate(frames):
                check_frame(frame, index=index)   # never write what the reader would refuse
                out.write(format_frame(frame))
