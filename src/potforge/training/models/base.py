"""What the trainer needs from a model family: predictions on cached batches, one flat
parameter vector, measurements for the Kalman filter, and conversion to a Potential."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ...data.frame import Frame
from ...models.potential import Potential

__all__ = ["ModelOutput", "TrainableModel", "register_trainable", "TRAINABLE"]

#: kind -> class, filled by :func:`register_trainable`.
TRAINABLE: dict[str, type["TrainableModel"]] = {}


def register_trainable(kind: str) -> Callable[[type], type]:
    def wrap(cls: type) -> type:
        cls.kind = kind
        TRAINABLE[kind] = cls
        return cls

    return wrap


@dataclass
class ModelOutput:
    """Predictions for a batch (eV, eV/Å, eV/Å³); forces/stress None when not requested."""

    energy: torch.Tensor
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None


class TrainableModel(ABC):
    """A model family in training form.

    The learned state is ``theta`` (one float64 leaf tensor) plus closed-form offsets:
    ``element_energies`` (n_species,) eV from a least-squares fit on composition and the
    global per-atom offset ``mean_energy`` eV, refitted in closed form during training.
    """

    kind: ClassVar[str] = "abstract"
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
    def labels(self, data: Any):
        """The :class:`~potforge.training.cache.FrameLabels` of prepared data."""

    # -- evaluation ---------------------------------------------------------------------------
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

    def state(self) -> dict:
        return {"theta": self.theta.detach().clone(),
                "element_energies": self.element_energies.clone(),
                "mean_energy": float(self.mean_energy)}

    def load_state(self, state: dict) -> None:
        with torch.no_grad():
            self.theta.copy_(state["theta"])
        self.element_energies = state["element_energies"].clone()
        self.mean_energy = float(state["mean_energy"])
