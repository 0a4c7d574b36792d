"""Choosing hyperparameters honestly: leave-group-out cross-validation and learning curves.

Cross-validation (:func:`cross_validate`): the training data (test files and any test
fraction stay untouched) is dealt into K folds of whole groups. For every point of a grid over
config keys and every fold, a model is trained on the other folds — with its own validation
split, drawn from them, for early stopping — and scored on the held-out fold, which took no
part in training or in choosing the epoch. The chosen point minimises the mean held-out loss
(χ² per frame with the base config's noise levels — the same yardstick for every point, also
when the grid varies loss keys — without the L2 term). ``data.*`` keys cannot be varied.

Learning curves (:func:`learning_curve`): models trained on growing fractions of the training
groups, scored on the same test set; the curve shows whether more data would help.

Both write JSON and CSV tables into their output directory; each trained model sits in its own
subdirectory (so a killed run can be inspected; reruns start those models afresh).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_write
from ..core.config import apply_overrides
from ..core.errors import ConfigError, NonFiniteError
from .config import Config, training_config
from .data import load_data
from .fit import fit
from .loss import Loss
from .run_files import write_json

__all__ = ["parse_grid", "cross_validate", "CVResult", "learning_curve", "LearningCurveResult"]


def parse_grid(assignments: Sequence[str]) -> dict[str, list[Any]]:
    """``["training.l2=1e-6,1e-5", "model.network.hidden=[8,8];[16,16]"]`` → {key: values}.

    Values are separated by commas, or by semicolons when a value itself holds commas; each is
    parsed as YAML.
    """
    import yaml

    grid: dict[str, list[Any]] = {}
    for text in assignments:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError(f"--grid {text!r}: expected KEY=V1,V2,..., e.g. training.l2=1e-6,1e-5")
        parts = values.split(";") if ";" in values else values.split(",")
        parsed = []
        for part in parts:
            try:
                v = yaml.safe_load(part.strip())
            except yaml.YAMLError:
                raise ConfigError(f"--grid {key}: {part!r} is not a valid YAML value") from None
            if isinstance(v, str):
                try:
                    v = float(v)
                except ValueError:
                    pass
            parsed.append(v)
        grid[key] = parsed
    return grid


def _with(config: Config, assignments: Mapping[str, Any]) -> Config:
    raw = config.plain()
    for key, value in assignments.items():
        raw = apply_overrides(raw, [f"{key}={json.dumps(value)}"])
    return training_config(raw, base_dir=config.base_dir)


@dataclass
class CVResult:
    key_names: list[str]
    rows: list[dict]      # per grid point: values, mean/std of held-out errors and loss
    folds: list[dict]     # per grid point and fold
    chosen: dict

    def to_dict(self) -> dict:
        return {"keys": self.key_names, "points": self.rows, "folds": self.folds, "chosen": self.chosen}


def cross_validate(config: Config, n_folds: int, grid: Mapping[str, Sequence[Any]],
                   output_dir: str | os.PathLike, *, seed: int = 0,
                   log: Callable[[str], None] | None = None) -> CVResult:
    """Leave-group-out cross-validation over a grid of config values (see module docstring)."""
    say = log or print
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, validation, _ = load_data(config)
    pool = train + validation if validation is not None else train
    try:
        folds = pool.group_folds(n_folds, seed=seed)
    except ValueError as err:
        raise ConfigError(f"--folds: {err}") from None
    keys = list(grid)
    for key in keys:
        if key.split(".")[0] == "data":
            raise ConfigError(f"--grid {key}: cross-validation fixes the data (its folds); grid over "
                              "model, loss or training keys")
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))] or [{}]
    for point in points:  # validate every point before any training
        _with(config, point)
    vf = config.data.validation_fraction
    # one yardstick for every grid point, also when the grid varies loss keys (no L2 term)
    score = Loss.from_config(config.loss)
    say(f"cross-validation: {len(pool)} frames, {n_folds} folds by group, {len(points)} grid point(s)")
    rows, fold_rows = [], []
    for p, point in enumerate(points):
        cfg = _with(config, point)
        label = ", ".join(f"{k}={v}" for k, v in point.items()) or "config as given"
        scores = []
        for k, (fold_train, held) in enumerate(folds):
            if vf > 0:
                fit_train, fit_val = fold_train.split_by_group([1 - vf, vf], seed=config.data.split_seed)
            else:
                fit_train, fit_val = fold_train, None
            row = {"point": p, "fold": k, **{f"value:{kk}": v for kk, v in point.items()},
                   "held_out_frames": len(held), "held_out_atoms": held.n_atoms}
            try:
                s = fit(cfg, _fresh(out / f"point{p}" / f"fold{k}"), log=lambda line: None,
                        data=(fit_train, fit_val if fit_val is not None and len(fit_val) else None, held),
                        score=score).summary
            except NonFiniteError as err:  # e.g. a learning rate too large: this point loses
                say(f"[{label}] fold {k + 1}/{n_folds}: diverged ({err})")
                s = {"test_loss": math.inf, "test": dict.fromkeys(_METRICS, math.nan), "best_epoch": None}
                row["diverged"] = str(err)
            row.update({"held_out_loss": s["test_loss"],
                        **{f"held_out_{m}": s["test"].get(m, math.nan) for m in _METRICS},
                        "best_epoch": s["best_epoch"]})
            fold_rows.append(row)
            scores.append(row)
            say(f"[{label}] fold {k + 1}/{n_folds}: held-out energy {_fmt(row['held_out_energy_rmse_mev_per_atom'])} "
                f"meV/atom, forces {_fmt(row['held_out_force_rmse_ev_per_angstrom'], 4)} eV/Å"
                + _charge_text(row["held_out_charge_rmse_me"]))
        summary = {"point": p, "values": point}
        for m in ("loss", *_METRICS):
            values = np.array([r[f"held_out_{m}"] for r in scores], dtype=float)
            summary[f"{m}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
            summary[f"{m}_std"] = float(np.nanstd(values)) if np.isfinite(values).any() else math.nan
        failed = sum("diverged" in r for r in scores)
        if failed:   # never the chosen point (JSON: null, CSV: empty)
            summary.update(loss_mean=math.inf, diverged_folds=failed)
        rows.append(summary)
        say(f"[{label}] mean held-out loss {summary['loss_mean']:.4g}; energy "
            f"{_fmt(summary['energy_rmse_mev_per_atom_mean'])} ± {_fmt(summary['energy_rmse_mev_per_atom_std'])} "
            f"meV/atom, forces {_fmt(summary['force_rmse_ev_per_angstrom_mean'], 4)} ± "
            f"{_fmt(summary['force_rmse_ev_per_angstrom_std'], 4)} eV/Å"
            + _charge_text(summary["charge_rmse_me_mean"], summary["charge_rmse_me_std"]))
    best = min(rows, key=lambda r: (r["loss_mean"] if math.isfinite(r["loss_mean"]) else math.inf, r["point"]))
    diverged = [r["diverged"] for r in fold_rows if "diverged" in r]
    if diverged and not math.isfinite(best["loss_mean"]):
        raise NonFiniteError(f"cross-validation: training diverged at every grid point; the first: {diverged[0]}")
    if not any(math.isfinite(r["held_out_charge_rmse_me"]) for r in fold_rows):
        _drop_charges(rows, fold_rows)  # not a charge model: its files as they always were
    result = CVResult(keys, rows, fold_rows, best)
    write_json(out / "cv.json", result.to_dict())
    _write_csv(out / "cv.csv", [{**{f"value:{k}": r["values"].get(k) for k in keys},
                                 **{k: v for k, v in r.items() if k not in ("values",)}} for r in rows])
    say("chosen: " + (", ".join(f"{k}={v}" for k, v in best["values"].items()) or "config as given")
        + f" (mean held-out loss {best['loss_mean']:.4g})")
    return result


#: held-out metrics; charge_rmse_me (me) only in the files of a charge model (3G/4G)
_METRICS = ("energy_rmse_mev_per_atom", "force_rmse_ev_per_angstrom", "stress_rmse_gpa", "charge_rmse_me")


def _charge_text(mean: float, std: float | None = None) -> str:
    """``, charges 12.3 ± 1.0 me`` for a charge model, nothing where there are no charges."""
    if mean is None or not math.isfinite(mean):
        return ""
    return f", charges {_fmt(mean, 2)}" + (f" ± {_fmt(std, 2)}" if std is not None else "") + " me"


def _drop_charges(rows: list[dict], fold_rows: list[dict]) -> None:
    for r in fold_rows:
        r.pop("held_out_charge_rmse_me", None)
    for r in rows:
        r.pop("charge_rmse_me_mean", None)
        r.pop("charge_rmse_me_std", None)


@dataclass
class LearningCurveResult:
    rows: list[dict]

    def to_dict(self) -> dict:
        return {"points": self.rows}


def learning_curve(config: Config, fractions: Sequence[float], output_dir: str | os.PathLike, *,
                   seed: int = 0, log: Callable[[str], None] | None = None) -> LearningCurveResult:
    """Train on growing fractions of the training groups; score every model on the test set."""
    say = log or print
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise ConfigError(f"--fractions: expected values in (0, 1], got {list(fractions)}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, validation, test = load_data(config)
    if test is None:
        raise ConfigError("data: a learning curve needs a test set (data.test or data.test_fraction)")
    rows = []
    for k, fraction in enumerate(sorted(fractions)):
        if fraction < 1:
            subset = train.split_by_group([fraction, 1 - fraction], seed=seed)[0]
        else:
            subset = train
        if len(subset) == 0:
            raise ConfigError(f"--fractions: {fraction} of {len(train)} frames leaves none")
        try:
            result = fit(config, _fresh(out / f"fraction{k}"), log=lambda line: None,
                         data=(subset, validation, test))
        except NonFiniteError as err:
            raise NonFiniteError(f"learning curve, {len(subset)} training frames ({fraction:g}): "
                                 f"{err.reason}") from None
        s = result.summary
        row = {"fraction": fraction, "n_train_frames": len(subset),
               "train_energy_rmse": s["train"]["energy_rmse_mev_per_atom"],
               "train_force_rmse": s["train"]["force_rmse_ev_per_angstrom"],
               "test_energy_rmse": s["test"]["energy_rmse_mev_per_atom"],
               "test_force_rmse": s["test"]["force_rmse_ev_per_angstrom"],
               "test_stress_rmse": s["test"]["stress_rmse_gpa"],
               "time_s": s["total_time_s"]}
        if math.isfinite(s["test"].get("charge_rmse_me", math.nan)):  # a charge model (me)
            row.update(train_charge_rmse=s["train"].get("charge_rmse_me", math.nan),
                       test_charge_rmse=s["test"]["charge_rmse_me"])
        rows.append(row)
        say(f"{len(subset)} training frames ({fraction:g}): test energy {_fmt(row['test_energy_rmse'])} "
            f"meV/atom, forces {_fmt(row['test_force_rmse'], 4)} eV/Å"
            f"{_charge_text(row.get('test_charge_rmse', math.nan))} ({row['time_s']:.0f} s)")
    result = LearningCurveResult(rows)
    write_json(out / "learning_curve.json", result.to_dict())
    _write_csv(out / "learning_curve.csv", rows)
    return result


def _fresh(directory: Path) -> Path:
    """An empty directory for one model (a previous, possibly killed, attempt is discarded)."""
    import shutil

    if directory.exists():
        shutil.rmtree(directory)
    return directory


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _write_csv(path: Path, rows: list[dict]) -> None:
    import csv

    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    with atomic_write(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None or (isinstance(v, float) and not math.isfinite(v)) else
                                 json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
