"""Small 4G and 3G HDNNPs for the shared contract tests: the symmetry functions, scaling and
structures of the 2G example, random networks, Gaussian widths, a screening and potforge's
own Ewald accuracy. The structures carry a total charge (+1 e on the cluster: a charged
open system; the periodic cell is neutral)."""

from __future__ import annotations

import numpy as np

from ..hdnnp.example import example as example_2g
from ..network import AtomicNetwork
from ..registry import ModelExample
from .potential3g import HDNNP3G
from .potential4g import HDNNP4G
from .settings import ElectrostaticSettings, EwaldSettings

__all__ = ["example_4g", "example_3g"]


def _networks(rng, sfs, species, extra: int, out_scale: float) -> dict[str, AtomicNetwork]:
    nets = {}
    for s in species:
        sizes = [sfs.n_functions(s) + extra, 5, 4, 1]
        nets[s] = AtomicNetwork(
            [rng.normal(0, 1 / np.sqrt(sizes[k]), (sizes[k + 1], sizes[k])) * (out_scale if k == 2 else 1)
             for k in range(3)],
            [rng.normal(0, 0.3, sizes[k + 1]) * (out_scale if k == 2 else 1) for k in range(3)], "ttl")
    return nets


def _parts(seed: int):
    base = example_2g()
    model = base.potential
    species = model.species
    settings = ElectrostaticSettings({"H": 0.6, "O": 1.1}, screening=(1.0, 3.0, "c"),
                                     ewald=EwaldSettings("potforge", 1e-10))
    cluster = base.cluster.copy()
    cluster.info["total_charge"] = 1.0
    return base, model, species, settings, cluster, np.random.default_rng(seed)


def example_4g() -> ModelExample:
    base, model, species, settings, cluster, rng = _parts(41)
    sfs = model.symmetry_functions
    chi = _networks(rng, sfs, species, 0, 0.5)
    short = _networks(rng, sfs, species, 1, 1.0)
    potential = HDNNP4G(sfs, model.scaling, chi, short, {"H": 9.0, "O": 7.0}, settings, output_scale=0.7,
                        chi_scale=2.0, atom_energies={"H": -0.2, "O": -2.1}, n_threads=1)
    return ModelExample(potential, base.periodic, cluster, long_range=True)


def example_3g() -> ModelExample:
    base, model, species, settings, cluster, rng = _parts(43)
    sfs = model.symmetry_functions
    charge = _networks(rng, sfs, species, 0, 0.3)
    short = _networks(rng, sfs, species, 0, 1.0)
    potential = HDNNP3G(sfs, model.scaling, charge, short, settings, output_scale=0.7,
                        atom_energies={"H": -0.2, "O": -2.1}, n_threads=1)
    return ModelExample(potential, base.periodic, cluster, long_range=True)
