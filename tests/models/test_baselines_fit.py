"""Training with baselines: the fit subtracts them from the labels and saves model + baselines."""

from __future__ import annotations

import numpy as np
from ase.io import write

from potforge.models import load_potential
from potforge.models.baselines.composite import Baselined
from potforge.models.baselines.zbl import ZBL
from potforge.training.config import load_config, training_config
from potforge.training.fit import fit

from ..training.test_classical_fit import _cu_structures, _label
from . import classical_cases as cc


def _config(path, baselines):
    raw = {"data": {"train": str(path), "validation_fraction": 0.0},
           "model": {"kind": "pair", "cutoff": 5.0, "smooth_width": 1.0,
                     "pair": {"Cu-Cu": {"form": "morse", "D0": 0.3, "alpha": 1.3, "r0": 2.6}}},
           "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å"}}
    if baselines is not None:
        raw["baselines"] = baselines
    return training_config(raw)


def _rmse(potential, frames):
    e = [(potential.predict(a).energy - a.get_potential_energy()) / len(a) for a in frames]
    f = np.concatenate([(potential.predict(a).forces - a.get_forces()).ravel() for a in frames])
    return float(np.sqrt(np.mean(np.square(e)))), float(np.sqrt(np.mean(f * f)))


def test_fit_with_a_zbl_baseline_learns_the_remainder_and_saves_the_composite(tmp_path):
    zbl = {"kind": "zbl", "inner": 1.6, "outer": 2.6}
    truth = Baselined(cc.pair_model("morse"), [ZBL(zbl["inner"], zbl["outer"])])
    frames = _label(truth, _cu_structures(6))
    # the compressed frames hold pairs inside the ZBL range: the data are not a Morse potential
    assert max(abs(ZBL(1.6, 2.6).predict(a).energy) for a in frames) > 0.5
    write(tmp_path / "d.xyz", frames)
    with_base = fit(_config(tmp_path / "d.xyz", [zbl]), tmp_path / "with", log=lambda line: None)
    without = fit(_config(tmp_path / "d.xyz", None), tmp_path / "without", log=lambda line: None)
    assert isinstance(with_base.potential, Baselined)
    assert not isinstance(without.potential, Baselined)
    e_with, f_with = _rmse(with_base.potential, frames)
    e_without, f_without = _rmse(without.potential, frames)
    assert e_with < 1e-6 and f_with < 1e-5          # Morse + ZBL is recovered exactly
    assert e_without > 100 * e_with and f_without > 100 * f_with
    loaded = load_potential(tmp_path / "with")
    assert isinstance(loaded, Baselined) and loaded.baselines[0].outer == 2.6
    for a in frames:
        p, q = with_base.potential.predict(a), loaded.predict(a)
        assert p.energy == q.energy
        np.testing.assert_array_equal(p.forces, q.forces)
    # the resolved config saved with the run reads back with its baselines
    again = load_config(tmp_path / "with" / "config.yaml")
    assert again.baselines[0][0] == "zbl" and again.baselines[0][1].inner == 1.6


def test_baselines_are_refused_for_a_charges_only_stage_1_fit():
    from pathlib import Path

    import pytest

    from potforge.core.errors import ConfigError as _ConfigError
    from potforge.training.config import training_config

    train = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "n2p2" / "Carbon_chain_4G" / "train"
    model = {"kind": "hdnnp-4g", "n2p2": str(train), "length_unit": "bohr", "energy_unit": "hartree"}
    raw = {"data": {"train": str(train / "input.data"), "length_unit": "bohr", "energy_unit": "hartree"},
           "loss": {"energy_sigma": None, "force_sigma": None, "charge_sigma": 0.01},
           "baselines": [{"kind": "zbl"}]}
    with pytest.raises(_ConfigError, match="baselines: a hdnnp-4g stage-1 fit predicts charges only"):
        training_config({**raw, "model": {**model, "stage": 1}})
