"""Physical baselines in training (the ``baselines:`` section of the config): their energies,
per-atom energies, forces and stress are subtracted from the reference labels before the fit,
so the model learns the remainder, and the saved potential is the composite model + baselines
(:class:`potforge.models.baselines.composite.Baselined`), whose predictions include them.
Errors of the fit on the remainder are errors of the composite on the labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.errors import PotforgeError
from ..data.dataset import Dataset
from ..models.baselines.composite import Baselined
from ..models.baselines.config import make_baseline
from ..models.potential import Potential

__all__ = ["build_baselines", "subtract_baselines", "with_baselines"]


def build_baselines(config: Sequence[tuple[str, Any]]) -> list[Potential]:
    """The baseline Potentials of a validated ``baselines:`` section."""
    return [make_baseline(kind, options, f"baselines[{k}]") for k, (kind, options) in enumerate(config)]


def subtract_baselines(data: Dataset | None, baselines: Sequence[Potential], role: str) -> Dataset | None:
    """A copy of ``data`` whose labels are the reference minus the baselines (frames whose
    structure a baseline refuses raise its one-line error, naming the data role and frame)."""
    if data is None or not baselines:
        return data
    out = []
    for index, frame in enumerate(data):
        frame = frame.copy()
        atoms = frame.atoms
        periodic = bool(np.all(atoms.pbc))
        for k, b in enumerate(baselines):
            try:
                wanted = {"forces": frame.forces is not None, "stress": frame.stress is not None and periodic}
                if b.kind == "d3" and frame.atomic_energies is None:
                    wanted["energies"] = False  # D3's per-atom analysis is slow (ATM: ~30 s a frame)
                p = b.predict(atoms, **wanted)
            except PotforgeError as err:
                raise type(err)(f"data.{role}, frame {index}: baselines[{k}] ({b.kind}): {err.reason}") from None
            if frame.energy is not None:
                frame.energy = float(frame.energy - p.energy)
            if frame.atomic_energies is not None:
                frame.atomic_energies = frame.atomic_energies - p.energies
            if frame.forces is not None:
                frame.forces = frame.forces - p.forces
            if frame.stress is not None and p.stress is not None:
                frame.stress = frame.stress - p.stress
        out.append(frame)
    return Dataset(out)


def with_baselines(potential: Potential, baselines: Sequence[Potential]) -> Potential:
    """The fitted model with its baselines (the model itself when there are none)."""
    return Baselined(potential, baselines) if baselines else potential
