"""``potforge label``: end to end with two worker processes, resume, and one-line errors."""

from __future__ import annotations

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

from potforge.cli.main import main
from potforge.data.frame import Frame
from potforge.data.io import read_frames, write_frames


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def structures(tmp_path, n=5):
    frames = []
    for i in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True)
        atoms.rattle(0.05, seed=i)
        frames.append(Frame(atoms, config_type="rattle", group=f"g{i}"))
    frames.append(Frame(bulk("Si", "diamond", a=5.43), config_type="other"))
    write_frames(tmp_path / "in.xyz", frames)
    return frames


def test_label_end_to_end_with_two_workers_then_resume(tmp_path, capsys):
    frames = structures(tmp_path)
    (tmp_path / "emt.yaml").write_text("name: emt\n")
    argv = ["label", str(tmp_path / "in.xyz"), "--calculator", str(tmp_path / "emt.yaml"),
            "--db", str(tmp_path / "out.db"), "--workers", "2"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "6 structures: 5 labelled, 0 already done, 1 failed" in out
    assert "failed: structure 5: NotImplementedError: No EMT-potential for Si" in out
    assert "time per structure: mean" in out
    assert err.count("label: ") == 6 and "ETA" in err  # a line per structure (not a terminal)
    got = read_frames(tmp_path / "out.db")
    assert len(got) == 5
    for frame, labelled in zip(frames, got):
        atoms = frame.atoms.copy()
        atoms.calc = EMT()
        assert labelled.energy == atoms.get_potential_energy()
        assert np.array_equal(labelled.forces, atoms.get_forces())
        assert np.array_equal(labelled.stress, atoms.get_stress())
        assert labelled.group == frame.group
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "0 labelled, 5 already done, 0 failed, 1 failed earlier" in out


def test_label_errors_are_one_line(tmp_path, capsys):
    structures(tmp_path, 2)
    (tmp_path / "bad.yaml").write_text("name: vasp-ish\n")
    code, _, err = run(capsys, "label", str(tmp_path / "in.xyz"), "--calculator",
                       str(tmp_path / "bad.yaml"), "--db", str(tmp_path / "out.db"))
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "bad.yaml: name: unknown calculator 'vasp-ish'" in err and "known names: gpaw, emt" in err
    (tmp_path / "emt.yaml").write_text("name: emt\n")
    (tmp_path / "emt2.yaml").write_text("name: emt\nparameters: {asap_cutoff: true}\n")
    base = ["label", str(tmp_path / "in.xyz"), "--db", str(tmp_path / "out.db"), "--quiet"]
    assert run(capsys, *base, "--calculator", str(tmp_path / "emt.yaml"))[0] == 0
    before = (tmp_path / "out.db").read_bytes()
    code, _, err = run(capsys, *base, "--calculator", str(tmp_path / "emt2.yaml"))
    assert code == 2 and err.strip().count("\n") == 0
    assert "was labelled with different settings" in err
    assert (tmp_path / "out.db").read_bytes() == before
