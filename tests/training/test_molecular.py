"""The 1G molecular network potential: derivatives, invariances, conversion, persistence,
training on the shipped MP2 water PES (examples/h2o-1g/h2o_pes.xyz), input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from scipy.spatial.transform import Rotation

from potforge.core.errors import ConfigError, NotFittedError, StructureError, UnknownElementError
from potforge.data import Dataset, Frame
from potforge.models.hdnnp_1g.potential import MolecularNetworkPotential, like_atom_permutations
from potforge.models import load_potential
from potforge.training.loss import Loss, LossWeights
from potforge.models.hdnnp_1g.trainable import TrainableMolecularNetwork
from potforge.training.optimizers.first_order import AdamOptimizer, LBFGSOptimizer
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

from ..conftest import REPO
from ..contracts import contract

PES = REPO / "examples" / "h2o-1g" / "h2o_pes.xyz"


@pytest.fixture(scope="module")
def frames():
    return list(Dataset.read(PES))


@pytest.fixture(scope="module")
def model(frames):
    """A 1G water model with random weights and a non-zero offset, scaled on real data."""
    m = TrainableMolecularNetwork(["O", "H", "H"], [7, 5], "ttl", length=0.8)
    m.fit_scaling(m.prepare(frames[:50]))
    m.initialize(torch.Generator().manual_seed(3))
    m.mean_energy = -691.5
    m.element_energies = torch.tensor([0.25, -0.125], dtype=torch.float64)
    return m


def _predict(model, frames):
    with torch.no_grad():
        data = model.prepare(frames)
        out = model.predict(model.batch(data, None), forces=True)
    return out.energy.numpy(), out.forces.numpy().reshape(len(frames), -1, 3)


def _moved(atoms, positions):
    moved = atoms.copy()
    moved.positions = positions
    return moved


def test_potential_forces_match_finite_differences(model, frames):
    potential = model.to_potential()
    for frame in frames[:3]:
        contract.forces_match_finite_differences(potential, frame.atoms, h=1e-3, rtol=1e-7, atol=1e-8)


def test_trainable_forces_match_finite_differences(model, frames):
    atoms = frames[5].atoms
    h = 1e-3
    shifted = []
    for i in range(3):
        for c in range(3):
            for step in (-2, -1, 1, 2):
                pos = atoms.positions.copy()
                pos[i, c] += step * h
                shifted.append(Frame(_moved(atoms, pos)))
    energies, _ = _predict(model, shifted)
    e = energies.reshape(9, 4)
    numeric = -(-e[:, 3] + 8 * e[:, 2] - 8 * e[:, 1] + e[:, 0]) / (12 * h)
    _, forces = _predict(model, [Frame(atoms)])
    np.testing.assert_allclose(forces[0].reshape(-1), numeric, rtol=1e-7, atol=1e-8)


def test_invariant_under_rotation_translation_and_swapping_hydrogens(model, frames):
    potential = model.to_potential()
    atoms = frames[7].atoms
    rot = Rotation.from_euler("zyx", [0.3, -1.1, 2.0]).as_matrix()
    swapped = atoms[[0, 2, 1]]
    reordered = atoms[[1, 0, 2]]  # H, O, H: any order of the structure's atoms is accepted
    variants = [(_moved(atoms, atoms.positions @ rot.T), rot, [0, 1, 2]),
                (_moved(atoms, atoms.positions + [3.1, -0.4, 7.0]), np.eye(3), [0, 1, 2]),
                (swapped, np.eye(3), [0, 2, 1]), (reordered, np.eye(3), [1, 0, 2])]
    p0 = potential.predict(atoms)
    e_ref, f_ref = _predict(model, [Frame(atoms)])
    e_var, f_var = _predict(model, [Frame(v) for v, _, _ in variants])
    for k, (variant, r, order) in enumerate(variants):
        p = potential.predict(variant)
        assert abs(p.energy - p0.energy) < 1e-12 * abs(p0.energy)
        np.testing.assert_allclose(p.forces, p0.forces[order] @ r.T, rtol=0, atol=1e-12)
        assert abs(e_var[k] - e_ref[0]) < 1e-12 * abs(e_ref[0])
        np.testing.assert_allclose(f_var[k], f_ref[0][order] @ r.T, rtol=0, atol=1e-12)


def test_symmetrisation_over_all_like_atom_permutations():
    """NH3: six permutations of the H atoms, all giving the same energy."""
    assert len(like_atom_permutations(["N", "H", "H", "H"])) == 6
    m = TrainableMolecularNetwork(["N", "H", "H", "H"], [6], "tl", input_mean=np.zeros(6),
                                  input_std=np.full(6, 0.1))
    m.initialize(torch.Generator().manual_seed(1))
    potential = m.to_potential()
    atoms = Atoms("NH3", positions=[[0, 0, 0.1], [0.95, 0, -0.2], [-0.5, 0.8, -0.3], [-0.4, -0.9, -0.25]])
    p0 = potential.predict(atoms)
    for order in ([0, 2, 3, 1], [0, 3, 1, 2], [2, 0, 1, 3]):
        p = potential.predict(atoms[order])
        assert abs(p.energy - p0.energy) < 1e-12
        np.testing.assert_allclose(p.forces, p0.forces[order], atol=1e-12)
    contract.forces_match_finite_differences(potential, atoms, h=1e-3, rtol=1e-7, atol=1e-8)


def test_trainable_model_and_potential_agree(model, frames):
    potential = model.to_potential()
    energies, forces = _predict(model, frames[:20])
    for k, frame in enumerate(frames[:20]):
        p = potential.predict(frame.atoms)
        assert abs(p.energy - energies[k]) < 1e-12 * abs(energies[k])
        np.testing.assert_allclose(p.forces, forces[k], rtol=0, atol=1e-12)
        assert p.stress is None and np.isclose(p.energies.sum(), p.energy, rtol=1e-15)


def test_save_load_and_description_round_trip(model, frames, tmp_path):
    potential = model.to_potential({"note": "test"})
    potential.save(tmp_path / "m")
    loaded = load_potential(tmp_path / "m")
    assert isinstance(loaded, MolecularNetworkPotential) and loaded.to_dict() == potential.to_dict()
    for frame in frames[:5]:
        a, b = potential.predict(frame.atoms), loaded.predict(frame.atoms)
        assert a.energy == b.energy and np.array_equal(a.forces, b.forces)
    rebuilt = TrainableMolecularNetwork.from_description(model.description())
    rebuilt.load_state(model.state())
    again = TrainableMolecularNetwork.from_potential(loaded)
    for other in (rebuilt, again):
        e1, f1 = _predict(other, frames[:5])
        e0, f0 = _predict(model, frames[:5])
        np.testing.assert_allclose(e1, e0, rtol=1e-14)
        np.testing.assert_allclose(f1, f0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam", "kalman"])
def test_short_fit_lowers_validation_error(frames, optimizer):
    dataset = Dataset(frames)
    train, validation, _ = dataset.split_by_group([0.1, 0.05, 0.85], seed=1)
    m = TrainableMolecularNetwork(["O", "H", "H"], [10, 10], "ttl")
    train_data = m.prepare(list(train))
    validation_data = m.prepare(list(validation))
    m.fit_scaling(train_data)
    m.initialize(torch.Generator().manual_seed(0))
    opt = {"lbfgs": lambda: LBFGSOptimizer(iterations=15),
           "adam": lambda: AdamOptimizer(lr=2e-2, batch_size=4, schedule="constant"),
           "kalman": lambda: KalmanOptimizer(force_fraction=0.05, selection="random")}[optimizer]()
    epochs = {"lbfgs": 2, "adam": 6, "kalman": 2}[optimizer]
    trainer = Trainer(m, Loss(LossWeights.from_noise(1e-3, 2e-2)), opt, train_data, validation_data,
                      options=TrainingOptions(epochs=epochs))
    trainer.run()
    first, best = trainer.history[0].validation, trainer.history[trainer.best_epoch].validation
    assert best["energy_rmse_mev_per_atom"] < 0.5 * first["energy_rmse_mev_per_atom"]
    assert best["force_rmse_ev_per_angstrom"] < first["force_rmse_ev_per_angstrom"]


@pytest.mark.parametrize("symbols, error", [("OH", StructureError), ("H2O2", StructureError),
                                            ("NH3", UnknownElementError)])
def test_wrong_composition_is_a_one_line_error(model, symbols, error):
    atoms = Atoms(symbols, positions=np.arange(3 * len(Atoms(symbols))).reshape(-1, 3) * 0.7)
    with pytest.raises(error) as info:
        model.to_potential().predict(atoms)
    assert "\n" not in str(info.value) and "O, H" in str(info.value)
    with pytest.raises(error, match=r"^frame 1: "):
        model.prepare([Frame(Atoms("OH2", positions=[[0, 0, 0], [1, 0, 0], [0, 1, 0]])), Frame(atoms)])


def test_other_input_errors(model, frames):
    atoms = frames[0].atoms.copy()
    atoms.pbc = True
    atoms.cell = [10, 10, 10]
    with pytest.raises(StructureError, match="periodic"):
        model.to_potential().predict(atoms)
    close = frames[0].atoms.copy()
    close.positions[2] = close.positions[1] + 0.1
    with pytest.raises(StructureError, match="overlap"):
        model.to_potential().predict(close)
    with pytest.raises(ConfigError, match="did you mean 'hidden'"):
        TrainableMolecularNetwork.from_description({"symbols": ["O", "H", "H"], "hiden": [4]})
    with pytest.raises(ConfigError, match="model.activations"):
        TrainableMolecularNetwork(["O", "H", "H"], [4, 4], "tl")
    with pytest.raises(NotFittedError, match="fit_scaling"):
        fresh = TrainableMolecularNetwork(["O", "H", "H"], [4])
        fresh.predict(fresh.batch(fresh.prepare(frames[:2]), None), forces=False)
