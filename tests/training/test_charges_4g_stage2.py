"""Stage 2 of 4G training (short-range networks on the remainder of the fixed stage-1
electrostatics): the trainable form plus its precomputed electrostatics predicts exactly what
the HDNNP4G Potential predicts (energies, forces through dq/dr, stress of charged periodic
cells), and training lowers the error and hands over an equal Potential."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from potforge.data.frame import Frame
from potforge.data.io import read_frames
from potforge.models.hdnnp_charges.n2p2 import read_n2p2_4g_model
from potforge.models.hdnnp_charges.potential4g import HDNNP4G
from potforge.models.hdnnp_charges.settings import ElectrostaticSettings
from potforge.models.hdnnp_charges.train_n2p2 import stage1_from_n2p2, stage2_from_n2p2
from potforge.models.hdnnp_charges.trainable4g_short import TrainableHDNNP4G
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.first_order import LBFGSOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

UNITS = dict(length_unit="bohr", energy_unit="hartree")


@pytest.fixture(scope="module")
def chain(shared_data):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    return root, read_frames(root / "train" / "input.data", **UNITS)


def _total(model, data, out, k):
    """Energy, forces of frame k: the trainable's short-range part plus stage 1's electrostatics."""
    a0, a1 = int(data.labels.atom_offsets[k]), int(data.labels.atom_offsets[k + 1])
    e = float(out.energy[k].detach() + data.response.energy[k])
    f = out.forces[a0:a1].detach().numpy() + data.response.forces[a0:a1].numpy()
    return e, f, a0, a1


def _assert_same(model, frames, pot, stress=False):
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    out = model.predict(model.batch(data, None), forces=True, stress=stress)
    for k, frame in enumerate(frames):
        p = pot.predict(frame.atoms)
        e, f, a0, a1 = _total(model, data, out, k)
        assert e == pytest.approx(p.energy, abs=1e-9 * len(frame.atoms))
        np.testing.assert_allclose(f, p.forces, atol=1e-9, rtol=0)
        np.testing.assert_allclose(data.response.charges[a0:a1].numpy(), p.charges, atol=1e-10, rtol=0)
        if stress:
            s = out.stress[k].detach().numpy() + data.response.stress[k].numpy()
            np.testing.assert_allclose(s, p.stress, atol=1e-9, rtol=0)


def test_n2p2_model_through_the_trainable_form(chain):
    """n2p2's carbon-chain 4G model (charged and neutral chains, screening): trainable +
    precomputed electrostatics equals HDNNP4G to 1e-9 (dq/dr against the adjoint solve)."""
    root, frames = chain
    pot = read_n2p2_4g_model(root, **UNITS)
    pot.n_threads = 1
    sub = [f for f in frames[::16]]
    assert len({round(float(f.atoms.info.get("total_charge", 0.0))) for f in frames}) > 1
    _assert_same(TrainableHDNNP4G.from_potential(pot), sub, pot)
    assert TrainableHDNNP4G.from_potential(pot).to_potential().short_networks["C"].architecture == \
        pot.short_networks["C"].architecture


def test_charged_periodic_cell_forces_and_stress(chain):
    """The periodic path (Ewald, physical convention with its neutralising background, a
    total charge of +1 e): forces through dq/dr and stress through dq/dε as HDNNP4G."""
    root, frames = chain
    base = read_n2p2_4g_model(root, **UNITS)
    elec = ElectrostaticSettings(dict(base.electrostatics.widths))
    pot = HDNNP4G(base.symmetry_functions, base.scaling, base.electronegativity_networks,
                  base.short_networks, base.hardness, elec, output_scale=base.output_scale,
                  chi_scale=base.chi_scale, n_threads=1)
    atoms = frames[5].atoms.copy()
    atoms.positions += 1.0
    atoms.cell = [[14.0, 0.5, 0.0], [0.0, 13.0, 0.0], [0.3, 0.0, 15.0]]
    atoms.pbc = True
    atoms.info["total_charge"] = 1.0
    frame = Frame(atoms, energy=0.0, forces=np.zeros((len(atoms), 3)), total_charge=1.0)
    _assert_same(TrainableHDNNP4G.from_potential(pot), [frame], pot, stress=True)


def test_stage2_training_and_potential(chain):
    """From n2p2's pre-trained stage 1 and from a potforge stage-1 model: training lowers
    the energy and force errors (L-BFGS epochs; the Kalman filter
    runs in bench/bench_train_4g.py); to_potential predicts what the trainable predicted."""
    root, frames = chain
    sub = frames[:128:10]
    model = stage2_from_n2p2(root / "train", electronegativity_from=root, **UNITS)
    model.initialize(torch.Generator().manual_seed(0))
    data = model.prepare(sub, [f"frame {k}" for k in range(len(sub))])
    model.fit_offsets(data)
    trainer = Trainer(model, Loss(LossWeights.from_noise(1e-3, 0.05, None, None)),
                      LBFGSOptimizer(iterations=10), data,
                      options=TrainingOptions(epochs=3))
    trainer.run()
    first, last = trainer.history[0].train, trainer.history[-1].train
    assert last["energy_rmse_mev_per_atom"] < 0.85 * first["energy_rmse_mev_per_atom"]
    assert last["force_rmse_ev_per_angstrom"] < first["force_rmse_ev_per_angstrom"]
    pot = model.to_potential()
    pot.n_threads = 1
    _assert_same(model, sub[:3], pot)
    stage1 = stage1_from_n2p2(root / "train", pretrained=False, **UNITS)
    stage1.initialize(torch.Generator().manual_seed(1))
    warm = stage2_from_n2p2(root / "train", stage1, **UNITS)
    assert not torch.equal(torch.tensor(warm.electronegativity_networks["C"].weights[0]),
                           torch.tensor(model.electronegativity_networks["C"].weights[0]))
    rebuilt = TrainableHDNNP4G.from_description(model.description())
    assert rebuilt.layout.n_parameters == model.layout.n_parameters


def test_two_stage_fit_by_config(chain, tmp_path):
    """``model: {kind: hdnnp-4g, stage: 1}`` saves a 4G model with zero short-range networks
    (charges and electrostatics only); stage 2 takes it as ``electronegativity_from`` and
    saves a model whose charges are stage 1's and whose energies improve on it."""
    from potforge.models import load_potential
    from potforge.training.config import training_config
    from potforge.training.fit import fit

    root, frames = chain
    lines = (root / "train" / "input.data").read_text().splitlines(keepends=True)
    ends = [k for k, line in enumerate(lines) if line.startswith("end")]
    (tmp_path / "input.data").write_text("".join(lines[:ends[11] + 1]))  # 12 chains
    common = {"data": {"train": str(tmp_path / "input.data"), "validation_fraction": 0.25,
                       "length_unit": "bohr", "energy_unit": "hartree"},
              "training": {"epochs": 2, "optimizer": {"kind": "lbfgs", "iterations": 5}}}
    model = {"kind": "hdnnp-4g", "n2p2": str(root / "train"), "length_unit": "bohr", "energy_unit": "hartree"}
    one = fit(training_config({**common, "model": {**model, "stage": 1},
                               "loss": {"energy_sigma": None, "force_sigma": None, "charge_sigma": 0.01}}),
              tmp_path / "s1", log=lambda line: None)
    s1 = load_potential(tmp_path / "s1")
    assert s1.kind == "hdnnp-4g" and not np.any(s1.short_networks["C"].weights[0])
    two = fit(training_config({**common, "model": {**model, "stage": 2,
                                                   "electronegativity_from": str(tmp_path / "s1")},
                               "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.1 eV/Å"}}),
              tmp_path / "s2", log=lambda line: None)
    s2 = load_potential(tmp_path / "s2")
    atoms = frames[0].atoms
    np.testing.assert_allclose(s2.predict(atoms).charges, s1.predict(atoms).charges, atol=1e-12)
    assert one.history
    curve = [r["train"]["energy_rmse_mev_per_atom"] for r in two.history]
    assert curve[-1] < curve[0]
