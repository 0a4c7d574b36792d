"""The classical families' exchange with LAMMPS: each kind's exporter (the files of its
LAMMPS pair style plus a runnable ``in.lammps``), and LAMMPS potential files read as models.

==============  =====================  ====================================================
kind            pair style             file
==============  =====================  ====================================================
eam             ``eam/alloy``          ``NAME.eam.alloy``: F, ρ, r·φ tabulated (setfl), the
                (``eam/fs``, ``eam``)  per-element energy offsets folded into F; ``style``
                                       ``eam/fs`` (``NAME.eam.fs``) or ``eam`` (one funcfl
                                       ``NAME_El.eam`` per element: repulsive pairs that mix
                                       as geometric means only)
eam-setfl       ``eam/alloy``,         its own table (offsets folded into a copy of F), in its
                ``eam/fs``             own form or the other (``style``)
eam-funcfl      ``eam``                its own funcfl files (offsets folded into F), or the
                                       table LAMMPS builds from them (``style`` eam/alloy)
tersoff         ``tersoff``            ``NAME.tersoff``: one line per element triplet
sw              ``sw``                 ``NAME.sw``
pair            ``table spline N``     ``NAME.table``: one section per element pair, N points
                                       uniform in r, exact end slopes (``FPRIME``)
==============  =====================  ====================================================

LAMMPS types are the model's species in order (type 1 = first species); write data files
with that order (ASE: ``specorder=list(model.species)``). LAMMPS' tersoff, sw and table
styles do not add potforge's per-element energy offsets; ``in.lammps`` lists them. The file
formats are read and written by :mod:`potforge.data.lammps`.

Reading (:func:`read_lammps_potential`): ``species`` selects and names the file's elements as
LAMMPS' ``pair_coeff * * FILE el1 el2 …`` does — a list of the file's element names, or a
mapping file name -> chemical symbol for files whose names are not symbols
(``{"Si(D)": "Si"}``; command line ``--species 'Si(D)=Si'``); the model's species are those
symbols in that order.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from ...core.atomic import atomic_write
from ...core.elements import is_element
from ...core.errors import ConfigError, ModelFormatError, located
from ...core.provenance import __version__
from ...data.lammps import LAMMPS_STYLES
from ...data.lammps._text import parse_species, resolve_species
from ...data.lammps.funcfl import FuncflData, read_funcfl, write_funcfl
from ...data.lammps.input_script import input_script
from ...data.lammps.parameter_files import read_sw, read_tersoff, write_sw, write_tersoff
from ...data.lammps.setfl import SetflData, read_fs, read_setfl, write_fs, write_setfl
from ...data.lammps.table import TableSection, write_table
from ..registry import check_options, family
from .base import DEFAULT_TABLE_POINTS, ClassicalPotential
from .eam import EAM
from .eam_tables import FuncflEAM, SetflEAM, TabulatedEAM
from .pair import PairPotential
from .sw import StillingerWeber
from .tersoff import Tersoff

__all__ = ["read_lammps_potential", "read_funcfl_file", "read_setfl_file", "read_fs_file",
           "read_tersoff_file", "read_sw_file", "export_lammps", "export_eam", "export_setfl",
           "export_funcfl", "export_tersoff", "export_sw", "export_pair", "default_r_inner"]

_EAM_STYLES = ("eam/alloy", "eam/fs", "eam")


# -- reading a potential --------------------------------------------------------------------------
def read_lammps_potential(path: str | os.PathLike | Sequence[str | os.PathLike], style: str,
                          species=None) -> ClassicalPotential:
    """A potforge model from a LAMMPS potential file.

    ``style``: ``eam`` (-> :class:`FuncflEAM`; ``path`` may be a list of funcfl files, one per
    element, as several ``pair_coeff i i FILE`` lines), ``eam/alloy`` or ``eam/fs`` (->
    :class:`SetflEAM`), ``tersoff`` or ``sw`` (-> :class:`Tersoff` / :class:`StillingerWeber`).
    ``species``: the file's elements to use, in order (module docstring); default all of
    them, in the file's order, each named by a chemical symbol. funcfl files name their element
    by the atomic number Z on line 2 (which LAMMPS ignores): ``species`` may instead give one
    symbol per file.
    """
    if style not in LAMMPS_STYLES:
        raise ConfigError(f"style {style!r}: potforge reads LAMMPS styles {', '.join(LAMMPS_STYLES)}")
    if style == "eam":
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        return _read_funcfl_files(paths, species)
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"{style}: one potential file, not {type(path).__name__} (several files: "
                          "pair_style eam only)")
    name = os.fspath(path)
    metadata = {"source": name, "lammps_style": style}
    if style in ("eam/alloy", "eam/fs"):
        data = (read_setfl if style == "eam/alloy" else read_fs)(path)
        mapping = resolve_species(species, data.elements, name)
        with located(name):
            return SetflEAM(data.select(list(mapping), list(mapping.values())), metadata=metadata)
    reader, cls = (read_tersoff, Tersoff) if style == "tersoff" else (read_sw, StillingerWeber)
    names: list[str] = []
    for a, b, c, _ in reader(path):
        names += [e for e in dict.fromkeys((a, b, c)) if e not in names]
    mapping = resolve_species(species, names, name)
    entries = reader(path, mapping)
    try:
        return cls.from_entries(list(mapping.values()), entries, metadata=metadata)
    except ConfigError as err:
        raise ModelFormatError(err.reason, path=name) from None


def _read_funcfl_files(paths: list, species) -> FuncflEAM:
    if not paths:
        raise ConfigError("eam: no funcfl file given")
    files = [read_funcfl(p) for p in paths]
    names = [chemical_symbols[f.z] if 0 < f.z < len(chemical_symbols) else f"Z={f.z}" for f in files]
    where = os.fspath(paths[0]) if len(paths) == 1 else ", ".join(map(os.fspath, paths))
    if isinstance(species, str):
        species = parse_species(species)
    plain = (species is not None and not isinstance(species, Mapping)
             and all("=" not in str(s) for s in species))
    if plain and len(list(species)) == len(files) and all(is_element(s) for s in species):
        symbols = [str(s) for s in species]            # one symbol per file, in file order
    else:
        if len(set(names)) != len(names):
            raise ModelFormatError(f"the funcfl files share an atomic number ({', '.join(names)}); give "
                                   "species as one chemical symbol per file", path=where)
        for f, n, p in zip(files, names, paths):
            if species is None and not is_element(n):
                raise ModelFormatError(f"atomic number Z = {f.z} is no element (LAMMPS ignores it); give "
                                       "species, one chemical symbol per file", path=os.fspath(p), line=2)
        mapping = resolve_species(species, names, where)
        if len(mapping) != len(files):
            raise ModelFormatError(f"species names {len(mapping)} of the {len(files)} funcfl files; "
                                   "each file given is one element", path=where)
        symbols = [mapping[n] for n in names]
    if len(set(symbols)) != len(symbols):
        raise ModelFormatError(f"species: element given twice ({', '.join(symbols)})", path=where)
    with located(where):
        return FuncflEAM(files, symbols, metadata={"source": [os.fspath(p) for p in paths],
                                                   "lammps_style": "eam"})


def read_funcfl_file(path: str | os.PathLike, *, species=None) -> ClassicalPotential:
    """The registry's reader of ``.eam`` (funcfl) files (metal units: no unit options)."""
    return read_lammps_potential(path, "eam", species)


def read_setfl_file(path: str | os.PathLike, *, species=None) -> ClassicalPotential:
    """The registry's reader of ``.eam.alloy``/``.setfl`` files: all elements of the file, or
    ``species`` (LAMMPS files are in metal units: the reader takes no unit options)."""
    return read_lammps_potential(path, "eam/alloy", species)


def read_fs_file(path: str | os.PathLike, *, species=None) -> ClassicalPotential:
    """The registry's reader of ``.eam.fs`` files."""
    return read_lammps_potential(path, "eam/fs", species)


def read_tersoff_file(path: str | os.PathLike, *, species=None) -> ClassicalPotential:
    """The registry's reader of ``.tersoff`` files (all elements or ``species``, metal units)."""
    return read_lammps_potential(path, "tersoff", species)


def read_sw_file(path: str | os.PathLike, *, species=None) -> ClassicalPotential:
    """The registry's reader of ``.sw`` files (all elements or ``species``, metal units)."""
    return read_lammps_potential(path, "sw", species)


# -- export ---------------------------------------------------------------------------------------
def export_lammps(potential: ClassicalPotential, directory: str | os.PathLike, **options) -> dict:
    """Write a classical model for LAMMPS with its kind's exporter (table above; options as
    that exporter declares them, any other a ConfigError). Returns what it returns: ``files``,
    ``potential_file``, ``input`` (in.lammps), ``pair_style``, ``pair_coeff`` (lines),
    ``species`` and ``energy_offsets`` (eV/atom that LAMMPS leaves out)."""
    exporter = family(potential.kind).exporters.get("lammps")
    if exporter is None:
        raise ModelFormatError(f"a {potential.kind} model has no LAMMPS form here; the LAMMPS "
                               "exporters write pair, EAM, tabulated EAM, Tersoff and Stillinger-Weber models")
    check_options(exporter, options, f"exporting a {potential.kind} model to lammps")
    return exporter(potential, directory, **options)


def _check_style(style: str, allowed: Sequence[str], kind: str) -> str:
    if style not in allowed:
        raise ConfigError(f"style: {style!r} is not a LAMMPS form of a {kind} model; expected one of "
                          f"{', '.join(allowed)}")
    return style


def export_eam(potential: EAM, directory: str | os.PathLike, *, style: str = "eam/alloy",
               nr: int = DEFAULT_TABLE_POINTS, nrho: int = DEFAULT_TABLE_POINTS,
               rho_max: float | None = None, table_points: int | None = None,
               name: str | None = None) -> dict:
    """``NAME.eam.alloy`` via ``EAM.to_setfl(nr=, nrho=, rho_max=)`` (``table_points`` sets
    both grids), the per-element energy offsets folded into F; ``style="eam/fs"`` writes the
    same tables as ``NAME.eam.fs``, ``style="eam"`` one funcfl file per element
    (``EAM.to_funcfl``: only for pair terms φ ≥ 0 whose cross pairs are the geometric means
    LAMMPS mixes). Give ``rho_max`` above the largest host density your structures reach:
    LAMMPS continues F linearly beyond it while potforge evaluates the analytic F; the default
    is twice the density of a 10 %-compressed fcc crystal."""
    _check_style(style, _EAM_STYLES, potential.kind)
    if table_points is not None:
        nr = nrho = int(table_points)
    species = list(potential.species)
    if style == "eam":
        files = potential.to_funcfl(nr=nr, nrho=nrho, rho_max=rho_max)
        for f in files:
            f.comment = (f"EAM ({', '.join(species)}) written by potforge {__version__}; F includes the "
                         f"energy offset; F valid up to rho = {f.drho * (f.nrho - 2):.10g}")
        return _write_funcfl_export(potential, files, directory, name, [])
    data = potential.to_setfl(nr=nr, nrho=nrho, rho_max=rho_max)
    top = data.drho * (data.nrho - 1)
    data.comments = [
        f"EAM ({', '.join(species)}) written by potforge {__version__}",
        "units metal: F eV, r*phi eV*Angstrom; F includes the per-element energy offsets",
        f"F tabulated up to rho_max = {top:.10g}, r up to the cutoff {data.cutoff:.10g} Angstrom"]
    notes = [f"F(rho) is tabulated up to rho_max = {top:.6g}; LAMMPS continues it linearly above "
             "(potforge's analytic F does not).",
             "The per-element energy offsets are folded into F: LAMMPS energies equal potforge's."]
    return _write_setfl_export(potential, data, style, directory, name, notes)


def export_setfl(potential: SetflEAM, directory: str | os.PathLike, *, style: str | None = None,
                 name: str | None = None) -> dict:
    """The model's own table (``eam/alloy`` or ``eam/fs``, or the other form with ``style``:
    an eam/alloy table as eam/fs always, an eam/fs table as eam/alloy if each element's
    density is the same at every host); non-zero energy offsets are folded into a copy of F."""
    style = _check_style(style or potential.lammps_style, _EAM_STYLES[:2], potential.kind)
    data = potential.data
    notes = []
    offsets = {s: float(potential.energy_offsets.get(s, 0.0)) for s in potential.species}
    if any(offsets.values()):
        data = dataclasses.replace(data, frho={s: data.frho[s] + offsets[s] for s in data.elements})
        notes.append("The per-element energy offsets are folded into F: LAMMPS energies equal "
                     "potforge's.")
    return _write_setfl_export(potential, data, style, directory, name, notes)


def export_funcfl(potential: FuncflEAM, directory: str | os.PathLike, *, style: str = "eam",
                  name: str | None = None) -> dict:
    """The model's funcfl files (``pair_style eam``, one ``pair_coeff i i FILE`` per element),
    non-zero energy offsets folded into F; ``style`` ``eam/alloy`` or ``eam/fs``: the table
    LAMMPS builds from them (equal results up to ρ_max − Δρ; above it LAMMPS holds a funcfl's
    F flat for one grid step, a setfl's not)."""
    style = _check_style(style, ("eam", "eam/alloy", "eam/fs"), potential.kind)
    offsets = {s: float(potential.energy_offsets.get(s, 0.0)) for s in potential.species}
    note = ["The per-element energy offsets are folded into F: LAMMPS energies equal potforge's."
            ] if any(offsets.values()) else []
    if style != "eam":
        table = potential.table
        data = dataclasses.replace(table, frho={s: table.frho[s] + offsets[s] for s in table.elements})
        return _write_setfl_export(potential, data, style, directory, name, note)
    files = [dataclasses.replace(f, frho=f.frho + offsets[s]) for s, f in zip(potential.species, potential.files)]
    return _write_funcfl_export(potential, files, directory, name, note)


def _write_setfl_export(potential, data: SetflData, style: str, directory, name, notes) -> dict:
    directory = _directory(directory)
    species = list(potential.species)
    suffix, writer = (".eam.fs", write_fs) if style == "eam/fs" else (".eam.alloy", write_setfl)
    path = directory / f"{name or ''.join(species)}{suffix}"
    writer(data, path)
    return _finish(potential, directory, path, style,
                   [f"pair_coeff * * {path.name} {' '.join(species)}"], {s: 0.0 for s in species}, notes)


def _write_funcfl_export(potential, files: list[FuncflData], directory, name, notes) -> dict:
    directory = _directory(directory)
    species = list(potential.species)
    paths = [directory / (f"{name}_{s}.eam" if name else f"{s}.eam") for s in species]
    for f, path in zip(files, paths):
        write_funcfl(f, path)
    notes = list(notes) + ["pair_style eam mixes the pair terms of different elements as geometric means."]
    return _finish(potential, directory, paths, "eam",
                   [f"pair_coeff {k + 1} {k + 1} {p.name}" for k, p in enumerate(paths)],
                   {s: 0.0 for s in species}, notes)


def export_tersoff(potential: Tersoff, directory: str | os.PathLike, *, name: str | None = None) -> dict:
    """``NAME.tersoff``: one entry per ordered element triplet, exact shortest reprs."""
    return _triplet_export(potential, directory, name, "tersoff", write_tersoff, "Tersoff")


def export_sw(potential: StillingerWeber, directory: str | os.PathLike, *, name: str | None = None) -> dict:
    """``NAME.sw``: one entry per ordered element triplet, exact shortest reprs."""
    return _triplet_export(potential, directory, name, "sw", write_sw, "Stillinger-Weber")


def _triplet_export(potential, directory, name, style, writer, title) -> dict:
    directory = _directory(directory)
    species = list(potential.species)
    path = directory / f"{name or ''.join(species)}.{style}"
    writer(potential.entries(), path,
           comment=f"{title} ({', '.join(species)}) written by potforge {__version__}")
    return _finish(potential, directory, path, style, [f"pair_coeff * * {path.name} {' '.join(species)}"],
                   _offsets(potential), [])


def export_pair(potential: PairPotential, directory: str | os.PathLike, *,
                n_table: int = DEFAULT_TABLE_POINTS, table_points: int | None = None,
                r_inner: float | Mapping[str, float] | None = None, name: str | None = None) -> dict:
    """``NAME.table`` (one section ``A-B`` per element pair, ``n_table`` points uniform in r
    from ``r_inner`` to the cutoff, exact end slopes via ``FPRIME``) and
    ``pair_style table spline n_table``.

    LAMMPS splines the file and then its own table of the same length (uniform in r²).
    Measured with ``pair_write`` at the default 10,000 points (Morse, Lennard-Jones, B-spline
    forms, cutoff 5.5 Å): for r > 1.8 Å the energy differs from potforge by < 1e-10 eV and the
    force by < 1e-6 eV/Å (< 3e-9 eV/Å for the analytic forms; the B-spline's C² knots and its
    C¹ joint to the linear continuation below r_min cost more, up to 2e-3 eV/Å within a few
    grid steps of r_min). ``r_inner`` (Å, one value or per element pair) defaults to
    :func:`default_r_inner`, where φ reaches 100 eV.
    """
    if table_points is not None:
        n_table = int(table_points)
    if r_inner is None:
        inner = default_r_inner(potential)
    elif isinstance(r_inner, Mapping):
        missing = [t for t in potential.type_names if t not in r_inner]
        if missing:
            raise ConfigError(f"r_inner: no value for {', '.join(missing)}")
        inner = {t: float(r_inner[t]) for t in potential.type_names}
    else:
        inner = {t: float(r_inner) for t in potential.type_names}
    directory = _directory(directory)
    species = list(potential.species)
    path = directory / f"{name or ''.join(species)}.table"
    write_table(path, _pair_tables(potential, int(n_table), inner),
                comment=f"pair potential ({', '.join(species)}) written by potforge {__version__}")
    pair_coeff = [f"pair_coeff {a + 1} {b + 1} {path.name} {species[a]}-{species[b]}"
                  for a in range(len(species)) for b in range(a, len(species))]
    starts = ", ".join(f"{inner[t]:.4g} Å ({t})" for t in potential.type_names)
    notes = [f"Tables start at r = {starts}"
             + ": LAMMPS stops with 'Pair distance < table inner cutoff' if atoms come closer.",
             "LAMMPS may warn that some force values are inconsistent with -dE/dr: it flags "
             "every point where f lies outside the two neighbouring secants, which happens at "
             "inflection points and, by round-off, where phi is linear or flat; the table's "
             "f is the exact -dphi/dr."]
    return _finish(potential, directory, path, f"table spline {int(n_table)}", pair_coeff,
                   _offsets(potential), notes)


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


def _directory(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ModelFormatError("exists and is not a directory", path=os.fspath(directory))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _offsets(potential: ClassicalPotential) -> dict[str, float]:
    return {s: float(potential.energy_offsets.get(s, 0.0)) for s in potential.species}


def _finish(potential: ClassicalPotential, directory: Path, potential_file: Path | list[Path], pair_style: str,
            pair_coeff: list[str], lammps_offsets: Mapping[str, float], notes: Sequence[str]) -> dict:
    """Write ``in.lammps`` beside the potential file(s); the exporters' common return value
    (``potential_file``: the first of ``potential_files``, one per element for funcfl)."""
    potential_files = list(potential_file) if isinstance(potential_file, list) else [potential_file]
    species = list(potential.species)
    if isinstance(potential, TabulatedEAM):
        masses = [float(info[1]) for info in potential.table.info]
    else:
        masses = [float(atomic_masses[atomic_numbers[s]]) for s in species]
    text = input_script(
        title=f"LAMMPS input for a potforge {potential.kind} model of {', '.join(species)} "
              f"(potforge {__version__})",
        species=species, masses=masses, pair_style=pair_style, pair_coeff=pair_coeff,
        offsets=lammps_offsets, notes=notes)
    input_path = directory / "in.lammps"
    with atomic_write(input_path) as handle:
        handle.write(text)
    return {"files": [*potential_files, input_path], "potential_file": potential_files[0],
            "potential_files": potential_files, "input": input_path, "pair_style": pair_style, "pair_coeff": pair_coeff,
            "species": species, "energy_offsets": dict(lammps_offsets)}
