"""``fit``: a validated config in, a trained potential and its output directory out.

The steps, each reported in the log:

1. read the data and split it into training / validation / test sets by group (whole
   configurations, never atoms), unless the sets are given as files;
2. build the model from its config (for ``hdnnp``: symmetry functions, pruning, scaling
   statistics from the training set, per-element reference energies by least squares on
   composition, output scale, initial weights);
3. compute the descriptors and their derivatives once (memory stated before the work);
4. train (:class:`~potforge.training.trainer.Trainer`), checkpointing every epoch;
5. evaluate the best model on the test set and write the output directory:

   ``model.json`` + ``arrays.npz``  the potential (loadable by ``potforge predict`` and
                                    the ASE calculator), with the resolved config inside
   ``config.yaml``                  the resolved config
   ``learning_curve.csv``           errors per epoch
   ``summary.json``                 errors, timings, memory, stop reason, pruning
   ``training.log``                 the log lines
   ``domain.json``                  distances and coordinations of the training structures
                                    (descriptors/domain.py: the extrapolation test for any family)
   ``checkpoint.pt``                for ``resume``

``resume=True`` continues from ``checkpoint.pt`` to the same result as an uninterrupted run;
the model definition is read back from the directory, and the config must be the one the
run started with.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.lazy import torch
from ..core.provenance import versions
from ..data.dataset import Dataset
from ..models.building import BuildContext, frame_names
from ..models.potential import Potential
from ..models.registry import family
from ..models.trainable import TrainableModel
from .baselines import build_baselines, subtract_baselines, with_baselines
from .config import Config, optimizer_options
from .data import frame_source, load_data
from .loss import Loss
from .optimizers import OPTIMIZERS
from .refit import refit_output_layer
from .run_files import (DEFINITION_NAME, check_output_dir, load_definition, peak_rss_mib, progress_reporter,
                        save_definition, write_json, write_learning_curve, write_yaml)
from .stress_offset import StressOffset
from .trainer import CHECKPOINT_NAME, Trainer, TrainingOptions

__all__ = ["fit", "FitResult", "build_model", "threads"]


@dataclass
class FitResult:
    """What :func:`fit` returns: the potential and the figures of the run."""

    potential: Potential
    model: TrainableModel
    directory: Path | None
    summary: dict
    history: list[dict]


def threads(config: Config) -> int:
    """``training.threads``, 0 meaning all cores."""
    n = config.training.threads
    return n if n > 0 else (os.cpu_count() or 1)


def build_model(config: Config, train: Dataset, log: Callable[[str], None]) -> tuple[TrainableModel, dict]:
    """An initialised trainable model of the config's kind (its family's builder) and a dict of
    facts for the summary."""
    entry = family(config.model_kind, trainable=True)
    return entry.build(BuildContext(model=config.model, kind=config.model_kind, train=train,
                                    seed=int(config.training.seed), threads=threads(config),
                                    log=log, base_dir=config.base_dir))


def fit(config: Config, output_dir: str | os.PathLike | None = None, *, resume: bool = False,
        log: Callable[[str], None] | None = None,
        data: tuple[Dataset, Dataset | None, Dataset | None] | None = None,
        score: Loss | None = None) -> FitResult:
    """Train the model a config describes; write the output directory (if given).

    Parameters
    ----------
    config : Config
        From :func:`~potforge.training.config.load_config` or ``training_config``.
    output_dir : path or None
        Where the model, learning curve, summary and checkpoint go (created). None: nothing
        is written and ``resume`` is impossible.
    resume : bool
        Continue a killed run from ``output_dir/checkpoint.pt``.
    log : callable(str)
        Receives progress lines (default: print).
    data : (train, validation, test) or None
        Data sets to use instead of those the config names (cross-validation, learning curves).
    score : Loss or None
        The loss whose value on the test set is reported as ``test_loss`` (default: the
        config's); cross-validation scores every grid point with the same one.
    """
    run = _Run(config, output_dir, resume, log)
    train, validation, test = data if data is not None else load_data(config)
    run.sources = {role: [frame_source(f) for f in part] for role, part in
                   (("train", train), ("validation", validation), ("test", test)) if part is not None}
    baselines = build_baselines(config.baselines)
    if baselines:  # the model learns the remainder; the saved potential adds them back
        train, validation, test = (subtract_baselines(part, baselines, role) for part, role in
                                   ((train, "train"), (validation, "validation"), (test, "test")))
        run.say(f"baselines subtracted from the labels: {', '.join(b.kind for b in baselines)}")
    run.say(f"data: {len(train)} training, {len(validation) if validation else 0} validation, "
            f"{len(test) if test else 0} test frames ({train.n_atoms} training atoms)")
    model, facts = run.model(train, validation, test)
    loss = Loss.from_config(config.loss, config.training.l2, [f.config_type for f in train])
    if config.loss.balance_config_types:
        run.say("config_type weights (balance_config_types): " + ", ".join(
            f"{k} {v:.3g}" for k, v in sorted(loss.config_type_weights.items())))
    trainer, prepared = run.trainer(model, loss, train, validation)
    trainer.run(resume=resume)
    run.say(f"stopped: {trainer.stop_reason}; best epoch {trainer.best_epoch} "
            f"(training loop {trainer.elapsed_wall:.1f} s)")
    best = trainer.history[_best_index(trainer)]
    refit = refit_output_layer(trainer, run.say, force_factor=config.training.refit_force_factor) \
        if config.training.refit_output else None
    summary: dict[str, Any] = {
        "model_kind": config.model_kind,
        "n_parameters": model.n_parameters,
        "frames": {"train": len(train), "validation": len(validation) if validation else 0,
                   "test": len(test) if test else 0},
        "best_epoch": trainer.best_epoch,
        "epochs_run": trainer.epoch,
        "stop_reason": trainer.stop_reason,
        **prepared,
        "training_loop_time_s": trainer.elapsed_wall,
        **facts,
        "train": best.train,
        "validation": best.validation,
        "stress_offset": run.offset_facts(trainer),
    }
    if refit is not None:  # the errors of the model that is saved, the refit's figures beside
        summary["train"], summary["validation"] = refit.pop("train", best.train), \
            refit.pop("validation", best.validation)
        summary["refit_output"] = refit
    if test is not None:
        summary.update(run.test(trainer, test, score, summary["stress_offset"]))
    run.domain_from(train)
    return run.finish(trainer, summary, baselines)


class _Run:
    """One training run: its output directory, log lines and the steps of :func:`fit`."""

    def __init__(self, config: Config, output_dir: str | os.PathLike | None, resume: bool,
                 log: Callable[[str], None] | None) -> None:
        self.t_start = time.perf_counter()
        self.config = config
        self.out = Path(output_dir) if output_dir is not None else None
        self.resume = resume
        self.lines: list[str] = []
        self.sources: dict[str, list[str | None]] = {}  # the file of every frame, per role
        self.log = log or print
        torch.set_num_threads(threads(config))
        self.plain = config.plain()
        if self.out is not None:
            if self.out.exists() and not self.out.is_dir():
                raise ConfigError(f"{self.out}: exists and is not a directory; name a new output directory")
            self.out.mkdir(parents=True, exist_ok=True)
            check_output_dir(self.out, self.plain, resume)
        elif resume:
            raise ConfigError("resume needs an output directory")

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.log(line)

    def model(self, train: Dataset, validation: Dataset | None,
              test: Dataset | None) -> tuple[TrainableModel, dict]:
        """Built from config and data, or read back from the definition on resume; validation
        and test elements checked against it before any work."""
        if self.resume:
            model, facts = load_definition(self.out)
            self.say(f"model definition read from {self.out / DEFINITION_NAME}")
        else:
            model, facts = build_model(self.config, train, self.say)
            if self.out is not None:
                save_definition(self.out, model, facts, self.plain)
        for role, part in (("train", train), ("validation", validation), ("test", test)):
            extra = sorted(set(part.species) - set(model.species)) if part is not None else []
            if extra:  # the species come from the data, model.species, an n2p2 folder or a stage-1 model
                raise ConfigError(f"data.{role}: holds {', '.join(extra)}, which the model (species "
                                  f"{', '.join(model.species)}) does not know")
        return model, facts

    def trainer(self, model: TrainableModel, loss: Loss, train: Dataset,
                validation: Dataset | None) -> tuple[Trainer, dict]:
        """The data prepared (memory stated first) and the trainer set up to run."""
        frames = list(train) + (list(validation) if validation is not None else [])
        estimate = model.memory_estimate(frames, threads(self.config))
        if estimate is not None:
            self.say(estimate[0])
        t0 = time.perf_counter()
        train_data = model.prepare(list(train), frame_names(train, "training"),
                                   derivatives=loss.needs_forces or loss.needs_stress,
                                   progress=progress_reporter(self.say, "training descriptors"))
        val_data = model.prepare(list(validation), frame_names(validation, "validation"), derivatives=True,
                                 progress=progress_reporter(self.say, "validation descriptors")) \
            if validation is not None else None
        t_cache = time.perf_counter() - t0
        self.say(f"descriptors computed in {t_cache:.1f} s")
        offset = StressOffset.from_config(self.config.loss)
        if offset is not None:   # the labels are corrected from here on
            offset.attach("train", model.labels(train_data), self.sources["train"])
            if val_data is not None:
                offset.attach("validation", model.labels(val_data), self.sources["validation"])
        kind, options = optimizer_options(self.config.training.optimizer, "training.optimizer")
        tc = self.config.training
        checkpoint = self.out / CHECKPOINT_NAME if (self.out is not None and tc.checkpoint) else None
        trainer = Trainer(model, loss, OPTIMIZERS[kind](**options), train_data, val_data,
                          options=TrainingOptions(epochs=tc.epochs, max_time=tc.max_time,
                                                  patience=tc.patience, seed=tc.seed),
                          checkpoint=checkpoint, log=self.say, stress_offset=offset)
        if self.resume and not (self.out / CHECKPOINT_NAME).exists():
            if not tc.checkpoint:
                raise ConfigError(f"{self.out}: nothing to resume (training.checkpoint is false)")
            self.say("no checkpoint yet (killed before the first epoch ended): starting from epoch 0")
        return trainer, {"descriptor_time_s": t_cache,
                         "cache_estimate_bytes": estimate[1] if estimate else None}

    def offset_facts(self, trainer: Trainer) -> dict:
        """``loss.stress_offset`` for the summary: the values, the correction of each data set
        and the validation stress errors against the raw labels (the loop's are against the
        corrected ones)."""
        offset = trainer.stress_offset
        if offset is None:
            return {"mode": "none"}
        facts = {**offset.record(), "applied": {role: offset.applied(role, sources)
                                                for role, sources in self.sources.items()}, "raw": {}}
        if trainer.validation_data is not None:
            with offset.raw_labels("validation"):
                facts["raw"]["validation"] = _stress_errors(trainer.evaluate(trainer.validation_data))
        values = ", ".join(f"{v:.3f} GPa ({Path(name).name})" if v is not None else f"none ({Path(name).name}: "
                           "no stress labels)" for name, v in offset.values_gpa().items())
        self.say(f"stress offset ({offset.mode}): s = {values}, added to the stress labels (they carry "
                 "−s·I); the model predicts stress without it")
        return facts

    def test(self, trainer: Trainer, test: Dataset, score: Loss | None, offset_facts: dict) -> dict:
        """Errors of the best model on the test set (and its loss under ``score``); with a stress
        offset, against the corrected labels and (``offset_facts["raw"]``) the raw ones."""
        model = trainer.model
        test_data = model.prepare(list(test), frame_names(test, "test"), derivatives=True)
        offset = trainer.stress_offset
        if offset is not None:
            offset.attach("test", model.labels(test_data), self.sources["test"])
            with offset.raw_labels("test"):
                offset_facts["raw"]["test"] = _stress_errors(trainer.evaluate(test_data))
        ev = trainer.evaluate(test_data)
        out = {"test": ev.errors.to_dict(), "test_loss": ev.loss}
        if score is not None:
            loss, trainer.loss = trainer.loss, score
            out["test_loss"] = trainer.evaluate(test_data).loss
            trainer.loss = loss
        out["test_by_config_type"] = {k: v.to_dict() for k, v in ev.by_config_type.items()}
        e = ev.errors
        self.say(f"test: energy {e.energy_rmse_mev_per_atom:.3f} meV/atom, forces "
                 f"{e.force_rmse_ev_per_angstrom:.4f} eV/Å, stress {e.stress_rmse_gpa:.3f} GPa (RMSE, "
                 f"{e.n_frames} frames)")
        if offset is not None:
            self.say(f"test stress against the labels corrected by the offset: {e.stress_rmse_gpa:.3f} GPa, "
                     f"against the raw labels: {offset_facts['raw']['test']['stress_rmse_gpa']:.3f} GPa (RMSE)")
        return out

    def domain_from(self, train: Dataset) -> None:
        """Keep the training structures for the model's training domain (written by finish)."""
        self.train_structures = [f.atoms for f in train]

    def write_domain(self, out: Path, potential: Potential) -> None:
        from ..descriptors.domain import DOMAIN_FILE, TrainingDomain

        structures = getattr(self, "train_structures", None)
        if structures:
            TrainingDomain.from_structures(structures, _domain_radius(potential)).save(out / DOMAIN_FILE)

    def finish(self, trainer: Trainer, summary: dict, baselines: list[Potential]) -> FitResult:
        """The potential, and the output directory written."""
        summary["total_time_s"] = time.perf_counter() - self.t_start
        summary["peak_memory_mib"] = peak_rss_mib()
        summary["versions"] = versions("torch")
        model = trainer.model
        metadata = {"training": {**{k: summary[k] for k in ("best_epoch", "stop_reason", "n_parameters")},
                                 "refit_output": bool(summary.get("refit_output", {}).get("accepted"))},
                    "versions": summary["versions"]}
        if trainer.stress_offset is not None:   # what the model's stress means against its labels
            metadata["stress_offset"] = trainer.stress_offset.record()
        potential = model.to_potential(metadata=metadata)
        potential = with_baselines(potential, baselines)
        history = [r.to_dict() for r in trainer.history]
        out = self.out
        if out is not None:
            potential.save(out, config=self.plain)
            write_yaml(out / "config.yaml", self.plain)
            write_learning_curve(out / "learning_curve.csv", history)
            self.write_domain(out, potential)   # before the summary, which marks a finished run
            write_json(out / "summary.json", summary)
            with open(out / "training.log", "a", encoding="utf-8") as handle:
                handle.write("\n".join(self.lines) + "\n")
            self.say(f"model written to {out} (total {summary['total_time_s']:.1f} s, peak memory "
                     f"{summary['peak_memory_mib']:.0f} MiB)")
        return FitResult(potential, model, out, summary, history)


def _domain_radius(potential: Potential) -> float:
    """The radius of the training domain: the model's cutoff, or 6 Å for models without a
    finite one (electrostatics)."""
    inner = getattr(potential, "model", potential)   # a model with baselines: the model's own (D3 reaches 30 Å)
    cutoff = float(inner.cutoff)
    return cutoff if np.isfinite(cutoff) and cutoff > 0 else 6.0


def _stress_errors(evaluation) -> dict:
    """The stress entries of an evaluation's metrics (GPa)."""
    return {k: v for k, v in evaluation.errors.to_dict().items() if "stress" in k}


def _best_index(trainer: Trainer) -> int:
    for k, r in enumerate(trainer.history):
        if r.epoch == trainer.best_epoch:
            return k
    return len(trainer.history) - 1
