"""Build a 2G HDNNP for training from its config and the training frames.

The steps, each logged: symmetry functions (n2p2 lines, an ``input.nn``, or a preset grid),
pruning on the training set, scaling statistics of the kept functions, per-element reference
energies (least squares on composition), the output scale (spread of the per-atom energy
residuals), the networks and their initial weights (``training.seed``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigError, ModelFormatError
from ...core.lazy import torch
from ...core.units import length_factor
from ...data.n2p2_model import cutoff_setting, read_input_nn, symmetry_function_lines
from ...descriptors.cache import DescriptorCache
from ...descriptors.presets import cutoff_for_neighbors, prune
from ...descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet, parse_n2p2_symfunction
from ..building import BuildContext, reference_energies, resolve_species
from ..potential import saved_part
from .config import HDNNPConfig, PresetConfig, ScalingConfig, SymmetryFunctionsConfig
from .trainable import TrainableHDNNP

__all__ = ["build_hdnnp", "rebuild_hdnnp", "symmetry_functions_from_config", "descriptors"]


def symmetry_functions_from_config(sc: SymmetryFunctionsConfig, species: Sequence[str],
                                   ctx: BuildContext, facts: dict | None = None) -> SymmetryFunctionSet:
    """``model.symmetry_functions``: n2p2 lines, an ``input.nn``'s ``symfunction_short``
    lines (and its cutoff type unless the config names one), or a preset grid. A cutoff chosen
    from the data (``preset.neighbors``) goes into ``facts`` (the run summary) as ``cutoff``."""
    L = length_factor(sc.length_unit, "model.symmetry_functions.length_unit")
    cutoff_type = sc.cutoff_type if sc.cutoff_type is not None else "poly2"
    cutoff_alpha = sc.cutoff_alpha if sc.cutoff_alpha is not None else 0.0
    lines: list[tuple[str, list[str]]] = []
    if sc.n2p2 is not None:
        lines = [(f"model.symmetry_functions.n2p2[{k}]", text.split()) for k, text in enumerate(sc.n2p2)]
    if sc.file is not None:
        path = ctx.path(sc.file)
        if not path.exists():
            raise ConfigError(f"model.symmetry_functions.file: no such file {os.fspath(path)}")
        settings = read_input_nn(path)
        lines = [(f"{path}:{number}", fields) for number, fields in symmetry_function_lines(settings)]
        if not lines:
            raise ConfigError(f"{path}: no symfunction_short lines")
        file_cutoff = cutoff_setting(settings, required=False)
        if file_cutoff is not None:  # the file's cutoff unless the config names one
            cutoff_type = sc.cutoff_type if sc.cutoff_type is not None else file_cutoff[0]
            cutoff_alpha = sc.cutoff_alpha if sc.cutoff_alpha is not None else file_cutoff[1]
    if not lines:
        grid = _data_cutoff(sc.preset or PresetConfig(), ctx, facts)
        try:
            return grid.functions(species, cutoff_type, cutoff_alpha)
        except ConfigError as err:
            raise ConfigError(f"model.symmetry_functions.preset: {err}") from None
    funcs: dict[str, list] = {s: [] for s in species}
    for where, fields in lines:
        if fields and fields[0] == "symfunction_short":
            fields = fields[1:]
        try:
            sf = parse_n2p2_symfunction(fields, length_unit=L, cutoff_type=cutoff_type,
                                        cutoff_alpha=cutoff_alpha)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
        if sf.element not in funcs:
            continue  # functions of elements outside the model (n2p2 does the same)
        funcs[sf.element].append(sf)
    try:
        return SymmetryFunctionSet(species, funcs)
    except ValueError as err:
        raise ConfigError(f"model.symmetry_functions: {err}") from None


def _data_cutoff(grid: PresetConfig, ctx: BuildContext, facts: dict | None) -> PresetConfig:
    """``preset.neighbors``: the grid with the cutoff at which the training atoms have that many
    neighbours on average (:func:`~potforge.descriptors.presets.cutoff_for_neighbors`), in place
    of ``preset.cutoff``; the choice is logged and recorded in ``facts``."""
    if grid.neighbors is None:
        return grid
    structures = [(f.atoms.positions, np.asarray(f.atoms.cell), f.atoms.pbc) for f in ctx.train]
    try:
        cutoff = cutoff_for_neighbors(structures, grid.neighbors)
    except ConfigError as err:
        raise ConfigError(f"model.symmetry_functions.preset.{err.reason}") from None
    ctx.log(f"cutoff {cutoff:.1f} Å: the training atoms' mean number of neighbours reaches "
            f"{grid.neighbors:g} there (preset.neighbors; preset.cutoff {grid.cutoff:g} Å ignored)")
    if facts is not None:
        facts["cutoff"] = {"angstrom": cutoff, "chosen_by": "model.symmetry_functions.preset.neighbors",
                           "mean_neighbors": grid.neighbors, "ignored_preset_cutoff_angstrom": grid.cutoff}
    return dataclasses.replace(grid, cutoff=cutoff, neighbors=None)


def descriptors(sc: SymmetryFunctionsConfig, scaling_config: ScalingConfig, species: Sequence[str],
                ctx: BuildContext, facts: dict[str, Any]
                ) -> tuple[SymmetryFunctionSet, SymmetryFunctionScaling]:
    """The symmetry functions of ``sc``, pruned on the training set (the report goes to
    ``facts``), and their scaling statistics: shared by every HDNNP generation's builder."""
    try:
        sfs = symmetry_functions_from_config(sc, species, ctx, facts)
    except ModelFormatError as err:
        raise ConfigError(f"model.symmetry_functions.file: {err}") from None
    empty = [s for s in species if sfs.n_functions(s) == 0]
    if empty:
        raise ConfigError(f"model.symmetry_functions: no functions for {', '.join(empty)}")
    ctx.log("symmetry functions: " + ", ".join(f"{s} {sfs.n_functions(s)}" for s in species)
            + f"; cutoff {sfs.cutoff:.3f} Å")
    values = DescriptorCache(list(ctx.train), sfs, derivatives=False, n_threads=ctx.threads).element_values()
    if sc.prune.enabled:
        sfs, report = prune(sfs, values, min_range=sc.prune.min_range,
                            min_relative_range=sc.prune.min_relative_range,
                            max_correlation=sc.prune.max_correlation)
        facts["pruning"] = report.to_dict()
        ctx.log("pruning: " + report.format().strip().replace("\n", "\n  "))
        if any(sfs.n_functions(s) == 0 for s in species):
            raise ConfigError("model.symmetry_functions.prune: every function of an element was "
                              "pruned; loosen min_range / max_correlation or add functions")
        values = {s: v[:, list(report.kept[s])] for s, v in values.items()}
    stats = {}
    for s in species:
        v = values.get(s)
        if v is None or len(v) == 0:
            raise ConfigError(f"model.species: no {s} atoms in the training data; scaling "
                              "statistics need them")
        stats[s] = ScalingStatistics.from_values(v)
    return sfs, SymmetryFunctionScaling(scaling_config.mode, stats, scaling_config.min, scaling_config.max)


def build_hdnnp(ctx: BuildContext) -> tuple[TrainableHDNNP, dict[str, Any]]:
    """An initialised :class:`TrainableHDNNP` and the facts for the run's summary (pruning
    report, reference energies, output scale)."""
    mc: HDNNPConfig = ctx.model
    train = ctx.train
    species = resolve_species(mc.species, train)
    facts: dict[str, Any] = {}
    sfs, scaling = descriptors(mc.symmetry_functions, mc.scaling, species, ctx, facts)
    ref = reference_energies(mc.element_energies, species, train)
    residuals = [(f.energy - sum(ref[s] for s in f.atoms.get_chemical_symbols())) / f.n_atoms
                 for f in train if f.energy is not None]
    scale = mc.output_scale
    if scale is None:
        spread = float(np.std(residuals)) if len(residuals) > 1 else 0.0
        scale = spread if spread > 1e-6 else 1.0
    facts["element_energies_ev"] = ref
    facts["output_scale_ev"] = scale
    mc.check_networks(species)
    hidden, acts = {}, {}
    for s in species:
        net = mc.networks.get(s, mc.network)
        hidden[s] = list(net.hidden)
        acts[s] = net.activation * len(net.hidden) + "l"
    normalize = {mc.networks.get(s, mc.network).normalize for s in species}
    if len(normalize) != 1:
        raise ConfigError("model.networks: normalize must be the same for all elements")
    try:
        model = TrainableHDNNP(sfs, scaling, hidden, acts, normalize=normalize.pop(), output_scale=scale,
                               dtype=mc.dtype, cache_dtype=mc.cache_dtype, n_threads=ctx.threads)
    except ValueError as err:
        raise ConfigError(f"model.network: {err}") from None
    model.initialize(torch.Generator().manual_seed(int(ctx.seed)), mc.init)
    model.element_energies = torch.tensor([ref[s] for s in species], dtype=torch.float64)
    model.mean_energy = float(np.mean(residuals)) if residuals else 0.0
    ctx.log("network: " + ", ".join(f"{s} {model.n_functions[e]}-{'-'.join(map(str, hidden[s]))}-1 "
                                    f"({acts[s]})" for e, s in enumerate(species))
            + f"; {model.n_parameters} parameters; output scale {scale:.4g} eV")
    return model, facts


def rebuild_hdnnp(description: dict) -> TrainableHDNNP:
    """The untrained model of a definition :meth:`TrainableHDNNP.description` wrote; a value
    the model refuses is a one-line ModelFormatError (the caller names the file)."""
    with saved_part("description"):
        return TrainableHDNNP.from_description(description)
