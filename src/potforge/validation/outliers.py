"""Error-vs-error outlier detection: reference labels that every model gets wrong the same way.

Two (or more) independently trained models err differently where *they* are poor and alike
where the *label* is wrong (Behler's test for wrong reference data: the error of one model
plotted against the other's; points on the diagonal far from the origin are suspect labels,
points off it are the models' own errors). For every frame and model:

- energy: e_m = (E_m − E_ref) / n_atoms, measured from the model's median error over the frames
  of the same config_type and scaled by their robust spread (s_m = 1.4826 · MAD, floored so that
  a perfect fit does not divide by zero): z_m = (e_m − median) / s_m; with fewer than 5 labelled
  frames there is no spread and no energy flag;
- forces, per atom: the error vector d_m,a = F_m,a − F_ref,a, its norm over (f0 + |F_ref,a|)
  (f0 the median force norm), in units from the 99th percentile of that ratio in the frame's
  config_type (heavy-tailed errors); and per frame the least-squares factor between the labels
  and each model's forces (a wrong unit or factor), in robust units over the frames.

A frame's energy is **suspect** when every model's |z| exceeds ``threshold`` with the same sign
and the models agree with each other much better than with the label: the largest difference
between two models' errors is below ``agreement`` × the smallest error. An atom's force is
suspect on the same two tests with vectors (|d_m − d_m'| against min |d_m|). A frame is
**flagged** when its energy or any of its atoms is suspect.

:func:`find_outliers` returns an :class:`OutlierResult` (per-frame errors, flags, the scales);
:func:`write_outlier_report` writes ``outliers.csv`` and ``outliers.png`` (energy and largest
force error of the first model against the second, flagged frames marked).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_write
from ..core.errors import DataFormatError
from ..core.metrics import robust_sigma
from ..data.frame import Frame
from ..models.potential import Potential
from .predict import predict_frames

__all__ = ["OutlierResult", "find_outliers", "write_outlier_report"]

#: fewer labelled frames than this define no robust spread of energy errors
_MIN_FRAMES = 5


@dataclass
class OutlierResult:
    """Per frame (rows) and model (columns): energy errors (eV/atom), largest per-atom force
    error norms (eV/Å); ``energy_suspect`` per frame, ``force_suspect_atoms`` per frame (atom
    indices), ``flagged`` (frame indices, 0-based, ascending)."""

    models: list[str]
    energy_errors: np.ndarray            # (n_frames, n_models), eV/atom; NaN where no label
    force_errors: np.ndarray             # (n_frames, n_models), eV/Å, largest norm per frame
    energy_suspect: np.ndarray           # (n_frames,) bool
    force_suspect_atoms: list[list[int]]
    config_types: list[str | None]
    energy_scales: np.ndarray            # (n_models,) eV/atom
    force_scales: np.ndarray             # (n_models,) eV/Å
    threshold: float
    agreement: float
    flagged: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        frames = []
        for i in range(len(self.config_types)):
            frames.append({
                "index": i, "config_type": self.config_types[i],
                "energy_error_mev_per_atom": [_num(1000 * v) for v in self.energy_errors[i]],
                "max_force_error_ev_per_angstrom": [_num(v) for v in self.force_errors[i]],
                "energy_suspect": bool(self.energy_suspect[i]),
                "force_suspect_atoms": self.force_suspect_atoms[i],
                "flagged": i in self.flagged})
        return {"models": self.models, "n_frames": len(frames), "flagged": self.flagged,
                "threshold": self.threshold, "agreement": self.agreement,
                "energy_scale_mev_per_atom": [_num(1000 * v) for v in self.energy_scales],
                "force_scale_ev_per_angstrom": [_num(v) for v in self.force_scales], "frames": frames}


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _scale(values: np.ndarray, floor: float) -> float:
    values = values[np.isfinite(values)]
    return max(robust_sigma(values), floor) if values.size else floor


def find_outliers(models: Sequence[Potential], frames: Sequence[Frame], *, names: Sequence[str] | None = None,
                  threshold: float = 5.0, agreement: float = 0.5, source: str | None = None,
                  progress=None) -> OutlierResult:
    """Predict ``frames`` with every model and flag the labels all of them contradict alike
    (module docstring). ``threshold``: robust z above which an error counts (default 5);
    ``agreement``: how much closer the models must be to each other than to the label."""
    if len(models) < 2:
        raise ValueError("error-vs-error needs at least two models")
    if not threshold > 0 or not 0 < agreement <= 1:
        raise ValueError(f"threshold must be > 0 and agreement in (0, 1], got {threshold}, {agreement}")
    frames = list(frames)
    if not frames:
        raise DataFormatError("no frames to check", path=source)
    if not any(f.energy is not None or f.forces is not None for f in frames):
        raise DataFormatError("no frame has an energy or force label to check", path=source)
    n, m = len(frames), len(models)
    energy = np.full((n, m), np.nan)
    vectors: list[list[np.ndarray | None]] = [[None] * m for _ in range(n)]
    for j, model in enumerate(models):
        predicted = predict_frames(model, frames, source=source)
        for i, (ref, out) in enumerate(zip(frames, predicted)):
            if ref.energy is not None:
                energy[i, j] = (out.energy - ref.energy) / ref.n_atoms
            if ref.forces is not None:
                vectors[i][j] = out.forces - ref.forces
            if progress:
                progress(j * n + i + 1, n * m)
    groups = _groups(frames)
    e_scale = np.array([_scale(energy[:, j], 1e-6) for j in range(m)])
    # errors are measured from each model's median error of the frame's kind (a shift shared by
    # all labels of a kind is a reference-energy matter, not a few wrong labels), in that kind's
    # robust spread; fewer than _MIN_FRAMES labelled energies define no spread: no energy flags
    centred = np.stack([energy[:, j] - _group_median(energy[:, j], groups) for j in range(m)], axis=1)
    e_unit = np.stack([_group_scale(energy[:, j], groups, 1e-6) for j in range(m)], axis=1)
    energy_suspect = _agreeing_outliers(centred / e_unit, centred, threshold, agreement)
    if np.isfinite(energy[:, 0]).sum() < _MIN_FRAMES:
        energy_suspect[:] = False
    force_atoms, force_max, f_scale = _force_outliers(frames, vectors, groups, threshold, agreement)
    scale_suspect = _force_scale_outliers(frames, vectors, groups, threshold, agreement)
    for i in np.flatnonzero(scale_suspect):
        force_atoms[i] = list(range(frames[i].n_atoms))   # every force of the frame: a wrong scale
    flagged = [i for i in range(n) if energy_suspect[i] or force_atoms[i]]
    return OutlierResult(list(names or [f"model {k + 1}" for k in range(m)]), energy, force_max,
                         energy_suspect, force_atoms, [f.config_type for f in frames], e_scale, f_scale,
                         float(threshold), float(agreement), flagged)


def _groups(frames) -> np.ndarray:
    """Group index of every frame: its config_type (errors differ by kind of structure)."""
    names = {ct: k for k, ct in enumerate(dict.fromkeys(f.config_type for f in frames))}
    return np.array([names[f.config_type] for f in frames])


def _group_median(values: np.ndarray, groups: np.ndarray, *, minimum: int = 5) -> np.ndarray:
    """Per element, the median of its group (of all values for groups smaller than ``minimum``)."""
    finite = np.isfinite(values)
    overall = float(np.median(values[finite])) if finite.any() else 0.0
    out = np.full(values.shape, overall)
    for g in np.unique(groups):
        mask = groups == g
        if finite[mask].sum() >= minimum:
            out[mask] = float(np.median(values[mask & finite]))
    return out


def _group_scale(values: np.ndarray, groups: np.ndarray, floor: float, *, minimum: int = 5) -> np.ndarray:
    """Per element of ``values``, the robust spread of its group (groups with fewer than
    ``minimum`` finite values take the spread of all values)."""
    overall = _scale(values, floor)
    out = np.full(values.shape, overall)
    for g in np.unique(groups):
        mask = groups == g
        if np.isfinite(values[mask]).sum() >= minimum:
            out[mask] = _scale(values[mask], floor)
    return out


def _agreeing_outliers(z: np.ndarray, values: np.ndarray, threshold: float, agreement: float) -> np.ndarray:
    """Rows where every model's |z| exceeds threshold with one sign and the models' values differ
    by less than agreement x the smallest |value|."""
    with np.errstate(invalid="ignore"):
        same_sign = np.all(np.sign(z) == np.sign(z[:, :1]), axis=1)
        large = np.all(np.abs(z) > threshold, axis=1)
        close = values.max(1) - values.min(1) < agreement * np.abs(values).min(1)
    return large & same_sign & close


def _force_outliers(frames, vectors, groups: np.ndarray, threshold: float, agreement: float):
    """Atoms whose force label every model misses alike. Force errors grow with the force and
    differ by kind of structure (hot MD frames err more than strained crystals), so an atom's
    error norm is measured against (f0 + |F_ref|), f0 the median reference force norm, and the
    robust size of that ratio over the atoms of the frame's config_type (per model) is the unit
    of z."""
    n, m = len(frames), len(vectors[0]) if vectors else 0
    labelled = [i for i in range(n) if vectors[i][0] is not None]
    force_max = np.full((n, m), np.nan)
    atoms: list[list[int]] = [[] for _ in range(n)]
    if not labelled:
        return atoms, force_max, np.full(m, np.nan)
    ref_norm = {i: np.linalg.norm(frames[i].forces, axis=1) for i in labelled}
    f0 = max(float(np.median(np.concatenate(list(ref_norm.values())))), 1e-3)
    ratio = {i: [np.linalg.norm(vectors[i][j], axis=1) / (f0 + ref_norm[i]) for j in range(m)] for i in labelled}
    # unit: sigma of a 3-d Gaussian error whose 99th percentile of the norm (3.368 sigma) is that
    # of the ratios (machine-learned force errors have heavy tails: a median-based unit would
    # call their ordinary large errors outliers); a config_type's unit is at least a quarter of
    # the overall one, so that near-zero errors in quiet frames (strained crystals) do not make
    # tiny absolute errors look large
    def unit_of(members: list[int]) -> np.ndarray:
        return np.array([max(float(np.percentile(np.concatenate([ratio[i][j] for i in members]), 99)) / 3.368,
                             1e-9) for j in range(m)])

    overall = unit_of(labelled)
    units = {g: np.maximum(unit_of(members), 0.25 * overall) for g in np.unique(groups)
             if len(members := [i for i in labelled if groups[i] == g]) >= 3}
    for i in labelled:
        unit = units.get(groups[i], overall)
        d = np.stack([vectors[i][j] for j in range(m)])          # (m, atoms, 3)
        size = np.linalg.norm(d, axis=2)                            # (m, atoms)
        force_max[i] = size.max(1)
        z = size / (f0 + ref_norm[i])[None, :] / unit[:, None]
        big = np.all(z > threshold, axis=0)
        gap = np.max(np.linalg.norm(d[:, None] - d[None, :], axis=3), axis=(0, 1))
        atoms[i] = [int(a) for a in np.flatnonzero(big & (gap < agreement * size.min(0)))]
    return atoms, force_max, overall * f0


def _force_scale_outliers(frames, vectors, groups: np.ndarray, threshold: float, agreement: float) -> np.ndarray:
    """Frames whose force labels are a scaled copy of what every model predicts (a wrong unit
    or a wrong factor in one run): the least-squares factor b = Σ F_ref·F_m / Σ F_m·F_m per
    frame and model, in robust z over the frames with forces large enough to define it."""
    n, m = len(frames), len(vectors[0]) if vectors else 0
    factors = np.full((n, m), np.nan)
    for i in range(n):
        if vectors[i][0] is None:
            continue
        ref = frames[i].forces
        if np.sqrt(np.mean(ref ** 2)) < 0.05:   # eV/Å: strained crystals, relaxed defects
            continue
        for j in range(m):
            pred = ref + vectors[i][j]
            factors[i, j] = float(np.sum(ref * pred) / np.sum(pred * pred)) - 1.0
    if m == 0 or np.isfinite(factors).sum(0).min() < 5:
        return np.zeros(n, bool)
    centred = factors - np.nanmedian(factors, 0)
    scale = np.stack([_group_scale(centred[:, j], groups, 1e-3) for j in range(m)], axis=1)
    z = centred / scale
    return _agreeing_outliers(z, factors, threshold, agreement)


def write_outlier_report(result: OutlierResult, directory: str | os.PathLike) -> list[Path]:
    """``outliers.csv`` (one row per frame) and ``outliers.png`` in ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "outliers.csv"
    with atomic_write(table) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        m = len(result.models)
        writer.writerow(["index", "config_type", *[f"energy_error_mev_per_atom[{k}]" for k in range(m)],
                         *[f"max_force_error_ev_per_angstrom[{k}]" for k in range(m)], "energy_suspect",
                         "force_suspect_atoms", "flagged"])
        for i, ct in enumerate(result.config_types):
            writer.writerow([i, ct or "", *[f"{1000 * v:.6g}" for v in result.energy_errors[i]],
                             *[f"{v:.6g}" for v in result.force_errors[i]], int(result.energy_suspect[i]),
                             " ".join(map(str, result.force_suspect_atoms[i])), int(i in result.flagged)])
    plot = out / "outliers.png"
    _plot(result, plot)
    return [table, plot]


def _plot(result: OutlierResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flagged = np.zeros(len(result.config_types), bool)
    flagged[result.flagged] = True
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, values, unit, name in ((axes[0], 1000 * result.energy_errors, "meV/atom", "energy error"),
                                   (axes[1], result.force_errors, "eV/Å", "largest force error")):
        a, b = values[:, 0], values[:, 1]
        ax.scatter(a[~flagged], b[~flagged], s=12, c="tab:blue", label="consistent")
        ax.scatter(a[flagged], b[flagged], s=40, c="tab:red", marker="x", label="flagged: suspect label")
        finite = np.isfinite(a) & np.isfinite(b)
        if finite.any():
            lo, hi = min(a[finite].min(), b[finite].min()), max(a[finite].max(), b[finite].max())
            ax.plot([lo, hi], [lo, hi], lw=0.6, c="grey")
        ax.set_xlabel(f"{name}, {result.models[0]} ({unit})")
        ax.set_ylabel(f"{name}, {result.models[1]} ({unit})")
        for i in np.flatnonzero(flagged):
            ax.annotate(str(i), (a[i], b[i]), fontsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"error vs error: {len(result.flagged)} of {len(flagged)} frames flagged", fontsize=10)
    fig.tight_layout()
    with atomic_write(path, mode="wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
