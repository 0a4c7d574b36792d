"""The command line: --help for every verb, predict, data info/convert, demo, and errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from potforge.cli.main import VERBS, main
from potforge.core.units import Bohr, Hartree
from potforge.data.io import read_frames


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("verb", [None, *VERBS, "data info", "data convert"])
def test_help_shows_an_example(verb, capsys):
    argv = ([] if verb is None else verb.split()) + ["--help"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "xample" in capsys.readouterr().out


def test_predict_water_box_matches_n2p2(water_dir, tmp_path, capsys):
    out = tmp_path / "water.xyz"
    code, stdout, _ = run(capsys, "predict", str(water_dir), str(water_dir / "input.data"),
                          "-o", str(out), "--length-unit", "bohr", "--energy-unit", "hartree")
    assert code == 0 and "no extrapolation warnings" in stdout
    frame = read_frames(out)[0]
    ref_energy = float((water_dir / "reference" / "energy.out").read_text().split("\n")[-2].split()[3])
    assert abs(frame.energy / Hartree - ref_energy) <= 1e-8
    forces = np.array([ln.split()[5:8] for ln in (water_dir / "reference" / "nnforces.out").read_text()
                       .splitlines() if ln.strip() and not ln.startswith("#")], dtype=float)
    assert np.abs(frame.forces / (Hartree / Bohr) - forces).max() <= 1e-8
    assert frame.stress is not None and frame.info["extrapolations"] == 0
    assert np.all(frame.atoms.arrays["extrapolations"] == 0)
    assert frame.atomic_energies.sum() == pytest.approx(frame.energy, abs=1e-9)


def test_predict_reports_extrapolation(water_dir, tmp_path, capsys):
    frames = read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[:3]
    frames[1].atoms.set_cell(frames[1].atoms.cell * 0.8, scale_atoms=True)
    from potforge.data.io import write_frames

    write_frames(tmp_path / "in.xyz", frames)
    code, _, stderr = run(capsys, "predict", str(water_dir), str(tmp_path / "in.xyz"), "-o",
                          str(tmp_path / "out.xyz"), "--length-unit", "bohr", "--energy-unit", "hartree")
    assert code == 0
    assert "EXTRAPOLATION WARNING" in stderr and "frames 1)" in stderr
    out = read_frames(tmp_path / "out.xyz")
    assert out[0].info["extrapolations"] == 0 and out[1].info["extrapolations"] > 0


@pytest.fixture
def bad_data(tmp_path, water_dir):
    text = (water_dir / "input.data").read_text().splitlines()
    return tmp_path, text


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_predict_errors_are_one_line_and_write_nothing(water_dir, bad_data, capsys):
    tmp, lines = bad_data
    out = tmp / "out.xyz"
    cases = []
    broken = list(lines)
    broken[6] = " ".join(broken[6].split()[:8])  # atom line with too few fields
    cases.append((_write(tmp / "short.data", broken), "short.data:7"))
    unknown = list(lines)
    unknown[5] = unknown[5].replace(" O ", " Na ")
    cases.append((_write(tmp / "na.data", unknown), "na.data frame 0: structure contains element(s) Na"))
    nan = list(lines)
    fields = nan[6].split()
    fields[2] = "nan"
    nan[6] = " ".join(fields)
    cases.append((_write(tmp / "nan.data", nan), "nan.data:7"))
    overlap = list(lines)
    overlap[7] = overlap[6].replace(" O ", " H ")
    cases.append((_write(tmp / "overlap.data", overlap), "overlap"))
    for path, expected in cases:
        code, _, stderr = run(capsys, "predict", str(water_dir), str(path), "-o", str(out),
                              "--length-unit", "bohr", "--energy-unit", "hartree")
        assert code == 2, path
        assert expected in stderr and stderr.count("\n") == 1, stderr
        assert not out.exists()
        assert not list(tmp.glob(".out.xyz*"))  # no temporary file left behind


def test_predict_bad_model(water_dir, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(water_dir, model, ignore=shutil.ignore_patterns("reference*", "sf_fixture", "train"))
    for p in model.iterdir():
        p.chmod(0o644)
    nn = model / "input.nn"
    nn.write_text(nn.read_text().replace("global_nodes_short              25 25",
                                         "global_nodes_short              25 24"))
    code, _, stderr = run(capsys, "predict", str(model), str(water_dir / "input.data"), "-o",
                          str(tmp_path / "o.xyz"), "--length-unit", "bohr", "--energy-unit", "hartree")
    assert code == 2 and "weights.001.data" in stderr and "27-25-24-1" in stderr
    (model / "scaling.data").unlink()
    code, _, stderr = run(capsys, "predict", str(model), str(water_dir / "input.data"), "-o",
                          str(tmp_path / "o.xyz"))
    assert code == 2 and "scaling.data" in stderr


def test_data_info_and_convert(shared_data, water_dir, tmp_path, capsys):
    code, stdout, _ = run(capsys, "data", "info", str(shared_data / "mlearn" / "Cu" / "test.xyz"))
    assert code == 0 and "AIMD-NVT" in stdout and "Cu 3178" in stdout
    code, stdout, _ = run(capsys, "data", "info", "--json", str(shared_data / "mlearn" / "Cu" / "test.xyz"))
    summary = json.loads(stdout)
    assert summary["n_frames"] == 31 and summary["elements"] == {"Cu": 3178}
    source = water_dir / "train" / "input.data"
    code, _, _ = run(capsys, "data", "convert", str(source), str(tmp_path / "w.xyz"),
                     "--length-unit", "bohr", "--energy-unit", "hartree")
    assert code == 0
    code, _, _ = run(capsys, "data", "convert", str(tmp_path / "w.xyz"), str(tmp_path / "input.data"),
                     "--out-length-unit", "bohr", "--out-energy-unit", "hartree")
    assert code == 0
    a = read_frames(source, length_unit="bohr", energy_unit="hartree")
    b = read_frames(tmp_path / "input.data", length_unit="bohr", energy_unit="hartree")
    assert len(a) == len(b) == 20
    for x, y in zip(a, b):
        np.testing.assert_allclose(y.atoms.positions, x.atoms.positions, rtol=1e-15)
        assert y.energy == pytest.approx(x.energy, rel=1e-15)
    code, _, stderr = run(capsys, "data", "info", str(tmp_path / "missing.xyz"))
    assert code == 2 and "missing.xyz: no such file" in stderr
    code, _, stderr = run(capsys, "data", "convert", str(source), str(tmp_path / "x.data"),
                          "--length-unit", "furlong")
    assert code == 2 and "unknown length unit 'furlong'" in stderr


def test_demo(capsys):
    code, stdout, _ = run(capsys, "demo", "--threads", "1")
    assert code == 0
    line = next(ln for ln in stdout.splitlines() if "energy error vs DFT" in ln)
    rmse = float(line.split("RMSE")[1].split()[0])
    # n2p2's own run on the same data: 2.87e-05 Ha/atom = 0.781 meV/atom (reference_train20)
    assert rmse == pytest.approx(2.87e-5 * Hartree * 1000, abs=0.002)


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "potforge.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("potforge ")


def test_predict_argument_and_output_errors(water_dir, tmp_path, capsys):
    args = [str(water_dir), str(water_dir / "input.data"), "--length-unit", "bohr",
            "--energy-unit", "hartree"]
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", *args, "-o", str(tmp_path / "o.xyz"), "--threads", "-3"])
    assert exit_info.value.code == 2 and "must be >= 0" in capsys.readouterr().err
    code, _, stderr = run(capsys, "predict", *args, "-o", str(tmp_path))
    assert code == 2 and "is a directory" in stderr and stderr.count("\n") == 1
    (tmp_path / "empty.xyz").write_text("")
    code, _, stderr = run(capsys, "predict", str(water_dir), str(tmp_path / "empty.xyz"), "-o",
                          str(tmp_path / "o.xyz"))
    assert code == 2 and "empty.xyz: holds no structures" in stderr
    assert not (tmp_path / "o.xyz").exists()


def test_predict_output_carries_provenance(water_dir, tmp_path, capsys):
    from potforge import __version__

    code, _, _ = run(capsys, "predict", str(water_dir), str(water_dir / "input.data"), "-o",
                     str(tmp_path / "o.xyz"), "--length-unit", "bohr", "--energy-unit", "hartree")
    info = read_frames(tmp_path / "o.xyz")[0].info
    assert code == 0 and info["potforge_version"] == __version__ and info["model"] == str(water_dir)


def test_a_closed_pipe_ends_quietly_not_in_a_traceback(shared_data):
    """`potforge data info FILE | head -1`: the reader closes the pipe early; potforge must end
    with SIGPIPE's status and no BrokenPipeError traceback."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "potforge.cli", "data", "info", str(shared_data / "mlearn" / "Cu" / "train.xyz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
