"""The training loop: epochs, evaluation, the closed-form energy offset, early stopping with the
best epoch kept, checkpoints and exact resume.

Per epoch: the optimizer updates the parameters; the global per-atom energy offset is refitted
in closed form (the weighted mean energy residual of the training set, which minimises the
energy term of the loss for fixed networks), and so is the stress offset of
``loss.stress_offset: fit`` (:mod:`.stress_offset`); training and validation errors are computed on
the full sets; the model with the lowest validation loss so far is kept. Training stops after
``epochs``, after ``patience`` epochs without improvement, or before an epoch would end past
``max_time``. A checkpoint after every epoch holds everything the next epoch depends on
(parameters, offsets, optimizer state, random-generator state, history, best model), so
``resume`` continues to the same result as an uninterrupted run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_path
from ..core.errors import ConfigError, NonFiniteError
from ..core.lazy import torch
from ..core.metrics import ErrorMetrics
from ..models.trainable import TrainableModel
from .guard import check_loss, check_output, check_parameters
from .loss import ErrorAccumulator, Loss
from .optimizers import Optimizer
from .stress_offset import StressOffset

__all__ = ["Trainer", "TrainingOptions", "Evaluation", "EpochRecord", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.pt"
_CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainingOptions:
    """Options of the loop (see module docstring).

    Attributes
    ----------
    epochs : int
    max_time : float or None, s
    patience : int or None
        Stop after this many epochs without a better validation loss (None: never early).
    seed : int
    max_pairs : int
        Neighbour pairs per evaluation chunk (memory of the evaluation).
    """

    epochs: int = 100
    max_time: float | None = None
    patience: int | None = None
    seed: int = 0
    max_pairs: int = 400_000


@dataclass
class Evaluation:
    """Errors of a full data set plus what the optimizers use of them."""

    errors: ErrorMetrics
    by_config_type: dict[str, ErrorMetrics]
    loss: float
    energy_errors: torch.Tensor  # (n_frames,) (E_pred - E_ref)/N
    force_errors: torch.Tensor | None  # (n_atoms, 3)


@dataclass
class EpochRecord:
    epoch: int
    time: float
    train: dict
    validation: dict | None
    validation_loss: float | None
    train_loss: float
    extra: dict = field(default_factory=dict)
    best: bool = False

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "time": self.time, "train": self.train,
                "validation": self.validation, "validation_loss": self.validation_loss,
                "train_loss": self.train_loss, "extra": self.extra, "best": self.best}

    @classmethod
    def from_dict(cls, d: dict) -> "EpochRecord":
        return cls(**d)


class Trainer:
    """Runs an optimizer on a model until a stopping rule holds.

    Parameters
    ----------
    model : TrainableModel
        Initialised (parameters and element energies set).
    loss : Loss
    optimizer : Optimizer
    train_data, validation_data
        Prepared data (``model.prepare``); validation may be None (no early stopping).
    options : TrainingOptions
    checkpoint : path or None
        Checkpoint file written after every epoch.
    log : callable(str) or None
        Receives one line per epoch.
    stress_offset : StressOffset or None
        ``loss.stress_offset``, attached to the training (and validation) labels: ``fit`` is
        refitted with the energy offset, and kept with the best model and in checkpoints.
    """

    def __init__(self, model: TrainableModel, loss: Loss, optimizer: Optimizer, train_data: Any,
                 validation_data: Any | None = None, *, options: TrainingOptions = TrainingOptions(),
                 checkpoint: str | os.PathLike | None = None,
                 log: Callable[[str], None] | None = None,
                 stress_offset: StressOffset | None = None) -> None:
        self.model = model
        self.stress_offset = stress_offset
        self.best_stress_offset: dict | None = None
        self.loss = loss
        self.optimizer = optimizer
        self.train_data = train_data
        self.validation_data = validation_data
        self.options = options
        self.epochs = int(options.epochs)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.log = log or (lambda line: None)
        self.train_labels = model.labels(train_data)
        self.train_batch_meta = model.batch(train_data, None, derivatives=False)
        self.generator = torch.Generator().manual_seed(int(options.seed))
        self.epoch = 0
        self.history: list[EpochRecord] = []
        self.best_state: dict | None = None
        self.best_epoch = 0
        self.best_loss = math.inf
        self.elapsed = 0.0
        self.stop_reason = ""
        self.last_train_rmse: dict[str, float] = {}
        self.last_energy_errors: torch.Tensor | None = None
        self.last_force_errors: torch.Tensor | None = None
        self._wall_offset = 0.0
        self._wall_start = time.perf_counter()
        self._first_epoch = 0
        self._batch = 0  # mini-batches of the running epoch, for error messages
        self._checkpointed: int | None = None  # the epoch in the checkpoint file
        self._check_labels(train_data, "training")
        if validation_data is not None:
            self._check_labels(validation_data, "validation")

    # -- labels the loss needs ----------------------------------------------------------------
    def _check_labels(self, data: Any, role: str) -> None:
        lab = self.model.labels(data)
        if lab.n_frames == 0:
            raise ConfigError(f"data: the {role} set is empty")
        w = self.loss.weights
        self._check_learnable(data, w)
        if w.energy > 0:
            missing = torch.nonzero(torch.isnan(lab.energy)).squeeze(1)
            if missing.numel():
                raise ConfigError(f"{lab.names[int(missing[0])]}: no energy, but the loss fits "
                                  f"energies ({missing.numel()} {role} frame(s) lack one); label "
                                  "it or drop it, or switch the term off (loss.energy_sigma: null)")
        if w.forces > 0:
            bad = torch.isnan(lab.forces).any(1)
            if bad.any():
                frame = int(torch.searchsorted(lab.atom_offsets, int(torch.nonzero(bad)[0]), right=True)) - 1
                raise ConfigError(f"{lab.names[frame]}: no forces, but the loss fits forces; label "
                                  "the frame or drop it, or switch the term off (loss.force_sigma: null)")
        if w.stress > 0:
            periodic = ~torch.isnan(lab.volume)
            missing = periodic & torch.isnan(lab.stress).any(1)
            if missing.any():
                raise ConfigError(f"{lab.names[int(torch.nonzero(missing)[0])]}: periodic frame "
                                  "without stress, but the loss fits stress; label it or switch the "
                                  "term off (loss.stress_sigma: null)")
        if w.charges > 0:
            self._check_charge_labels(lab, role)

    def _check_learnable(self, data: Any, w) -> None:
        """Refuse a loss term the model cannot learn, whatever the model: energies of a model
        without energy (``ModelOutput.no_energy``, e.g. stage 1 of a charge model) and charges
        that do not depend on theta (e.g. stage 2, whose charges its fixed stage 1 gives)."""
        if not getattr(self.model, "predicts_charges", False):
            return  # the charge term is refused in _check_charge_labels; energies are there
        stage = getattr(self.model, "stage", "?")
        fits_energy = w.energy > 0 or w.forces > 0 or w.stress > 0
        if not fits_energy and not w.charges > 0:
            return
        batch = self.model.batch(data, torch.tensor([0]), derivatives=False)
        out = self.model.predict(batch, forces=False, stress=False)
        if fits_energy and (out.no_energy or getattr(self.model, "charges_only", False)):
            raise ConfigError(f"loss: a {self.model.kind} model in stage {stage} fits charges "
                              "only; set loss.energy_sigma, force_sigma and stress_sigma to null and "
                              "give loss.charge_sigma")
        if w.charges > 0 and out.charges is not None and not out.charges.requires_grad:
            raise ConfigError(f"loss.charge_sigma: the charges of a stage-{stage} {self.model.kind} model "
                              "are fixed by its stage-1 model, not by the parameters trained here; switch "
                              "the term off (loss.charge_sigma: null) and fit charges in stage 1")

    def _check_charge_labels(self, lab, role: str) -> None:
        """A charge term needs a model that predicts charges and reference charges on every frame."""
        if not getattr(self.model, "predicts_charges", False):
            raise ConfigError(f"loss.charge_sigma: a {self.model.kind} model predicts no charges; "
                              "switch the term off (loss.charge_sigma: null) or train a charge model "
                              "(hdnnp-3g, hdnnp-4g)")
        bad = torch.isnan(lab.charges)
        if bad.any():
            frame = int(torch.searchsorted(lab.atom_offsets, int(torch.nonzero(bad)[0]), right=True)) - 1
            raise ConfigError(f"{lab.names[frame]}: no reference charges, but the loss fits charges "
                              f"({role} set); label the frame or drop it, or switch the term off "
                              "(loss.charge_sigma: null)")

    # -- losses for the optimizers ---------------------------------------------------------------
    def batch_loss(self, frames: torch.Tensor):
        """Loss of some training frames, with the graph for backward: an unbiased estimate of
        the full loss (χ² terms per batch frame, the L2 term divided by all training frames).
        A non-finite prediction or loss stops the run (:mod:`.guard`): the step it would feed
        can only spoil the parameters."""
        self._batch += 1
        batch = self.model.batch(self.train_data, frames, derivatives=self.loss.needs_forces or self.loss.needs_stress)
        out = self.model.predict(batch, forces=self.loss.needs_forces, stress=self.loss.needs_stress)
        when = f"epoch {self.epoch}, batch {self._batch}"
        check_output(out, batch, self.train_labels.names, when)
        terms = self.loss(out, batch, theta=self.model.theta, regularized=self.model.regularized(),
                          config_types=self.train_labels.config_types,
                          l2_frames=self.train_labels.n_frames)
        check_loss(terms, batch, self.train_labels.names, when)
        return terms

    def full_loss_backward(self) -> torch.Tensor:
        """Loss of the whole training set; gradients accumulated chunk by chunk."""
        n = self.train_labels.n_frames
        total = torch.zeros((), dtype=torch.float64)
        for frames in self.chunks(self.train_data):
            batch = self.model.batch(self.train_data, frames,
                                     derivatives=self.loss.needs_forces or self.loss.needs_stress)
            out = self.model.predict(batch, forces=self.loss.needs_forces, stress=self.loss.needs_stress)
            terms = self.loss(out, batch, n_frames=n, config_types=self.train_labels.config_types)
            terms.total.backward()
            total = total + terms.total.detach()
        if self.loss.l2 > 0:
            mask = self.model.regularized()
            reg = self.loss.l2 * (self.model.theta[mask] ** 2).sum() / n
            reg.backward()
            total = total + reg.detach()
        return total

    def chunks(self, data: Any) -> list[torch.Tensor]:
        """Consecutive frames of prepared data in chunks of at most ``options.max_pairs`` in
        cost (:meth:`TrainableModel.chunk_sizes`; a frame costing more is a chunk of its own),
        for whole-set evaluations and gradients that fit in memory."""
        lab = self.model.labels(data)
        sizes = self.model.chunk_sizes(data)
        chunks, start, acc = [], 0, 0
        for k in range(lab.n_frames):
            acc += int(sizes[k])
            if acc > self.options.max_pairs and k > start:
                chunks.append(torch.arange(start, k))
                start, acc = k, int(sizes[k])
        chunks.append(torch.arange(start, lab.n_frames))
        return chunks

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, data: Any) -> Evaluation:
        """Errors on a whole prepared data set (no gradients)."""
        with torch.no_grad():  # a with block: a decorator would load PyTorch at import
            return self._evaluate(data)

    def _evaluate(self, data: Any) -> Evaluation:
        lab = self.model.labels(data)
        acc = ErrorAccumulator(lab.config_types)
        forces = self.loss.needs_forces or not torch.isnan(lab.forces).all()
        stress = not torch.isnan(lab.stress).all()
        derivatives = self.model.has_derivatives(data)
        forces, stress = forces and derivatives, stress and derivatives
        loss_sum = 0.0
        e_err = torch.full((lab.n_frames,), math.nan, dtype=torch.float64)
        f_err = torch.full((lab.total_atoms, 3), math.nan, dtype=torch.float64) if forces else None
        for frames in self.chunks(data):
            batch = self.model.batch(data, frames, derivatives=forces or stress)
            out = self.model.predict(batch, forces=forces, stress=stress)
            check_output(out, batch, lab.names, f"epoch {self.epoch}, evaluation")
            acc.add(out, batch)
            terms = self.loss(out, batch, n_frames=lab.n_frames, config_types=lab.config_types)
            check_loss(terms, batch, lab.names, f"epoch {self.epoch}, evaluation")
            loss_sum += float(terms.total)
            e_err[frames] = (out.energy - batch.energy) / batch.n_atoms
            if forces and out.forces is not None:
                atoms = torch.cat([torch.arange(int(lab.atom_offsets[f]), int(lab.atom_offsets[f + 1]))
                                   for f in frames.tolist()])
                f_err[atoms] = out.forces - batch.forces
        return Evaluation(acc.result(), acc.by_config_type(), loss_sum, e_err, f_err)

    def refit_energy_offset(self) -> float:
        """Set the global per-atom offset to its closed-form optimum on the training set."""
        with torch.no_grad():
            return self._refit_energy_offset()

    def _refit_energy_offset(self) -> float:
        if self.loss.weights.energy <= 0:
            return 0.0
        residuals, weights = [], []
        for frames in self.chunks(self.train_data):
            batch = self.model.batch(self.train_data, frames, derivatives=False)
            out = self.model.predict(batch, forces=False, stress=False)
            check_output(out, batch, self.train_labels.names, f"epoch {self.epoch}, energy offset")
            r = (out.energy - batch.energy) / batch.n_atoms
            w = self.loss.frame_factors(batch, self.train_labels.config_types)
            ok = ~torch.isnan(r)
            residuals.append(r[ok])
            weights.append(w[ok])
        r, w = torch.cat(residuals), torch.cat(weights)
        if float(w.sum()) <= 0:
            return 0.0
        shift = float((w * r).sum() / w.sum())
        self.model.mean_energy -= shift
        check_parameters(self.model, f"epoch {self.epoch}, energy offset")
        return shift

    def refit_stress_offset(self) -> None:
        """``loss.stress_offset: fit``: the offsets at their closed-form optimum for the model
        as it is (:meth:`StressOffset.refit`); the labels follow."""
        if self.stress_offset is not None:
            self.stress_offset.refit(self)

    # -- the loop ----------------------------------------------------------------------------
    def _record(self, epoch: int, extra: dict) -> EpochRecord:
        train = self.evaluate(self.train_data)
        self.last_train_rmse = {"energy_per_atom": train.errors.energy_rmse_mev_per_atom / 1000.0,
                                "forces": train.errors.force_rmse_ev_per_angstrom}
        self.last_energy_errors = train.energy_errors
        self.last_force_errors = train.force_errors
        val = self.evaluate(self.validation_data) if self.validation_data is not None else None
        criterion = val.loss if val is not None else train.loss
        record = EpochRecord(epoch, self.elapsed, _record_dict(train.errors),
                             _record_dict(val.errors) if val is not None else None,
                             val.loss if val is not None else None, train.loss, extra)
        if math.isfinite(criterion) and criterion < self.best_loss:
            self.best_loss = criterion
            self.best_epoch = epoch
            self.best_state = self.model.state()
            if self.stress_offset is not None:
                self.best_stress_offset = self.stress_offset.state()
            record.best = True
        self.history.append(record)
        return record

    def run(self, *, resume: bool = False) -> "Trainer":
        """Train until a stopping rule holds; the model ends in its best state.

        A NaN or an infinity in a prediction, the loss or the parameters stops the run with a
        :class:`~potforge.core.errors.NonFiniteError` before that epoch is checkpointed."""
        try:
            return self._run(resume)
        except NonFiniteError as err:
            saved = f"{self.checkpoint.name} keeps epoch {self._saved_epoch}" \
                if self.checkpoint is not None and self._saved_epoch is not None else "nothing checkpointed"
            raise NonFiniteError(f"{err.reason}; {saved}") from None

    @property
    def _saved_epoch(self) -> int | None:
        """The epoch that the checkpoint file holds (None: no checkpoint yet)."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        return self._checkpointed

    def _run(self, resume: bool) -> "Trainer":
        self.optimizer.setup(self)
        self._wall_start = time.perf_counter()
        if resume and self.checkpoint is not None and self.checkpoint.exists():
            self._load_checkpoint()
            self.log(f"resumed from {self.checkpoint} after epoch {self.epoch}")
        elif not self.history:
            start = getattr(self.model, "initial_fit", None)
            if callable(start):  # a model's data-driven start (4G stage 1: χ output layers)
                start(self.train_data, log=self.log)
            self.refit_energy_offset()
            record = self._record(0, {})
            self.log(self._line(record))
        while self.epoch < self.epochs:
            if self._should_stop():
                break
            start = time.perf_counter()
            self.epoch += 1
            self._batch = 0
            extra = self.optimizer.epoch(self)
            self.model.project()  # bounded models: keep the parameters physical
            refit = getattr(self.model, "epoch_fit", None)
            if callable(refit):  # a model's closed-form part (4G stage 1: χ output layers)
                refit(self.train_data)
            check_parameters(self.model, f"epoch {self.epoch}")
            self.refit_energy_offset()
            self.refit_stress_offset()
            self.elapsed += time.perf_counter() - start  # the optimisation proper
            record = self._record(self.epoch, extra)
            self.optimizer.after_evaluation(
                self, record.validation_loss if record.validation_loss is not None else record.train_loss)
            self.elapsed = max(self.elapsed, 0.0)
            record.time = self.elapsed
            self.log(self._line(record))
            self._save_checkpoint()
        else:
            self.stop_reason = self.stop_reason or f"reached {self.epochs} epochs"
        if self.best_state is not None:
            self.model.load_state(self.best_state)
            if self.best_stress_offset is not None:
                self.stress_offset.load_state(self.best_stress_offset)
        return self

    def _should_stop(self) -> bool:
        opt = self.options
        if opt.patience is not None and self.epoch - self.best_epoch >= opt.patience:
            self.stop_reason = f"no better validation loss for {opt.patience} epochs"
            return True
        if opt.max_time is not None and self.epoch > 0:
            per_epoch = self.elapsed_wall / self.epoch
            if self.elapsed_wall + per_epoch > opt.max_time:
                self.stop_reason = f"time limit of {opt.max_time:g} s"
                return True
        return False

    @property
    def elapsed_wall(self) -> float:
        """Seconds of the loop so far, evaluations included."""
        return self._wall_offset + (time.perf_counter() - self._wall_start)

    def _line(self, r: EpochRecord) -> str:
        def fmt(d):
            if d is None:
                return ""
            parts = [] if math.isnan(d["energy_rmse_mev_per_atom"]) else \
                [f"E {d['energy_rmse_mev_per_atom']:.3f}"]
            if not math.isnan(d["force_rmse_ev_per_angstrom"]):
                parts.append(f"F {d['force_rmse_ev_per_angstrom']:.4f}")
            if not math.isnan(d["stress_rmse_gpa"]):
                parts.append(f"S {d['stress_rmse_gpa']:.3f}")
            if d.get("charge_rmse_me") is not None and not math.isnan(d["charge_rmse_me"]):
                parts.append(f"Q {d['charge_rmse_me']:.2f}")
            return " ".join(parts)

        line = f"epoch {r.epoch:4d}/{self.epochs}  train {fmt(r.train)}"
        if r.validation is not None:
            line += f"  val {fmt(r.validation)}"
        line += "  (meV/atom, eV/Å, GPa, me)" if "Q " in line else "  (meV/atom, eV/Å, GPa)"
        if self.stress_offset is not None and self.stress_offset.mode == "fit":
            line += f"  {self.stress_offset.short()}"
        if r.best:
            line += "  *"
        if r.epoch > 0:
            per = (time.perf_counter() - self._wall_start) / max(r.epoch - self._first_epoch, 1)
            remaining = per * (self.epochs - r.epoch)
            line += f"  {per:.1f} s/epoch, ETA {_duration(remaining)}"
        return line

    # -- checkpoints -------------------------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        if self.checkpoint is None:
            return
        state = {
            "format": _CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.model.state(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "history": [r.to_dict() for r in self.history],
            "best_state": self.best_state,
            "best_epoch": self.best_epoch,
            "best_loss": self.best_loss,
            "elapsed": self.elapsed,
            "elapsed_wall": self.elapsed_wall,
            "last_train_rmse": self.last_train_rmse,
            "last_energy_errors": self.last_energy_errors,
            "last_force_errors": self.last_force_errors,
        }
        if self.stress_offset is not None:
            state["stress_offset"] = self.stress_offset.state()
            state["best_stress_offset"] = self.best_stress_offset
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.checkpoint) as tmp:
            torch.save(state, tmp)
        self._checkpointed = self.epoch

    def _load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint, weights_only=True)
        if state.get("format") != _CHECKPOINT_FORMAT:
            raise ConfigError(f"{self.checkpoint}: unknown checkpoint format {state.get('format')!r}")
        self.epoch = self._checkpointed = int(state["epoch"])
        self.model.load_state(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.history = [EpochRecord.from_dict(r) for r in state["history"]]
        self.best_state = state["best_state"]
        self.best_epoch = int(state["best_epoch"])
        self.best_loss = float(state["best_loss"])
        self.elapsed = float(state["elapsed"])
        self._wall_offset = float(state["elapsed_wall"])
        self._wall_start = time.perf_counter()
        self._first_epoch = self.epoch
        self.last_train_rmse = dict(state["last_train_rmse"])
        self.last_energy_errors = state["last_energy_errors"]
        self.last_force_errors = state["last_force_errors"]
        if self.stress_offset is not None:
            if "stress_offset" in state:
                self.stress_offset.load_state(state["stress_offset"])
                self.best_stress_offset = state["best_stress_offset"]
            else:   # a checkpoint without one: refit for the model as it is
                self.refit_stress_offset()


def _record_dict(errors: ErrorMetrics) -> dict:
    """The metrics of an epoch record; the charge fields only for charge models (a model
    without charges keeps the history it always had, with no NaN fields)."""
    d = errors.to_dict()
    if not d["n_charges"]:
        for key in ("n_charges", "charge_rmse_me", "charge_mae_me", "charge_max_me"):
            del d[key]
    return d


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
