"""Number formatting and parsing shared by the LAMMPS file readers and writers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from ...core import text as core_text
from ...core.elements import is_element
from ...core.errors import ConfigError, ModelFormatError

__all__ = ["fmt", "values_block", "strip_comment", "parse_float", "parse_int", "is_plain_number", "Lines",
           "check_name", "parse_species", "resolve_species", "variant_symbol", "range_problem", "check_range"]


def fmt(x: float) -> str:
    """Shortest text that reads back as the same double."""
    return repr(float(x))


def values_block(values: np.ndarray, per_line: int = 5) -> str:
    """``%.16e`` values, ``per_line`` to a line, the block ending with a newline."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ModelFormatError("a table holds NaN or inf values; LAMMPS cannot use it")
    text = [" ".join(f"{x:.16e}" for x in v[k:k + per_line]) for k in range(0, len(v), per_line)]
    return "\n".join(text) + "\n"


def strip_comment(line: str) -> str:
    k = line.find("#")
    return line if k < 0 else line[:k]


def parse_float(token: str, path: str, line: int, what: str) -> float:
    """A finite number in strict ASCII syntax (:func:`potforge.core.text.parse_float`)."""
    return core_text.parse_float(token, what, error=ModelFormatError, path=path, line=line)


def parse_int(token: str, path: str, line: int, what: str) -> int:
    return core_text.parse_int(token, what, error=ModelFormatError, path=path, line=line)


def range_problem(what: str, value: float, lo: float, hi: float, unit: str = "") -> str | None:
    """The one-line complaint about ``value`` outside ``[lo, hi]``, or None if inside."""
    if lo <= value <= hi:
        return None
    return f"{what} = {value:.6g} is outside the accepted range [{lo:g}, {hi:g}]{unit and ' ' + unit}"


def check_range(what: str, value: float, lo: float, hi: float, unit: str = "", *,
                path: str | None = None, line: int | None = None) -> float:
    """``value`` if ``lo <= value <= hi``, else a ModelFormatError naming ``what`` and the range."""
    problem = range_problem(what, value, lo, hi, unit)
    if problem:
        raise ModelFormatError(problem, path=path, line=line)
    return value


def is_plain_number(token: str) -> bool:
    return core_text.is_number(token)


def check_name(name: object, what: str) -> str:
    """An element name as LAMMPS files hold it: one word without ``#``."""
    if not isinstance(name, str) or not name or any(ch.isspace() or ch == "#" for ch in name):
        raise ModelFormatError(f"{what}: bad element name {name!r} (expected one word without '#')")
    return name


class Lines:
    """A cursor over a tabulated file's lines (setfl, eam/fs, funcfl): the next non-empty
    line's words, or a block of n numbers that starts on a new line and must end at a line's
    end. LAMMPS reads blocks with ``next_dvector``, which drops any values after the block's
    end on the same line; here that is an error (a value is missing above, or a count in the
    header is wrong)."""

    def __init__(self, lines: list[str], name: str, cursor: int = 0) -> None:
        self.lines, self.name, self.cursor = lines, name, cursor

    def next_words(self, what: str) -> tuple[list[str], int]:
        while self.cursor < len(self.lines):
            words = strip_comment(self.lines[self.cursor]).split()
            self.cursor += 1
            if words:
                return words, self.cursor
        raise ModelFormatError(f"file ends before the {what}", path=self.name, line=len(self.lines))

    def block(self, n: int, what: str, limit: float = math.inf, unit: str = "") -> np.ndarray:
        """The next ``n`` values, each within ``[-limit, limit]`` (else an error naming its line)."""
        out = np.empty(n)
        k = 0
        while k < n:
            if self.cursor >= len(self.lines):
                raise ModelFormatError(f"file ends in {what} after {k} of {n} values", path=self.name,
                                       line=len(self.lines))
            tokens = strip_comment(self.lines[self.cursor]).split()
            self.cursor += 1
            if not tokens:
                continue
            if k + len(tokens) > n:
                raise ModelFormatError(f"{what} ({n} values) ends inside this line, {k + len(tokens) - n} "
                                       "value(s) left over: a value is missing above or a count in the "
                                       "header is wrong (LAMMPS starts each table on a new line and "
                                       "would silently drop them)", path=self.name, line=self.cursor)
            vals = [parse_float(t, self.name, self.cursor, what) for t in tokens]
            for j, v in enumerate(vals):
                if not -limit <= v <= limit:
                    check_range(f"value {k + j + 1} of {what}", v, -limit, limit, unit, path=self.name,
                                line=self.cursor)
            out[k:k + len(vals)] = vals
            k += len(vals)
        return out

    def check_end(self, what: str) -> None:
        """An error if anything but comments and blank lines follows."""
        for k in range(self.cursor, len(self.lines)):
            if strip_comment(self.lines[k]).split():
                raise ModelFormatError(f"values after the last {what}: the header announces fewer "
                                       "elements or points than the file holds", path=self.name, line=k + 1)


def parse_species(text: str) -> list[str] | dict[str, str]:
    """The command-line form of a species selection: names separated by commas or spaces,
    each ``NAME`` (an element of the file, kept under its own name) or ``NAME=SYMBOL`` (the
    file's element NAME read as the chemical element SYMBOL): ``'Si C'``, ``'Si(D)=Si,C'``.
    A list if no item has ``=``, else an ordered mapping file name -> symbol."""
    items = [t for t in text.replace(",", " ").split() if t]
    if not items:
        raise ConfigError(f"species: {text!r} names no element")
    if not any("=" in t for t in items):
        return items
    out: dict[str, str] = {}
    for item in items:
        name, _, symbol = item.partition("=")
        if not name or (_ and not symbol) or "=" in symbol:
            raise ConfigError(f"species: {item!r} is not NAME or NAME=SYMBOL (e.g. 'Si(D)=Si')")
        if name in out:
            raise ConfigError(f"species: {name} is given twice")
        out[name] = symbol or name
    return out


def variant_symbol(name: str) -> str:
    """The chemical symbol a LAMMPS variant name stands for (``Si(D)`` -> ``Si``), or ``name``."""
    head, sep, tail = name.partition("(")
    return head if sep and tail.endswith(")") and is_element(head) else name


def resolve_species(species, names: list[str], path: str) -> dict[str, str]:
    """File element name -> chemical symbol, in the order of the model's species (LAMMPS'
    ``pair_coeff * * file el1 el2 …``), for the element names ``names`` a file holds.

    ``species``: None (every element of the file, each named by a chemical symbol); a list of
    the file's names to use (LAMMPS' element mapping; each a chemical symbol, a variant name
    such as ``Si(D)`` read as its symbol, or ``NAME=SYMBOL``); a mapping file name -> symbol
    (``{"Si(D)": "Si"}``; the reverse,
    symbol -> file name, is understood where the key names no element of the file); or the
    command-line text of :func:`parse_species`.
    """
    if isinstance(species, str):
        species = parse_species(species)
    if species is None:
        pairs = [(n, n) for n in names]
    elif isinstance(species, Mapping):
        pairs = []
        for key, value in species.items():
            key, value = str(key), str(value)
            if key not in names and value in names and is_element(key):
                key, value = value, key       # given as symbol -> file name
            pairs.append((key, value))
    elif isinstance(species, Iterable):
        pairs = []
        for item in species:
            name, _, symbol = str(item).partition("=")
            pairs.append((name, symbol or variant_symbol(name)))
    else:
        raise ConfigError(f"species: expected a list of element names or a mapping file name -> "
                          f"symbol, got {type(species).__name__}")
    if not pairs:
        raise ConfigError("species: empty")
    have = ", ".join(names)
    for name, symbol in pairs:
        if name not in names:
            raise ModelFormatError(f"species: element {name!r} is not in the file (it has {have})",
                                   path=path)
        if not is_element(symbol):
            hint = (f"; map it to a chemical symbol, e.g. species={{{name!r}: 'Si'}} (CLI: --species "
                    f"'{name}=Si')" if symbol == name else "")
            raise ModelFormatError(f"element {symbol!r} is not a chemical symbol{hint}", path=path)
    for k, what in ((0, "file element"), (1, "chemical symbol")):
        seen = [p[k] for p in pairs]
        twice = sorted({s for s in seen if seen.count(s) > 1})
        if twice:
            raise ModelFormatError(f"species: {what} {', '.join(twice)} given twice (each element "
                                   "of the model once)", path=path)
    return dict(pairs)
