"""Charges in evaluate (RMSE in me, errors split by total charge: table, JSON, report) and in
predict (extxyz ``charges`` column, n2p2 input.data charge column), with a toy charge model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms

from potforge.data.frame import Frame
from potforge.data.io import read_frames, write_frames
from potforge.models.potential import Potential, Prediction
from potforge.validation.evaluate import evaluate, total_charge_name
from potforge.validation.predict import predict_file
from potforge.validation.report import write_report


class ToyChargeModel(Potential):
    """q_i = a_{Z_i} + (Q − Σ a)/N with Q = atoms.info["total_charge"] (0 if absent);
    E = Σ b_{Z_i} + c Q; no forces."""

    kind = "toy-charge-model"
    A = {"C": -0.3, "H": 0.2}
    B = {"C": -5.0, "H": -1.0}
    C = 0.7

    @property
    def species(self):
        return ("C", "H")

    @property
    def cutoff(self):
        return 3.0

    def predict(self, atoms, *, forces=True, stress=True):
        total = float(atoms.info.get("total_charge", 0.0))
        a = np.array([self.A[s] for s in atoms.get_chemical_symbols()])
        q = a + (total - a.sum()) / len(atoms)
        e = np.array([self.B[s] for s in atoms.get_chemical_symbols()]) + self.C * total / len(atoms)
        return Prediction(float(e.sum()), e, forces=np.zeros((len(atoms), 3)) if forces else None,
                          charges=q)

    def to_dict(self):
        return {"kind": self.kind}

    def _arrays(self):
        return {}

    @classmethod
    def from_saved(cls, description, arrays):
        return cls()


def _frame(symbols, total, dq, de, seed):
    """A labelled frame whose reference differs from the toy model by ``dq`` (charges, e) and
    ``de`` (energy per atom, eV)."""
    rng = np.random.default_rng(seed)
    atoms = Atoms(symbols, positions=np.arange(len(symbols))[:, None] * [1.4, 0, 0] + rng.normal(0, 0.05, (len(symbols), 3)))
    structure = atoms.copy()
    structure.info["total_charge"] = total
    p = ToyChargeModel().predict(structure)
    shift = np.asarray(dq, dtype=float)
    return Frame(atoms, energy=p.energy - de * len(symbols), forces=np.zeros((len(symbols), 3)),
                 charges=p.charges - shift, total_charge=total, config_type="chain")


@pytest.fixture
def frames():
    return [_frame("CCH", 0.0, [0.001, -0.001, 0.0], 0.0, 0),
            _frame("CHH", 1.0, [0.004, 0.0, -0.004], 0.002, 1),
            _frame("CCHH", 1.0, [0.0, 0.0, 0.002, -0.002], -0.002, 2),
            _frame("CH", 0.0, [0.003, -0.003], 0.0, 3)]


def test_total_charge_names():
    assert [total_charge_name(q) for q in (0.0, -0.0, 1.0, -1.0, 0.5, 1e-9)] == \
        ["Q=0", "Q=0", "Q=+1", "Q=-1", "Q=+0.5", "Q=0"]


def test_evaluate_reports_charge_rmse_and_errors_by_total_charge(frames, tmp_path):
    result = evaluate(ToyChargeModel(), frames)
    dq_all = np.array([0.001, -0.001, 0.0, 0.004, 0.0, -0.004, 0.0, 0.0, 0.002, -0.002, 0.003, -0.003])
    assert result.metrics.n_charges == 12
    assert result.metrics.charge_rmse_me == pytest.approx(1000 * np.sqrt(np.mean(dq_all ** 2)), rel=1e-9)
    assert list(result.by_total_charge) == ["Q=0", "Q=+1"]
    neutral, charged = result.by_total_charge["Q=0"], result.by_total_charge["Q=+1"]
    assert (neutral.n_frames, charged.n_frames) == (2, 2)
    assert neutral.energy_rmse_mev_per_atom == pytest.approx(0.0, abs=1e-9)
    assert charged.energy_rmse_mev_per_atom == pytest.approx(2.0, rel=1e-9)
    assert neutral.charge_rmse_me == pytest.approx(1000 * np.sqrt(np.mean(np.r_[dq_all[:3], dq_all[10:]] ** 2)))
    table = result.table()
    assert "charges (me)" in table and "total charge +1" in table and "total charge 0" in table
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["charge_rmse_me"] == pytest.approx(result.metrics.charge_rmse_me)
    assert d["by_total_charge"]["Q=+1"]["energy_rmse_mev_per_atom"] == pytest.approx(2.0)
    report = write_report(result, tmp_path / "rep", title="t", model_path="m", data_path="d")
    text = report.read_text()
    assert "## Errors by total charge" in text and "| Q=+1 | 2 | 7 |" in text and "charge RMSE (me)" in text
    saved = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(saved["by_total_charge"]) == {"Q=0", "Q=+1"}


def test_a_model_without_charges_has_no_charge_columns(frames):
    class Plain(ToyChargeModel):
        def predict(self, atoms, *, forces=True, stress=True):
            p = super().predict(atoms, forces=forces, stress=stress)
            p.charges = None
            return p

    result = evaluate(Plain(), frames)
    assert result.metrics.n_charges == 0 and np.isnan(result.metrics.charge_rmse_me)
    assert "charges (me)" not in result.table()
    assert result.to_dict()["charge_rmse_me"] is None
    # the split by total charge is there all the same: a 2G model's errors per charge state
    assert result.by_total_charge["Q=+1"].energy_rmse_mev_per_atom > 1.0


@pytest.mark.parametrize("name", ["out.xyz", "out.data"])
def test_predict_writes_charges(frames, tmp_path, name):
    src = tmp_path / "in.xyz"
    write_frames(src, frames)
    out = tmp_path / name
    predict_file(ToyChargeModel(), src, out, length_unit="bohr", energy_unit="hartree") \
        if name.endswith(".data") else predict_file(ToyChargeModel(), src, out)
    back = read_frames(out, length_unit="bohr", energy_unit="hartree") if name.endswith(".data") \
        else read_frames(out)
    for ref, got in zip(frames, back):
        structure = ref.atoms.copy()
        structure.info["total_charge"] = ref.total_charge
        expected = ToyChargeModel().predict(structure)
        np.testing.assert_allclose(got.charges, expected.charges, atol=1e-10)
        assert got.total_charge == pytest.approx(ref.total_charge)
        assert got.energy == pytest.approx(expected.energy, abs=1e-8)
    assert "charges" in out.read_text() if name.endswith(".xyz") else "charge 1" in out.read_text()
