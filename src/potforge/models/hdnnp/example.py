"""A small 2G HDNNP for the shared contract tests: two elements, smooth (poly2) cutoff,
random weights, scaling statistics from its own example structures."""

from __future__ import annotations

import numpy as np

from ...core.elements import species_indices
from ...core.neighbors import neighbor_list
from ...descriptors.presets import preset
from ...descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from ..examples import random_cell
from ..network import AtomicNetwork
from ..registry import ModelExample
from .potential import HDNNP

__all__ = ["example"]


def example() -> ModelExample:
    species = ("H", "O")
    sfs = preset(species, 4.0, n_radial=3, n_angular=1, zetas=(1.0, 4.0), cutoff_type="poly2")
    box = random_cell(11, species, 10, 4.2)
    cluster = random_cell(12, species, 7, 3.6, periodic=False)
    values: dict[str, list[np.ndarray]] = {s: [] for s in species}
    for atoms in (box, cluster):
        idx, z = species_indices(atoms, species)
        nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
        g, _ = sfs.compute(idx, z, nl)
        for e, s in enumerate(species):
            values[s].append(g[idx == e, :sfs.n_functions(s)])
    stats = {}
    for s in species:
        st = ScalingStatistics.from_values(np.concatenate(values[s]))
        stats[s] = ScalingStatistics(st.minimum, st.minimum + np.maximum(st.maximum - st.minimum, 1e-3),
                                     st.mean, np.maximum(st.sigma, 1e-3))
    rng = np.random.default_rng(13)
    networks = {}
    for s in species:
        sizes = [sfs.n_functions(s), 6, 5, 1]
        networks[s] = AtomicNetwork(
            [rng.normal(0, 1 / np.sqrt(sizes[k]), (sizes[k + 1], sizes[k])) for k in range(3)],
            [rng.normal(0, 0.3, sizes[k + 1]) for k in range(3)], "ttl")
    model = HDNNP(sfs, SymmetryFunctionScaling("scalecenter", stats), networks, output_scale=0.7,
                  mean_energy=-1.3, atom_energies={"H": -0.2, "O": -2.1}, n_threads=1)
    return ModelExample(model, box, cluster)
