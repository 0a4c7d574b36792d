"""The training machinery: loss gradients, the Kalman filter, trainable ↔ compiled model,
group splits, label checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.data import Dataset
from potforge.descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from potforge.descriptors.symmetry_functions import SymmetryFunctionSet, parse_n2p2_symfunction
from potforge.descriptors.cache import DescriptorCache
from potforge.training.optimizers.kalman_filter import KalmanFilter
from potforge.training.loss import Loss, LossWeights
from potforge.models.hdnnp.trainable import TrainableHDNNP
from potforge.training.optimizers.first_order import AdamOptimizer
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

from .conftest import CU_FUNCTIONS


def _cu_model(frames, hidden=(4, 3), acts="tsl", seed=0):
    sfs = SymmetryFunctionSet(["Cu"], {"Cu": [parse_n2p2_symfunction(l.split()) for l in CU_FUNCTIONS]})
    values = DescriptorCache(frames, sfs, derivatives=False).element_values()
    scaling = SymmetryFunctionScaling("scale", {"Cu": ScalingStatistics.from_values(values["Cu"])}, 0, 1)
    model = TrainableHDNNP(sfs, scaling, {"Cu": list(hidden)}, {"Cu": acts}, output_scale=0.2)
    model.initialize(torch.Generator().manual_seed(seed), "glorot")
    epa = np.mean([f.energy / f.n_atoms for f in frames])
    model.element_energies = torch.tensor([epa])
    return model


@pytest.mark.parametrize("key, value", [("dtype", "float16"), ("cache_dtype", "f64")])
def test_trainable_hdnnp_names_a_bad_dtype(key, value):
    sfs = SymmetryFunctionSet(["Cu"], {"Cu": [parse_n2p2_symfunction(l.split()) for l in CU_FUNCTIONS]})
    scaling = SymmetryFunctionScaling("scale", {"Cu": ScalingStatistics(np.zeros(len(CU_FUNCTIONS)),
                                                                        np.ones(len(CU_FUNCTIONS)),
                                                                        np.zeros(len(CU_FUNCTIONS)),
                                                                        np.ones(len(CU_FUNCTIONS)))}, 0, 1)
    with pytest.raises(ConfigError, match=f"^model.{key}: '{value}' is not one of float64, float32$"):
        TrainableHDNNP(sfs, scaling, {"Cu": [3]}, {"Cu": "tl"}, **{key: value})


def test_loss_gradient_matches_finite_differences(cu_frames):
    frames = cu_frames[:4] + cu_frames[-2:]
    model = _cu_model(frames)
    data = model.prepare(frames, [f"f{k}" for k in range(len(frames))])
    loss = Loss(LossWeights.from_noise(1e-3, 0.05, 0.01), l2=1e-3, config_type_weights={"Surface": 2.0},
                stress_components=("xx", "yy", "zz", "xy"))
    batch = model.batch(data, None)
    lab = model.labels(data)

    def value(theta):
        with torch.no_grad():
            model.theta.copy_(theta)
        out = model.predict(batch, forces=True, stress=True)
        return loss(out, batch, theta=model.theta, regularized=model.regularized(),
                    config_types=lab.config_types).total

    theta0 = model.theta.detach().clone()
    model.theta.grad = None
    value(theta0).backward()
    grad = model.theta.grad.clone()
    h = 1e-6
    rng = np.random.default_rng(1)
    for k in rng.choice(len(theta0), size=12, replace=False):
        step = torch.zeros_like(theta0)
        step[k] = h
        with torch.no_grad():
            fd = (value(theta0 + step) - value(theta0 - step)) / (2 * h)
        assert float(grad[k]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8 * float(grad.abs().max()))


def test_kalman_filter_is_recursive_least_squares_on_a_linear_problem():
    rng = np.random.default_rng(7)
    n, m, eps = 6, 40, 0.05
    H = torch.tensor(rng.normal(size=(m, n)))
    y = H @ torch.tensor(rng.normal(size=n)) + 0.1 * torch.tensor(rng.normal(size=m))
    w = torch.zeros(n, dtype=torch.float64)
    kf = KalmanFilter(n, epsilon=eps, q0=0.0, q_min=0.0, eta0=1.0, eta_max=1.0)
    for k in range(m):
        kf.update(w, y[k:k + 1] - H[k] @ w, H[k])
    ridge = torch.linalg.solve(eps * torch.eye(n, dtype=torch.float64) + H.T @ H, H.T @ y)
    assert torch.allclose(w, ridge, rtol=1e-10, atol=1e-12)
    # the covariance is the ridge posterior covariance
    assert torch.allclose(kf.P, torch.linalg.inv(eps * torch.eye(n, dtype=torch.float64) + H.T @ H),
                          rtol=1e-9, atol=1e-12)
    # several measurements at once give the same answer as one at a time
    w2 = torch.zeros(n, dtype=torch.float64)
    kf2 = KalmanFilter(n, epsilon=eps, q0=0.0, q_min=0.0, eta0=1.0, eta_max=1.0)
    for k in range(0, m, 4):
        kf2.update(w2, y[k:k + 4] - H[k:k + 4] @ w2, H[k:k + 4].T)
    assert torch.allclose(w2, ridge, rtol=1e-10, atol=1e-12)


def test_trainable_model_equals_compiled_potential(cu_frames):
    frames = cu_frames[:3] + cu_frames[-3:]
    model = _cu_model(frames, seed=5)
    model.mean_energy = 0.013
    data = model.prepare(frames, [str(k) for k in range(len(frames))])
    out = model.predict(model.batch(data, None), forces=True, stress=True)
    potential = model.to_potential()
    start = 0
    for k, f in enumerate(frames):
        p = potential.predict(f.atoms)
        assert float(out.energy[k].detach()) == pytest.approx(p.energy, rel=0, abs=1e-10)
        np.testing.assert_allclose(out.forces[start:start + f.n_atoms].detach().numpy(), p.forces, atol=1e-11)
        np.testing.assert_allclose(out.stress[k].detach().numpy(), p.stress, atol=1e-12)
        start += f.n_atoms
    again = TrainableHDNNP.from_potential(potential)
    assert torch.equal(again.theta, model.theta)


def test_trainable_water_model_reproduces_n2p2_model(water_model, shared_data):
    """Two elements, n2p2's own weights: the training form predicts what the evaluator does."""
    from potforge.data import Dataset

    frames = list(Dataset.read(shared_data / "n2p2" / "H2O_RPBE-D3" / "input.data",
                               length_unit="bohr", energy_unit="hartree"))[:2]
    model = TrainableHDNNP.from_potential(water_model)
    data = model.prepare(frames, ["a", "b"])
    out = model.predict(model.batch(data, None), forces=True, stress=False)
    ref = [water_model.predict(f.atoms) for f in frames]
    np.testing.assert_allclose(out.energy.detach().numpy(), [r.energy for r in ref], rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.forces.detach().numpy(), np.concatenate([r.forces for r in ref]), atol=1e-10)


def test_force_measurement_equals_full_prediction(cu_frames):
    frames = cu_frames[-2:]
    model = _cu_model(frames, seed=2)
    data = model.prepare(frames, ["a", "b"])
    out = model.predict(model.batch(data, None), forces=True)
    for atom, comp in ((0, 0), (5, 2), (130, 1)):
        y = model.force_measurement(data, atom, comp)
        assert float(y.detach()) == pytest.approx(float(out.forces[atom, comp].detach()), abs=1e-12)
        (h,) = torch.autograd.grad(y, model.theta)
        (ref,) = torch.autograd.grad(model.predict(model.batch(data, None), forces=True).forces[atom, comp],
                                     model.theta)
        assert torch.allclose(h, ref, atol=1e-12)


def test_short_training_lowers_validation_error(cu_frames):
    train = cu_frames[::2]
    val = cu_frames[1::2]
    model = _cu_model(train, seed=4)
    tr = model.prepare(train, [f"t{k}" for k in range(len(train))])
    va = model.prepare(val, [f"v{k}" for k in range(len(val))])
    trainer = Trainer(model, Loss(LossWeights.from_noise(1e-3, 0.05)),
                      KalmanOptimizer(force_fraction=0.1), tr, va, options=TrainingOptions(epochs=3, seed=0))
    trainer.run()
    first = trainer.history[0].validation
    best = trainer.history[trainer.best_epoch].validation
    assert trainer.best_epoch > 0
    assert best["energy_rmse_mev_per_atom"] < 0.5 * first["energy_rmse_mev_per_atom"]
    assert best["force_rmse_ev_per_angstrom"] < first["force_rmse_ev_per_angstrom"]


def test_missing_labels_are_one_line_errors_naming_the_frame(cu_frames):
    frames = [f.copy() if hasattr(f, "copy") else f for f in cu_frames[:3]]
    import copy

    frames = [copy.deepcopy(f) for f in cu_frames[:3]]
    frames[1].forces = None
    model = _cu_model(frames)
    names = ["train.xyz frame 0", "train.xyz frame 1", "train.xyz frame 2"]
    data = model.prepare(frames, names)
    with pytest.raises(ConfigError) as info:
        Trainer(model, Loss(LossWeights.from_noise(1e-3, 0.05)), AdamOptimizer(), data)
    assert str(info.value).startswith("train.xyz frame 1: no forces")
    assert "\n" not in str(info.value)
    frames[2].energy = None
    data = model.prepare(frames, names)
    with pytest.raises(ConfigError, match="^train.xyz frame 2: no energy"):
        Trainer(model, Loss(LossWeights.from_noise(1e-3, None)), AdamOptimizer(), data)
    frames[0].stress = None
    data = model.prepare(frames, names)
    with pytest.raises(ConfigError, match="^train.xyz frame 0: periodic frame without stress"):
        Trainer(model, Loss(LossWeights.from_noise(None, None, 0.01)), AdamOptimizer(), data)


@pytest.mark.parametrize("seed", range(5))
def test_group_splits_and_folds_never_share_a_configuration(seed):
    from ase import Atoms

    from potforge.data import Frame

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(60):
        group = f"g{rng.integers(0, 17)}" if rng.random() < 0.8 else None
        frames.append(Frame(Atoms("Cu", positions=[[0, 0, float(k)]]), energy=float(k), group=group))
    data = Dataset(frames)
    parts = data.split_by_group([0.7, 0.2, 0.1], seed=seed)
    assert sum(len(p) for p in parts) == len(data)
    seen = [{f.group for f in p if f.group is not None} for p in parts]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not seen[a] & seen[b]
    ids = sorted(f.energy for p in parts for f in p)
    assert ids == [float(k) for k in range(60)]
    held_all = []
    for train, held in data.group_folds(4, seed=seed):
        assert not {f.group for f in train if f.group} & {f.group for f in held if f.group}
        assert len(train) + len(held) == len(data)
        held_all += [f.energy for f in held]
    assert sorted(held_all) == [float(k) for k in range(60)]  # each frame held out exactly once


def test_reference_energies_by_least_squares_on_composition():
    from ase import Atoms

    from potforge.data import Frame

    eps = {"H": -13.6, "O": -432.1}
    frames = []
    rng = np.random.default_rng(0)
    for nh, no in ((2, 1), (4, 2), (1, 1), (2, 2), (0, 2)):
        atoms = Atoms("H" * nh + "O" * no, positions=rng.normal(size=(nh + no, 3)) * 3)
        frames.append(Frame(atoms, energy=nh * eps["H"] + no * eps["O"]))
    fitted = Dataset(frames).reference_energies(["H", "O"])
    assert fitted == pytest.approx(eps, abs=1e-9)


def test_kalman_prior_precision_is_ridge_regression_with_that_penalty():
    rng = np.random.default_rng(3)
    n, m, eps = 5, 30, 0.01
    H = torch.tensor(rng.normal(size=(m, n)))
    y = torch.tensor(rng.normal(size=m))
    penalty = torch.tensor([0.0, 2.0, 2.0, 0.5, 0.0], dtype=torch.float64)
    w = torch.zeros(n, dtype=torch.float64)
    kf = KalmanFilter(n, epsilon=eps, q0=0.0, q_min=0.0, eta0=1.0, eta_max=1.0, prior_precision=penalty)
    for k in range(m):
        kf.update(w, y[k:k + 1] - H[k] @ w, H[k])
    ridge = torch.linalg.solve(torch.diag(eps + penalty) + H.T @ H, H.T @ y)
    assert torch.allclose(w, ridge, rtol=1e-10, atol=1e-12)


def test_l2_changes_a_kalman_fit(cu_frames):
    """training.l2 is not silently ignored by the Kalman filter."""
    frames = cu_frames[::3]
    results = []
    for l2 in (0.0, 1e5):
        model = _cu_model(frames, seed=1)
        data = model.prepare(frames, [str(k) for k in range(len(frames))])
        trainer = Trainer(model, Loss(LossWeights.from_noise(1e-3, 0.05), l2=l2),
                          KalmanOptimizer(force_fraction=0.05), data, options=TrainingOptions(epochs=1))
        trainer.run()
        results.append(model.theta.detach().clone())
    mask = model.regularized()
    assert results[1][mask].norm() < 0.9 * results[0][mask].norm()
