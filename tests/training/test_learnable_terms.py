"""A loss term the model cannot learn is refused in one line, at config time (the model
config's ``learnable_terms``) and again by the trainer on the built model (whatever the model:
energies of a model without energy, charges that do not depend on theta)."""

from __future__ import annotations

import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.data.io import read_frames
from potforge.models.hdnnp_charges.train_n2p2 import stage2_from_n2p2
from potforge.training.config import training_config
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.first_order import LBFGSOptimizer
from potforge.training.trainer import Trainer

UNITS = dict(length_unit="bohr", energy_unit="hartree")


def _raw(shared_data, model, loss):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    return {"data": {"train": str(root / "train" / "input.data"), **UNITS},
            "model": model, "loss": loss}


@pytest.mark.parametrize("kind, source", [("hdnnp-4g", "electronegativity_from"), ("hdnnp-3g", "stage1")])
def test_stage2_charge_loss_is_refused_at_config_time(shared_data, kind, source):
    model = {"kind": kind, "stage": 2, source: "somewhere"}
    with pytest.raises(ConfigError, match=r"^loss\.charge_sigma: the charges of a stage-2 "
                                          f"{kind} model are fixed by its stage-1 model"):
        training_config(_raw(shared_data, model, {"charge_sigma": 0.01}))
    # energies and forces only: accepted
    training_config(_raw(shared_data, model, {"energy_sigma": 1e-3, "force_sigma": 0.1}))


@pytest.mark.parametrize("kind", ["hdnnp-4g", "hdnnp-3g"])
def test_stage1_energy_loss_is_refused_at_config_time(shared_data, kind):
    with pytest.raises(ConfigError, match=r"^loss\.energy_sigma: a .* stage 1 fits charges only"):
        training_config(_raw(shared_data, {"kind": kind, "stage": 1}, {"charge_sigma": 0.01}))
    with pytest.raises(ConfigError, match=r"^loss\.stress_sigma: "):
        training_config(_raw(shared_data, {"kind": kind, "stage": 1},
                             {"energy_sigma": None, "force_sigma": None, "stress_sigma": 0.1,
                              "charge_sigma": 0.01}))


def test_trainer_refuses_charges_that_do_not_depend_on_theta(shared_data):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    frames = read_frames(root / "train" / "input.data", **UNITS)[:2]
    model = stage2_from_n2p2(root / "train", electronegativity_from=root, **UNITS)
    model.initialize(torch.Generator().manual_seed(1))
    data = model.prepare(frames, ["frame 0", "frame 1"])
    with pytest.raises(ConfigError, match=r"^loss\.charge_sigma: the charges of a stage-2 hdnnp-4g model"):
        Trainer(model, Loss(LossWeights.from_noise(1e-3, None, None, 0.01)), LBFGSOptimizer(), data)
    Trainer(model, Loss(LossWeights.from_noise(1e-3, None, None, None)), LBFGSOptimizer(), data)


@pytest.mark.parametrize("stage", [1, 2])
def test_n2p2_folder_without_the_data_elements_is_refused(shared_data, tmp_path, stage):
    """Carbon-chain data (C, H) with the H2O folder (H, O): one line naming the folder's
    species (they come from its input.nn, not from the training data)."""
    from potforge.training.fit import fit

    water = shared_data / "n2p2" / "H2O_RPBE-D3_4G" / "train"
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    lines = (root / "train" / "input.data").read_text().splitlines(keepends=True)
    ends = [k for k, line in enumerate(lines) if line.startswith("end")]
    (tmp_path / "input.data").write_text("".join(lines[:ends[3] + 1]))
    model = {"kind": "hdnnp-4g", "stage": stage, "n2p2": str(water), **UNITS}
    loss = {"energy_sigma": None, "force_sigma": None, "charge_sigma": 0.01} if stage == 1 else {}
    raw = {"data": {"train": str(tmp_path / "input.data"), "validation_fraction": 0.25, **UNITS},
           "model": model, "loss": loss, "training": {"epochs": 1}}
    with pytest.raises(ConfigError, match=r"^data\.train: holds C, which the n2p2 folder .* \(species H, O, "
                                          r"from its input\.nn\) does not know"):
        fit(training_config(raw), tmp_path / "out", log=lambda line: None)


def test_pretrained_in_stage2_is_refused(shared_data):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    model = {"kind": "hdnnp-4g", "stage": 2, "n2p2": str(root / "train"), "pretrained": True, **UNITS}
    with pytest.raises(ConfigError, match=r"^model\.pretrained: only stage 1"):
        training_config(_raw(shared_data, model, {}))


@pytest.mark.parametrize("kind, extra", [("hdnnp-4g", {"electronegativity_from": "s1"}),
                                         ("hdnnp-3g", {"stage1": "s1"})])
def test_negative_output_scale_is_refused_at_config_time(shared_data, kind, extra):
    with pytest.raises(ConfigError, match=r"^model\.output_scale: expected an energy"):
        training_config(_raw(shared_data, {"kind": kind, "stage": 2, "output_scale": -1, **extra}, {}))
