"""Errors of a model on labelled data: overall and per ``config_type``, plus a short report.

:func:`evaluate` predicts every frame, keeps the per-frame reference and predicted values
(what parity plots need) and the error metrics in report units (meV/atom, eV/Å, GPa);
:func:`potforge.validation.report.write_report` turns an :class:`EvaluationResult` into
``parity.png``, an optional ``learning_curve.png``, ``metrics.json`` and ``report.md``.

Energy errors are per atom, ``(E_pred − E_ref) / n_atoms``, one value per frame; force errors
are per Cartesian component; stress errors per Voigt component; charge errors (models that
predict charges, data with reference charges) per atom, in me. A label missing from every
frame of a group gives NaN metrics there (``null`` in JSON).

Besides ``config_type``, errors are split by the frames' total charge (the ``total_charge``
label, else the sum of the reference charges, else 0: :func:`potforge.data.labels.frame_total_charge`),
the groups a charge model must tell apart and a local (2G) model cannot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import DataFormatError, NonFiniteError
from ..core.metrics import ErrorMetrics, format_metric
from ..core.units import GPa
from ..data.frame import Frame
from ..data.labels import frame_total_charge
from ..models.potential import Potential
from .predict import PredictionSummary, predict_frames

__all__ = ["EvaluationResult", "evaluate", "compare_frames", "NO_CONFIG_TYPE", "total_charge_name"]

#: The config_type under which frames without one are reported (as in ``Dataset.config_type_counts``).
NO_CONFIG_TYPE = "(none)"


def compare_frames(reference: Sequence[Frame], predicted: Sequence[Frame]) -> ErrorMetrics:
    """Error metrics of corresponding frames (same atoms in the same order): energy per atom,
    force components, stress components and atomic charges where both frames have them."""
    if len(reference) != len(predicted):
        raise ValueError(f"{len(reference)} reference frames but {len(predicted)} predictions")
    de, df, ds, dq = [], [], [], []
    for k, (ref, pred) in enumerate(zip(reference, predicted)):
        if ref.n_atoms != pred.n_atoms:
            raise ValueError(f"frame {k}: {ref.n_atoms} reference atoms, {pred.n_atoms} predicted")
        if ref.energy is not None and pred.energy is not None:
            de.append((pred.energy - ref.energy) / ref.n_atoms)
        if ref.forces is not None and pred.forces is not None:
            df.append((pred.forces - ref.forces).ravel())
        if ref.stress is not None and pred.stress is not None:
            ds.append(pred.stress - ref.stress)
        if ref.charges is not None and pred.charges is not None:
            dq.append(pred.charges - ref.charges)
    return ErrorMetrics.from_errors(
        np.array(de) * 1000.0, np.concatenate(df) if df else np.zeros(0),
        np.concatenate(ds) / GPa if ds else np.zeros(0), n_frames=len(reference),
        n_atoms=sum(f.n_atoms for f in reference), n_frames_with_stress=len(ds),
        charges=np.concatenate(dq) * 1000.0 if dq else np.zeros(0))


def total_charge_name(charge: float) -> str:
    """The group name of a total charge: ``Q=+1``, ``Q=0``, ``Q=-0.5`` (rounded to 1e-6 e)."""
    q = round(float(charge), 6) + 0.0  # + 0.0: no "-0"
    return f"Q={q:+g}" if q else "Q=0"


#: (quantity, unit, decimals, title) of the text table's column groups (RMSE, MAE, max each)
_TEXT_COLUMNS = (("energy", "mev_per_atom", 3, "energy (meV/atom)"),
                 ("force", "ev_per_angstrom", 4, "forces (eV/Å)"),
                 ("stress", "gpa", 3, "stress (GPa)"), ("charge", "me", 2, "charges (me)"))


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
    metrics : ErrorMetrics
        All frames.
    by_config_type : dict of str to ErrorMetrics, sorted by name.
    summary : PredictionSummary
        Extrapolation counts gathered while predicting.
    total_charge : (n_frames,) float, e
        Each frame's total charge (label, else sum of reference charges, else 0).
    by_total_charge : dict of str to ErrorMetrics
        Per total charge (``Q=0``, ``Q=+1``, ...; :func:`total_charge_name`), in increasing charge.
    reference_charges, predicted_charges : (n_charges,) float, e
        Atomic charges of the frames with reference charges, for models that predict them.
    charge_frame : (n_charges,) int
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
    metrics: ErrorMetrics
    by_config_type: dict[str, ErrorMetrics] = field(default_factory=dict)
    summary: PredictionSummary = field(default_factory=PredictionSummary)
    total_charge: np.ndarray = field(default_factory=lambda: np.zeros(0))
    by_total_charge: dict[str, ErrorMetrics] = field(default_factory=dict)
    reference_charges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    predicted_charges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    charge_frame: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: one line on what was left out (e.g. the energies of a charges-only model), or ""
    note: str = ""
    #: a model fitted with ``loss.stress_offset``: its offset s and the stress errors against the
    #: labels corrected by it (the metrics above are against the labels as given); None otherwise
    stress_offset: dict | None = None

    @property
    def n_frames(self) -> int:
        return self.metrics.n_frames

    @property
    def n_atoms(self) -> int:
        return self.metrics.n_atoms

    def to_dict(self) -> dict:
        """One JSON-able object: the overall metrics at top level, ``by_config_type`` and
        ``by_total_charge`` with the same keys per group, and ``n_extrapolations`` (None for
        models without the check). Missing labels give None; ``json.dumps(...,
        allow_nan=False)`` always works."""
        out = self.metrics.to_dict(json=True)
        out["n_extrapolations"] = self.summary.n_extrapolations if self.summary.has_extrapolation_check else None
        out["by_config_type"] = {name: m.to_dict(json=True) for name, m in self.by_config_type.items()}
        out["by_total_charge"] = {name: m.to_dict(json=True) for name, m in self.by_total_charge.items()}
        if self.note:
            out["note"] = self.note
        if self.stress_offset is not None:
            out["stress_offset"] = self.stress_offset
        return out

    @property
    def has_charges(self) -> bool:
        """Whether charge errors exist (a model with charges on data with reference charges)."""
        return self.metrics.n_charges > 0

    def table(self) -> str:
        """A compact text table: all frames, then each config_type (if there are several), then
        each total charge (if there are several). Charge columns only where charges were compared."""
        columns = _TEXT_COLUMNS if self.has_charges else _TEXT_COLUMNS[:3]
        head = f"{'':<20} {'frames':>6} {'atoms':>7}  " + "  ".join(f"{c[3]:^23}" for c in columns)
        sub = f"{'':<20} {'':>6} {'':>7}  " + "  ".join([f"{'RMSE':>7} {'MAE':>7} {'max':>7}"] * len(columns))
        rows = [("all", self.metrics)]
        if len(self.by_config_type) > 1:
            rows += list(self.by_config_type.items())
        if len(self.by_total_charge) > 1:
            rows += [(f"total charge {name[2:]}", m) for name, m in self.by_total_charge.items()]
        lines = [head, sub]
        for name, m in rows:
            label = name if len(name) <= 20 else name[:19] + "…"
            groups = [" ".join(format_metric(getattr(m, f"{q}_{stat}_{unit}"), digits, 7)
                               for stat in ("rmse", "mae", "max"))
                      for q, unit, digits, _ in columns]
            lines.append(f"{label:<20} {m.n_frames:>6} {m.n_atoms:>7}  " + "  ".join(groups))
        return "\n".join(lines)


def charges_only(potential: Potential) -> bool:
    """Whether ``potential`` is a charge model's stage 1 (3G/4G): charges and electrostatics
    only, every short-range network weight zero."""
    nets = getattr(potential, "short_networks", None)
    if not nets:
        return False
    return all(not any(np.any(np.asarray(a)) for a in (*n.weights, *n.biases)) for n in nets.values())


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
    if not any(f.energy is not None or f.forces is not None or f.stress is not None
               or f.charges is not None for f in reference):
        raise DataFormatError("no frame has an energy, forces or stress label (nor charges); evaluate needs "
                              "labelled data (use potforge predict for unlabelled structures)",
                              path=source)
    if n_threads is not None:
        potential.configure(n_threads=n_threads)
    summary = PredictionSummary()
    predicted = list(predict_frames(potential, progress(reference) if progress else reference,
                                    summary=summary, source=source))

    note = ""
    if charges_only(potential):  # its energies are electrostatics alone: no error to report
        note = ("the model is a charges-only stage-1 charge model (its short-range networks are zero, "
                "no short-range energies): energy, force and stress errors are left out")
        for p in predicted:
            p.energy = p.forces = p.stress = None
    n = len(reference)
    config_types = tuple(f.config_type if f.config_type is not None else NO_CONFIG_TYPE for f in reference)
    atoms_per_frame = np.array([f.n_atoms for f in reference], dtype=np.int64)
    e_ref = np.full(n, np.nan)
    e_pred = np.full(n, np.nan)
    f_ref, f_pred, f_frame, s_ref, s_pred, s_frame, q_ref, q_pred, q_frame = ([] for _ in range(9))
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
        if r.charges is not None and p.charges is not None:
            q_ref.append(r.charges)
            q_pred.append(p.charges)
            q_frame.append(np.full(r.n_atoms, k, dtype=np.int64))
    total_charge = np.array([frame_total_charge(f) for f in reference])

    groups: dict[str, list[int]] = {}
    for k, name in enumerate(config_types):
        groups.setdefault(name, []).append(k)
    charge_groups: dict[float, list[int]] = {}
    for k, q in enumerate(total_charge):
        charge_groups.setdefault(round(float(q), 6) + 0.0, []).append(k)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, in words
        by_config_type = {
            name: compare_frames([reference[k] for k in idx], [predicted[k] for k in idx])
            for name, idx in sorted(groups.items())}
        by_total_charge = {
            total_charge_name(q): compare_frames([reference[k] for k in idx], [predicted[k] for k in idx])
            for q, idx in sorted(charge_groups.items())}
        metrics = compare_frames(reference, predicted)

    result = EvaluationResult(
        config_types=config_types, atoms_per_frame=atoms_per_frame,
        reference_energy_per_atom=e_ref, predicted_energy_per_atom=e_pred,
        reference_forces=np.concatenate(f_ref) if f_ref else np.zeros(0),
        predicted_forces=np.concatenate(f_pred) if f_pred else np.zeros(0),
        force_frame=np.concatenate(f_frame) if f_frame else np.zeros(0, dtype=np.int64),
        reference_stress=np.array(s_ref).reshape(-1, 6),
        predicted_stress=np.array(s_pred).reshape(-1, 6),
        stress_frame=np.array(s_frame, dtype=np.int64),
        metrics=metrics,
        by_config_type=by_config_type, summary=summary, total_charge=total_charge,
        by_total_charge=by_total_charge,
        reference_charges=np.concatenate(q_ref) if q_ref else np.zeros(0),
        predicted_charges=np.concatenate(q_pred) if q_pred else np.zeros(0),
        charge_frame=np.concatenate(q_frame) if q_frame else np.zeros(0, dtype=np.int64), note=note)
    _check_metrics(result, source)
    return dataclasses.replace(result, stress_offset=_offset_stress_errors(potential, result))


def _offset_stress_errors(potential: Potential, result: EvaluationResult) -> dict | None:
    """The stress errors against label + s·I where the model was fitted so (its metadata's
    ``stress_offset``, potforge.training.stress_offset: s as ``potforge data check`` reports it,
    the stress that added to the labels makes them consistent), with its one offset s: a fixed one
    or the one fitted value (several fitted per training file: which one fits these data is
    unknown, so none is applied). None for other models or data without stress."""
    record = (getattr(potential, "metadata", None) or {}).get("stress_offset")
    if not isinstance(record, dict) or not len(result.stress_frame):
        return None
    from ..training.stress_offset import recorded_offsets_gpa

    values = [v for v in recorded_offsets_gpa(record).values() if v is not None]
    if len(values) != 1:
        return None
    corrected = result.reference_stress.copy()
    corrected[:, :3] += values[0]
    d = result.predicted_stress - corrected
    return {"offset_gpa": values[0], "mode": record.get("mode"), "meaning": record.get("meaning"),
            "stress_rmse_gpa": float(np.sqrt(np.mean(d * d))), "stress_mae_gpa": float(np.mean(np.abs(d))),
            "stress_max_gpa": float(np.max(np.abs(d)))}


def _check_metrics(result: EvaluationResult, source: str | None) -> None:
    """Finite predictions can still give an infinite RMSE (an error of 1e200 eV squared):
    refuse to report it, naming the frame with the largest error of that quantity."""
    m = result.metrics
    for quantity, count, errors, frame_of, unit in (
            ("energy", m.n_frames_with_energy,
             (result.predicted_energy_per_atom - result.reference_energy_per_atom) * 1000.0,
             np.arange(result.n_frames), "meV/atom"),
            ("force", m.n_force_components, result.predicted_forces - result.reference_forces,
             result.force_frame, "eV/Å"),
            ("stress", m.n_frames_with_stress, result.predicted_stress - result.reference_stress,
             result.stress_frame, "GPa"),
            ("charge", m.n_charges, (result.predicted_charges - result.reference_charges) * 1000.0,
             result.charge_frame, "me")):
        values = [getattr(m, f"{quantity}_{stat}_{_UNITS[quantity]}") for stat in ("rmse", "mae", "max")]
        if not count or all(np.isfinite(values)):
            continue
        errors = np.abs(np.where(np.isnan(errors), 0.0, errors))
        k = int(np.argmax(errors.max(axis=1) if errors.ndim > 1 else errors))
        raise NonFiniteError(f"the {quantity} RMSE overflows: the {quantity} error is "
                             f"{float(errors.ravel()[np.argmax(errors)]):.3g} {unit}; refusing to "
                             "report an infinite error", path=source, frame=int(frame_of[k]))


_UNITS = {"energy": "mev_per_atom", "force": "ev_per_angstrom", "stress": "gpa", "charge": "me"}
