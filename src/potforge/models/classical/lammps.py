"""The classical families' exchange with LAMMPS: each kind's exporter (the files of its
LAMMPS pair style plus a runnable ``in.lammps``), and LAMMPS potential files read as models.

=============  ==================  =========================================================
kind           pair style          file
=============  ==================  =========================================================
eam            ``eam/alloy``       ``NAME.eam.alloy``: F, ρ, r·φ tabulated (setfl), the
                                   per-element energy offsets folded into F
eam-setfl      ``eam/alloy``       its own table (offsets folded into a copy of F)
tersoff        ``tersoff``         ``NAME.tersoff``: one line per element triplet
sw             ``sw``              ``NAME.sw``
pair           ``table spline N``  ``NAME.table``: one section per element pair, N points
                                   uniform in r, exact end slopes (``FPRIME``)
=============  ==================  =========================================================

LAMMPS types are the model's species in order (type 1 = first species); write data files
with that order (ASE: ``specorder=list(model.species)``). LAMMPS' tersoff, sw and table
styles do not add potforge's per-element energy offsets; ``in.lammps`` lists them. The file
formats are read and written by :mod:`potforge.data.lammps`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from ...core.atomic import atomic_write
from ...core.elements import is_element
from ...core.errors import ConfigError, ModelFormatError
from ...core.provenance import __version__
from ...data.lammps import LAMMPS_STYLES
from ...data.lammps.input_script import input_script
from ...data.lammps.parameter_files import read_sw, read_tersoff, species_mapping, write_sw, write_tersoff
from ...data.lammps.setfl import read_setfl, write_setfl
from ...data.lammps.table import TableSection, write_table
from ..registry import check_options, family
from .base import DEFAULT_TABLE_POINTS, ClassicalPotential
from .eam import EAM, SetflEAM
from .pair import PairPotential
from .sw import StillingerWeber
from .tersoff import Tersoff

__all__ = ["read_lammps_potential", "read_setfl_file",
           "read_tersoff_file", "read_sw_file", "export_lammps", "export_eam", "export_setfl", "export_tersoff",
           "export_sw", "export_pair", "default_r_inner"]

# -- reading a potential --------------------------------------------------------------------------
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
    mapping = species_mapping(species) or {}
    for s in mapping.values():
        if not is_element(s):
            raise ModelFormatError(f"element {s!r} is not a chemical symbol; give species as a mapping "
                                   f"symbol -> name in the file, e.g. {{'Si': {s!r}}}", path=name)
    entries = reader(path, species)
    try:
        return cls.from_entries(list(mapping.values()), entries,
                                metadata={"source": name, "lammps_style": style})
    except ConfigError as err:
        raise ModelFormatError(err.reason, path=name) from None


def read_setfl_file(path: str | os.PathLike) -> ClassicalPotential:
    """The registry's reader of ``.eam.alloy``/``.setfl`` files: all elements of the file
    (LAMMPS files are in metal units: the reader takes no unit options)."""
    return read_lammps_potential(path, "eam/alloy")


def read_tersoff_file(path: str | os.PathLike) -> ClassicalPotential:
    """The registry's reader of ``.tersoff`` files (all elements, metal units)."""
    return read_lammps_potential(path, "tersoff")


def read_sw_file(path: str | os.PathLike) -> ClassicalPotential:
    """The registry's reader of ``.sw`` files (all elements, metal units)."""
    return read_lammps_potential(path, "sw")


# -- export ---------------------------------------------------------------------------------------
def export_lammps(potential: ClassicalPotential, directory: str | os.PathLike, **options) -> dict:
    """Write a classical model for LAMMPS with its kind's exporter (table above; options as
    that exporter declares them, any other a ConfigError). Returns what it returns: ``files``,
    ``potential_file``, ``input`` (in.lammps), ``pair_style``, ``pair_coeff`` (lines),
    ``species`` and ``energy_offsets`` (eV/atom that LAMMPS leaves out)."""
    exporter = family(potential.kind).exporters.get("lammps")
    if exporter is None:
        raise ModelFormatError(f"a {potential.kind} model has no LAMMPS form here; the LAMMPS "
                               "exporters write pair, EAM, setfl EAM, Tersoff and Stillinger-Weber models")
    check_options(exporter, options, f"exporting a {potential.kind} model to lammps")
    return exporter(potential, directory, **options)


def export_eam(potential: EAM, directory: str | os.PathLike, *, nr: int = DEFAULT_TABLE_POINTS,
               nrho: int = DEFAULT_TABLE_POINTS,
               rho_max: float | None = None, table_points: int | None = None,
               name: str | None = None) -> dict:
    """``NAME.eam.alloy`` via ``EAM.to_setfl(nr=, nrho=, rho_max=)`` (``table_points`` sets
    both grids), the per-element energy offsets folded into F. Give ``rho_max`` above the
    largest host density your structures reach: LAMMPS continues F linearly beyond it while
    potforge evaluates the analytic F; the default is twice the density of a 10 %-compressed
    fcc crystal."""
    if table_points is not None:
        nr = nrho = int(table_points)
    species = list(potential.species)
    data = potential.to_setfl(nr=nr, nrho=nrho, rho_max=rho_max)
    top = data.drho * (data.nrho - 1)
    data.comments = [
        f"EAM ({', '.join(species)}) written by potforge {__version__}",
        "units metal: F eV, r*phi eV*Angstrom; F includes the per-element energy offsets",
        f"F tabulated up to rho_max = {top:.10g}, r up to the cutoff {data.cutoff:.10g} Angstrom"]
    notes = [f"F(rho) is tabulated up to rho_max = {top:.6g}; LAMMPS continues it linearly above "
             "(potforge's analytic F does not).",
             "The per-element energy offsets are folded into F: LAMMPS energies equal potforge's."]
    return _write_setfl_export(potential, data, directory, name, notes)


def export_setfl(potential: SetflEAM, directory: str | os.PathLike, *, name: str | None = None) -> dict:
    """The model's own setfl table; non-zero energy offsets are folded into a copy of F."""
    data = potential.data
    notes = []
    offsets = {s: float(potential.energy_offsets.get(s, 0.0)) for s in potential.species}
    if any(offsets.values()):
        data = dataclasses.replace(data, frho={s: data.frho[s] + offsets[s] for s in data.elements})
        notes.append("The per-element energy offsets are folded into F: LAMMPS energies equal "
                     "potforge's.")
    return _write_setfl_export(potential, data, directory, name, notes)


def _write_setfl_export(potential, data, directory, name, notes) -> dict:
    directory = _directory(directory)
    species = list(potential.species)
    path = directory / f"{name or ''.join(species)}.eam.alloy"
    write_setfl(data, path)
    return _finish(potential, directory, path, "eam/alloy",
                   [f"pair_coeff * * {path.name} {' '.join(species)}"], {s: 0.0 for s in species}, notes)


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


def _finish(potential: ClassicalPotential, directory: Path, potential_file: Path, pair_style: str,
            pair_coeff: list[str], lammps_offsets: Mapping[str, float], notes: Sequence[str]) -> dict:
    """Write ``in.lammps`` beside the potential file; the exporters' common return value."""
    species = list(potential.species)
    if isinstance(potential, SetflEAM):
        masses = [float(info[1]) for info in potential.data.info]
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
    return {"files": [potential_file, input_path], "potential_file": potential_file,
            "input": input_path, "pair_style": pair_style, "pair_coeff": pair_coeff,
            "species": species, "energy_offsets": dict(lammps_offsets)}
