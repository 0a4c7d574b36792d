"""The training loss: energies, forces, stress and charges weighted by their noise (maximum likelihood).

With independent Gaussian noise of standard deviation σ_E (energy per atom), σ_F (each force
component), σ_S (each stress component) and σ_Q (each atomic charge, charge models) on the
reference data, the negative log-likelihood of the parameters θ is, up to a constant, half of

    χ²(θ) = Σ_f w_f [ (ΔE_f / N_f)² / σ_E² + Σ_{i,α} ΔF_{f,iα}² / σ_F² + Σ_k Δσ_{f,k}² / σ_S²
                      + Σ_i Δq_{f,i}² / σ_Q² ],

with Δ = prediction − reference and per-frame weights w_f. A Gaussian prior of precision λ on
the network weights (L2 regularisation) adds λ Σ w²; the loss is (χ² + λ Σ w²) / n_frames, a
mean over frames so that mini-batches estimate it without bias. Weights can also be given
directly (``energy_weight = 1/σ_E²`` etc.). ``stress_components`` selects the Voigt components
that enter the stress term (e.g. normal components only, when shear stresses are unreliable).

Metrics are reported in meV/atom, eV/Å, GPa and me (milli-e), overall and per config_type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core.errors import ConfigError
from ..core.lazy import torch
from ..core.metrics import ErrorMetrics
from ..core.units import GPa
from ..core.voigt import VOIGT_NAMES
from ..models.trainable import ModelOutput

__all__ = ["LossWeights", "Loss", "LossTerms", "ErrorAccumulator", "check_stress_components",
           "balanced_config_type_weights"]


def check_stress_components(components: Sequence[str], key: str) -> None:
    """The stress components a loss weights: a non-empty subset of the Voigt names."""
    if not components:
        raise ConfigError(f"{key}: expected a non-empty subset of {', '.join(VOIGT_NAMES)}")
    for c in components:
        if c not in VOIGT_NAMES:
            raise ConfigError(f"{key}: {c!r} is not one of {', '.join(VOIGT_NAMES)}")


def balanced_config_type_weights(config_types: Sequence[str | None],
                                 weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """Factors that make every config_type of ``config_types`` (one per training frame; frames
    without one form a type of their own, which keeps factor 1 as it cannot be named) weigh
    alike: n_frames / (n_types · n_frames of the type), times the given ``weights``."""
    counts: dict[str | None, int] = {}
    for name in config_types:
        counts[name] = counts.get(name, 0) + 1
    out = dict(weights or {})
    for name, n in counts.items():
        if name is not None:
            out[name] = out.get(name, 1.0) * len(config_types) / (len(counts) * n)
    return out


@dataclass(frozen=True)
class LossWeights:
    """Weights of squared errors in internal units (1/eV² per atom², Å²/eV², Å⁶/eV², 1/e²).

    A weight of zero switches the term off.
    """

    energy: float
    forces: float
    stress: float = 0.0
    charges: float = 0.0

    @classmethod
    def from_noise(cls, energy: float | None, forces: float | None,
                   stress: float | None = None, charges: float | None = None) -> "LossWeights":
        """1/σ² from noise levels (eV/atom, eV/Å, eV/Å³, e); None switches a term off."""
        def inv(sigma, key):
            if sigma is None:
                return 0.0
            if not sigma > 0 or not math.isfinite(sigma):
                raise ConfigError(f"loss.{key}: noise level must be a positive number, got {sigma}")
            return 1.0 / (sigma * sigma)

        return cls(inv(energy, "energy_sigma"), inv(forces, "force_sigma"), inv(stress, "stress_sigma"),
                   inv(charges, "charge_sigma"))

    @property
    def sigmas(self) -> dict[str, float | None]:
        return {k: (1 / math.sqrt(v) if v > 0 else None)
                for k, v in (("energy", self.energy), ("forces", self.forces), ("stress", self.stress),
                             ("charges", self.charges))}


@dataclass
class LossTerms:
    """The loss of a batch and its parts (each already divided by the frame count)."""

    total: torch.Tensor
    energy: float
    forces: float
    stress: float
    l2: float
    charges: float = 0.0


class Loss:
    """χ² of a batch plus the L2 prior, per frame.

    Parameters
    ----------
    weights : LossWeights
    l2 : float
        Prior precision λ on the regularised parameters.
    config_type_weights : mapping config_type -> factor
        Extra weight per configuration type (names not present are ignored).
    """

    def __init__(self, weights: LossWeights, *, l2: float = 0.0,
                 config_type_weights: Mapping[str, float] | None = None,
                 stress_components: Sequence[str] = VOIGT_NAMES) -> None:
        if l2 < 0:
            raise ConfigError(f"training.l2 must be >= 0, got {l2}")
        check_stress_components(stress_components, "loss.stress_components")
        self.weights = weights
        self.l2 = float(l2)
        self.config_type_weights = dict(config_type_weights or {})
        self.stress_components = tuple(stress_components)
        self._stress_mask = torch.tensor([c in self.stress_components for c in VOIGT_NAMES])

    @classmethod
    def from_config(cls, loss, l2: float = 0.0, config_types: Sequence[str | None] = ()) -> "Loss":
        """The loss that a config's ``loss`` section (a
        :class:`~potforge.training.config.LossConfig`) and ``training.l2`` describe;
        ``config_types`` (one per training frame) for ``balance_config_types``."""
        weights = dict(loss.config_type_weights)
        if getattr(loss, "balance_config_types", False):
            weights = balanced_config_type_weights(config_types, weights)
        return cls(LossWeights.from_noise(loss.energy_sigma, loss.force_sigma, loss.stress_sigma,
                                          getattr(loss, "charge_sigma", None)),
                   l2=l2, config_type_weights=weights,
                   stress_components=loss.stress_components)

    def measurement_noise(self, term: str, frame_factors: torch.Tensor, scale: float = 1.0
                          ) -> torch.Tensor | None:
        """Noise (standard deviation) of one measurement of ``term`` (``"energy"`` per atom,
        a ``"forces"`` component, a ``"stress"`` component, an atom's ``"charges"``) in each
        frame: ``scale`` × σ of
        the term over √(frame factor), as the Kalman filter weighs single measurements;
        None where the loss leaves the term out."""
        weight = getattr(self.weights, term)
        return scale / torch.sqrt(weight * frame_factors) if weight > 0 else None

    @property
    def needs_forces(self) -> bool:
        return self.weights.forces > 0

    @property
    def needs_stress(self) -> bool:
        return self.weights.stress > 0

    @property
    def needs_charges(self) -> bool:
        return self.weights.charges > 0

    def frame_factors(self, batch, config_types: list[str]) -> torch.Tensor:
        factors = batch.weight.clone()
        for name, factor in self.config_type_weights.items():
            if name in config_types:
                factors = torch.where(batch.config_type == config_types.index(name),
                                      factors * factor, factors)
        return factors

    def __call__(self, output: ModelOutput, batch, *, theta: torch.Tensor | None = None,
                 regularized: torch.Tensor | None = None, n_frames: int | None = None,
                 config_types: list[str] | None = None, l2_frames: int | None = None) -> LossTerms:
        """Loss of ``batch``: χ² terms divided by ``n_frames`` (default: the batch's frame
        count), the L2 term by ``l2_frames`` (default: ``n_frames``). For a mini-batch of B of
        N frames, (B, N) makes the result an unbiased estimate of the full loss."""
        n = float(n_frames if n_frames is not None else batch.n_frames)
        w = self.frame_factors(batch, config_types or [])
        total = torch.zeros((), dtype=torch.float64)
        parts = {"energy": 0.0, "forces": 0.0, "stress": 0.0, "l2": 0.0, "charges": 0.0}
        if self.weights.energy > 0:
            de = (output.energy - batch.energy) / batch.n_atoms
            mask = ~torch.isnan(de)
            term = self.weights.energy * (w[mask] * de[mask] ** 2).sum() / n
            total = total + term
            parts["energy"] = float(term.detach())
        if self.weights.forces > 0 and output.forces is not None:
            df = output.forces - batch.forces
            per_atom = (df * df).sum(1)
            mask = ~torch.isnan(per_atom)
            term = self.weights.forces * (w[batch.frame_of_atom[mask]] * per_atom[mask]).sum() / n
            total = total + term
            parts["forces"] = float(term.detach())
        if self.weights.stress > 0 and output.stress is not None:
            ds = (output.stress - batch.stress)[:, self._stress_mask]
            per_frame = (ds * ds).sum(1)
            mask = ~torch.isnan(per_frame)
            term = self.weights.stress * (w[mask] * per_frame[mask]).sum() / n
            total = total + term
            parts["stress"] = float(term.detach())
        if self.weights.charges > 0 and output.charges is not None:
            dq = output.charges - batch.charges
            mask = ~torch.isnan(dq)
            term = self.weights.charges * (w[batch.frame_of_atom[mask]] * dq[mask] ** 2).sum() / n
            total = total + term
            parts["charges"] = float(term.detach())
        if self.l2 > 0 and theta is not None:
            t = theta[regularized] if regularized is not None else theta
            term = self.l2 * (t * t).sum() / float(l2_frames if l2_frames is not None else n)
            total = total + term
            parts["l2"] = float(term.detach())
        return LossTerms(total, parts["energy"], parts["forces"], parts["stress"], parts["l2"],
                         parts["charges"])


class ErrorAccumulator:
    """Sums of squared and absolute errors (and the largest) over batches, overall and per
    config_type, reported as :class:`~potforge.core.metrics.ErrorMetrics`."""

    def __init__(self, config_types: list[str]) -> None:
        self.config_types = list(config_types)
        k = len(self.config_types) + 1  # last slot: all frames
        # [group, quantity (energy, forces, stress, charges), (n, Σe², Σ|e|, max|e|)]
        self.sums = torch.zeros((k, 4, 4), dtype=torch.float64)
        self.frames = torch.zeros(k, dtype=torch.float64)
        self.atoms = torch.zeros(k, dtype=torch.float64)
        self.energy_residual = torch.zeros((), dtype=torch.float64)  # Σ ΔE/N over frames
        self.energy_count = 0

    def add(self, output: ModelOutput, batch) -> None:
        k_all = len(self.config_types)
        ct = batch.config_type
        groups = [(k_all, torch.ones_like(ct, dtype=torch.bool))] + \
            [(k, ct == k) for k in torch.unique(ct).tolist()]
        de = ((output.energy - batch.energy) / batch.n_atoms).detach()
        df = (output.forces - batch.forces).detach() if output.forces is not None else None
        ds = (output.stress - batch.stress).detach() if output.stress is not None else None
        dq = (output.charges - batch.charges).detach() if output.charges is not None else None
        ok = ~torch.isnan(de)
        self.energy_residual += de[ok].sum()
        self.energy_count += int(ok.sum())
        for k, frame_mask in groups:
            self.frames[k] += float(frame_mask.sum())
            self.atoms[k] += float(batch.n_atoms[frame_mask].sum())
            e = de[frame_mask]
            self._acc(k, 0, e[~torch.isnan(e)])
            if df is not None:
                f = df[frame_mask[batch.frame_of_atom]].reshape(-1)
                self._acc(k, 1, f[~torch.isnan(f)])
            if ds is not None:
                s = ds[frame_mask].reshape(-1)
                self._acc(k, 2, s[~torch.isnan(s)])
            if dq is not None:
                q = dq[frame_mask[batch.frame_of_atom]]
                self._acc(k, 3, q[~torch.isnan(q)])

    def _acc(self, k: int, q: int, e: torch.Tensor) -> None:
        if e.numel():
            self.sums[k, q, 0] += e.numel()
            self.sums[k, q, 1] += (e * e).sum()
            self.sums[k, q, 2] += e.abs().sum()
            self.sums[k, q, 3] = torch.maximum(self.sums[k, q, 3], e.abs().max())

    def _metrics(self, k: int) -> ErrorMetrics:
        sums = [tuple(float(x) for x in self.sums[k, q]) for q in range(4)]
        return ErrorMetrics.from_sums(int(self.frames[k]), int(self.atoms[k]), sums,
                                      (1000.0, 1.0, 1.0 / GPa, 1000.0))

    def result(self) -> ErrorMetrics:
        return self._metrics(len(self.config_types))

    def by_config_type(self) -> dict[str, ErrorMetrics]:
        return {name: self._metrics(k) for k, name in enumerate(self.config_types) if self.frames[k] > 0}

    @property
    def mean_energy_residual(self) -> float:
        """Mean of (E_pred − E_ref)/N over frames with energies (eV/atom)."""
        return float(self.energy_residual) / self.energy_count if self.energy_count else 0.0
