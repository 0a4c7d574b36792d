"""Errors of predictions against reference labels: energies per atom, force components, stress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..core.metrics import mae, max_abs, rmse
from ..core.units import GPa
from ..data.frame import Frame

__all__ = ["ErrorMetrics", "error_metrics"]


@dataclass(frozen=True)
class ErrorMetrics:
    """Errors in report units: meV/atom, eV/Å, GPa (nan where a label is missing)."""

    n_frames: int
    n_atoms: int
    energy_rmse_mev_per_atom: float
    energy_mae_mev_per_atom: float
    energy_max_mev_per_atom: float
    force_rmse_ev_per_angstrom: float
    force_mae_ev_per_angstrom: float
    force_max_ev_per_angstrom: float
    stress_rmse_gpa: float

    def to_dict(self) -> dict:
        return asdict(self)


def error_metrics(reference: Sequence[Frame], predicted: Sequence[Frame]) -> ErrorMetrics:
    """Compare frame by frame; frames must correspond (same atoms in the same order)."""
    if len(reference) != len(predicted):
        raise ValueError(f"{len(reference)} reference frames but {len(predicted)} predictions")
    de, df, ds = [], [], []
    for k, (ref, pred) in enumerate(zip(reference, predicted)):
        if ref.n_atoms != pred.n_atoms:
            raise ValueError(f"frame {k}: {ref.n_atoms} reference atoms, {pred.n_atoms} predicted")
        if ref.energy is not None and pred.energy is not None:
            de.append((pred.energy - ref.energy) / ref.n_atoms)
        if ref.forces is not None and pred.forces is not None:
            df.append((pred.forces - ref.forces).ravel())
        if ref.stress is not None and pred.stress is not None:
            ds.append(pred.stress - ref.stress)
    de_a = np.array(de) * 1000.0
    df_a = np.concatenate(df) if df else np.zeros(0)
    ds_a = np.concatenate(ds) / GPa if ds else np.zeros(0)
    return ErrorMetrics(
        n_frames=len(reference), n_atoms=sum(f.n_atoms for f in reference),
        energy_rmse_mev_per_atom=rmse(de_a), energy_mae_mev_per_atom=mae(de_a),
        energy_max_mev_per_atom=max_abs(de_a),
        force_rmse_ev_per_angstrom=rmse(df_a), force_mae_ev_per_angstrom=mae(df_a),
        force_max_ev_per_angstrom=max_abs(df_a), stress_rmse_gpa=rmse(ds_a))
