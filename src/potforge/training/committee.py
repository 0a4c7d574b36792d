"""``fit_committee``: N models of one config (seeds seed, seed+1, …) on the same data split,
saved as one committee model (:class:`potforge.models.committee.potential.Committee`) whose
spread is calibrated on the validation set.

Output directory::

    member-0/ … member-<N-1>/   each a complete training run (model, summary, checkpoint)
    model.json + arrays.npz     the committee (loads like any model: predict, evaluate, ASE)
    committee.json              calibration factors, members' and committee's test errors
    calibration.png             spread against |error| per quantity (reliability), calibrated

Resumable: a member whose run finished (``summary.json``) is read back; one killed mid-way
resumes from its checkpoint; the committee is assembled once all members exist.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_write
from ..core.errors import ConfigError
from ..core.metrics import mae, rmse
from ..models.committee.potential import Committee, calibration_factors
from ..models.registry import load_potential
from .config import Config
from .data import load_data
from .fit import fit
from .run_files import DEFINITION_NAME, check_output_dir
from .trainer import CHECKPOINT_NAME

__all__ = ["fit_committee"]


def _with_seed(config: Config, seed: int) -> Config:
    return dataclasses.replace(config, training=dataclasses.replace(config.training, seed=seed))


def fit_committee(config: Config, output_dir: str | os.PathLike, n: int, *, resume: bool = False,
                  log: Callable[[str], None] | None = None) -> Committee:
    """Train ``n`` ≥ 2 members (seeds ``training.seed + k``) and write the committee."""
    say = log or print
    if n < 2:
        raise ConfigError(f"--committee: expected at least 2 members, got {n}")
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory; name a new output directory")
    if not resume and (any(out.glob("member-*")) or (out / "model.json").exists()):
        raise ConfigError(f"{out}: holds a previous committee or model; use --resume to continue it or "
                          "choose a new output directory")
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(config)
    train, validation, test = data
    members = []
    for k in range(n):
        where = out / f"member-{k}"
        seed = int(config.training.seed) + k
        member_config = _with_seed(config, seed)
        if (where / DEFINITION_NAME).is_file():   # resume: the member's config must be this one
            check_output_dir(where, member_config.plain(), True)
        if (where / "summary.json").is_file() and (where / "model.json").is_file():
            say(f"committee member {k + 1}/{n} (seed {seed}): finished before, read from {where}")
            members.append(load_potential(where))
            continue
        again = resume and (where / CHECKPOINT_NAME).is_file()
        say(f"committee member {k + 1}/{n} (seed {seed}){': resumed' if again else ''}")
        result = fit(member_config, where, resume=again, data=data,
                     log=lambda line, k=k: say(f"[{k + 1}/{n}] {line}"))
        members.append(result.potential)
    committee = Committee(members)
    record: dict = {"members": n, "seeds": [int(config.training.seed) + k for k in range(n)]}
    cal = None
    if validation is not None and len(validation):
        # stress labels carrying a fitted offset (loss.stress_offset) are not what the members
        # predict: their spread is left uncalibrated
        offset = config.loss.stress_offset_mode != "none"
        cal = calibration_factors(committee, validation, stress=not offset)
        committee = Committee(members, calibration=cal["factors"])
        record["calibration"] = cal["factors"]
        say("spread calibrated on the validation set: " + ", ".join(f"{q} x{v:.3g}" for q, v in cal["factors"].items())
            + (" (stress not calibrated: loss.stress_offset)" if offset else ""))
    if test is not None and len(test):
        record["test"] = _test_errors(committee, members, test)
        t = record["test"]["committee"]
        say(f"committee test: energy {_text(t['energy_rmse_mev_per_atom'], 3)} meV/atom, forces "
            f"{_text(t['force_rmse_ev_per_angstrom'], 4)} eV/Å (RMSE); members' energy RMSE "
            + ", ".join(_text(m["energy_rmse_mev_per_atom"], 3) for m in record["test"]["members"]))
    committee.save(out, config=config.plain())
    domain = out / "member-0" / "domain.json"      # the members' training domain (same data)
    if domain.is_file():
        with atomic_write(out / "domain.json") as handle:
            handle.write(domain.read_text(encoding="utf-8"))
    with atomic_write(out / "committee.json") as handle:
        json.dump(record, handle, indent=1)
    if cal is not None and cal["pairs"]:
        _reliability_plot(cal["pairs"], cal["factors"], out / "calibration.png")
    say(f"committee of {n} written to {out}")
    return committee


def _test_errors(committee: Committee, members, test) -> dict:
    """Energy (per atom) and force-component RMSE/MAE of the committee and of each member."""

    def figures(model) -> dict:
        de, df = [], []
        for f in test:
            p = model.predict(f.atoms, stress=False)
            if f.energy is not None:
                de.append((p.energy - f.energy) / f.n_atoms)
            if f.forces is not None:
                df.append((p.forces - f.forces).ravel())
        de, df = np.asarray(de), np.concatenate(df) if df else np.zeros(0)
        values = {"energy_rmse_mev_per_atom": 1000 * rmse(de), "energy_mae_mev_per_atom": 1000 * mae(de),
                  "force_rmse_ev_per_angstrom": rmse(df), "force_mae_ev_per_angstrom": mae(df)}
        return {k: (v if np.isfinite(v) else None) for k, v in values.items()}   # JSON: null, not NaN

    return {"committee": figures(committee), "members": [figures(m) for m in members]}


def _text(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _reliability_plot(pairs: dict, factors: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [q for q in ("energy", "forces", "stress") if q in pairs and len(pairs[q])]
    units = {"energy": "eV/atom", "forces": "eV/Å", "stress": "eV/Å³"}
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6), squeeze=False)
    for ax, q in zip(axes[0], names):
        spread = pairs[q][:, 0] * factors.get(q, 1.0)
        error = pairs[q][:, 1]
        order = np.argsort(spread)
        bins = np.array_split(order, min(10, len(order)))
        x = [spread[b].mean() for b in bins if len(b)]
        y = [np.sqrt(np.mean(error[b] ** 2)) for b in bins if len(b)]
        ax.scatter(spread, error, s=3, alpha=0.3, c="grey")
        ax.plot(x, y, "o-", c="tab:blue", label="RMS error in spread bins")
        top = max(max(x), max(y))
        ax.plot([0, top], [0, top], c="k", lw=0.7, label="ideal")
        ax.set_xlabel(f"calibrated spread ({units[q]})")
        ax.set_ylabel(f"|error| ({units[q]})")
        ax.set_title(f"{q}: x{factors.get(q, 1.0):.3g}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(path, mode="wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
