"""A small 1G model of one water molecule for the shared contract tests (random weights; the
family describes isolated molecules only, so there is no periodic example)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from ..network import AtomicNetwork
from ..registry import ModelExample
from .potential import MolecularNetworkPotential

__all__ = ["example"]


def example() -> ModelExample:
    rng = np.random.default_rng(21)
    sizes = [3, 7, 5, 1]
    network = AtomicNetwork([rng.normal(0, 1 / np.sqrt(sizes[k]), (sizes[k + 1], sizes[k])) for k in range(3)],
                            [rng.normal(0, 0.3, sizes[k + 1]) for k in range(3)], "tsl")
    model = MolecularNetworkPotential(("O", "H", "H"), network, coordinates="morse", length=1.0,
                                      input_mean=[0.38, 0.38, 0.22], input_std=[0.03, 0.03, 0.02],
                                      output_scale=0.4, energy_offset=-14.2)
    water = Atoms("OH2", positions=[[0.02, -0.01, 0.03], [0.95, 0.05, -0.02], [-0.27, 0.93, 0.04]])
    return ModelExample(model, None, water)
