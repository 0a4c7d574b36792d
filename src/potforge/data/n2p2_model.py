"""n2p2 model files as plain data: ``input.nn`` (keywords), ``scaling.data`` (symmetry-function
statistics) and ``weights.ZZZ.data`` (one network per element).

These are n2p2's (and RuNNer's) file formats, read and written once, below every part of
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
the first values it needs and leaves the rest at zero) and that ``scaling.data`` rows carry
the expected element and function indices. Values are as written (n2p2 is unit-agnostic);
units are the caller's business.
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
from ..core.text import is_number, read_text

__all__ = ["N2p2Settings", "read_input_nn", "is_n2p2_model", "scaling_mode", "network_architecture",
           "read_scaling", "write_scaling", "read_weights", "write_weights", "weights_file_name",
           "cutoff_setting", "symmetry_function_lines"]

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

    def float(self, key: str, value: str | None = None, line: int | None = None) -> float:
        """``value`` (default: the keyword's first value) as a number, or an error naming the line."""
        text = self.get(key) if value is None else value
        try:
            return float(text)
        except (TypeError, ValueError):
            raise self.error(key, f"{text!r} is not a number", line) from None

    def int(self, key: str, value: str | None = None, line: int | None = None) -> int:
        text = self.get(key) if value is None else value
        try:
            return int(text)
        except (TypeError, ValueError):
            raise self.error(key, f"{text!r} is not an integer", line) from None


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
        key = _ALIASES.get(key, key)
        value = " ".join(rest[0].split()) if rest else ""
        if key in settings.entries and key not in _REPEATABLE:
            raise ModelFormatError(f"keyword {key!r} appears again (first at line "
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
                         activations: Collection[str]) -> tuple[list[int], str]:
    """Layer sizes (input to output) and activation letters of ``element``'s network: the
    global keywords, overridden by the element's ``element_*_short`` lines; ``activations``
    are the letters the caller can evaluate."""
    layers_value = settings.get("global_hidden_layers_short")
    nodes_value = settings.get("global_nodes_short")
    act_value = settings.get("global_activation_short")
    for keyword in ("element_hidden_layers_short", "element_nodes_short", "element_activation_short"):
        for _line, value in settings.all(keyword):
            parts = value.split()
            if parts and parts[0] == element:
                rest = " ".join(parts[1:])
                if keyword == "element_hidden_layers_short":
                    layers_value = rest
                elif keyword == "element_nodes_short":
                    nodes_value = rest
                else:
                    act_value = rest
    if layers_value is None or nodes_value is None or act_value is None:
        raise ModelFormatError("global_hidden_layers_short, global_nodes_short and "
                               "global_activation_short are required", path=settings.path)
    n_hidden = settings.int("global_hidden_layers_short", layers_value)
    nodes = [settings.int("global_nodes_short", v) for v in nodes_value.split()]
    if len(nodes) != n_hidden or any(n < 1 for n in nodes):
        raise settings.error("global_nodes_short", f"{n_hidden} hidden layers declared but "
                             f"{len(nodes)} positive sizes given ({nodes_value!r})")
    letters = act_value.split()
    if len(letters) != n_hidden + 1:
        raise settings.error("global_activation_short", f"needs {n_hidden + 1} letters (one per "
                             f"hidden layer and one for the output), found {len(letters)}")
    for a in letters:
        if a not in activations:
            raise settings.error("global_activation_short", f"unknown activation {a!r}; expected "
                                 f"one of {' '.join(activations)}")
    return [n_inputs, *nodes, 1], "".join(letters)


# -- scaling.data -----------------------------------------------------------------------------------
def read_scaling(path: str | os.PathLike, counts: Sequence[tuple[str, int]]) -> dict[str, np.ndarray]:
    """Per element (in the file's order, ``counts`` = [(symbol, number of functions)]), an
    array (n_functions, 4) of min, max, mean, sigma (sigma 0 where the file has 5 columns)."""
    path = Path(path)
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
    expected = sum(n for _, n in counts)
    if len(rows) != expected:
        raise ModelFormatError(f"{len(rows)} rows, expected {expected} (one per symmetry function "
                               f"of {', '.join(f'{s}: {n}' for s, n in counts)})", path=name)
    out = {}
    k = 0
    for e, (s, n) in enumerate(counts, start=1):
        block = rows[k:k + n]
        for q, (lineno, values) in enumerate(block, start=1):
            if not all(math.isfinite(v) for v in values):
                raise ModelFormatError("non-finite value", path=name, line=lineno)
            if (values[0], values[1]) != (e, q):
                raise ModelFormatError(f"row is element {values[0]:g}, function {values[1]:g};"
                                       f" expected element {e} ({s}), function {q}", path=name, line=lineno)
        out[s] = np.array([v[2:6] for _, v in block]).reshape(n, 4)
        k += n
    return out


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
def weights_file_name(atomic_number: int) -> str:
    return f"weights.{atomic_number:03d}.data"


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


def read_weights(path: str | os.PathLike, sizes: Sequence[int],
                 element: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights (n_out, n_in) and biases (n_out,) per layer of ``element``'s network with
    layer ``sizes`` (input to output), from an n2p2 weight file."""
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
            f"(global_nodes_short, {sizes[0]} symmetry functions of {element}) needs {expected}; "
            "the weights were written for a different network", path=name)
    try:
        values = np.array([r[0] for r in rows], dtype=np.float64)
    except ValueError:
        bad = next(k for k, r in enumerate(rows) if not is_number(r[0]))
        raise ModelFormatError(f"{rows[bad][0]!r} is not a number", path=name, line=lines[bad]) from None
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ModelFormatError("non-finite weight", path=name, line=lines[bad])
    expected_tags = _n2p2_tags(sizes)
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
    return weights, biases


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
