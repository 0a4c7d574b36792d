"""``loss.stress_offset``: a constant hydrostatic offset in the stress labels (Pulay stress),
fixed or fitted with the model, per training file; recorded in the model and the summary.

Sign (issue 15, as ``potforge data check`` prints it): s is the stress that, ADDED to the labels,
makes them consistent; labels that carry +2 GPa (tensile, like mlearn Cu's) give s = −2 GPa."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from ase.units import GPa

from potforge.core.errors import ConfigError
from potforge.training.config import training_config
from potforge.training.fit import fit

from ..models import classical_cases as cc
from .conftest import CU_FUNCTIONS


class Killed(Exception):
    pass


def _quiet(line: str) -> None:
    pass


def _frames(n: int, seed: int, label_offset_gpa: float, truth=None) -> list:
    """Strained, rattled fcc Cu cells labelled by a Morse pair potential, with
    ``label_offset_gpa`` added to the normal stress labels (as Pulay stress would be): the
    offset s that corrects them is ``−label_offset_gpa``."""
    truth = truth or cc.pair_model("morse")
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = bulk("Cu", "fcc", 3.61 * (0.97 + 0.06 * k / max(n - 1, 1)), cubic=True).repeat((1, 1, 2))
        a.rattle(0.04, seed=int(rng.integers(1 << 30)))
        a.set_cell(np.asarray(a.cell) @ (np.eye(3) + 0.02 * rng.standard_normal((3, 3))), scale_atoms=True)
        p = truth.predict(a)
        stress = p.stress.copy()
        stress[:3] += label_offset_gpa * GPa
        a.calc = SinglePointCalculator(a, energy=p.energy - 3.0 * len(a), forces=p.forces, stress=stress)
        a.info["config_type"] = "strained"
        out.append(a)
    return out


def _config(train, test=None, offset="fit", epochs=4, **loss) -> dict:
    raw = {"data": {"train": train, "validation_fraction": 0.0},
           "model": {"kind": "pair", "cutoff": 5.0,
                     "pair": {"Cu-Cu": {"form": "morse", "D0": 0.3, "alpha": 1.2, "r0": 2.7}}},
           "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å", "stress_sigma": "1 GPa",
                    "stress_offset": offset, **loss},
           "training": {"epochs": epochs, "threads": 1, "optimizer": {"kind": "lsq", "max_iterations": 20}}}
    if test is not None:
        raw["data"]["test"] = str(test)
    return raw


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("offset")
    write(d / "train.xyz", _frames(6, 0, 2.0))
    write(d / "test.xyz", _frames(3, 1, 2.0))
    return d / "train.xyz", d / "test.xyz"


@pytest.fixture(scope="module")
def fitted(files, tmp_path_factory):
    train, test = files
    out = tmp_path_factory.mktemp("fit") / "model"
    lines: list[str] = []
    result = fit(training_config(_config(str(train), test)), out, log=lines.append)
    return result, out, lines


def test_fit_recovers_the_offset_and_beats_none(files, fitted):
    train, test = files
    result, out, lines = fitted
    facts = result.summary["stress_offset"]
    assert facts["mode"] == "fit"
    assert facts["values_gpa"] == {str(train): pytest.approx(-2.0, abs=0.01)}
    # the model is the truth again: errors against the corrected labels vanish, the raw ones are the offset
    assert result.summary["train"]["energy_rmse_mev_per_atom"] < 0.05
    assert result.summary["test"]["stress_rmse_gpa"] < 0.01
    assert facts["raw"]["test"]["stress_rmse_gpa"] == pytest.approx(2.0 * np.sqrt(3 / 6), abs=0.02)
    assert "one fitted offset" in facts["applied"]["test"]
    none = fit(training_config(_config(str(train), test, offset="none")), None, log=_quiet)
    assert none.summary["stress_offset"] == {"mode": "none"}
    for term in ("energy_rmse_mev_per_atom", "stress_rmse_gpa"):   # none must bend the model
        assert none.summary["test"][term] > 10 * result.summary["test"][term] + 0.05
    assert any(line.startswith("stress offset (fit): s = -2.0") and "added to the stress labels" in line
               for line in lines)
    assert any("s -2.0" in line for line in lines if line.startswith("epoch    4/"))


def test_the_model_states_its_offset(fitted):
    result, out, _ = fitted
    model = json.loads((out / "model.json").read_text())
    recorded = json.dumps(model)
    assert '"stress_offset"' in recorded and "added to the stress labels" in recorded
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["stress_offset"]["values_gpa"].values()) == [pytest.approx(-2.0, abs=0.01)]
    from potforge.models import load_potential

    again = load_potential(out)
    assert again.metadata["stress_offset"]["values_gpa"] == summary["stress_offset"]["values_gpa"]


def test_evaluate_reports_the_stress_against_corrected_labels(files, fitted, capsys):
    from potforge.cli.main import main
    from potforge.data import Dataset
    from potforge.models import load_potential
    from potforge.validation.evaluate import evaluate

    _, test = files
    _, out, _ = fitted
    result = evaluate(load_potential(out), Dataset.read(test))
    assert result.metrics.stress_rmse_gpa == pytest.approx(2.0 * np.sqrt(3 / 6), abs=0.02)   # as given
    assert result.stress_offset["offset_gpa"] == pytest.approx(-2.0, abs=0.01)
    assert result.stress_offset["stress_rmse_gpa"] < 0.01
    assert main(["evaluate", str(out), str(test), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stress_offset"]["stress_rmse_gpa"] < 0.01
    assert "fitted to stress labels + s·I" in captured.err


def test_fixed_offset_is_applied_to_every_set(files):
    train, test = files
    result = fit(training_config(_config(str(train), test, offset="-20 kbar")), None, log=_quiet)
    facts = result.summary["stress_offset"]
    assert facts["mode"] == "fixed" and facts["values_gpa"] == {"all data": pytest.approx(-2.0)}
    assert result.summary["test"]["stress_rmse_gpa"] < 0.01
    assert "fixed offset -2 GPa" in facts["applied"]["test"]


def test_one_offset_per_training_file(tmp_path):
    write(tmp_path / "a.xyz", _frames(4, 2, 2.0))
    write(tmp_path / "b.xyz", _frames(4, 3, -1.0))
    write(tmp_path / "c.xyz", _frames(2, 4, 0.0))
    raw = _config([str(tmp_path / "a.xyz"), str(tmp_path / "b.xyz")], tmp_path / "c.xyz", epochs=5)
    result = fit(training_config(raw), None, log=_quiet)
    values = result.summary["stress_offset"]["values_gpa"]
    assert values == {str(tmp_path / "a.xyz"): pytest.approx(-2.0, abs=0.02),
                      str(tmp_path / "b.xyz"): pytest.approx(1.0, abs=0.02)}
    # a test file from elsewhere gets no correction when the sources disagree: its raw labels
    assert "none (several offsets were fitted)" in result.summary["stress_offset"]["applied"]["test"]
    assert result.summary["test"]["stress_rmse_gpa"] < 0.02


@pytest.mark.parametrize("loss, match", [
    ({"stress_offset": "fitt"}, "expected none, fit or a stress"),
    ({"stress_offset": "-2 furlongs"}, "unknown unit 'furlongs'"),
    ({"stress_offset": "nan GPa"}, "finite"),
    ({"stress_offset": True}, "expected a number or a string"),
    ({"stress_offset": [1, 2]}, "expected a number or a string"),
    ({"stress_offset": "fit", "stress_sigma": None}, "fit needs the stress term"),
    ({"stress_offset": -1.0, "stress_sigma": None}, "a fixed offset needs the stress term"),
    ({"stress_offset": "fit", "stress_components": ["yz", "xy"]}, "needs a normal stress component"),
])
def test_bad_values_are_one_line_config_errors(loss, match):
    raw = _config("x.xyz", **loss)
    with pytest.raises(ConfigError, match="^loss.stress_offset: ") as err:
        training_config(raw)
    assert match in str(err.value) and "\n" not in str(err.value)


def test_values_and_their_round_trip():
    for value, gpa in (("fit", None), ("none", None), (None, None), (-2.3, -2.3), ("-23 kbar", -2.3)):
        config = training_config(_config("x.xyz", offset=value))
        if gpa is not None:
            assert config.loss.stress_offset_mode == "fixed"
            assert config.loss.stress_offset / GPa == pytest.approx(gpa)
        plain = config.plain()
        assert training_config(plain).loss == config.loss
        if config.loss.stress_offset_mode == "none":   # saved configs stay as they were
            assert "stress_offset" not in plain["loss"]


def test_fit_without_stress_labels_is_a_config_error(tmp_path):
    frames = _frames(3, 5, 0.0)
    for a in frames:
        energy, forces = a.get_potential_energy(), a.get_forces()
        a.pbc = False
        a.calc = SinglePointCalculator(a, energy=energy, forces=forces)
    write(tmp_path / "open.xyz", frames)
    with pytest.raises(ConfigError, match="^loss.stress_offset: fit needs stress labels"):
        fit(training_config(_config(str(tmp_path / "open.xyz"))), None, log=_quiet)


def test_resume_keeps_the_offset(tmp_path, files):
    train, _ = files
    config = training_config(_config(str(train), epochs=3))
    reference = fit(config, tmp_path / "a", log=_quiet)

    def kill(line: str) -> None:
        if line.startswith("epoch    3/"):
            raise Killed

    with pytest.raises(Killed):
        fit(config, tmp_path / "b", log=kill)
    checkpoint = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert float(checkpoint["stress_offset"]["values"][0]) != 0.0
    resumed = fit(config, tmp_path / "b", resume=True, log=_quiet)
    assert resumed.summary["stress_offset"]["values_gpa"] == reference.summary["stress_offset"]["values_gpa"]
    assert torch.equal(resumed.model.theta, reference.model.theta)


def test_kalman_hdnnp_fit_finds_the_offset(tmp_path):
    """The recipe's optimizer: per-measurement Kalman updates read the corrected labels."""
    write(tmp_path / "eam.xyz", _frames(10, 6, 2.0, truth=cc.eam_model()))
    results = {}
    for offset in ("none", "fit"):
        raw = _config(str(tmp_path / "eam.xyz"), offset=offset, epochs=14, force_sigma="0.05 eV/Å")
        raw["model"] = {"kind": "hdnnp", "network": {"hidden": [6, 6], "activation": "t"},
                        "symmetry_functions": {"n2p2": CU_FUNCTIONS, "prune": {"enabled": False}}}
        raw["training"].update(seed=3, optimizer={"kind": "kalman", "force_fraction": 0.2})
        results[offset] = fit(training_config(raw), None, log=_quiet).summary
    assert list(results["fit"]["stress_offset"]["values_gpa"].values()) == [pytest.approx(-2.0, abs=0.35)]
    for term in ("energy_rmse_mev_per_atom", "stress_rmse_gpa"):
        assert results["fit"]["train"][term] < 0.85 * results["none"]["train"][term]


def test_records_and_checkpoints_without_the_convention_hold_the_opposite_sign(fitted, files, tmp_path):
    """Models and checkpoints written before the sign followed the issue (offset present in the
    labels, corrected as label − s·I) are read with their sign turned."""
    from potforge.data import Dataset
    from potforge.models import load_potential
    from potforge.training.stress_offset import StressOffset, recorded_offsets_gpa
    from potforge.validation.evaluate import evaluate

    _, out, _ = fitted
    potential = load_potential(out)
    record = potential.metadata["stress_offset"]
    assert recorded_offsets_gpa(record) == record["values_gpa"]
    old = {k: v for k, v in record.items() if k != "convention"}
    old["values_gpa"] = {k: -v for k, v in record["values_gpa"].items()}
    with pytest.warns(UserWarning, match="no 'convention'.*s = -value") as notes:
        assert recorded_offsets_gpa(old) == pytest.approx(record["values_gpa"])
    assert len(notes) == 1 and "\n" not in str(notes[0].message)          # one line, never silent
    potential.metadata["stress_offset"] = old
    with pytest.warns(UserWarning, match="model metadata: stress_offset"):
        result = evaluate(potential, Dataset.read(files[1]))
    assert result.stress_offset["offset_gpa"] == pytest.approx(-2.0, abs=0.01)
    assert result.stress_offset["stress_rmse_gpa"] < 0.01
    offset = StressOffset("fit")
    offset.sources = ["a.xyz"]
    with pytest.warns(UserWarning, match=r"checkpoint: stress_offset \(a.xyz\).*\(2 GPa\)"):
        offset.load_state({"sources": ["a.xyz"], "values": torch.tensor([2.0 * GPa])})
    assert float(offset.values[0]) == pytest.approx(-2.0 * GPa)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # today's records: no note
        offset.load_state(offset.state())
        assert recorded_offsets_gpa(record) == record["values_gpa"]
    assert float(offset.values[0]) == pytest.approx(-2.0 * GPa)
