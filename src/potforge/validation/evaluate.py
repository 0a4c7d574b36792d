"""Errors of a model on labelled data: overall and per ``config_type``, plus a short report.

:func:`evaluate` predicts every frame, keeps the per-frame reference and predicted values
(what parity plots need) and the error metrics in report units (meV/atom, eV/Å, GPa);
:func:`write_report` turns an :class:`EvaluationResult` into ``parity.png``, an optional
``learning_curve.png``, ``metrics.json`` and ``report.md``.

Energy errors are per atom, ``(E_pred − E_ref) / n_atoms``, one value per frame; force errors
are per Cartesian component; stress errors per Voigt component. A label missing from every
frame of a group gives NaN metrics there (``null`` in JSON).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..core.errors import DataFormatError
from ..core.metrics import mae, max_abs
from ..core.units import GPa
from ..data.frame import Frame
from ..models.potential import Potential
from .metrics import ErrorMetrics, error_metrics
from .predict import PredictionSummary, predict_frames

__all__ = ["EvaluationMetrics", "EvaluationResult", "evaluate", "write_report", "NO_CONFIG_TYPE"]

#: The config_type under which frames without one are reported (as in ``Dataset.config_type_counts``).
NO_CONFIG_TYPE = "(none)"


def _json_float(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class EvaluationMetrics:
    """Errors of one group of frames in report units (NaN where no frame has the label).

    ``n_frames_with_energy``, ``n_force_components`` and ``n_frames_with_stress`` count the
    labels behind each figure, so per-group MSEs combine to the overall one with them as weights.
    """

    n_frames: int
    n_atoms: int
    n_frames_with_energy: int
    n_force_components: int
    n_frames_with_stress: int
    energy_rmse_mev_per_atom: float
    energy_mae_mev_per_atom: float
    energy_max_mev_per_atom: float
    force_rmse_ev_per_angstrom: float
    force_mae_ev_per_angstrom: float
    force_max_ev_per_angstrom: float
    stress_rmse_gpa: float
    stress_mae_gpa: float
    stress_max_gpa: float

    @classmethod
    def from_frames(cls, reference: Sequence[Frame], predicted: Sequence[Frame]) -> "EvaluationMetrics":
        """Metrics of corresponding frames: :func:`~potforge.validation.metrics.error_metrics`
        for energy, forces and stress RMSE, completed by the stress MAE and maximum it lacks."""
        base: ErrorMetrics = error_metrics(reference, predicted)
        stress = [p.stress - r.stress for r, p in zip(reference, predicted)
                  if r.stress is not None and p.stress is not None]
        ds = np.concatenate(stress) / GPa if stress else np.zeros(0)
        return cls(
            n_frames=base.n_frames, n_atoms=base.n_atoms,
            n_frames_with_energy=sum(1 for r, p in zip(reference, predicted)
                                     if r.energy is not None and p.energy is not None),
            n_force_components=sum(r.forces.size for r, p in zip(reference, predicted)
                                   if r.forces is not None and p.forces is not None),
            n_frames_with_stress=len(stress),
            energy_rmse_mev_per_atom=base.energy_rmse_mev_per_atom,
            energy_mae_mev_per_atom=base.energy_mae_mev_per_atom,
            energy_max_mev_per_atom=base.energy_max_mev_per_atom,
            force_rmse_ev_per_angstrom=base.force_rmse_ev_per_angstrom,
            force_mae_ev_per_angstrom=base.force_mae_ev_per_angstrom,
            force_max_ev_per_angstrom=base.force_max_ev_per_angstrom,
            stress_rmse_gpa=base.stress_rmse_gpa, stress_mae_gpa=mae(ds), stress_max_gpa=max_abs(ds))

    def to_dict(self) -> dict:
        """JSON-able dict; NaN becomes None (``null``), since JSON has no NaN."""
        out: dict = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = _json_float(value) if isinstance(value, float) else value
        return out


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Per-frame values and errors of a model on labelled frames.

    Attributes
    ----------
    config_types : tuple of str, one per frame (``"(none)"`` for frames without one)
    atoms_per_frame : (n_frames,) int
    reference_energy_per_atom, predicted_energy_per_atom : (n_frames,) float, eV/atom
        NaN where the frame has no reference energy.
    reference_forces, predicted_forces : (n_force_components,) float, eV/Å
        Force components of the frames with reference forces, flattened (atom-major, x y z).
    force_frame : (n_force_components,) int
        Frame index of each force component.
    reference_stress, predicted_stress : (n_stress_frames, 6) float, GPa
        Voigt order xx yy zz yz xz xy, ASE sign, for the frames with reference stress
        (and a predicted one: periodic cells).
    stress_frame : (n_stress_frames,) int
    metrics : EvaluationMetrics
        All frames.
    by_config_type : dict of str to EvaluationMetrics, sorted by name.
    summary : PredictionSummary
        Extrapolation counts gathered while predicting.
    """

    config_types: tuple[str, ...]
    atoms_per_frame: np.ndarray
    reference_energy_per_atom: np.ndarray
    predicted_energy_per_atom: np.ndarray
    reference_forces: np.ndarray
    predicted_forces: np.ndarray
    force_frame: np.ndarray
    reference_stress: np.ndarray
    predicted_stress: np.ndarray
    stress_frame: np.ndarray
    metrics: EvaluationMetrics
    by_config_type: dict[str, EvaluationMetrics] = field(default_factory=dict)
    summary: PredictionSummary = field(default_factory=PredictionSummary)

    @property
    def n_frames(self) -> int:
        return self.metrics.n_frames

    @property
    def n_atoms(self) -> int:
        return self.metrics.n_atoms

    def to_dict(self) -> dict:
        """One JSON-able object: the overall metrics at top level, ``by_config_type`` with the
        same keys per config_type, and ``n_extrapolations`` (None for models without the check).
        Missing labels give None; ``json.dumps(..., allow_nan=False)`` always works."""
        out = self.metrics.to_dict()
        out["n_extrapolations"] = self.summary.n_extrapolations if self.summary.has_extrapolation_check else None
        out["by_config_type"] = {name: m.to_dict() for name, m in self.by_config_type.items()}
        return out

    def table(self) -> str:
        """A compact text table: all frames, then each config_type (if there are several)."""
        head = (f"{'':<20} {'frames':>6} {'atoms':>7}  {'energy (meV/atom)':^23}  "
                f"{'forces (eV/Å)':^23}  {'stress (GPa)':^23}")
        sub = f"{'':<20} {'':>6} {'':>7}  " + "  ".join(
            [f"{'RMSE':>7} {'MAE':>7} {'max':>7}"] * 3)
        rows = [("all", self.metrics)]
        if len(self.by_config_type) > 1:
            rows += list(self.by_config_type.items())
        lines = [head, sub]
        for name, m in rows:
            label = name if len(name) <= 20 else name[:19] + "…"
            lines.append(
                f"{label:<20} {m.n_frames:>6} {m.n_atoms:>7}  "
                f"{_fmt(m.energy_rmse_mev_per_atom, 3)} {_fmt(m.energy_mae_mev_per_atom, 3)} "
                f"{_fmt(m.energy_max_mev_per_atom, 3)}  "
                f"{_fmt(m.force_rmse_ev_per_angstrom, 4)} {_fmt(m.force_mae_ev_per_angstrom, 4)} "
                f"{_fmt(m.force_max_ev_per_angstrom, 4)}  "
                f"{_fmt(m.stress_rmse_gpa, 3)} {_fmt(m.stress_mae_gpa, 3)} {_fmt(m.stress_max_gpa, 3)}")
        return "\n".join(lines)


def _fmt(value: float, digits: int, width: int = 7) -> str:
    return f"{value:>{width}.{digits}f}" if math.isfinite(value) else f"{'-':>{width}}"


def evaluate(potential: Potential, frames: Iterable[Frame], *, n_threads: int | None = None,
             progress: Callable[[list[Frame]], Iterable[Frame]] | None = None,
             source: str | None = None) -> EvaluationResult:
    """Predict labelled frames and compare with their labels.

    Parameters
    ----------
    potential : Potential
    frames : iterable of Frame
        Reference structures with energy, forces and/or stress labels (eV, eV/Å, eV/Å³).
    n_threads : int, optional
        Threads for the model (0: all cores); applied with ``potential.configure``, so it stays
        set on ``potential`` afterwards. None leaves the model's setting alone.
    progress : callable, optional
        Wraps the frame list (e.g. a progress bar).
    source : str, optional
        Name of the data file, for error messages.

    Raises
    ------
    DataFormatError
        No frames, or no frame with any of the labels energy, forces, stress.
    """
    reference = list(frames)
    if not reference:
        raise DataFormatError("holds no structures; nothing to evaluate", path=source)
    if not any(f.energy is not None or f.forces is not None or f.stress is not None for f in reference):
        raise DataFormatError("no frame has an energy, forces or stress label; evaluate needs "
                              "labelled data (use potforge predict for unlabelled structures)",
                              path=source)
    if n_threads is not None:
        potential.configure(n_threads=n_threads)
    summary = PredictionSummary()
    predicted = list(predict_frames(potential, progress(reference) if progress else reference,
                                    summary=summary, source=source))

    n = len(reference)
    config_types = tuple(f.config_type if f.config_type is not None else NO_CONFIG_TYPE for f in reference)
    atoms_per_frame = np.array([f.n_atoms for f in reference], dtype=np.int64)
    e_ref = np.full(n, np.nan)
    e_pred = np.full(n, np.nan)
    f_ref, f_pred, f_frame, s_ref, s_pred, s_frame = [], [], [], [], [], []
    for k, (r, p) in enumerate(zip(reference, predicted)):
        if r.energy is not None and p.energy is not None:
            e_ref[k] = r.energy / r.n_atoms
            e_pred[k] = p.energy / r.n_atoms
        if r.forces is not None and p.forces is not None:
            f_ref.append(r.forces.ravel())
            f_pred.append(p.forces.ravel())
            f_frame.append(np.full(r.forces.size, k, dtype=np.int64))
        if r.stress is not None and p.stress is not None:
            s_ref.append(r.stress / GPa)
            s_pred.append(p.stress / GPa)
            s_frame.append(k)

    groups: dict[str, list[int]] = {}
    for k, name in enumerate(config_types):
        groups.setdefault(name, []).append(k)
    by_config_type = {
        name: EvaluationMetrics.from_frames([reference[k] for k in idx], [predicted[k] for k in idx])
        for name, idx in sorted(groups.items())}

    return EvaluationResult(
        config_types=config_types, atoms_per_frame=atoms_per_frame,
        reference_energy_per_atom=e_ref, predicted_energy_per_atom=e_pred,
        reference_forces=np.concatenate(f_ref) if f_ref else np.zeros(0),
        predicted_forces=np.concatenate(f_pred) if f_pred else np.zeros(0),
        force_frame=np.concatenate(f_frame) if f_frame else np.zeros(0, dtype=np.int64),
        reference_stress=np.array(s_ref).reshape(-1, 6),
        predicted_stress=np.array(s_pred).reshape(-1, 6),
        stress_frame=np.array(s_frame, dtype=np.int64),
        metrics=EvaluationMetrics.from_frames(reference, predicted),
        by_config_type=by_config_type, summary=summary)


# -- report ---------------------------------------------------------------------------------------
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


def _markdown_table(result: EvaluationResult) -> list[str]:
    lines = ["| config_type | frames | atoms | " + " | ".join(c[0] for c in _TABLE_COLUMNS) + " |",
             "|---|---:|---:|" + "---:|" * len(_TABLE_COLUMNS)]
    rows = [("**all**", result.metrics)]
    if len(result.by_config_type) > 1:
        rows += [(name.replace("|", "\\|"), m) for name, m in result.by_config_type.items()]
    for name, m in rows:
        cells = [_fmt(getattr(m, key), digits, 0).strip() for _, key, digits in _TABLE_COLUMNS]
        lines.append(f"| {name} | {m.n_frames} | {m.n_atoms} | " + " | ".join(cells) + " |")
    return lines


def write_report(result: EvaluationResult, directory: str | os.PathLike, *, title: str,
                 model_path: str | os.PathLike, data_path: str | os.PathLike,
                 learning_curve_csv: str | os.PathLike | None = None) -> Path:
    """Write ``parity.png``, ``learning_curve.png`` (only with ``learning_curve_csv``),
    ``metrics.json`` (:meth:`EvaluationResult.to_dict`) and ``report.md`` into ``directory``
    (created if needed; other files there are left alone). Each file is written atomically.
    Returns the path of ``report.md``."""
    import json
    from datetime import datetime, timezone

    from .. import __version__
    from ..core.atomic import atomic_write
    from .plots import learning_curve_plot, parity_plots

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
             f"stress {m.n_frames_with_stress} frames)",
             f"- {result.summary.line()}",
             f"- potforge {__version__}, {when}", "",
             "## Errors", "",
             "Energy per atom, force and stress components (prediction − reference); "
             "\"-\" where the data have no such label.", "",
             *_markdown_table(result), "",
             "## Parity", "", "![parity plots](parity.png)", ""]
    if learning_curve_csv is not None:
        lines += ["## Learning curve", "", f"From `{os.fspath(learning_curve_csv)}`.", "",
                  "![learning curve](learning_curve.png)", ""]
    path = directory / "report.md"
    with atomic_write(path) as out:
        out.write("\n".join(lines))
    return path
