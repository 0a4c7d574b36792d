"""Charge RMSEs (me) reach the learning curve (csv and plot) and the cross-validation
outputs (cv.json, cv.csv, the log lines) of a charge model; other models' files keep their
columns."""

from __future__ import annotations

import json
import math

import pytest

from potforge.training.records import LEARNING_CURVE_COLUMNS, learning_curve_columns
from potforge.training.run_files import write_learning_curve

UNITS = dict(length_unit="bohr", energy_unit="hartree")


def _record(charge):
    metrics = {"energy_rmse_mev_per_atom": 1.0, "force_rmse_ev_per_angstrom": 0.1, "stress_rmse_gpa": math.nan}
    if charge is not None:
        metrics["charge_rmse_me"] = charge
    return {"epoch": 0, "time": 0.0, "train": metrics, "validation": None, "train_loss": 1.0,
            "validation_loss": None, "best": True}


def test_learning_curve_columns_of_other_models_are_unchanged(tmp_path):
    write_learning_curve(tmp_path / "a.csv", [_record(None)])
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == ",".join(LEARNING_CURVE_COLUMNS)
    write_learning_curve(tmp_path / "b.csv", [_record(12.5)])
    header, row = (tmp_path / "b.csv").read_text().splitlines()
    assert header == ",".join(learning_curve_columns(True))
    assert dict(zip(header.split(","), row.split(",")))["train_charge_rmse_me"] == "12.5"


@pytest.fixture
def chains(shared_data, tmp_path):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    lines = (root / "train" / "input.data").read_text().splitlines(keepends=True)
    ends = [k for k, line in enumerate(lines) if line.startswith("end")]
    (tmp_path / "input.data").write_text("".join(lines[:ends[7] + 1]))  # 8 chains
    return {"data": {"train": str(tmp_path / "input.data"), "validation_fraction": 0.25, **UNITS},
            "model": {"kind": "hdnnp-4g", "stage": 1, "electronegativity_network": {"hidden": [4]},
                      "symmetry_functions": {"preset": {"cutoff": 4.0, "n_radial": 3, "n_angular": 1}}},
            "loss": {"energy_sigma": None, "force_sigma": None, "charge_sigma": 0.01},
            "training": {"epochs": 1, "optimizer": {"kind": "lbfgs", "iterations": 3}}}


def test_stage1_learning_curve_and_cv_hold_charge_rmse(chains, tmp_path, monkeypatch):
    from potforge.training.config import training_config
    from potforge.training.crossval import cross_validate
    from potforge.training.fit import fit
    from potforge.validation import plots

    fit(training_config(chains), tmp_path / "run", log=lambda line: None)
    rows = plots.read_learning_curve(tmp_path / "run" / "learning_curve.csv")
    assert all(math.isfinite(r["train_charge_rmse_me"]) and math.isfinite(r["validation_charge_rmse_me"])
               for r in rows)
    assert all(math.isnan(r["train_energy_rmse_mev_per_atom"]) for r in rows)

    def no_empty(path, text):
        raise AssertionError(text)

    monkeypatch.setattr(plots, "_empty", no_empty)
    plots.learning_curve_plot(tmp_path / "run" / "learning_curve.csv", tmp_path / "lc.png")

    lines: list[str] = []
    result = cross_validate(training_config(chains), 2, {}, tmp_path / "cv", log=lines.append)
    assert all(math.isfinite(r["held_out_charge_rmse_me"]) for r in result.folds)
    point = json.loads((tmp_path / "cv" / "cv.json").read_text())["points"][0]
    assert point["charge_rmse_me_mean"] > 0
    assert "charge_rmse_me_mean" in (tmp_path / "cv" / "cv.csv").read_text().splitlines()[0]
    assert "charges " in lines[-2] and " me" in lines[-2]
    plots.cv_plot([{"value": 1.0, "charge_rmse_mean": point["charge_rmse_me_mean"],
                    "charge_rmse_std": point["charge_rmse_me_std"]}], "x", tmp_path / "cv.png")

    # evaluate of the stage-1 (charges-only) model: a note, no energy/force errors, a charge panel
    from potforge.data.io import read_frames
    from potforge.models import load_potential
    from potforge.validation.evaluate import charges_only, evaluate

    pot = load_potential(tmp_path / "run")
    assert charges_only(pot) and not charges_only(object())
    frames = read_frames(chains["data"]["train"], **UNITS)[:3]
    result = evaluate(pot, frames)
    assert "charges-only" in result.note and result.to_dict()["note"] == result.note
    assert math.isnan(result.metrics.energy_rmse_mev_per_atom) and result.reference_forces.size == 0
    assert result.metrics.charge_rmse_me > 0
    sizes = []
    real_figure = plots._figure
    monkeypatch.setattr(plots, "_figure", lambda n, *a, **k: sizes.append(n) or real_figure(n, *a, **k))
    plots.parity_plots(result, tmp_path / "parity.png")
    assert sizes == [1]  # the charge panel alone
