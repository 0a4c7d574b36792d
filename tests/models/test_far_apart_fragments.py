"""Fragments far apart (issue 13, defect 3): an evaporated atom, a molecule far from a surface.

Such a structure is legal input and its answer is known: the energy is the sum of the energies
of the fragments alone, and each atom's force is the force it has in its own fragment. Before,
one atom 1e6 Å away killed the process with SIGFPE inside the neighbour list (vesin's cell
grid truncated to zero cells), so the CLI check runs in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from potforge.calculators.ase import PotforgeCalculator

from . import classical_cases as cc

FAR = 1e6  # Å


def _assert_fragments_add_up(potential, a: Atoms, b: Atoms, offset, *, tol=1e-9):
    """predict(a + b moved by offset) against predict(a) + predict(b moved), and b in place."""
    far = b.copy()
    far.positions += np.asarray(offset, dtype=float)
    joint = a + far
    pa, pb, pj = potential.predict(a), potential.predict(far), potential.predict(joint)
    assert np.isfinite(pj.energy) and np.all(np.isfinite(pj.forces))
    assert abs(pj.energy - (pa.energy + pb.energy)) <= tol * max(1.0, abs(pj.energy))
    np.testing.assert_allclose(pj.forces, np.concatenate([pa.forces, pb.forces]), rtol=0, atol=tol)
    # b far away is b at home, but for the rounding of its coordinates there (1e-10 Å at
    # 1e6 Å, 6e-5 Å at 5e11 Å) times the stiffness of the bonds
    home = potential.predict(b)
    spacing = float(np.spacing(np.abs(far.positions).max()))
    assert abs(pb.energy - home.energy) <= 1e-8 + 100 * spacing
    np.testing.assert_allclose(pb.forces, home.forces, rtol=0, atol=1e-8 + 100 * spacing)
    # the same through the ASE calculator and the batch path
    joint.calc = PotforgeCalculator(potential)
    assert joint.get_potential_energy() == pytest.approx(pj.energy, rel=1e-14, abs=1e-12)
    batch = potential.predict_many([a, joint])
    assert batch[1].energy == pytest.approx(pj.energy, rel=1e-14, abs=1e-12)
    return pj


def _water_dimer() -> Atoms:
    a = molecule("H2O")
    b = molecule("H2O")
    b.rotate(105, "z")
    b.positions += [2.9, 0.2, 0.1]
    return a + b


@pytest.mark.parametrize("offset", [(FAR, 0, 0), (FAR, -FAR, FAR), (0, 0, 1e12 / 2)])
def test_water_fragments_far_apart_n2p2(water_model, offset):
    single = molecule("H2O")
    single.rotate(40, "x")
    _assert_fragments_add_up(water_model, _water_dimer(), single, offset)


@pytest.mark.parametrize("make_model,make_box", [(cc.tersoff_si, cc.si_box), (cc.eam_model, cc.cu_box)])
def test_classical_fragments_far_apart(make_model, make_box):
    model = make_model()
    box = make_box(1)
    a, b = cc.cluster(box, 9), cc.cluster(make_box(2), 6)
    _assert_fragments_add_up(model, a, b, (0, FAR, 0))


def test_slab_with_an_atom_far_above_it():
    """Mixed boundaries (periodic in x, y): an adatom 1e6 Å above a slab adds its lone energy."""
    model = cc.eam_model()
    slab = cc.cu_box(3)
    slab.pbc = (True, True, False)
    atom = Atoms("Cu", positions=[[1.0, 2.0, 0.0]])
    joint = slab + atom
    joint.positions[-1, 2] = FAR
    pj, ps, pa = model.predict(joint, stress=False), model.predict(slab, stress=False), model.predict(atom)
    assert abs(pj.energy - ps.energy - pa.energy) <= 1e-9 * abs(pj.energy)
    np.testing.assert_allclose(pj.forces[:-1], ps.forces, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pj.forces[-1], 0.0, atol=1e-12)


def test_cli_predict_with_an_atom_2e6_angstrom_away(water_dir, tmp_path):
    """The issue's reproducer (exit 136 and a stray temporary file before), with the lone atoms
    as frames 1 and 2: frame 0 must be their sum."""
    structure = tmp_path / "far.xyz"
    lines = []
    for atoms in (["O 0 0 0", "H 2000000 0 0"], ["O 0 0 0"], ["H 2000000 0 0"]):
        lines += [str(len(atoms)), 'Properties=species:S:1:pos:R:3 pbc="F F F"', *atoms]
    structure.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.xyz"
    result = subprocess.run([sys.executable, "-m", "potforge.cli", "predict", str(water_dir),
                             str(structure), "-o", str(out)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["far.xyz", "o.xyz"]  # no temporary left

    from potforge.data.io import read_frames

    frames = read_frames(out)
    energies = [f.energy for f in frames]
    assert np.all(np.isfinite(energies))
    assert energies[0] == pytest.approx(energies[1] + energies[2], rel=1e-12)
    np.testing.assert_allclose(frames[0].forces, np.vstack([frames[1].forces, frames[2].forces]), atol=1e-12)
