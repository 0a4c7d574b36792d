"""First-order and quasi-Newton optimizers on the flat parameter vector:

- ``adam``: mini-batches of frames, Adam (Kingma & Ba 2015) on the full loss (energies,
  forces, stress, L2), with a learning-rate schedule (constant, exponential decay, cosine, or
  reduce-on-plateau of the validation loss);
- ``lbfgs``: full-batch L-BFGS with a strong-Wolfe line search (``iterations`` per epoch).

All randomness comes from the trainer's ``torch.Generator``, whose state is checkpointed, so
a resumed run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...core.errors import ConfigError
from ...core.lazy import torch
from .base import Optimizer, TrainerView, register_optimizer

__all__ = ["AdamOptimizer", "LBFGSOptimizer"]


# -- first-order --------------------------------------------------------------------------------
@dataclass
class _Schedule:
    kind: str
    lr: float
    decay: float
    min_lr: float
    patience: int
    epochs: int

    def value(self, epoch: int, current: float) -> float:
        if self.kind == "constant" or self.kind == "plateau":
            return current
        if self.kind == "exponential":
            return max(self.lr * self.decay ** epoch, self.min_lr)
        if self.kind == "cosine":
            t = min(epoch / max(self.epochs, 1), 1.0)
            return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * t))
        raise ConfigError(f"training.optimizer.schedule: unknown schedule {self.kind!r}")


@register_optimizer("adam")
class AdamOptimizer(Optimizer):
    """Adam on mini-batches of frames.

    Parameters
    ----------
    lr : float
        Initial learning rate.
    batch_size : int
        Frames per step.
    schedule : {"constant", "exponential", "cosine", "plateau"}
    decay : float
        Factor per epoch (exponential) or per plateau (plateau).
    min_lr : float
    patience : int
        Epochs without validation improvement before a plateau decay.
    betas : (float, float)
    """

    def __init__(self, *, lr: float = 1e-3, batch_size: int = 8, schedule: str = "cosine",
                 decay: float = 0.5, min_lr: float = 1e-6, patience: int = 10,
                 betas: tuple[float, float] = (0.9, 0.999)) -> None:
        if not lr > 0:
            raise ConfigError(f"training.optimizer.lr must be positive, got {lr}")
        if int(batch_size) < 1:
            raise ConfigError(f"training.optimizer.batch_size must be >= 1, got {batch_size}")
        if schedule not in ("constant", "exponential", "cosine", "plateau"):
            raise ConfigError(f"training.optimizer.schedule: {schedule!r} is not one of constant, "
                              "exponential, cosine, plateau")
        self.batch_size = int(batch_size)
        self.betas = tuple(betas)
        self.schedule = _Schedule(schedule, float(lr), float(decay), float(min_lr), int(patience), 0)
        self.current_lr = float(lr)
        self._torch: torch.optim.Adam | None = None
        self._bad_epochs = 0
        self._best = math.inf

    def setup(self, trainer: TrainerView) -> None:
        self.schedule.epochs = trainer.epochs
        self._torch = torch.optim.Adam([trainer.model.theta], lr=self.current_lr, betas=self.betas)

    def epoch(self, trainer: TrainerView) -> dict:
        self.current_lr = self.schedule.value(trainer.epoch - 1, self.current_lr)
        for group in self._torch.param_groups:
            group["lr"] = self.current_lr
        n = trainer.train_labels.n_frames
        order = torch.randperm(n, generator=trainer.generator)
        for start in range(0, n, self.batch_size):
            frames = order[start:start + self.batch_size]
            self._torch.zero_grad(set_to_none=True)
            loss = trainer.batch_loss(frames)
            loss.total.backward()
            self._torch.step()
        return {"lr": self.current_lr}

    def after_evaluation(self, trainer: TrainerView, validation_loss: float | None) -> None:
        if self.schedule.kind != "plateau" or validation_loss is None:
            return
        if validation_loss < self._best:
            self._best = validation_loss
            self._bad_epochs = 0
        else:
            self._bad_epochs += 1
            if self._bad_epochs > self.schedule.patience:
                self.current_lr = max(self.current_lr * self.schedule.decay, self.schedule.min_lr)
                self._bad_epochs = 0

    def state_dict(self) -> dict:
        return {"adam": self._torch.state_dict(), "lr": self.current_lr,
                "bad_epochs": self._bad_epochs, "best": self._best}

    def load_state_dict(self, state: dict) -> None:
        self._torch.load_state_dict(state["adam"])
        self.current_lr = float(state["lr"])
        self._bad_epochs = int(state["bad_epochs"])
        self._best = float(state["best"])


@register_optimizer("lbfgs")
class LBFGSOptimizer(Optimizer):
    """Full-batch L-BFGS (Nocedal 1980) with a strong-Wolfe line search.

    Parameters
    ----------
    iterations : int
        L-BFGS iterations per epoch.
    history : int
        Number of stored correction pairs.
    """

    def __init__(self, *, iterations: int = 20, history: int = 50, lr: float = 1.0) -> None:
        if int(iterations) < 1:
            raise ConfigError(f"training.optimizer.iterations must be >= 1, got {iterations}")
        if int(history) < 1:
            raise ConfigError(f"training.optimizer.history must be >= 1, got {history}")
        if not lr > 0:
            raise ConfigError(f"training.optimizer.lr must be positive, got {lr}")
        self.iterations = int(iterations)
        self.history = int(history)
        self.lr = float(lr)
        self._torch: torch.optim.LBFGS | None = None

    def setup(self, trainer: TrainerView) -> None:
        self._torch = torch.optim.LBFGS([trainer.model.theta], lr=self.lr, max_iter=self.iterations,
                                        history_size=self.history, line_search_fn="strong_wolfe",
                                        tolerance_grad=0.0, tolerance_change=0.0)

    def epoch(self, trainer: TrainerView) -> dict:
        def closure():
            self._torch.zero_grad(set_to_none=True)
            return trainer.full_loss_backward()

        self._torch.step(closure)
        return {}

    def state_dict(self) -> dict:
        return {"lbfgs": self._torch.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._torch.load_state_dict(state["lbfgs"])
