"""potforge's closed-form part of 4G stage 1 (``output_fit``): the χ networks' output layers
by ridge least squares on the training charges, before the first epoch and after each one."""

from __future__ import annotations

import copy

import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.data.io import read_frames
from potforge.models.hdnnp_charges.train_n2p2 import stage1_from_n2p2
from potforge.models.hdnnp_charges.trainable4g import TrainableHDNNP4GCharges
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions


def _setup(shared_data, name, stride, count, seed=2):
    root = shared_data / "n2p2" / name / "train"
    frames = read_frames(root / "input.data", length_unit="bohr", energy_unit="hartree")[::stride][:count]
    model = stage1_from_n2p2(root, length_unit="bohr", energy_unit="hartree", pretrained=False)
    model.initialize(torch.Generator().manual_seed(seed))
    with torch.no_grad():
        model.theta[model.layout.n_parameters:] += torch.linspace(1.0, 3.0, len(model.species))
    return model, frames


@pytest.mark.parametrize("name,stride", [("Carbon_chain_4G", 40), ("H2O_RPBE-D3_4G", 10)])
def test_output_layer_jacobian_equals_the_full_jacobian_columns(shared_data, name, stride):
    model, frames = _setup(shared_data, name, stride, 3)
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    cols = model.output_layer_columns()
    assert cols.numel() == sum(h[-1] + 1 for h in model.hidden.values())
    for f in range(len(frames)):
        q, jac = model.charge_jacobian(data, f)
        q1, jo = model.output_layer_jacobian(data, f)
        torch.testing.assert_close(q1, q, rtol=0, atol=1e-12)
        torch.testing.assert_close(jo, jac[:, cols], rtol=1e-10, atol=1e-14)


def test_output_fit_recovers_charges_of_a_known_output_layer(shared_data):
    """Reference charges made by the model itself with other output layers: the least squares
    (ridge ~0) gives them back exactly (q is affine in the output layers at fixed hidden layers
    and J), whatever the output layers it starts from."""
    model, frames = _setup(shared_data, "Carbon_chain_4G", 9, 12)
    model.initial_ridge = 1e-13
    cols = model.output_layer_columns()
    target = copy.deepcopy(model)
    with torch.no_grad():
        target.theta[cols] = torch.randn(cols.numel(), generator=torch.Generator().manual_seed(7),
                                         dtype=torch.float64)
    data = target.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    refs = [target.charge_jacobian(data, f)[0] for f in range(len(frames))]
    labelled = [copy.copy(fr) for fr in frames]
    for fr, q in zip(labelled, refs):
        fr.charges = q.numpy().copy()
    data = model.prepare(labelled, [f"frame {k}" for k in range(len(frames))])
    start = torch.cat([model.charge_jacobian(data, f)[0] for f in range(len(frames))])
    assert float((start - torch.cat(refs)).abs().max()) > 1e-3  # a real change to recover
    lines = []
    rmse = model.initial_fit(data, log=lines.append)
    assert rmse < 1e-8 and "me" in lines[0]
    got = torch.cat([model.charge_jacobian(data, f)[0] for f in range(len(frames))])
    torch.testing.assert_close(got, torch.cat(refs), rtol=0, atol=1e-7)


def test_output_fit_modes_in_training_and_options_checked(shared_data):
    model, frames = _setup(shared_data, "Carbon_chain_4G", 8, 16, seed=3)
    with pytest.raises(ConfigError, match="model.output_fit"):
        TrainableHDNNP4GCharges.from_description({**model.description(), "output_fit": "later"})
    with pytest.raises(ConfigError, match="model.initial_ridge"):
        TrainableHDNNP4GCharges.from_description({**model.description(), "initial_ridge": -1.0})
    assert TrainableHDNNP4GCharges.from_description(model.description()).output_fit == "epoch"
    first = {}
    for mode in ("none", "epoch"):
        m = copy.deepcopy(model)
        m.output_fit = mode
        data = m.prepare(frames, [f"frame {k}" for k in range(len(frames))])
        trainer = Trainer(m, Loss(LossWeights.from_noise(None, None, None, 0.01)),
                          KalmanOptimizer(selection="random", force_fraction=0.0, charge_update="norm"),
                          data, options=TrainingOptions(epochs=1))
        trainer.run()
        first[mode] = trainer.history[0].train["charge_rmse_me"]
        if mode == "epoch":  # every epoch ends with least-squares output layers: a refit keeps them
            before = min(r.train["charge_rmse_me"] for r in trainer.history)  # the state left
            after = m.epoch_fit(data) * 1000
            assert after <= before + 1e-9 and after == pytest.approx(before, rel=0.01)
    assert first["epoch"] < 0.5 * first["none"]
    # a pre-trained stage 1 is kept as given
    m = copy.deepcopy(model)
    m.load_electronegativity(dict(zip(m.species, m.layout.to_atomic_networks(m.theta.detach()[
        :m.layout.n_parameters]))), {s: 1.0 for s in m.species})
    assert m.initial_fit(m.prepare(frames[:2], ["a", "b"])) is None


@pytest.mark.parametrize("mode", ["none", "start", "epoch"])
def test_output_fit_is_a_config_option_of_stage_1(shared_data, mode):
    """``model.output_fit`` reaches the stage-1 trainable built from the config (n2p2 folder);
    stage 2 has no χ output layers, so a non-default value there is refused in one line."""
    from potforge.data.dataset import Dataset
    from potforge.training.config import training_config
    from potforge.training.fit import build_model

    root = shared_data / "n2p2" / "Carbon_chain_4G"
    units = dict(length_unit="bohr", energy_unit="hartree")
    raw = {"data": {"train": str(root / "train" / "input.data"), **units},
           "model": {"kind": "hdnnp-4g", "stage": 1, "n2p2": str(root / "train"), **units,
                     "output_fit": mode},
           "loss": {"energy_sigma": None, "force_sigma": None, "charge_sigma": 0.01}}
    config = training_config(raw)
    frames = read_frames(root / "train" / "input.data", **units)[:3]
    model, _ = build_model(config, Dataset(frames), lambda line: None)
    assert model.output_fit == mode
    raw["model"].update(stage=2, electronegativity_from=str(root))
    raw["loss"] = {"energy_sigma": 1e-3, "force_sigma": 0.1}
    if mode == "epoch":
        training_config(raw)
    else:
        with pytest.raises(ConfigError, match=r"^model\.output_fit: stage 1 fits"):
            training_config(raw)
