"""``in.lammps``: the lines that run an exported potential, as a self-documenting script."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

from ._text import fmt

__all__ = ["input_script"]


def input_script(*, title: str, species: Sequence[str], masses: Sequence[float], pair_style: str,
                 pair_coeff: Sequence[str], offsets: Mapping[str, float], notes: Sequence[str],
                 setup: Sequence[str] = ()) -> str:
    """A runnable LAMMPS input (``lmp -in in.lammps -var data structure.data``; units metal,
    atom types in the order of ``species``) that evaluates one structure with ``pair_style`` /
    ``pair_coeff``, with ``notes`` and the per-element energy offsets (eV/atom) that LAMMPS
    leaves out written as comments; ``setup`` lines (e.g. ``plugin load``) come before the
    pair style. ASCII only: LAMMPS rewrites or warns about other
    characters (Å becomes Angstrom)."""
    types = ", ".join(f"{k + 1} = {s}" for k, s in enumerate(species))
    lines = [
        f"# {title}",
        "#",
        "# Run from this directory (the potential file is named relative to it):",
        "#     lmp -in in.lammps -var data structure.data",
        "# or copy the pair_style / pair_coeff / mass lines into your own input.",
        f"# Atom types: {types} (ASE: write('structure.data', atoms, format='lammps-data',",
        f"#     specorder={list(species)!r}, masses=True)).",
    ]
    lines += ["# " + part for n in notes for part in textwrap.wrap(n, 92)]
    if any(v != 0.0 for v in offsets.values()):
        lines += ["#",
                  "# Energy offsets: potforge adds a constant per atom (eV) that LAMMPS does not:",
                  "#     E_potforge = E_lammps + sum over atoms of offset(element)"]
        lines += [f"#     {s} {fmt(offsets[s])}" for s in species]
        lines += ["# Forces and stress are unaffected."]
    lines += [
        "",
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        "boundary p p p",
        "read_data ${data}",
        "",
        *setup,
        f"pair_style {pair_style}",
        *pair_coeff,
        *[f"mass {k + 1} {fmt(m)}" for k, m in enumerate(masses)],
        "",
        "thermo_style custom step pe press pxx pyy pzz pxy pxz pyz",
        "thermo_modify format float %.16g",
        "run 0",
    ]
    return ("\n".join(lines) + "\n").replace("Å", "Angstrom")
