"""PNG plots of errors and training: parity plots, learning curves, cross-validation grids,
learning curves over training-set size.

matplotlib is imported inside the functions (the CLI starts fast when nothing is plotted),
and figures are drawn on the Agg canvas directly (no pyplot, so no global figure state and
no GUI backend). Every PNG is written atomically. Units: meV/atom, eV/Å, GPa.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import DataFormatError
from ..training.records import LEARNING_CURVE_COLUMNS, learning_curve_columns  # plain data, no torch

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import EvaluationResult

__all__ = ["parity_plots", "learning_curve_plot", "read_learning_curve", "cv_plot",
           "subset_curve_plot", "LEARNING_CURVE_COLUMNS"]

_QUANTITIES = (  # (label, unit, learning-curve column stem)
    ("energy", "meV/atom", "energy_rmse_mev_per_atom"),
    ("force", "eV/Å", "force_rmse_ev_per_angstrom"),
    ("stress", "GPa", "stress_rmse_gpa"),
    ("charge", "me", "charge_rmse_me"),  # charge models (3G/4G)
)


# -- helpers ------------------------------------------------------------------------------------
def _figure(n_panels: int, width: float = 4.3, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, n_panels, k + 1) for k in range(n_panels)]


def _save(fig, path: str | os.PathLike) -> Path:
    from ..core.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return path


def _empty(path: str | os.PathLike, message: str) -> Path:
    fig, (ax,) = _figure(1)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return _save(fig, path)


def _number(value: Any) -> float:
    """A float from a CSV cell or a row value; empty, None or 'nan' → NaN."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "nan", "NaN", "None", "null")):
        return math.nan
    return float(value)


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]


def _fmt_rmse(value: float, unit: str, digits: int) -> str:
    return f"RMSE {value:.{digits}f} {unit}" if math.isfinite(value) else "RMSE n/a"


# -- parity ---------------------------------------------------------------------------------------
def parity_plots(result: "EvaluationResult", path_png: str | os.PathLike) -> Path:
    """Predicted against reference energy per atom (eV/atom), force components (eV/Å) and
    stress components (GPa) and atomic charges (e, charge models), one panel each (panels without data are left out), points coloured
    by config_type, the RMSE in each title. Returns the path."""
    names = list(result.by_config_type) or sorted(set(result.config_types))
    frame_type = np.array([names.index(c) for c in result.config_types], dtype=np.int64)
    m = result.metrics
    energy_ok = np.isfinite(result.reference_energy_per_atom) & np.isfinite(result.predicted_energy_per_atom)
    panels = []
    if energy_ok.any():
        panels.append(("energy per atom", "eV/atom", result.reference_energy_per_atom[energy_ok],
                       result.predicted_energy_per_atom[energy_ok], frame_type[energy_ok],
                       _fmt_rmse(m.energy_rmse_mev_per_atom, "meV/atom", 3)))
    if result.reference_forces.size:
        panels.append(("force components", "eV/Å", result.reference_forces, result.predicted_forces,
                       frame_type[result.force_frame], _fmt_rmse(m.force_rmse_ev_per_angstrom, "eV/Å", 4)))
    if result.reference_stress.size:
        panels.append(("stress components", "GPa", result.reference_stress.ravel(),
                       result.predicted_stress.ravel(), np.repeat(frame_type[result.stress_frame], 6),
                       _fmt_rmse(m.stress_rmse_gpa, "GPa", 3)))
    if result.reference_charges.size:  # charge models on data with reference charges
        panels.append(("atomic charges", "e", result.reference_charges, result.predicted_charges,
                       frame_type[result.charge_frame], _fmt_rmse(m.charge_rmse_me, "me", 2)))
    if not panels:
        return _empty(path_png, "no labelled data")

    from matplotlib.ticker import MaxNLocator

    colors = _colors(len(names))
    fig, axes = _figure(len(panels))
    for ax, (what, unit, ref, pred, types, rmse_text) in zip(axes, panels):
        lo = float(min(ref.min(), pred.min()))
        hi = float(max(ref.max(), pred.max()))
        pad = 0.04 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.01
        lo, hi = lo - pad, hi + pad
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, zorder=0)
        size = 12 if ref.size < 2000 else 3
        for k, name in enumerate(names):
            sel = types == k
            if sel.any():
                ax.scatter(ref[sel], pred[sel], s=size, color=colors[k], alpha=0.7, lw=0,
                           label=name, rasterized=True)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        # absolute energies per atom (e.g. −694.4 eV/atom) with meV spreads: plain tick labels,
        # not matplotlib's offset text, which collides with the axis label
        ax.ticklabel_format(useOffset=False)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_xlabel(f"reference {what} ({unit})")
        ax.set_ylabel(f"predicted {what} ({unit})")
        ax.set_title(f"{what.split()[0]}: {rmse_text}", fontsize=10)
    if len(names) > 1 or names[0] != "(none)":
        axes[0].legend(title="config_type", fontsize=8, title_fontsize=8, markerscale=1.5,
                       loc="upper left")
    return _save(fig, path_png)


# -- learning curve -----------------------------------------------------------------------------
def read_learning_curve(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a learning-curve CSV (columns :data:`LEARNING_CURVE_COLUMNS`) as floats, NaN
    for empty cells. Needs ``epoch`` and at least one RMSE column."""
    import csv

    from ..core.text import read_text

    text = read_text(path, "a learning-curve CSV", DataFormatError)
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    _check_columns(header, path)
    rows = []
    for row in reader:
        try:
            rows.append({k: _number(v) for k, v in row.items() if k is not None})
        except ValueError as err:
            raise DataFormatError(f"not a number ({err}); expected numbers or empty cells",
                                  path=os.fspath(path), line=reader.line_num) from None
    return rows


def _check_columns(header: Sequence[str], path: object = None) -> None:
    rmse_columns = [c for c in learning_curve_columns(charges=True) if "_rmse_" in c]
    if "epoch" not in header or not any(c in header for c in rmse_columns):
        raise DataFormatError(f"columns {', '.join(header) or '(none)'} lack 'epoch' or an RMSE column; "
                              f"expected {','.join(LEARNING_CURVE_COLUMNS)}",
                              path=None if path is None else os.fspath(path))


def learning_curve_plot(csv_path_or_rows: str | os.PathLike | Iterable[Mapping[str, Any]],
                        path_png: str | os.PathLike) -> Path:
    """Training and validation RMSE of energy and forces (and stress, where present) against
    epoch, log y, the best epoch (last row with ``best`` = 1) marked.

    ``csv_path_or_rows`` is a learning-curve CSV (:data:`LEARNING_CURVE_COLUMNS`; validation
    cells may be empty) or its rows as mappings. Returns the path."""
    if isinstance(csv_path_or_rows, (str, os.PathLike)):
        rows = read_learning_curve(csv_path_or_rows)
    else:
        raw = list(csv_path_or_rows)
        _check_columns(sorted({k for r in raw for k in r}))
        try:
            rows = [{k: _number(v) for k, v in r.items()} for r in raw]
        except (TypeError, ValueError) as err:
            raise DataFormatError(f"learning-curve row value is not a number ({err})") from None
    if not rows:
        return _empty(path_png, "empty learning curve")

    epoch = np.array([r.get("epoch", math.nan) for r in rows])

    def column(name: str) -> np.ndarray:
        return np.array([r.get(name, math.nan) for r in rows])

    best_rows = [k for k, r in enumerate(rows) if r.get("best", 0) == 1]
    best = best_rows[-1] if best_rows else None
    panels = []
    for label, unit, stem in _QUANTITIES:
        train, valid = column("train_" + stem), column("validation_" + stem)
        if np.isfinite(train).any() or np.isfinite(valid).any():
            panels.append((label, unit, train, valid))
    if not panels:
        return _empty(path_png, "no RMSE values in the learning curve")

    fig, axes = _figure(len(panels))
    for ax, (label, unit, train, valid) in zip(axes, panels):
        for values, name, style, color in ((train, "train", "-", "C0"), (valid, "validation", "--", "C1")):
            ok = np.isfinite(values)
            if ok.any():
                ax.plot(epoch[ok], values[ok], style, color=color, label=name, marker="." if ok.sum() < 40 else None)
                if best is not None and ok[best]:
                    ax.plot(epoch[best], values[best], "o", color=color, mfc="none", ms=9)
        if best is not None:
            ax.axvline(epoch[best], color="0.4", ls=":", lw=1, label=f"best (epoch {epoch[best]:g})")
        finite = np.concatenate([train[np.isfinite(train)], valid[np.isfinite(valid)]])
        if finite.size and (finite > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{label} RMSE ({unit})")
        ax.set_title(f"{label} RMSE", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path_png)


# -- cross-validation grid ----------------------------------------------------------------------
#: (label, unit, key stem) of the cross-validation and training-set-size plots; charge only
#: where the rows hold it (charge models)
_SERIES = (("energy", "meV/atom", "energy_rmse"), ("force", "eV/Å", "force_rmse"), ("charge", "me", "charge_rmse"))

def cv_plot(rows: Sequence[Mapping[str, Any]], key: str, path_png: str | os.PathLike, *,
            chosen: float | str | None = None) -> Path:
    """Mean ± standard deviation over folds of the validation energy and force RMSE against one
    hyperparameter ``key``.

    Rows are ``{"value", "energy_rmse_mean", "energy_rmse_std", "force_rmse_mean",
    "force_rmse_std"}`` (meV/atom and eV/Å; charge models also ``charge_rmse_mean``/``_std``,
    me; None/NaN where a quantity was not fitted). Numeric
    values give a numeric x axis (logarithmic if all positive and spanning more than a decade),
    strings a categorical one. The chosen value — ``chosen``, else the row with a true
    ``"chosen"`` entry — is marked. Returns the path."""
    if not rows:
        return _empty(path_png, f"no cross-validation results for {key}")
    values = [r["value"] for r in rows]
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                  for v in values)
    if numeric:
        x = np.array(values, dtype=float)
        order = np.argsort(x)
    else:
        x = np.arange(len(values), dtype=float)
        order = np.arange(len(values))
    positive = numeric and (x > 0).all()
    log_x = bool(positive and x.max() / x.min() > 10.0)
    if chosen is None:
        marked = [k for k, r in enumerate(rows) if r.get("chosen")]
        chosen_index = marked[0] if marked else None
    else:
        matches = [k for k, v in enumerate(values) if v == chosen or str(v) == str(chosen)]
        chosen_index = matches[0] if matches else None

    panels = []
    for label, unit, stem in _SERIES:
        mean = np.array([_number(r.get(stem + "_mean")) for r in rows])
        std = np.array([_number(r.get(stem + "_std")) for r in rows])
        if np.isfinite(mean).any():
            panels.append((label, unit, mean, np.where(np.isfinite(std), std, 0.0)))
    if not panels:
        return _empty(path_png, f"no RMSE values in the cross-validation results for {key}")

    fig, axes = _figure(len(panels))
    for ax, (label, unit, mean, std) in zip(axes, panels):
        xs, ms, ss = x[order], mean[order], std[order]
        ok = np.isfinite(ms)
        ax.errorbar(xs[ok], ms[ok], yerr=ss[ok], marker="o", capsize=3, color="C0",
                    label="validation, mean ± std over folds")
        if chosen_index is not None and np.isfinite(mean[chosen_index]):
            ax.plot(x[chosen_index], mean[chosen_index], "*", ms=16, color="C3",
                    label=f"chosen: {values[chosen_index]}", zorder=5)
        if log_x:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(x, [str(v) for v in values], rotation=30 if len(values) > 4 else 0)
        ax.set_xlabel(key)
        ax.set_ylabel(f"{label} RMSE ({unit})")
        ax.set_title(f"{label} RMSE vs {key}", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path_png)


# -- learning curve over training-set size ------------------------------------------------------
def subset_curve_plot(rows: Sequence[Mapping[str, Any]], path_png: str | os.PathLike) -> Path:
    """Train and test RMSE of energy (meV/atom) and forces (eV/Å) against the number of
    training frames, log-log. Rows are ``{"n_train_frames", "train_energy_rmse",
    "test_energy_rmse", "train_force_rmse", "test_force_rmse"}`` (charge models also
    ``train_charge_rmse``, ``test_charge_rmse``, me; None/NaN where missing).
    Returns the path."""
    if not rows:
        return _empty(path_png, "no learning-curve results")
    n = np.array([_number(r.get("n_train_frames")) for r in rows])
    order = np.argsort(n)
    panels = []
    for label, unit, stem in _SERIES:
        train = np.array([_number(r.get("train_" + stem)) for r in rows])[order]
        test = np.array([_number(r.get("test_" + stem)) for r in rows])[order]
        if np.isfinite(train).any() or np.isfinite(test).any():
            panels.append((label, unit, train, test))
    if not panels:
        return _empty(path_png, "no RMSE values in the learning-curve results")

    xs = n[order]
    fig, axes = _figure(len(panels))
    for ax, (label, unit, train, test) in zip(axes, panels):
        for values, name, style in ((train, "train", "o-"), (test, "test", "s--")):
            ok = np.isfinite(values) & np.isfinite(xs)
            if ok.any():
                ax.plot(xs[ok], values[ok], style, label=name)
        if (xs[np.isfinite(xs)] > 0).all():
            ax.set_xscale("log")
        finite = np.concatenate([train[np.isfinite(train)], test[np.isfinite(test)]])
        if finite.size and (finite > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("training frames")
        ax.set_ylabel(f"{label} RMSE ({unit})")
        ax.set_title(f"{label} RMSE vs training-set size", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path_png)
