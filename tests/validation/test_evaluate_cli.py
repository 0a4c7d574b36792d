"""``potforge evaluate``: errors computed independently from predictions, JSON, report, plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from potforge.core.units import GPa

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo():
    from importlib import resources

    from potforge.data import Dataset
    from potforge.export import load_model

    root = resources.files("potforge") / "demo_data" / "H2O_RPBE-D3"
    model = load_model(root, length_unit="bohr", energy_unit="hartree")
    frames = list(Dataset.read(root / "reference.data", length_unit="bohr", energy_unit="hartree"))
    return root, model, frames


def test_metrics_equal_a_direct_computation(demo):
    from potforge.validation.evaluate import evaluate

    _, model, frames = demo
    result = evaluate(model, frames).to_dict()
    de, df = [], []
    for f in frames:
        p = model.predict(f.atoms)
        de.append((p.energy - f.energy) / f.n_atoms)
        df.append((p.forces - f.forces).ravel())
    de, df = np.array(de), np.concatenate(df)
    assert result["n_frames"] == len(frames)
    assert result["energy_rmse_mev_per_atom"] == pytest.approx(1000 * np.sqrt(np.mean(de ** 2)), rel=1e-10)
    assert result["energy_mae_mev_per_atom"] == pytest.approx(1000 * np.mean(np.abs(de)), rel=1e-10)
    assert result["force_rmse_ev_per_angstrom"] == pytest.approx(np.sqrt(np.mean(df ** 2)), rel=1e-10)
    assert result["stress_rmse_gpa"] is None  # the water data have no stress labels
    json.dumps(result, allow_nan=False)


def test_per_config_type_errors_combine_to_the_overall(tmp_path, demo):
    from potforge.validation.evaluate import evaluate

    _, model, frames = demo
    import copy

    frames = [copy.deepcopy(f) for f in frames]
    for k, f in enumerate(frames):
        f.config_type = "even" if k % 2 == 0 else "odd"
    result = evaluate(model, frames).to_dict()
    groups = result["by_config_type"]
    assert set(groups) == {"even", "odd"}
    mse = sum(g["n_frames"] * g["energy_rmse_mev_per_atom"] ** 2 for g in groups.values()) / len(frames)
    assert math.sqrt(mse) == pytest.approx(result["energy_rmse_mev_per_atom"], rel=1e-10)


def test_cli_json_report_and_errors(tmp_path, demo, capsys):
    from potforge.cli.main import main

    root, _, _ = demo
    args = ["evaluate", str(root), str(root / "reference.data"), "--length-unit", "bohr",
            "--energy-unit", "hartree"]
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("energy_rmse_mev_per_atom", "force_rmse_ev_per_angstrom", "stress_rmse_gpa", "n_frames"):
        assert key in out
    assert out["n_frames"] == 20
    report = tmp_path / "report"
    assert main(args + ["--report", str(report)]) == 0
    text = capsys.readouterr().out
    assert "RMSE" in text
    assert (report / "parity.png").read_bytes()[:8] == PNG
    md = (report / "report.md").read_text()
    assert f"{out['energy_rmse_mev_per_atom']:.3f}" in md and "parity.png" in md
    assert main(["evaluate", str(root), str(tmp_path / "missing.xyz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.xyz" in err


def test_help_has_an_example(capsys):
    from potforge.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--help"])
    assert info.value.code == 0 and "example" in capsys.readouterr().out


def test_plots_write_pngs(tmp_path):
    from potforge.training.records import LEARNING_CURVE_COLUMNS
    from potforge.validation.plots import cv_plot, learning_curve_plot, subset_curve_plot

    csv = tmp_path / "lc.csv"
    rows = [",".join(LEARNING_CURVE_COLUMNS)]
    for e in range(4):
        rows.append(f"{e},{e * 1.5},{10 / (e + 1)},{0.1 / (e + 1)},,{12 / (e + 1)},{0.12 / (e + 1)},,"
                    f"{1 / (e + 1)},{1.1 / (e + 1)},{int(e == 3)}")
    csv.write_text("\n".join(rows) + "\n")
    assert learning_curve_plot(csv, tmp_path / "lc.png").read_bytes()[:8] == PNG
    no_val = tmp_path / "lc2.csv"
    no_val.write_text("\n".join([rows[0]] + [",".join(r.split(",")[:5] + ["", "", "", r.split(",")[8], "", "0"])
                                             for r in rows[1:]]) + "\n")
    assert learning_curve_plot(no_val, tmp_path / "lc2.png").read_bytes()[:8] == PNG
    cv = [{"value": v, "energy_rmse_mean": 1 + v, "energy_rmse_std": 0.1, "force_rmse_mean": 0.05,
           "force_rmse_std": 0.01, "chosen": v == 1e-4} for v in (1e-6, 1e-4, 1e-2)]
    assert cv_plot(cv, "training.l2", tmp_path / "cv.png").read_bytes()[:8] == PNG
    sc = [{"n_train_frames": n, "train_energy_rmse": 1 / n, "test_energy_rmse": 2 / n,
           "train_force_rmse": 0.1 / n, "test_force_rmse": 0.2 / n} for n in (10, 20, 50)]
    assert subset_curve_plot(sc, tmp_path / "sc.png").read_bytes()[:8] == PNG


def test_stress_errors_in_gpa(tmp_path, shared_data):
    """A periodic data set with stress: the reported RMSE is the component RMSE in GPa."""
    from potforge.data import Dataset
    from potforge.export import load_model
    from potforge.validation.evaluate import evaluate

    model = load_model(shared_data / "n2p2" / "H2O_RPBE-D3", length_unit="bohr", energy_unit="hartree")
    frames = list(Dataset.read(shared_data / "n2p2" / "H2O_RPBE-D3" / "input.data",
                               length_unit="bohr", energy_unit="hartree"))[:2]
    rng = np.random.default_rng(0)
    for f in frames:
        f.stress = model.predict(f.atoms).stress + rng.normal(size=6) * 0.1 * GPa
    result = evaluate(model, frames).to_dict()
    expected = []
    for f in frames:
        expected.append((model.predict(f.atoms).stress - f.stress) / GPa)
    assert result["stress_rmse_gpa"] == pytest.approx(np.sqrt(np.mean(np.square(expected))), rel=1e-9)
