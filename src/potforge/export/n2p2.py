"""n2p2 model directories: ``input.nn``, ``scaling.data``, ``weights.ZZZ.data``.

Reading turns an n2p2 2G model into a :class:`~potforge.models.hdnnp.HDNNP` that predicts
what n2p2 predicts; writing produces files that n2p2 (and LAMMPS ``pair_style hdnnp``) read.
Facts followed here (n2p2 v2.3, checked against its source and outputs):

- elements are ordered by atomic number; ``weights.ZZZ.data`` is named by atomic number;
- the symmetry functions of an element are sorted (see ``SymmetryFunction.n2p2_sort_key``)
  and the k-th sorted function is network input k and row k of ``scaling.data``;
- ``global_activation_short`` has one letter per hidden layer plus one for the output;
- weight files list, layer by layer, all weights (previous-layer neuron outer, next-layer
  neuron inner) and then the biases; only the first column is data;
- with data-set normalisation, E = Σ_i NN_i / conv_energy + N · mean_energy + Σ_i E_atom.

Unlike n2p2, the reader checks that the weight files fit the architecture (n2p2 silently
reads the first values it needs and leaves the rest at zero) and that ``scaling.data`` rows
carry the expected element and function indices.

n2p2 is unit-agnostic: ``length_unit``/``energy_unit`` say what the model's files use.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from ..core.atomic import atomic_directory, atomic_write
from ..core.errors import ModelFormatError
from ..core.text import is_number, read_text
from ..core.units import energy_factor, length_factor
from ..descriptors.cutoffs import CUTOFF_TYPES
from ..descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from ..descriptors.symmetry_functions import SymmetryFunctionSet, parse_n2p2_symfunction
from ..models.hdnnp import HDNNP, AtomicNetwork
from ..models.hdnnp.network import ACTIVATIONS

__all__ = ["read_n2p2_model", "write_n2p2_model", "read_input_nn", "is_n2p2_model", "N2p2Settings"]

# n2p2 >= 2.2 also calls symmetry functions "symfunction" (shared by all networks of 4G models)
_ALIASES = {"symfunction": "symfunction_short", "nn_type": "nnp_type"}
_REPEATABLE = {"symfunction_short", "atom_energy", "element_nodes_short",
               "element_hidden_layers_short", "element_activation_short", "initial_hardness",
               "fixed_gausswidth", "symfunction_electrostatic", "element_nodes_electrostatic"}


@dataclass
class N2p2Settings:
    """The keywords of an ``input.nn``: keyword -> list of (line number, value string)."""

    path: str
    entries: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str, default: str | None = None) -> str | None:
        values = self.entries.get(key)
        return values[0][1] if values else default

    def line(self, key: str) -> int | None:
        values = self.entries.get(key)
        return values[0][0] if values else None

    def all(self, key: str) -> list[tuple[int, str]]:
        return self.entries.get(key, [])

    def error(self, key: str, message: str, line: int | None = None) -> ModelFormatError:
        return ModelFormatError(f"{key}: {message}", path=self.path,
                                line=line if line is not None else self.line(key))


def read_input_nn(path: str | os.PathLike) -> N2p2Settings:
    """Parse an n2p2 settings file (comments start with ``#`` or ``!``)."""
    settings = N2p2Settings(os.fspath(path))
    text = read_text(path, "an n2p2 input.nn", ModelFormatError)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split("!", 1)[0].strip()
        if not line:
            continue
        key, *rest = line.split(None, 1)  # any whitespace, as n2p2
        key = _ALIASES.get(key, key)
        value = " ".join(rest[0].split()) if rest else ""
        if key in settings.entries and key not in _REPEATABLE:
            raise ModelFormatError(f"keyword {key!r} appears again (first at line "
                                   f"{settings.entries[key][0][0]})", path=settings.path, line=lineno)
        settings.entries.setdefault(key, []).append((lineno, value))
    return settings


def is_n2p2_model(directory: str | os.PathLike) -> bool:
    return (Path(directory) / "input.nn").is_file()


def _float(settings: N2p2Settings, key: str, value: str, line: int | None = None) -> float:
    try:
        return float(value)
    except ValueError:
        raise settings.error(key, f"{value!r} is not a number", line) from None


def _int(settings: N2p2Settings, key: str, value: str, line: int | None = None) -> int:
    try:
        return int(value)
    except ValueError:
        raise settings.error(key, f"{value!r} is not an integer", line) from None


def read_n2p2_model(directory: str | os.PathLike, *, length_unit: str = "angstrom",
                    energy_unit: str = "ev") -> HDNNP:
    """Load an n2p2 2G model directory as an HDNNP (Å, eV inside).

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

    generation = settings.get("nnp_generation") or settings.get("nnp_type")
    if generation not in (None, "2", "2G-HDNNP"):
        raise settings.error("nnp_generation" if settings.has("nnp_generation") else "nnp_type",
                             f"generation {generation!r} is not supported yet; potforge reads 2G "
                             "(short-range) n2p2 models")

    # elements, ordered by atomic number as n2p2 does
    elements_value = settings.get("elements")
    if elements_value is None:
        raise ModelFormatError("keyword 'elements' is missing", path=settings.path)
    symbols = elements_value.split()
    for s in symbols:
        if s not in atomic_numbers or s == "X":
            raise settings.error("elements", f"unknown element {s!r}")
    n_declared = settings.get("number_of_elements")
    if n_declared is not None and _int(settings, "number_of_elements", n_declared) != len(symbols):
        raise settings.error("number_of_elements", f"says {n_declared} but 'elements' lists "
                             f"{len(symbols)}: {' '.join(symbols)}")
    species = tuple(sorted(symbols, key=lambda s: atomic_numbers[s]))

    atom_energies = {s: 0.0 for s in species}
    for line, value in settings.all("atom_energy"):
        parts = value.split()
        if len(parts) != 2 or parts[0] not in atom_energies:
            raise settings.error("atom_energy", f"expected '<element> <energy>' for one of "
                                 f"{' '.join(species)}, found {value!r}", line)
        atom_energies[parts[0]] = _float(settings, "atom_energy", parts[1], line) * E

    # cutoff type (one for all functions)
    cut_value = settings.get("cutoff_type")
    if cut_value is None:
        raise ModelFormatError("keyword 'cutoff_type' is missing", path=settings.path)
    parts = cut_value.split()
    if not 1 <= len(parts) <= 2:
        raise settings.error("cutoff_type", f"expected '<type> [alpha]', found {cut_value!r}")
    cut_index = _int(settings, "cutoff_type", parts[0])
    names = {v: k for k, v in CUTOFF_TYPES.items()}
    if cut_index not in names:
        raise settings.error("cutoff_type", f"{cut_index} is not a cutoff type (0-8)")
    alpha = _float(settings, "cutoff_type", parts[1]) if len(parts) > 1 else 0.0
    if not 0.0 <= alpha < 1.0:
        raise settings.error("cutoff_type", f"inner cutoff alpha {alpha} must be in [0, 1)")

    functions: dict[str, list] = {s: [] for s in species}
    for line, value in settings.all("symfunction_short"):
        fields = value.split()
        try:
            sf = parse_n2p2_symfunction(fields, length_unit=L, cutoff_type=cut_index, cutoff_alpha=alpha)
        except ValueError as err:
            raise settings.error("symfunction_short", str(err), line) from None
        if sf.element not in functions or any(n not in functions for n in sf.neighbors):
            raise settings.error("symfunction_short", f"uses an element outside 'elements' "
                                 f"({' '.join(species)})", line)
        if sf.type in (3, 9) and sf.shift < 0:
            warnings.warn(f"{settings.path}:{line}: negative rshift; n2p2's grouped evaluation treats "
                          "it as 0 for types 3/9, potforge uses the value as written", stacklevel=2)
        functions[sf.element].append(sf)
    for s in species:
        if not functions[s]:
            raise ModelFormatError(f"element {s} has no symfunction_short lines", path=settings.path)
    sfs = SymmetryFunctionSet(species, functions)

    scaling = _read_scaling(directory / "scaling.data", settings, sfs)
    networks = {s: _read_network(directory, settings, s, sfs.n_functions(s)) for s in species}

    norm_keys = ("mean_energy", "conv_energy", "conv_length")
    present = [k for k in norm_keys if settings.has(k)]
    if present and len(present) != 3:
        missing = [k for k in norm_keys if k not in present]
        raise ModelFormatError(f"data-set normalisation needs mean_energy, conv_energy and "
                               f"conv_length; missing {', '.join(missing)}", path=settings.path)
    if present:
        mean_energy = _float(settings, "mean_energy", settings.get("mean_energy"))
        conv_energy = _float(settings, "conv_energy", settings.get("conv_energy"))
        conv_length = _float(settings, "conv_length", settings.get("conv_length"))
        if not conv_energy > 0 or not conv_length > 0:
            raise settings.error("conv_energy", "conv_energy and conv_length must be positive")
    else:
        mean_energy, conv_energy, conv_length = 0.0, 1.0, 1.0
    metadata = {
        "source": "n2p2",
        "directory": os.fspath(directory.resolve()),
        "n2p2_units": {"length": length_unit, "energy": energy_unit},
        "n2p2_normalisation": {"mean_energy": mean_energy, "conv_energy": conv_energy,
                               "conv_length": conv_length} if present else None,
    }
    return HDNNP(sfs, scaling, networks, output_scale=E / conv_energy, mean_energy=mean_energy * E,
                 atom_energies=atom_energies, metadata=metadata)


def _scaling_mode(settings: N2p2Settings) -> str:
    scale = settings.has("scale_symmetry_functions")
    center = settings.has("center_symmetry_functions")
    if scale and center:
        return "scalecenter"
    if scale:
        return "scale"
    if center:
        return "center"
    if settings.has("scale_symmetry_functions_sigma"):
        return "scalesigma"
    return "none"


def _read_scaling(path: Path, settings: N2p2Settings, sfs: SymmetryFunctionSet) -> SymmetryFunctionScaling:
    mode = _scaling_mode(settings)
    smin = _float(settings, "scale_min_short", settings.get("scale_min_short", "0.0"))
    smax = _float(settings, "scale_max_short", settings.get("scale_max_short", "1.0"))
    name = os.fspath(path)
    if not path.is_file():
        raise ModelFormatError("missing; n2p2 models need the symmetry-function statistics of "
                               "the training set (written by nnp-scaling)", path=name)
    rows: list[tuple[int, list[float]]] = []
    lines = read_text(path, "an n2p2 scaling.data", ModelFormatError).splitlines()
    data_lines = [k for k, raw in enumerate(lines) if raw.strip() and not raw.strip().startswith("#")]
    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        if len(fields) == 2 and lineno - 1 == data_lines[-1]:
            continue  # RuNNer-style files end with the per-atom energy range: not used
        if len(fields) < 5:
            raise ModelFormatError(f"expected 'element sf min max mean [sigma]', found {len(fields)} "
                                   "columns", path=name, line=lineno)
        try:
            values = [float(x) for x in fields[:6]]
        except ValueError:
            raise ModelFormatError("non-numeric value", path=name, line=lineno) from None
        if len(values) == 5:
            values.append(0.0)
        rows.append((lineno, values))
    expected = sum(sfs.n_functions(s) for s in sfs.species)
    if len(rows) != expected:
        raise ModelFormatError(f"{len(rows)} rows, expected {expected} (one per symmetry function "
                               f"of {', '.join(f'{s}: {sfs.n_functions(s)}' for s in sfs.species)})",
                               path=name)
    stats = {}
    k = 0
    for e, s in enumerate(sfs.species, start=1):
        n = sfs.n_functions(s)
        block = rows[k:k + n]
        for q, (lineno, values) in enumerate(block, start=1):
            if not all(math.isfinite(v) for v in values):
                raise ModelFormatError("non-finite value", path=name, line=lineno)
            if (values[0], values[1]) != (e, q):
                raise ModelFormatError(f"row is element {values[0]:g}, function {values[1]:g};"
                                       f" expected element {e} ({s}), function {q}", path=name, line=lineno)
        arr = np.array([v for _, v in block])
        stats[s] = ScalingStatistics(arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5])
        k += n
    scaling = SymmetryFunctionScaling(mode, stats, smin, smax)
    for s in sfs.species:
        try:
            scaling.affine(s)
        except ValueError as err:
            raise ModelFormatError(str(err), path=name) from None
    return scaling


def _architecture(settings: N2p2Settings, element: str, n_inputs: int) -> tuple[list[int], str]:
    layers_value = settings.get("global_hidden_layers_short")
    nodes_value = settings.get("global_nodes_short")
    act_value = settings.get("global_activation_short")
    for line, value in settings.all("element_hidden_layers_short"):
        parts = value.split()
        if parts and parts[0] == element:
            layers_value = " ".join(parts[1:])
    for line, value in settings.all("element_nodes_short"):
        parts = value.split()
        if parts and parts[0] == element:
            nodes_value = " ".join(parts[1:])
    for line, value in settings.all("element_activation_short"):
        parts = value.split()
        if parts and parts[0] == element:
            act_value = " ".join(parts[1:])
    if layers_value is None or nodes_value is None or act_value is None:
        raise ModelFormatError("global_hidden_layers_short, global_nodes_short and "
                               "global_activation_short are required", path=settings.path)
    n_hidden = _int(settings, "global_hidden_layers_short", layers_value)
    nodes = [_int(settings, "global_nodes_short", v) for v in nodes_value.split()]
    if len(nodes) != n_hidden or any(n < 1 for n in nodes):
        raise settings.error("global_nodes_short", f"{n_hidden} hidden layers declared but "
                             f"{len(nodes)} positive sizes given ({nodes_value!r})")
    letters = act_value.split()
    if len(letters) != n_hidden + 1:
        raise settings.error("global_activation_short", f"needs {n_hidden + 1} letters (one per "
                             f"hidden layer and one for the output), found {len(letters)}")
    for a in letters:
        if a not in ACTIVATIONS:
            raise settings.error("global_activation_short", f"unknown activation {a!r}; expected "
                                 f"one of {' '.join(ACTIVATIONS)}")
    return [n_inputs, *nodes, 1], "".join(letters)


def _read_network(directory: Path, settings: N2p2Settings, element: str, n_inputs: int) -> AtomicNetwork:
    sizes, activations = _architecture(settings, element, n_inputs)
    path = directory / f"weights.{atomic_numbers[element]:03d}.data"
    name = os.fspath(path)
    if not path.is_file():
        raise ModelFormatError(f"weights of element {element} missing", path=name)
    rows: list[list[str]] = []
    lines: list[int] = []
    text = read_text(path, f"the weights of {element}", ModelFormatError)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if fields and not fields[0].startswith("#"):
            rows.append(fields)
            lines.append(lineno)
    expected = sum(sizes[l - 1] * sizes[l] + sizes[l] for l in range(1, len(sizes)))
    arch = "-".join(map(str, sizes))
    if len(rows) != expected:
        raise ModelFormatError(
            f"{len(rows)} values, but the architecture {arch} from input.nn "
            f"(global_nodes_short, {n_inputs} symmetry functions of {element}) needs {expected}; "
            "the weights were written for a different network", path=name)
    try:
        values = np.array([r[0] for r in rows], dtype=np.float64)
    except ValueError:
        bad = next(k for k, r in enumerate(rows) if not is_number(r[0]))
        raise ModelFormatError(f"{rows[bad][0]!r} is not a number", path=name, line=lines[bad]) from None
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ModelFormatError("non-finite weight", path=name, line=lines[bad])
    # n2p2 writes 'a count l_s n_s l_e n_e' / 'b count l_e n_e' after each value; where the
    # file has them, check them all, so that a file for another architecture cannot slip through
    expected_tags = _n2p2_tags(tuple(sizes))
    for k, r in enumerate(rows):
        if len(r) > 1 and r[1:] != expected_tags[k][: len(r) - 1]:
            _check_tag(r[1:], expected_tags[k][0], tuple(int(x) for x in expected_tags[k][2:]),
                       name, lines[k])
    weights, biases = [], []
    k = 0
    for l in range(1, len(sizes)):
        n_prev, n_next = sizes[l - 1], sizes[l]
        weights.append(values[k:k + n_prev * n_next].reshape(n_prev, n_next).T.copy())
        k += n_prev * n_next
        biases.append(values[k:k + n_next].copy())
        k += n_next
    return AtomicNetwork(weights, biases, activations, settings.has("normalize_nodes"))


_TAG_CACHE: dict[tuple[int, ...], list[list[str]]] = {}


def _n2p2_tags(sizes: tuple[int, ...]) -> list[list[str]]:
    """The index columns n2p2 writes for each value of a network of these layer sizes."""
    if sizes not in _TAG_CACHE:
        tags: list[list[str]] = []
        count = 0
        for l in range(1, len(sizes)):
            for j in range(sizes[l - 1]):
                for q in range(sizes[l]):
                    count += 1
                    tags.append(["a", str(count), str(l - 1), str(j + 1), str(l), str(q + 1)])
            for q in range(sizes[l]):
                count += 1
                tags.append(["b", str(count), str(l), str(q + 1)])
        _TAG_CACHE[sizes] = tags
    return _TAG_CACHE[sizes]


def _check_tag(tag: list[str], kind: str, where: tuple[int, ...], path: str, line: int) -> None:
    """n2p2 writes 'a index l_s n_s l_e n_e' / 'b index l_e n_e' after the value; check them
    when present, so that a file for another architecture cannot slip through."""
    if not tag:
        return
    expected_len = 1 + 1 + len(where)
    if len(tag) < expected_len or tag[0] != kind:
        raise ModelFormatError(f"expected a {'weight' if kind == 'a' else 'bias'} ('{kind}') entry "
                               f"for layer/neuron {where}, found {' '.join(tag)!r}", path=path, line=line)
    try:
        found = tuple(int(x) for x in tag[2:expected_len])
    except ValueError:
        raise ModelFormatError(f"bad index columns {' '.join(tag)!r}", path=path, line=line) from None
    if found != where:
        raise ModelFormatError(f"entry is for {found}, expected {where} (n2p2 order: per layer all "
                               "weights, previous neuron outer, then biases)", path=path, line=line)


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
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    sfs = model.symmetry_functions
    species = sfs.species
    if list(species) != sorted(species, key=lambda s: atomic_numbers[s]):
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
    for s in species:
        lines.append(f"atom_energy {s} {repr(model.atom_energies[s] / E)}")
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
        for sf in sfs.functions[s]:
            lines.append("symfunction_short " + sf.to_n2p2(length_unit=L))
    with atomic_directory(directory) as tmp:
        with atomic_write(tmp / "input.nn") as out:
            out.write("\n".join(lines) + "\n")
        with atomic_write(tmp / "scaling.data") as out:
            out.write("# element sf min max mean sigma (raw symmetry function statistics)\n")
            for e, s in enumerate(species, start=1):
                st = model.scaling.statistics[s]
                for q in range(len(st)):
                    out.write(f"{e} {q + 1} {repr(float(st.minimum[q]))} {repr(float(st.maximum[q]))} "
                              f"{repr(float(st.mean[q]))} {repr(float(st.sigma[q]))}\n")
        for s, net in zip(species, nets):
            with atomic_write(tmp / f"weights.{atomic_numbers[s]:03d}.data") as out:
                count = 0
                for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
                    for j in range(w.shape[1]):
                        for q in range(w.shape[0]):
                            count += 1
                            out.write(f"{repr(float(w[q, j]))} a {count} {l - 1} {j + 1} {l} {q + 1}\n")
                    for q in range(b.shape[0]):
                        count += 1
                        out.write(f"{repr(float(b[q]))} b {count} {l} {q + 1}\n")
    return directory
