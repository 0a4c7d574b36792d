"""The global extended Kalman filter of n2p2 and RuNNer (Blank & Brown 1994; Singraber et al.,
J. Chem. Theory Comput. 15, 3075 (2019)).

The weights w are the state; each update takes m measurements y(w) with reference values
y_ref, errors ξ = y_ref − y(w) and Jacobian H = ∂y/∂w (n_w × m), and applies

    K = P H (Hᵀ P H + I/η)⁻¹,   w ← w + K ξ,   P ← P − K Hᵀ P + q I,

with P₀ = I/ε. The learning rate η grows and the process noise q decays exponentially with
the number of updates, η = min(η₀ e^{τ_η t}, η_max), q = max(q₀ e^{−τ_q t}, q_min), where t
counts epochs (updates divided by the updates per epoch) as in n2p2, whose ``kalman_qtau``
and ``kalman_etatau`` are rates per epoch. (n2p2 applies the η factor before and the q factor
after each update; here both follow the update count t exactly.) An update that stands for
``count`` measurements (a group taken together) adds the process noise of each of them,
Σ_{k<count} q(t + k), as the same measurements one by one would; one measurement adds q(t).

For a linear model y = hᵀw with η = 1 and q = 0 this is recursive least squares: after the
measurements (h_k, y_k) the weights equal the ridge solution (ε I + Σ h hᵀ)⁻¹ Σ h y_k.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from scipy.linalg import blas, cholesky, solve_triangular

from ...core.lazy import torch

__all__ = ["KalmanFilter", "blas_threads"]


def _openblas_threads() -> list[tuple]:
    """(get, set) of the thread count of each OpenBLAS that the scipy and numpy wheels bundle
    (scipy's for the filter's BLAS, numpy's for ``@``); empty where they use another BLAS:
    then :func:`blas_threads` does nothing."""
    import numpy
    import scipy

    found = []
    for module, suffix in ((scipy, ""), (numpy, "64_")):
        root = os.path.dirname(module.__file__)
        bundled = glob.glob(root + ".libs/libscipy_openblas*") + glob.glob(root + "/.dylibs/libscipy_openbl*")
        for path in sorted(bundled):
            try:
                lib = ctypes.CDLL(path)                  # already loaded: the same handle
                found.append((getattr(lib, "scipy_openblas_get_num_threads" + suffix),
                              getattr(lib, "scipy_openblas_set_num_threads" + suffix)))
                break
            except (OSError, AttributeError):
                continue
    return found


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run scipy's and numpy's BLAS on ``n`` threads, then restore the previous counts.

    OpenBLAS otherwise uses every core, whatever ``training.threads`` says; on a loaded
    machine its threads wait on each other: on 2 shared cores a rank-1 update of a 2,100 × 2,100
    P took 32 ms on 2 threads and 9 ms on 1, and a (32 × 1,801) @ (1,801 × 32) product 90 ms
    instead of 0.3 ms."""
    calls = _openblas_threads() if n >= 1 else []
    previous = [int(get()) for get, _ in calls]
    for _, put in calls:
        put(int(n))
    try:
        yield
    finally:
        for (_, put), count in zip(calls, previous):
            put(count)


class KalmanFilter:
    """Kalman filter state and update (float64).

    Parameters
    ----------
    n : int
        Number of weights.
    epsilon : float
        P₀ = I / epsilon (n2p2 ``kalman_epsilon``).
    q0, q_tau, q_min : float
        Process noise and its decay rate per epoch (n2p2 ``kalman_q0``, ``kalman_qtau``, ``kalman_qmin``).
    eta0, eta_tau, eta_max : float
        Learning rate and its growth per epoch (``kalman_eta``, ``kalman_etatau``, ``kalman_etamax``).
    updates_per_epoch : int
        Converts the update count to epochs for the schedules.
    prior_precision : (n,) float, optional
        Added to ε on the diagonal of P₀⁻¹: a Gaussian prior (L2 regularisation) on chosen
        parameters. With η = 1 and q = 0 the filter then gives the ridge solution with that
        penalty.
    """

    def __init__(self, n: int, *, epsilon: float = 0.01, q0: float = 0.01, q_tau: float = 2.302,
                 q_min: float = 1e-6, eta0: float = 0.01, eta_tau: float = 2.302, eta_max: float = 1.0,
                 updates_per_epoch: int = 1, prior_precision: torch.Tensor | None = None) -> None:
        for name, value in (("epsilon", epsilon), ("eta0", eta0), ("eta_max", eta_max)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        for name, value in (("q0", q0), ("q_min", q_min), ("q_tau", q_tau), ("eta_tau", eta_tau)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.n = int(n)
        self.epsilon = float(epsilon)
        self.q0, self.q_tau, self.q_min = float(q0), float(q_tau), float(q_min)
        self.eta0, self.eta_tau, self.eta_max = float(eta0), float(eta_tau), float(eta_max)
        self.updates_per_epoch = max(1, int(updates_per_epoch))
        precision = torch.full((self.n,), self.epsilon, dtype=torch.float64)
        if prior_precision is not None:
            if prior_precision.shape != (self.n,) or bool((prior_precision < 0).any()):
                raise ValueError(f"prior_precision must be ({self.n},) and >= 0")
            precision = precision + prior_precision.to(torch.float64)
        self._P = torch.diag(1.0 / precision)
        # rank-1 updates keep only the upper triangle of _P current (symmetric BLAS, half the
        # memory traffic of a full update); _lower_stale says the lower one must be refreshed
        self._lower_stale = False
        self.updates = 0

    @property
    def P(self) -> torch.Tensor:
        """The covariance matrix (n, n), symmetric."""
        self._symmetrize()
        return self._P

    @P.setter
    def P(self, value: torch.Tensor) -> None:
        self._P = value.to(torch.float64).contiguous().clone()
        self._lower_stale = False

    def _symmetrize(self) -> None:
        if self._lower_stale:
            upper = torch.triu(self._P)
            self._P.copy_(upper + torch.triu(self._P, 1).t())
            self._lower_stale = False

    @property
    def epochs(self) -> float:
        return self.updates / self.updates_per_epoch

    @property
    def q(self) -> float:
        return self._q_at(self.updates)

    def _q_at(self, updates: int) -> float:
        return max(self.q0 * math.exp(-self.q_tau * (updates / self.updates_per_epoch)), self.q_min)

    def _noise(self, count: int) -> float:
        """Process noise of ``count`` measurements from the current update on: q(t) for one
        (the single-measurement path, exactly), Σ_{k<count} q(t + k) for a group, 0 for none."""
        if count == 1:
            return self.q
        return math.fsum(self._q_at(self.updates + k) for k in range(max(0, int(count))))

    @property
    def eta(self) -> float:
        return min(self.eta0 * math.exp(self.eta_tau * self.epochs), self.eta_max)

    def update(self, weights: torch.Tensor, error: torch.Tensor, jacobian: torch.Tensor, *,
               count: int = 1) -> None:
        """One update of ``weights`` in place.

        Parameters
        ----------
        weights : (n,) float64
        error : (m,) — reference minus prediction
        jacobian : (n, m) or (n,) — derivative of the predictions with respect to the weights
        count : int
            Measurements this update stands for in the η and q schedules (a group of ``count``
            scalar measurements taken together counts ``count``; a charge vector counts 1).
            The update adds the process noise of ``count`` measurements (none for 0).
        """
        h = jacobian.reshape(self.n, -1).to(torch.float64)
        xi = error.reshape(-1).to(torch.float64)
        eta, q = self.eta, self._noise(count)
        if h.shape[1] == 1:
            # P symmetric: x = P h and P -= x xᵀ / a on one triangle (dsymv, dsyr in place on
            # the Fortran view of _P, whose lower triangle is _P's upper one). The update is
            # bound by memory traffic over P (n² doubles): half of it here.
            pf = self._P.numpy().T
            hv = h[:, 0].numpy()
            x = blas.dsymv(1.0, pf, hv, lower=1)
            a = float(hv @ x) + 1.0 / eta
            blas.dsyr(-1.0 / a, x, a=pf, lower=1, overwrite_a=1)
            self._lower_stale = True
            self._P.diagonal().add_(q)
            weights.add_(torch.from_numpy(x), alpha=float(xi[0]) / a)
            self.updates += count
            return
        self._symmetrize()
        x = self._P @ h                                  # (n, m)
        a = h.t() @ x + torch.eye(h.shape[1], dtype=torch.float64) / eta
        gain = torch.linalg.solve(a, x.t()).t()          # x a⁻¹ (a symmetric)
        self._P.addmm_(gain, x.t(), alpha=-1.0)          # one pass over P, no temporary
        self._P.diagonal().add_(q)
        weights.add_(gain @ xi)
        self.updates += count

    def update_block(self, weights: torch.Tensor, error: torch.Tensor, jacobian: torch.Tensor, *,
                     count: int | None = None) -> None:
        """One update of ``weights`` in place on m measurements together, with symmetric BLAS 3
        on one triangle of P: X = P H (dsymm), S = Hᵀ X + I/η = L Lᵀ, U = X L⁻ᵀ, P −= U Uᵀ
        (dsyrk), w += U L⁻¹ ξ. The same result as :meth:`update` (and, for a linear model with
        η = 1 and q = 0, as the m measurements applied one by one), but one pass over P for
        all m columns instead of m passes: for a few thousand weights the update is bound by
        the memory traffic over P, so a group of 8-32 costs little more than one measurement.

        Parameters
        ----------
        weights : (n,) float64
        error : (m,) — reference minus prediction
        jacobian : (n, m) — derivatives of the m predictions with respect to the weights
        count : int, optional
            Measurements this update stands for in the η and q schedules (default m); the
            update adds their process noise, Σ_{k<count} q(t + k), as they would one by one.
        """
        h = np.asfortranarray(jacobian.reshape(self.n, -1).to(torch.float64).numpy())
        xi = error.reshape(-1).to(torch.float64).numpy()
        count = h.shape[1] if count is None else int(count)
        eta, q = self.eta, self._noise(count)
        pf = self._P.numpy().T                           # Fortran view: its lower = _P's upper
        x = blas.dsymm(1.0, pf, h, lower=1)              # (n, m)
        s = blas.dgemm(1.0, h, x, trans_a=1)            # Hᵀ P H (m, m)
        s[np.diag_indices_from(s)] += 1.0 / eta
        try:
            chol = cholesky(s, lower=True)
        except np.linalg.LinAlgError:                    # S ≥ I/η unless rounding broke P: one by one
            for k in range(h.shape[1]):
                self.update(weights, torch.from_numpy(xi[k:k + 1]), torch.from_numpy(h[:, k]), count=0)
            self._P.diagonal().add_(q)
            self.updates += count
            return
        u = np.asfortranarray(solve_triangular(chol, x.T, lower=True).T)    # X L⁻ᵀ
        blas.dsyrk(-1.0, u, beta=1.0, c=pf, lower=1, overwrite_c=1)
        self._lower_stale = True
        self._P.diagonal().add_(q)
        weights.add_(torch.from_numpy(blas.dgemv(1.0, u, solve_triangular(chol, xi, lower=True))))
        self.updates += count

    def state_dict(self) -> dict:
        return {"P": self.P.clone(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.P = state["P"]
        self.updates = int(state["updates"])
