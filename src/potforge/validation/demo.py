"""The demo: the shipped n2p2 water model against its DFT reference data."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..core.metrics import ErrorMetrics
from .evaluate import compare_frames
from .predict import PredictionSummary, predict_frames

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    metrics: ErrorMetrics
    summary: PredictionSummary
    species: tuple[str, ...]
    cutoff: float
    seconds: float

    def report(self) -> str:
        m = self.metrics
        return "\n".join([
            "potforge demo: n2p2's 2G HDNNP for liquid water (RPBE-D3) on its DFT reference data",
            f"  {m.n_frames} periodic structures, {m.n_atoms} atoms, species "
            f"{'/'.join(self.species)}, cutoff {self.cutoff:.3f} Å",
            f"  energy error vs DFT: RMSE {m.energy_rmse_mev_per_atom:.3f} meV/atom, "
            f"MAE {m.energy_mae_mev_per_atom:.3f}, max {m.energy_max_mev_per_atom:.3f}",
            f"  force error vs DFT:  RMSE {m.force_rmse_ev_per_angstrom:.4f} eV/Å, "
            f"MAE {m.force_mae_ev_per_angstrom:.4f}, max {m.force_max_ev_per_angstrom:.4f}",
            f"  {self.summary.line()}",
            f"  time: {self.seconds:.2f} s (loading the model and data, predicting energies and forces)",
        ])


def run_demo(n_threads: int = 0) -> DemoResult:
    """Predict the 20 shipped DFT water boxes with the shipped model (both in Bohr/Hartree,
    as n2p2 ships them) and compare with the DFT energies and forces."""
    from importlib.resources import files

    from ..data.io import read_frames
    from ..export import load_model

    root = files("potforge") / "demo_data" / "H2O_RPBE-D3"
    start = time.perf_counter()
    model = load_model(str(root), length_unit="bohr", energy_unit="hartree")
    model.configure(n_threads=n_threads)
    reference = read_frames(str(root / "reference.data"), length_unit="bohr", energy_unit="hartree")
    summary = PredictionSummary()
    predicted = list(predict_frames(model, reference, summary=summary))
    seconds = time.perf_counter() - start
    return DemoResult(compare_frames(reference, predicted), summary, model.species, model.cutoff, seconds)
