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
   ``checkpoint.pt``                for ``resume``

``resume=True`` continues from ``checkpoint.pt`` to the same result as an uninterrupted run;
the model definition is read back from the directory, and the config must be the one the
run started with.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.atomic import atomic_write
from ..core.errors import ConfigError
from ..data.dataset import Dataset
from ..models.potential import Potential
from .config import Config, HDNNPConfig, optimizer_options
from .loss import Loss, LossWeights
from .models.base import TRAINABLE, TrainableModel
from .optimizers import OPTIMIZERS
from .records import LEARNING_CURVE_COLUMNS
from .trainer import CHECKPOINT_NAME, Trainer, TrainingOptions

__all__ = ["fit", "FitResult", "load_data", "build_model", "MODEL_BUILDERS", "register_model_builder",
           "LEARNING_CURVE_COLUMNS"]

_DEFINITION = "model_definition.json"


@dataclass
class FitResult:
    """What :func:`fit` returns: the potential and the figures of the run."""

    potential: Potential
    model: TrainableModel
    directory: Path | None
    summary: dict
    history: list[dict]


# -- data ----------------------------------------------------------------------------------------
def _read(config: Config, names: Sequence[str], role: str) -> Dataset:
    from ..data.io import detect_format

    d = config.data
    paths = [config.path(p) for p in names]
    for p in paths:
        if not p.exists():
            raise ConfigError(f"data.{role}: no such file {os.fspath(p)}")
        if detect_format(p, d.format) != "n2p2" and (d.length_unit.lower() not in ("angstrom", "a", "å")
                                                     or d.energy_unit.lower() != "ev"):
            raise ConfigError(f"data.length_unit/energy_unit: {os.fspath(p)} is read in Å and eV "
                              "(only n2p2 input.data files carry other units); convert it with "
                              "potforge data convert, or leave the units at angstrom/ev")
    return Dataset.read(paths, d.format, length_unit=d.length_unit, energy_unit=d.energy_unit)


def load_data(config: Config) -> tuple[Dataset, Dataset | None, Dataset | None]:
    """Training, validation and test sets as the config describes them (split by group)."""
    d = config.data
    data = _read(config, d.train, "train")
    validation = _read(config, d.validation, "validation") if d.validation is not None else None
    test = _read(config, d.test, "test") if d.test is not None else None
    fractions = {"validation": d.validation_fraction if validation is None else 0.0,
                 "test": d.test_fraction if test is None else 0.0}
    if any(fractions.values()):
        parts = data.split_by_group([1 - sum(fractions.values()), fractions["validation"],
                                     fractions["test"]], seed=d.split_seed)
        data = parts[0]
        if fractions["validation"]:
            validation = parts[1]
        if fractions["test"]:
            test = parts[2]
    if len(data) == 0:
        raise ConfigError("data: no training frames left after the split")
    if validation is not None and len(validation) == 0:
        validation = None
    if test is not None and len(test) == 0:
        test = None
    return data, validation, test


# -- models --------------------------------------------------------------------------------------
#: model kind -> builder(config, training frames, log) -> initialised TrainableModel
MODEL_BUILDERS: dict[str, Callable[[Config, Dataset, Callable[[str], None]], tuple[TrainableModel, dict]]] = {}


def register_model_builder(kind: str):
    def wrap(func):
        MODEL_BUILDERS[kind] = func
        return func

    return wrap


def build_model(config: Config, train: Dataset, log: Callable[[str], None]) -> tuple[TrainableModel, dict]:
    """An initialised trainable model and a dict of facts for the summary."""
    if config.model_kind not in MODEL_BUILDERS:
        raise ConfigError(f"model.kind: no builder for {config.model_kind!r}")
    return MODEL_BUILDERS[config.model_kind](config, train, log)


def _species(config_species: Sequence[str] | None, data: Dataset) -> tuple[str, ...]:
    from ase.data import atomic_numbers

    present = data.species
    if config_species is None:
        return tuple(sorted(present, key=lambda s: atomic_numbers[s]))
    unknown = [s for s in config_species if s not in atomic_numbers]
    if unknown:
        raise ConfigError(f"model.species: {unknown[0]!r} is not an element symbol")
    missing = [s for s in present if s not in config_species]
    if missing:
        raise ConfigError(f"model.species: the training data holds {', '.join(missing)}, which "
                          f"is not among {', '.join(config_species)}")
    return tuple(config_species)


def _symmetry_functions(config: Config, species: Sequence[str]):
    from ..descriptors.symmetry_functions import SymmetryFunctionSet, parse_n2p2_symfunction
    from ..core.units import length_factor

    sc = config.model.symmetry_functions
    L = length_factor(sc.length_unit, "model.symmetry_functions.length_unit")
    cutoff_type = sc.cutoff_type if sc.cutoff_type is not None else "poly2"
    cutoff_alpha = sc.cutoff_alpha if sc.cutoff_alpha is not None else 0.0
    lines: list[tuple[str, str]] = []
    if sc.n2p2 is not None:
        lines = [(f"model.symmetry_functions.n2p2[{k}]", text) for k, text in enumerate(sc.n2p2)]
    if sc.file is not None:
        path = config.path(sc.file)
        if not path.exists():
            raise ConfigError(f"model.symmetry_functions.file: no such file {os.fspath(path)}")
        file_cutoff = None
        for number, raw in enumerate(path.read_text().splitlines(), start=1):
            fields = raw.split("#", 1)[0].split()
            if fields and fields[0] == "symfunction_short":
                lines.append((f"{path}:{number}", " ".join(fields[1:])))
            elif fields and fields[0] == "cutoff_type":
                try:
                    file_cutoff = (int(fields[1]), float(fields[2]) if len(fields) > 2 else 0.0)
                except (IndexError, ValueError):
                    raise ConfigError(f"{path}:{number}: cutoff_type: expected '<type> [alpha]'") from None
        if not lines:
            raise ConfigError(f"{path}: no symfunction_short lines")
        if file_cutoff is not None:  # the file's cutoff unless the config names one
            cutoff_type = sc.cutoff_type if sc.cutoff_type is not None else file_cutoff[0]
            cutoff_alpha = sc.cutoff_alpha if sc.cutoff_alpha is not None else file_cutoff[1]
    if lines:
        funcs: dict[str, list] = {s: [] for s in species}
        for where, text in lines:
            fields = text.split()
            if fields and fields[0] == "symfunction_short":
                fields = fields[1:]
            try:
                sf = parse_n2p2_symfunction(fields, length_unit=L, cutoff_type=cutoff_type,
                                            cutoff_alpha=cutoff_alpha)
            except ValueError as err:
                raise ConfigError(f"{where}: {err}") from None
            if sf.element not in funcs:
                continue  # functions of elements outside the model (n2p2 does the same)
            funcs[sf.element].append(sf)
        try:
            return SymmetryFunctionSet(species, funcs)
        except ValueError as err:
            raise ConfigError(f"model.symmetry_functions: {err}") from None
    from ..descriptors.presets import preset

    p = sc.preset
    if p is None:
        from .config import PresetConfig

        p = PresetConfig()
    try:
        return preset(species, p.cutoff, n_radial=p.n_radial, n_angular=p.n_angular,
                      radial_mode=p.radial_mode, shift_spacing=p.shift_spacing,
                      angular_kind=p.angular_kind, zetas=p.zetas, lambdas=p.lambdas,
                      r_min=p.r_min, angular_r_min=p.angular_r_min,
                      cutoff_type=cutoff_type, cutoff_alpha=cutoff_alpha)
    except ConfigError as err:
        raise ConfigError(f"model.symmetry_functions.preset: {err}") from None


def _reference_energies(setting: Any, species: Sequence[str], train: Dataset) -> dict[str, float]:
    """model.element_energies: least squares on composition ("fit"), zero, or given (eV)."""
    if setting == "fit":
        return train.reference_energies(species)
    if setting == "zero":
        return {s: 0.0 for s in species}
    missing = [s for s in species if s not in setting]
    if missing:
        raise ConfigError(f"model.element_energies: missing {', '.join(missing)}")
    return {s: float(setting[s]) for s in species}


@register_model_builder("hdnnp")
def _build_hdnnp(config: Config, train: Dataset, log: Callable[[str], None]) -> tuple[TrainableModel, dict]:
    from ..descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
    from .cache import DescriptorCache
    from .models.hdnnp import TrainableHDNNP

    mc: HDNNPConfig = config.model
    species = _species(mc.species, train)
    sfs = _symmetry_functions(config, species)
    threads = _threads(config)
    facts: dict[str, Any] = {}
    empty = [s for s in species if sfs.n_functions(s) == 0]
    if empty:
        raise ConfigError(f"model.symmetry_functions: no functions for {', '.join(empty)}")
    log("symmetry functions: " + ", ".join(f"{s} {sfs.n_functions(s)}" for s in species)
        + f"; cutoff {sfs.cutoff:.3f} Å")
    values = DescriptorCache(list(train), sfs, derivatives=False, n_threads=threads).element_values()
    prune_cfg = mc.symmetry_functions.prune
    if prune_cfg.enabled:
        from ..descriptors.presets import prune

        sfs, report = prune(sfs, values, min_range=prune_cfg.min_range,
                            min_relative_range=prune_cfg.min_relative_range,
                            max_correlation=prune_cfg.max_correlation)
        facts["pruning"] = report.to_dict()
        log("pruning: " + report.format().strip().replace("\n", "\n  "))
        if any(sfs.n_functions(s) == 0 for s in species):
            raise ConfigError("model.symmetry_functions.prune: every function of an element was "
                              "pruned; loosen min_range / max_correlation or add functions")
        values = {s: v[:, list(report.kept[s])] for s, v in values.items()}
    stats = {}
    for s in species:
        v = values.get(s)
        if v is None or len(v) == 0:
            raise ConfigError(f"model.species: no {s} atoms in the training data; scaling "
                              "statistics need them")
        stats[s] = ScalingStatistics.from_values(v)
    scaling = SymmetryFunctionScaling(mc.scaling.mode, stats, mc.scaling.min, mc.scaling.max)
    # per-element reference energies and the output scale
    ref = _reference_energies(mc.element_energies, species, train)
    residuals = []
    for f in train:
        if f.energy is not None:
            syms = f.atoms.get_chemical_symbols()
            residuals.append((f.energy - sum(ref[s] for s in syms)) / f.n_atoms)
    scale = mc.output_scale
    if scale is None:
        spread = float(np.std(residuals)) if len(residuals) > 1 else 0.0
        scale = spread if spread > 1e-6 else 1.0
    facts["element_energies_ev"] = ref
    facts["output_scale_ev"] = scale
    unknown = [k for k in mc.networks if k not in species]
    if unknown:
        raise ConfigError(f"model.networks.{unknown[0]}: not a model species; species: {', '.join(species)}")
    hidden, acts = {}, {}
    for s in species:
        net = mc.networks.get(s, mc.network)
        hidden[s] = list(net.hidden)
        acts[s] = net.activation * len(net.hidden) + "l"
    normalize = {mc.networks.get(s, mc.network).normalize for s in species}
    if len(normalize) != 1:
        raise ConfigError("model.networks: normalize must be the same for all elements")
    try:
        model = TrainableHDNNP(sfs, scaling, hidden, acts, normalize=normalize.pop(), output_scale=scale,
                               dtype=mc.dtype, cache_dtype=mc.cache_dtype, n_threads=threads)
    except ValueError as err:
        raise ConfigError(f"model.network: {err}") from None
    generator = torch.Generator().manual_seed(int(config.training.seed))
    model.initialize(generator, mc.init)
    model.element_energies = torch.tensor([ref[s] for s in species], dtype=torch.float64)
    model.mean_energy = float(np.mean(residuals)) if residuals else 0.0
    log("network: " + ", ".join(f"{s} {model.n_functions[e]}-{'-'.join(map(str, hidden[s]))}-1 "
                                  f"({acts[s]})" for e, s in enumerate(species))
        + f"; {model.n_parameters} parameters; output scale {scale:.4g} eV")
    return model, facts


@register_model_builder("hdnnp-1g")
def _build_molecular(config: Config, train: Dataset, log: Callable[[str], None]) -> tuple[TrainableModel, dict]:
    from .models.molecular import TrainableMolecularNetwork

    mc = config.model
    symbols = mc.symbols or tuple(train[0].atoms.get_chemical_symbols())
    try:
        model = TrainableMolecularNetwork(symbols, mc.hidden, mc.activation * len(mc.hidden) + "l",
                                          coordinates=mc.coordinates, length=mc.length, dtype=mc.dtype)
        model.fit_scaling(model.prepare(list(train), _names(train, "training"), derivatives=False))
    except ValueError as err:
        raise ConfigError(f"model: {err}") from None
    model.initialize(torch.Generator().manual_seed(int(config.training.seed)), mc.init)
    log(f"network: {'-'.join(symbols)}, {model.n_parameters} parameters "
        f"({mc.coordinates} coordinates, hidden {list(mc.hidden)})")
    return model, {"symbols": list(symbols)}


@register_model_builder("pair")
@register_model_builder("eam")
@register_model_builder("tersoff")
@register_model_builder("sw")
def _build_classical(config: Config, train: Dataset, log: Callable[[str], None]) -> tuple[TrainableModel, dict]:
    from ..models.classical.spec import potential_from_spec
    from .models.classical import TrainableClassical

    mc = config.model
    species = _species(mc.named_species(), train)
    potential = potential_from_spec(config.model_kind, mc.spec(), species)
    model = TrainableClassical(potential)
    ref = _reference_energies(mc.element_energies, species, train)
    model.element_energies = torch.tensor([ref[s] for s in species], dtype=torch.float64)
    log(f"{config.model_kind}: {', '.join(species)}; {model.n_parameters} free of "
        f"{len(potential.parameters)} parameters; cutoff {potential.cutoff:.3f} Å")
    return model, {"element_energies_ev": ref, "free_parameters": list(model.free)}


def _threads(config: Config) -> int:
    n = config.training.threads
    return n if n > 0 else (os.cpu_count() or 1)


# -- the run -------------------------------------------------------------------------------------
def _names(data: Dataset, role: str) -> list[str]:
    return [f"{role} frame {k}" + (f" ({f.config_type})" if f.config_type else "") for k, f in enumerate(data)]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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
    t_start = time.perf_counter()
    out = Path(output_dir) if output_dir is not None else None
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        (log or print)(line)

    torch.set_num_threads(_threads(config))
    plain = config.plain()
    if out is not None:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{out}: exists and is not a directory; name a new output directory")
        out.mkdir(parents=True, exist_ok=True)
        _check_output_dir(out, plain, resume)
    elif resume:
        raise ConfigError("resume needs an output directory")

    train, validation, test = data if data is not None else load_data(config)
    say(f"data: {len(train)} training, {len(validation) if validation else 0} validation, "
        f"{len(test) if test else 0} test frames ({train.n_atoms} training atoms)")
    if resume:
        model, facts = _load_definition(out)
        say(f"model definition read from {out / _DEFINITION}")
    else:
        model, facts = build_model(config, train, say)
        if out is not None:
            _save_definition(out, model, facts, plain)
    for role, part in (("validation", validation), ("test", test)):  # before any training
        extra = sorted(set(part.species) - set(model.species)) if part is not None else []
        if extra:
            raise ConfigError(f"data.{role}: holds {', '.join(extra)}, which the model (species "
                              f"{', '.join(model.species)}, from the training data) does not know")

    lc = config.loss
    weights = LossWeights.from_noise(lc.energy_sigma, lc.force_sigma, lc.stress_sigma)
    loss = Loss(weights, l2=config.training.l2, config_type_weights=lc.config_type_weights,
                stress_components=lc.stress_components)
    derivatives = loss.needs_forces or loss.needs_stress

    estimate = _cache_estimate(model, train, validation, config)
    if estimate is not None:
        say(f"descriptor cache: {estimate[0]:,} neighbour pairs, about {estimate[1] / 2**20:,.0f} MiB "
            f"of derivatives ({config.model.cache_dtype if hasattr(config.model, 'cache_dtype') else 'float64'})")
    t0 = time.perf_counter()
    train_data = model.prepare(list(train), _names(train, "training"), derivatives=derivatives,
                               progress=_progress(say, "training descriptors"))
    val_data = model.prepare(list(validation), _names(validation, "validation"), derivatives=True,
                             progress=_progress(say, "validation descriptors")) \
        if validation is not None else None
    t_cache = time.perf_counter() - t0
    say(f"descriptors computed in {t_cache:.1f} s")

    kind, options = optimizer_options(config.training.optimizer, "training.optimizer")
    optimizer = OPTIMIZERS[kind](**options)
    tc = config.training
    trainer = Trainer(model, loss, optimizer, train_data, val_data,
                      options=TrainingOptions(epochs=tc.epochs, max_time=tc.max_time, patience=tc.patience,
                                              seed=tc.seed),
                      checkpoint=(out / CHECKPOINT_NAME) if (out is not None and tc.checkpoint) else None,
                      log=say)
    if resume and not (out / CHECKPOINT_NAME).exists():
        if not tc.checkpoint:
            raise ConfigError(f"{out}: nothing to resume (training.checkpoint is false)")
        say("no checkpoint yet (killed before the first epoch ended): starting from epoch 0")
    trainer.run(resume=resume)
    say(f"stopped: {trainer.stop_reason}; best epoch {trainer.best_epoch} "
        f"(training loop {trainer.elapsed_wall:.1f} s)")

    summary: dict[str, Any] = {
        "model_kind": config.model_kind,
        "n_parameters": model.n_parameters,
        "frames": {"train": len(train), "validation": len(validation) if validation else 0,
                   "test": len(test) if test else 0},
        "best_epoch": trainer.best_epoch,
        "epochs_run": trainer.epoch,
        "stop_reason": trainer.stop_reason,
        "descriptor_time_s": t_cache,
        "training_loop_time_s": trainer.elapsed_wall,
        "cache_estimate_bytes": estimate[1] if estimate else None,
        **facts,
    }
    summary["train"] = trainer.history[_best_index(trainer)].train
    summary["validation"] = trainer.history[_best_index(trainer)].validation
    if test is not None:
        test_data = model.prepare(list(test), _names(test, "test"), derivatives=True)
        ev = trainer.evaluate(test_data)
        summary["test"] = ev.errors.to_dict()
        summary["test_loss"] = ev.loss
        if score is not None:
            trainer.loss = score
            summary["test_loss"] = trainer.evaluate(test_data).loss
            trainer.loss = loss
        summary["test_by_config_type"] = {k: v.to_dict() for k, v in ev.by_config_type.items()}
        e = ev.errors
        say(f"test: energy {e.energy_rmse:.3f} meV/atom, forces {e.force_rmse:.4f} eV/Å, "
            f"stress {e.stress_rmse:.3f} GPa (RMSE, {e.n_frames} frames)")
    summary["total_time_s"] = time.perf_counter() - t_start
    summary["peak_memory_mib"] = _peak_rss_mib()
    summary["versions"] = _versions()

    potential = model.to_potential(metadata={"training": {k: summary[k] for k in
                                                          ("best_epoch", "stop_reason", "n_parameters")},
                                             "versions": summary["versions"]})
    history = [r.to_dict() for r in trainer.history]
    if out is not None:
        potential.save(out, config=plain)
        _write_yaml(out / "config.yaml", plain)
        _write_learning_curve(out / "learning_curve.csv", history)
        with atomic_write(out / "summary.json") as handle:
            json.dump(_jsonable(summary), handle, indent=1, allow_nan=False)
            handle.write("\n")
        with open(out / "training.log", "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        say(f"model written to {out} (total {summary['total_time_s']:.1f} s, peak memory "
            f"{summary['peak_memory_mib']:.0f} MiB)")
    return FitResult(potential, model, out, summary, history)


def _best_index(trainer: Trainer) -> int:
    for k, r in enumerate(trainer.history):
        if r.epoch == trainer.best_epoch:
            return k
    return len(trainer.history) - 1


def _progress(say: Callable[[str], None], what: str) -> Callable[[int, int], None]:
    state = {"last": -1.0}

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - state["last"] > 5.0:
            state["last"] = now
            say(f"{what}: {done}/{total} frames")

    return report


def _cache_estimate(model: TrainableModel, train: Dataset, validation: Dataset | None,
                    config: Config) -> tuple[int, int] | None:
    sfs = getattr(model, "sfs", None)
    if sfs is None:
        return None
    from .cache import cache_size

    frames = list(train) + (list(validation) if validation is not None else [])
    return cache_size(frames, sfs, dtype=getattr(model, "cache_dtype", "float64"), n_threads=_threads(config))


def _check_output_dir(out: Path, plain: dict, resume: bool) -> None:
    saved = out / "config.yaml"
    definition = out / _DEFINITION
    if resume:
        if not definition.exists():
            raise ConfigError(f"{out}: nothing to resume (no {_DEFINITION})")
        previous = json.loads(definition.read_text())["config"]
        if _jsonable(previous) != _jsonable(plain):
            diff = _first_difference(previous, plain)
            raise ConfigError(f"{out}: the config differs from the one this run started with "
                              f"({diff}); resume with the same config or train into a new directory")
        return
    if (out / CHECKPOINT_NAME).exists() or saved.exists():
        raise ConfigError(f"{out}: holds a previous training run; use --resume to continue it or "
                          "choose a new output directory")
    # a definition without a checkpoint: a run killed before its first epoch ended; start anew


def _first_difference(a: Any, b: Any, key: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else k)
    return f"{key}: {a!r} then, {b!r} now"


def _save_definition(out: Path, model: TrainableModel, facts: dict, plain: dict) -> None:
    """The built model (definition and initial state), so a resume does not rebuild it."""
    state = model.state()
    payload = {"config": _jsonable(plain), "description": model.description(), "facts": _jsonable(facts),
               "initial_theta": state["theta"].tolist(),
               "element_energies": state["element_energies"].tolist(),
               "mean_energy": state["mean_energy"]}
    with atomic_write(out / _DEFINITION) as handle:
        json.dump(payload, handle)


def _load_definition(out: Path) -> tuple[TrainableModel, dict]:
    payload = json.loads((out / _DEFINITION).read_text())
    kind = payload["description"]["kind"]
    model = TRAINABLE[kind].from_description(payload["description"])
    model.load_state({"theta": torch.tensor(payload["initial_theta"], dtype=torch.float64),
                      "element_energies": torch.tensor(payload["element_energies"], dtype=torch.float64),
                      "mean_energy": payload["mean_energy"]})
    return model, payload["facts"]


def _write_learning_curve(path: Path, history: list[dict]) -> None:
    def cell(v):
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))

    with atomic_write(path) as handle:
        handle.write(",".join(LEARNING_CURVE_COLUMNS) + "\n")
        for r in history:
            tr, va = r["train"], r["validation"] or {}
            row = [str(r["epoch"]), cell(r["time"]),
                   cell(tr["energy_rmse_mev_per_atom"]), cell(tr["force_rmse_ev_per_angstrom"]),
                   cell(tr["stress_rmse_gpa"]), cell(va.get("energy_rmse_mev_per_atom")),
                   cell(va.get("force_rmse_ev_per_angstrom")), cell(va.get("stress_rmse_gpa")),
                   cell(r["train_loss"]), cell(r["validation_loss"]), "1" if r["best"] else "0"]
            handle.write(",".join(row) + "\n")


def _write_yaml(path: Path, data: dict) -> None:
    import yaml

    with atomic_write(path) as handle:
        handle.write("# resolved potforge training config (all defaults filled in)\n")
        yaml.safe_dump(data, handle, sort_keys=False, allow_unicode=True)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (np.floating, np.integer)):
        return _jsonable(obj.item())
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.tolist())
    return obj


def _versions() -> dict:
    import ase
    import numpy

    from .. import __version__

    return {"potforge": __version__, "git_sha": _git_sha(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__, "ase": ase.__version__}


def _git_sha() -> str | None:
    from ..core.provenance import git_sha

    return git_sha()


