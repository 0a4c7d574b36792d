"""The closed-form Kalman Jacobians of 4G stage 1 (per-sample network parameter Jacobians,
∂q/∂θ through one LU of the bordered QEq matrix) against autograd, and the Kalman filter's
``charge_update`` modes (n2p2's norm of the charge errors, or the vector)."""

from __future__ import annotations

import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.data.io import read_frames
from potforge.models.hdnnp_charges.train_n2p2 import stage1_from_n2p2
from potforge.models.network import network_forward, network_parameter_jacobian
from potforge.models.trainable import TrainableModel
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions


@pytest.mark.parametrize("activations,normalize", [("ttl", False), ("spl", True), ("gcl", False)])
def test_network_parameter_jacobian_matches_autograd(activations, normalize):
    g = torch.Generator().manual_seed(4)
    shapes = [(5, 7), (4, 5), (1, 4)]
    theta = torch.randn(sum(o * i + o for o, i in shapes), generator=g, dtype=torch.float64,
                        requires_grad=True)
    layers, k = [], 0
    for o, i in shapes:
        layers.append((theta[k:k + o * i].view(o, i), theta[k + o * i:k + o * i + o]))
        k += o * i + o
    x = torch.randn(6, 7, generator=g, dtype=torch.float64)
    out, jac = network_parameter_jacobian([(w.detach(), b.detach()) for w, b in layers], activations, x,
                                          normalize=normalize)
    ref, _ = network_forward(layers, activations, x, normalize=normalize, gradient=False)
    rows = torch.stack([torch.autograd.grad(ref[n], theta, retain_graph=True)[0] for n in range(6)])
    torch.testing.assert_close(out, ref.detach(), rtol=0, atol=1e-14)
    torch.testing.assert_close(jac, rows, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,stride", [("Carbon_chain_4G", 40), ("H2O_RPBE-D3_4G", 10)])
def test_stage1_charge_jacobian_closed_form_matches_autograd(shared_data, name, stride):
    """Open chains and periodic water (Ewald A), charged or neutral, random weights and J."""
    root = shared_data / "n2p2" / name / "train"
    frames = read_frames(root / "input.data", length_unit="bohr", energy_unit="hartree")[::stride][:3]
    model = stage1_from_n2p2(root, length_unit="bohr", energy_unit="hartree", pretrained=False)
    model.initialize(torch.Generator().manual_seed(2))
    with torch.no_grad():
        model.theta[model.layout.n_parameters:] += torch.linspace(1.0, 3.0, len(model.species))
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    for f in range(len(frames)):
        q, jac = model.charge_jacobian(data, f)
        q0, jac0 = TrainableModel.charge_jacobian(model, data, f)
        torch.testing.assert_close(q, q0, rtol=0, atol=1e-12)
        torch.testing.assert_close(jac, jac0, rtol=1e-9, atol=1e-12 * float(jac0.abs().max()))
        assert float(jac[:, model.layout.n_parameters:].abs().max()) > 0  # the hardness columns


def test_kalman_charge_update_norm_trains_and_bad_mode_refused(shared_data):
    with pytest.raises(ConfigError, match="charge_update"):
        KalmanOptimizer(charge_update="rows")
    root = shared_data / "n2p2" / "Carbon_chain_4G" / "train"
    frames = read_frames(root / "input.data", length_unit="bohr", energy_unit="hartree")[::8]
    model = stage1_from_n2p2(root, length_unit="bohr", energy_unit="hartree", pretrained=False)
    model.initialize(torch.Generator().manual_seed(3))
    model.output_fit = "none"  # the filter alone (potforge's least-squares output layers: own test)
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    trainer = Trainer(model, Loss(LossWeights.from_noise(None, None, None, 0.01)),
                      KalmanOptimizer(selection="random", force_fraction=0.0, charge_update="norm"), data,
                      options=TrainingOptions(epochs=4))
    trainer.run()
    first, last = trainer.history[0].train, trainer.history[-1].train
    assert last["charge_rmse_me"] < 0.5 * first["charge_rmse_me"]


@pytest.mark.parametrize("name,stride", [("Carbon_chain_4G", 50), ("AlAuMgO_4G", 9)])
def test_stage2_single_measurements_equal_the_frame_prediction(shared_data, name, stride):
    """Stage 2's Kalman energy and force measurements (one frame's networks, the pairs of one
    atom, dq/dr) equal the whole-frame prediction, and so do their parameter gradients; open
    chains and the charged periodic Au/MgO slabs."""
    from potforge.models.hdnnp_charges.train_n2p2 import stage2_from_n2p2

    root = shared_data / "n2p2" / name / "train"
    frames = read_frames(root / "input.data", length_unit="bohr", energy_unit="hartree")[::stride][:1]
    stage1 = stage1_from_n2p2(root, length_unit="bohr", energy_unit="hartree", pretrained=False)
    stage1.initialize(torch.Generator().manual_seed(6))
    model = stage2_from_n2p2(root, stage1, length_unit="bohr", energy_unit="hartree")
    model.initialize(torch.Generator().manual_seed(5))
    model.element_energies = torch.linspace(-1.0, 1.0, len(model.species), dtype=torch.float64)
    model.mean_energy = 0.3
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    offsets = data.labels.atom_offsets
    for frame in range(len(frames)):
        for fast, slow in ((model.energy_measurement(data, frame),
                            TrainableModel.energy_measurement(model, data, frame)),
                           *[(model.force_measurement(data, atom, c),
                              TrainableModel.force_measurement(model, data, atom, c))
                             for atom, c in ((int(offsets[frame]), 0), (int(offsets[frame + 1]) - 1, 2))]):
            g1, = torch.autograd.grad(fast, model.theta)
            g0, = torch.autograd.grad(slow, model.theta)
            torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(g1, g0, rtol=1e-9, atol=1e-12 * float(g0.abs().max()))
