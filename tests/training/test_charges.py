"""Charge labels, the loss's charge term σ_Q, the charge RMSE of training and Kalman charge
updates, on a toy charge model whose optimum is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ase import Atoms

from potforge.core.errors import ConfigError, DataFormatError
from potforge.data.frame import Frame
from potforge.data.labels import frame_labels, frame_total_charge
from potforge.models.trainable import ModelOutput, TrainableModel
from potforge.training.config import LossConfig
from potforge.training.loss import ErrorAccumulator, Loss, LossWeights
from potforge.training.optimizers.first_order import AdamOptimizer
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions


class ToyBatch:
    """What the loss and trainer read of a batch (the labels' gather)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


class ToyCharges(TrainableModel):
    """q_i = a_{Z_i} + (Q − Σ_j a_{Z_j}) / N (total charge Q conserved), E = Σ_i b_{Z_i} + c Q.

    theta = (a_1..a_S, b_1..b_S, c); forces are zero."""

    kind = "toy-charges"
    predicts_charges = True

    def __init__(self, species):
        self.species = tuple(species)
        s = len(self.species)
        self.theta = torch.zeros(2 * s + 1, dtype=torch.float64, requires_grad=True)
        self.element_energies = torch.zeros(s, dtype=torch.float64)
        self.mean_energy = 0.0

    def prepare(self, frames, names, *, derivatives, progress=None):
        return frame_labels(frames, self.species, names=names)

    def batch(self, data, frames, *, derivatives=True):
        frames, _, atoms = data.select(frames)
        return ToyBatch(**data.gather(frames, atoms))

    def labels(self, data):
        return data

    def predict(self, batch, *, forces, stress):
        s = len(self.species)
        a, b, c = self.theta[:s], self.theta[s:2 * s], self.theta[2 * s]
        n = batch.n_atoms.to(torch.float64)
        raw = a[batch.element]
        excess = batch.total_charge - torch.zeros(batch.n_frames, dtype=torch.float64).index_add(
            0, batch.frame_of_atom, raw)
        charges = raw + (excess / n)[batch.frame_of_atom]
        energy = torch.zeros(batch.n_frames, dtype=torch.float64).index_add(0, batch.frame_of_atom,
                                                                           b[batch.element])
        energy = self.with_offsets(energy + c * batch.total_charge, batch)
        out = ModelOutput(energy, charges=charges)
        if forces:
            out.forces = torch.zeros((len(batch.element), 3), dtype=torch.float64) + 0.0 * self.theta.sum()
        return out

    def regularized(self):
        return torch.ones_like(self.theta, dtype=torch.bool)

    def to_potential(self, metadata=None):
        raise NotImplementedError

    def description(self):
        return {"kind": self.kind, "species": list(self.species)}

    @classmethod
    def from_description(cls, d):
        return cls(d["species"])


def _frame(symbols, charges=None, total=None, energy=None, seed=0):
    rng = np.random.default_rng(seed)
    atoms = Atoms(symbols, positions=np.arange(len(symbols))[:, None] * [1.5, 0, 0]
                  + rng.normal(0, 0.05, (len(symbols), 3)))
    forces = np.zeros((len(symbols), 3)) if energy is not None else None
    return Frame(atoms, energy=energy, forces=forces, charges=charges, total_charge=total)


#: true toy parameters: a_C = −0.3, a_H = +0.2; b_C = −5, b_H = −1; c = 0.7 eV/e
TRUE = {"a": {"C": -0.3, "H": 0.2}, "b": {"C": -5.0, "H": -1.0}, "c": 0.7}


def _labelled(symbols, total, seed):
    a = np.array([TRUE["a"][s] for s in symbols])
    q = a + (total - a.sum()) / len(symbols)
    e = sum(TRUE["b"][s] for s in symbols) + TRUE["c"] * total
    return _frame(symbols, charges=q, total=total, energy=e, seed=seed)


@pytest.fixture
def frames():
    shapes = ["CCH", "CHH", "CCCH", "HCH", "CCHH", "CH"]
    return [_labelled(s, total, k) for k, (s, total) in
            enumerate((s, t) for s in shapes for t in (0.0, 1.0, -1.0))]


def test_labels_carry_charges_and_the_total_charge_rule():
    a = _frame("CH", charges=[0.25, -0.5])                  # no label: sum of charges
    b = _frame("CHH", charges=[0.1, 0.2, 0.7], total=1.0)   # label (agreeing with the charges)
    c = _frame("HH")                                        # nothing: neutral
    d = _frame("C", total=-2.0)                             # label without charges
    lab = frame_labels([a, b, c, d], ("C", "H"))
    assert lab.total_charge.tolist() == [-0.25, 1.0, 0.0, -2.0]
    assert [frame_total_charge(f) for f in (a, b, c, d)] == [-0.25, 1.0, 0.0, -2.0]
    assert lab.charges[:5].tolist() == [0.25, -0.5, 0.1, 0.2, 0.7]
    with pytest.raises(DataFormatError, match="frame 1: the atomic charges sum to 0.6 e but the total charge is 1 e"):
        frame_labels([a, _frame("CHH", charges=[0.1, 0.2, 0.3], total=1.0)], ("C", "H"))
    assert torch.isnan(lab.charges[5:]).all() and lab.charges.shape == (8,)
    frames, _, atoms = lab.select([3, 1])
    got = lab.gather(frames, atoms)
    assert got["total_charge"].tolist() == [-2.0, 1.0]
    assert torch.isnan(got["charges"][0]) and got["charges"][1:].tolist() == [0.1, 0.2, 0.7]


def test_charge_term_is_the_weighted_squared_error_over_sigma_squared(frames):
    model = ToyCharges(("C", "H"))
    lab = model.prepare(frames, [f"f{k}" for k in range(len(frames))], derivatives=False)
    batch = model.batch(lab, torch.tensor([0, 4, 7]))
    batch.weight = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    out = model.predict(batch, forces=False, stress=False)
    sigma = 0.01
    loss = Loss(LossWeights.from_noise(None, None, None, sigma))
    terms = loss(out, batch)
    dq = (out.charges - batch.charges).detach().numpy()
    w = batch.weight.numpy()[batch.frame_of_atom.numpy()]
    expected = float((w * dq ** 2).sum()) / sigma ** 2 / 3
    assert terms.charges == pytest.approx(expected, rel=1e-12)
    assert float(terms.total.detach()) == pytest.approx(expected, rel=1e-12)
    assert terms.energy == terms.forces == 0.0
    # σ_Q = 0.02 quarters the term; charges missing in a frame leave it out
    assert Loss(LossWeights.from_noise(None, None, None, 0.02))(out, batch).charges == pytest.approx(expected / 4)
    batch.charges = batch.charges.clone()
    batch.charges[batch.frame_of_atom == 1] = math.nan
    keep = (batch.frame_of_atom != 1).numpy()
    assert loss(out, batch).charges == pytest.approx(float((w * dq ** 2)[keep].sum()) / sigma ** 2 / 3)


def test_charge_sigma_config_and_units():
    assert LossConfig(charge_sigma=0.005).charge_sigma == 0.005
    LossConfig(energy_sigma=None, force_sigma=None, charge_sigma=0.01).check("loss")  # stage 1 alone
    with pytest.raises(ConfigError, match="loss.charge_sigma: noise level must be a positive"):
        LossConfig(charge_sigma=-1.0).check("loss")
    with pytest.raises(ConfigError, match="charge_sigma"):
        LossConfig(energy_sigma=None, force_sigma=None).check("loss")
    from potforge.core.config import parse_quantity
    assert parse_quantity("5 me", "charge", "loss.charge_sigma") == pytest.approx(0.005)
    w = LossWeights.from_noise(1e-3, None, None, 0.005)
    assert w.charges == pytest.approx(1 / 0.005 ** 2) and w.sigmas["charges"] == pytest.approx(0.005)


def test_accumulator_reports_charge_rmse_in_me(frames):
    model = ToyCharges(("C", "H"))
    lab = model.prepare(frames, [f"f{k}" for k in range(len(frames))], derivatives=False)
    acc = ErrorAccumulator(lab.config_types)
    batch = model.batch(lab, None)
    out = model.predict(batch, forces=False, stress=False)
    acc.add(out, batch)
    dq = (out.charges - batch.charges).detach().numpy()
    m = acc.result()
    assert m.n_charges == lab.total_atoms
    assert m.charge_rmse_me == pytest.approx(1000 * np.sqrt(np.mean(dq ** 2)), rel=1e-12)
    assert m.charge_max_me == pytest.approx(1000 * np.abs(dq).max(), rel=1e-12)


@pytest.mark.parametrize("optimizer", ["kalman", "adam"])
def test_training_on_charges_recovers_the_true_charges(frames, optimizer):
    torch.manual_seed(0)
    model = ToyCharges(("C", "H"))
    names = [f"frame {k}" for k in range(len(frames))]
    data = model.prepare(frames, names, derivatives=True)
    opt = KalmanOptimizer(selection="random", force_fraction=0.0) if optimizer == "kalman" \
        else AdamOptimizer(lr=0.05, batch_size=4, schedule="constant")
    lines = []
    trainer = Trainer(model, Loss(LossWeights.from_noise(None, None, None, 0.01)), opt, data,
                      options=TrainingOptions(epochs=12 if optimizer == "kalman" else 150),
                      log=lines.append)
    trainer.run()
    first, last = trainer.history[0].train, trainer.history[-1].train
    assert first["charge_rmse_me"] > 100
    assert last["charge_rmse_me"] < 0.05 * first["charge_rmse_me"]
    # only differences of a within a frame are determined; they must match the truth
    a = model.theta.detach()[:2]
    assert float(a[0] - a[1]) == pytest.approx(TRUE["a"]["C"] - TRUE["a"]["H"], abs=0.02)
    assert "Q " in lines[-1] and "me)" in lines[-1]


def test_charge_and_energy_together_and_the_total_charge_in_energy(frames):
    model = ToyCharges(("C", "H"))
    data = model.prepare(frames, [f"f{k}" for k in range(len(frames))], derivatives=True)
    trainer = Trainer(model, Loss(LossWeights.from_noise(1e-3, None, None, 0.01)),
                      KalmanOptimizer(selection="random", force_fraction=0.0), data,
                      options=TrainingOptions(epochs=15))
    trainer.run()
    assert trainer.history[-1].train["energy_rmse_mev_per_atom"] < 5.0
    assert float(model.theta[4]) == pytest.approx(TRUE["c"], abs=0.02)  # energy per unit charge


def test_charge_term_needs_charges_in_data_and_model(frames):
    model = ToyCharges(("C", "H"))
    unlabelled = frames[:3] + [_frame("CH", energy=-6.0)]
    data = model.prepare(unlabelled, ["a", "b", "c", "no-charges"], derivatives=True)
    with pytest.raises(ConfigError, match="no-charges: no reference charges, but the loss fits charges"):
        Trainer(model, Loss(LossWeights.from_noise(None, None, None, 0.01)), AdamOptimizer(), data)

    class NoCharges(ToyCharges):
        kind = "toy-no-charges"
        predicts_charges = False

    plain = NoCharges(("C", "H"))
    with pytest.raises(ConfigError, match="loss.charge_sigma: a toy-no-charges model predicts no charges"):
        Trainer(plain, Loss(LossWeights.from_noise(None, None, None, 0.01)), AdamOptimizer(),
                plain.prepare(frames, [str(k) for k in range(len(frames))], derivatives=True))


def test_models_without_charges_keep_their_history_keys(frames):
    from potforge.training.trainer import _record_dict
    from potforge.core.metrics import ErrorMetrics

    m = ErrorMetrics.from_errors(np.ones(2), np.ones(3), np.zeros(0), n_frames=2, n_atoms=3,
                                 n_frames_with_stress=0)
    assert "charge_rmse_me" not in _record_dict(m) and math.isnan(m.charge_rmse_me)
    q = ErrorMetrics.from_errors(np.ones(2), np.ones(3), np.zeros(0), n_frames=2, n_atoms=3,
                                 n_frames_with_stress=0, charges=np.array([3.0, -4.0]))
    assert _record_dict(q)["charge_rmse_me"] == pytest.approx(math.sqrt(12.5))
