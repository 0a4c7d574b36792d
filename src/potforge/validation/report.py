"""The evaluation report: ``parity.png``, an optional ``learning_curve.png``, ``metrics.json``
and ``report.md`` for an :class:`~potforge.validation.evaluate.EvaluationResult`."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

from ..core.atomic import atomic_write
from ..core.errors import DataFormatError
from ..core.metrics import format_metric
from ..core.provenance import __version__
from .evaluate import EvaluationResult
from .plots import learning_curve_plot, parity_plots

__all__ = ["write_report"]


_TABLE_COLUMNS = (
    ("energy RMSE (meV/atom)", "energy_rmse_mev_per_atom", 3),
    ("energy MAE (meV/atom)", "energy_mae_mev_per_atom", 3),
    ("energy max (meV/atom)", "energy_max_mev_per_atom", 3),
    ("force RMSE (eV/Å)", "force_rmse_ev_per_angstrom", 4),
    ("force MAE (eV/Å)", "force_mae_ev_per_angstrom", 4),
    ("force max (eV/Å)", "force_max_ev_per_angstrom", 4),
    ("stress RMSE (GPa)", "stress_rmse_gpa", 3),
    ("stress MAE (GPa)", "stress_mae_gpa", 3),
    ("stress max (GPa)", "stress_max_gpa", 3),
)
_CHARGE_COLUMNS = (
    ("charge RMSE (me)", "charge_rmse_me", 2),
    ("charge MAE (me)", "charge_mae_me", 2),
    ("charge max (me)", "charge_max_me", 2),
)


def _markdown_table(result: EvaluationResult, group: str = "config_type") -> list[str]:
    """Errors of all frames, then per config_type (or per total charge: ``group="total charge"``)."""
    columns = _TABLE_COLUMNS + (_CHARGE_COLUMNS if result.has_charges else ())
    lines = [f"| {group} | frames | atoms | " + " | ".join(c[0] for c in columns) + " |",
             "|---|---:|---:|" + "---:|" * len(columns)]
    rows = [("**all**", result.metrics)]
    groups = result.by_config_type if group == "config_type" else result.by_total_charge
    if len(groups) > 1:
        rows += [(name.replace("|", "\\|"), m) for name, m in groups.items()]
    for name, m in rows:
        cells = [format_metric(getattr(m, key), digits) for _, key, digits in columns]
        lines.append(f"| {name} | {m.n_frames} | {m.n_atoms} | " + " | ".join(cells) + " |")
    return lines


def write_report(result: EvaluationResult, directory: str | os.PathLike, *, title: str,
                 model_path: str | os.PathLike, data_path: str | os.PathLike,
                 learning_curve_csv: str | os.PathLike | None = None) -> Path:
    """Write ``parity.png``, ``learning_curve.png`` (only with ``learning_curve_csv``),
    ``metrics.json`` (:meth:`EvaluationResult.to_dict`) and ``report.md`` into ``directory``
    (created if needed; other files there are left alone). Each file is written atomically.
    Returns the path of ``report.md``."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DataFormatError("exists and is not a directory; expected a report directory",
                              path=os.fspath(directory))
    directory.mkdir(parents=True, exist_ok=True)
    parity_plots(result, directory / "parity.png")
    if learning_curve_csv is not None:
        learning_curve_plot(learning_curve_csv, directory / "learning_curve.png")
    with atomic_write(directory / "metrics.json") as out:
        json.dump(result.to_dict(), out, indent=1, allow_nan=False)
        out.write("\n")

    m = result.metrics
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {title}", "",
             f"- model: `{os.fspath(model_path)}`",
             f"- data: `{os.fspath(data_path)}` ({m.n_frames} frames, {m.n_atoms} atoms; labels: "
             f"energy {m.n_frames_with_energy} frames, forces {m.n_force_components // 3} atoms, "
             f"stress {m.n_frames_with_stress} frames, charges {m.n_charges} atoms)",
             f"- {result.summary.line()}",
             f"- potforge {__version__}, {when}", "",
             "## Errors", "",
             "Energy per atom, force and stress components (prediction − reference); "
             "\"-\" where the data have no such label.", "",
             *_markdown_table(result), ""]
    if len(result.by_total_charge) > 1:
        lines += ["## Errors by total charge", "",
                  "The frames grouped by their total charge (label, else the sum of the reference "
                  "charges, else 0): a local (2G) model sees the same geometry whatever the charge.", "",
                  *_markdown_table(result, "total charge"), ""]
    lines += ["## Parity", "", "![parity plots](parity.png)", ""]
    if learning_curve_csv is not None:
        lines += ["## Learning curve", "", f"From `{os.fspath(learning_curve_csv)}`.", "",
                  "![learning curve](learning_curve.png)", ""]
    path = directory / "report.md"
    with atomic_write(path) as out:
        out.write("\n".join(lines))
    return path


def _cell(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"

