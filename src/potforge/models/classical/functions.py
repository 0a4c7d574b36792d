"""Radial functions, embedding functions and the smooth cutoff of the classical families.

Each *form* is a pure PyTorch function of r (or ρ) and named parameters, with default bounds
that keep it physical. The forms know nothing of elements: a model names its parameters
``<role>.<pair or element>.<name>`` and hands the form a view without the prefix.

Smooth cutoff (analytic radial forms): f(r) S(r) with the quintic switch

    x = (r − r_c + w)/w ∈ [0, 1],   S = 1 − x³ (10 − 15 x + 6 x²),

so S = 1 below r_c − w, and S, S′, S″ vanish at r_c: f, f′ and f″ of the product go to zero at
the cutoff and MD conserves energy. The B-spline forms vanish with two derivatives at r_c by
construction (their last three coefficients are zero) and are not switched.

Embedding functions are not switched: ``fs`` (−A√ρ) and ``universal`` have an infinite slope at
ρ = 0, so the force on an atom leaving its last neighbour falls only as δ^{1/2} (δ the distance
to the cutoff); energy is still continuous. The ``spline`` embedding is smooth at ρ = 0; for
ρ < 0 (possible with unbounded spline densities) it returns F(0) plus the slope there, where
LAMMPS would continue its own cubic.

Accepted ranges (:data:`RADIAL_RANGES`, :data:`EMBEDDING_RANGES`): besides its fitting bounds
(:data:`RADIAL_FORMS`, :data:`EMBEDDING_FORMS`, which a config may narrow), every parameter
must lie in a generous physical range, whether it comes from a config, a saved model or a
fit (fitted values are clipped into it): energies (D₀, ε, A, B, C, F₀, f_e, spline
coefficients) |x| ≤ 1e7 eV; lengths r₀ ≤ 15 Å, σ ≤ 30 Å, ρ (Buckingham) ≤ 10 Å, r_e ≤ 100 Å;
Morse α ≤ 20 1/Å (so 2α(r₀ − r) ≤ 600 and e^{2α(r₀−r)} stays finite at any r ≥ 0);
exponents β, α (Zhou), κ, λ ≤ 100 (e^β ≤ 3e43); the universal embedding's η ≤ 4 and
ρ_e ≥ 1e-6, so (ρ/ρ_e)^η stays below 1e240 for any density these forms can produce;
spline forms at most :data:`MAX_KNOTS` knots, r_min at least 0.01 Å below the cutoff,
ρ_max in [1e-6, 1e7]. Typical fitted values lie one to five orders inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ...core.errors import ConfigError
from ...core.lazy import torch

__all__ = ["smooth_switch", "RadialForm", "EmbeddingForm", "RADIAL_FORMS", "EMBEDDING_FORMS",
           "radial_form", "embedding_form", "bspline", "RADIAL_RANGES", "EMBEDDING_RANGES", "MAX_KNOTS",
           "SPLINE_COEFFICIENT_RANGE", "parameter_range"]

INF = math.inf
#: most knots of a spline form
MAX_KNOTS = 1000
_E = 1e7            # eV
#: accepted range of each spline coefficient (eV, or density units)
SPLINE_COEFFICIENT_RANGE = (-_E, _E)
#: form -> parameter -> accepted range (module docstring)
RADIAL_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "morse": {"D0": (0.0, _E), "alpha": (1e-3, 20.0), "r0": (0.1, 15.0)},
    "lj": {"epsilon": (0.0, _E), "sigma": (0.1, 30.0)},
    "buckingham": {"A": (0.0, _E), "rho": (1e-3, 10.0), "C": (0.0, _E)},
    "exponential": {"A": (-_E, _E), "beta": (0.0, 100.0), "re": (0.1, 100.0)},
    "zhou_pair": {"A": (0.0, _E), "B": (0.0, _E), "alpha": (0.0, 100.0), "beta": (0.0, 100.0),
                  "re": (0.1, 100.0), "kappa": (0.0, 100.0), "lam": (0.0, 100.0)},
    "zhou_density": {"fe": (0.0, _E), "beta": (0.0, 100.0), "re": (0.1, 100.0), "lam": (0.0, 100.0)},
}
EMBEDDING_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "fs": {"A": (0.0, _E), "B": (-_E, _E)},
    "universal": {"F0": (-_E, 0.0), "eta": (1e-3, 4.0), "rho_e": (1e-6, _E)},
}


def parameter_range(form: "RadialForm | EmbeddingForm", name: str) -> tuple[float, float]:
    """The accepted range of parameter ``name`` of ``form``."""
    if form.name == "spline":
        return SPLINE_COEFFICIENT_RANGE
    table = RADIAL_RANGES if isinstance(form, RadialForm) else EMBEDDING_RANGES
    return table[form.name][name]


def _knots(n_knots, least: int, key: str) -> int:
    if isinstance(n_knots, bool) or not isinstance(n_knots, int) or not least <= n_knots <= MAX_KNOTS:
        raise ConfigError(f"{key}.n_knots: expected an integer in [{least}, {MAX_KNOTS}], got {n_knots!r}")
    return n_knots


def smooth_switch(r: torch.Tensor, cutoff: float, width: float) -> torch.Tensor:
    """S(r): 1 below cutoff − width, quintic to 0 at the cutoff with S′ = S″ = 0 at both ends."""
    if width <= 0:
        return torch.where(r < cutoff, torch.ones_like(r), torch.zeros_like(r))
    x = ((r - (cutoff - width)) / width).clamp(0.0, 1.0)
    return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x * x)


def bspline_parts(x: torch.Tensor, coefficients: torch.Tensor, start: float, step: float,
                  first: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Value and slope of Σ_k c_k B((x − start)/step − k), k = first, first+1, …, with the
    uniform cubic B-spline B (support |t| < 2); x below ``start`` is evaluated at ``start``."""
    t = ((x - start) / step).clamp(min=0.0)
    n = coefficients.shape[0]
    cell = torch.floor(t).long()
    u = t - cell
    # the four basis functions touching cell [m, m+1) are k = m-1 .. m+2 with weights
    w = torch.stack([(1 - u) ** 3 / 6, (3 * u**3 - 6 * u**2 + 4) / 6,
                     (-3 * u**3 + 3 * u**2 + 3 * u + 1) / 6, u**3 / 6], 1)
    dw = torch.stack([-(1 - u) ** 2 / 2, (9 * u**2 - 12 * u) / 6,
                      (-9 * u**2 + 6 * u + 3) / 6, u**2 / 2], 1)
    idx = cell.unsqueeze(1) + torch.arange(-1, 3).unsqueeze(0) - first
    valid = (idx >= 0) & (idx < n)
    c = torch.where(valid, coefficients[idx.clamp(0, max(n - 1, 0))],
                    torch.zeros((), dtype=coefficients.dtype))
    return (w * c).sum(1), (dw * c).sum(1) / step


def bspline(x: torch.Tensor, coefficients: torch.Tensor, start: float, step: float,
            first: int) -> torch.Tensor:
    """The B-spline of :func:`bspline_parts`, continued linearly below ``start``."""
    value, slope = bspline_parts(x, coefficients, start, step, first)
    return torch.where(x < start, value + slope * (x - start), value)


@dataclass
class RadialForm:
    """A radial function f(r; parameters) with named parameters and default bounds."""

    name: str
    parameters: dict[str, tuple[float, float]]          # name -> (lower, upper)
    smooth: bool = True                                  # multiply by the smooth switch
    options: dict = field(default_factory=dict)

    def __call__(self, p: Mapping[str, torch.Tensor], r: torch.Tensor) -> torch.Tensor:
        return _RADIAL_KERNELS[self.name](self, p, r)

    def describe(self) -> dict:
        return {"form": self.name, **self.options}


def _morse(form, p, r):
    e = torch.exp(-p["alpha"] * (r - p["r0"]))
    return p["D0"] * (e * e - 2.0 * e)


def _lj(form, p, r):
    x6 = (p["sigma"] / r) ** 6
    return 4.0 * p["epsilon"] * (x6 * x6 - x6)


def _buckingham(form, p, r):
    return p["A"] * torch.exp(-r / p["rho"]) - p["C"] / r**6


def _exponential(form, p, r):
    return p["A"] * torch.exp(-p["beta"] * (r / p["re"] - 1.0))


def _zhou_pair(form, p, r):
    x = r / p["re"]
    return (p["A"] * torch.exp(-p["alpha"] * (x - 1.0)) / (1.0 + (x - p["kappa"]) ** 20)
            - p["B"] * torch.exp(-p["beta"] * (x - 1.0)) / (1.0 + (x - p["lam"]) ** 20))


def _zhou_density(form, p, r):
    x = r / p["re"]
    return p["fe"] * torch.exp(-p["beta"] * (x - 1.0)) / (1.0 + (x - p["lam"]) ** 20)


def _spline_radial(form, p, r):
    n = form.options["n_knots"]
    c = torch.stack([p[f"c{k}"] for k in range(n)])
    r_min, cutoff = form.options["r_min"], form.options["cutoff"]
    step = (cutoff - r_min) / n
    # coefficients k = -1 .. n-2; k = n-1, n, n+1 are zero, so f, f', f'' vanish at the cutoff
    return bspline(r, c, r_min, step, first=-1)


_RADIAL_KERNELS = {"morse": _morse, "lj": _lj, "buckingham": _buckingham,
                   "exponential": _exponential, "zhou_pair": _zhou_pair,
                   "zhou_density": _zhou_density, "spline": _spline_radial}

#: form -> parameter bounds (lower, upper)
RADIAL_FORMS: dict[str, dict[str, tuple[float, float]]] = {
    "morse": {"D0": (0.0, INF), "alpha": (1e-3, INF), "r0": (0.1, INF)},
    "lj": {"epsilon": (0.0, INF), "sigma": (0.1, INF)},
    "buckingham": {"A": (0.0, INF), "rho": (1e-3, INF), "C": (0.0, INF)},
    "exponential": {"A": (-INF, INF), "beta": (0.0, INF), "re": (0.1, INF)},
    "zhou_pair": {"A": (0.0, INF), "B": (0.0, INF), "alpha": (0.0, INF), "beta": (0.0, INF),
                  "re": (0.1, INF), "kappa": (0.0, INF), "lam": (0.0, INF)},
    "zhou_density": {"fe": (0.0, INF), "beta": (0.0, INF), "re": (0.1, INF), "lam": (0.0, INF)},
    "spline": {},
}


def radial_form(name: str, *, cutoff: float, key: str, n_knots: int = 10, r_min: float = 1.5) -> RadialForm:
    """A radial form by name (ConfigError naming ``key`` otherwise)."""
    if name not in RADIAL_FORMS:
        raise ConfigError(f"{key}.form: {name!r} is not a radial form; expected one of "
                          f"{', '.join(sorted(RADIAL_FORMS))}")
    if name == "spline":
        n_knots = _knots(n_knots, 2, key)
        if not 0 < r_min <= cutoff - 0.01:
            raise ConfigError(f"{key}.r_min: expected 0 < r_min <= cutoff - 0.01 Å ({cutoff} Å), got {r_min}")
        params = {f"c{k}": (-INF, INF) for k in range(int(n_knots))}
        return RadialForm("spline", params, smooth=False,
                          options={"n_knots": int(n_knots), "r_min": float(r_min), "cutoff": float(cutoff)})
    return RadialForm(name, dict(RADIAL_FORMS[name]))


@dataclass
class EmbeddingForm:
    """An embedding function F(ρ; parameters)."""

    name: str
    parameters: dict[str, tuple[float, float]]
    options: dict = field(default_factory=dict)

    def __call__(self, p: Mapping[str, torch.Tensor], rho: torch.Tensor) -> torch.Tensor:
        return _EMBEDDING_KERNELS[self.name](self, p, rho)

    def describe(self) -> dict:
        return {"form": self.name, **self.options}


def _fs(form, p, rho):
    positive = rho > 0
    safe = torch.where(positive, rho, torch.ones_like(rho))
    return torch.where(positive, -p["A"] * torch.sqrt(safe), torch.zeros_like(rho)) + p["B"] * rho * rho


def _universal(form, p, rho):
    positive = rho > 0
    x = torch.where(positive, rho / p["rho_e"], torch.ones_like(rho))
    value = p["F0"] * (1.0 - p["eta"] * torch.log(x)) * x ** p["eta"]
    return torch.where(positive, value, torch.zeros_like(rho))


def _spline_embedding(form, p, rho):
    n = form.options["n_knots"]
    c = torch.stack([p[f"c{k}"] for k in range(n)])
    rho_max = form.options["rho_max"]
    step = rho_max / (n - 3)
    # coefficients k = -1 .. n-2 on knots 0, step, …, rho_max; linear continuation outside
    inner = rho.clamp(min=0.0, max=rho_max)
    value, slope = bspline_parts(inner, c, 0.0, step, first=-1)
    return torch.where((rho > rho_max) | (rho < 0), value + slope * (rho - inner), value)


_EMBEDDING_KERNELS = {"fs": _fs, "universal": _universal, "spline": _spline_embedding}

EMBEDDING_FORMS: dict[str, dict[str, tuple[float, float]]] = {
    "fs": {"A": (0.0, INF), "B": (-INF, INF)},
    "universal": {"F0": (-INF, 0.0), "eta": (1e-3, INF), "rho_e": (1e-6, INF)},
    "spline": {},
}


def embedding_form(name: str, *, key: str, n_knots: int = 8, rho_max: float = 2.0) -> EmbeddingForm:
    """An embedding form by name (ConfigError naming ``key`` otherwise)."""
    if name not in EMBEDDING_FORMS:
        raise ConfigError(f"{key}.form: {name!r} is not an embedding form; expected one of "
                          f"{', '.join(sorted(EMBEDDING_FORMS))}")
    if name == "spline":
        n_knots = _knots(n_knots, 4, key)
        if not 1e-6 <= rho_max <= 1e7:
            raise ConfigError(f"{key}.rho_max: expected a number in [1e-06, 1e+07], got {rho_max}")
        params = {f"c{k}": (-INF, INF) for k in range(int(n_knots))}
        return EmbeddingForm("spline", params, options={"n_knots": int(n_knots), "rho_max": float(rho_max)})
    return EmbeddingForm(name, dict(EMBEDDING_FORMS[name]))


def sub(p: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The parameters under ``prefix.`` with the prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in p.items() if k.startswith(prefix + ".")}
