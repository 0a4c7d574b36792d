"""training.refit_output: the closed-form refit of the networks' output layers.

Reference answers: the design matrix against predictions at shifted parameters (the model's
own forward pass, independent of the closed form) and against a linear step; the refit's loss
against many L-BFGS steps on the output layers alone; a saved and reloaded model against the
model in memory.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from potforge.core.errors import ConfigError
from potforge.descriptors.cache import DescriptorCache
from potforge.descriptors.presets import preset
from potforge.descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from potforge.models.hdnnp.trainable import TrainableHDNNP
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.first_order import AdamOptimizer
from potforge.training.refit import (_design_by_evaluation, design_matrix, output_columns,
                                     refit_output_layer)
from potforge.training.trainer import Trainer, TrainingOptions

SPECIES = ("Cu", "Ni")


def _emt_frames(n: int, seed: int):
    """Small strained, rattled fcc Cu-Ni cells labelled by ASE's EMT (energy, forces, stress)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from potforge.data import Frame

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
        atoms.set_chemical_symbols(rng.choice(SPECIES, size=len(atoms)).tolist())
        atoms.set_cell(atoms.cell @ (np.eye(3) + rng.normal(scale=0.02, size=(3, 3))), scale_atoms=True)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.calc = EMT()
        frames.append(Frame(atoms.copy(), energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                            stress=atoms.get_stress(), config_type="a" if k % 3 else "b",
                            weight=1.0 + 0.5 * (k % 2)))
    return frames


@pytest.fixture(scope="module")
def frames():
    return _emt_frames(14, 0)


def _model(frames, hidden=(5, 4), acts="ttl", normalize=False):
    sfs = preset(SPECIES, 4.0, n_radial=3, n_angular=1)
    values = DescriptorCache(frames, sfs, derivatives=False).element_values()
    scaling = SymmetryFunctionScaling("scale", {s: ScalingStatistics.from_values(values[s]) for s in SPECIES},
                                      0, 1)
    model = TrainableHDNNP(sfs, scaling, {s: list(hidden) for s in SPECIES}, {s: acts for s in SPECIES},
                           output_scale=0.3, normalize=normalize)
    model.initialize(torch.Generator().manual_seed(2), "glorot")
    model.element_energies = torch.tensor([np.mean([f.energy / f.n_atoms for f in frames])] * 2,
                                          dtype=torch.float64)
    return model


def _loss(l2=0.0):
    return Loss(LossWeights.from_noise(1e-3, 0.05, 0.002), l2=l2, config_type_weights={"b": 3.0},
                stress_components=("xx", "yy", "zz", "xy"))


@pytest.mark.parametrize("normalize, hidden", [(False, (5, 4)), (True, (3,)), (False, ())])
def test_design_matrix_is_the_derivative_of_every_prediction(frames, normalize, hidden):
    """Closed form = prediction(p + e_j) − prediction(p); and a finite step along a random
    direction changes the predictions by exactly A·δ (they are linear in the output layer)."""
    model = _model(frames, hidden, "t" * len(hidden) + "l", normalize)
    data = model.prepare(frames, [str(k) for k in range(len(frames))])
    batch = model.batch(data, torch.arange(len(frames)))
    cols = output_columns(model)
    assert cols.n == 2 * ((hidden[-1] if hidden else len(model.sfs.functions["Cu"])) + 1)
    closed = design_matrix(model, batch, cols, forces=True, stress=True)
    ref = _design_by_evaluation(model, batch, cols, True, True)
    for a, b in ((closed.energy, ref.energy), (closed.forces, ref.forces), (closed.stress, ref.stress)):
        assert torch.allclose(a, b, rtol=1e-7, atol=1e-9 * float(b.abs().max()))
    assert float(closed.forces.abs().max()) > 1e-3 and float(closed.stress.abs().max()) > 1e-5
    delta = torch.tensor(np.random.default_rng(1).normal(size=cols.n)) * 0.7
    with torch.no_grad():
        before = model.predict(batch, forces=True, stress=True)
        model.theta[cols.index] += delta
        after = model.predict(batch, forces=True, stress=True)
    assert torch.allclose(after.energy - before.energy, closed.energy @ delta, atol=1e-9)
    assert torch.allclose(after.forces - before.forces, closed.forces @ delta, atol=1e-9)
    assert torch.allclose(after.stress - before.stress, closed.stress @ delta, atol=1e-11)


def _trainer(frames, model, loss, validation=None):
    names = [str(k) for k in range(len(frames))]
    data = model.prepare(frames, names)
    val = model.prepare(validation, names[:len(validation)]) if validation is not None else None
    trainer = Trainer(model, loss, AdamOptimizer(), data, val, options=TrainingOptions(epochs=1, seed=0))
    return trainer.run()


def _objective(trainer) -> float:
    """The training loss with its L2 term (gradient left in θ.grad)."""
    trainer.model.theta.grad = None
    return float(trainer.full_loss_backward())


def test_refit_reaches_the_minimum_over_the_last_layer(frames):
    """Energies, forces, the selected stress components, frame and config_type weights and the
    L2 prior: the refit's loss is below the loss before, its gradient over the output layers
    (autograd of the loss itself) vanishes, and a direct L-BFGS optimisation of the output
    layers alone from the same start gets no lower."""
    loss = _loss(l2=0.05)
    trainer = _trainer(frames[:8], _model(frames, (4, 3)), loss)
    model = trainer.model
    cols = output_columns(model)
    start = model.theta.detach().clone()
    before = _objective(trainer)
    grad_before = model.theta.grad[cols.index].norm()
    result = refit_output_layer(trainer)
    refit = _objective(trainer)
    assert result["accepted"] and refit < 0.9 * before
    assert result["train_loss"]["after"] == pytest.approx(refit, rel=1e-9)
    assert model.theta.grad[cols.index].norm() < 1e-6 * grad_before  # a stationary point: the minimum

    with torch.no_grad():
        model.theta.copy_(start)
    p = start[cols.index].clone().requires_grad_(True)
    opt = torch.optim.LBFGS([p], lr=1, max_iter=30, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        with torch.no_grad():
            model.theta[cols.index] = p.detach()
        value = _objective(trainer)
        p.grad = model.theta.grad[cols.index].clone()
        return value

    opt.step(closure)
    lbfgs = closure()
    assert refit <= lbfgs * (1 + 1e-9)
    assert refit == pytest.approx(lbfgs, rel=0.05)  # 30 steps of an ill-conditioned quadratic


def test_refit_kept_only_if_the_validation_loss_decreases(frames):
    """Accepted where it helps the validation set; rejected (θ unchanged, a note) for a
    validation set whose labels the model before the refit predicts exactly."""
    from potforge.data import Frame

    loss = _loss()
    trainer = _trainer(frames[4:], _model(frames), loss, validation=frames[:4])
    result = refit_output_layer(trainer)
    assert result["accepted"]
    assert result["validation_loss"]["after"] < result["validation_loss"]["before"]

    model = _model(frames)
    _trainer(frames[4:], model, loss, validation=frames[:4])  # one epoch, energy offset set
    potential = model.to_potential()
    exact = []
    for f in frames[:4]:
        pred = potential.predict(f.atoms)
        exact.append(Frame(f.atoms, energy=pred.energy, forces=pred.forces, stress=pred.stress))
    trainer = Trainer(model, loss, AdamOptimizer(), model.prepare(frames[4:], ["t"] * 10),
                      model.prepare(exact, ["v"] * 4), options=TrainingOptions(epochs=0)).run()
    kept = model.theta.detach().clone()
    lines = []
    result = refit_output_layer(trainer, lines.append)
    assert not result["accepted"] and result["validation_loss"]["before"] < 1e-12
    assert torch.equal(model.theta.detach(), kept)
    assert "rejected: the validation loss did not decrease" in lines[-1]
    assert result["validation"] == trainer.history[-1].validation


def test_no_output_layer_or_a_nonlinear_one_is_skipped_with_its_reason(frames):
    assert "no network output layer" in output_columns(SimpleNamespace(kind="eam"))
    assert "non-linear output" in output_columns(_model(frames, (3,), "tt"))
    lines = []
    trainer = _trainer(frames, _model(frames, (3,), "tt"), _loss())
    assert refit_output_layer(trainer, lines.append) == {"skipped": lines[-1].split(": ", 1)[1]}


def test_fit_saves_the_refitted_model_and_reports_the_refit(tmp_path, frames):
    from potforge.data.io import write_frames
    from potforge.export import load_model
    from potforge.training.config import training_config
    from potforge.training.fit import fit

    train = tmp_path / "train.xyz"
    write_frames(train, frames)
    raw = {"data": {"train": str(train), "validation_fraction": 0.3, "split_seed": 0},
           "model": {"kind": "hdnnp", "symmetry_functions": {"preset": {"cutoff": 4.0, "n_radial": 3,
                                                                        "n_angular": 1},
                                                             "prune": {"enabled": False}},
                     "network": {"hidden": [4], "activation": "t"}},
           "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.05 eV/Å"},
           "training": {"epochs": 1, "seed": 0, "threads": 1, "optimizer": {"kind": "adam"},
                        "refit_output": True}}
    result = fit(training_config(raw), tmp_path / "out", log=lambda line: None)
    refit = result.summary["refit_output"]
    assert refit["parameters"] == 10 and refit["time_s"] > 0
    assert result.summary["validation"]["energy_rmse_mev_per_atom"] == \
        pytest.approx(refit["validation_rmse"]["after" if refit["accepted"] else "before"]
                      ["energy_rmse_mev_per_atom"])
    loaded = load_model(tmp_path / "out")
    model = result.model
    data = model.prepare(frames, [str(k) for k in range(len(frames))])
    with torch.no_grad():
        mine = model.predict(model.batch(data, torch.arange(len(frames))), forces=True, stress=True)
    offsets = data.labels.atom_offsets
    for k, f in enumerate(frames):
        pred = loaded.predict(f.atoms)
        assert pred.energy == pytest.approx(float(mine.energy[k]), abs=1e-9)
        np.testing.assert_allclose(pred.forces, mine.forces[offsets[k]:offsets[k + 1]].numpy(), atol=1e-9)
        np.testing.assert_allclose(pred.stress, mine.stress[k].numpy(), atol=1e-11)
    assert "output-layer refit" in (tmp_path / "out" / "training.log").read_text()


def test_refit_output_is_a_boolean_key():
    from potforge.training.config import training_config

    with pytest.raises(ConfigError, match="training.refit_output"):
        training_config({"data": {"train": "x.xyz"}, "training": {"refit_output": "sometimes"}})
    with pytest.raises(ConfigError, match="training.refit_force_factor: expected a finite factor >= 0"):
        training_config({"data": {"train": "x.xyz"}, "training": {"refit_force_factor": -1}})
    assert training_config({"data": {"train": "x.xyz"}}).training.refit_output is False


def test_force_factor_zero_refits_the_energies_alone(frames):
    """force_factor 0: the exact minimum of the energy term alone, judged by that loss."""
    trainer = _trainer(frames[4:], _model(frames), _loss(), validation=frames[:4])
    lines = []
    result = refit_output_layer(trainer, lines.append, force_factor=0.0)
    assert result["force_factor"] == 0.0 and "(force term x0)" in lines[-1]
    assert result["train_rmse"]["after"]["energy_rmse_mev_per_atom"] < \
        result["train_rmse"]["before"]["energy_rmse_mev_per_atom"]
    assert result["train_loss"]["after"] < result["train_loss"]["before"]
    assert trainer.loss.weights.forces > 0  # the trainer's loss is restored


def test_4g_stage2_short_range_networks_are_refitted(shared_data):
    """The other families' design matrix (one prediction per output parameter) on a 4G stage-2
    model (n2p2's carbon chain, electrostatics fixed by stage 1): predictions move by exactly
    A·δ, and the refit lowers the training loss."""
    from potforge.data.io import read_frames
    from potforge.models.hdnnp_charges.train_n2p2 import stage2_from_n2p2

    units = dict(length_unit="bohr", energy_unit="hartree")
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    sub = read_frames(root / "train" / "input.data", **units)[:40:10]
    model = stage2_from_n2p2(root / "train", electronegativity_from=root, **units)
    model.initialize(torch.Generator().manual_seed(0))
    data = model.prepare(sub, [f"frame {k}" for k in range(len(sub))])
    model.fit_offsets(data)
    cols = output_columns(model)
    batch = model.batch(data, None)
    design = design_matrix(model, batch, cols, forces=True, stress=False)
    delta = torch.tensor(np.random.default_rng(2).normal(size=cols.n))
    with torch.no_grad():
        before = model.predict(batch, forces=True, stress=False)
        model.theta[cols.index] += delta
        after = model.predict(batch, forces=True, stress=False)
        model.theta[cols.index] -= delta
    assert torch.allclose(after.energy - before.energy, design.energy @ delta, atol=1e-9)
    assert torch.allclose(after.forces - before.forces, design.forces @ delta, atol=1e-9)
    trainer = Trainer(model, Loss(LossWeights.from_noise(1e-3, 0.05)), AdamOptimizer(), data,
                      options=TrainingOptions(epochs=0)).run()
    result = refit_output_layer(trainer)
    assert result["accepted"] and result["train_loss"]["after"] < 0.5 * result["train_loss"]["before"]
