"""3G training: stage 1 (charge networks to reference charges, total charge restored) and
stage 2 (short-range networks on E_ref − E_elec, F_ref − F_elec of the fixed stage-1
charges): the trainable forms predict exactly what the HDNNP3G they hand over predicts
(charged and neutral chains, a charged periodic cell with stress), and training lowers the
errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from potforge.data.frame import Frame
from potforge.data.io import read_frames
from potforge.models.hdnnp_charges.settings import ElectrostaticSettings
from potforge.models.hdnnp_charges.train_n2p2 import n2p2_setup
from potforge.models.hdnnp_charges.trainable3g import TrainableHDNNP3G, TrainableHDNNP3GCharges
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.first_order import LBFGSOptimizer
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

UNITS = dict(length_unit="bohr", energy_unit="hartree")


@pytest.fixture(scope="module")
def chain(shared_data):
    root = shared_data / "n2p2" / "Carbon_chain_4G"
    frames = read_frames(root / "train" / "input.data", **UNITS)
    setup = n2p2_setup(root / "train", **UNITS)
    return setup, frames


def _stage1(setup, electrostatics=None, seed=0):
    sp = setup["species"]
    model = TrainableHDNNP3GCharges(setup["sfs"], setup["scaling"], {s: [8] for s in sp}, {s: "tl" for s in sp},
                                    electrostatics=electrostatics or setup["electrostatics"], charge_scale=0.05)
    model.initialize(torch.Generator().manual_seed(seed))
    return model


def _stage2(setup, stage1, seed=1):
    sp = setup["species"]
    model = TrainableHDNNP3G(setup["sfs"], setup["scaling"], {s: [6] for s in sp}, {s: "tl" for s in sp},
                             stage1.charge_networks(), stage1.electrostatics, charge_scale=stage1.charge_scale,
                             output_scale=0.3)
    model.initialize(torch.Generator().manual_seed(seed))
    model.element_energies = torch.tensor([-13.0, -1027.0], dtype=torch.float64)
    model.mean_energy = 0.1
    return model


def _assert_same(model, frames, pot, stress=False):
    """Trainable short-range part + precomputed stage-1 electrostatics == pot.predict."""
    data = model.prepare(frames, [f"frame {k}" for k in range(len(frames))])
    out = model.predict(model.batch(data, None), forces=True, stress=stress)
    elec = data.electrostatics
    for k, frame in enumerate(frames):
        p = pot.predict(frame.atoms)
        a0, a1 = int(data.labels.atom_offsets[k]), int(data.labels.atom_offsets[k + 1])
        assert float(out.energy[k].detach() + elec.energy[k]) == pytest.approx(p.energy, abs=1e-9 * (a1 - a0))
        f = out.forces[a0:a1].detach().numpy() + elec.forces[a0:a1].numpy()
        np.testing.assert_allclose(f, p.forces, atol=1e-9, rtol=0)
        np.testing.assert_allclose(out.charges[a0:a1].numpy(), p.charges, atol=1e-12, rtol=0)
        assert float(p.charges.sum()) == pytest.approx(float(frame.atoms.info["total_charge"]), abs=1e-12)
        if stress:
            s = out.stress[k].detach().numpy() + elec.stress[k].numpy()
            np.testing.assert_allclose(s, p.stress, atol=1e-9, rtol=0)


def test_stage1_charges_are_the_potentials(chain):
    """The stage-1 charges (batched, total restored per frame) equal HDNNP3G's."""
    setup, frames = chain
    model = _stage1(setup)
    sub = frames[::16]
    data = model.prepare(sub, [f"frame {k}" for k in range(len(sub))])
    q = model.charges(model.batch(data, None)).detach().numpy()
    pot = model.to_potential()
    pot.n_threads = 1
    got = np.concatenate([pot.predict(f.atoms, forces=False, stress=False).charges for f in sub])
    np.testing.assert_allclose(q, got, atol=1e-12, rtol=0)
    totals = np.add.reduceat(q, data.labels.atom_offsets[:-1].numpy())
    np.testing.assert_allclose(totals, data.labels.total_charge.numpy(), atol=1e-12)
    assert len(set(np.round(totals))) == 2  # neutral and charged chains
    assert not np.any(pot.short_networks["C"].weights[0])


def test_stage2_trainable_equals_potential_open(chain):
    """Charged and neutral open chains with screening: energies, forces (through dq/dr of the
    charge networks) and charges of the trainable + stage-1 electrostatics == to_potential()."""
    setup, frames = chain
    model = _stage2(setup, _stage1(setup))
    pot = model.to_potential()
    pot.n_threads = 1
    _assert_same(model, frames[::16], pot)


def test_stage2_charged_periodic_cell_stress(chain):
    """A periodic cell of total charge +1 e (Ewald, neutralising background): forces and stress."""
    setup, frames = chain
    elec = ElectrostaticSettings(dict(setup["electrostatics"].widths), (1.0, 4.0, "c"))
    model = _stage2(setup, _stage1(setup, elec))
    atoms = frames[3].atoms.copy()
    atoms.positions += 1.0
    atoms.cell = [[15.0, 0.5, 0.0], [0.0, 13.0, 0.0], [0.3, 0.0, 14.0]]
    atoms.pbc = True
    assert atoms.info["total_charge"] == 1.0
    frame = Frame(atoms, energy=0.0, forces=np.zeros((len(atoms), 3)), total_charge=1.0)
    pot = model.to_potential()
    pot.n_threads = 1
    _assert_same(model, [frame], pot, stress=True)


def test_training_both_stages(chain):
    setup, frames = chain
    sub = frames[:128:8]
    names = [f"frame {k}" for k in range(len(sub))]
    one = _stage1(setup)
    trainer = Trainer(one, Loss(LossWeights.from_noise(None, None, None, 0.01)),
                      KalmanOptimizer(selection="random", force_fraction=0.0), one.prepare(sub, names),
                      options=TrainingOptions(epochs=4))
    trainer.run()
    first, last = trainer.history[0].train, trainer.history[-1].train
    assert last["charge_rmse_me"] < 0.5 * first["charge_rmse_me"]
    two = _stage2(setup, one)
    data = two.prepare(sub, names)
    two.fit_offsets(data)
    trainer = Trainer(two, Loss(LossWeights.from_noise(1e-3, 0.05, None, None)), LBFGSOptimizer(iterations=10),
                      data, options=TrainingOptions(epochs=3))
    trainer.run()
    first, last = trainer.history[0].train, trainer.history[-1].train
    assert last["energy_rmse_mev_per_atom"] < 0.85 * first["energy_rmse_mev_per_atom"]
    assert last["charge_rmse_me"] == pytest.approx(trainer.history[0].train["charge_rmse_me"])
    pot = two.to_potential()
    pot.n_threads = 1
    _assert_same(two, sub[:3], pot)
    rebuilt = TrainableHDNNP3G.from_description(two.description())
    assert rebuilt.layout.n_parameters == two.layout.n_parameters
    assert TrainableHDNNP3GCharges.from_description(one.description()).layout.n_parameters == \
        one.layout.n_parameters


@pytest.mark.parametrize("kind", ["hdnnp-3g", "hdnnp-4g"])
def test_two_stage_fit_by_config_without_n2p2(chain, tmp_path, kind):
    """Both generations from potforge's own settings (preset functions, covalent-radius
    widths, screening): stage 1 saves a model with zero short-range networks; stage 2 from
    that directory keeps its charges and lowers the loss."""
    from ase.data import covalent_radii

    from potforge.models import load_potential
    from potforge.training.config import training_config
    from potforge.training.fit import fit

    _, frames = chain
    root = chain[0]["directory"]
    lines = (root / "input.data").read_text().splitlines(keepends=True)
    ends = [k for k, line in enumerate(lines) if line.startswith("end")]
    (tmp_path / "input.data").write_text("".join(lines[:ends[11] + 1]))  # 12 chains
    common = {"data": {"train": str(tmp_path / "input.data"), "validation_fraction": 0.25,
                       "length_unit": "bohr", "energy_unit": "hartree"},
              "training": {"epochs": 2, "optimizer": {"kind": "lbfgs", "iterations": 5}}}
    net = "charge_network" if kind == "hdnnp-3g" else "electronegativity_network"
    one = {"kind": kind, "stage": 1, "symmetry_functions": {"preset": {"cutoff": 4.0, "n_radial": 4,
                                                                       "n_angular": 2}},
           net: {"hidden": [6]}, "screening": ["1.0 Å", "4.0 Å"]}
    fit(training_config({**common, "model": one,
                         "loss": {"energy_sigma": None, "force_sigma": None, "charge_sigma": 0.01}}),
        tmp_path / "s1", log=lambda line: None)
    s1 = load_potential(tmp_path / "s1")
    assert s1.kind == kind and not np.any(s1.short_networks["C"].weights[0])
    assert s1.electrostatics.widths["C"] == pytest.approx(covalent_radii[6])
    assert s1.electrostatics.screening[:2] == (1.0, 4.0)
    source = "stage1" if kind == "hdnnp-3g" else "electronegativity_from"
    two = fit(training_config({**common, "model": {"kind": kind, "stage": 2, source: str(tmp_path / "s1"),
                                                   "network": {"hidden": [6]}},
                               "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.1 eV/Å"}}),
              tmp_path / "s2", log=lambda line: None)
    s2 = load_potential(tmp_path / "s2")
    atoms = frames[0].atoms
    np.testing.assert_allclose(s2.predict(atoms).charges, s1.predict(atoms).charges, atol=1e-12)
    assert two.history[-1]["train_loss"] < 0.9 * two.history[0]["train_loss"]


def test_config_refusals():
    from potforge.core.errors import ConfigError
    from potforge.training.config import training_config

    base = {"data": {"train": "x.data"}, "loss": {"charge_sigma": 0.01}}
    for model, match in [({"kind": "hdnnp-3g", "stage": 2}, "stage1"),
                         ({"kind": "hdnnp-3g", "stage": 2, "stage1": "a", "gaussian_width": {"C": 1}},
                          "gaussian_width"),
                         ({"kind": "hdnnp-3g", "screening": [4, 2]}, "screening"),
                         ({"kind": "hdnnp-4g", "stage": 2}, "electronegativity_from"),
                         ({"kind": "hdnnp-4g", "n2p2": "t", "hardness": 3}, "hardness"),
                         ({"kind": "hdnnp-4g", "pretrained": True}, "pretrained")]:
        with pytest.raises(ConfigError, match=match):
            training_config({**base, "model": model})
