"""A total charge that contradicts the per-atom reference charges is refused in one line
(readers and writers, located), within a tolerance that accepts the rounding of DFT charge
partitions in the shipped n2p2 sets; -0.0 is written as 0.0."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from potforge.core.errors import DataFormatError
from potforge.data.frame import Frame, charge_sum_tolerance
from potforge.data.io import read_frames, write_frames

UNITS = dict(length_unit="bohr", energy_unit="hartree")


def _n2p2(tmp_path, total, charges):
    lines = ["begin", "comment ion"]
    for k, q in enumerate(charges):
        lines.append(f"atom {1.5 * k} 0.0 0.0 O {q} 0.0 0.0 0.0 0.0")
    lines += ["energy -1.0", f"charge {total}", "end"]
    path = tmp_path / "input.data"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_n2p2_contradicting_total_charge_is_refused(tmp_path):
    path = _n2p2(tmp_path, 5.0, [0.5, -0.5, 0.0])
    with pytest.raises(DataFormatError, match=r"input\.data:8: .*atomic charges sum to 0 e but the total "
                                              r"charge is 5 e") as err:
        read_frames(path)
    assert "\n" not in str(err.value)
    # within the tolerance (rounding of a partition): accepted
    frame = read_frames(_n2p2(tmp_path, -1.0, [-0.5004, -0.5, 0.0]))[0]
    assert frame.total_charge == -1.0 and frame.charges.sum() == pytest.approx(-1.0004)


def test_n2p2_zero_charge_column_of_an_ion_means_no_charges(tmp_path):
    frame = read_frames(_n2p2(tmp_path, 1.0, [0.0, 0.0]))[0]
    assert frame.charges is None and frame.total_charge == 1.0


def test_extxyz_contradicting_total_charge_is_refused(tmp_path):
    path = tmp_path / "a.xyz"
    path.write_text('2\nProperties=species:S:1:pos:R:3:charges:R:1 total_charge=0 pbc="F F F"\n'
                    "H 0 0 0 0.5\nH 0 0 0.74 -0.5\n"
                    '2\nProperties=species:S:1:pos:R:3:charges:R:1 total_charge=2 pbc="F F F"\n'
                    "H 0 0 0 0.5\nH 0 0 0.74 -0.5\n")
    with pytest.raises(DataFormatError, match=r"a\.xyz:6 frame 1: the atomic charges sum to 0 e but the "
                                              r"total charge is 2 e"):
        read_frames(path)


@pytest.mark.parametrize("name", ["out.xyz", "out.data"])
def test_writers_refuse_a_contradiction_and_write_zero_not_minus_zero(tmp_path, name):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    bad = Frame(atoms.copy(), energy=-1.0, charges=np.array([0.5, -0.5]), total_charge=3.0)
    with pytest.raises(DataFormatError, match="total charge is 3 e"):
        write_frames(tmp_path / name, [bad])
    good = Frame(atoms.copy(), energy=-1.0, charges=np.array([0.25, -0.25]), total_charge=-0.0)
    write_frames(tmp_path / name, [good])
    text = (tmp_path / name).read_text()
    assert "charge -0" not in text and "total_charge=-0" not in text
    back = read_frames(tmp_path / name)[0]
    assert np.copysign(1.0, back.total_charge) == 1.0


@pytest.mark.parametrize("folder", ["H2O_RPBE-D3_4G", "AlAuMgO_4G", "Carbon_chain_4G", "H2O_RPBE-D3"])
def test_shipped_n2p2_sets_are_within_the_tolerance(shared_data, folder):
    frames = read_frames(shared_data / "n2p2" / folder / "train" / "input.data", **UNITS)
    worst = max(abs(f.charges.sum() - f.total_charge) / charge_sum_tolerance(f.n_atoms) for f in frames)
    assert worst < 0.1  # at least 10x margin
