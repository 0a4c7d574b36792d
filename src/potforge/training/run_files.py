"""The files of a training run's output directory, and what resume reads back.

``model.json`` + ``arrays.npz`` (the potential, saved by it), ``config.yaml`` (resolved),
``learning_curve.csv``, ``summary.json``, ``training.log``, ``checkpoint.pt`` (the trainer's)
and ``model_definition.json``: the built model (its description and initial state) written
before training starts, so that a resumed run does not rebuild it from the data.
"""

from __future__ import annotations

import json
import math
import resource
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_write
from ..core.errors import ConfigError
from ..core.lazy import torch
from ..models.registry import family
from ..models.trainable import TrainableModel
from .records import learning_curve_columns
from .trainer import CHECKPOINT_NAME

__all__ = ["DEFINITION_NAME", "check_output_dir", "save_definition", "load_definition",
           "write_learning_curve", "write_yaml", "write_json", "jsonable", "peak_rss_mib",
           "progress_reporter"]

DEFINITION_NAME = "model_definition.json"


def check_output_dir(out: Path, plain: dict, resume: bool) -> None:
    """A fresh run needs a directory without a previous run; a resumed one the same config."""
    saved = out / "config.yaml"
    definition = out / DEFINITION_NAME
    if resume:
        if not definition.exists():
            raise ConfigError(f"{out}: nothing to resume (no {DEFINITION_NAME})")
        previous = json.loads(definition.read_text())["config"]
        if jsonable(previous) != jsonable(plain):
            diff = _first_difference(previous, plain)
            raise ConfigError(f"{out}: the config differs from the one this run started with "
                              f"({diff}); resume with the same config or train into a new directory")
        return
    if (out / CHECKPOINT_NAME).exists() or saved.exists() or (out / "committee.json").exists():
        raise ConfigError(f"{out}: holds a previous training run; use --resume to continue it or "
                          "choose a new output directory")
    # a definition without a checkpoint: a run killed before its first epoch ended; start anew


def _first_difference(a: Any, b: Any, key: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else k)
    return f"{key}: {a!r} then, {b!r} now"


def save_definition(out: Path, model: TrainableModel, facts: dict, plain: dict) -> None:
    """The built model (definition and initial state), so a resume does not rebuild it."""
    state = model.state()
    payload = {"config": jsonable(plain), "description": model.description(), "facts": jsonable(facts),
               "initial_theta": state["theta"].tolist(),
               "element_energies": state["element_energies"].tolist(),
               "mean_energy": state["mean_energy"]}
    with atomic_write(out / DEFINITION_NAME) as handle:
        json.dump(payload, handle)


def load_definition(out: Path) -> tuple[TrainableModel, dict]:
    """The model :func:`save_definition` wrote, rebuilt by its family's trainable form."""
    payload = json.loads((out / DEFINITION_NAME).read_text())
    description = payload["description"]
    kind = description["kind"]
    if kind == "classical":  # definitions written before each kind had a home of its own
        kind = description["potential"]["kind"]
    model = family(kind, key=f"{out / DEFINITION_NAME}: kind", trainable=True).rebuild(description)
    model.load_state({"theta": torch.tensor(payload["initial_theta"], dtype=torch.float64),
                      "element_energies": torch.tensor(payload["element_energies"], dtype=torch.float64),
                      "mean_energy": payload["mean_energy"]})
    return model, payload["facts"]


def write_learning_curve(path: Path, history: list[dict]) -> None:
    """``learning_curve.csv``: one row per epoch (:func:`~.records.learning_curve_columns`;
    the charge RMSE columns where the records hold charges, i.e. of a charge model)."""
    def cell(v):
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))

    charges = any("charge_rmse_me" in r["train"] for r in history)
    with atomic_write(path) as handle:
        handle.write(",".join(learning_curve_columns(charges)) + "\n")
        for r in history:
            tr, va = r["train"], r["validation"] or {}
            row = [str(r["epoch"]), cell(r["time"]),
                   cell(tr["energy_rmse_mev_per_atom"]), cell(tr["force_rmse_ev_per_angstrom"]),
                   cell(tr["stress_rmse_gpa"]), cell(va.get("energy_rmse_mev_per_atom")),
                   cell(va.get("force_rmse_ev_per_angstrom")), cell(va.get("stress_rmse_gpa"))]
            if charges:
                row += [cell(tr.get("charge_rmse_me")), cell(va.get("charge_rmse_me"))]
            row += [cell(r["train_loss"]), cell(r["validation_loss"]), "1" if r["best"] else "0"]
            handle.write(",".join(row) + "\n")


def write_yaml(path: Path, data: dict) -> None:
    import yaml

    with atomic_write(path) as handle:
        handle.write("# resolved potforge training config (all defaults filled in)\n")
        yaml.safe_dump(data, handle, sort_keys=False, allow_unicode=True)


def write_json(path: Path, data: Any) -> None:
    """JSON of :func:`jsonable` data, atomically (NaN and inf become null)."""
    with atomic_write(path) as handle:
        json.dump(jsonable(data), handle, indent=1, allow_nan=False)
        handle.write("\n")


def jsonable(obj: Any) -> Any:
    """Plain JSON data: mappings, lists, numbers (non-finite ones as None), NumPy and torch
    values converted."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (np.floating, np.integer)):
        return jsonable(obj.item())
    if isinstance(obj, torch.Tensor):
        return jsonable(obj.tolist())
    return obj


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def progress_reporter(say: Callable[[str], None], what: str) -> Callable[[int, int], None]:
    """A progress callback that says ``what: done/total frames`` at most every 5 s (and at the end)."""
    state = {"last": -1.0}

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - state["last"] > 5.0:
            state["last"] = now
            say(f"{what}: {done}/{total} frames")

    return report
