"""Calculator specs: a small, picklable description of an ASE calculator, and its factory.

Labelling never passes live calculator objects between processes; it passes a
:class:`CalculatorSpec` (plain data) and every worker builds its own calculator from it once.
A spec is read from YAML::

    name: gpaw                 # gpaw (real DFT, the documented default), emt (fast stand-in),
                               # lj, morse, potforge (parameters: {model: DIR}),
                               # or an import path "package.module:ClassName"
    parameters:                # keyword arguments of the calculator's constructor
      mode: {name: pw, ecut: 400}
      xc: PBE
      kpts: {density: 4}
      occupations: {name: fermi-dirac, width: 0.1}
      convergence: {energy: 1e-6, forces: 1e-4}
      txt: null
    retry:                     # optional: parameter overrides for the 1st, 2nd, ... retry
      - {mixing: {beta: 0.05}}
    max_retries: 1             # retries after the first failure (default: len(retry))
    timeout: 600 s             # per structure and attempt (default: none)

Each ``retry`` entry is merged (recursively, mapping into mapping) onto the base
``parameters``, not onto the previous retry; retries beyond the list reuse its last entry.
Numbers written with an exponent but no dot (``1e-6``) are strings to YAML 1.1; spec parsing
turns such strings into floats, as potforge's typed configs do.

The settings hash (:meth:`CalculatorSpec.settings_hash`) is the SHA-256 of the canonical JSON
of ``{name, parameters}`` (for ``potforge``, plus the model's content): the physics of the
labels. ``retry``, ``timeout`` and ``max_retries`` are meant as convergence aids and are
left out of it.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import inspect
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import build, load_config_file
from ..core.errors import ConfigError

__all__ = ["CalculatorSpec", "KNOWN_CALCULATORS", "load_calculator_spec", "calculator_spec",
           "build_calculator", "check_calculator"]

#: registered names -> (import path, defaults added when the user leaves the key out).
#: GPAW writes its log to stdout unless told otherwise; labelling wants it quiet by default.
#: ``potforge`` takes ``parameters: {model: DIR}`` (a trained potential: exploration MD,
#: active learning); it is imported at run time, so this layer does not depend on the models.
KNOWN_CALCULATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "gpaw": ("gpaw:GPAW", {"txt": None}),
    "emt": ("ase.calculators.emt:EMT", {}),
    "lj": ("ase.calculators.lj:LennardJones", {}),
    "morse": ("ase.calculators.morse:MorsePotential", {}),
    "potforge": ("potforge:calculator", {}),
}

_EXPONENT_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


@dataclass(frozen=True)
class _SpecSchema:
    """The YAML schema of a calculator spec (validated by :func:`potforge.core.config.build`)."""

    name: str = field(default="gpaw", metadata={"doc": "gpaw, emt or package.module:ClassName"})
    parameters: dict[str, Any] = field(default_factory=dict,
                                       metadata={"doc": "constructor keyword arguments"})
    retry: list[dict[str, Any]] = field(default_factory=list,
                                        metadata={"doc": "parameter overrides per retry"})
    max_retries: int | None = field(default=None, metadata={"doc": "retries after a failure"})
    timeout: float | None = field(default=None, metadata={"unit": "time",
                                                          "doc": "seconds per structure"})


@dataclass(frozen=True)
class CalculatorSpec:
    """A picklable description of an ASE calculator (see the module docstring).

    Parameters
    ----------
    name : str
        ``gpaw``, ``emt``, ``lj``, ``morse``, ``potforge`` or ``package.module:ClassName`` (any callable returning an ASE
        calculator).
    parameters : dict
        Constructor keyword arguments; plain JSON-like data (mappings, lists, str, numbers,
        bool, None). Not to be mutated.
    retry : tuple of dict
        Parameter overrides of the 1st, 2nd, ... retry after a failed attempt.
    max_retries : int
        Retries after the first failed attempt (total attempts ``1 + max_retries``).
    timeout : float or None, s
        Limit of one attempt on one structure; None for none.
    """

    name: str = "gpaw"
    parameters: dict[str, Any] = field(default_factory=dict)
    retry: tuple[dict[str, Any], ...] = ()
    max_retries: int = 0
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"name: expected a name ({', '.join(KNOWN_CALCULATORS)}) "
                              "or an import path package.module:ClassName")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries: expected >= 0, got {self.max_retries}")
        if self.timeout is not None and not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ConfigError(f"timeout: expected a positive time, got {self.timeout}")
        object.__setattr__(self, "parameters", _plain(self.parameters, "parameters"))
        object.__setattr__(self, "retry", tuple(_plain(r, f"retry[{k}]")
                                                for k, r in enumerate(self.retry)))

    # -- derived ------------------------------------------------------------------------------
    def settings_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of ``{name, parameters}``.

        For ``name: potforge`` the model's content counts too (``model_sha256``: the SHA-256
        of its ``model.json``, which holds the arrays' checksum, or of every file of an n2p2
        model folder): a model retrained in the same folder labels into a new database.
        """
        payload: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.name == "potforge":
            digest = _model_digest(self.parameters.get("model"))
            if digest is not None:
                payload["model_sha256"] = digest
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def parameters_for(self, attempt: int) -> dict[str, Any]:
        """Constructor arguments of attempt ``attempt`` (0: the first; k: the k-th retry)."""
        if attempt == 0 or not self.retry:
            return copy.deepcopy(self.parameters)
        return _merge(self.parameters, self.retry[min(attempt, len(self.retry)) - 1])

    def n_variants(self) -> int:
        """How many distinct parameter sets the attempts use (base plus retry entries used)."""
        return 1 + min(self.max_retries, len(self.retry))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "parameters": copy.deepcopy(self.parameters),
                "retry": [copy.deepcopy(r) for r in self.retry], "max_retries": self.max_retries,
                "timeout": self.timeout}


def calculator_spec(spec: CalculatorSpec | Mapping[str, Any] | str | os.PathLike) -> CalculatorSpec:
    """A spec from a spec, a mapping with the YAML keys, or the path of a YAML file."""
    if isinstance(spec, CalculatorSpec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return load_calculator_spec(spec)
    if isinstance(spec, Mapping):
        return _from_mapping(spec, "")
    raise ConfigError(f"calculator spec: expected a CalculatorSpec, a mapping or a YAML path, got "
                      f"{type(spec).__name__}")


def load_calculator_spec(path: str | os.PathLike) -> CalculatorSpec:
    """Read a calculator spec from a YAML file (errors name the file)."""
    return load_config_file(path, lambda raw: _from_mapping(raw, ""))


def _from_mapping(raw: Mapping[str, Any], key: str) -> CalculatorSpec:
    cfg = build(_SpecSchema, _numbers(dict(raw)), key)
    retry = tuple(dict(r) for r in cfg.retry)
    max_retries = len(retry) if cfg.max_retries is None else cfg.max_retries
    return CalculatorSpec(name=cfg.name.strip(), parameters=dict(cfg.parameters), retry=retry,
                          max_retries=max_retries, timeout=cfg.timeout)


# -- the factory ------------------------------------------------------------------------------------
def build_calculator(spec: CalculatorSpec, attempt: int = 0):
    """A fresh ASE calculator for attempt ``attempt`` of ``spec``.

    Raises :class:`ConfigError` (one line, naming ``parameters.<key>`` where it can be told)
    for an unknown name, a module that cannot be imported, or parameters the constructor refuses.
    """
    factory, defaults = _resolve(spec.name)
    params = spec.parameters_for(attempt)
    if spec.name == "potforge" and "model" not in params:
        raise ConfigError("parameters.model: missing; the directory (or file) of a potforge "
                          "model, e.g. parameters: {model: fit/model}")
    where = "parameters" if attempt == 0 else f"retry[{min(attempt, len(spec.retry)) - 1}]"
    _check_keywords(factory, params, where)
    kwargs = {**defaults, **params}
    try:
        return factory(**kwargs)
    except Exception as err:  # each calculator has its own error types; report one line
        raise ConfigError(_constructor_message(spec.name, err, params, where)) from None


def check_calculator(spec: CalculatorSpec) -> None:
    """Build every parameter variant of ``spec`` once, so bad settings fail before work starts."""
    for attempt in range(spec.n_variants()):
        build_calculator(spec, attempt)


def _model_digest(model: Any) -> str | None:
    """SHA-256 of what defines a model at ``model`` (None where nothing is there yet: the
    loader reports that when the calculator is built)."""
    if not isinstance(model, str):
        return None
    path = Path(model)
    if path.is_dir():
        files = [path / "model.json"] if (path / "model.json").is_file() else sorted(
            p for p in path.iterdir() if p.is_file())
    elif path.is_file():
        files = [path]
    else:
        return None
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _resolve(name: str):
    if name in KNOWN_CALCULATORS:
        path, defaults = KNOWN_CALCULATORS[name]
    elif ":" in name:
        path, defaults = name, {}
    else:
        from ..core.errors import nearest

        guess = nearest(name, list(KNOWN_CALCULATORS))
        hint = f"did you mean '{guess}'? " if guess else ""
        raise ConfigError(f"name: unknown calculator {name!r}; {hint}known names: "
                          f"{', '.join(KNOWN_CALCULATORS)}, or an import path "
                          "package.module:ClassName")
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if name == "gpaw":
            raise ConfigError("name: gpaw needs GPAW, which is not installed here "
                              f"({err}); install it (pip install gpaw, then gpaw install-data) "
                              "or use name: emt for a quick test") from None
        raise ConfigError(f"name: cannot import module {module_name!r} "
                          f"({type(err).__name__}: {err})") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise ConfigError(f"name: module {module_name!r} has no {attr!r}")
    if not callable(factory):
        raise ConfigError(f"name: {path} is not a class or function")
    return factory, dict(defaults)


def _check_keywords(factory, params: Mapping[str, Any], where: str) -> None:
    """Name an unknown constructor keyword before the constructor swallows or garbles it.

    Classes without ``**kwargs`` are checked against their signature; ASE calculators that
    take ``**kwargs`` (which ASE stores without a check) against the signatures along the MRO
    plus ``default_parameters``. Anything else is left to the constructor.
    """
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    named = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        defaults = getattr(factory, "default_parameters", None)
        if not inspect.isclass(factory) or not isinstance(defaults, Mapping) or not defaults:
            return
        try:
            from ase.calculators.calculator import BaseCalculator
        except ImportError:  # pragma: no cover - ASE is a dependency
            return
        if not issubclass(factory, BaseCalculator):
            return
        for klass in factory.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            try:
                named |= {p.name for p in inspect.signature(init).parameters.values()
                          if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            except (TypeError, ValueError):
                return
        named |= set(defaults)
    named.discard("self")
    for key in params:
        if key not in named:
            from ..core.errors import nearest

            guess = nearest(key, sorted(named))
            hint = f"did you mean '{guess}'? " if guess else ""
            raise ConfigError(f"{where}.{key}: unknown parameter of "
                              f"{getattr(factory, '__qualname__', factory)}; {hint}known: "
                              f"{', '.join(sorted(named))}")


def _constructor_message(name: str, err: Exception, params: Mapping[str, Any], where: str) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    # name the offending key when the calculator's own message mentions one of ours (the
    # deepest such key: mode.ecutt rather than mode)
    found = [path for path, leaf in _key_paths(params)
             if re.search(rf"(?<![\w]){re.escape(leaf)}(?![\w])", text)]
    if found:
        path = max(found, key=lambda p: (p.count("."), len(p)))
        return f"{where}.{path}: {name} refused it ({type(err).__name__}: {text})"
    return f"{where}: {name} refused the parameters ({type(err).__name__}: {text})"


def _key_paths(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for key, value in params.items():
        path = f"{prefix}{key}"
        out.append((path, key))
        if isinstance(value, Mapping):
            out += _key_paths(value, path + ".")
    return out


# -- plain data ------------------------------------------------------------------------------
def _numbers(value: Any) -> Any:
    """Turn YAML 1.1's exponent-without-dot strings ("1e-6") into floats, recursively."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers(v) for v in value]
    return value


def _plain(value: Any, key: str) -> Any:
    """A deep copy as plain JSON data (dict, list, str, int, float, bool, None), or ConfigError."""
    import numpy as np

    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{key}: keys must be strings, got {k!r}")
            out[k] = _plain(v, f"{key}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), key)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return _numbers(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return value
    raise ConfigError(f"{key}: {type(value).__name__} values cannot be stored with the labels; "
                      "use plain mappings, lists, strings and numbers (e.g. mode: {name: pw, "
                      "ecut: 400} instead of PW(400))")


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out

