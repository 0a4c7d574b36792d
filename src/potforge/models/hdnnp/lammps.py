"""A 2G HDNNP for LAMMPS: the model file of ``pair_style potforge`` (potforge's LAMMPS plugin,
``_csrc/lammps/pair_potforge.cpp``) and a runnable ``in.lammps`` that loads the plugin.

The model file is the compiled kernel's description in text, metal units (Å, eV), every
number written as Python's shortest repr so that C++'s strtod reads back the same double:

    potforge-lammps-model 1
    species N El1 ... ElN
    atomic_numbers Z1 ... ZN            # weights of weighted symmetry functions
    energy_offsets o1 ... oN            # eV per atom: mean energy + atom energy of each element
    cutoff rc                           # Å, the largest of all functions
    output_scale s                      # eV per network output unit
    min_distance d                      # Å, closer atoms are refused (as in Python)
    extrapolation_tolerance t           # of the functions' training range
    dtype float64|float32
    then per element, in the species order:
    element El
    symmetry_functions n   followed by n rows of the kernel's 16-column table
    scaling_factor  n numbers;  scaling_offset  n;  training_min  n;  training_max  n
    network L normalize(0|1)
    layer n_in n_out activation_code  W (n_out x n_in, row-major)  b (n_out)     (L times)
    end

Comments start with ``#``. An n2p2 model directory exports the same way once loaded
(``potforge export DIR --format lammps --length-unit bohr --energy-unit hartree``: the units
of its files); the plugin then runs it in metal units.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from ...core.atomic import atomic_write
from ...core.provenance import __version__
from ...data.lammps.input_script import input_script
from ...descriptors.scaling import EXTRAPOLATION_TOLERANCE
from .potential import HDNNP

__all__ = ["export_lammps", "model_file_text", "MODEL_FILE"]

#: the name of the model file in an exported directory (pair_coeff * * DIR finds it)
MODEL_FILE = "potforge.lammps"


def _numbers(values) -> str:
    return " ".join(repr(float(v)) for v in np.ravel(np.asarray(values, dtype=np.float64)))


def model_file_text(model: HDNNP) -> str:
    """The model file (module docstring) of a 2G HDNNP."""
    species = list(model.species)
    lines = ["potforge-lammps-model 1",
             f"# potforge {__version__}: 2G HDNNP of {', '.join(species)} for pair_style potforge (metal units)",
             f"species {len(species)} {' '.join(species)}",
             f"atomic_numbers {' '.join(str(atomic_numbers[s]) for s in species)}",
             f"energy_offsets {_numbers(model._offsets)}",
             f"cutoff {float(model.cutoff)!r}",
             f"output_scale {float(model.output_scale)!r}",
             f"min_distance {float(model.min_distance)!r}",
             f"extrapolation_tolerance {float(EXTRAPOLATION_TOLERANCE)!r}",
             f"dtype {model.dtype}"]
    scalings = model._scalings()
    for e, s in enumerate(species):
        table = model.symmetry_functions.table(s)
        lines += [f"element {s}", f"symmetry_functions {len(table)}"]
        lines += [_numbers(row) for row in table]
        factor, offset, gmin, gmax = scalings[e]
        lines += [f"scaling_factor {_numbers(factor)}", f"scaling_offset {_numbers(offset)}",
                  f"training_min {_numbers(gmin)}", f"training_max {_numbers(gmax)}"]
        weights, biases, activations, normalize = model.networks[s].kernel_spec()
        lines.append(f"network {len(weights)} {int(bool(normalize))}")
        for W, b, act in zip(weights, biases, activations):
            W = np.asarray(W, dtype=np.float64)
            lines += [f"layer {W.shape[1]} {W.shape[0]} {int(act)}", _numbers(W), _numbers(b)]
    lines.append("end")
    return "\n".join(lines) + "\n"


def export_lammps(model: HDNNP, directory: str | os.PathLike) -> dict:
    """Write ``potforge.lammps`` and ``in.lammps`` (with the ``plugin load`` line of the
    plugin built for the installed LAMMPS) into ``directory``. If the plugin cannot be built
    here, in.lammps names it by file name and ``note`` says why and how to build it."""
    from ...data.lammps.plugin import PluginError, plugin_path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / MODEL_FILE
    with atomic_write(model_path) as handle:
        handle.write(model_file_text(model))
    note = None
    try:
        plugin = str(plugin_path())
    except PluginError as err:   # (plugin_path turns OSError of the cache folder into one too)
        from ...data.lammps.plugin import PLUGIN_NAME

        plugin = PLUGIN_NAME
        note = (f"the LAMMPS plugin could not be built here ({err.reason}); build it where LAMMPS runs "
                f"with 'potforge lammps plugin' and put its path in the plugin load line of in.lammps")
    species = list(model.species)
    pair_style = "potforge"
    pair_coeff = [f"pair_coeff * * {MODEL_FILE} {' '.join(species)}"]
    notes = ["pair_style potforge is potforge's LAMMPS plugin (potforge lammps plugin prints its path); "
             "energies include the model's per-atom offsets, so they equal potforge's.",
             "Extrapolation: compute ex all pair potforge gives c_ex[1] atoms and c_ex[2] symmetry functions "
             "outside the training range this step, c_ex[3] the warnings so far (all ranks), c_ex[4] the atoms it evaluated."]
    text = input_script(
        title=f"LAMMPS input for a potforge 2G HDNNP of {', '.join(species)} (potforge {__version__})",
        species=species, masses=[float(atomic_masses[atomic_numbers[s]]) for s in species],
        pair_style=pair_style, pair_coeff=pair_coeff, offsets={s: 0.0 for s in species}, notes=notes,
        setup=[f"plugin load {plugin}"])
    input_path = out / "in.lammps"
    with atomic_write(input_path) as handle:
        handle.write(text)
    record = {"files": [model_path, input_path], "potential_file": model_path, "potential_files": [model_path],
              "input": input_path, "pair_style": pair_style, "pair_coeff": pair_coeff, "species": species,
              "energy_offsets": {s: 0.0 for s in species}, "plugin": plugin}
    if note:
        record["note"] = note
    return record
