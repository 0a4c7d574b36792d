"""The trainable form of a model family: what the trainer, the loss and the optimizers need.

A family's trainable form prepares its training data once (:meth:`TrainableModel.prepare`:
a descriptor cache, neighbour pairs, molecular coordinates — whatever its model needs, built
on :mod:`potforge.data.labels`), gathers batches of frames from it, predicts energies, forces
and stress of a batch differentiably in one flat parameter vector ``theta``, and turns the
result into its :class:`~potforge.models.potential.Potential`. Everything in
:mod:`potforge.training` is written against this interface only.

Optional capabilities have defaults here: parameter bounds and projection, random restarts
and closed-form output Jacobians (the least-squares optimizers of the classical families),
single-measurement predictions (the Kalman filter), a cost per frame for chunking, and a
memory estimate stated before the data are prepared.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..core.errors import ConfigError, ModelFormatError, PotforgeError
from ..core.lazy import torch
from ..data.frame import Frame
from ..data.labels import FrameLabels
from .potential import Potential

__all__ = ["ModelOutput", "TrainableModel", "trained_model"]


@contextlib.contextmanager
def trained_model() -> Iterator[None]:
    """Turning fitted parameters into a Potential: a parameter that the Potential refuses
    (non-finite or beyond its bounds: the fit diverged) becomes a one-line ModelFormatError."""
    try:
        yield
    except ValueError as err:
        if isinstance(err, PotforgeError):
            raise
        raise ModelFormatError(f"the fitted model is not usable ({err}); the fit diverged: lower the "
                               "learning rate or check the data") from None


@dataclass
class ModelOutput:
    """Predictions for a batch (eV, eV/Å, eV/Å³, e); forces/stress None when not requested,
    charges (n_atoms,) None for models without charges. ``no_energy``: a model (stage) that
    predicts charges only; its energy is NaN and nothing checks or fits it."""

    energy: torch.Tensor
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None
    charges: torch.Tensor | None = None
    no_energy: bool = False


class TrainableModel(ABC):
    """A model family in training form.

    The learned state is ``theta`` (one float64 leaf tensor) plus closed-form offsets:
    ``element_energies`` (n_species,) eV from a least-squares fit on composition and the
    global per-atom offset ``mean_energy`` eV, refitted in closed form during training.
    """

    kind: ClassVar[str] = "abstract"
    #: whether ``lsq`` (Levenberg-Marquardt / trust region on the residual vector with its full
    #: Jacobian) applies: few parameters, an :meth:`output_jacobian`. ``lbfgsb`` needs only
    #: gradients and takes :attr:`bounds` where a model has them.
    supports_least_squares: ClassVar[bool] = False
    #: whether :meth:`predict` gives per-atom charges (``ModelOutput.charges``): the loss's
    #: charge term (``loss.charge_sigma``) needs it.
    predicts_charges: ClassVar[bool] = False
    species: tuple[str, ...]
    theta: torch.Tensor
    element_energies: torch.Tensor
    mean_energy: float

    # -- data -----------------------------------------------------------------------------
    @abstractmethod
    def prepare(self, frames: Sequence[Frame], names: Sequence[str], *, derivatives: bool,
                progress: Callable[[int, int], None] | None = None) -> Any:
        """Precompute what the model needs of ``frames`` (e.g. a descriptor cache)."""

    @abstractmethod
    def batch(self, data: Any, frames: torch.Tensor | None, *, derivatives: bool = True) -> Any:
        """Gather frames of prepared data."""

    @abstractmethod
    def labels(self, data: Any) -> FrameLabels:
        """The :class:`~potforge.data.labels.FrameLabels` of prepared data."""

    def chunk_sizes(self, data: Any) -> torch.Tensor:
        """Cost of each prepared frame (its neighbour pairs where the data count them, else
        its atoms): the trainer cuts whole-set evaluations into chunks of bounded total cost."""
        pairs = getattr(data, "n_pairs", None)
        return pairs if pairs is not None else self.labels(data).n_atoms

    def has_derivatives(self, data: Any) -> bool:
        """Whether prepared data can give forces and stress (prepared with derivatives)."""
        return getattr(data, "jacobian", True) is not None

    def memory_estimate(self, frames: Sequence[Frame], n_threads: int = 1) -> tuple[str, int] | None:
        """(what, bytes) that :meth:`prepare` will hold for ``frames``, stated before the work;
        None where it is small."""
        return None

    # -- evaluation ---------------------------------------------------------------------------
    def with_offsets(self, energy: torch.Tensor, batch: Any) -> torch.Tensor:
        """Frame energies (float64) plus the closed-form offsets: Σ_e n_e E_e + N · mean_energy
        (``batch.composition``, ``batch.n_atoms``)."""
        return energy + batch.composition @ self.element_energies \
            + batch.n_atoms.to(torch.float64) * self.mean_energy

    @abstractmethod
    def predict(self, batch: Any, *, forces: bool, stress: bool) -> ModelOutput:
        """Energies per frame (and forces, stress), differentiable with respect to theta."""

    def energy_measurement(self, data: Any, frame: int) -> torch.Tensor:
        """Energy per atom of one frame (scalar, differentiable): a Kalman measurement."""
        batch = self.batch(data, torch.tensor([frame]), derivatives=False)
        out = self.predict(batch, forces=False, stress=False)
        return out.energy[0] / batch.n_atoms[0]

    def force_measurement(self, data: Any, atom: int, component: int) -> torch.Tensor:
        """One force component (scalar, differentiable): a Kalman measurement."""
        frame = int(torch.searchsorted(self.labels(data).atom_offsets, atom, right=True)) - 1
        batch = self.batch(data, torch.tensor([frame]))
        out = self.predict(batch, forces=True, stress=False)
        return out.forces[atom - int(self.labels(data).atom_offsets[frame]), component]

    def charge_measurement(self, data: Any, frame: int) -> torch.Tensor:
        """The charges of one frame's atoms ((n_atoms,) e, differentiable): one Kalman
        measurement of charge models (a vector: charge equilibration couples a frame's atoms,
        as n2p2 updates on a structure's charges together)."""
        batch = self.batch(data, torch.tensor([frame]), derivatives=False)
        out = self.predict(batch, forces=False, stress=False)
        if out.charges is None:
            raise ConfigError(f"loss.charge_sigma: a {self.kind} model predicts no charges")
        return out.charges

    def charge_jacobian(self, data: Any, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The charges of one frame's atoms (n,) and their Jacobian (n, n_parameters) with
        respect to theta, both detached: a Kalman charge update. Here by autograd (all rows in
        one batched backward pass); families with a closed form override it."""
        y = self.charge_measurement(data, frame)
        eye = torch.eye(len(y), dtype=y.dtype)
        (jac,) = torch.autograd.grad(y, self.theta, grad_outputs=eye, is_grads_batched=True)
        return y.detach(), jac

    def stress_measurement(self, data: Any, frame: int, component: int) -> torch.Tensor:
        """One Voigt stress component of one frame (eV/Å³, differentiable): a Kalman measurement."""
        batch = self.batch(data, torch.tensor([frame]))
        out = self.predict(batch, forces=False, stress=True)
        return out.stress[0, component]

    # -- parameters ---------------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return int(self.theta.numel())

    @abstractmethod
    def regularized(self) -> torch.Tensor:
        """Boolean mask of the parameters that L2 regularisation applies to."""

    @abstractmethod
    def to_potential(self, metadata: dict | None = None) -> Potential:
        """The fitted model as a Potential (prediction, saving, export)."""

    @abstractmethod
    def description(self) -> dict:
        """JSON-able definition (everything needed to rebuild the model but theta/offsets)."""

    @classmethod
    @abstractmethod
    def from_description(cls, description: dict) -> "TrainableModel":
        """Rebuild an untrained model from :meth:`description`."""

    # -- optional: bounded few-parameter models (least squares) ---------------------------------
    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Lower and upper bounds of theta (None: unbounded)."""
        return None

    def project(self) -> None:
        """Bring theta back into its bounds after an optimizer that ignores them (no-op here)."""

    def random_start(self, generator: torch.Generator, spread: float) -> torch.Tensor:
        """A random starting point near theta, for restarts."""
        raise ConfigError(f"training.optimizer.restarts: a {self.kind} model has no random "
                          "starting points")

    def output_jacobian(self, batch: Any, theta: torch.Tensor, *, forces: bool, stress: bool):
        """Jacobians of energies (F, P), forces (n, 3, P) and stress (F, 6, P) with respect to
        theta in closed form, or None to let the optimizer use forward-mode differentiation."""
        return None

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"theta": self.theta.detach().clone(),
                "element_energies": self.element_energies.clone(),
                "mean_energy": float(self.mean_energy)}

    def load_state(self, state: dict) -> None:
        with torch.no_grad():
            self.theta.copy_(state["theta"])
        self.element_energies = state["element_energies"].clone()
        self.mean_energy = float(state["mean_energy"])
