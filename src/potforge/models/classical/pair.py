"""Pair potentials: E = ½ Σ_i Σ_{j≠i} φ_{Z_i Z_j}(r_ij) S(r_ij).

Forms (per element pair, :mod:`.functions`): Lennard-Jones 4ε[(σ/r)¹² − (σ/r)⁶], Morse
D₀[e^{−2α(r−r₀)} − 2e^{−α(r−r₀)}], Buckingham A e^{−r/ρ} − C/r⁶, and a cubic B-spline.
Analytic forms are multiplied by the smooth switch S (f, f′, f″ → 0 at the cutoff). LAMMPS runs
them as ``pair_style table`` (see :mod:`potforge.models.classical.lammps`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

import numpy as np

from ...core.errors import ConfigError, ModelFormatError
from ...core.lazy import torch
from .base import ClassicalPotential, Graph, Parameter
from .functions import RadialForm, parameter_range, radial_form, smooth_switch, sub

__all__ = ["PairPotential", "pair_types", "forms_from_description"]


def pair_types(species: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """(a, b, name) for a ≤ b in species order; name ``A-B``."""
    return [(a, b, f"{species[a]}-{species[b]}") for a in range(len(species))
            for b in range(a, len(species))]


def pair_type_index(species_count: int, ea: torch.Tensor, eb: torch.Tensor) -> torch.Tensor:
    """Index into :func:`pair_types` of the unordered pair (ea, eb)."""
    lo, hi = torch.minimum(ea, eb), torch.maximum(ea, eb)
    n = species_count
    return lo * n - lo * (lo - 1) // 2 + (hi - lo)


def radial_sum(forms: Mapping[str, RadialForm], p: Mapping[str, torch.Tensor], prefix: str,
               r: torch.Tensor, types: torch.Tensor, names: list[str], switch: torch.Tensor) -> torch.Tensor:
    """f_{type(p)}(r_p) for every pair, each type with its form (switched if analytic)."""
    out = torch.zeros_like(r)
    for t, name in enumerate(names):
        form = forms[name]
        if len(names) == 1:
            values = form(sub(p, f"{prefix}.{name}"), r)
            return values * switch if form.smooth else values
        mask = types == t
        if not bool(mask.any()):
            continue
        idx = torch.nonzero(mask).squeeze(1)
        values = form(sub(p, f"{prefix}.{name}"), r[idx])
        if form.smooth:
            values = values * switch[idx]
        out = out.index_copy(0, idx, values)
    return out


def forms_from_description(raw: Mapping, cutoff: float, key: str) -> dict[str, RadialForm]:
    out = {}
    for name, d in raw.items():
        d = dict(d)
        form = d.pop("form")
        # spline forms save their own knot range (options["cutoff"]); analytic forms do not
        form_cutoff = float(d.pop("cutoff", cutoff))
        out[name] = radial_form(form, cutoff=form_cutoff, key=f"{key}.{name}", **d)
    return out


class PairPotential(ClassicalPotential):
    """A pair potential with one radial form per element pair.

    Parameters
    ----------
    species : sequence of str
    forms : mapping ``A-B`` -> RadialForm, for every unordered pair in species order
    parameters : Parameters named ``pair.A-B.<name>``
    cutoff : float, Å
    smooth_width : float, Å
        Width of the switching region below the cutoff (analytic forms).
    """

    kind: ClassVar[str] = "pair"

    def __init__(self, species: Iterable[str], forms: Mapping[str, RadialForm],
                 parameters: Iterable[Parameter], cutoff: float, *, smooth_width: float = 1.0,
                 energy_offsets: Mapping[str, float] | None = None, metadata: dict | None = None) -> None:
        super().__init__(species, parameters, cutoff, energy_offsets=energy_offsets, metadata=metadata)
        self.type_names = [n for _, _, n in pair_types(self.species)]
        missing = [n for n in self.type_names if n not in forms]
        if missing:
            raise ConfigError(f"pair: no form for the element pair(s) {', '.join(missing)}")
        self.forms = {n: forms[n] for n in self.type_names}
        if not 0 <= smooth_width < cutoff:
            raise ConfigError(f"smooth_width: expected 0 <= width < cutoff, got {smooth_width}")
        self.smooth_width = float(smooth_width)
        _check_parameters(self, {f"pair.{n}": f for n, f in self.forms.items()})

    def pair_energy(self, p: Mapping[str, torch.Tensor], r: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        return radial_sum(self.forms, p, "pair", r, types, self.type_names,
                          smooth_switch(r, self.cutoff, self.smooth_width))

    def site_energies(self, p, graph: Graph) -> torch.Tensor:
        r = torch.linalg.vector_norm(graph.vectors, dim=1)
        types = pair_type_index(len(self.species), graph.element[graph.center], graph.element[graph.neighbor])
        phi = self.pair_energy(p, r, types)
        return torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, 0.5 * phi)

    def tabulate(self, name: str, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """φ(r) and −φ′(r) of element pair ``name`` (eV, eV/Å) on the grid ``r``."""
        t = torch.tensor(r, dtype=torch.float64, requires_grad=True)
        types = torch.full(t.shape, self.type_names.index(name), dtype=torch.long)
        with torch.enable_grad():
            phi = self.pair_energy(self.parameter_tensors(), t, types)
            (d,) = torch.autograd.grad(phi.sum(), t)
        return phi.detach().numpy(), -d.numpy()

    def _description(self) -> dict:
        return {"smooth_width_angstrom": self.smooth_width,
                "forms": {n: f.describe() for n, f in self.forms.items()}}

    @classmethod
    def _from_description(cls, description, params, arrays):
        cutoff = float(description["cutoff_angstrom"])
        return cls(description["species"], forms_from_description(description["forms"], cutoff, "forms"),
                   params, cutoff, smooth_width=float(description["smooth_width_angstrom"]),
                   energy_offsets=description.get("energy_offsets_ev"), metadata=description.get("metadata"))


def _check_parameters(model: ClassicalPotential, forms: Mapping[str, object]) -> None:
    """Every parameter a form needs is present, nothing else, and each within its form's
    accepted range (:func:`~potforge.models.classical.functions.parameter_range`; fitted
    values are clipped into it)."""
    expected = {f"{prefix}.{name}" for prefix, form in forms.items() for name in form.parameters}
    missing = sorted(expected - set(model.parameters))
    extra = sorted(set(model.parameters) - expected)
    if missing:
        raise ConfigError(f"parameters missing: {', '.join(missing)}")
    if extra:
        raise ModelFormatError(f"parameters that no form uses: {', '.join(extra)}")
    model._ranges = {f"{prefix}.{name}": parameter_range(form, name) for prefix, form in forms.items()
                    for name in form.parameters}
    model.check_physical()
