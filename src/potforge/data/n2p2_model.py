"""n2p2 model files as plain data: ``input.nn`` (keywords), ``scaling.data`` (symmetry-function
statistics) and ``weights.ZZZ.data`` (one network per element).

and, for 4G models (``nnp_generation 4``), ``weightse.ZZZ.data`` (electronegativity networks)
and ``hardness.ZZZ.data`` (atomic hardness). These are n2p2's (and RuNNer's) file formats,
read and written once, below every part of
potforge that needs them: the HDNNP family assembles models from them
(:mod:`potforge.models.hdnnp.n2p2`), and training configs take their ``symfunction_short``
lines. Facts followed here (n2p2 v2.3, checked against its source and outputs):

- comments start with ``#`` or ``!``; keywords are separated from values by any whitespace;
- ``weights.ZZZ.data`` is named by atomic number; its first column lists, layer by layer,
  all weights (previous-layer neuron outer, next-layer neuron inner) and then the biases;
  n2p2 writes index columns ``a count l_s n_s l_e n_e`` / ``b count l_e n_e`` after each value;
- ``scaling.data`` has one row ``element function min max mean [sigma]`` per symmetry
  function, elements by atomic number; RuNNer-style files end with a two-column row (the
  per-atom energy range), which is ignored.

Unlike n2p2, the readers check that a weight file fits its architecture (n2p2 silently reads
the first values it needs and leaves the rest at zero), that its index columns, where present,
are exactly the ones n2p2 writes, and that ``scaling.data`` rows carry the expected element and
function indices with min <= mean <= max and sigma >= 0. Every number must be a plain ASCII
number (:func:`potforge.core.text.parse_float`) and finite; the callers pass the magnitude
limits that their physics sets. Values are as written (n2p2 is unit-agnostic); units are the
caller's business.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_write
from ..core.errors import ModelFormatError
from ..core.text import parse_float, parse_int, read_text, shorten

__all__ = ["N2p2Settings", "read_input_nn", "is_n2p2_model", "is_n2p2_4g_model", "n2p2_generation",
           "scaling_mode", "network_architecture", "read_scaling", "write_scaling", "read_weights",
           "write_weights", "weights_file_name", "read_hardness", "write_hardness",
           "cutoff_setting", "symmetry_function_lines"]

# n2p2's alternative keyword names (Settings.cpp, "Alternative keyword names"), read as the
# main name: symmetry functions are also "symfunction" (shared by all networks of 4G models),
# the generation also nnp_generation / nnp_type_gen / nnp_gen ("nn_type": older potforge files)
_ALIASES = {"symfunction": "symfunction_short", "nn_type": "nnp_type", "nnp_generation": "nnp_type",
            "nnp_type_gen": "nnp_type", "nnp_gen": "nnp_type",
            "short_energy_error_threshold": "rmse_threshold_energy",
            "short_force_error_threshold": "rmse_threshold_force",
            "short_energy_fraction": "energy_fraction", "short_force_fraction": "force_fraction"}
_REPEATABLE = {"symfunction_short", "atom_energy", "element_nodes_short",
               "element_hidden_layers_short", "element_activation_short", "initial_hardness",
               "fixed_gausswidth", "symfunction_electrostatic", "element_nodes_electrostatic",
               "element_hidden_layers_electrostatic", "element_activation_electrostatic"}


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

    def float(self, key: str, value: str | None = None, line: int | None = None) -> float:
        """``value`` (default: the keyword's first value) as a finite number, or an error
        naming the line."""
        text = self.get(key) if value is None else value
        line = line if line is not None else self.line(key)
        return parse_float(text if text is not None else "", key, error=ModelFormatError,
                           path=self.path, line=line)

    def int(self, key: str, value: str | None = None, line: int | None = None) -> int:
        text = self.get(key) if value is None else value
        line = line if line is not None else self.line(key)
        return parse_int(text if text is not None else "", key, error=ModelFormatError,
                         path=self.path, line=line)

    def bounded(self, key: str, low: float, high: float, value: str | None = None,
                line: int | None = None, *, unit: str = "", factor: float = 1.0) -> float:
        """``value`` as a number times ``factor`` (a unit conversion), which must lie in
        [low, high]; the error names the line and the range (in the converted unit)."""
        written = self.float(key, value, line)
        number = written * factor
        if not low <= number <= high:
            found = f"{written:g}" + (f" (= {number:g}{unit})" if factor != 1.0 else unit)
            raise self.error(key, f"{found} is outside [{low:g}, {high:g}]{unit}", line)
        return number


def read_input_nn(path: str | os.PathLike) -> N2p2Settings:
    """Parse an n2p2 settings file (comments start with ``#`` or ``!``); a keyword that may
    appear once and appears again is an error naming both lines."""
    settings = N2p2Settings(os.fspath(path))
    text = read_text(path, "an n2p2 input.nn", ModelFormatError)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split("!", 1)[0].strip()
        if not line:
            continue
        key, *rest = line.split(None, 1)  # any whitespace, as n2p2
        written, key = key, _ALIASES.get(key, key)
        value = " ".join(rest[0].split()) if rest else ""
        if key in settings.entries and key not in _REPEATABLE:
            alias = f" (n2p2's {key!r} or one of its other names)" if written != key else ""
            raise ModelFormatError(f"keyword {written!r}{alias} appears again (first at line "
                                   f"{settings.entries[key][0][0]})", path=settings.path, line=lineno)
        settings.entries.setdefault(key, []).append((lineno, value))
    return settings


def is_n2p2_model(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds an ``input.nn``."""
    return (Path(directory) / "input.nn").is_file()


def cutoff_setting(settings: N2p2Settings, *, required: bool = True) -> tuple[int, float] | None:
    """``cutoff_type <type> [alpha]``: n2p2's cutoff-function number and inner fraction α."""
    value = settings.get("cutoff_type")
    if value is None:
        if required:
            raise ModelFormatError("keyword 'cutoff_type' is missing", path=settings.path)
        return None
    parts = value.split()
    if not 1 <= len(parts) <= 2:
        raise settings.error("cutoff_type", f"expected '<type> [alpha]', found {value!r}")
    index = settings.int("cutoff_type", parts[0])
    alpha = settings.float("cutoff_type", parts[1]) if len(parts) > 1 else 0.0
    if not 0.0 <= alpha < 1.0:
        raise settings.error("cutoff_type", f"inner cutoff alpha {alpha} must be in [0, 1)")
    return index, alpha


def symmetry_function_lines(settings: N2p2Settings) -> list[tuple[int, list[str]]]:
    """The ``symfunction_short`` lines: (line number, fields after the keyword)."""
    return [(line, value.split()) for line, value in settings.all("symfunction_short")]


def scaling_mode(settings: N2p2Settings) -> str:
    """potforge's name of the scaling the keywords select (none, scale, center, scalecenter,
    scalesigma)."""
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


def network_architecture(settings: N2p2Settings, element: str, n_inputs: int,
                         activations: Collection[str], *, suffix: str = "short") -> tuple[list[int], str]:
    """Layer sizes (input to output) and activation letters of ``element``'s network: the
    global keywords, overridden by the element's ``element_*_<suffix>`` lines; ``activations``
    are the letters the caller can evaluate. ``suffix``: ``short`` (short-range networks) or
    ``electrostatic`` (4G electronegativity networks, n2p2 ``weightse``)."""
    keys = {k: f"{k}_{suffix}" for k in ("global_hidden_layers", "global_nodes", "global_activation")}
    layers_key, nodes_key, act_key = keys.values()
    layers_value, nodes_value, act_value = (settings.get(k) for k in keys.values())
    for keyword in (f"element_hidden_layers_{suffix}", f"element_nodes_{suffix}",
                    f"element_activation_{suffix}"):
        for line, value in settings.all(keyword):
            parts = value.split()
            if parts and parts[0] == element:
                rest = " ".join(parts[1:])
                if keyword.startswith("element_hidden_layers"):
                    layers_value, layers_key = rest, keyword
                elif keyword.startswith("element_nodes"):
                    nodes_value, nodes_key = rest, keyword
                else:
                    act_value, act_key = rest, keyword
    if layers_value is None or nodes_value is None or act_value is None:
        raise ModelFormatError(f"{', '.join(keys.values())} are required", path=settings.path)
    n_hidden = settings.int(layers_key, layers_value)
    nodes = [settings.int(nodes_key, v) for v in nodes_value.split()]
    if len(nodes) != n_hidden or any(n < 1 for n in nodes):
        raise settings.error(nodes_key, f"{n_hidden} hidden layers declared but "
                             f"{len(nodes)} positive sizes given ({nodes_value!r})")
    letters = act_value.split()
    if len(letters) != n_hidden + 1:
        raise settings.error(act_key, f"needs {n_hidden + 1} letters (one per "
                             f"hidden layer and one for the output), found {len(letters)}")
    for a in letters:
        if a not in activations:
            raise settings.error(act_key, f"unknown activation {a!r}; expected "
                                 f"one of {' '.join(activations)}")
    return [n_inputs, *nodes, 1], "".join(letters)


def n2p2_generation(settings: N2p2Settings) -> int:
    """The generation an ``input.nn`` declares: ``nnp_type`` or any of n2p2's other names for
    it (``nnp_generation``, ``nnp_type_gen``, ``nnp_gen``), also as ``2G-HDNNP``/``4G-HDNNP``;
    2 when absent; other values are an error."""
    key = "nnp_type"
    value = settings.get(key)
    names = {None: 2, "2": 2, "2G-HDNNP": 2, "4": 4, "4G-HDNNP": 4}
    if value not in names:
        raise settings.error(key, f"generation {value!r}; potforge reads n2p2 models of generation "
                             "2 (short-range) and 4 (charge equilibration)")
    return names[value]


def is_n2p2_4g_model(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds an ``input.nn`` that declares generation 4 (a cheap look at
    the file; errors are left to the reader)."""
    path = Path(directory) / "input.nn"
    if not path.is_file():
        return False
    try:
        return n2p2_generation(read_input_nn(path)) == 4
    except ModelFormatError:
        return False


# -- scaling.data -----------------------------------------------------------------------------------
def read_scaling(path: str | os.PathLike, counts: Sequence[tuple[str, int]], *,
                 limit: float = math.inf) -> dict[str, np.ndarray]:
    """Per element (in the file's order, ``counts`` = [(symbol, number of functions)]), an
    array (n_functions, 4) of min, max, mean, sigma (sigma 0 where the file has 5 columns).

    Every value must be finite and at most ``limit`` in magnitude, with min <= max (min == max,
    a function constant on the training set, is legal), min <= mean <= max up to rounding and
    sigma >= 0; errors name the line.
    """
    path = Path(path)
    name = os.fspath(path)
    if not path.is_file():
        raise ModelFormatError("missing; n2p2 models need the symmetry-function statistics of "
                               "the training set (written by nnp-scaling)", path=name)
    rows: list[tuple[int, list[str]]] = []
    for lineno, raw in enumerate(read_text(path, "an n2p2 scaling.data", ModelFormatError).splitlines(),
                                 start=1):
        text = raw.strip()
        if text and not text.startswith("#"):
            rows.append((lineno, text.split()))
    if rows and len(rows[-1][1]) == 2:
        rows.pop()  # RuNNer-style files end with the per-atom energy range: not used
    expected = sum(n for _, n in counts)
    if len(rows) != expected:
        raise ModelFormatError(f"{len(rows)} rows, expected {expected} (one per symmetry function "
                               f"of {', '.join(f'{s}: {n}' for s, n in counts)})", path=name)
    out = {}
    k = 0
    for e, (s, n) in enumerate(counts, start=1):
        table = np.zeros((n, 4))
        for q in range(1, n + 1):
            lineno, fields = rows[k]
            k += 1
            table[q - 1] = _scaling_row(fields, e, s, q, limit, name, lineno)
        out[s] = table
    return out


def _scaling_row(fields: list[str], e: int, symbol: str, q: int, limit: float, name: str,
                 lineno: int) -> list[float]:
    """min, max, mean, sigma of one ``element sf min max mean [sigma]`` row, checked."""
    where = dict(error=ModelFormatError, path=name, line=lineno)
    if len(fields) < 5:
        raise ModelFormatError(f"expected 'element sf min max mean [sigma]', found {len(fields)} "
                               "columns", path=name, line=lineno)
    element = parse_int(fields[0], "element index", **where)
    function = parse_int(fields[1], "symmetry function index", **where)
    if (element, function) != (e, q):
        raise ModelFormatError(f"row is element {element}, function {function}; expected element "
                               f"{e} ({symbol}), function {q}", path=name, line=lineno)
    columns = ("min", "max", "mean", "sigma")
    values = [parse_float(x, c, **where) for x, c in zip(fields[2:6], columns)]
    values += [0.0] * (4 - len(values))
    for c, v in zip(columns, values):
        if abs(v) > limit:
            raise ModelFormatError(f"{c} {v!r} is beyond ±{limit:g}, no symmetry function reaches "
                                   "that", path=name, line=lineno)
    lo, hi, mean, sigma = values
    if lo > hi:
        raise ModelFormatError(f"min {lo!r} > max {hi!r}", path=name, line=lineno)
    slack = 1e-9 * max(abs(lo), abs(hi))  # a mean rounded past the value of a constant function
    if not lo - slack <= mean <= hi + slack:
        raise ModelFormatError(f"mean {mean!r} outside [min, max] = [{lo!r}, {hi!r}]", path=name,
                               line=lineno)
    if sigma < 0:
        raise ModelFormatError(f"sigma {sigma!r} is negative", path=name, line=lineno)
    return values


def write_scaling(path: str | os.PathLike, statistics: Sequence[np.ndarray]) -> None:
    """``scaling.data`` from per-element arrays (n_functions, 4) of min, max, mean, sigma, in
    element order (atomically)."""
    with atomic_write(path) as out:
        out.write("# element sf min max mean sigma (raw symmetry function statistics)\n")
        for e, table in enumerate(statistics, start=1):
            for q, (lo, hi, mean, sigma) in enumerate(np.asarray(table, dtype=np.float64), start=1):
                out.write(f"{e} {q} {repr(float(lo))} {repr(float(hi))} {repr(float(mean))} "
                          f"{repr(float(sigma))}\n")


# -- weights.ZZZ.data -------------------------------------------------------------------------------
def weights_file_name(atomic_number: int, prefix: str = "weights") -> str:
    """``weights.ZZZ.data`` (``prefix`` ``weightse``: 4G electronegativity networks, ``hardness``:
    4G atomic hardness)."""
    return f"{prefix}.{atomic_number:03d}.data"


def read_hardness(path: str | os.PathLike, element: str, *, low: float = -math.inf,
                  high: float = math.inf) -> float:
    """The one number of an n2p2 ``hardness.ZZZ.data`` (4G atomic hardness J, in the model's
    energy unit per e²), which must lie in [low, high]; comment lines (``#``) are skipped.
    n2p2 reads the first column of every line and requires exactly one line; potforge also
    refuses a line with more than one number (n2p2 would ignore the rest)."""
    path = Path(path)
    name = os.fspath(path)
    if not path.is_file():
        raise ModelFormatError(f"atomic hardness of element {element} missing", path=name)
    rows = [(lineno, raw.split()) for lineno, raw in
            enumerate(read_text(path, f"the hardness of {element}", ModelFormatError).splitlines(), start=1)
            if raw.split() and not raw.split()[0].startswith("#")]
    if len(rows) != 1:
        raise ModelFormatError(f"{len(rows)} value lines, expected exactly one (the atomic hardness of "
                               f"{element})", path=name, line=rows[1][0] if len(rows) > 1 else None)
    lineno, fields = rows[0]
    # n2p2 reads the first column only; a second number is a damaged or mistaken file: refused
    if len(fields) != 1:
        raise ModelFormatError(f"{len(fields)} numbers on the line, expected one (the atomic hardness "
                               f"of {element})", path=name, line=lineno)
    value = parse_float(fields[0], "hardness", error=ModelFormatError, path=name, line=lineno)
    if not low <= value <= high:
        raise ModelFormatError(f"hardness {fields[0]} of {element} is outside [{low:g}, {high:g}]",
                               path=name, line=lineno)
    return value


def write_hardness(path: str | os.PathLike, value: float) -> None:
    """An n2p2 ``hardness.ZZZ.data`` (atomically)."""
    with atomic_write(path) as out:
        out.write(f"{repr(float(value))}\n")


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


def read_weights(path: str | os.PathLike, sizes: Sequence[int], element: str, *,
                 limit: float = math.inf, keyword: str = "global_nodes_short",
                 inputs: str = "symmetry functions") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights (n_out, n_in) and biases (n_out,) per layer of ``element``'s network with
    layer ``sizes`` (input to output), from an n2p2 weight file.

    Each line holds a value, optionally followed by n2p2's index columns; where present they
    must be exactly ``a count l_s n_s l_e n_e`` / ``b count l_e n_e`` of that position (so that
    a file written for another architecture or order cannot slip through). Values must be
    finite and at most ``limit`` in magnitude. ``keyword`` and ``inputs`` name, in the error
    for a wrong count, the input.nn keyword of the hidden layers and what the inputs are.
    """
    path = Path(path)
    name = os.fspath(path)
    sizes = tuple(int(n) for n in sizes)
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
            f"({keyword}, {sizes[0]} {inputs} of {element}) needs {expected}; "
            "the weights were written for a different network", path=name)
    values = _weight_values([r[0] for r in rows], lines, name, limit)
    expected_tags = _n2p2_tags(sizes)
    for k, r in enumerate(rows):
        if len(r) > 1 and r[1:] != expected_tags[k]:
            _check_tag(r[1:], expected_tags[k], name, lines[k])
    weights, biases = [], []
    k = 0
    for l in range(1, len(sizes)):
        n_prev, n_next = sizes[l - 1], sizes[l]
        weights.append(values[k:k + n_prev * n_next].reshape(n_prev, n_next).T.copy())
        k += n_prev * n_next
        biases.append(values[k:k + n_next].copy())
        k += n_next
    return weights, biases


def _weight_values(tokens: list[str], lines: list[int], path: str, limit: float) -> np.ndarray:
    """The value column as floats: plain ASCII numbers (:func:`parse_float`), finite, at most
    ``limit`` in magnitude. Converted in one call; ``float`` syntax differs from the strict one
    only by Unicode digits and underscores, so those are looked for first."""
    joined = "".join(tokens)
    try:
        if not joined.isascii() or "_" in joined:
            raise ValueError
        values = np.array(tokens, dtype=np.float64)
    except ValueError:  # token by token: the strict reader names the culprit and its line
        values = np.array([parse_float(token, "weight", error=ModelFormatError, path=path, line=line)
                           for token, line in zip(tokens, lines)], dtype=np.float64)
    bad = np.flatnonzero(~(np.abs(values) <= limit))
    if bad.size:
        k = int(bad[0])
        parse_float(tokens[k], "weight", error=ModelFormatError, path=path, line=lines[k])
        raise ModelFormatError(f"weight {tokens[k]} is beyond ±{limit:g}; no trained network has "
                               "such weights", path=path, line=lines[k])
    return values


def _check_tag(tag: list[str], expected: list[str], path: str, line: int) -> None:
    """Index columns that differ from n2p2's as text may still be the same numbers ("01");
    anything else is an error saying what n2p2 would have written there."""
    kind = "weight" if expected[0] == "a" else "bias"
    if len(tag) == len(expected) and tag[0] == expected[0]:
        found = [parse_int(x, "index column", error=ModelFormatError, path=path, line=line)
                 for x in tag[1:]]
        if found == [int(x) for x in expected[1:]]:
            return
    raise ModelFormatError(f"index columns {shorten(' '.join(tag))!r}, expected "
                           f"{' '.join(expected)!r} ({kind} number {expected[1]}; n2p2 order: per "
                           "layer all weights, previous neuron outer, then the biases)",
                           path=path, line=line)


def write_weights(path: str | os.PathLike, weights: Sequence[np.ndarray],
                  biases: Sequence[np.ndarray]) -> None:
    """An n2p2 weight file, with n2p2's index columns (atomically)."""
    with atomic_write(path) as out:
        count = 0
        for l, (w, b) in enumerate(zip(weights, biases), start=1):
            for j in range(w.shape[1]):
                for q in range(w.shape[0]):
                    count += 1
                    out.write(f"{repr(float(w[q, j]))} a {count} {l - 1} {j + 1} {l} {q + 1}\n")
            for q in range(b.shape[0]):
                count += 1
                out.write(f"{repr(float(b[q]))} b {count} {l} {q + 1}\n")
