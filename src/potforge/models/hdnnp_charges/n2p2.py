"""n2p2 4G model directories (``nnp_generation 4``) read as :class:`HDNNP4G` and written back.

Files: ``input.nn``, ``scaling.data``, ``weights.ZZZ.data`` (short-range networks: the
symmetry functions and the charge as the last input), ``weightse.ZZZ.data``
(electronegativity networks, ``global_*_electrostatic`` keywords) and ``hardness.ZZZ.data``
(atomic hardness J, energy unit / e²). Facts followed (n2p2 v2.3):

- both networks take the same ``symfunction_short``/``symfunction`` functions, scaled as in
  2G; the short-range network's extra input is the raw charge (Mode.cpp,
  setupNeuralNetwork: nsf + 1 inputs; calculateAtomicNeuralNetworks: ``setInput(G.size(),
  charge)``); χ is the electronegativity network's raw output;
- ``fixed_gausswidth <element> <σ>`` in the length unit; ``screen_electrostatics <inner>
  <outer> [core]`` with the cosine core by default; ``ewald_truncation_error_method`` 0
  (default, ``ewald_prec <precision>``) or 1 (``ewald_prec <precision> <max charge>
  [<real cutoff>]``); ``four_pi_epsilon`` (default 1: k_e = 1 in the files' units);
- ``initial_hardness`` only starts training; prediction reads ``hardness.ZZZ.data``.

Refused with a one-line error naming file and line: a weight file whose count differs from
the architecture (n2p2 silently leaves the missing weights at zero: Carbon_chain_4G's
shipped input.nn), a missing element in ``fixed_gausswidth``, hardness or widths outside
physical bounds, a ``four_pi_epsilon`` that with the given units is not the physical Coulomb
constant (the usual sign of files in Bohr/Hartree read with the default Å/eV), and incomplete
data-set normalisation (n2p2 refuses it too).

Data-set normalisation (``mean_energy``, ``conv_energy``, ``conv_length``, optional
``conv_charge``; Mode::setupNormalization) as n2p2's nnp-predict applies it: the structure is
converted to normalised units (positions × conv_length, total charge × conv_charge, energies
(E − N · mean_energy) × conv_energy; Structure::toNormalizedUnits), every model quantity in
``input.nn`` and the hardness files is physical and converted with it (symmetry-function and
screening radii, ``fixed_gausswidth``, hardness, 4πε, the Kolafa-Perram precision and fixed
real cutoff; Mode::setupElectrostatics), the χ network's output is physical
(``normalized("negativity", chi)`` after the network, Mode::calculateAtomicNeuralNetworks),
and the results are converted back (Prediction::predict). All of that is the physical model
unchanged except for two things, which is all this reader applies:

- E = Σ_i NN^s_i / conv_energy + N · mean_energy + offsets + E_elec: the short-range output
  scale is (energy unit) / conv_energy and mean_energy becomes part of every atom's offset;
- the short-range network's charge input is the normalised charge q · conv_charge (folded
  into the first-layer weights of that input).

The Ewald parameters come out physically the same: Jackson-Catlow's are lengths of the
normalised cell; Kolafa-Perram leaves the maximum charge unconverted but also omits
conv_charge² from its 4πε (EwaldSetup::toNormalizedUnits), and the two cancel. The writer
emits the equivalent un-normalised files (scales folded into the weights and offsets).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from ...core.atomic import atomic_directory, atomic_write
from ...core.errors import ModelFormatError
from ...core.text import shorten
from ...core.units import energy_factor, length_factor
from ...data.n2p2_model import (N2p2Settings, n2p2_generation, network_architecture, read_hardness,
                                read_input_nn, read_weights, weights_file_name, write_hardness, write_scaling,
                                write_weights)
from ...electrostatics import COULOMB
from ..hdnnp.n2p2 import (_input_nn_lines, _normalisation, _read_scaling, _species, _symmetry_functions,
                          atom_energy_values)
from ..network import ACTIVATIONS, MAX_PARAMETER, AtomicNetwork
from .potential4g import HDNNP4G
from .settings import MAX_HARDNESS, MAX_WIDTH, ElectrostaticSettings, EwaldSettings

__all__ = ["read_n2p2_4g_model", "write_n2p2_4g_model", "export_n2p2_4g"]

_NORMALISATION = ("mean_energy", "conv_energy", "conv_length", "conv_charge")


def read_n2p2_4g_model(directory: str | os.PathLike, *, length_unit: str = "angstrom",
                       energy_unit: str = "ev") -> HDNNP4G:
    """Load an n2p2 4G model directory (Å, eV, e inside).

    Parameters
    ----------
    directory : path
        ``input.nn``, ``scaling.data``, ``weights.ZZZ.data``, ``weightse.ZZZ.data``,
        ``hardness.ZZZ.data``.
    length_unit, energy_unit : str
        Units of the files (n2p2's shipped 4G models: ``bohr``, ``hartree``).
    """
    directory = Path(directory)
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    settings = read_input_nn(directory / "input.nn")
    if n2p2_generation(settings) != 4:
        raise ModelFormatError("declares no 'nnp_generation 4'; read 2G models with the hdnnp "
                               "family", path=settings.path)
    normalisation = _normalisation_4g(settings, E)
    mean_energy, conv_energy, _, conv_charge = normalisation or (0.0, 1.0, 1.0, 1.0)
    _check_coulomb_constant(settings, L, E, length_unit, energy_unit)
    species = _species(settings)
    # n2p2 adds N · mean_energy to every structure's energy: the same as a per-atom offset
    atom_energies = {s: e + mean_energy * E for s, e in atom_energy_values(settings, species, E).items()}
    sfs = _symmetry_functions(settings, species, L)
    scaling = _read_scaling(directory / "scaling.data", settings, sfs)
    chi_nets, short_nets, hardness = {}, {}, {}
    for s in species:
        n_sf = sfs.n_functions(s)
        z = atomic_numbers[s]
        chi_nets[s] = _network(directory / weights_file_name(z, "weightse"), settings, s, n_sf,
                               "electrostatic", "symmetry functions")
        short_nets[s] = _charge_input_scaled(
            _network(directory / weights_file_name(z), settings, s, n_sf + 1, "short",
                     "inputs (symmetry functions and the charge)"), conv_charge)
        path = directory / weights_file_name(z, "hardness")
        hardness[s] = read_hardness(path, s, low=-MAX_HARDNESS / E, high=MAX_HARDNESS / E) * E
        if hardness[s] <= 0:  # A + J may be indefinite: a saddle point, not charges
            raise ModelFormatError(f"hardness of {s} is {hardness[s] / E!r}, expected a positive "
                                   "number (J <= 0 makes the charge equilibration a saddle point)",
                                   path=os.fspath(path))
    electrostatics = ElectrostaticSettings(_widths(settings, species, L), _screening(settings, L),
                                           _ewald(settings, length_unit, energy_unit),
                                           convention="n2p2", n2p2_cutoffs=sf_cutoffs(sfs))
    metadata = {"source": "n2p2", "directory": os.fspath(directory.resolve()),
                "n2p2_units": {"length": length_unit, "energy": energy_unit}}
    if normalisation:
        metadata["n2p2_normalisation"] = dict(zip(_NORMALISATION, normalisation))
    return HDNNP4G(sfs, scaling, chi_nets, short_nets, hardness, electrostatics,
                   output_scale=E / conv_energy, chi_scale=E, atom_energies=atom_energies,
                   metadata=metadata)


def _normalisation_4g(settings: N2p2Settings, E: float) -> tuple[float, float, float, float] | None:
    """(mean_energy, conv_energy, conv_length, conv_charge) as written, or None without
    data-set normalisation. Like n2p2 (Mode::setupNormalization): the first three together
    or none, ``conv_charge`` optional (default 1) but never alone."""
    base = _normalisation(settings, E)
    if base is None:
        if settings.has("conv_charge"):
            raise settings.error("conv_charge", "data-set normalisation needs mean_energy, conv_energy "
                                 "and conv_length as well (n2p2 refuses conv_charge alone)")
        return None
    conv_charge = settings.bounded("conv_charge", 1e-6, 1e6) if settings.has("conv_charge") else 1.0
    return (*base, conv_charge)


def _charge_input_scaled(net: AtomicNetwork, conv_charge: float) -> AtomicNetwork:
    """The short-range network with its charge input (the last) in e: n2p2 feeds it the
    normalised charge q · conv_charge, so the charge column of the first layer's weights is
    multiplied by conv_charge (exact: the input enters the layer linearly, also with
    ``normalize_nodes``)."""
    if conv_charge == 1.0:
        return net
    weights = [w.copy() for w in net.weights]
    weights[0][:, -1] *= conv_charge
    return AtomicNetwork(weights, [b.copy() for b in net.biases], net.activations, net.normalize)


def _network(path: Path, settings: N2p2Settings, element: str, n_inputs: int, suffix: str,
             inputs: str) -> AtomicNetwork:
    sizes, activations = network_architecture(settings, element, n_inputs, ACTIVATIONS, suffix=suffix)
    weights, biases = read_weights(path, sizes, element, limit=MAX_PARAMETER,
                                   keyword=f"global_nodes_{suffix}", inputs=inputs)
    try:
        return AtomicNetwork(weights, biases, activations, settings.has("normalize_nodes"))
    except ValueError as err:
        raise ModelFormatError(str(err), path=os.fspath(path)) from None


def _widths(settings: N2p2Settings, species: tuple[str, ...], L: float) -> dict[str, float]:
    widths: dict[str, float] = {}
    for line, value in settings.all("fixed_gausswidth"):
        parts = value.split()
        if len(parts) != 2 or parts[0] not in species:
            raise settings.error("fixed_gausswidth", f"expected '<element> <width>' for one of "
                                 f"{' '.join(species)}, found {shorten(value)!r}", line)
        if parts[0] in widths:
            raise settings.error("fixed_gausswidth", f"{parts[0]} is given twice", line)
        widths[parts[0]] = settings.bounded("fixed_gausswidth", 1e-3, MAX_WIDTH, parts[1], line,
                                            unit=" Å", factor=L)
    missing = [s for s in species if s not in widths]
    if missing:
        raise ModelFormatError(f"fixed_gausswidth: no width for {', '.join(missing)}; 4G models "
                               "need one per element", path=settings.path)
    return widths


def sf_cutoffs(sfs) -> dict[str, tuple[float, ...]]:
    """Every element's distinct symmetry-function cutoffs (Å): the radii n2p2 stores neighbour
    counts for (Element::getCutoffRadii), which decide the reach of its real-space Ewald sum."""
    return {s: tuple(sorted({sf.cutoff_radius for sf in fs})) for s, fs in sfs.functions.items()}


def _screening(settings: N2p2Settings, L: float) -> tuple[float, float, str] | None:
    value = settings.get("screen_electrostatics")
    if value is None:
        return None
    parts = value.split()
    if len(parts) not in (2, 3):
        raise settings.error("screen_electrostatics", f"expected '<inner> <outer> [core]', found "
                             f"{shorten(value)!r}")
    inner = settings.bounded("screen_electrostatics", 0.0, 100.0, parts[0], unit=" Å", factor=L)
    outer = settings.bounded("screen_electrostatics", 0.0, 100.0, parts[1], unit=" Å", factor=L)
    if not inner < outer:
        raise settings.error("screen_electrostatics", f"inner radius {parts[0]} must be below the "
                             f"outer radius {parts[1]}")
    core = parts[2] if len(parts) == 3 else "c"
    from ...electrostatics.screening import CORE_FUNCTIONS

    if core not in CORE_FUNCTIONS:
        raise settings.error("screen_electrostatics", f"unknown core function {core!r}; expected "
                             f"one of {', '.join(CORE_FUNCTIONS)}")
    return inner, outer, core


def _ewald(settings: N2p2Settings, length_unit: str, energy_unit: str) -> EwaldSettings:
    method_value = settings.get("ewald_truncation_error_method", "0")
    if method_value not in ("0", "1"):
        raise settings.error("ewald_truncation_error_method", f"{method_value!r}; expected 0 "
                             "(Jackson-Catlow) or 1 (Kolafa-Perram)")
    prec = settings.get("ewald_prec")
    if prec is None:
        if method_value == "1":
            raise settings.error("ewald_truncation_error_method", "method 1 needs 'ewald_prec "
                                 "<precision> <max charge> [<real cutoff>]'")
        return EwaldSettings()  # n2p2 cannot sum periodic cells without it: potforge's choice
    parts = prec.split()
    expected = (1,) if method_value == "0" else (2, 3)
    if len(parts) not in expected:
        form = "<precision>" if method_value == "0" else "<precision> <max charge> [<real cutoff>]"
        raise settings.error("ewald_prec", f"ewald_truncation_error_method {method_value} takes "
                             f"'{form}', found {shorten(prec)!r}")
    precision = settings.bounded("ewald_prec", 1e-16, 0.999, parts[0])
    max_charge = settings.bounded("ewald_prec", 1e-6, 100.0, parts[1], unit=" e") if len(parts) > 1 else None
    real_cutoff = settings.bounded("ewald_prec", 1e-3, 1e3, parts[2]) if len(parts) > 2 else None
    return EwaldSettings("jackson-catlow" if method_value == "0" else "kolafa-perram", precision,
                         max_charge, real_cutoff, length_unit, energy_unit)


def _check_coulomb_constant(settings: N2p2Settings, L: float, E: float, length_unit: str,
                            energy_unit: str) -> None:
    """n2p2's k_e is 1 / four_pi_epsilon in the files' units; potforge uses the physical
    constant, so the two must agree (1e-6 relative)."""
    four_pi_eps = settings.float("four_pi_epsilon") if settings.has("four_pi_epsilon") else 1.0
    if not four_pi_eps > 0:
        raise settings.error("four_pi_epsilon", f"{four_pi_eps!r} must be positive")
    implied = E * L / four_pi_eps
    if abs(implied / COULOMB - 1.0) > 1e-6:
        message = (f"four_pi_epsilon {four_pi_eps:g} in {length_unit}/{energy_unit} gives a Coulomb "
                   f"constant of {implied:.6g} eV Å/e², not the physical {COULOMB:.6g}; are the files "
                   "in bohr/hartree (length_unit, energy_unit)?")
        if settings.has("four_pi_epsilon"):
            raise settings.error("four_pi_epsilon", message)
        raise ModelFormatError(message + " (n2p2's default four_pi_epsilon is 1)", path=settings.path)


# -- writing -----------------------------------------------------------------------------------------
def write_n2p2_4g_model(model: HDNNP4G, directory: str | os.PathLike, *, length_unit: str = "bohr",
                        energy_unit: str = "hartree") -> Path:
    """Write a 4G model as n2p2 files in the given units (default Bohr/Hartree, where n2p2's
    four_pi_epsilon 1 is the physical constant; other units get the matching
    ``four_pi_epsilon``). Files are written together (a temporary directory that replaces
    ``directory``); an existing ``directory`` may hold only an n2p2 model."""
    directory = Path(directory)
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    _check_target(directory)
    lines = _lines_4g(model, length_unit, energy_unit, L, E)
    species = model.species
    with atomic_directory(directory) as tmp:
        with atomic_write(tmp / "input.nn") as out:
            out.write("\n".join(lines) + "\n")
        stats = [model.scaling.statistics[s] for s in species]
        write_scaling(tmp / "scaling.data",
                      [np.stack([st.minimum, st.maximum, st.mean, st.sigma], 1) for st in stats])
        for s in species:
            z = atomic_numbers[s]
            short, chi = model.short_networks[s], model.electronegativity_networks[s]
            write_weights(tmp / weights_file_name(z), *_rescaled(short, model.output_scale / E))
            write_weights(tmp / weights_file_name(z, "weightse"), *_rescaled(chi, model.chi_scale / E))
            write_hardness(tmp / weights_file_name(z, "hardness"), model.hardness[s] / E)
    return directory


def _rescaled(net: AtomicNetwork, factor: float) -> tuple[list, list]:
    """Weights with the output layer times ``factor`` (the output scale into the files' energy
    unit; exact when the output activation is linear, which n2p2 4G models have)."""
    if factor != 1.0 and net.activations[-1] != "l":
        raise ModelFormatError("n2p2 has no output scale: the output layer must be linear ('l') to "
                               "carry it into the weights")
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    weights[-1] *= factor
    biases[-1] *= factor
    return weights, biases


def _check_target(directory: Path) -> None:
    if directory.exists():
        if not directory.is_dir():
            raise ModelFormatError("exists and is not a directory", path=os.fspath(directory))
        foreign = [p.name for p in directory.iterdir()
                   if not (p.name in ("input.nn", "scaling.data") or
                           (p.name.startswith(("weights.", "weightse.", "hardness."))
                            and p.name.endswith(".data")))]
        if foreign:
            raise ModelFormatError(f"holds other files ({', '.join(sorted(foreign)[:3])}); export to "
                                   "an empty or new directory", path=os.fspath(directory))


def _lines_4g(model: HDNNP4G, length_unit: str, energy_unit: str, L: float, E: float) -> list[str]:
    base = _input_nn_lines(_ShortView(model), length_unit, energy_unit)
    # the 2G writer's normalisation lines do not apply (4G: output scale carried in the weights)
    base = [ln for ln in base if not ln.startswith(("mean_energy", "conv_energy", "conv_length"))]
    at = base.index(next(ln for ln in base if ln.startswith("global_hidden_layers_short")))
    species = model.species
    chi = [model.electronegativity_networks[s] for s in species]
    hidden = {n.architecture[1:-1] for n in chi}
    acts = {n.activations for n in chi}
    if len(hidden) != 1 or len(acts) != 1:
        raise ModelFormatError("n2p2 export needs the same hidden layers and activations of the "
                               "electronegativity networks for all elements")
    (h,), (a,) = hidden, acts
    es = model.electrostatics
    extra = ["nnp_generation 4",
             f"four_pi_epsilon {repr(E * L / COULOMB)}",
             f"global_hidden_layers_electrostatic {len(h)}",
             "global_nodes_electrostatic " + " ".join(map(str, h)),
             "global_activation_electrostatic " + " ".join(a)]
    extra += [f"fixed_gausswidth {s} {repr(es.widths[s] / L)}" for s in species]
    extra += [f"initial_hardness {s} {repr(model.hardness[s] / E)}" for s in species]
    if es.screening is not None:
        inner, outer, core = es.screening
        extra.append(f"screen_electrostatics {repr(inner / L)} {repr(outer / L)} {core}")
    extra += _ewald_lines(es.ewald, length_unit, energy_unit)
    return base[:at] + extra + base[at:]


def _ewald_lines(ewald: EwaldSettings, length_unit: str, energy_unit: str) -> list[str]:
    if ewald.method == "potforge":
        raise ModelFormatError("n2p2 has no form of potforge's own Ewald accuracy; set the model's "
                               "ewald method to jackson-catlow or kolafa-perram for n2p2 export")
    if (ewald.length_unit, ewald.energy_unit) != (length_unit, energy_unit):
        # the precision is a force (Kolafa-Perram) or relative (Jackson-Catlow)
        f = (energy_factor(ewald.energy_unit) / length_factor(ewald.length_unit)) / \
            (energy_factor(energy_unit) / length_factor(length_unit))
        precision = ewald.precision * (f if ewald.method == "kolafa-perram" else 1.0)
        rc = None if ewald.real_cutoff is None else \
            ewald.real_cutoff * length_factor(ewald.length_unit) / length_factor(length_unit)
    else:
        precision, rc = ewald.precision, ewald.real_cutoff
    if ewald.method == "jackson-catlow":
        return ["ewald_truncation_error_method 0", f"ewald_prec {repr(precision)}"]
    args = [repr(precision), repr(ewald.max_charge)] + ([repr(rc)] if rc is not None else [])
    return ["ewald_truncation_error_method 1", "ewald_prec " + " ".join(args)]


class _ShortView:
    """The parts of a 4G model that the 2G ``input.nn`` writer reads (symmetry functions,
    scaling, short-range networks, offsets)."""

    def __init__(self, model: HDNNP4G) -> None:
        self.symmetry_functions = model.symmetry_functions
        self.scaling = model.scaling
        self.networks = model.short_networks
        self.atom_energies = model.atom_energies
        self.species = model.species
        self.mean_energy = 0.0
        self.output_scale = 1.0


def export_n2p2_4g(model: HDNNP4G, directory: str | os.PathLike, *, length_unit: str = "bohr",
                   energy_unit: str = "hartree", allow_charged_difference: bool = False) -> dict:
    """The 4G family's exporter (``potforge export --format n2p2``; default Bohr/Hartree).

    n2p2 computes the electrostatics in its own convention (no neutralising background for
    charged periodic cells, its real-space Ewald range): a model in potforge's ``physical``
    convention would predict charged periodic cells differently once re-read, so its export
    is refused unless ``allow_charged_difference`` (``--allow-charged-difference``), which
    writes it with a note. Models read from n2p2 carry ``convention="n2p2"`` and export as
    they are."""
    convention = model.electrostatics.convention
    note = None
    if convention != "n2p2":
        if not allow_charged_difference:
            raise ModelFormatError(f"the model's electrostatics use the {convention} convention (a neutralising "
                                   "background for charged periodic cells), which n2p2's files cannot hold: "
                                   "charged periodic cells would predict differently after export; pass "
                                   "--allow-charged-difference (allow_charged_difference=True) to write it anyway")
        note = (f"written from a {convention}-convention model: n2p2 (and the re-read model) has no "
                "neutralising background, so charged periodic cells predict differently")
        warnings.warn(note, stacklevel=2)
    directory = write_n2p2_4g_model(model, directory, length_unit=length_unit, energy_unit=energy_unit)
    return {"files": sorted(directory.iterdir()), "directory": directory, "note": note}
