"""Fitting classical potentials: exact Jacobians, parameter recovery, configs and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from potforge.core.errors import ConfigError, UnknownElementError
from potforge.data.frame import Frame
from potforge.models.classical.spec import potential_from_spec
from potforge.training.config import training_config
from potforge.training.fit import fit
from potforge.training.optimizers.least_squares import ResidualProblem, LeastSquaresOptimizer
from potforge.training.loss import Loss, LossWeights
from potforge.models.classical.trainable import TrainableClassical
from potforge.training.trainer import Trainer

from ..models import classical_cases as cc


def _label(model, structures, offset=-3.0, config_type="synthetic"):
    """Frames labelled by ``model`` (energy shifted by ``offset`` per atom, as DFT's reference)."""
    frames = []
    for a in structures:
        p = model.predict(a)
        a = a.copy()
        a.calc = SinglePointCalculator(a, energy=p.energy + offset * len(a), forces=p.forces,
                                       stress=p.stress)
        a.info["config_type"] = config_type
        frames.append(a)
    return frames


def _cu_structures(n=8, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        scale = 0.88 + 0.28 * k / max(n - 1, 1)          # compressed to expanded
        a = bulk("Cu", "fcc", 3.61 * scale, cubic=True).repeat((2, 2, 2))
        a.rattle(0.06, seed=int(rng.integers(1 << 30)))
        if k % 2:
            a.set_cell(np.asarray(a.cell) @ (np.eye(3) + 0.03 * rng.standard_normal((3, 3))), scale_atoms=True)
        if k % 3 == 2:
            del a[0]                                     # vacancy
        out.append(a)
    out.append(cc.cluster(out[min(3, n - 1)], 6))        # low densities
    return out


def _trainer(model: TrainableClassical, frames, l2=0.0):
    frames = [Frame(a, energy=a.get_potential_energy(), forces=a.get_forces(),
                    stress=a.get_stress() if a.pbc.all() else None, config_type="synthetic") for a in frames]
    data = model.prepare(frames, [f"f{k}" for k in range(len(frames))])
    loss = Loss(LossWeights.from_noise(1e-3, 0.02, 0.1 * 0.00624150907), l2=l2)
    return Trainer(model, loss, LeastSquaresOptimizer(), data)


@pytest.mark.parametrize("make", [cc.eam_alloy_model, lambda: cc.pair_model("spline")])
def test_closed_form_jacobian_equals_forward_over_reverse(make):
    potential = make()
    structures = [cc.cu_ni_box(k) for k in range(2)] if len(potential.species) == 2 else \
        [cc.cu_box(k) for k in range(2)]
    model = TrainableClassical(potential)
    trainer = _trainer(model, _label(potential, structures), l2=0.3)
    problem = ResidualProblem(trainer)
    x = np.append(model.theta.detach().numpy() * 1.03, -0.2)
    fast = problem.jacobian(x)
    model.output_jacobian = lambda *a, **k: None      # force the generic route
    generic = problem.jacobian(x)
    assert fast.shape == generic.shape and fast.shape[1] == model.n_parameters + 1
    np.testing.assert_allclose(fast, generic, rtol=1e-10, atol=1e-10 * np.abs(generic).max())


def test_jacobian_matches_finite_differences_tersoff():
    potential = cc.tersoff_si(cc.TERSOFF_SI_B)
    model = TrainableClassical(potential)
    trainer = _trainer(model, _label(potential, [cc.si_box(k, rattle=0.15) for k in range(2)]))
    problem = ResidualProblem(trainer)
    x = np.append(model.theta.detach().numpy(), 0.1)
    jac = problem.jacobian(x)
    for k in range(0, len(x) - 1, 3):
        h = 1e-6 * max(1.0, abs(x[k]))
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        numeric = (problem.residuals(up) - problem.residuals(down)) / (2 * h)
        np.testing.assert_allclose(jac[:, k], numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max() + 1e-9,
                                   err_msg=model.free[k])


def _recover(truth, fit_names, structures, perturb=1.15):
    frames = _label(truth, structures)
    start = truth.copy()
    for n, p in start.parameters.items():
        p.fixed = n not in fit_names
        if not p.fixed:
            p.value = p.value * perturb if p.value != 0 else 0.05
            p.lower, p.upper = min(p.lower, p.value), max(p.upper, p.value)
    model = TrainableClassical(start)
    trainer = _trainer(model, frames)
    trainer.epochs = 1
    LeastSquaresOptimizer(max_iterations=200, tolerance=1e-15).epoch(_Epoch(trainer))
    fitted = dict(zip(model.free, model.theta.detach().tolist()))
    return {n: (fitted[n], truth.parameters[n].value) for n in fit_names}, model.mean_energy


class _Epoch:
    """A trainer seen by an optimizer in its first epoch."""

    def __init__(self, trainer):
        self._t = trainer
        self.epoch = 1

    def __getattr__(self, name):
        return getattr(self._t, name)


def test_fit_recovers_eam_parameters():
    truth = cc.eam_model()
    names = ["pair.Cu-Cu.D0", "pair.Cu-Cu.alpha", "pair.Cu-Cu.r0", "density.Cu.beta",
             "embedding.Cu.A", "embedding.Cu.B"]
    result, offset = _recover(truth, names, _cu_structures())
    for name, (got, want) in result.items():
        assert abs(got - want) <= 1e-4 * abs(want), f"{name}: fitted {got}, true {want}"
    assert abs(offset - (-3.0)) < 1e-6


def test_fit_recovers_tersoff_parameters():
    truth = cc.tersoff_si(cc.TERSOFF_SI_B)
    names = ["Si-Si-Si." + k for k in ("A", "B", "lambda1", "lambda2", "beta", "c", "d", "costheta0")]
    structures = [cc.si_box(k, a=5.43 * (0.94 + 0.03 * k), rattle=0.12) for k in range(5)]
    structures.append(cc.cluster(structures[2], 7))
    result, _ = _recover(truth, names, structures, perturb=1.08)
    for name, (got, want) in result.items():
        tol = 1e-4 * abs(want) if want != 0 else 1e-6
        assert abs(got - want) <= tol, f"{name}: fitted {got}, true {want}"


def test_train_eam_from_config_and_restarts(tmp_path):
    from ase.io import write

    truth = cc.eam_model()
    write(tmp_path / "data.xyz", _label(truth, _cu_structures(6, seed=3)))
    cfg = training_config({
        "data": {"train": str(tmp_path / "data.xyz"), "validation_fraction": 0.0},
        "model": {"kind": "eam", **cc.EAM_CU,
                  "pair": {"Cu-Cu": {"form": "morse", "D0": 0.3, "alpha": 1.3, "r0": 2.6}}},
        "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å", "stress_sigma": "0.1 GPa"},
        "training": {"epochs": 1, "optimizer": {"kind": "lsq", "restarts": 2, "max_iterations": 60}},
    })
    lines = []
    result = fit(cfg, tmp_path / "out", log=lines.append)
    assert sum("lsq start" in line for line in lines) == 3
    assert result.summary["train"]["energy_rmse_mev_per_atom"] < 0.01
    fitted = result.potential
    assert abs(fitted.parameters["pair.Cu-Cu.alpha"].value - 1.5) < 1e-3
    box = cc.cu_box(7)
    p, q = fitted.predict(box), truth.predict(box)
    assert abs((p.energy - q.energy) / len(box) - (-3.0)) < 1e-5
    from potforge.models import load_potential

    again = load_potential(tmp_path / "out")
    assert again.predict(box).energy == p.energy


def test_lbfgsb_respects_bounds(tmp_path):
    truth = cc.pair_model("morse")
    frames = _label(truth, _cu_structures(4))
    start = truth.copy()
    start.parameters["pair.Cu-Cu.D0"].value = 0.2
    start.parameters["pair.Cu-Cu.D0"].upper = 0.3          # the truth (0.34) lies outside
    from potforge.training.optimizers.least_squares import LBFGSBOptimizer

    model = TrainableClassical(start)
    trainer = _trainer(model, frames)
    LBFGSBOptimizer(iterations=100).epoch(_Epoch(trainer))
    d0 = float(model.theta.detach()[model.free.index("pair.Cu-Cu.D0")])
    assert d0 <= 0.3 + 1e-12 and d0 > 0.29


@pytest.mark.parametrize("model_section, message", [
    ({"kind": "eam", "cutoff": 5.0, "pair": {"Cu-Cu": {"form": "morse", "D0": -1, "alpha": 1, "r0": 2.5}}},
     "pair.Cu-Cu.D0 = -1 is outside its physical bounds"),
    ({"kind": "pair", "cutoff": 5.0, "pair": {"Cu-Cu": {"form": "morse", "D0": 1, "alpha": 1}}},
     "model.pair.Cu-Cu.r0: missing"),
    ({"kind": "pair", "cutoff": 5.0, "pair": {"Cu-Cu": {"form": "mors", "D0": 1}}},
     "not a radial form"),
    ({"kind": "pair", "cutoff": 5.0, "pair": {"Cu-Cu": {"form": "morse", "D0": 1, "alpha": 1, "r0": 2, "r1": 3}}},
     "model.pair.Cu-Cu.r1: unknown key"),
    ({"kind": "tersoff", "parameters": {"Si-Si-Si": {**cc.TERSOFF_SI_C, "m": 2.0}}},
     "LAMMPS allows only m = 1 or 3"),
    ({"kind": "tersoff", "parameters": {"Si-Si-Si": {k: v for k, v in cc.TERSOFF_SI_C.items() if k != "A"}}},
     "model.parameters.Si-Si-Si.A: missing"),
    ({"kind": "sw", "parameters": {"Si-Si-Si": {**cc.SW_SI, "costheta0": -2.0}}},
     "costheta0 = -2 is outside its physical bounds"),
    ({"kind": "eam", "cutoff": 5.0, "pair": {"Cu-Cu": {"form": "morse", "D0": 1, "alpha": 1, "r0": 2.5}},
      "density": {"Cu": {"form": "exponential", "A": 1, "beta": 3, "re": 2.5}}},
     "model.embedding.Cu: missing"),
])
def test_bad_classical_configs_are_one_line_errors(tmp_path, model_section, message):
    with pytest.raises(ConfigError) as err:
        training_config({"data": {"train": "x.xyz"}, "model": model_section})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_element_missing_from_potential():
    model = cc.pair_model("morse")
    atoms = cc.cu_ni_box(0)
    with pytest.raises(UnknownElementError, match="Ni"):
        model.predict(atoms)


def test_spec_fix_by_key_and_bounds():
    spec = {"parameters": {"Si-Si-Si": {**cc.TERSOFF_SI_C, "A": {"value": 1830.8, "min": 1500, "max": 2000}}},
            "fix": ["R", "D"]}
    model = potential_from_spec("tersoff", spec, ["Si"])
    assert model.parameters["Si-Si-Si.R"].fixed and model.parameters["Si-Si-Si.D"].fixed
    assert model.parameters["Si-Si-Si.m"].fixed            # an integer exponent is never fitted
    assert model.parameters["Si-Si-Si.A"].lower == 1500 and model.parameters["Si-Si-Si.A"].upper == 2000
    assert "Si-Si-Si.R" not in TrainableClassical(model).free
    with pytest.raises(ConfigError, match="names no parameter"):
        potential_from_spec("tersoff", {**spec, "fix": ["Q"]}, ["Si"])


def test_smooth_cutoff_derivatives_vanish():
    """f, f′ and f″ of every switched form (and the spline) go to zero at the cutoff."""
    for form in ("morse", "lj", "buckingham", "spline"):
        model = cc.pair_model(form)
        rc = model.cutoff
        for delta in (1e-3, 1e-4):
            r = torch.tensor([rc - delta], dtype=torch.float64, requires_grad=True)
            types = torch.zeros(1, dtype=torch.long)
            phi = model.pair_energy(model.parameter_tensors(), r, types)
            (d1,) = torch.autograd.grad(phi.sum(), r, create_graph=True)
            (d2,) = torch.autograd.grad(d1.sum(), r)
            assert abs(float(phi)) < 1e3 * delta**3 and abs(float(d1)) < 1e3 * delta**2
            assert abs(float(d2)) < 1e3 * delta, (form, float(d2))


def test_cv_cli_works_unchanged_for_eam(tmp_path):
    """Leave-group-out CV over a classical model's own key (the cutoff), through the CLI."""
    import json

    import yaml
    from ase.io import write

    from potforge.cli.main import main

    truth = cc.eam_model()
    frames = _label(truth, _cu_structures(6, seed=5))
    for k, a in enumerate(frames):
        a.info["group"] = f"g{k % 3}"
    write(tmp_path / "data.xyz", frames)
    raw = {"data": {"train": str(tmp_path / "data.xyz"), "validation_fraction": 0.0},
           "model": {"kind": "eam", **cc.EAM_CU},
           "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å"},
           "training": {"epochs": 1, "optimizer": {"kind": "lsq", "max_iterations": 15}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "cv"
    assert main(["cv", str(tmp_path / "c.yaml"), "--folds", "3", "--grid", "model.cutoff=4.5,5.0",
                 "-o", str(out)]) == 0
    result = json.loads((out / "cv.json").read_text())
    assert [p["values"]["model.cutoff"] for p in result["points"]] == [4.5, 5.0]
    # the data come from the 5.0 Å model: its held-out loss is (numerically) zero
    assert result["chosen"]["values"]["model.cutoff"] == 5.0


def _bij_reference(x: float, n: float) -> float:
    """LAMMPS ters_bij, transcribed from its documented branches (float arithmetic)."""
    c1 = (2.0 * n * 1.0e-16) ** (-1.0 / n)
    c2 = (2.0 * n * 1.0e-8) ** (-1.0 / n)
    c3, c4 = 1.0 / c2, 1.0 / c1
    if x > c1:
        return x ** -0.5
    if x > c2:
        return (1.0 - x ** (-n) / (2.0 * n)) * x ** -0.5
    if x < c4:
        return 1.0
    if x < c3:
        return 1.0 - x ** n / (2.0 * n)
    return (1.0 + x ** n) ** (-1.0 / (2.0 * n))


@pytest.mark.parametrize("n", [0.78734, 22.956])
def test_tersoff_bond_order_branches_and_finite_gradients(n):
    from potforge.models.classical.tersoff import bond_order

    nn = torch.tensor(n, dtype=torch.float64)
    c1 = (2.0 * n * 1.0e-16) ** (-1.0 / n)
    c2 = (2.0 * n * 1.0e-8) ** (-1.0 / n)
    xs = [0.0, 0.5 / c1, 2.0 / c1, 0.5 / c2, 1.0, 2.0 * c2, 2.0 * c1, 1e14, 1e-16]
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    b = bond_order(x, nn)
    for k, xv in enumerate(xs):
        assert float(b[k]) == pytest.approx(_bij_reference(xv, n), rel=1e-14, abs=1e-300), xv
    (g,) = torch.autograd.grad(b.sum(), x)
    assert torch.isfinite(g).all(), g
    # the closed form and every branch agree within the branch's stated accuracy
    xd = x.detach()
    big = xd > 1
    safe = torch.where(big, xd, torch.ones_like(xd))
    closed = torch.where(big, safe ** -0.5 * (1.0 + safe ** -n) ** (-1.0 / (2.0 * n)),
                         (1.0 + torch.where(big, torch.zeros_like(xd), xd) ** n) ** (-1.0 / (2.0 * n)))
    assert torch.allclose(b.detach(), closed, rtol=1e-7)


def test_jacobian_every_column_tersoff_with_three_body_exponential():
    """Si(C) has λ₃ ≠ 0 (m = 3): every free column, R and D freed too, against differences."""
    potential = cc.tersoff_si(cc.TERSOFF_SI_C)
    for n in ("Si-Si-Si.R", "Si-Si-Si.D"):
        potential.parameters[n].fixed = False
    model = TrainableClassical(potential)
    assert "Si-Si-Si.R" in model.free and model.list_cutoff > potential.cutoff
    trainer = _trainer(model, _label(potential, [cc.si_box(k, rattle=0.2) for k in range(2)]))
    problem = ResidualProblem(trainer)
    x = np.append(model.theta.detach().numpy(), 0.1)
    jac = problem.jacobian(x)
    for k in range(len(x) - 1):
        h = 1e-6 * abs(x[k]) if x[k] != 0 else 1e-7
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        numeric = (problem.residuals(up) - problem.residuals(down)) / (2 * h)
        np.testing.assert_allclose(jac[:, k], numeric, rtol=2e-5, atol=1e-6 * np.abs(numeric).max() + 1e-9,
                                   err_msg=model.free[k])


def test_cutoff_cannot_move_beyond_the_neighbour_lists():
    potential = cc.sw_si()
    potential.parameters["Si-Si-Si.sigma"].fixed = False
    model = TrainableClassical(potential)
    trainer = _trainer(model, _label(potential, [cc.si_box(0)]))
    problem = ResidualProblem(trainer)
    x = np.append(model.theta.detach().numpy(), 0.0)
    x[model.free.index("Si-Si-Si.sigma")] *= 1.3          # a σ beyond the 15 % margin
    with pytest.raises(FloatingPointError, match="beyond the neighbour lists"):
        problem.residuals(x)


def test_unbounded_optimizers_keep_parameters_in_bounds(tmp_path):
    """Adam ignores bounds; the trainer projects after each epoch and the model saves/loads."""
    from ase.io import write

    from potforge.models import load_potential

    truth = cc.pair_model("morse")
    write(tmp_path / "d.xyz", _label(truth, _cu_structures(3)))
    cfg = training_config({
        "data": {"train": str(tmp_path / "d.xyz"), "validation_fraction": 0.0},
        "model": {"kind": "pair", "cutoff": 5.0,
                  "pair": {"Cu-Cu": {"form": "morse", "D0": {"value": 0.05, "max": 0.06}, "alpha": 1.36, "r0": 2.63}}},
        "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å"},
        "training": {"epochs": 2, "optimizer": {"kind": "adam", "lr": 0.05, "batch_size": 2}},
    })
    fit(cfg, tmp_path / "out", log=lambda line: None)
    loaded = load_potential(tmp_path / "out")
    assert 0.0 <= loaded.parameters["pair.Cu-Cu.D0"].value <= 0.06


def test_classical_defaults_and_equal_bounds():
    cfg = training_config({"data": {"train": "x.xyz"},
                           "model": {"kind": "pair", "cutoff": 5.0, "pair": {"Cu-Cu": {
                               "form": "morse", "D0": {"value": 0.3, "min": 0.3, "max": 0.3},
                               "alpha": 1.4, "r0": 2.6}}}})
    assert cfg.training.optimizer["kind"] == "lsq" and cfg.training.epochs == 1
    model = potential_from_spec("pair", cfg.model.spec(), ["Cu"])
    assert model.parameters["pair.Cu-Cu.D0"].fixed      # min == max: nothing to fit
    with pytest.raises(ConfigError, match="expected true or false"):
        potential_from_spec("pair", {"cutoff": 5.0, "pair": {"Cu-Cu": {
            "form": "morse", "D0": {"value": 0.3, "fixed": "no"}, "alpha": 1.4, "r0": 2.6}}}, ["Cu"])
    with pytest.raises(ConfigError, match="n_knots: expected an integer"):
        potential_from_spec("pair", {"cutoff": 5.0, "pair": {"Cu-Cu": {"form": "spline", "n_knots": "ten"}}}, ["Cu"])


def test_resume_of_a_classical_fit(tmp_path):
    """A run killed during its second epoch resumes from the checkpoint to the same result."""
    from ase.io import write

    truth = cc.pair_model("morse")
    write(tmp_path / "d.xyz", _label(truth, _cu_structures(3)))
    cfg = training_config({
        "data": {"train": str(tmp_path / "d.xyz"), "validation_fraction": 0.0},
        "model": {"kind": "pair", "cutoff": 5.0,
                  "pair": {"Cu-Cu": {"form": "morse", "D0": 0.3, "alpha": 1.3, "r0": 2.6}}},
        "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.02 eV/Å"},
        "training": {"epochs": 3, "optimizer": {"kind": "lbfgsb", "iterations": 4}}})
    whole = fit(cfg, tmp_path / "whole", log=lambda line: None)

    class Killed(Exception):
        pass

    def kill_at_epoch_two(line):
        if line.startswith("epoch    2/3"):
            raise Killed

    with pytest.raises(Killed):
        fit(cfg, tmp_path / "part", log=kill_at_epoch_two)
    resumed = fit(cfg, tmp_path / "part", resume=True, log=lambda line: None)
    assert resumed.summary["epochs_run"] == 3
    np.testing.assert_array_equal(resumed.model.theta.detach().numpy(), whole.model.theta.detach().numpy())
    assert resumed.model.mean_energy == whole.model.mean_energy
