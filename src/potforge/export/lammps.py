"""LAMMPS potential files: DYNAMO setfl (``eam/alloy``), Tersoff, Stillinger–Weber and
``pair_style table`` files, read and written; :func:`export_lammps` writes a classical model
with the ``in.lammps`` lines that run it.

File formats as LAMMPS (22 Jul 2025) reads them:

- **setfl** (``pair_style eam/alloy``): three comment lines; ``N el1 el2 …``;
  ``Nrho drho Nr dr cutoff``; per element ``Z mass a0 lattice`` then Nrho values of F(ρ) and
  Nr values of ρ(r); then r·φ(r) (eV·Å) for i = 1..N, j = 1..i. LAMMPS reads each block with
  ``next_dvector``: a block starts on a new line and any values after its end *on the same
  line* are silently dropped. The reader here turns that case into an error instead.
- **tersoff** / **sw**: ``#`` starts a comment; an entry is 17 (Tersoff) or 14 (SW)
  whitespace-separated words — three element names and the values in LAMMPS order — and may
  span lines: LAMMPS joins lines until it has at least that many words and rejects the entry
  unless the count is exact. Entries whose elements are not all requested are skipped.
- **table** (``pair_style table``): sections ``KEYWORD`` / ``N n [R|RSQ lo hi] [FPRIME lo hi]`` /
  blank line / n lines ``i r e f`` with f = −dE/dr.

Numbers are written so that LAMMPS reads exactly the doubles potforge holds: table values as
``%.16e`` (17 significant digits), parameters and grid spacings as Python's shortest
round-trip repr.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from ..core.atomic import atomic_write
from ..core.errors import ConfigError, ModelFormatError
from ..core.text import read_text
from ..models.classical.base import ClassicalPotential
from ..models.classical.eam import EAM, SetflData, SetflEAM
from ..models.classical.pair import PairPotential
from ..models.classical.sw import SW_KEYS, StillingerWeber
from ..models.classical.tersoff import TERSOFF_KEYS, Tersoff

__all__ = ["read_setfl", "write_setfl", "read_tersoff", "write_tersoff", "read_sw", "write_sw",
           "TableSection", "read_table", "write_table", "export_lammps", "read_lammps_potential",
           "LAMMPS_STYLES", "style_for_path", "DEFAULT_TABLE_POINTS"]

#: styles :func:`read_lammps_potential` reads
LAMMPS_STYLES = ("eam/alloy", "tersoff", "sw")
#: file-name endings that identify a LAMMPS potential file, and their style
_SUFFIX_STYLES = ((".eam.alloy", "eam/alloy"), (".setfl", "eam/alloy"), (".tersoff", "tersoff"),
                  (".sw", "sw"))
#: default grid of pair tables (points in the file and in LAMMPS' internal table)
DEFAULT_TABLE_POINTS = 10000

Entry = tuple[str, str, str, dict[str, float]]


def _fmt(x: float) -> str:
    """Shortest text that reads back as the same double."""
    return repr(float(x))


def _values_block(values: np.ndarray, per_line: int = 5) -> str:
    """``%.16e`` values, ``per_line`` to a line, the block ending with a newline."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ModelFormatError("a table holds NaN or inf values; LAMMPS cannot use it")
    text = [" ".join(f"{x:.16e}" for x in v[k:k + per_line]) for k in range(0, len(v), per_line)]
    return "\n".join(text) + "\n"


def _strip_comment(line: str) -> str:
    k = line.find("#")
    return line if k < 0 else line[:k]


def _parse_float(token: str, path: str, line: int, what: str) -> float:
    try:
        if "_" in token:
            raise ValueError
        value = float(token)
    except ValueError:
        raise ModelFormatError(f"{what}: {token!r} is not a number", path=path, line=line) from None
    if not math.isfinite(value):
        raise ModelFormatError(f"{what}: {token!r} is not a finite number", path=path, line=line)
    return value


def _parse_int(token: str, path: str, line: int, what: str) -> int:
    try:
        if "_" in token:
            raise ValueError
        return int(token)
    except ValueError:
        raise ModelFormatError(f"{what}: {token!r} is not an integer", path=path, line=line) from None


# -- setfl -----------------------------------------------------------------------------------------
def read_setfl(path: str | os.PathLike) -> SetflData:
    """Read a DYNAMO setfl file (LAMMPS ``pair_style eam/alloy``).

    Errors (:class:`ModelFormatError`, one line with file and line number): a missing or
    malformed header, element names that are not chemical symbols, Nrho or Nr below 5,
    non-positive spacings, non-numeric or non-finite values, a block that ends early or
    shares a line with the next one (LAMMPS would drop those values), or values left over
    after the last table.
    """
    name = os.fspath(path)
    lines = read_text(path, "a setfl (eam/alloy) file", ModelFormatError).splitlines()
    if len(lines) < 5:
        raise ModelFormatError(f"has {len(lines)} lines; a setfl file starts with 3 comment lines, "
                               "'N el1 el2 ...' and 'Nrho drho Nr dr cutoff'", path=name)
    comments = [lines[k] for k in range(3)]
    cursor = 3

    def next_words(what: str) -> tuple[list[str], int]:
        nonlocal cursor
        while cursor < len(lines):
            words = _strip_comment(lines[cursor]).split()
            cursor += 1
            if words:
                return words, cursor
        raise ModelFormatError(f"file ends before the {what}", path=name, line=len(lines))

    words, ln = next_words("element line 'N el1 el2 ...'")
    n_el = _parse_int(words[0], name, ln, "number of elements")
    if n_el < 1 or len(words) != n_el + 1:
        raise ModelFormatError(f"element line {' '.join(words)!r}: expected N followed by N element "
                               f"names, found N = {words[0]} and {len(words) - 1} names", path=name, line=ln)
    elements = words[1:]
    for s in elements:
        if s not in atomic_numbers or s == "X":
            raise ModelFormatError(f"element name {s!r} is not a chemical symbol (potforge maps "
                                   "setfl elements to atoms by symbol)", path=name, line=ln)
    if len(set(elements)) != len(elements):
        raise ModelFormatError(f"element line lists an element twice: {' '.join(elements)}",
                               path=name, line=ln)
    words, ln = next_words("grid line 'Nrho drho Nr dr cutoff'")
    if len(words) != 5:
        raise ModelFormatError(f"grid line has {len(words)} values, expected 5 "
                               "(Nrho drho Nr dr cutoff)", path=name, line=ln)
    nrho = _parse_int(words[0], name, ln, "Nrho")
    drho = _parse_float(words[1], name, ln, "drho")
    nr = _parse_int(words[2], name, ln, "Nr")
    dr = _parse_float(words[3], name, ln, "dr")
    cutoff = _parse_float(words[4], name, ln, "cutoff")
    for label, n in (("Nrho", nrho), ("Nr", nr)):
        if n < 5:
            raise ModelFormatError(f"{label} = {n}: a setfl table needs at least 5 points (LAMMPS "
                                   "interpolates with 5-point differences)", path=name, line=ln)
    for label, x in (("drho", drho), ("dr", dr), ("cutoff", cutoff)):
        if not x > 0:
            raise ModelFormatError(f"{label} = {x:g}: expected a positive number", path=name, line=ln)

    def block(n: int, what: str) -> np.ndarray:
        nonlocal cursor
        out = np.empty(n)
        k = 0
        while k < n:
            if cursor >= len(lines):
                raise ModelFormatError(f"file ends in {what} after {k} of {n} values", path=name,
                                       line=len(lines))
            tokens = _strip_comment(lines[cursor]).split()
            cursor += 1
            if not tokens:
                continue
            if k + len(tokens) > n:
                raise ModelFormatError(f"{what} ({n} values) ends inside this line, {k + len(tokens) - n} "
                                       "value(s) left over: a value is missing above or Nrho/Nr is "
                                       "wrong (LAMMPS starts each table on a new line and would "
                                       "silently drop them)", path=name, line=cursor)
            try:
                if any("_" in t for t in tokens):
                    raise ValueError
                vals = [float(t) for t in tokens]
            except ValueError:
                bad = next(t for t in tokens if not _is_plain_number(t))
                raise ModelFormatError(f"{what}: {bad!r} is not a number", path=name, line=cursor) from None
            if not all(math.isfinite(v) for v in vals):
                raise ModelFormatError(f"{what}: NaN or inf value", path=name, line=cursor)
            out[k:k + len(vals)] = vals
            k += len(vals)
        return out

    info, frho, rhor = [], {}, {}
    for s in elements:
        words, ln = next_words(f"line 'Z mass a0 lattice' of {s}")
        if not 2 <= len(words) <= 4:
            raise ModelFormatError(f"line of {s} has {len(words)} words, expected 'Z mass a0 lattice' "
                                   "(at least Z and mass)", path=name, line=ln)
        z = _parse_int(words[0], name, ln, f"atomic number of {s}")
        mass = _parse_float(words[1], name, ln, f"mass of {s}")
        a0 = _parse_float(words[2], name, ln, f"lattice constant of {s}") if len(words) > 2 else 0.0
        lattice = words[3] if len(words) > 3 else ""
        info.append((z, mass, a0, lattice))
        frho[s] = block(nrho, f"F(rho) of {s}")
        rhor[s] = block(nr, f"rho(r) of {s}")
    z2r = {}
    for i, a in enumerate(elements):
        for b in elements[: i + 1]:
            z2r[(a, b)] = block(nr, f"r*phi(r) of {a}-{b}")
    for k in range(cursor, len(lines)):
        if _strip_comment(lines[k]).split():
            raise ModelFormatError("values after the last r*phi table: the header announces fewer "
                                   "elements or points than the file holds", path=name, line=k + 1)
    return SetflData(elements, info, nrho, drho, nr, dr, cutoff, frho, rhor, z2r, comments)


def _is_plain_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return "_" not in token


def write_setfl(data: SetflData, path: str | os.PathLike) -> Path:
    """Write ``data`` as a setfl file (atomically); each table starts on a new line, five
    ``%.16e`` values to a line, so LAMMPS reads exactly these doubles."""
    els = list(data.elements)
    comments = list(data.comments) + ["", "", ""]
    for k in range(3):
        if "\n" in comments[k] or "\r" in comments[k]:
            raise ModelFormatError(f"setfl comment line {k + 1} contains a line break")
    for s, arr in ((s, data.frho.get(s)) for s in els):
        if arr is None or len(arr) != data.nrho:
            raise ModelFormatError(f"F(rho) of {s}: expected {data.nrho} values")
    for s in els:
        if s not in data.rhor or len(data.rhor[s]) != data.nr:
            raise ModelFormatError(f"rho(r) of {s}: expected {data.nr} values")
    out = [c for c in comments[:3]]
    out.append(f"{len(els)} " + " ".join(els))
    out.append(f"{data.nrho} {_fmt(data.drho)} {data.nr} {_fmt(data.dr)} {_fmt(data.cutoff)}")
    text = "\n".join(out) + "\n"
    parts = [text]
    for s, (z, mass, a0, lattice) in zip(els, data.info):
        parts.append(f"{int(z)} {_fmt(mass)} {_fmt(a0)} {lattice}".rstrip() + "\n")
        parts.append(_values_block(data.frho[s]))
        parts.append(_values_block(data.rhor[s]))
    for i, a in enumerate(els):
        for b in els[: i + 1]:
            values = data.pair(a, b)
            if len(values) != data.nr:
                raise ModelFormatError(f"r*phi of {a}-{b}: expected {data.nr} values")
            parts.append(_values_block(values))
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(parts))
    return path


# -- tersoff / sw ---------------------------------------------------------------------------------
def _read_entries(path: str | os.PathLike, keys: tuple[str, ...], style: str,
                  species: Sequence[str] | Mapping[str, str] | None) -> list[Entry]:
    """Entries of a Tersoff-like file with LAMMPS' line joining; see :func:`read_tersoff`."""
    name = os.fspath(path)
    n_words = 3 + len(keys)
    lines = read_text(path, f"a LAMMPS {style} file", ModelFormatError).splitlines()
    raw: list[tuple[int, int, list[str]]] = []
    k = 0
    while k < len(lines):
        words = _strip_comment(lines[k]).split()
        first = k + 1
        k += 1
        if not words:
            continue
        while len(words) < n_words and k < len(lines):
            words += _strip_comment(lines[k]).split()
            k += 1
        if len(words) != n_words:
            span = f"line {first}" if k == first else f"lines {first}-{k}"
            raise ModelFormatError(
                f"entry on {span} has {len(words)} words; a {style} entry is {n_words} "
                f"(3 elements + {len(keys)} values: {' '.join(keys)})", path=name, line=first)
        raw.append((first, k, words))
    mapping = _species_mapping(species)
    entries: list[Entry] = []
    seen: dict[tuple[str, str, str], int] = {}
    for first, _last, words in raw:
        elems = tuple(words[:3])
        if mapping is not None and not all(e in mapping for e in elems):
            continue  # LAMMPS skips entries of elements it was not asked for
        values = {}
        for key, token in zip(keys, words[3:]):
            values[key] = _parse_float(token, name, first, f"{' '.join(elems)} {key}")
        problem = _illegal(style, values)
        if problem:
            raise ModelFormatError(f"{' '.join(elems)}: {problem} (LAMMPS rejects this entry)",
                                   path=name, line=first)
        if elems in seen:
            raise ModelFormatError(f"duplicate entry for {' '.join(elems)} (first at line "
                                   f"{seen[elems]})", path=name, line=first)
        seen[elems] = first
        if mapping is not None:
            elems = tuple(mapping[e] for e in elems)
        entries.append((elems[0], elems[1], elems[2], values))
    if mapping is not None:
        have = {e[:3] for e in entries}
        targets = list(mapping.values())
        missing = [f"{a} {b} {c}" for a in targets for b in targets for c in targets
                   if (a, b, c) not in have]
        if missing:
            back = {v: k for k, v in mapping.items()}
            named = [" ".join(back[x] for x in m.split()) for m in missing]
            raise ModelFormatError(f"no entry for the element triplet(s) {', '.join(named[:6])}"
                                   f"{' …' if len(named) > 6 else ''}; {style} needs one for every "
                                   f"ordered triplet of {', '.join(mapping)}", path=name)
        order = {(a, b, c): n for n, (a, b, c) in enumerate(
            (a, b, c) for a in targets for b in targets for c in targets)}
        entries.sort(key=lambda e: order[e[:3]])
    return entries


def _species_mapping(species: Sequence[str] | Mapping[str, str] | None) -> dict[str, str] | None:
    """File element name -> potforge element; ``species`` is a list of file names that are
    chemical symbols, or a mapping potforge symbol -> name in the file (``{"Si": "Si(D)"}``)."""
    if species is None:
        return None
    if isinstance(species, str):
        raise ConfigError(f"species: expected a list of element symbols, got the string {species!r}")
    if isinstance(species, Mapping):
        mapping = {str(v): str(k) for k, v in species.items()}
    else:
        mapping = {str(s): str(s) for s in species}
    if not mapping:
        raise ConfigError("species: empty")
    return mapping


def _illegal(style: str, v: Mapping[str, float]) -> str | None:
    """LAMMPS' parameter checks (pair_tersoff.cpp, pair_sw.cpp read_file)."""
    if style == "tersoff":
        if v["m"] not in (1.0, 3.0):
            return f"m = {v['m']:g}; LAMMPS allows only m = 1 or 3"
        for key in ("c", "d", "n", "beta", "lambda2", "B", "R", "D", "lambda1", "A", "gamma"):
            if v[key] < 0:
                return f"{key} = {v[key]:g} is negative"
        if v["D"] > v["R"]:
            return f"D = {v['D']:g} > R = {v['R']:g}"
    else:
        for key in ("epsilon", "sigma", "a", "lambda", "gamma", "A", "B", "p", "q", "tol"):
            if v[key] < 0:
                return f"{key} = {v[key]:g} is negative"
    return None


def _write_entries(entries: Iterable[tuple[str, str, str, Mapping[str, float]]], path: str | os.PathLike,
                   keys: tuple[str, ...], style: str, header: list[str]) -> Path:
    rows = []
    for entry in entries:
        if len(entry) != 4:
            raise ModelFormatError(f"{style} entry {entry!r}: expected (element1, element2, element3, "
                                   "{key: value})")
        a, b, c, values = entry
        unknown = sorted(set(values) - set(keys))
        if unknown:
            raise ModelFormatError(f"{style} entry {a} {b} {c}: unknown key(s) {', '.join(unknown)}; "
                                   f"expected {' '.join(keys)}")
        missing = [k for k in keys if k not in values]
        if missing:
            raise ModelFormatError(f"{style} entry {a} {b} {c}: missing {', '.join(missing)}")
        vals = {k: float(values[k]) for k in keys}
        bad = [k for k, x in vals.items() if not math.isfinite(x)]
        if bad:
            raise ModelFormatError(f"{style} entry {a} {b} {c}: {', '.join(bad)} not finite")
        problem = _illegal(style, vals)
        if problem:
            raise ModelFormatError(f"{style} entry {a} {b} {c}: {problem} (LAMMPS would reject it)")
        for e in (a, b, c):
            if not e or any(ch.isspace() or ch == "#" for ch in e):
                raise ModelFormatError(f"{style} entry: bad element name {e!r}")
        rows.append(f"{a} {b} {c} " + " ".join(_fmt(vals[k]) for k in keys))
    if not rows:
        raise ModelFormatError(f"no {style} entries to write")
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(f"# {h}\n".replace("# \n", "#\n") for h in header))
        handle.write(f"# element1 element2 element3 {' '.join(keys)}\n")
        handle.write("\n".join(rows) + "\n")
    return path


def read_tersoff(path: str | os.PathLike, species: Sequence[str] | Mapping[str, str] | None = None
                 ) -> list[Entry]:
    """Entries ``(e1, e2, e3, {key: value})`` of a LAMMPS Tersoff file, keys as TERSOFF_KEYS.

    With ``species`` (file element names, or a mapping potforge symbol -> file name such as
    ``{"Si": "Si(D)"}``) only the entries of those elements are kept, every ordered triplet
    must be present, and the entries come in potforge's triplet order with potforge symbols.
    Errors name the file and line: an entry with another number of words than 17, a
    non-numeric value, m other than 1 or 3 or another value LAMMPS rejects, a duplicate entry,
    a missing triplet.
    """
    return _read_entries(path, TERSOFF_KEYS, "tersoff", species)


def write_tersoff(entries: Iterable[tuple[str, str, str, Mapping[str, float]]], path: str | os.PathLike,
                  *, comment: str = "Tersoff potential (LAMMPS pair_style tersoff), written by potforge"
                  ) -> Path:
    """Write Tersoff entries, one line each (atomically); values as exact shortest reprs."""
    return _write_entries(entries, path, TERSOFF_KEYS, "tersoff", [
        comment, "units metal: A, B eV; lambda1, lambda2, lambda3 1/Angstrom; R, D Angstrom; "
                 "others unitless"])


def read_sw(path: str | os.PathLike, species: Sequence[str] | Mapping[str, str] | None = None
            ) -> list[Entry]:
    """Entries of a LAMMPS Stillinger–Weber file (14 words each, keys SW_KEYS); as
    :func:`read_tersoff`."""
    return _read_entries(path, SW_KEYS, "sw", species)


def write_sw(entries: Iterable[tuple[str, str, str, Mapping[str, float]]], path: str | os.PathLike,
             *, comment: str = "Stillinger-Weber potential (LAMMPS pair_style sw), written by potforge"
             ) -> Path:
    """Write Stillinger–Weber entries, one line each (atomically)."""
    return _write_entries(entries, path, SW_KEYS, "sw", [
        comment, "units metal: epsilon eV; sigma Angstrom; others unitless"])


# -- pair_style table -----------------------------------------------------------------------------
class TableSection(NamedTuple):
    """One section of a ``pair_style table`` file: r (Å), E (eV), f = −dE/dr (eV/Å) on the same
    points, and optionally ``fp`` = (f′ at the first point, f′ at the last point) in eV/Å², which
    LAMMPS then uses as the end slopes of its force spline instead of one-sided differences."""

    r: np.ndarray
    e: np.ndarray
    f: np.ndarray
    fp: tuple[float, float] | None = None


def write_table(path: str | os.PathLike, sections: Mapping[str, Sequence], *,
                comment: str = "pair_style table file written by potforge") -> Path:
    """Write a LAMMPS table file; ``sections`` maps keyword -> (r, e, f) or (r, e, f, fp) or a
    :class:`TableSection`. The r column is written explicitly (no ``R``/``RSQ`` keyword), so
    LAMMPS uses exactly these points."""
    parts = [f"# {comment}\n", "# units metal: r Angstrom, e eV, f = -de/dr eV/Angstrom\n"]
    for keyword, section in sections.items():
        if not keyword or any(ch.isspace() for ch in keyword) or keyword.startswith("#"):
            raise ModelFormatError(f"table keyword {keyword!r}: must be one word not starting with #")
        sec = TableSection(*section)
        r, e, f = (np.asarray(x, dtype=np.float64) for x in (sec.r, sec.e, sec.f))
        if not (r.ndim == e.ndim == f.ndim == 1 and len(r) == len(e) == len(f) >= 2):
            raise ModelFormatError(f"table {keyword}: r, e, f must be 1-d of equal length >= 2")
        if not np.all(np.diff(r) > 0) or r[0] <= 0:
            raise ModelFormatError(f"table {keyword}: r must be positive and increasing")
        if not (np.all(np.isfinite(e)) and np.all(np.isfinite(f))):
            raise ModelFormatError(f"table {keyword}: NaN or inf values")
        params = f"N {len(r)}"
        if sec.fp is not None:
            lo, hi = (float(x) for x in sec.fp)
            params += f" FPRIME {lo:.16e} {hi:.16e}"
        parts.append(f"\n{keyword}\n{params}\n\n")
        parts.append("".join(f"{k + 1} {r[k]:.16e} {e[k]:.16e} {f[k]:.16e}\n" for k in range(len(r))))
    if len(parts) == 2:
        raise ModelFormatError("no table sections to write")
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(parts))
    return path


def read_table(path: str | os.PathLike) -> dict[str, TableSection]:
    """All sections of a ``pair_style table`` file (keyword -> :class:`TableSection`). With
    ``R``/``RSQ lo hi`` the points are recomputed from lo and hi as LAMMPS does (the r column is
    then ignored); ``BITMAP`` tables are not supported."""
    name = os.fspath(path)
    lines = read_text(path, "a LAMMPS table file", ModelFormatError).splitlines()
    out: dict[str, TableSection] = {}
    k = 0
    while k < len(lines):
        words = lines[k].split()
        k += 1
        if not words or words[0].startswith("#"):
            continue
        keyword, kw_line = words[0], k
        if keyword in out:
            raise ModelFormatError(f"table keyword {keyword} appears twice", path=name, line=kw_line)
        if k >= len(lines):
            raise ModelFormatError(f"section {keyword}: file ends before its 'N ...' line", path=name,
                                   line=kw_line)
        params = lines[k].split()
        p_line = k + 1
        k += 1
        n, rflag, fp = None, None, None
        j = 0
        while j < len(params):
            word = params[j]
            try:
                if word == "N":
                    n = _parse_int(params[j + 1], name, p_line, "N")
                    j += 2
                elif word in ("R", "RSQ"):
                    rflag = (word, _parse_float(params[j + 1], name, p_line, f"{word} lo"),
                             _parse_float(params[j + 2], name, p_line, f"{word} hi"))
                    j += 3
                elif word == "FPRIME":
                    fp = (_parse_float(params[j + 1], name, p_line, "FPRIME lo"),
                          _parse_float(params[j + 2], name, p_line, "FPRIME hi"))
                    j += 3
                elif word == "BITMAP":
                    raise ModelFormatError(f"section {keyword}: BITMAP tables are not supported",
                                           path=name, line=p_line)
                else:
                    raise ModelFormatError(f"section {keyword}: unknown table parameter {word!r} "
                                           "(expected N, R, RSQ, FPRIME)", path=name, line=p_line)
            except IndexError:
                raise ModelFormatError(f"section {keyword}: {word} needs more values", path=name,
                                       line=p_line) from None
        if n is None or n < 2:
            raise ModelFormatError(f"section {keyword}: 'N n' with n >= 2 missing", path=name, line=p_line)
        # LAMMPS skips exactly one line (blank) after the parameters
        if k < len(lines) and lines[k].split():
            raise ModelFormatError(f"section {keyword}: expected a blank line after the parameters",
                                   path=name, line=k + 1)
        k += 1
        rows = np.empty((n, 3))
        for i in range(n):
            while k < len(lines) and not lines[k].split():
                k += 1
            if k >= len(lines):
                raise ModelFormatError(f"section {keyword}: file ends after {i} of {n} rows", path=name,
                                       line=len(lines))
            cols = lines[k].split()
            k += 1
            if len(cols) != 4:
                raise ModelFormatError(f"section {keyword}: row has {len(cols)} values, expected 4 "
                                       "(index r e f)", path=name, line=k)
            _parse_int(cols[0], name, k, f"section {keyword} index")
            rows[i] = [_parse_float(c, name, k, f"section {keyword}") for c in cols[1:]]
        r = rows[:, 0]
        if rflag is not None:
            kind, lo, hi = rflag
            i = np.arange(n)
            if kind == "R":
                r = lo + (hi - lo) * i / (n - 1)
            else:
                r = np.sqrt(lo * lo + (hi * hi - lo * lo) * i / (n - 1))
        out[keyword] = TableSection(r, rows[:, 1].copy(), rows[:, 2].copy(), fp)
    if not out:
        raise ModelFormatError("no table sections found", path=name)
    return out


# -- reading a potential --------------------------------------------------------------------------
def style_for_path(path: str | os.PathLike) -> str | None:
    """The LAMMPS style a file name suggests (``.eam.alloy``/``.setfl``, ``.tersoff``, ``.sw``)."""
    low = os.fspath(path).lower()
    return next((style for suffix, style in _SUFFIX_STYLES if low.endswith(suffix)), None)


def read_lammps_potential(path: str | os.PathLike, style: str,
                          species: Sequence[str] | Mapping[str, str] | None = None) -> ClassicalPotential:
    """A potforge model from a LAMMPS potential file.

    ``style``: ``eam/alloy`` (-> :class:`SetflEAM`, all elements of the file; ``species``, if
    given, must be among them), ``tersoff`` or ``sw`` (-> :class:`Tersoff` /
    :class:`StillingerWeber` of ``species``: element names in the file, or a mapping potforge
    symbol -> file name; default: all elements of the file in order of appearance).
    """
    if style not in LAMMPS_STYLES:
        raise ConfigError(f"style {style!r}: potforge reads LAMMPS styles {', '.join(LAMMPS_STYLES)}")
    name = os.fspath(path)
    if style == "eam/alloy":
        data = read_setfl(path)
        if species is not None:
            wanted = list(species.values()) if isinstance(species, Mapping) else list(species)
            missing = [s for s in wanted if s not in data.elements]
            if missing:
                raise ModelFormatError(f"element(s) {', '.join(missing)} not in the file; it has "
                                       f"{', '.join(data.elements)}", path=name)
        return SetflEAM(data, metadata={"source": name, "lammps_style": style})
    reader, cls = (read_tersoff, Tersoff) if style == "tersoff" else (read_sw, StillingerWeber)
    if species is None:
        order: list[str] = []
        for a, b, c, _ in reader(path):
            for e in (a, b, c):
                if e not in order:
                    order.append(e)
        species = order
    mapping = _species_mapping(species) or {}
    for s in mapping.values():
        if s not in atomic_numbers or s == "X":
            raise ModelFormatError(f"element {s!r} is not a chemical symbol; give species as a mapping "
                                   f"symbol -> name in the file, e.g. {{'Si': {s!r}}}", path=name)
    entries = reader(path, species)
    try:
        return cls.from_entries(list(mapping.values()), entries,
                                metadata={"source": name, "lammps_style": style})
    except ConfigError as err:
        raise ModelFormatError(err.reason, path=name) from None


# -- export ---------------------------------------------------------------------------------------
def _pair_tables(model: PairPotential, n: int, r_inner: Mapping[str, float]) -> dict[str, TableSection]:
    if n < 100:
        raise ConfigError(f"n_table: expected >= 100 points, got {n}")
    out = {}
    for name in model.type_names:
        lo = float(r_inner[name])
        if not 0 < lo < model.cutoff:
            raise ConfigError(f"r_inner of {name}: expected 0 < r_inner < cutoff ({model.cutoff} Å), "
                              f"got {lo}")
        r = np.linspace(lo, model.cutoff, n)
        e, f = model.tabulate(name, r)
        # end slopes f' for LAMMPS' force spline (FPRIME), central differences of the exact f
        h = 1e-5 * (model.cutoff - lo)
        _, fe = model.tabulate(name, np.array([r[0] - h, r[0] + h, r[-1] - h, r[-1] + h]))
        out[name] = TableSection(r, e, f, ((fe[1] - fe[0]) / (2 * h), (fe[3] - fe[2]) / (2 * h)))
    return out


def default_r_inner(model: PairPotential, *, e_max: float = 100.0) -> dict[str, float]:
    """Inner end of each pair table (element pair -> Å): the largest r below the pair's energy
    minimum at which φ(r) reaches ``e_max`` eV (far above what MD samples); the model's overlap
    distance ``min_distance`` if φ stays below that (soft or linearly continued forms). LAMMPS
    stops with "Pair distance < table inner cutoff" if two atoms come closer."""
    lo = max(float(model.min_distance), 1e-3)
    r = np.linspace(lo, model.cutoff, 20000)
    out = {}
    for name in model.type_names:
        e, _ = model.tabulate(name, r)
        # the bonding well: the lowest point outside any collapse towards r -> 0 (Buckingham's
        # −C/r⁶ wins at short range; its barrier maximum then bounds the well from inside)
        k_min = int(np.argmin(e))
        if k_min == 0:
            interior = np.flatnonzero((e[1:-1] < e[:-2]) & (e[1:-1] <= e[2:])) + 1
            if interior.size:
                k_min = int(interior[np.argmin(e[interior])])
        barrier = int(np.argmax(e[: k_min + 1]))
        above = np.flatnonzero(e[barrier: k_min + 1] >= e_max)
        if above.size:
            out[name] = float(r[barrier + above[-1]])
        elif barrier > 0:
            out[name] = float(r[barrier])      # start at the barrier top: below it φ collapses
        else:
            out[name] = lo
    return out


def export_lammps(potential: ClassicalPotential, directory: str | os.PathLike, *, nr: int = 10000,
                  nrho: int = 10000, rho_max: float | None = None,
                  n_table: int = DEFAULT_TABLE_POINTS, r_inner: float | Mapping[str, float] | None = None,
                  name: str | None = None) -> dict:
    """Write LAMMPS files for a classical potential, and ``in.lammps`` with the lines that run it.

    - :class:`PairPotential` -> ``NAME.table`` (one section ``A-B`` per element pair, ``n_table``
      points uniform in r from ``r_inner`` to the cutoff, exact end slopes via ``FPRIME``) and
      ``pair_style table spline n_table``. LAMMPS splines the file and then its own table of
      the same length (uniform in r²). Measured with ``pair_write`` at the default 10,000
      points (Morse, Lennard-Jones, B-spline forms, cutoff 5.5 Å): for r > 1.8 Å the energy
      differs from potforge by < 1e-10 eV and the force by < 1e-6 eV/Å (< 3e-9 eV/Å for the
      analytic forms; the B-spline's C² knots and its C¹ joint to the linear continuation
      below r_min cost more, up to 2e-3 eV/Å within a few grid steps of r_min). ``r_inner``
      (Å, one value or per element pair) defaults to :func:`default_r_inner`, where φ reaches
      100 eV.
    - :class:`EAM` -> ``NAME.eam.alloy`` via ``EAM.to_setfl(nr=, nrho=, rho_max=)``; the
      per-element energy offsets are in F. Give ``rho_max`` above the largest host density
      your structures reach (LAMMPS continues F linearly beyond it while potforge evaluates
      the analytic F); the default is twice the density of a 10 %-compressed fcc crystal.
    - :class:`SetflEAM` -> its table, unchanged.
    - :class:`Tersoff` / :class:`StillingerWeber` -> ``NAME.tersoff`` / ``NAME.sw``.

    LAMMPS types are the model's species in order (type 1 = first species); write data
    files with that order (ASE: ``specorder=list(model.species)``). LAMMPS' tersoff, sw and
    table styles do not add potforge's per-element energy offsets; ``in.lammps`` lists them.

    Returns a dict: ``files`` (paths written), ``potential_file``, ``input`` (in.lammps),
    ``pair_style``, ``pair_coeff`` (list of lines), ``species``, ``energy_offsets``
    (eV/atom that LAMMPS leaves out: zero for EAM).
    """
    from .. import __version__

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ModelFormatError("exists and is not a directory", path=os.fspath(directory))
    directory.mkdir(parents=True, exist_ok=True)
    species = list(potential.species)
    stem = name or "".join(species)
    offsets = {s: float(potential.energy_offsets.get(s, 0.0)) for s in species}
    notes: list[str] = []
    if isinstance(potential, (EAM, SetflEAM)):
        if isinstance(potential, EAM):
            data = potential.to_setfl(nr=nr, nrho=nrho, rho_max=rho_max)
            top = data.drho * (data.nrho - 1)
            data.comments = [
                f"EAM ({', '.join(species)}) written by potforge {__version__}",
                "units metal: F eV, r*phi eV*Angstrom; F includes the per-element energy offsets",
                f"F tabulated up to rho_max = {top:.10g}, r up to the cutoff {data.cutoff:.10g} Angstrom"]
            notes.append(f"F(rho) is tabulated up to rho_max = {top:.6g}; LAMMPS continues it "
                         "linearly above (potforge's analytic F does not).")
        else:
            data = potential.data
            if any(offsets.values()):  # fold the offsets into copies of F, as for EAM
                import dataclasses

                data = dataclasses.replace(data, frho={s: data.frho[s] + offsets[s] for s in data.elements})
                notes.append("The per-element energy offsets are folded into F: LAMMPS energies "
                             "equal potforge's.")
        potential_file = directory / f"{stem}.eam.alloy"
        write_setfl(data, potential_file)
        pair_style = "eam/alloy"
        pair_coeff = [f"pair_coeff * * {potential_file.name} {' '.join(species)}"]
        lammps_offsets = {s: 0.0 for s in species}
        if isinstance(potential, EAM):
            notes.append("The per-element energy offsets are folded into F: LAMMPS energies equal "
                         "potforge's.")
    elif isinstance(potential, Tersoff):
        potential_file = directory / f"{stem}.tersoff"
        write_tersoff(potential.entries(), potential_file,
                      comment=f"Tersoff ({', '.join(species)}) written by potforge {__version__}")
        pair_style = "tersoff"
        pair_coeff = [f"pair_coeff * * {potential_file.name} {' '.join(species)}"]
        lammps_offsets = offsets
    elif isinstance(potential, StillingerWeber):
        potential_file = directory / f"{stem}.sw"
        write_sw(potential.entries(), potential_file,
                 comment=f"Stillinger-Weber ({', '.join(species)}) written by potforge {__version__}")
        pair_style = "sw"
        pair_coeff = [f"pair_coeff * * {potential_file.name} {' '.join(species)}"]
        lammps_offsets = offsets
    elif isinstance(potential, PairPotential):
        if r_inner is None:
            inner = default_r_inner(potential)
        elif isinstance(r_inner, Mapping):
            missing = [t for t in potential.type_names if t not in r_inner]
            if missing:
                raise ConfigError(f"r_inner: no value for {', '.join(missing)}")
            inner = {t: float(r_inner[t]) for t in potential.type_names}
        else:
            inner = {t: float(r_inner) for t in potential.type_names}
        potential_file = directory / f"{stem}.table"
        write_table(potential_file, _pair_tables(potential, int(n_table), inner),
                    comment=f"pair potential ({', '.join(species)}) written by potforge {__version__}")
        pair_style = f"table spline {int(n_table)}"
        pair_coeff = []
        for a in range(len(species)):
            for b in range(a, len(species)):
                pair_coeff.append(f"pair_coeff {a + 1} {b + 1} {potential_file.name} "
                                  f"{species[a]}-{species[b]}")
        starts = ", ".join(f"{inner[t]:.4g} Å ({t})" for t in potential.type_names)
        notes.append(f"Tables start at r = {starts}"
                     + ": LAMMPS stops with 'Pair distance < table inner cutoff' if atoms come closer.")
        notes.append("LAMMPS may warn that some force values are inconsistent with -dE/dr: it flags "
                     "every point where f lies outside the two neighbouring secants, which happens at "
                     "inflection points and, by round-off, where phi is linear or flat; the table's "
                     "f is the exact -dphi/dr.")
        lammps_offsets = offsets
    else:
        raise ModelFormatError(f"a {potential.kind} model has no LAMMPS form here; export_lammps "
                               "writes pair, EAM, setfl EAM, Tersoff and Stillinger-Weber models")
    input_path = directory / "in.lammps"
    text = _input_script(potential, species, pair_style, pair_coeff, lammps_offsets, notes, __version__)
    with atomic_write(input_path) as handle:
        handle.write(text)
    return {"files": [potential_file, input_path], "potential_file": potential_file,
            "input": input_path, "pair_style": pair_style, "pair_coeff": pair_coeff,
            "species": species, "energy_offsets": lammps_offsets}


def _input_script(potential: ClassicalPotential, species: list[str], pair_style: str,
                  pair_coeff: list[str], offsets: Mapping[str, float], notes: list[str],
                  version: str) -> str:
    if isinstance(potential, SetflEAM):
        masses = [float(info[1]) for info in potential.data.info]
    else:
        masses = [float(atomic_masses[atomic_numbers[s]]) for s in species]
    types = ", ".join(f"{k + 1} = {s}" for k, s in enumerate(species))
    lines = [
        f"# LAMMPS input for a potforge {potential.kind} model of {', '.join(species)} (potforge {version})",
        "#",
        "# Run from this directory (the potential file is named relative to it):",
        "#     lmp -in in.lammps -var data structure.data",
        "# or copy the pair_style / pair_coeff / mass lines into your own input.",
        f"# Atom types: {types} (ASE: write('structure.data', atoms, format='lammps-data',",
        f"#     specorder={species!r}, masses=True)).",
    ]
    lines += ["# " + part for n in notes for part in textwrap.wrap(n, 92)]
    if any(v != 0.0 for v in offsets.values()):
        lines += ["#",
                  "# Energy offsets: potforge adds a constant per atom (eV) that LAMMPS does not:",
                  "#     E_potforge = E_lammps + sum over atoms of offset(element)"]
        lines += [f"#     {s} {_fmt(offsets[s])}" for s in species]
        lines += ["# Forces and stress are unaffected."]
    lines += [
        "",
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        "boundary p p p",
        "read_data ${data}",
        "",
        f"pair_style {pair_style}",
        *pair_coeff,
        *[f"mass {k + 1} {_fmt(m)}" for k, m in enumerate(masses)],
        "",
        "thermo_style custom step pe press pxx pyy pzz pxy pxz pyz",
        "thermo_modify format float %.16g",
        "run 0",
    ]
    # LAMMPS input is best kept ASCII (it rewrites or warns about other characters)
    return ("\n".join(lines) + "\n").replace("Å", "Angstrom")
