"""potforge evaluate: errors of a model on labelled data, per config_type, JSON, plots, report.

Uses the shipped demo (n2p2's water model and its 20 DFT boxes, Bohr/Hartree)."""

from __future__ import annotations

import json
import shutil
import struct
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from potforge.cli.main import main
from potforge.core.errors import DataFormatError
from potforge.core.units import GPa, Hartree
from potforge.data.frame import Frame
from potforge.data.io import read_frames
from potforge.export import load_model
from potforge.validation.evaluate import EvaluationResult, evaluate
from potforge.validation.report import write_report
from potforge.validation.plots import cv_plot, learning_curve_plot, subset_curve_plot

DEMO = Path(str(files("potforge") / "demo_data" / "H2O_RPBE-D3"))
UNITS = {"length_unit": "bohr", "energy_unit": "hartree"}
CLI_UNITS = ["--length-unit", "bohr", "--energy-unit", "hartree"]
TYPES = ["liquid"] * 8 + ["ice"] * 7 + [None] * 5  # config_types given to the 20 demo frames


def _relabel(frame: Frame, **changes) -> Frame:
    args = dict(atoms=frame.atoms, energy=frame.energy, forces=frame.forces, stress=frame.stress,
                config_type=frame.config_type, group=frame.group)
    args.update(changes)
    return Frame(**args)


@pytest.fixture(scope="module")
def model():
    return load_model(DEMO, **UNITS).configure(n_threads=1)


@pytest.fixture(scope="module")
def frames():
    frames = read_frames(DEMO / "reference.data", **UNITS)
    assert len(frames) == len(TYPES)
    return [_relabel(f, config_type=t) for f, t in zip(frames, TYPES)]


@pytest.fixture(scope="module")
def result(model, frames) -> EvaluationResult:
    return evaluate(model, frames, n_threads=1)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) > 1000
    return struct.unpack(">II", data[16:24])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# -- the library function -------------------------------------------------------------------------
def test_errors_equal_a_computation_by_hand(model, frames, result):
    de, df = [], []
    for f in frames:
        p = model.predict(f.atoms, forces=True, stress=False)
        de.append((p.energy - f.energy) / len(f.atoms))
        df.append(p.forces - f.forces)
    de, df = np.array(de) * 1000, np.concatenate(df)
    m = result.metrics
    assert m.energy_rmse_mev_per_atom == pytest.approx(np.sqrt(np.mean(de**2)), rel=1e-12)
    assert m.energy_mae_mev_per_atom == pytest.approx(np.mean(np.abs(de)), rel=1e-12)
    assert m.energy_max_mev_per_atom == pytest.approx(np.abs(de).max(), rel=1e-12)
    assert m.force_rmse_ev_per_angstrom == pytest.approx(np.sqrt(np.mean(df**2)), rel=1e-12)
    assert m.force_mae_ev_per_angstrom == pytest.approx(np.mean(np.abs(df)), rel=1e-12)
    assert m.force_max_ev_per_angstrom == pytest.approx(np.abs(df).max(), rel=1e-12)
    # n2p2's own run on these data: 2.87e-05 Ha/atom (see tests/cli/test_cli.py::test_demo)
    assert m.energy_rmse_mev_per_atom == pytest.approx(2.87e-5 * Hartree * 1000, abs=0.002)
    assert (m.n_frames, m.n_atoms, m.n_force_components) == (20, 2064, 3 * 2064)
    assert result.n_frames == 20 and result.n_atoms == 2064
    # per-frame arrays
    np.testing.assert_allclose(result.predicted_energy_per_atom - result.reference_energy_per_atom,
                               de / 1000, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.predicted_forces - result.reference_forces, df.ravel(), atol=1e-12)
    assert result.reference_forces.shape == result.force_frame.shape == (3 * 2064,)
    assert result.force_frame[0] == 0 and result.force_frame[-1] == 19
    assert result.config_types[0] == "liquid" and result.config_types[-1] == "(none)"


def test_per_config_type_errors_combine_to_the_overall(result):
    groups = result.by_config_type
    assert list(groups) == ["(none)", "ice", "liquid"]
    assert [groups[k].n_frames for k in ("liquid", "ice", "(none)")] == [8, 7, 5]
    assert sum(g.n_atoms for g in groups.values()) == result.n_atoms
    n_e = np.array([g.n_frames_with_energy for g in groups.values()])
    e_mse = np.array([g.energy_rmse_mev_per_atom**2 for g in groups.values()])
    assert np.sqrt(n_e @ e_mse / n_e.sum()) == pytest.approx(result.metrics.energy_rmse_mev_per_atom, rel=1e-12)
    n_f = np.array([g.n_force_components for g in groups.values()])
    f_mse = np.array([g.force_rmse_ev_per_angstrom**2 for g in groups.values()])
    assert np.sqrt(n_f @ f_mse / n_f.sum()) == pytest.approx(result.metrics.force_rmse_ev_per_angstrom, rel=1e-12)
    assert max(g.energy_max_mev_per_atom for g in groups.values()) == result.metrics.energy_max_mev_per_atom
    # the groups differ, so a mix-up between them would show
    assert len({round(g.energy_rmse_mev_per_atom, 9) for g in groups.values()}) == 3


def test_json_has_the_keys_and_null_for_missing_stress(result):
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    for key in ("energy_rmse_mev_per_atom", "energy_mae_mev_per_atom", "force_rmse_ev_per_angstrom",
                "force_mae_ev_per_angstrom", "stress_rmse_gpa", "stress_mae_gpa", "n_frames", "n_atoms"):
        assert key in d and key in d["by_config_type"]["ice"]
    assert d["n_frames"] == 20 and d["by_config_type"]["liquid"]["n_frames"] == 8
    assert d["energy_rmse_mev_per_atom"] == pytest.approx(result.metrics.energy_rmse_mev_per_atom)
    assert d["stress_rmse_gpa"] is None and d["stress_max_gpa"] is None  # the demo has no stress labels
    assert d["by_config_type"]["ice"]["stress_mae_gpa"] is None
    assert d["n_extrapolations"] == 0


def test_stress_labels_and_partial_labels(model, frames, tmp_path):
    offset = np.array([1.0, -2.0, 0.5, 0.0, 0.25, -0.5]) * GPa
    subset = []
    for k, f in enumerate(frames[:4]):
        p = model.predict(f.atoms, forces=False, stress=True)
        # frames 0, 1 get stress labels (prediction − offset); frame 2 loses its energy
        subset.append(_relabel(f, stress=p.stress - offset if k < 2 else None,
                               energy=None if k == 2 else f.energy,
                               config_type="stressed" if k < 2 else "plain"))
    r = evaluate(model, subset)
    expected = np.abs(offset / GPa)
    assert r.metrics.stress_rmse_gpa == pytest.approx(np.sqrt(np.mean(expected**2)), rel=1e-9)
    assert r.metrics.stress_mae_gpa == pytest.approx(expected.mean(), rel=1e-9)
    assert r.metrics.stress_max_gpa == pytest.approx(2.0, rel=1e-9)
    assert r.reference_stress.shape == (2, 6) and list(r.stress_frame) == [0, 1]
    assert r.metrics.n_frames_with_energy == 3 and np.isnan(r.reference_energy_per_atom[2])
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["by_config_type"]["plain"]["stress_rmse_gpa"] is None
    assert d["by_config_type"]["stressed"]["stress_rmse_gpa"] == pytest.approx(r.metrics.stress_rmse_gpa)
    # three panels (energy, forces, stress) against two without stress labels
    write_report(r, tmp_path / "with", title="t", model_path="m", data_path="d")
    write_report(evaluate(model, frames[2:4]), tmp_path / "without", title="t", model_path="m",
                 data_path="d")
    w3, _ = _png_size(tmp_path / "with" / "parity.png")
    w2, _ = _png_size(tmp_path / "without" / "parity.png")
    assert w3 / w2 == pytest.approx(1.5, rel=0.02)


def test_unlabelled_or_empty_data_is_an_error(model, frames):
    with pytest.raises(DataFormatError, match="no frame has an energy, forces or stress label"):
        evaluate(model, [_relabel(frames[0], energy=None, forces=None)], source="x.xyz")
    with pytest.raises(DataFormatError, match="holds no structures"):
        evaluate(model, [])


# -- plots ---------------------------------------------------------------------------------------
HEADER = ("epoch,time_s,train_energy_rmse_mev_per_atom,train_force_rmse_ev_per_angstrom,"
          "train_stress_rmse_gpa,validation_energy_rmse_mev_per_atom,"
          "validation_force_rmse_ev_per_angstrom,validation_stress_rmse_gpa,train_loss,"
          "validation_loss,best")


def _curve_csv(path: Path, validation: bool) -> Path:
    lines = [HEADER]
    best_seen = np.inf
    for epoch in range(1, 13):
        e, f = 10.0 / epoch, 0.5 / np.sqrt(epoch)
        ve, vf = (e * 1.2 + 0.05 * (epoch - 8) ** 2 / 8, f * 1.1) if validation else (None, None)
        loss = ve if validation else e
        best = int(loss < best_seen)
        best_seen = min(best_seen, loss)
        val = f"{ve},{vf},," if validation else ",,,"
        lines.append(f"{epoch},{epoch * 0.3},{e},{f},,{val}{e * 2},{loss if validation else ''},{best}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_learning_curve_columns_match_the_writer():
    # fit() writes the columns plots.py reads; importing them must not pull in torch
    import subprocess
    import sys

    from potforge.training.records import LEARNING_CURVE_COLUMNS as written
    from potforge.validation.plots import LEARNING_CURVE_COLUMNS as read

    assert read == written and HEADER == ",".join(written)
    code = "import sys, potforge.validation.plots; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("validation", [True, False])
def test_learning_curve_plot(tmp_path, validation):
    csv_path = _curve_csv(tmp_path / "learning_curve.csv", validation)
    out = learning_curve_plot(csv_path, tmp_path / "curve.png")
    width, height = _png_size(out)
    assert width > height  # energy and force panels side by side (no stress values)
    import csv

    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    _png_size(learning_curve_plot(rows, tmp_path / "rows.png"))


def test_learning_curve_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("step,loss\n1,2\n")
    with pytest.raises(DataFormatError, match="bad.csv.*lack 'epoch'"):
        learning_curve_plot(bad, tmp_path / "x.png")
    bad.write_text(HEADER + "\n1,0.1,abc,,,,,,,,0\n")
    with pytest.raises(DataFormatError, match="bad.csv:2"):
        learning_curve_plot(bad, tmp_path / "x.png")
    with pytest.raises(DataFormatError, match="no such file"):
        learning_curve_plot(tmp_path / "missing.csv", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_cv_and_subset_plots(tmp_path):
    numeric = [{"value": v, "energy_rmse_mean": 1 + abs(np.log10(v) + 3), "energy_rmse_std": 0.1,
                "force_rmse_mean": 0.05 + 0.01 * abs(np.log10(v) + 3), "force_rmse_std": 0.005}
               for v in (1e-5, 1e-4, 1e-3, 1e-2)]
    _png_size(cv_plot(numeric, "weight_decay", tmp_path / "cv.png", chosen=1e-3))
    categorical = [{"value": a, "energy_rmse_mean": m, "energy_rmse_std": 0.2, "force_rmse_mean": None,
                    "force_rmse_std": None, "chosen": a == "tanh"}
                   for a, m in (("tanh", 1.0), ("softplus", 1.3), ("silu", 1.1))]
    w_cat, _ = _png_size(cv_plot(categorical, "activation", tmp_path / "cv_cat.png"))
    w_num, _ = _png_size(tmp_path / "cv.png")
    assert w_num / w_cat == pytest.approx(2.0, rel=0.02)  # no force values: one panel
    rows = [{"n_train_frames": n, "train_energy_rmse": 0.5 + 5 / n, "test_energy_rmse": 1 + 20 / n,
             "train_force_rmse": 0.03, "test_force_rmse": 0.04 + 1 / n} for n in (10, 30, 100, 300)]
    _png_size(subset_curve_plot(rows, tmp_path / "subset.png"))


# -- the command line -----------------------------------------------------------------------------
def test_cli_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "example" in out and "demo_data/H2O_RPBE-D3" in out


def test_cli_table_json_and_report(tmp_path, capsys, result):
    model_dir = tmp_path / "model"
    shutil.copytree(DEMO, model_dir)
    _curve_csv(model_dir / "learning_curve.csv", validation=True)
    data = DEMO / "reference.data"
    code, out, _ = run(capsys, "evaluate", model_dir, data, *CLI_UNITS, "--threads", "1")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("all "))
    assert row.split()[1:4] == ["20", "2064", "0.780"]

    report = tmp_path / "report"
    code, out, err = run(capsys, "evaluate", model_dir, data, *CLI_UNITS, "--json", "--report", report)
    assert code == 0
    d = json.loads(out)  # exactly one JSON object on stdout
    assert d["n_frames"] == 20 and d["stress_rmse_gpa"] is None and "(none)" in d["by_config_type"]
    assert "report.md" in err
    _png_size(report / "parity.png")
    _png_size(report / "learning_curve.png")
    text = (report / "report.md").read_text()
    assert f"{d['energy_rmse_mev_per_atom']:.3f}" in text and "0.0381" in text
    assert "parity.png" in text and "learning_curve.png" in text
    assert json.loads((report / "metrics.json").read_text())["n_frames"] == 20
    assert not list(report.glob(".*tmp"))


def test_cli_errors_are_one_line(tmp_path, capsys):
    for argv, expected in (
            ([DEMO, tmp_path / "missing.xyz"], "missing.xyz: no such file"),
            ([tmp_path / "nomodel", DEMO / "reference.data"], "nomodel: not a directory")):
        code, out, err = run(capsys, "evaluate", *argv, *CLI_UNITS)
        assert code == 2 and expected in err and err.count("\n") == 1 and out == "", err
    report_file = tmp_path / "file"
    report_file.write_text("x")
    code, _, err = run(capsys, "evaluate", DEMO, DEMO / "reference.data", *CLI_UNITS, "--report", report_file)
    assert code == 2 and "is not a directory" in err and err.count("\n") == 1
