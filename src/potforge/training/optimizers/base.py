"""What an optimizer is to the trainer: one epoch of parameter updates, plus state for
checkpoints; optimizers register by name (``training: {optimizer: {kind: kalman}}``).

An optimizer sees the trainer only through :class:`TrainerView` (the model, the loss, the
prepared data, the random generator and the losses it can ask for), so that the optimizers
and the training loop do not import each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from ...core.lazy import torch
from ...data.labels import BatchLabels, FrameLabels
from ...models.trainable import TrainableModel
from ..loss import Loss, LossTerms

__all__ = ["Optimizer", "OPTIMIZERS", "register_optimizer", "TrainerView"]


class TrainerView(Protocol):
    """The parts of :class:`~potforge.training.trainer.Trainer` that optimizers use."""

    model: TrainableModel
    loss: Loss
    generator: torch.Generator
    train_data: Any
    train_labels: FrameLabels
    train_batch_meta: BatchLabels
    epoch: int
    epochs: int
    log: Callable[[str], None]
    last_train_rmse: dict[str, float]
    last_energy_errors: torch.Tensor | None
    last_force_errors: torch.Tensor | None

    def batch_loss(self, frames: torch.Tensor) -> LossTerms: ...

    def full_loss_backward(self) -> torch.Tensor: ...

    def refit_energy_offset(self) -> float: ...

    def chunks(self, data: Any) -> list[torch.Tensor]: ...


OPTIMIZERS: dict[str, type["Optimizer"]] = {}


def register_optimizer(kind: str) -> Callable[[type], type]:
    def wrap(cls: type) -> type:
        cls.kind = kind
        OPTIMIZERS[kind] = cls
        return cls

    return wrap


class Optimizer(ABC):
    """One epoch of parameter updates; state for checkpoints."""

    kind: ClassVar[str] = "abstract"

    def setup(self, trainer: TrainerView) -> None:
        """Called once before the first epoch (and again after a resume, before loading state)."""

    @abstractmethod
    def epoch(self, trainer: TrainerView) -> dict:
        """Run one epoch; return figures for the log (e.g. learning rate)."""

    def after_evaluation(self, trainer: TrainerView, validation_loss: float | None) -> None:
        """Hook after the epoch's evaluation (plateau schedules)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
