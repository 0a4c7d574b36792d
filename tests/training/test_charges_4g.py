"""Stage 1 of 4G training (χ networks + hardness by dense QEq): n2p2's own charges reproduced
with its pre-trained stage-1 files, and training from scratch lowers the charge error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.data.io import read_frames
from potforge.electrostatics import GaussianCoulomb
from potforge.models.hdnnp_charges.train_n2p2 import stage1_from_n2p2
from potforge.models.hdnnp_charges.trainable4g import qeq_dense
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions


@pytest.fixture(scope="module")
def chain(shared_data):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    frames = read_frames(root / "train" / "input.data", length_unit="bohr", energy_unit="hartree")
    return root, frames


def test_stage1_reproduces_n2p2_charges(chain):
    """The top-level model's weightse/hardness on the 128 training chains: n2p2's charges
    (reference_train/output.data, nnp-dataset) to 1e-8 e."""
    root, frames = chain
    ref = read_frames(root / "reference_train" / "output.data", length_unit="bohr", energy_unit="hartree")
    model = stage1_from_n2p2(root, length_unit="bohr", energy_unit="hartree")
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    with torch.no_grad():
        q = model.charges(model.batch(data, None)).numpy()
    np.testing.assert_allclose(q, np.concatenate([f.charges for f in ref]), atol=1e-8, rtol=0)
    totals = np.add.reduceat(q, data.labels.atom_offsets[:-1].numpy())
    np.testing.assert_allclose(totals, data.labels.total_charge.numpy(), atol=1e-12)


def test_qeq_solution_is_the_constrained_minimum():
    rng = np.random.default_rng(1)
    pos = rng.normal(0, 2.0, (6, 3))
    a = GaussianCoulomb(torch.from_numpy(pos), torch.eye(3), False, torch.full((6,), 1.1)).matrix().detach()
    chi, j = torch.from_numpy(rng.normal(0, 1, 6)), torch.full((6,), 5.0, dtype=torch.float64)
    q = qeq_dense(a, chi, j, torch.tensor(1.0))
    assert float(q.sum()) == pytest.approx(1.0, abs=1e-12)
    energy = lambda x: float(chi @ x + 0.5 * (j * x * x).sum() + 0.5 * x @ a @ x)  # noqa: E731
    for k in range(5):  # any charge-conserving step raises the energy
        step = torch.from_numpy(rng.normal(0, 1e-3, 6))
        assert energy(q + step - step.mean()) > energy(q)


def test_stage1_training_from_scratch_and_loss_checks(chain):
    root, frames = chain
    model = stage1_from_n2p2(root / "train", length_unit="bohr", energy_unit="hartree", pretrained=False)
    model.initialize(torch.Generator().manual_seed(3))
    model.output_fit = "none"  # the filter alone (the least-squares output layers: test_charges_4g_output_fit)
    sub = frames[::8]
    data = model.prepare(sub, [f"frame {k}" for k in range(len(sub))])
    with pytest.raises(ConfigError, match="fits charges only"):
        Trainer(model, Loss(LossWeights.from_noise(1e-3, None, None, 0.01)), KalmanOptimizer(), data)
    trainer = Trainer(model, Loss(LossWeights.from_noise(None, None, None, 0.01)),
                      KalmanOptimizer(selection="random", force_fraction=0.0), data,
                      options=TrainingOptions(epochs=4))
    trainer.run()
    first, last = trainer.history[0].train, trainer.history[-1].train
    assert last["charge_rmse_me"] < 0.5 * first["charge_rmse_me"]
    assert np.isnan(last["energy_rmse_mev_per_atom"])
