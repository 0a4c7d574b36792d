"""Typed configuration: YAML mappings validated once into frozen dataclasses.

A config schema is a tree of frozen dataclasses. :func:`build` checks a mapping against it:

- unknown keys are errors that name the dotted key and suggest the nearest valid one;
- values are converted by the field's type hint (``int``, ``float``, ``str``, ``bool``,
  ``Literal[...]``, ``list[...]``, ``dict[str, ...]``, ``X | None``, nested schemas);
- physical quantities (fields with ``metadata={"unit": kind}``) accept numbers in the field's
  stated unit or strings with a unit, ``"1 meV/atom"``, ``"0.02 eV/Å"``, ``"0.1 GPa"``,
  ``"10 min"``, and are stored in potforge's internal units (eV, Å, s);
- a field's ``metadata={"doc": ...}`` is its one-line help (:func:`doc` writes it);
- plain numbers must be finite: NaN and infinities are errors naming the key.

Schemas live next to the code they configure (each model family's ``config.py``, the
training sections in :mod:`potforge.training.config`); a schema's ``check(key)`` method, run
once after its fields are converted, holds its physical checks (σ > 0, cutoff > 0, ...).

:func:`apply_overrides` applies ``--set key=value`` assignments (values parsed as YAML) to a
raw mapping before validation, and :func:`to_plain` turns a config back into a mapping that
:func:`build` reads to the identical config (quantities as exact strings with units).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from .errors import ConfigError, nearest
from .text import is_number, shorten
from .units import Bohr, GPa, Hartree

__all__ = ["build", "apply_overrides", "to_plain", "load_yaml", "read_yaml", "load_config_file",
           "located_in", "parse_quantity", "QUANTITIES", "unknown_key_error", "doc", "convert",
           "config_path"]

T = TypeVar("T")


def config_path(name: str | os.PathLike, base_dir: str | os.PathLike) -> Path:
    """A path written in a config file: ``~`` expanded, relative to the file's directory
    (``base_dir``) unless absolute."""
    p = Path(os.path.expanduser(os.fspath(name)))
    return p if p.is_absolute() else Path(base_dir) / p

#: quantity kind -> (unit of plain numbers, {unit name: size in internal units}, internal unit)
QUANTITIES: dict[str, tuple[str, dict[str, float], str]] = {
    "energy_per_atom": ("eV/atom", {"eV/atom": 1.0, "meV/atom": 1e-3, "Ha/atom": Hartree}, "eV/atom"),
    "energy": ("eV", {"eV": 1.0, "meV": 1e-3, "Ha": Hartree, "Hartree": Hartree}, "eV"),
    "force": ("eV/Å", {"eV/Å": 1.0, "meV/Å": 1e-3, "Ha/Bohr": Hartree / Bohr, "eV/A": 1.0,
                       "eV/Ang": 1.0, "eV/Angstrom": 1.0, "meV/A": 1e-3, "meV/Angstrom": 1e-3}, "eV/Å"),
    "stress": ("GPa", {"GPa": GPa, "MPa": 1e-3 * GPa, "kbar": 0.1 * GPa, "eV/Å^3": 1.0,
                       "eV/A^3": 1.0, "eV/Å3": 1.0, "eV/A3": 1.0, "eV/Angstrom^3": 1.0}, "eV/Å^3"),
    "length": ("Å", {"Å": 1.0, "Bohr": Bohr, "nm": 10.0, "A": 1.0, "Ang": 1.0, "Angstrom": 1.0}, "Å"),
    "time": ("s", {"s": 1.0, "min": 60.0, "h": 3600.0}, "s"),
    "charge": ("e", {"e": 1.0, "me": 1e-3}, "e"),
}
#: number of leading units of each kind that error messages list
_SHOWN = {"energy_per_atom": 3, "energy": 3, "force": 3, "stress": 4, "length": 3, "time": 3, "charge": 2}


def doc(text: str, **extra: Any) -> dict:
    """Field metadata: the one-line help ``text`` and extras such as ``unit="length"``
    (``field(default=5.0, metadata=doc("cutoff radius", unit="length"))``)."""
    return {"doc": text, **extra}


def unknown_key_error(key: str, name: str, options: Sequence[str]) -> ConfigError:
    guess = nearest(name, options)
    hint = f"did you mean '{guess}'? " if guess else ""
    return ConfigError(f"{_join(key, name)}: unknown key; {hint}valid keys: {', '.join(sorted(options))}")


def parse_quantity(value: Any, kind: str, key: str) -> float:
    """A number in the kind's plain unit, or ``"<number> <unit>"``, in internal units."""
    plain_unit, named, internal = QUANTITIES[kind]
    table = {_canon(u): v for u, v in named.items()}
    shown = ", ".join(list(named)[:_SHOWN[kind]])
    plain = table[_canon(plain_unit)]
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number or '<number> <unit>', got {value!r}")
    if isinstance(value, (int, float)):
        number, factor = float(value), plain
    elif isinstance(value, str):
        parts = value.strip().split(None, 1)
        if not parts or not is_number(parts[0]):
            raise ConfigError(f"{key}: expected '<number> <unit>' with a unit of "
                              f"{shown}, got {shorten(value)!r}")
        number = float(parts[0])
        unit = _canon(parts[1]) if len(parts) > 1 else _canon(plain_unit)
        if unit not in table:
            raise ConfigError(f"{key}: unknown unit {parts[1]!r}; expected one of "
                              f"{shown}")
        factor = table[unit]
    else:
        raise ConfigError(f"{key}: expected a number or '<number> <unit>', got {type(value).__name__}")
    if not math.isfinite(number):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    return number * factor


def _canon(unit: str) -> str:
    return unit.strip().lower().replace(" ", "").replace("**", "^")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# -- building -----------------------------------------------------------------------------------
def build(schema: type, raw: Mapping[str, Any] | None, key: str = "") -> Any:
    """Validate ``raw`` against the dataclass ``schema``; returns an instance."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key or 'config'}: expected a mapping of keys to values, got "
                          f"{_describe(raw)}")
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    for name in raw:
        if not isinstance(name, str) or name not in fields:
            raise unknown_key_error(key, str(name), list(fields))
    hints = typing.get_type_hints(schema)
    values = {}
    for name, f in fields.items():
        sub = _join(key, name)
        if name in raw:
            values[name] = convert(hints[name], raw[name], sub, f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if dataclasses.is_dataclass(hints[name]):
                values[name] = build(hints[name], {}, sub)
            else:
                doc = f.metadata.get("doc", "")
                raise ConfigError(f"{sub}: missing{'; ' + doc if doc else ''}")
    try:
        obj = schema(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{key or 'config'}: {err}") from None
    check = getattr(obj, "check", None)
    if callable(check):
        check(key)
    return obj


def convert(tp: Any, value: Any, key: str, meta: Mapping[str, Any] | None = None) -> Any:
    """Convert one value to type hint ``tp`` (see module docstring)."""
    meta = meta or {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return convert(option, value, key, meta)
            except ConfigError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_describe(value)}")
    if value is None:
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got null")
    if origin is Literal:
        if value not in args:
            guess = nearest(str(value), [str(a) for a in args])
            hint = f" (did you mean '{guess}'?)" if guess else ""
            raise ConfigError(f"{key}: {_describe(value)} is not one of {', '.join(map(str, args))}{hint}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        item = args[0] if args else Any
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            if meta.get("scalar_ok"):
                value = [value]
            else:
                raise ConfigError(f"{key}: expected a list, got {_describe(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis and len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {len(value)}")
        items = [convert(args[k] if origin is tuple and args and args[-1] is not Ellipsis else item,
                         v, f"{key}[{k}]", meta) for k, v in enumerate(value)]
        return tuple(items)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {_describe(value)}")
        vt = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({str(k): convert(vt, v, f"{key}.{k}", meta) for k, v in value.items()})
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{key}: expected an integer, got {_describe(value)}")
        return int(value)
    if tp is float:
        if "unit" in meta:
            return parse_quantity(value, meta["unit"], key)
        if isinstance(value, str) and is_number(value.strip()):
            value = float(value)  # YAML reads 1e-5 (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"config schema: unsupported type {tp!r} at {key}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (list, tuple, Sequence):
        return "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return shorten(repr(value))


# -- overrides, plain form, YAML -------------------------------------------------------------------
def apply_overrides(raw: Mapping[str, Any], assignments: Sequence[str]) -> dict:
    """Apply ``dotted.key=value`` assignments (value parsed as YAML) to a copy of ``raw``."""
    import copy

    import yaml

    out = copy.deepcopy(dict(raw))
    for text in assignments:
        if "=" not in text:
            raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. training.l2=1e-5")
        key, _, value_text = text.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ConfigError(f"--set {text!r}: empty key; expected KEY=VALUE, e.g. training.l2=1e-5")
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {key}: the value is not valid YAML ({err})") from None
        if isinstance(value, str) and is_number(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-5 (no dot) as a string
        node = out
        for depth, p in enumerate(parts[:-1]):
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {'.'.join(parts[:depth + 1])} is not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def to_plain(config: Any, schema_meta: Mapping[str, Any] | None = None) -> Any:
    """A config as plain YAML/JSON data that :func:`build` turns into the identical config."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        out = {}
        for f in dataclasses.fields(config):
            if not f.init:
                continue
            out[f.name] = to_plain(getattr(config, f.name), f.metadata)
        return out
    meta = schema_meta or {}
    if isinstance(config, Mapping):
        return {k: to_plain(v, meta) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [to_plain(v, meta) for v in config]
    if isinstance(config, float) and "unit" in meta:
        _, table, internal = QUANTITIES[meta["unit"]]
        return f"{config!r} {internal}"
    if isinstance(config, Path):
        return os.fspath(config)
    return config


#: most values a YAML file may expand to through its aliases (a "billion laughs" file is
#: a few lines that expand to more values than memory holds)
YAML_VALUE_LIMIT = 1_000_000
_KEY_PREFIX = re.compile(r"([A-Za-z_][\w\-]*(?:\.[\w\-]+|\[[0-9]+\])*)(?=:|\s|$)")


def read_yaml(path: str | os.PathLike) -> tuple[dict, dict[str, int]]:
    """A YAML mapping and the line of every key in it (dotted keys, ``name[k]`` for list
    items, as config errors name them). Syntax errors, bytes that are not UTF-8, duplicate
    keys at any depth, recursive aliases and alias bombs are one-line ConfigErrors naming
    the file and line."""
    import yaml

    from .text import read_text

    name = os.fspath(path)
    text = read_text(path, "a YAML config", ConfigError)
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        if node is not None:
            _walk_yaml(loader, node, "", lines, name)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise _yaml_error(err, text, name) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", path=name) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        return {}, lines
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys to values at the top, got {_describe(data)}",
                          path=name, line=node.start_mark.line + 1)
    return data, lines


def _yaml_error(err: Exception, text: str, name: str) -> ConfigError:
    """One line for a PyYAML error: the problem, at the file's line and column."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    elif isinstance(getattr(err, "position", None), int):   # yaml.reader.ReaderError
        position = err.position
        start = text.rfind("\n", 0, position) + 1
        line, column = text.count("\n", 0, position) + 1, position - start + 1
        character = err.character
        code = character if isinstance(character, int) else ord(character[:1] or "\0")
        problem = f"character U+{code:04X} is not allowed in YAML ({err.reason})"
    else:
        line = column = None
    problem = problem or str(err).splitlines()[0]
    where = f" at column {column}" if column is not None else ""
    return ConfigError(f"invalid YAML{where}: {shorten(problem, 200)}", path=name, line=line)


def _walk_yaml(loader, root, prefix: str, lines: dict[str, int], name: str) -> None:
    """Record key lines and refuse duplicate keys, recursive aliases and alias bombs."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node) -> int:           # values the node expands to, aliases followed
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError("invalid YAML: an alias refers to a value that contains it "
                              "(recursive structure)", path=name, line=node.start_mark.line + 1)
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        active.discard(key)
        sizes[key] = total
        if total > YAML_VALUE_LIMIT:
            raise ConfigError(f"invalid YAML: its aliases expand to more than {YAML_VALUE_LIMIT} "
                              "values", path=name, line=node.start_mark.line + 1)
        return total

    size(root)
    seen: set[int] = set()

    def walk(node, key: str) -> None:
        if id(node) in seen:         # an alias: its keys were recorded where it was defined
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for k, item in enumerate(node.value):
                sub = f"{key}[{k}]"
                lines.setdefault(sub, item.start_mark.line + 1)
                walk(item, sub)
        elif isinstance(node, yaml.MappingNode):
            first: dict[object, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    walk(value_node, key)
                    continue
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode):
                    value = loader.construct_object(key_node)
                    sub = _join(key, str(value))
                    try:
                        earlier = first.get(value)
                        first.setdefault(value, line)
                    except TypeError:   # an unhashable key: PyYAML refuses it itself
                        earlier = None
                    if earlier is not None:
                        raise ConfigError(f"duplicate key {sub} (first at line {earlier}); a "
                                          "key may appear once in a mapping", path=name, line=line)
                    lines.setdefault(sub, line)
                    walk(value_node, sub)
                else:
                    walk(value_node, key)

    walk(root, prefix)


def load_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping; errors name the file and line (see :func:`read_yaml`)."""
    return read_yaml(path)[0]


@contextlib.contextmanager
def located_in(path: str | os.PathLike, lines: Mapping[str, int],
               overrides: Sequence[str] = ()) -> Iterator[None]:
    """Add the file and the line of the key a ConfigError names (its leading dotted key, or
    the nearest enclosing key in the file) to ConfigErrors raised inside that name no file.
    Errors about keys set by ``--set`` overrides are left as they are: the file is not where
    those values came from."""
    try:
        yield
    except ConfigError as err:
        if err.path is not None:
            raise
        key = None
        match = _KEY_PREFIX.match(err.reason)
        if match is not None:
            key = match.group(1)
        set_keys = [text.partition("=")[0].strip() for text in overrides]
        if key is not None and any(_related(key, k) for k in set_keys):
            raise type(err)(f"--set {err.reason}", frame=err.frame) from None
        line = _line_of(key, lines) if key is not None else None
        raise type(err)(err.reason, path=os.fspath(path), line=line, frame=err.frame) from None


def _related(a: str, b: str) -> bool:
    """Whether one dotted key is the other or lies inside it."""
    return a == b or a.startswith(b + ".") or a.startswith(b + "[") or b.startswith(a + ".") \
        or b.startswith(a + "[")


def _line_of(key: str, lines: Mapping[str, int]) -> int | None:
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def load_config_file(path: str | os.PathLike, validate: Callable[[dict], T],
                     overrides: Sequence[str] = ()) -> T:
    """Read a YAML config, apply ``--set`` overrides and ``validate`` the mapping; every
    ConfigError names the file and the line of the key it is about."""
    raw, lines = read_yaml(path)
    raw = apply_overrides(raw, overrides)
    with located_in(path, lines, overrides):
        return validate(raw)
