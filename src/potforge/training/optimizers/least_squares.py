"""Optimizers for models with few parameters (classical potentials): SciPy's trust-region least
squares with the exact Jacobian, and L-BFGS-B — both with bounds and random restarts.

``lsq`` minimises the same loss as every other optimizer, written as a sum of squares,

    L(θ, c) = Σ_k r_k²,   r = [√(w_E w_f/N) ΔE_f/n_f,  √(w_F w_f/N) ΔF_ic,  √(w_S w_f/N) Δσ_fa,  √(λ/N) θ_reg],

(N training frames, w_f frame weights, c the per-atom energy offset, solved for jointly) with
``scipy.optimize.least_squares`` (trust-region reflective, bounds from the model's parameters).
The Jacobian ∂r/∂θ is exact: each column is one forward-mode (dual number) pass of θ's unit
tangent through the model's energy kernel *and* the reverse pass that gives forces and stress
(forward over reverse), so it costs about (number of free parameters) model evaluations and no
finite differences. One epoch is one complete solve; restarts (first epoch only) start from
random points around the initial parameters and the lowest loss wins.
"""

from __future__ import annotations

import math

import numpy as np

from ...core.errors import ConfigError
from ...core.lazy import torch
from ...models.trainable import TrainableModel
from .base import Optimizer, TrainerView, register_optimizer

__all__ = ["LeastSquaresOptimizer", "LBFGSBOptimizer", "ResidualProblem"]

_MAX_PARAMETERS = 2000


class ResidualProblem:
    """Residual vector and exact Jacobian of the trainer's loss for an extended vector
    x = (θ, c): free parameters and the global per-atom energy offset."""

    def __init__(self, trainer: TrainerView) -> None:
        self.trainer = trainer
        self.model = trainer.model
        if not self.model.supports_least_squares:
            raise ConfigError(f"training.optimizer.kind: lsq is for models of few parameters with an "
                              f"exact Jacobian (the classical kinds); a {self.model.kind} model trains "
                              "with kalman, adam, lbfgs or lbfgsb")
        if self.model.n_parameters > _MAX_PARAMETERS:
            raise ConfigError(f"training.optimizer: least squares builds the full Jacobian, which "
                              f"is meant for up to {_MAX_PARAMETERS} parameters; this model has "
                              f"{self.model.n_parameters} (use kalman, adam or lbfgs)")
        loss = trainer.loss
        self.loss = loss
        self.chunks = trainer.chunks(trainer.train_data)
        self.n = float(trainer.train_labels.n_frames)
        self.forces = loss.needs_forces
        self.stress = loss.needs_stress
        self.reg = self.model.regularized()
        self.evaluations = 0
        self.jacobians = 0

    # residual rows of one chunk for given outputs
    def _rows(self, out, batch) -> torch.Tensor:
        loss, n = self.loss, self.n
        w = loss.frame_factors(batch, self.trainer.train_labels.config_types)
        parts = []
        if loss.weights.energy > 0:
            de = (out.energy - batch.energy) / batch.n_atoms
            ok = ~torch.isnan(batch.energy)
            parts.append((torch.sqrt(loss.weights.energy * w / n) * de)[ok])
        if self.forces:
            df = out.forces - batch.forces
            ok = ~torch.isnan(batch.forces).any(1)
            scale = torch.sqrt(loss.weights.forces * w[batch.frame_of_atom] / n).unsqueeze(1)
            parts.append((scale * df)[ok].reshape(-1))
        if self.stress:
            ds = (out.stress - batch.stress)[:, loss._stress_mask]
            ok = ~torch.isnan(batch.stress[:, loss._stress_mask]).any(1) & ~torch.isnan(batch.volume)
            parts.append((torch.sqrt(loss.weights.stress * w / n).unsqueeze(1) * ds)[ok].reshape(-1))
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def _jacobian_rows(self, d_energy, d_forces, d_stress, batch) -> torch.Tensor:
        """∂(rows)/∂θ from the Jacobians of the outputs: (F, P), (n, 3, P), (F, 6, P)."""
        loss, n = self.loss, self.n
        w = loss.frame_factors(batch, self.trainer.train_labels.config_types)
        parts = []
        if loss.weights.energy > 0:
            ok = ~torch.isnan(batch.energy)
            scale = torch.sqrt(loss.weights.energy * w / n) / batch.n_atoms
            parts.append((scale.unsqueeze(1) * d_energy)[ok])
        if self.forces:
            ok = ~torch.isnan(batch.forces).any(1)
            scale = torch.sqrt(loss.weights.forces * w[batch.frame_of_atom] / n)
            parts.append((scale.view(-1, 1, 1) * d_forces)[ok].reshape(-1, d_forces.shape[2]))
        if self.stress:
            ok = ~torch.isnan(batch.stress[:, loss._stress_mask]).any(1) & ~torch.isnan(batch.volume)
            ds = d_stress[:, loss._stress_mask, :]
            scale = torch.sqrt(loss.weights.stress * w / n).view(-1, 1, 1)
            parts.append((scale * ds)[ok].reshape(-1, ds.shape[2]))
        return torch.cat(parts)

    def _energy_column(self, batch) -> torch.Tensor:
        """∂r/∂c: √(w_E w_f/N) for energy rows, zero elsewhere."""
        loss, n = self.loss, self.n
        w = loss.frame_factors(batch, self.trainer.train_labels.config_types)
        parts = []
        if loss.weights.energy > 0:
            ok = ~torch.isnan(batch.energy)
            parts.append(torch.sqrt(loss.weights.energy * w / n)[ok])
        if self.forces:
            ok = ~torch.isnan(batch.forces).any(1)
            parts.append(torch.zeros(int(ok.sum()) * 3, dtype=torch.float64))
        if self.stress:
            ok = ~torch.isnan(batch.stress[:, loss._stress_mask]).any(1) & ~torch.isnan(batch.volume)
            parts.append(torch.zeros(int(ok.sum()) * int(loss._stress_mask.sum()), dtype=torch.float64))
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def _set(self, x: np.ndarray) -> torch.Tensor:
        self.model.mean_energy = float(x[-1])
        return torch.from_numpy(np.ascontiguousarray(x[:-1], dtype=np.float64))

    def residuals(self, x: np.ndarray) -> np.ndarray:
        theta = self._set(x)
        self.evaluations += 1
        rows = []
        with torch.no_grad():
            for frames in self.chunks:
                batch = self.model.batch(self.trainer.train_data, frames)
                out = self.model.predict(batch, forces=self.forces, stress=self.stress, theta=theta)
                rows.append(self._rows(out, batch))
        if self.loss.l2 > 0:
            rows.append(math.sqrt(self.loss.l2 / self.n) * theta[self.reg])
        r = torch.cat(rows).numpy()
        return np.where(np.isfinite(r), r, 1e30)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        import torch.autograd.forward_ad as fwAD  # potforge takes torch from core.lazy

        theta = self._set(x)
        self.jacobians += 1
        p = theta.shape[0]
        blocks = []
        for frames in self.chunks:
            batch = self.model.batch(self.trainer.train_data, frames)
            jac = self.model.output_jacobian(batch, theta, forces=self.forces, stress=self.stress)
            if jac is not None:
                blocks.append(torch.cat([self._jacobian_rows(*jac, batch),
                                         self._energy_column(batch).unsqueeze(1)], 1))
                continue
            columns = []
            for k in range(p):
                tangent = torch.zeros(p, dtype=torch.float64)
                tangent[k] = 1.0
                with fwAD.dual_level(), torch.enable_grad():
                    dual = fwAD.make_dual(theta, tangent)
                    out = self.model.predict(batch, forces=self.forces, stress=self.stress, theta=dual)
                    rows = self._rows(out, batch)
                    columns.append(fwAD.unpack_dual(rows).tangent.detach().clone())
            columns.append(self._energy_column(batch))
            blocks.append(torch.stack(columns, 1))
        if self.loss.l2 > 0:
            reg_rows = torch.zeros((int(self.reg.sum()), p + 1), dtype=torch.float64)
            idx = torch.nonzero(self.reg).squeeze(1)
            reg_rows[torch.arange(idx.numel()), idx] = math.sqrt(self.loss.l2 / self.n)
            blocks.append(reg_rows)
        j = torch.cat(blocks).numpy()
        return np.where(np.isfinite(j), j, 0.0)


def _starts(trainer: TrainerView, restarts: int, spread: float) -> list[np.ndarray]:
    model = trainer.model
    first = model.theta.detach().numpy().copy()
    out = [first]
    for _ in range(restarts):
        out.append(model.random_start(trainer.generator, spread).numpy())
    return out


def _bounds(model: TrainableModel) -> tuple[np.ndarray, np.ndarray]:
    bounds = model.bounds
    if bounds is not None:
        return bounds
    n = model.n_parameters
    return np.full(n, -np.inf), np.full(n, np.inf)


@register_optimizer("lsq")
class LeastSquaresOptimizer(Optimizer):
    """Trust-region reflective least squares (SciPy) with the exact Jacobian.

    Parameters
    ----------
    max_iterations : int
        Function evaluations per solve (SciPy ``max_nfev``).
    restarts : int
        Extra solves from random starting points (first epoch only).
    spread : float
        Relative size of the random starts (log-normal factor exp(spread · N(0,1))).
    tolerance : float
        SciPy's ftol, xtol and gtol.
    """

    def __init__(self, *, max_iterations: int = 100, restarts: int = 0, spread: float = 0.2,
                 tolerance: float = 1e-10) -> None:
        if int(max_iterations) < 1:
            raise ConfigError(f"training.optimizer.max_iterations must be >= 1, got {max_iterations}")
        if int(restarts) < 0:
            raise ConfigError(f"training.optimizer.restarts must be >= 0, got {restarts}")
        if not spread > 0:
            raise ConfigError(f"training.optimizer.spread must be positive, got {spread}")
        if not 0 < tolerance < 1:
            raise ConfigError(f"training.optimizer.tolerance must be in (0, 1), got {tolerance}")
        self.max_iterations = int(max_iterations)
        self.restarts = int(restarts)
        self.spread = float(spread)
        self.tolerance = float(tolerance)

    def epoch(self, trainer: TrainerView) -> dict:
        from scipy.optimize import least_squares

        model = trainer.model
        problem = ResidualProblem(trainer)
        lo, hi = _bounds(model)
        lo, hi = np.append(lo, -np.inf), np.append(hi, np.inf)
        starts = _starts(trainer, self.restarts if trainer.epoch == 1 else 0, self.spread)
        best = None
        costs = []
        for k, start in enumerate(starts):
            x0 = np.clip(np.append(start, model.mean_energy), lo, hi)
            result = least_squares(problem.residuals, x0, jac=problem.jacobian, bounds=(lo, hi),
                                   method="trf", x_scale="jac", max_nfev=self.max_iterations,
                                   ftol=self.tolerance, xtol=self.tolerance, gtol=self.tolerance)
            costs.append(2.0 * float(result.cost))
            trainer.log(f"  lsq start {k}: loss {costs[-1]:.6g} after {result.nfev} evaluations, "
                        f"{result.njev} Jacobians ({result.message})")
            if best is None or result.cost < best.cost:
                best = result
        with torch.no_grad():
            model.theta.copy_(torch.from_numpy(best.x[:-1]))
        model.mean_energy = float(best.x[-1])
        return {"loss": min(costs), "evaluations": problem.evaluations, "jacobians": problem.jacobians}


@register_optimizer("lbfgsb")
class LBFGSBOptimizer(Optimizer):
    """SciPy's L-BFGS-B (bounded) on the full loss with exact gradients (reverse mode).

    Parameters
    ----------
    iterations : int
        Iterations per epoch.
    restarts, spread : as for ``lsq``.
    """

    def __init__(self, *, iterations: int = 200, restarts: int = 0, spread: float = 0.2) -> None:
        if int(iterations) < 1:
            raise ConfigError(f"training.optimizer.iterations must be >= 1, got {iterations}")
        if int(restarts) < 0:
            raise ConfigError(f"training.optimizer.restarts must be >= 0, got {restarts}")
        if not spread > 0:
            raise ConfigError(f"training.optimizer.spread must be positive, got {spread}")
        self.iterations = int(iterations)
        self.restarts = int(restarts)
        self.spread = float(spread)

    def epoch(self, trainer: TrainerView) -> dict:
        from scipy.optimize import minimize

        model = trainer.model

        def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
            with torch.no_grad():
                model.theta.copy_(torch.from_numpy(x))
            # the offset at its closed-form optimum for these parameters (a profile loss: by the
            # envelope theorem its gradient is the partial one below)
            trainer.refit_energy_offset()
            model.theta.grad = None
            total = trainer.full_loss_backward()
            grad = model.theta.grad
            g = grad.numpy().copy() if grad is not None else np.zeros_like(x)
            value = float(total)
            if not math.isfinite(value) or not np.all(np.isfinite(g)):
                return 1e30, np.zeros_like(x)
            return value, g

        lo, hi = _bounds(model)
        bounds = list(zip(np.where(np.isfinite(lo), lo, None), np.where(np.isfinite(hi), hi, None)))
        best = None
        for start in _starts(trainer, self.restarts if trainer.epoch == 1 else 0, self.spread):
            result = minimize(value_and_gradient, np.clip(start, lo, hi), jac=True, method="L-BFGS-B",
                              bounds=bounds, options={"maxiter": self.iterations})
            if best is None or result.fun < best.fun:
                best = result
        with torch.no_grad():
            model.theta.copy_(torch.from_numpy(best.x))
        model.theta.grad = None
        return {"loss": float(best.fun)}
