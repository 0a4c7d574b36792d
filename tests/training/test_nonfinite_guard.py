"""Training stops at the first NaN or infinity, in one line that names the epoch, the batch or
the frame and the quantity, and ``checkpoint.pt`` keeps the last good epoch (resume works).

The loss leaves NaN differences out (a missing label is NaN), so before these checks a model
that turned NaN on one frame trained on without it and saved its NaN-free-looking result.
The models are in memory, poisoned by wrapping ``predict``, so the guard itself is tested.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from potforge.core.errors import NonFiniteError, PotforgeError
from potforge.data.frame import Frame
from potforge.models.classical.trainable import TrainableClassical
from potforge.training.config import training_config
from potforge.training.fit import fit
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.base import Optimizer
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

from ..models import classical_cases as cc
from .test_classical_fit import _cu_structures, _label


def _poison(monkeypatch, frame: int, value: float = math.nan):
    """From when ``switch["on"]`` is set, the predicted energy of data frame ``frame`` gets
    ``value`` added (NaN, inf or a huge finite number)."""
    switch = {"on": False}
    original = TrainableClassical.predict

    def predict(self, batch, **kwargs):
        out = original(self, batch, **kwargs)
        if switch["on"]:
            hit = batch.frames == frame
            if hit.any():
                out.energy = torch.where(hit, out.energy + value, out.energy)
        return out

    monkeypatch.setattr(TrainableClassical, "predict", predict)
    return switch


def _config(tmp_path, optimizer):
    from ase.io import write

    write(tmp_path / "d.xyz", _label(cc.pair_model("morse"), _cu_structures(3)))
    return training_config({
        "data": {"train": str(tmp_path / "d.xyz"), "validation_fraction": 0.0},
        "model": {"kind": "pair", "cutoff": 5.0,
                  "pair": {"Cu-Cu": {"form": "morse", "D0": 0.3, "alpha": 1.3, "r0": 2.6}}},
        "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å"},
        "training": {"epochs": 3, "optimizer": optimizer}})


def test_nan_in_a_batch_stops_and_the_checkpoint_keeps_the_last_good_epoch(tmp_path, monkeypatch):
    cfg = _config(tmp_path, {"kind": "adam", "lr": 1e-3, "batch_size": 1})
    whole = fit(cfg, tmp_path / "whole", log=lambda line: None)

    switch = _poison(monkeypatch, frame=1)

    def log(line):
        if line.startswith("epoch    1/3"):
            switch["on"] = True

    out = tmp_path / "part"
    with pytest.raises(NonFiniteError) as info:
        fit(cfg, out, log=log)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, PotforgeError)
    assert message.startswith("epoch 2, batch ")
    assert ": non-finite predicted energy of training frame 1 (synthetic) (nan); training stopped" in message
    assert message.endswith("; checkpoint.pt keeps epoch 1")
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert not (out / "model.json").exists()          # no model with NaN in it

    switch["on"] = False
    resumed = fit(cfg, out, resume=True, log=lambda line: None)
    assert resumed.summary["epochs_run"] == 3
    np.testing.assert_array_equal(resumed.model.theta.detach().numpy(), whole.model.theta.detach().numpy())


def test_cli_train_stops_with_exit_2(tmp_path, monkeypatch, capsys):
    import yaml

    from potforge.cli.main import main

    cfg = _config(tmp_path, {"kind": "adam", "lr": 1e-3, "batch_size": 2})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.plain()))
    _poison(monkeypatch, frame=0, value=-math.inf)["on"] = True
    assert main(["train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("potforge train: error: epoch 0, energy offset: non-finite predicted "
                          "energy of training frame 0 (synthetic) (-inf)")
    assert err.endswith("nothing checkpointed")


def _trainer(optimizer, frames=3, validation=None):
    potential = cc.pair_model("morse")
    model = TrainableClassical(potential)
    labelled = [Frame(a, energy=a.get_potential_energy(), forces=a.get_forces(), config_type="synthetic")
                for a in _label(potential, _cu_structures(frames))]
    names = [f"training frame {k}" for k in range(len(labelled))]
    data = model.prepare(labelled, names)
    val = model.prepare(labelled[:2], ["validation frame 0", "validation frame 1"]) if validation else None
    loss = Loss(LossWeights.from_noise(1e-3, 0.02))
    return Trainer(model, loss, optimizer, data, val, options=TrainingOptions(epochs=2))


def test_a_parameter_that_becomes_infinite_is_named():
    class Corrupting(Optimizer):
        def epoch(self, trainer):
            with torch.no_grad():
                trainer.model.theta[1] = math.inf
            return {}

    trainer = _trainer(Corrupting())
    with pytest.raises(NonFiniteError, match=rf"^epoch 1: parameter 1 of {trainer.model.n_parameters} "
                                             r"became inf; training stopped .*; nothing checkpointed$"):
        trainer.run()


def test_a_loss_that_overflows_names_its_term_and_frames(monkeypatch):
    """Finite but absurd predictions (1e200 eV): the squared error is infinite."""
    _poison(monkeypatch, frame=2, value=1e200)["on"] = True
    with pytest.raises(NonFiniteError, match=r"^epoch 0, evaluation: the loss's energy term is non-finite "
                                             r"\(inf\) on training frame 0, training frame 1, "):
        _trainer(KalmanOptimizer()).run()


def test_kalman_names_the_measurement(monkeypatch):
    switch = _poison(monkeypatch, frame=2)
    trainer = _trainer(KalmanOptimizer(energy_fraction=1.0, force_fraction=0.01))
    trainer.log = lambda line: switch.update(on=True)   # after the epoch-0 evaluation
    with pytest.raises(NonFiniteError, match=r"^epoch 1: non-finite predicted energy of training frame 2 "
                                             r"\(nan\); training stopped"):
        trainer.run()


def test_validation_predictions_are_checked(monkeypatch):
    original = TrainableClassical.predict

    def predict(self, batch, **kwargs):
        out = original(self, batch, **kwargs)
        if batch.n_frames == 2 and kwargs.get("forces"):   # the validation set, evaluated
            out.forces = out.forces.clone()
            out.forces[batch.frame_of_atom == 1] = math.nan
        return out

    monkeypatch.setattr(TrainableClassical, "predict", predict)
    with pytest.raises(NonFiniteError, match=r"^epoch 0, evaluation: non-finite predicted force on atom 0 "
                                             r"of validation frame 1 \(nan\)"):
        _trainer(KalmanOptimizer(), validation=True).run()


def test_cross_validation_records_a_diverging_point_and_chooses_another(tmp_path, monkeypatch):
    """A grid over learning rates where one diverges: that point loses, the study goes on."""
    import json

    from potforge.training.crossval import cross_validate
    from potforge.training.optimizers.first_order import AdamOptimizer

    original = AdamOptimizer.epoch

    def epoch(self, trainer):
        extra = original(self, trainer)
        if self.current_lr > 0.5:             # as a learning rate far too large would
            with torch.no_grad():
                trainer.model.theta[0] = math.nan
        return extra

    monkeypatch.setattr(AdamOptimizer, "epoch", epoch)
    from ase.io import write

    frames = _label(cc.pair_model("morse"), _cu_structures(5))
    for k, atoms in enumerate(frames):
        atoms.info["group"] = f"g{k}"
    write(tmp_path / "d.xyz", frames)
    cfg = _config(tmp_path, {"kind": "adam", "lr": 1e-3, "batch_size": 2})
    cfg = training_config({**cfg.plain(), "data": {"train": str(tmp_path / "d.xyz"), "validation_fraction": 0.0}})
    lines = []
    result = cross_validate(cfg, 2, {"training.optimizer.lr": [1.0, 1e-3]}, tmp_path / "cv", log=lines.append)
    assert result.chosen["values"] == {"training.optimizer.lr": 1e-3}
    assert result.rows[0]["loss_mean"] == math.inf
    assert any(line.startswith("[training.optimizer.lr=1.0] fold 1/2: diverged (epoch 1: parameter 0 of ")
               for line in lines)
    saved = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert saved["points"][0]["loss_mean"] is None and "diverged" in saved["folds"][0]

    with pytest.raises(NonFiniteError, match="^cross-validation: training diverged at every grid point; "
                                             "the first: epoch 1: parameter 0 of "):
        cross_validate(cfg, 2, {"training.optimizer.lr": [1.0, 2.0]}, tmp_path / "cv2", log=lines.append)
