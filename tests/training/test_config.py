"""Config validation: unknown keys, types, quantities with units, overrides, round trip."""

from __future__ import annotations

import math

import pytest

from potforge.core.config import apply_overrides, parse_quantity
from potforge.core.errors import ConfigError
from potforge.core.units import GPa, Hartree, Bohr
from potforge.training.config import load_config, training_config

BASE = {"data": {"train": "/nonexistent/train.xyz"}}


def _error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        training_config(raw)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("raw, key, suggestion", [
    ({**BASE, "trainig": {}}, "trainig", "training"),
    ({**BASE, "loss": {"force_sigm": 0.1}}, "loss.force_sigm", "force_sigma"),
    ({**BASE, "training": {"epoch": 3}}, "training.epoch", "epochs"),
    ({**BASE, "training": {"optimizer": {"kind": "kalman", "force_fractoin": 0.1}}},
     "training.optimizer.force_fractoin", "force_fraction"),
    ({**BASE, "training": {"optimizer": {"kind": "adma"}}}, "training.optimizer.kind", "adam"),
    ({**BASE, "model": {"network": {"hiden": [4]}}}, "model.network.hiden", "hidden"),
    ({**BASE, "model": {"symmetry_functions": {"prune": {"max_corelation": 0.9}}}},
     "model.symmetry_functions.prune.max_corelation", "max_correlation"),
    ({"data": {"train": "x", "valdation": "y"}}, "data.valdation", "validation"),
])
def test_unknown_keys_name_the_key_and_suggest(raw, key, suggestion):
    message = _error(raw)
    assert message.startswith(key + ":")
    assert f"'{suggestion}'" in message


@pytest.mark.parametrize("raw, key", [
    ({**BASE, "training": {"epochs": 2.5}}, "training.epochs"),
    ({**BASE, "training": {"epochs": -1}}, "training.epochs"),
    ({**BASE, "loss": {"energy_sigma": "1 meV"}}, "loss.energy_sigma"),
    ({**BASE, "loss": {"force_sigma": "fast"}}, "loss.force_sigma"),
    ({**BASE, "loss": {"stress_components": ["xx", "zx"]}}, "loss.stress_components"),
    ({**BASE, "model": {"network": {"hidden": "8"}}}, "model.network.hidden"),
    ({**BASE, "model": {"init": "xavier"}}, "model.init"),
    ({**BASE, "model": {"kind": "hdnnq"}}, "model.kind"),
    ({**BASE, "model": {"symmetry_functions": {"n2p2": ["Cu 2 Cu 1 0 4"], "file": "input.nn"}}},
     "model.symmetry_functions"),
    ({**BASE, "training": {"optimizer": {"kind": "adam", "lr": "big"}}}, "training.optimizer.lr"),
    ({"data": {}}, "data.train"),
    ({**BASE, "loss": {"energy_sigma": None, "force_sigma": None}}, "loss"),
    ({**BASE, "data": {"train": "x", "validation_fraction": 0.6, "test_fraction": 0.5}}, "data"),
    ({**BASE, "data": {"train": "x", "energy_unit": "kcal"}}, "data.energy_unit"),
    ({**BASE, "training": {"optimizer": {"kind": "kalman", "epsilon": -1}}}, "training.optimizer"),
    ({**BASE, "training": {"optimizer": {"kind": "adam", "betas": [0.9]}}}, "training.optimizer.betas"),
    ({**BASE, "training": {"optimizer": {"kind": "lbfgs", "history": 0}}}, "training.optimizer.history"),
    ({**BASE, "training": {"patience": 0}}, "training.patience"),
    ({**BASE, "training": {"max_time": "-1 min"}}, "training.max_time"),
    ({**BASE, "model": {"network": {"activation": "x"}}}, "model.network.activation"),
    ({**BASE, "model": {"scaling": {"min": 1, "max": 1}}}, "model.scaling"),
    ({**BASE, "model": {"symmetry_functions": {"cutoff_type": "cosine"}}}, "model.symmetry_functions.cutoff_type"),
    ({**BASE, "model": {"symmetry_functions": {"cutoff_alpha": 1.5}}}, "model.symmetry_functions.cutoff_alpha"),
    ({**BASE, "model": {"species": ["Cu"], "networks": {"Ni": {"hidden": [4]}}}}, "model.networks.Ni"),
    ({**BASE, "loss": {"stress_components": []}}, "loss.stress_components"),
])
def test_bad_values_are_one_line_errors_naming_the_key(raw, key):
    assert _error(raw).startswith(key)


def test_quantities_convert_to_internal_units():
    assert parse_quantity("1 meV/atom", "energy_per_atom", "k") == pytest.approx(1e-3)
    assert parse_quantity(0.002, "energy_per_atom", "k") == 0.002
    assert parse_quantity("0.1 Ha/Bohr", "force", "k") == pytest.approx(0.1 * Hartree / Bohr)
    assert parse_quantity("0.03 eV/A", "force", "k") == pytest.approx(0.03)
    assert parse_quantity(0.5, "stress", "k") == pytest.approx(0.5 * GPa)  # plain numbers: GPa
    assert parse_quantity("2 kbar", "stress", "k") == pytest.approx(0.2 * GPa)
    assert parse_quantity("10 min", "time", "k") == 600.0
    assert parse_quantity("7.7 bohr", "length", "k") == pytest.approx(7.7 * Bohr)
    with pytest.raises(ConfigError, match="unknown unit"):
        parse_quantity("3 furlong", "length", "model.cutoff")
    with pytest.raises(ConfigError, match="finite"):
        parse_quantity(math.inf, "length", "model.cutoff")


def test_resolved_config_reads_back_identically():
    raw = {**BASE, "loss": {"energy_sigma": "2 meV/atom", "stress_sigma": 0.1,
                            "stress_components": ["xx", "yy", "zz"]},
           "model": {"symmetry_functions": {"preset": {"cutoff": "9 bohr"}}, "networks": {"Cu": {"hidden": [3]}}},
           "training": {"max_time": "5 min", "optimizer": {"kind": "adam", "lr": 1e-3}}}
    config = training_config(raw)
    again = training_config(config.plain())
    assert again == config
    assert config.training.max_time == 300.0
    assert config.loss.stress_sigma == pytest.approx(0.1 * GPa)


def test_overrides_set_nested_keys_and_parse_yaml(tmp_path):
    raw = apply_overrides({"training": {"epochs": 3}}, ["training.epochs=7", "training.l2=1e-5",
                                                        "loss.force_sigma=0.05 eV/Å",
                                                        "model.network.hidden=[3, 2]"])
    assert raw["training"] == {"epochs": 7, "l2": 1e-5}
    assert raw["loss"]["force_sigma"] == "0.05 eV/Å"
    assert raw["model"]["network"]["hidden"] == [3, 2]
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["training.epochs"])
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides({"training": 3}, ["training.epochs=1"])
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: t.xyz\ntraining:\n  epochs: 4\n")
    config = load_config(path, ["training.epochs=9"])
    assert config.training.epochs == 9
    assert config.path(config.data.train[0]) == tmp_path / "t.xyz"  # relative to the config file


def test_yaml_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  train: [a.xyz\nloss: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")


def test_loss_noise_file_gives_the_measured_levels_and_keys_beside_it_win(tmp_path):
    # the file exactly as potforge converge writes it (cli/converge.py)
    (tmp_path / "noise.yaml").write_text("loss:\n  energy_sigma: 0.25 meV/atom\n  force_sigma: 0.004 eV/Å\n"
                                         "  stress_sigma: 0.03 GPa\n", encoding="utf-8")
    config = training_config({**BASE, "loss": {"noise_file": "noise.yaml", "force_sigma": "0.01 eV/Å"}},
                             base_dir=tmp_path)
    assert config.loss.energy_sigma == pytest.approx(0.25e-3)
    assert config.loss.stress_sigma == pytest.approx(0.03 * GPa)
    assert config.loss.force_sigma == pytest.approx(0.01)       # the config's own key wins
    assert training_config(config.plain(), base_dir=tmp_path) == config
    with pytest.raises(ConfigError, match=r"loss.noise_file: .*missing.yaml: no such file"):
        training_config({**BASE, "loss": {"noise_file": "missing.yaml"}}, base_dir=tmp_path)
    (tmp_path / "bad.yaml").write_text("energy_sigma: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping 'loss:'"):
        training_config({**BASE, "loss": {"noise_file": "bad.yaml"}}, base_dir=tmp_path)
    (tmp_path / "typo.yaml").write_text("loss:\n  force_sigm: 0.01\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"typo.yaml: key loss.force_sigm is not one of"):
        training_config({**BASE, "loss": {"noise_file": "typo.yaml"}}, base_dir=tmp_path)
