"""End to end: a YAML config → a trained model directory; resume after a kill; n2p2 export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from potforge.core.errors import ConfigError
from potforge.training.config import load_config, training_config
from potforge.training.fit import fit

from .conftest import cu_config


class Killed(Exception):
    pass


def _quiet(line: str) -> None:
    pass


@pytest.fixture
def trained(tmp_path, cu_files):
    train, test = cu_files
    config = training_config(cu_config(train, test))
    out = tmp_path / "run"
    return fit(config, out, log=_quiet), config, out


def test_fit_writes_a_self_describing_model_directory(trained, cu_frames):
    from potforge.models import load_potential

    result, config, out = trained
    for name in ("model.json", "arrays.npz", "config.yaml", "learning_curve.csv", "summary.json",
                 "training.log", "checkpoint.pt"):
        assert (out / name).exists(), name
    meta = json.loads((out / "model.json").read_text())
    assert meta["species"] == ["Cu"] and meta["units"]["energy"] == "eV"
    assert meta["config"]["model"]["network"]["hidden"] == [4, 4]
    assert meta["potforge_version"]
    # the resolved config reads back to the same config
    assert training_config(yaml.safe_load((out / "config.yaml").read_text())) == \
        training_config(config.plain())
    loaded = load_potential(out)
    for f in cu_frames[-2:]:
        a, b = loaded.predict(f.atoms), result.potential.predict(f.atoms)
        assert a.energy == pytest.approx(b.energy, rel=1e-14)  # thread counts may differ: order of sums
        np.testing.assert_allclose(a.forces, b.forces, rtol=0, atol=1e-13)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["n_frames"] > 0 and summary["test"]["energy_rmse_mev_per_atom"] > 0
    lines = (out / "learning_curve.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,time_s,train_energy_rmse_mev_per_atom")
    assert len(lines) == 1 + 1 + config.training.epochs
    # the best epoch's model is the one returned: its validation error is the minimum
    best = [l.split(",") for l in lines[1:] if l.endswith(",1")][-1]
    assert int(best[0]) == summary["best_epoch"]


def test_resume_after_a_kill_gives_the_identical_result(tmp_path, cu_files, trained):
    reference, config, _ = trained
    out = tmp_path / "killed"

    def kill_at_epoch_2(line: str) -> None:
        if line.startswith("epoch    2/"):
            raise Killed

    with pytest.raises(Killed):
        fit(config, out, log=kill_at_epoch_2)
    assert (out / "checkpoint.pt").exists() and not (out / "model.json").exists()
    with pytest.raises(ConfigError, match="--resume"):
        fit(config, out, log=_quiet)
    changed = training_config({**config.plain(), "training": {**config.plain()["training"], "l2": 0.5}})
    with pytest.raises(ConfigError, match="training.l2"):
        fit(changed, out, resume=True, log=_quiet)
    resumed = fit(config, out, resume=True, log=_quiet)
    assert torch.equal(resumed.model.theta, reference.model.theta)
    assert resumed.model.mean_energy == reference.model.mean_energy
    assert resumed.summary["best_epoch"] == reference.summary["best_epoch"]
    assert [r["train"] for r in resumed.history] == [r["train"] for r in reference.history]


@pytest.mark.parametrize("optimizer", [{"kind": "adam", "lr": 0.01, "batch_size": 3},
                                       {"kind": "lbfgs", "iterations": 3},
                                       {"kind": "kalman", "force_fraction": 0.05, "stress_fraction": 1.0}])
def test_optimizers_fit_stress_and_resume_exactly(tmp_path, cu_files, optimizer):
    train, _ = cu_files
    raw = cu_config(train)
    raw["training"].update(optimizer=optimizer, epochs=3)
    raw["loss"]["stress_sigma"] = "0.5 GPa"
    config = training_config(raw)
    reference = fit(config, tmp_path / "a", log=_quiet)
    first = reference.history[0]["validation_loss"]
    assert min(r["validation_loss"] for r in reference.history) < first
    if optimizer["kind"] == "kalman":  # stress measurements update the filter
        stress = [r["train"]["stress_rmse_gpa"] for r in reference.history]
        assert min(stress[1:]) < 0.8 * stress[0]

    def kill(line: str) -> None:
        if line.startswith("epoch    2/"):
            raise Killed

    with pytest.raises(Killed):
        fit(config, tmp_path / "b", log=kill)
    resumed = fit(config, tmp_path / "b", resume=True, log=_quiet)
    assert torch.equal(resumed.model.theta, reference.model.theta)


def test_n2p2_export_reimports_to_identical_predictions(trained, tmp_path, cu_frames):
    from potforge.cli.main import main
    from potforge.models.hdnnp.n2p2 import read_n2p2_model

    result, _, out = trained
    for unit in (("angstrom", "ev"), ("bohr", "hartree")):
        target = tmp_path / f"n2p2-{unit[0]}"
        assert main(["export", str(out), "--format", "n2p2", "-o", str(target),
                     "--length-unit", unit[0], "--energy-unit", unit[1]]) == 0
        assert {p.name for p in target.iterdir()} == {"input.nn", "scaling.data", "weights.029.data"}
        again = read_n2p2_model(target, length_unit=unit[0], energy_unit=unit[1])
        for f in cu_frames[-3:]:
            a, b = again.predict(f.atoms), result.potential.predict(f.atoms)
            assert a.energy == pytest.approx(b.energy, rel=1e-13, abs=1e-10)
            np.testing.assert_allclose(a.forces, b.forces, rtol=1e-11, atol=1e-12)


def test_train_cli_end_to_end(tmp_path, cu_files, capsys):
    from potforge.cli.main import main

    train, test = cu_files
    path = tmp_path / "config.yaml"
    raw = cu_config("train.xyz", "test.xyz")
    path.write_text(yaml.safe_dump(raw))
    (tmp_path / "train.xyz").write_bytes(train.read_bytes())
    (tmp_path / "test.xyz").write_bytes(test.read_bytes())
    out = tmp_path / "model"
    assert main(["train", str(path), "-o", str(out), "--set", "training.epochs=1"]) == 0
    text = capsys.readouterr().out
    assert "epoch    1/1" in text and "ETA" in text and "test: energy" in text
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["train", str(path), "-o", str(out)]) == 2  # refuses to overwrite a run
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err
    assert main(["train", str(path), "-o", str(tmp_path / "x"), "--set", "training.epoch=3"]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["train", "export"])
def test_help_shows_a_runnable_example(verb, capsys):
    from potforge.cli.main import main

    with pytest.raises(SystemExit) as info:
        main([verb, "--help"])
    assert info.value.code == 0
    assert "example" in capsys.readouterr().out


def test_example_configs_validate(shared_data):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    paths = sorted(examples.glob("*/config.yaml"))
    assert paths
    for path in paths:
        config = load_config(path)
        for name in config.data.train:
            assert config.path(name).exists(), (path, name)


def test_cross_validation_and_learning_curve_cli(tmp_path, cu_files, capsys):
    from potforge.cli.main import main

    train, test = cu_files
    path = tmp_path / "config.yaml"
    raw = cu_config(str(train), str(test))
    raw["training"]["epochs"] = 1
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "cv"
    assert main(["cv", str(path), "--folds", "3", "--grid", "training.l2=1e-6,10", "-o", str(out)]) == 0
    result = json.loads((out / "cv.json").read_text())
    assert [p["values"]["training.l2"] for p in result["points"]] == [1e-6, 10.0]
    assert len(result["folds"]) == 6
    # folds are disjoint and cover the pool: held-out frame counts add up per grid point
    from potforge.data import Dataset

    held = [f["held_out_frames"] for f in result["folds"] if f["point"] == 0]
    assert sum(held) == len(Dataset.read(train)) and min(held) > 0
    assert result["chosen"]["loss_mean"] == min(p["loss_mean"] for p in result["points"])
    assert (out / "cv.png").read_bytes()[:4] == b"\x89PNG"
    lc = tmp_path / "lc"
    assert main(["learning-curve", str(path), "--fractions", "0.5,1.0", "-o", str(lc)]) == 0
    rows = json.loads((lc / "learning_curve.json").read_text())["points"]
    assert [r["fraction"] for r in rows] == [0.5, 1.0]
    assert rows[0]["n_train_frames"] < rows[1]["n_train_frames"]
    assert (lc / "learning_curve.png").exists()
    assert main(["cv", str(path), "--grid", "training.l3=1,2", "-o", str(out)]) == 2
    assert "did you mean 'l2'" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["cv", "learning-curve"])
def test_help_of_validation_tools(verb, capsys):
    from potforge.cli.main import main

    with pytest.raises(SystemExit):
        main([verb, "--help"])
    assert "example" in capsys.readouterr().out


def test_top_level_fit_accepts_a_mapping_and_returns_the_potential(tmp_path, cu_files, cu_frames):
    import potforge
    from potforge.models.hdnnp.potential import HDNNP

    train, _ = cu_files
    raw = cu_config(train)
    potential = potforge.fit(raw, tmp_path / "m", overrides=["training.epochs=1"], log=_quiet)
    assert isinstance(potential, HDNNP)
    assert json.loads((tmp_path / "m" / "summary.json").read_text())["epochs_run"] == 1
    atoms = cu_frames[0].atoms.copy()
    atoms.calc = potforge.calculator(tmp_path / "m")
    assert atoms.get_potential_energy() == pytest.approx(potential.predict(atoms).energy, rel=1e-13)


def test_first_generation_model_trains_from_a_config(tmp_path):
    """model.kind hdnnp-1g through the same fit(): the shipped MP2 water surface, a few epochs."""
    from pathlib import Path

    from potforge.models import load_potential

    example = Path(__file__).resolve().parents[2] / "examples" / "h2o-1g" / "config.yaml"
    config = load_config(example, ["training.epochs=3", "training.optimizer.iterations=20",
                                   "model.hidden=[6]"])
    result = fit(config, tmp_path / "h2o", log=_quiet)
    assert result.summary["test"]["energy_rmse_mev_per_atom"] < result.history[0]["train"]["energy_rmse_mev_per_atom"]
    loaded = load_potential(tmp_path / "h2o")
    assert loaded.kind == "hdnnp-1g"
    from potforge.data import Dataset

    frame = Dataset.read(example.parent / "h2o_pes.xyz")[0]
    assert loaded.predict(frame.atoms).energy == pytest.approx(result.potential.predict(frame.atoms).energy,
                                                               rel=1e-14)


def test_run_killed_before_its_first_checkpoint_can_resume_or_restart(tmp_path, cu_files):
    train, _ = cu_files
    config = training_config(cu_config(train))

    def kill_in_first_epoch(line: str) -> None:
        if line.startswith("epoch    0/"):
            raise Killed

    for resume in (False, True):
        out = tmp_path / f"run{resume}"
        with pytest.raises(Killed):
            fit(config, out, log=kill_in_first_epoch)
        assert not (out / "checkpoint.pt").exists()
        result = fit(config, out, resume=resume, log=_quiet)
        assert result.summary["epochs_run"] == config.training.epochs


def test_bad_inputs_fail_before_training(tmp_path, cu_files, shared_data):
    train, _ = cu_files
    water = shared_data / "n2p2" / "H2O_RPBE-D3" / "input.data"
    raw = cu_config(train)
    raw["data"].update(test=str(water), length_unit="bohr", energy_unit="hartree")
    with pytest.raises(ConfigError, match="is read in Å and eV"):
        fit(training_config(raw), tmp_path / "a", log=_quiet)
    raw = cu_config(train)
    raw["data"]["test"] = str(water)
    raw["data"]["format"] = None
    lines = []
    with pytest.raises(ConfigError, match=r"^data.test: holds H, O"):
        fit(training_config(raw), tmp_path / "b", log=lines.append)
    assert not any(l.startswith("epoch") for l in lines)
    raw = cu_config(train)
    raw["model"]["networks"] = {"Cx": {"hidden": [2]}}
    with pytest.raises(ConfigError, match="^model.networks.Cx: not a model species"):
        fit(training_config(raw), tmp_path / "c", log=_quiet)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="not a directory"):
        fit(training_config(cu_config(train)), tmp_path / "file", log=_quiet)


def test_input_nn_file_brings_its_cutoff(tmp_path, shared_data, cu_files):
    from potforge.models.building import BuildContext
    from potforge.models.hdnnp.build import symmetry_functions_from_config

    def functions(config):
        ctx = BuildContext(model=config.model, kind="hdnnp", train=None, seed=0, threads=1,
                           log=_quiet, base_dir=config.base_dir)
        return symmetry_functions_from_config(config.model.symmetry_functions, ("Cu",), ctx)

    train, _ = cu_files
    raw = cu_config(train)
    raw["model"]["symmetry_functions"] = {
        "file": str(shared_data / "n2p2" / "mlearn_Cu_zuo_setting" / "input.nn"), "length_unit": "bohr"}
    sfs = functions(training_config(raw))
    assert {sf.cutoff_type for sf in sfs.functions["Cu"]} == {"cos"}  # cutoff_type 1 in that file
    assert sfs.n_functions("Cu") == 27
    raw["model"]["symmetry_functions"]["cutoff_type"] = "poly2"  # the config's choice wins
    sfs = functions(training_config(raw))
    assert {sf.cutoff_type for sf in sfs.functions["Cu"]} == {"poly2"}


def test_patience_stops_after_that_many_epochs_without_improvement(tmp_path, cu_files):
    train, _ = cu_files
    raw = cu_config(train)
    raw["training"].update(epochs=30, patience=1, optimizer={"kind": "adam", "lr": 0.5, "batch_size": 1})
    result = fit(training_config(raw), tmp_path / "p", log=_quiet)
    s = result.summary
    assert s["epochs_run"] == s["best_epoch"] + 1 < 30
    assert "no better validation loss for 1 epochs" in s["stop_reason"]


def test_cv_rejects_data_keys_and_scores_every_point_alike(tmp_path, cu_files):
    from potforge.training.crossval import cross_validate

    train, _ = cu_files
    config = training_config(cu_config(train, training={"epochs": 1}))
    with pytest.raises(ConfigError, match="^--grid data.split_seed"):
        cross_validate(config, 2, {"data.split_seed": [1, 2]}, tmp_path / "x", log=_quiet)
    result = cross_validate(config, 2, {"loss.force_sigma": [0.05, 5.0]}, tmp_path / "cv", log=_quiet)
    # every point is scored with the base config's sigmas (1 meV/atom, 0.05 eV/Å), not its own:
    # χ² per frame = (E RMSE / σ_E)² + (3 N_atoms / N_frames) (F RMSE / σ_F)²
    for row in result.folds:
        e = row["held_out_energy_rmse_mev_per_atom"] * 1e-3 / 1e-3
        f = row["held_out_force_rmse_ev_per_angstrom"] / 0.05
        expected = e ** 2 + 3 * row["held_out_atoms"] / row["held_out_frames"] * f ** 2
        assert row["held_out_loss"] == pytest.approx(expected, rel=1e-9)
