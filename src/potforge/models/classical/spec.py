"""Build a classical potential from a plain mapping (the ``model:`` section of a config).

    kind: eam                      # pair, eam, tersoff or sw
    species: [Cu]
    cutoff: 5.5                    # pair and eam (Å)
    smooth_width: 1.0              # switching region below the cutoff (Å)
    pair:      {Cu-Cu: {form: morse, D0: 0.3, alpha: 1.4, r0: 2.6}}
    density:   {Cu: {form: exponential, A: {value: 1, fixed: true}, beta: 3, re: 2.55}}
    embedding: {Cu: {form: fs, A: 1.0, B: 0.0}}
    parameters:                    # tersoff and sw: one mapping per element triplet (LAMMPS keys)
      Si-Si-Si: {m: 3, gamma: 1, lambda3: 0, c: 100390, ...}
    fix: [R, D]                    # keys (or full names) held fixed

Every parameter is a number (its starting value) or a mapping ``{value, min, max, fixed}``;
``min``/``max`` narrow the form's physical bounds (they cannot widen them). Spline forms take
``n_knots``, ``r_min`` (radial) or ``rho_max`` (embedding) and optional ``coefficients``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ...core.config import unknown_key_error
from ...core.errors import ConfigError
from ...data.lammps.parameter_files import SW_KEYS, TERSOFF_KEYS
from .base import ClassicalPotential, Parameter
from .eam import EAM
from .functions import embedding_form, radial_form
from .pair import PairPotential, pair_types
from .sw import SW_BOUNDS, SW_TWO_BODY_KEYS, StillingerWeber
from .tersoff import TERSOFF_BOUNDS, TERSOFF_TWO_BODY_KEYS, Tersoff, element_triplets

__all__ = ["CLASSICAL_KINDS", "potential_from_spec", "parameter_from_spec"]

CLASSICAL_KINDS = ("pair", "eam", "tersoff", "sw")
_FORM_OPTIONS = {"form", "n_knots", "r_min", "rho_max", "coefficients"}


def parameter_from_spec(name: str, raw: Any, bounds: tuple[float, float], key: str) -> Parameter:
    lo, hi = bounds
    fixed = False
    if isinstance(raw, Mapping):
        allowed = ("value", "min", "max", "fixed")
        for k in raw:
            if k not in allowed:
                raise unknown_key_error(key, str(k), allowed)
        if "value" not in raw:
            raise ConfigError(f"{key}.value: missing (the starting value)")
        value = raw["value"]
        if "min" in raw:
            lo = max(lo, _number(raw["min"], f"{key}.min"))
        if "max" in raw:
            hi = min(hi, _number(raw["max"], f"{key}.max"))
        fixed = raw.get("fixed", False)
        if not isinstance(fixed, bool):
            raise ConfigError(f"{key}.fixed: expected true or false, got {fixed!r}")
    else:
        value = raw
    value = _number(value, key)
    if not lo <= value <= hi:
        raise ConfigError(f"{key} = {value:g} is outside its physical bounds [{lo:g}, {hi:g}]")
    return Parameter(name, value, lo, hi, fixed)


def _number(value: Any, key: str) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1.0039e5 (no dot before e, no sign) as text
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    return float(value)


def _form_parameters(prefix: str, form, raw: Mapping, key: str) -> list[Parameter]:
    out = []
    names = list(form.parameters)
    coefficients = raw.get("coefficients")
    if coefficients is not None:
        if not isinstance(coefficients, Sequence) or len(coefficients) != len(names):
            raise ConfigError(f"{key}.coefficients: expected a list of {len(names)} numbers")
    for k in raw:
        if k not in _FORM_OPTIONS and k not in names:
            raise unknown_key_error(key, str(k), [*names, *sorted(_FORM_OPTIONS)])
    for i, name in enumerate(names):
        if name in raw:
            spec = raw[name]
        elif coefficients is not None:
            spec = coefficients[i]
        elif form.name == "spline":
            spec = 0.0
        else:
            raise ConfigError(f"{key}.{name}: missing (a starting value for the {form.name} form)")
        out.append(parameter_from_spec(f"{prefix}.{name}", spec, form.parameters[name], f"{key}.{name}"))
    return out


def _radial(prefix: str, raw: Any, cutoff: float, key: str):
    if not isinstance(raw, Mapping) or "form" not in raw:
        raise ConfigError(f"{key}: expected a mapping with a form, e.g. {{form: morse, D0: 0.3, ...}}")
    options = _options(raw, ("n_knots", "r_min"), key)
    form = radial_form(str(raw["form"]), cutoff=cutoff, key=key, **options)
    return form, _form_parameters(prefix, form, raw, key)


def _embedding(prefix: str, raw: Any, key: str):
    if not isinstance(raw, Mapping) or "form" not in raw:
        raise ConfigError(f"{key}: expected a mapping with a form, e.g. {{form: fs, A: 1.0, B: 0.0}}")
    options = _options(raw, ("n_knots", "rho_max"), key)
    form = embedding_form(str(raw["form"]), key=key, **options)
    return form, _form_parameters(prefix, form, raw, key)


def _options(raw: Mapping, names: Sequence[str], key: str) -> dict:
    """Numeric form options (n_knots an integer; r_min in Å; rho_max plain), checked."""
    out: dict = {}
    spline = raw.get("form") == "spline"
    for name in names:
        if name not in raw:
            continue
        if not spline:
            raise ConfigError(f"{key}.{name}: only a spline form has it")
        value = raw[name]
        if name == "n_knots":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{key}.n_knots: expected an integer, got {value!r}")
            out[name] = value
        elif name == "r_min" and isinstance(value, str):
            from ...core.config import parse_quantity

            out[name] = parse_quantity(value, "length", f"{key}.r_min")
        else:
            out[name] = _number(value, f"{key}.{name}")
    return out


def _check_keys(mapping: Mapping, allowed: Sequence[str], key: str) -> None:
    for k in mapping:
        if k not in allowed:
            raise unknown_key_error(key, str(k), allowed)


def _pair_name(raw: str, species: tuple[str, ...], key: str) -> str:
    parts = str(raw).split("-")
    if len(parts) != 2 or any(p not in species for p in parts):
        raise ConfigError(f"{key}.{raw}: expected an element pair A-B of the species {', '.join(species)}")
    a, b = sorted(parts, key=species.index)
    return f"{a}-{b}"


def potential_from_spec(kind: str, spec: Mapping[str, Any], species: Sequence[str], *,
                        key: str = "model") -> ClassicalPotential:
    """A classical potential of ``kind`` from a config mapping (see the module docstring)."""
    species = tuple(species)
    fix = [str(x) for x in spec.get("fix", ()) or ()]
    given = {k: v for k, v in spec.items() if v not in (None, {}, [], ())}
    if kind in ("pair", "eam"):
        _check_keys(given, ["cutoff", "smooth_width", "pair", "fix"]
                    + (["density", "embedding"] if kind == "eam" else []), key)
        model = _radial_model(kind, spec, species, key)
    elif kind in ("tersoff", "sw"):
        _check_keys(given, ["parameters", "fix"], key)
        model = _triplet_model(kind, spec, species, key)
    else:
        raise ConfigError(f"{key}.kind: {kind!r} is not a classical kind; expected one of "
                          f"{', '.join(CLASSICAL_KINDS)}")
    for item in fix:
        hits = [n for n in model.parameters if n == item or n.rsplit(".", 1)[-1] == item]
        if not hits:
            raise ConfigError(f"{key}.fix: {item!r} names no parameter (e.g. "
                              f"{next(iter(model.parameters), '?')})")
        for n in hits:
            model.parameters[n].fixed = True
    return model


def _radial_model(kind: str, spec: Mapping[str, Any], species: tuple[str, ...], key: str) -> ClassicalPotential:
    """A pair or EAM potential: one radial form per element pair (and per element a density
    and an embedding form for EAM)."""
    if spec.get("cutoff") is None:
        raise ConfigError(f"{key}.cutoff: required for a {kind} model (Å)")
    cutoff = _number(spec["cutoff"], f"{key}.cutoff")
    width = _number(spec.get("smooth_width", 1.0), f"{key}.smooth_width")
    params: list[Parameter] = []
    pair_raw = {_pair_name(k, species, f"{key}.pair"): v for k, v in (spec.get("pair") or {}).items()}
    forms = {}
    for _, _, name in pair_types(species):
        if name not in pair_raw:
            raise ConfigError(f"{key}.pair.{name}: missing (every element pair needs a form)")
        forms[name], p = _radial(f"pair.{name}", pair_raw[name], cutoff, f"{key}.pair.{name}")
        params += p
    if kind == "pair":
        return PairPotential(species, forms, params, cutoff, smooth_width=width)
    density, embedding = {}, {}
    for what, target in (("density", density), ("embedding", embedding)):
        raw = spec.get(what) or {}
        for s in raw:
            if s not in species:
                raise ConfigError(f"{key}.{what}.{s}: not a model species ({', '.join(species)})")
        for s in species:
            if s not in raw:
                raise ConfigError(f"{key}.{what}.{s}: missing (every element needs a {what} form)")
            if what == "density":
                target[s], p = _radial(f"density.{s}", raw[s], cutoff, f"{key}.density.{s}")
            else:
                target[s], p = _embedding(f"embedding.{s}", raw[s], f"{key}.embedding.{s}")
            params += p
    return EAM(species, forms, density, embedding, params, cutoff, smooth_width=width)


def _triplet_model(kind: str, spec: Mapping[str, Any], species: tuple[str, ...], key: str) -> ClassicalPotential:
    """A Tersoff or Stillinger–Weber potential: one LAMMPS entry per ordered element triplet."""
    keys, bounds, unused = ((TERSOFF_KEYS, TERSOFF_BOUNDS, TERSOFF_TWO_BODY_KEYS) if kind == "tersoff"
                            else (SW_KEYS, SW_BOUNDS, SW_TWO_BODY_KEYS))
    raw = spec.get("parameters") or {}
    triplets = element_triplets(species)
    for t in raw:
        if t not in triplets:
            raise ConfigError(f"{key}.parameters.{t}: not an element triplet of {', '.join(species)} "
                              f"(expected one of {', '.join(triplets)})")
    params = []
    for t in triplets:
        if t not in raw:
            raise ConfigError(f"{key}.parameters.{t}: missing (every element triplet needs its "
                              f"{len(keys)} values: {', '.join(keys)})")
        entry = raw[t]
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{key}.parameters.{t}: expected a mapping of {', '.join(keys)}")
        _check_keys(entry, keys, f"{key}.parameters.{t}")
        _, b, c = t.split("-")
        for k in keys:
            if k not in entry:
                raise ConfigError(f"{key}.parameters.{t}.{k}: missing")
            if b != c and k in unused:
                # two-body values of an (i, j, k≠j) entry: no term reads them (LAMMPS neither)
                p = parameter_from_spec(f"{t}.{k}", entry[k], (-math.inf, math.inf), f"{key}.parameters.{t}.{k}")
                p.fixed = True
                params.append(p)
                continue
            params.append(parameter_from_spec(f"{t}.{k}", entry[k], bounds[k], f"{key}.parameters.{t}.{k}"))
    model = (Tersoff if kind == "tersoff" else StillingerWeber)(species, params).hold_defaults()
    # hold_defaults fixes the cutoff keys (and m, tol); an explicit fixed: false wins
    for t in triplets:
        for k in keys:
            entry = raw[t][k]
            if isinstance(entry, Mapping) and entry.get("fixed") is False:
                model.parameters[f"{t}.{k}"].fixed = False
    return model
