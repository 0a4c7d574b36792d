"""Grouped Kalman measurement updates (``training.optimizer.measurements_per_update``): a group
is the exact Kalman update of its measurements, m = 1 is the one-measurement path, the
schedules count measurements, the option is validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.training.config import training_config
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.optimizers.kalman_filter import KalmanFilter, blas_threads
from potforge.training.trainer import Trainer, TrainingOptions

from .test_training import _cu_model

EXACT = dict(epsilon=0.05, q0=0.0, q_min=0.0, eta0=1.0, eta_max=1.0)


def _problem(n=9, m=23, seed=3):
    rng = np.random.default_rng(seed)
    H = torch.tensor(rng.normal(size=(m, n)))
    y = H @ torch.tensor(rng.normal(size=n)) + 0.1 * torch.tensor(rng.normal(size=m))
    return H, y


@pytest.mark.parametrize("sizes", [(5, 5, 5, 5, 3), (23,), (2, 7, 1, 13)])
def test_block_update_equals_the_measurements_one_by_one(sizes):
    """Linear measurements, η = 1, q = 0: a vector update equals its rows applied one at a
    time (recursive least squares), weights and P, for any grouping."""
    H, y = _problem()
    n = H.shape[1]
    prior = torch.linspace(0.0, 2.0, n, dtype=torch.float64)
    w1, kf1 = torch.zeros(n, dtype=torch.float64), KalmanFilter(n, prior_precision=prior, **EXACT)
    for k in range(len(y)):
        kf1.update(w1, y[k:k + 1] - H[k] @ w1, H[k])
    w2, kf2 = torch.zeros(n, dtype=torch.float64), KalmanFilter(n, prior_precision=prior, **EXACT)
    start = 0
    for size in sizes:
        rows = slice(start, start + size)
        kf2.update_block(w2, y[rows] - H[rows] @ w2, H[rows].T)
        start += size
    assert kf2.updates == kf1.updates == len(y)                  # schedules count measurements
    assert torch.allclose(w2, w1, rtol=1e-11, atol=1e-13)
    assert torch.allclose(kf2.P, kf1.P, rtol=1e-10, atol=1e-14)
    ridge = torch.linalg.solve(torch.diag(0.05 + prior) + H.T @ H, H.T @ y)
    assert torch.allclose(w2, ridge, rtol=1e-10, atol=1e-12)


def test_block_update_follows_eta_and_q_of_the_measurement_count():
    """η and q advance by the group's measurements: after 4 groups of 8 with 32 measurements
    per epoch the filter is one epoch on, as after 32 single updates; q reaches P's diagonal."""
    H, y = _problem(n=6, m=32, seed=5)
    kf = KalmanFilter(6, epsilon=1.0, q0=0.01, q_min=0.0, eta0=0.01, eta_max=1.0, updates_per_epoch=32)
    w = torch.zeros(6, dtype=torch.float64)
    etas = []
    for start in range(0, 32, 8):
        etas.append(kf.eta)
        kf.update_block(w, y[start:start + 8] - H[start:start + 8] @ w, H[start:start + 8].T)
    assert kf.epochs == 1.0
    assert etas == pytest.approx([0.01 * np.exp(2.302 * t) for t in (0, 0.25, 0.5, 0.75)], rel=1e-12)
    lone = KalmanFilter(6, epsilon=1.0, q0=0.01, q_min=0.0, eta0=0.01, eta_max=1.0, updates_per_epoch=32)
    lone.update_block(torch.zeros(6, dtype=torch.float64), torch.zeros(2), torch.zeros(6, 2))
    noise = 0.01 + 0.01 * np.exp(-2.302 / 32)                    # q of both measurements
    assert torch.allclose(lone.P, torch.eye(6, dtype=torch.float64) * (1 + noise), rtol=0, atol=1e-15)


@pytest.mark.parametrize("m", [2, 8, 32])
def test_a_group_adds_the_process_noise_of_its_measurements(m):
    """q > 0: a group of m measurements adds Σ q over its m measurements to P, as the same
    measurements one by one do (uninformative ones, H = 0: exactly the one-by-one P), not q
    once; with information, the block update with q minus the one without is that sum times I."""
    options = dict(epsilon=0.5, q0=0.02, q_tau=2.302, q_min=1e-5, eta0=1.0, eta_max=1.0, updates_per_epoch=16)
    one, group = KalmanFilter(5, **options), KalmanFilter(5, **options)
    w = torch.zeros(5, dtype=torch.float64)
    for _ in range(2):                                           # past q_min's floor too
        for _ in range(m):
            one.update(w, torch.zeros(1), torch.zeros(5, dtype=torch.float64))
        group.update_block(w, torch.zeros(m), torch.zeros(5, m, dtype=torch.float64))
    assert group.updates == one.updates == 2 * m
    assert torch.allclose(group.P, one.P, rtol=1e-14, atol=0)
    H, y = _problem(n=5, m=m, seed=7)
    noisy, quiet = KalmanFilter(5, **options), KalmanFilter(5, **dict(options, q0=0.0, q_min=0.0))
    for kf in (noisy, quiet):
        kf.update_block(torch.zeros(5, dtype=torch.float64), y, H.T)
    expected = sum(max(0.02 * np.exp(-2.302 * k / 16), 1e-5) for k in range(m))
    assert torch.allclose(noisy.P - quiet.P, expected * torch.eye(5, dtype=torch.float64), rtol=0, atol=1e-13)


def _linear_model(frames):
    """An HDNNP without hidden layers and a linear output: energies and forces linear in theta."""
    return _cu_model(frames, hidden=(), acts="l", seed=1)


def _one_epoch(model, data, **options) -> Trainer:
    """Set up a trainer on ``data`` (the closed-form offsets fitted) and run one Kalman epoch."""
    trainer = Trainer(model, Loss(LossWeights.from_noise(1e-3, 0.05)), KalmanOptimizer(**options), data,
                      options=TrainingOptions(epochs=1, seed=0))
    trainer.refit_energy_offset()
    trainer.optimizer.setup(trainer)
    trainer.epoch = 1
    trainer.optimizer.epoch(trainer)
    return trainer


@pytest.mark.parametrize("m", [7, 32])
def test_grouped_epoch_equals_one_by_one_for_a_model_linear_in_its_weights(cu_frames, m):
    """The exact Kalman property through the optimizer: same schedule (random selection),
    η = 1, q = 0, a linear model: groups of m give the weights of single updates."""
    frames = cu_frames[:6] + cu_frames[-2:]
    options = dict(force_fraction=0.1, selection="random", **EXACT)
    results = []
    for per_update in (1, m):
        model = _linear_model(frames)
        data = model.prepare(frames, [f"f{k}" for k in range(len(frames))])
        trainer = _one_epoch(model, data, measurements_per_update=per_update, **options)
        results.append((model.theta.detach().clone(), trainer.optimizer.filter))
    (theta1, kf1), (theta_m, kf_m) = results
    assert kf1.updates == kf_m.updates > 3 * m
    assert not torch.equal(theta1, _linear_model(frames).theta.detach())     # it did train
    # P agrees to ~1e-14; the weights to ~1e-8 of their size (rounding of the errors, which
    # are small differences of energies, through P's condition number of ~1e4)
    assert torch.allclose(theta_m, theta1, rtol=0, atol=1e-6 * float(theta1.abs().max()))
    assert torch.allclose(kf_m.P, kf1.P, rtol=0, atol=1e-11 * float(kf1.P.abs().max()))


@pytest.fixture
def one_thread():
    """torch and the filter's BLAS on one thread (as in a Kalman epoch with training.threads 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with blas_threads(1):
            yield
    finally:
        torch.set_num_threads(previous)


def test_one_measurement_per_update_is_the_single_measurement_path(cu_frames, one_thread):
    """m = 1 is n2p2's filter bit for bit: every scheduled measurement, its gradient, one
    rank-1 update, in the order the optimizer's generator gives (written out here)."""
    frames = cu_frames[:4] + cu_frames[-1:]
    options = dict(force_fraction=0.1, selection="random")
    model = _cu_model(frames, seed=2)
    data = model.prepare(frames, [f"f{k}" for k in range(len(frames))])
    ref = _cu_model(frames, seed=2)
    opt = _one_epoch(model, data, measurements_per_update=1, **options).optimizer

    ref_trainer = Trainer(ref, Loss(LossWeights.from_noise(1e-3, 0.05)), KalmanOptimizer(**options), data,
                          options=TrainingOptions(epochs=1, seed=0))
    ref_trainer.refit_energy_offset()
    g = ref_trainer.generator
    lab = ref.labels(data)
    kf = KalmanFilter(ref.n_parameters, updates_per_epoch=opt.n_energy + opt.n_force,
                      **KalmanOptimizer().filter_options)
    energies = opt.energy_candidates[torch.randperm(len(opt.energy_candidates), generator=g)]
    forces = opt.force_candidates[torch.randperm(len(opt.force_candidates), generator=g)]
    schedule = torch.cat([torch.zeros(opt.n_energy, dtype=torch.long),
                          torch.ones(opt.n_force, dtype=torch.long)])
    ie = jf = 0
    for kind in schedule[torch.randperm(len(schedule), generator=g)].tolist():
        if kind == 0:
            f = int(energies[ie])
            ie += 1
            y = ref.energy_measurement(data, f)
            err, sigma = float(lab.energy[f] / lab.n_atoms[f]) - float(y.detach()), float(opt.sigma_energy[f])
        else:
            atom, comp = divmod(int(forces[jf]), 3)
            jf += 1
            y = ref.force_measurement(data, atom, comp)
            err = float(lab.forces[atom, comp]) - float(y.detach())
            sigma = float(opt.sigma_force[opt.frame_of_atom[atom]])
        (h,) = torch.autograd.grad(y, ref.theta)
        with torch.no_grad():
            kf.update(ref.theta, torch.tensor([err / sigma]), h / sigma)
    assert ie + jf == opt.filter.updates > 10
    assert torch.equal(model.theta.detach(), ref.theta.detach())
    assert torch.equal(opt.filter.P, kf.P)


@pytest.mark.parametrize("value", [0, -3, 2.5, "8", True, None])
def test_measurements_per_update_must_be_a_positive_integer(value):
    raw = {"data": {"train": "/nonexistent/train.xyz"},
           "training": {"optimizer": {"kind": "kalman", "measurements_per_update": value}}}
    with pytest.raises(ConfigError) as info:
        training_config(raw)
    message = str(info.value)
    assert message.startswith("training.optimizer.measurements_per_update") and "\n" not in message


def test_blas_threads_restores_the_previous_count():
    """Both bundled OpenBLAS libraries (scipy's and numpy's) follow training.threads in an epoch."""
    from potforge.training.optimizers.kalman_filter import _openblas_threads

    calls = _openblas_threads()
    if not calls:
        pytest.skip("scipy and numpy use a BLAS without a thread setter here")
    before = [int(get()) for get, _ in calls]
    with blas_threads(1):
        assert [int(get()) for get, _ in calls] == [1] * len(calls)
    assert [int(get()) for get, _ in calls] == before
