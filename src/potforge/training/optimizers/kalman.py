"""The ``kalman`` optimizer: the global extended Kalman filter as in n2p2 (the filter itself is
:mod:`.kalman_filter`): per epoch a fraction of all energies and force components (and stress
components, when the loss fits stress), randomly interleaved, each one update; selection of
candidates at random, by error threshold, or largest errors first; L2 as a prior on the
weights. Measurement noise comes from the loss (:meth:`~potforge.training.loss.Loss.measurement_noise`).
"""

from __future__ import annotations

import math

from ...core.errors import ConfigError
from ...core.lazy import torch
from ...core.voigt import VOIGT_NAMES
from ..guard import check_measurement
from .base import Optimizer, TrainerView, register_optimizer
from .kalman_filter import KalmanFilter, blas_threads

__all__ = ["KalmanOptimizer"]

_SELECTION = ("random", "threshold", "sort")


@register_optimizer("kalman")
class KalmanOptimizer(Optimizer):
    """The global extended Kalman filter, one measurement per update (n2p2 ``updater_type 1``)
    or a group of them (``measurements_per_update``).

    Measurements are energies per atom and single force components, each divided by its noise
    level σ (the loss's σ_E, σ_F and frame weights), so that η and P keep their meaning for any
    units. (n2p2 uses the total energy in the file's units and multiplies forces by
    ``force_weight``; with σ_E = 1 Ha/atom and σ_F = 0.1 Ha/Bohr the two agree up to the
    per-atom energy.)

    Parameters
    ----------
    energy_fraction, force_fraction : float
        Fraction of training energies and force components used per epoch
        (n2p2 ``short_energy_fraction``, ``short_force_fraction``).
    charge_fraction : float
        Fraction of the training frames whose charges (charge models, when the loss fits
        charges: ``loss.charge_sigma``) are used per epoch, each frame one update on the vector
        of its atoms' charges (n2p2 ``charge_fraction``; random order, no threshold).
    charge_update : {"vector", "norm"}
        How a frame's charges enter one update: ``vector``, all its atoms' charge errors as
        one vector measurement (rank-n update of P); ``norm``, n2p2's scalar measurement, the
        norm of the frame's charge-error vector (its Jacobian: the charge Jacobian projected
        on the error's direction), a rank-1 update: several times cheaper per update for
        10-100 atom frames with a thousand weights.
    stress_fraction : float
        Fraction of the stress components (of ``loss.stress_components``, periodic frames)
        used per epoch when the loss fits stress (n2p2 has no stress updates). Stress
        measurements are taken in random order, without the threshold selection.
    selection : {"random", "threshold", "sort"}
        n2p2 ``selection_mode`` 0, 2, 1.
    energy_threshold, force_threshold : float
        For ``threshold``: a candidate is used when its error exceeds this multiple of the
        previous epoch's training RMSE (n2p2 ``short_energy_error_threshold``, ...).
    trials : int
        Candidates tried per update in threshold mode; if none passes, the one with the
        largest relative error is used (n2p2 uses the last one tried).
    epsilon, q0, q_tau, q_min, eta0, eta_tau, eta_max : float
        See :class:`~potforge.training.optimizers.kalman_filter.KalmanFilter` (defaults: n2p2's recommended).
    noise_scale : float
        The filter treats each measurement as if its noise were ``noise_scale`` × σ. The
        loss's σ's describe the data (about 1 meV/atom and 0.02 eV/Å for converged DFT); one
        epoch feeds the filter thousands of strongly correlated measurements, and with the
        data's own σ's it trusts each one too much and fits noise. On mlearn Cu (the Zuo
        setting of ``examples/mlearn-cu-zuo``, 16 epochs) scales 10, 30 and 100 gave test
        RMSEs of 1.69, 1.37, 1.20 meV/atom and 0.0650, 0.0603, 0.0685 eV/Å (BENCHMARKS.md);
        30 is the default. Only the ratio σ_E/σ_F matters to the
        other optimizers. (n2p2, whose measurements are unscaled errors in Ha and Ha/Bohr, sits
        at an effective scale of about 270 for these σ's.)

    measurements_per_update : int
        m consecutive measurements of the epoch's schedule (energies, force and stress
        components, after the threshold selection, which stays per measurement) make one
        vector update: their Jacobians are all taken at the same weights, their noise matrix
        is diagonal with the same σ's, and P is updated once for the group (symmetric BLAS 3,
        :meth:`~potforge.training.optimizers.kalman_filter.KalmanFilter.update_block`) instead
        of m times. The η and q schedules still count measurements, so an epoch means the same,
        and a group adds the process noise of its m measurements (Σ q over them, as one by one).
        1 (default) is n2p2's one measurement per update. For a model linear in its weights
        with η = 1 and q = 0 a group gives exactly what its measurements give one by one; for
        a network the later measurements of a group no longer see the earlier ones' step.
        A rank-1 update is bound by the memory traffic over P (n² doubles); a group costs
        about 3n² flops per measurement at BLAS 3 speed (1,801 weights: 3.1 ms per measurement
        at m = 1, 1.6 at 8, 0.7 at 32, one loaded core). mlearn with 60 functions (pruned to
        46-48) and 24-24 networks (1,753-1,801 weights), 2 shared cores at a load of about 6:
        Li 16.9, 8.9, 7.5 s/epoch and Cu 38, 22, 16 s/epoch at m = 1, 8, 32. What remains at
        m = 32 is mostly the measurements' forward passes (threshold trials included) and
        their gradients, one autograd pass per measurement (a batched backward over a
        group's stacked measurements was 3x slower). Groups trade some accuracy per epoch
        for speed (after 4 epochs: Li test energy RMSE 1.25 meV/atom at m = 1, 2.2 at 8, 2.0
        at 32; Cu force RMSE 0.021 eV/Å at m = 1, 0.029 at 32). These figures were measured
        before a group's process noise was fixed to count its m measurements (then a group
        added q once, m times less than the same measurements one by one).
        A frame's charges (vector measurements) stay an update of their own.

    L2 regularisation (``training.l2`` = λ) enters as the Gaussian prior it is: P₀⁻¹ = ε I +
    (λ / noise_scale²) on the regularised weights, so that with η = 1 and q = 0 the filter
    minimises the same (linearised) loss as the other optimizers. The process noise q then
    relaxes the prior, as it relaxes ε.
    """

    def __init__(self, *, energy_fraction: float = 1.0, force_fraction: float = 0.02315,
                 stress_fraction: float = 1.0, charge_fraction: float = 1.0,
                 charge_update: str = "vector", selection: str = "threshold", energy_threshold: float = 0.0,
                 force_threshold: float = 1.0, trials: int = 3, epsilon: float = 0.01,
                 q0: float = 0.01, q_tau: float = 2.302, q_min: float = 1e-6, eta0: float = 0.01,
                 eta_tau: float = 2.302, eta_max: float = 1.0, noise_scale: float = 30.0,
                 measurements_per_update: int = 1) -> None:
        if isinstance(measurements_per_update, bool) or not isinstance(measurements_per_update, int) \
                or measurements_per_update < 1:
            raise ConfigError("training.optimizer.measurements_per_update: expected an integer >= 1 "
                              f"(1: one measurement per update, as n2p2), got {measurements_per_update!r}")
        if not noise_scale > 0:
            raise ConfigError(f"training.optimizer.noise_scale must be positive, got {noise_scale}")
        if charge_update not in ("vector", "norm"):
            raise ConfigError(f"training.optimizer.charge_update: {charge_update!r} is not one of "
                              "vector, norm")
        if selection not in _SELECTION:
            raise ConfigError(f"training.optimizer.selection: {selection!r} is not one of "
                              f"{', '.join(_SELECTION)}")
        for name, v in (("energy_fraction", energy_fraction), ("force_fraction", force_fraction),
                        ("stress_fraction", stress_fraction), ("charge_fraction", charge_fraction)):
            if not 0 <= v <= 1:
                raise ConfigError(f"training.optimizer.{name} must be in [0, 1], got {v}")
        if int(trials) < 1:
            raise ConfigError(f"training.optimizer.trials must be >= 1, got {trials}")
        self.energy_fraction = float(energy_fraction)
        self.force_fraction = float(force_fraction)
        self.stress_fraction = float(stress_fraction)
        self.charge_fraction = float(charge_fraction)
        self.charge_update = charge_update
        self.selection = selection
        self.energy_threshold = float(energy_threshold)
        self.force_threshold = float(force_threshold)
        self.trials = int(trials)
        self.noise_scale = float(noise_scale)
        self.measurements_per_update = measurements_per_update
        self.filter_options = dict(epsilon=epsilon, q0=q0, q_tau=q_tau, q_min=q_min, eta0=eta0,
                                   eta_tau=eta_tau, eta_max=eta_max)
        try:
            KalmanFilter(1, **self.filter_options)
        except ValueError as err:
            raise ConfigError(f"training.optimizer: {err}") from None
        self.filter: KalmanFilter | None = None

    def setup(self, trainer: TrainerView) -> None:
        lab = trainer.train_labels
        loss = trainer.loss
        self.energy_candidates = torch.nonzero(~torch.isnan(lab.energy)).squeeze(1) \
            if loss.weights.energy > 0 else torch.zeros(0, dtype=torch.long)
        if loss.weights.forces > 0:
            ok = ~torch.isnan(lab.forces)
            self.force_candidates = torch.nonzero(ok.reshape(-1)).squeeze(1)  # atom * 3 + component
        else:
            self.force_candidates = torch.zeros(0, dtype=torch.long)
        if loss.weights.stress > 0:
            comps = torch.tensor([VOIGT_NAMES.index(c) for c in loss.stress_components])
            ok = ~torch.isnan(lab.stress[:, comps])  # periodic frames with stress labels
            rows, cols = torch.nonzero(ok, as_tuple=True)
            self.stress_candidates = rows * 6 + comps[cols]  # frame * 6 + Voigt component
        else:
            self.stress_candidates = torch.zeros(0, dtype=torch.long)
        if loss.weights.charges > 0:  # frames with reference charges
            has = torch.zeros(lab.n_frames, dtype=torch.bool).index_fill_(
                0, lab.frame_of_atom()[~torch.isnan(lab.charges)], True)
            self.charge_candidates = torch.nonzero(has).squeeze(1)
        else:
            self.charge_candidates = torch.zeros(0, dtype=torch.long)
        self.n_charge = int(round(self.charge_fraction * len(self.charge_candidates)))
        self.n_energy = int(round(self.energy_fraction * len(self.energy_candidates)))
        self.n_force = int(round(self.force_fraction * len(self.force_candidates)))
        self.n_stress = int(round(self.stress_fraction * len(self.stress_candidates)))
        if self.n_energy + self.n_force + self.n_stress + self.n_charge == 0:
            raise ConfigError("training.optimizer: the Kalman filter has nothing to update on "
                              "(no energies, forces, stresses or charges selected; check the "
                              "fractions and the loss)")
        frame_factor = loss.frame_factors(trainer.train_batch_meta, lab.config_types)
        self.sigma_energy = loss.measurement_noise("energy", frame_factor, self.noise_scale)
        self.sigma_force = loss.measurement_noise("forces", frame_factor, self.noise_scale)
        self.sigma_stress = loss.measurement_noise("stress", frame_factor, self.noise_scale)
        self.sigma_charge = loss.measurement_noise("charges", frame_factor, self.noise_scale)
        self.frame_of_atom = lab.frame_of_atom()
        # L2: the loss's prior λ Σ w² in the filter's units (measurements divided by
        # noise_scale × σ) is a prior precision λ / noise_scale² on the regularised weights
        prior = None
        if loss.l2 > 0:
            prior = trainer.model.regularized().to(torch.float64) * (loss.l2 / self.noise_scale ** 2)
        self.filter = KalmanFilter(trainer.model.n_parameters,
                                   updates_per_epoch=self.n_energy + self.n_force + self.n_stress
                                   + self.n_charge,
                                   prior_precision=prior, **self.filter_options)

    def epoch(self, trainer: TrainerView) -> dict:
        # The measurements' tensors are tiny and intra-op threads only add overhead (mlearn
        # Cu, Zuo setting: 4.3 s/epoch on 1 thread, 16.6 s on 2); the updates of P run in
        # scipy's BLAS on the threads training.threads allows (torch's count on entry).
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with blas_threads(previous):
                return self._epoch(trainer)
        finally:
            torch.set_num_threads(previous)

    def _epoch(self, trainer: TrainerView) -> dict:
        g = trainer.generator
        self._queues = {0: self._order(self.energy_candidates, g, trainer.last_energy_errors),
                        1: self._order(self.force_candidates, g, trainer.last_force_errors),
                        2: self._order(self.stress_candidates, g, None),
                        3: self._order(self.charge_candidates, g, None)}
        self._taken = {0: 0, 1: 0, 2: 0, 3: 0}
        schedule = torch.cat([torch.zeros(self.n_energy, dtype=torch.long),
                              torch.ones(self.n_force, dtype=torch.long),
                              torch.full((self.n_stress,), 2, dtype=torch.long),
                              torch.full((self.n_charge,), 3, dtype=torch.long)])
        schedule = schedule[torch.randperm(len(schedule), generator=g)]
        theta = trainer.model.theta
        group: list[tuple[float, torch.Tensor]] = []       # (error / σ, Jacobian / σ)
        for kind in schedule.tolist():
            if kind == 3:  # the charges of one frame: one vector measurement, on its own
                self._apply(theta, group)
                group = []
                self._charge_update(trainer, int(self._next(3)))
                continue
            y, err, sigma, which = self._pick(trainer, kind)
            (h,) = torch.autograd.grad(y, theta)
            if not (math.isfinite(err) and bool(torch.isfinite(h).all())):  # cheap test; words only then
                check_measurement(err, h, self._measurement(trainer.train_labels, *which),
                                  f"epoch {trainer.epoch}")
            group.append((err / sigma, h / sigma))
            if len(group) == self.measurements_per_update:
                self._apply(theta, group)
                group = []
        self._apply(theta, group)
        return {"eta": self.filter.eta, "q": self.filter.q}

    def _apply(self, theta: torch.Tensor, group: list[tuple[float, torch.Tensor]]) -> None:
        """One filter update on the measurements of ``group``, all taken at the current weights:
        a scalar update for one (n2p2's), a block update (one pass over P) for several."""
        if not group:
            return
        with torch.no_grad():
            if len(group) == 1:
                self.filter.update(theta, torch.tensor([group[0][0]]), group[0][1])
            else:
                self.filter.update_block(theta, torch.tensor([e for e, _ in group]),
                                         torch.stack([h for _, h in group], 1))

    def _next(self, kind: int) -> torch.Tensor:
        """The next candidate of ``kind`` in this epoch's order (cycling)."""
        queue = self._queues[kind]
        c = queue[self._taken[kind] % len(queue)]
        self._taken[kind] += 1
        return c

    def _pick(self, trainer: TrainerView, kind: int) -> tuple[torch.Tensor, float, float, tuple]:
        """The next measurement of ``kind`` (0 energy, 1 force, 2 stress): its prediction
        (differentiable), error (reference minus prediction), noise σ and description. Energies
        and forces in threshold mode: the first of up to ``trials`` candidates whose error
        exceeds the threshold times the last training RMSE, else the largest."""
        model, data, lab = trainer.model, trainer.train_data, trainer.train_labels
        if kind == 2:  # one stress component of one frame (random order, no threshold)
            f, comp = divmod(int(self._next(2)), 6)
            y = model.stress_measurement(data, f, comp)
            err = float(lab.stress[f, comp]) - float(y.detach())
            return y, err, float(self.sigma_stress[f]), (2, f, comp)
        use_threshold = self.selection == "threshold"
        key = "forces" if kind == 1 else "energy_per_atom"
        rmse = trainer.last_train_rmse.get(key, math.nan)
        threshold = self.force_threshold if kind == 1 else self.energy_threshold
        best = None
        for _ in range(self.trials if use_threshold else 1):
            if kind == 1:
                atom, comp = divmod(int(self._next(1)), 3)
                y = model.force_measurement(data, atom, comp)
                err = float(lab.forces[atom, comp]) - float(y.detach())
                which = (1, atom, comp)
            else:
                f = int(self._next(0))
                y = model.energy_measurement(data, f)
                err = float(lab.energy[f] / lab.n_atoms[f]) - float(y.detach())
                which = (0, f, 0)
            ratio = abs(err) / rmse if use_threshold and rmse > 0 else math.inf
            if best is None or ratio > best[0]:
                best = (ratio, y, err, which)
            if ratio > threshold:
                break
        _, y, err, which = best
        if kind == 1:
            return y, err, float(self.sigma_force[self.frame_of_atom[which[1]]]), which
        # the global offset is part of the prediction but not of theta
        return y, err, float(self.sigma_energy[which[1]]), which

    def _charge_update(self, trainer: TrainerView, frame: int) -> None:
        """One update on the charges of ``frame`` (reference minus prediction, over σ_Q): the
        vector of its atoms' errors, or (``charge_update: norm``, n2p2) its norm."""
        lab = trainer.train_labels
        theta = trainer.model.theta
        y, jac = trainer.model.charge_jacobian(trainer.train_data, frame)
        a, b = int(lab.atom_offsets[frame]), int(lab.atom_offsets[frame + 1])
        sigma = float(self.sigma_charge[frame])
        err = (lab.charges[a:b] - y) / sigma
        h = jac.t() / sigma
        if self.charge_update == "norm":
            # the scalar ‖q_ref − q‖ measured against 0: its error ‖ξ‖ and Jacobian u·∂q/∂θ
            # along the error's direction u = ξ/‖ξ‖ (no update when the error vanishes)
            norm = err.norm()
            u = err / norm if float(norm) > 0 else torch.zeros_like(err)
            err, h = norm.reshape(1), h @ u
        if not (bool(torch.isfinite(err).all()) and bool(torch.isfinite(h).all())):
            check_measurement(float(err.abs().max()), h, f"charges of {lab.names[frame]}",
                              f"epoch {trainer.epoch}")
        with torch.no_grad():
            self.filter.update(theta, err, h)

    def _measurement(self, lab, kind: int, index: int, component: int) -> str:
        """One measurement in words: ``force component y on atom 3 of training frame 7``."""
        if kind == 0:
            return f"energy of {lab.names[index]}"
        if kind == 1:
            frame = int(self.frame_of_atom[index])
            return (f"force component {'xyz'[component]} on atom {index - int(lab.atom_offsets[frame])} "
                    f"of {lab.names[frame]}")
        return f"stress component {VOIGT_NAMES[component]} of {lab.names[index]}"

    def _order(self, candidates: torch.Tensor, g: torch.Generator,
               errors: torch.Tensor | None) -> torch.Tensor:
        if len(candidates) == 0:
            return candidates
        if self.selection == "sort" and errors is not None:
            key = errors.reshape(-1)[candidates].abs()
            return candidates[torch.argsort(key, descending=True, stable=True)]
        return candidates[torch.randperm(len(candidates), generator=g)]

    def state_dict(self) -> dict:
        return {"filter": self.filter.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.filter.load_state_dict(state["filter"])
