"""The HDNNP family's interchange with n2p2: an n2p2 2G model directory read as an
:class:`~potforge.models.hdnnp.potential.HDNNP` that predicts what n2p2 predicts, and an HDNNP
written as files that n2p2 (and LAMMPS ``pair_style hdnnp``) read.

The files themselves are read and written by :mod:`potforge.data.n2p2_model`; this module
maps them onto the model. Facts followed here (n2p2 v2.3, checked against its source and
outputs):

- elements are ordered by atomic number;
- the symmetry functions of an element are sorted (see ``SymmetryFunction.n2p2_sort_key``)
  and the k-th sorted function is network input k and row k of ``scaling.data``;
- ``global_activation_short`` has one letter per hidden layer plus one for the output;
- with data-set normalisation, E = Σ_i NN_i / conv_energy + N · mean_energy + Σ_i E_atom.

n2p2 is unit-agnostic: ``length_unit``/``energy_unit`` say what the model's files use.

Every number is checked when the model is read, against the physical bounds of the classes
that hold it (converted to Å and eV first): symmetry-function parameters
(:mod:`potforge.descriptors.symmetry_functions`: cutoff in (0, 100] Å, η in [0, 1e4] 1/Å²,
ζ in [1, 1000], λ = ±1, ...), scaling statistics and the target range
(:mod:`potforge.descriptors.scaling`), weights (at most 1e6 in magnitude), energies (within
±1e7 eV per atom) and the energy scale 1/conv_energy (1e-12 to 1e6 eV). Each error is one
line naming the file and line. A function listed twice is refused (n2p2 would feed the network
two identical inputs).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from ...core.atomic import atomic_directory, atomic_write
from ...core.elements import by_atomic_number, is_element
from ...core.errors import ModelFormatError
from ...core.text import shorten
from ...core.units import energy_factor, length_factor
from ...data.n2p2_model import (N2p2Settings, cutoff_setting, is_n2p2_model, n2p2_generation,
                                network_architecture, read_input_nn, read_scaling, read_weights, scaling_mode,
                                symmetry_function_lines, weights_file_name, write_scaling, write_weights)
from ...descriptors.cutoffs import CUTOFF_TYPES
from ...descriptors.scaling import MAX_SCALED, MAX_VALUE, ScalingStatistics, SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet, parse_n2p2_symfunction
from ..network import ACTIVATIONS, MAX_PARAMETER, AtomicNetwork
from ..potential import ENERGY_SCALE_RANGE, MAX_ENERGY_PER_ATOM, Potential
from .potential import HDNNP

__all__ = ["read_n2p2_model", "write_n2p2_model", "export_n2p2", "is_n2p2_model"]


def read_n2p2_model(directory: str | os.PathLike, *, length_unit: str = "angstrom",
                    energy_unit: str = "ev") -> Potential:
    """Load an n2p2 2G model directory as an HDNNP (Å, eV inside); a 4G directory
    (``nnp_generation 4``) is handed to the ``hdnnp-4g`` family's importer.

    Parameters
    ----------
    directory : path
        Holds ``input.nn``, ``scaling.data`` and ``weights.ZZZ.data``.
    length_unit, energy_unit : str
        Units the model files use (n2p2 is unit-agnostic), e.g. ``"bohr"``, ``"hartree"``.
    """
    directory = Path(directory)
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    settings = read_input_nn(directory / "input.nn")
    if n2p2_generation(settings) == 4:  # the charge family reads those (registry: no import cycle)
        from ..registry import family

        importer = family("hdnnp-4g").importers[0]
        return importer.load(directory, length_unit=length_unit, energy_unit=energy_unit)
    try:
        return _read_2g(directory, settings, L, E, length_unit, energy_unit)
    except ModelFormatError as err:
        fourth = sorted(p.name for p in directory.glob("*.data") if p.name.startswith(("weightse.", "hardness.")))
        if settings.has("nnp_type") or not fourth:
            raise
        raise ModelFormatError(f"{err} (read as a 2G model: input.nn declares no generation, but "
                               f"{fourth[0]} belongs to a 4G model; add 'nnp_generation 4')") from None


def _read_2g(directory: Path, settings, L: float, E: float, length_unit: str, energy_unit: str) -> Potential:
    species = _species(settings)
    atom_energies = atom_energy_values(settings, species, E)
    sfs = _symmetry_functions(settings, species, L)
    scaling = _read_scaling(directory / "scaling.data", settings, sfs)
    networks = {s: _read_network(directory, settings, s, sfs.n_functions(s)) for s in species}
    normalisation = _normalisation(settings, E)
    mean_energy, conv_energy, _ = normalisation or (0.0, 1.0, 1.0)
    metadata = {
        "source": "n2p2",
        "directory": os.fspath(directory.resolve()),
        "n2p2_units": {"length": length_unit, "energy": energy_unit},
        "n2p2_normalisation": dict(zip(("mean_energy", "conv_energy", "conv_length"), normalisation))
        if normalisation else None,
    }
    return HDNNP(sfs, scaling, networks, output_scale=E / conv_energy, mean_energy=mean_energy * E,
                 atom_energies=atom_energies, metadata=metadata)


def element_values(settings: N2p2Settings, key: str, species: tuple[str, ...], low: float, high: float,
                   factor: float, *, value: str = "<value>", unit: str = "", found: bool = True) -> dict[str, float]:
    """The per-element keyword ``key`` ('<element> <value>' lines) of every species (0 where
    absent), each within [low, high] in the file's units and multiplied by ``factor``."""
    out = {s: 0.0 for s in species}
    for line, text in settings.all(key):
        parts = text.split()
        if len(parts) != 2 or parts[0] not in out:
            seen = f", found {shorten(text)!r}" if found else ""
            raise settings.error(key, f"expected '<element> {value}' for one of {' '.join(species)}{seen}", line)
        out[parts[0]] = settings.bounded(key, low, high, parts[1], line, unit=unit, factor=factor)
    return out


def atom_energy_values(settings: N2p2Settings, species: tuple[str, ...], E: float) -> dict[str, float]:
    """n2p2's ``atom_energy`` lines (eV after ``E``; 0 for an element without one)."""
    return element_values(settings, "atom_energy", species, -MAX_ENERGY_PER_ATOM, MAX_ENERGY_PER_ATOM, E,
                          value="<energy>", unit=" eV")


def _species(settings: N2p2Settings) -> tuple[str, ...]:
    """``elements``, ordered by atomic number as n2p2 does."""
    elements_value = settings.get("elements")
    if elements_value is None:
        raise ModelFormatError("keyword 'elements' is missing", path=settings.path)
    symbols = elements_value.split()
    for s in symbols:
        if not is_element(s):
            raise settings.error("elements", f"unknown element {s!r}")
    if len(set(symbols)) != len(symbols):
        twice = next(s for s in symbols if symbols.count(s) > 1)
        raise settings.error("elements", f"{twice} is listed twice")
    n_declared = settings.get("number_of_elements")
    if n_declared is not None and settings.int("number_of_elements", n_declared) != len(symbols):
        raise settings.error("number_of_elements", f"says {n_declared} but 'elements' lists "
                             f"{len(symbols)}: {' '.join(symbols)}")
    return by_atomic_number(symbols)


def _symmetry_functions(settings: N2p2Settings, species: tuple[str, ...], L: float) -> SymmetryFunctionSet:
    """The ``symfunction_short`` lines with the one ``cutoff_type`` (lengths times L, to Å)."""
    cut_index, alpha = cutoff_setting(settings)
    if cut_index not in CUTOFF_TYPES.values():
        raise settings.error("cutoff_type", f"{cut_index} is not a cutoff type (0-8)")
    functions: dict[str, list] = {s: [] for s in species}
    first_line: dict = {}
    for line, fields in symmetry_function_lines(settings):
        try:
            sf = parse_n2p2_symfunction(fields, length_unit=L, cutoff_type=cut_index, cutoff_alpha=alpha)
        except ValueError as err:
            raise settings.error("symfunction_short", str(err), line) from None
        if sf.element not in functions or any(n not in functions for n in sf.neighbors):
            raise settings.error("symfunction_short", f"uses an element outside 'elements' "
                                 f"({' '.join(species)})", line)
        if first_line.setdefault(sf, line) != line:
            raise settings.error("symfunction_short", f"duplicate of line {first_line[sf]} (the same "
                                 "function twice would be two identical network inputs)", line)
        if sf.type in (3, 9) and sf.shift < 0:
            warnings.warn(f"{settings.path}:{line}: negative rshift; n2p2's grouped evaluation treats "
                          "it as 0 for types 3/9, potforge uses the value as written", stacklevel=3)
        functions[sf.element].append(sf)
    for s in species:
        if not functions[s]:
            raise ModelFormatError(f"element {s} has no symfunction_short lines", path=settings.path)
    return SymmetryFunctionSet(species, functions)


def _normalisation(settings: N2p2Settings, E: float) -> tuple[float, float, float] | None:
    """(mean_energy, conv_energy, conv_length) of n2p2's data-set normalisation, if used, as
    written; mean_energy times ``E`` (eV) within ±MAX_ENERGY_PER_ATOM and the energy scale
    E / conv_energy (eV per network unit) within ENERGY_SCALE_RANGE."""
    norm_keys = ("mean_energy", "conv_energy", "conv_length")
    present = [k for k in norm_keys if settings.has(k)]
    if not present:
        return None
    if len(present) != 3:
        missing = [k for k in norm_keys if k not in present]
        raise ModelFormatError(f"data-set normalisation needs mean_energy, conv_energy and "
                               f"conv_length; missing {', '.join(missing)}", path=settings.path)
    mean_energy = settings.bounded("mean_energy", -MAX_ENERGY_PER_ATOM, MAX_ENERGY_PER_ATOM,
                                   unit=" eV", factor=E) / E
    conv_energy = settings.float("conv_energy")
    low, high = ENERGY_SCALE_RANGE
    if not (conv_energy > 0 and low <= E / conv_energy <= high):
        raise settings.error("conv_energy", f"{conv_energy:g} gives an energy scale of "
                             f"{E / conv_energy if conv_energy else math.inf:g} eV per network unit, "
                             f"outside [{low:g}, {high:g}] eV (it must be positive)")
    # conv_length cancels out of every prediction (n2p2 converts lengths back and forth)
    conv_length = settings.bounded("conv_length", 1e-12, 1e12)
    return mean_energy, conv_energy, conv_length


def _read_scaling(path: Path, settings: N2p2Settings, sfs: SymmetryFunctionSet) -> SymmetryFunctionScaling:
    smin, smax = (settings.bounded(key, -MAX_SCALED, MAX_SCALED, settings.get(key, default))
                  for key, default in (("scale_min_short", "0.0"), ("scale_max_short", "1.0")))
    if not smin < smax:
        key = "scale_max_short" if settings.has("scale_max_short") else "scale_min_short"
        raise settings.error(key, f"scale_min_short {smin:g} must be below scale_max_short {smax:g}")
    tables = read_scaling(path, [(s, sfs.n_functions(s)) for s in sfs.species], limit=MAX_VALUE)
    try:
        stats = {s: ScalingStatistics(t[:, 0], t[:, 1], t[:, 2], t[:, 3]) for s, t in tables.items()}
        scaling = SymmetryFunctionScaling(scaling_mode(settings), stats, smin, smax)
        for s in sfs.species:
            scaling.affine(s)
    except ValueError as err:
        raise ModelFormatError(str(err), path=os.fspath(path)) from None
    return scaling


def _read_network(directory: Path, settings: N2p2Settings, element: str, n_inputs: int) -> AtomicNetwork:
    sizes, activations = network_architecture(settings, element, n_inputs, ACTIVATIONS)
    path = directory / weights_file_name(atomic_numbers[element])
    weights, biases = read_weights(path, sizes, element, limit=MAX_PARAMETER)
    try:
        return AtomicNetwork(weights, biases, activations, settings.has("normalize_nodes"))
    except ValueError as err:
        raise ModelFormatError(str(err), path=os.fspath(path)) from None


# -- writing -----------------------------------------------------------------------------------------
def write_n2p2_model(model: HDNNP, directory: str | os.PathLike, *, length_unit: str = "angstrom",
                     energy_unit: str = "ev") -> Path:
    """Write ``input.nn``, ``scaling.data`` and ``weights.ZZZ.data`` for n2p2 / LAMMPS hdnnp.

    The files use the given units; data-set normalisation carries the model's output scale
    and mean energy (``conv_energy = unit / output_scale``), ``conv_length = 1``. The files are
    written together (a temporary directory that replaces ``directory``); an existing
    ``directory`` may hold only an n2p2 model, which is replaced.
    """
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            raise ModelFormatError("exists and is not a directory", path=os.fspath(directory))
        foreign = [p.name for p in directory.iterdir()
                   if not (p.name in ("input.nn", "scaling.data") or
                           (p.name.startswith("weights.") and p.name.endswith(".data")))]
        if foreign:
            raise ModelFormatError(f"holds other files ({', '.join(sorted(foreign)[:3])}); export to "
                                   "an empty or new directory", path=os.fspath(directory))
    lines = _input_nn_lines(model, length_unit, energy_unit)
    species = model.species
    nets = [model.networks[s] for s in species]
    with atomic_directory(directory) as tmp:
        with atomic_write(tmp / "input.nn") as out:
            out.write("\n".join(lines) + "\n")
        stats = [model.scaling.statistics[s] for s in species]
        write_scaling(tmp / "scaling.data",
                      [np.stack([st.minimum, st.maximum, st.mean, st.sigma], 1) for st in stats])
        for s, net in zip(species, nets):
            write_weights(tmp / weights_file_name(atomic_numbers[s]), net.weights, net.biases)
    return directory


def _input_nn_lines(model: HDNNP, length_unit: str, energy_unit: str) -> list[str]:
    """The ``input.nn`` of a model that n2p2 can represent (else a ModelFormatError saying why)."""
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    sfs = model.symmetry_functions
    species = sfs.species
    if tuple(species) != by_atomic_number(species):
        raise ModelFormatError("n2p2 orders elements by atomic number; reorder the model species")
    index = {s: atomic_numbers[s] for s in species}
    for s in species:
        order = sorted(sfs.functions[s], key=lambda sf: sf.n2p2_sort_key(index))
        if list(order) != list(sfs.functions[s]):
            raise ModelFormatError(f"symmetry functions of {s} are not in n2p2 order; n2p2 would "
                                   "feed them to the network in another order")
    cut = {(sf.cutoff_type, sf.cutoff_alpha) for fs in sfs.functions.values() for sf in fs}
    if len(cut) != 1:
        raise ModelFormatError(f"n2p2 uses one cutoff function for all symmetry functions; this "
                               f"model has {sorted(cut)}")
    (cut_type, cut_alpha), = cut
    nets = [model.networks[s] for s in species]
    hidden = [n.architecture[1:-1] for n in nets]
    acts = {n.activations for n in nets}
    if len(set(hidden)) != 1 or len(acts) != 1 or len({n.normalize for n in nets}) != 1:
        raise ModelFormatError("n2p2 export needs the same hidden layers and activations for all elements")
    lines = ["# written by potforge", f"# Length unit: {length_unit}", f"# Energy unit: {energy_unit}",
             f"number_of_elements {len(species)}", "elements " + " ".join(species)]
    lines += [f"atom_energy {s} {repr(model.atom_energies[s] / E)}" for s in species]
    lines.append(f"cutoff_type {CUTOFF_TYPES[cut_type]} {repr(float(cut_alpha))}")
    lines.append(f"mean_energy {repr(model.mean_energy / E)}")
    lines.append(f"conv_energy {repr(E / model.output_scale)}")
    lines.append("conv_length 1.0")
    mode = model.scaling.mode
    if mode in ("scale", "scalecenter"):
        lines.append("scale_symmetry_functions")
    if mode in ("center", "scalecenter"):
        lines.append("center_symmetry_functions")
    if mode == "scalesigma":
        lines.append("scale_symmetry_functions_sigma")
    lines.append(f"scale_min_short {repr(model.scaling.scaled_min)}")
    lines.append(f"scale_max_short {repr(model.scaling.scaled_max)}")
    lines.append(f"global_hidden_layers_short {len(hidden[0])}")
    lines.append("global_nodes_short " + " ".join(map(str, hidden[0])))
    lines.append("global_activation_short " + " ".join(next(iter(acts))))
    if nets[0].normalize:
        lines.append("normalize_nodes")
    for s in species:
        lines += ["symfunction_short " + sf.to_n2p2(length_unit=L) for sf in sfs.functions[s]]
    return lines


def export_n2p2(model: HDNNP, directory: str | os.PathLike, *, length_unit: str = "angstrom",
                energy_unit: str = "ev") -> dict:
    """The family's exporter (``potforge export --format n2p2``): :func:`write_n2p2_model`."""
    directory = write_n2p2_model(model, directory, length_unit=length_unit, energy_unit=energy_unit)
    return {"files": sorted(directory.iterdir()), "directory": directory}
