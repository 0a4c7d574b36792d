"""4G training set up from an n2p2 training folder (``input.nn`` with ``nnp_generation 4``,
``scaling.data`` and, where n2p2's stage 1 has run, ``weightse.ZZZ.data`` and
``hardness.ZZZ.data``), in Å, eV and e.

- :func:`stage1_from_n2p2`: the χ networks and hardness (stage 1), random or pre-trained;
- :func:`stage2_from_n2p2`: the short-range networks (stage 2) on top of a stage-1 model
  (potforge's fitted one, or n2p2's pre-trained ``weightse``/``hardness`` files).

The electrostatic settings (``fixed_gausswidth``, ``screen_electrostatics``, ``ewald_prec``,
``ewald_truncation_error_method``) are read as :func:`~.n2p2.read_n2p2_4g_model` reads them
(n2p2's convention), so that a model trained here predicts what n2p2 would with the same
weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from ase.data import atomic_numbers

from ...core.errors import ConfigError
from ...core.units import energy_factor, length_factor
from ...data.n2p2_model import network_architecture, read_hardness, read_input_nn, read_weights
from ..hdnnp.n2p2 import _read_scaling, _species, _symmetry_functions, element_values
from ..network import ACTIVATIONS, AtomicNetwork
from .n2p2 import _ewald, _screening, _widths, sf_cutoffs
from .settings import MAX_HARDNESS, ElectrostaticSettings
from .trainable4g import TrainableHDNNP4GCharges
from .trainable4g_short import TrainableHDNNP4G

__all__ = ["stage1_from_n2p2", "stage2_from_n2p2", "n2p2_setup"]


def n2p2_setup(directory: str | os.PathLike, *, length_unit: str = "angstrom", energy_unit: str = "ev",
               input_nn: str = "input.nn") -> dict:
    """What both stages read of an n2p2 folder: settings, species, symmetry functions, scaling,
    electrostatic settings, network architectures (``short``: n_sf + 1 inputs) and initial
    hardness (eV/e²)."""
    directory = Path(directory)
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    settings = read_input_nn(directory / input_nn)
    species = _species(settings)
    sfs = _symmetry_functions(settings, species, L)
    scaling = _read_scaling(directory / "scaling.data", settings, sfs)
    electrostatics = ElectrostaticSettings(_widths(settings, species, L), _screening(settings, L),
                                           _ewald(settings, length_unit, energy_unit), convention="n2p2",
                                           n2p2_cutoffs=sf_cutoffs(sfs))
    hardness = element_values(settings, "initial_hardness", species, -MAX_HARDNESS / E, MAX_HARDNESS / E, E,
                              found=False)
    chi_arch = {s: network_architecture(settings, s, sfs.n_functions(s), ACTIVATIONS, suffix="electrostatic")
                for s in species}
    short_arch = {s: network_architecture(settings, s, sfs.n_functions(s) + 1, ACTIVATIONS, suffix="short")
                  for s in species}
    return dict(directory=directory, settings=settings, species=species, sfs=sfs, scaling=scaling,
                electrostatics=electrostatics, hardness=hardness, chi_arch=chi_arch, short_arch=short_arch,
                normalize=settings.has("normalize_nodes"), L=L, E=E)


def stage1_from_n2p2(directory, *, length_unit: str = "angstrom", energy_unit: str = "ev",
                     input_nn: str = "input.nn", pretrained: bool = True,
                     n_threads: int = 1) -> TrainableHDNNP4GCharges:
    """A stage-1 model from an n2p2 4G folder; with ``pretrained`` and the folder's
    ``weightse``/``hardness`` files, n2p2's stage-1 result (converted to eV/e and eV/e²),
    otherwise zero χ networks (call ``initialize``) and J at ``initial_hardness``."""
    setup = n2p2_setup(directory, length_unit=length_unit, energy_unit=energy_unit, input_nn=input_nn)
    species, arch = setup["species"], setup["chi_arch"]
    model = TrainableHDNNP4GCharges(setup["sfs"], setup["scaling"], {s: arch[s][0][1:-1] for s in species},
                                    {s: arch[s][1] for s in species},
                                    gaussian_width=dict(setup["electrostatics"].widths),
                                    hardness=setup["hardness"], normalize=setup["normalize"],
                                    n_threads=n_threads, electrostatics=setup["electrostatics"])
    if pretrained:
        found = pretrained_stage1(setup)
        if found is not None:
            model.load_electronegativity(*found)
    return model


def pretrained_stage1(setup: dict) -> tuple[dict, dict] | None:
    """n2p2's stage-1 files of the folder as ({element: χ network in eV/e}, {element: J eV/e²}),
    or None when a ``weightse`` or ``hardness`` file is missing."""
    directory, E = setup["directory"], setup["E"]
    networks, hardness = {}, {}
    for s in setup["species"]:
        z = atomic_numbers[s]
        wpath, hpath = directory / f"weightse.{z:03d}.data", directory / f"hardness.{z:03d}.data"
        if not (wpath.is_file() and hpath.is_file()):
            return None
        sizes, acts = setup["chi_arch"][s]
        weights, biases = read_weights(wpath, sizes, s, keyword="global_nodes_electrostatic",
                                       inputs="symmetry functions")
        weights[-1], biases[-1] = weights[-1] * E, biases[-1] * E  # χ: linear output, to eV/e
        networks[s] = AtomicNetwork(weights, biases, acts, setup["normalize"])
        hardness[s] = read_hardness(hpath, s, low=-MAX_HARDNESS / E, high=MAX_HARDNESS / E) * E
    return networks, hardness


def stage2_from_n2p2(directory, stage1: TrainableHDNNP4GCharges | None = None, *,
                     electronegativity_from: str | os.PathLike | None = None, length_unit: str = "angstrom",
                     energy_unit: str = "ev", input_nn: str = "input.nn", output_scale: float = 1.0,
                     n_threads: int = 1) -> TrainableHDNNP4G:
    """A stage-2 model (short-range networks, ``global_*_short``: n_sf + 1 inputs) on the
    folder's symmetry functions and scaling, its χ networks and J from ``stage1`` or, when
    None, from the folder's pre-trained ``weightse``/``hardness`` files. The short-range
    networks are zero: call ``initialize``.

    ``electronegativity_from``: another n2p2 folder whose ``weightse``/``hardness`` files
    (read with its own ``input.nn``, which must state the same symmetry functions) give the
    stage-1 model (n2p2's Carbon_chain_4G ``train/`` files were written for another
    architecture than its ``train/input.nn``; the top-level folder's match)."""
    setup = n2p2_setup(directory, length_unit=length_unit, energy_unit=energy_unit, input_nn=input_nn)
    species, arch = setup["species"], setup["short_arch"]
    if stage1 is not None:
        nets = stage1.layout.to_atomic_networks(stage1.theta.detach()[:stage1.layout.n_parameters])
        chi = dict(zip(stage1.species, nets))
        hardness = {s: float(stage1.hardness.detach()[e]) for e, s in enumerate(stage1.species)}
    else:
        source = setup
        if electronegativity_from is not None:
            source = n2p2_setup(electronegativity_from, length_unit=length_unit, energy_unit=energy_unit)
            if source["sfs"].to_dict() != setup["sfs"].to_dict():
                raise ConfigError(f"{source['directory']}: its input.nn states other symmetry functions "
                                  f"than {setup['directory']}; the χ networks need the same")
        found = pretrained_stage1(source)
        if found is None:
            raise ConfigError(f"{source['directory']}: no weightse.ZZZ.data/hardness.ZZZ.data for every "
                              "element; train stage 1 first and pass it")
        chi, hardness = found
    return TrainableHDNNP4G(setup["sfs"], setup["scaling"], {s: arch[s][0][1:-1] for s in species},
                            {s: arch[s][1] for s in species}, chi, hardness, setup["electrostatics"],
                            normalize=setup["normalize"], output_scale=output_scale, n_threads=n_threads)
