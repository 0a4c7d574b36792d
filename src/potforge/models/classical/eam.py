"""The embedded-atom method (Daw & Baskes, PRB 29, 6443 (1984)), multi-element (alloy) form:

    E = Σ_i F_{Z_i}(ρ_i) + ½ Σ_i Σ_{j≠i} φ_{Z_i Z_j}(r_ij),      ρ_i = Σ_{j≠i} ρ_{Z_j}(r_ij),

with per-pair φ, per-element density ρ_Z and embedding F_Z (LAMMPS ``eam/alloy`` semantics).

Two representations:

- :class:`EAM`: analytic or B-spline forms (:mod:`.functions`), fitted by potforge; φ and ρ are
  switched smoothly to zero at the cutoff. Exported to LAMMPS as a finely tabulated setfl file.
- :class:`SetflEAM`: a tabulated setfl file (as read from LAMMPS' ``potentials/`` or written by
  the export), evaluated with LAMMPS' own interpolation so that both codes agree to round-off.
  LAMMPS (``pair_eam.cpp``, ``interpolate``) uses on each grid interval a cubic in the fraction
  p ∈ [0, 1] whose end values are the table values y_m, y_{m+1} and whose end slopes (per grid
  step) are the fourth-order central differences s_m = [8 (y_{m+1} − y_{m−1}) − (y_{m+2} − y_{m−2})]/12
  (one-sided and second-order at the two ends of the table); φ is tabulated as r·φ(r); above the
  last density grid point F continues linearly with its slope there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

import numpy as np
from ase.data import atomic_masses, atomic_numbers, reference_states

from ...core.errors import ConfigError, ModelFormatError
from ...core.lazy import torch
from ...data.lammps.setfl import SetflData
from .base import DEFAULT_TABLE_POINTS, ClassicalPotential, Graph, Parameter
from .functions import EmbeddingForm, RadialForm, embedding_form, smooth_switch, sub
from .pair import _check_parameters, forms_from_description, pair_type_index, pair_types, radial_sum

__all__ = ["EAM", "SetflEAM", "hermite_coefficients"]


class EAM(ClassicalPotential):
    """An EAM potential from analytic or spline forms.

    Parameters
    ----------
    species : sequence of str
    pair : mapping ``A-B`` -> RadialForm (parameters ``pair.A-B.<name>``)
    density : mapping element -> RadialForm (parameters ``density.A.<name>``): the density
        an atom of that element contributes to its neighbours
    embedding : mapping element -> EmbeddingForm (parameters ``embedding.A.<name>``)
    parameters : the Parameters of all forms
    cutoff, smooth_width : float, Å
    """

    kind: ClassVar[str] = "eam"

    def __init__(self, species: Iterable[str], pair: Mapping[str, RadialForm],
                 density: Mapping[str, RadialForm], embedding: Mapping[str, EmbeddingForm],
                 parameters: Iterable[Parameter], cutoff: float, *, smooth_width: float = 1.0,
                 energy_offsets: Mapping[str, float] | None = None, metadata: dict | None = None) -> None:
        super().__init__(species, parameters, cutoff, energy_offsets=energy_offsets, metadata=metadata)
        self.type_names = [n for _, _, n in pair_types(self.species)]
        for what, forms, names in (("pair", pair, self.type_names), ("density", density, self.species),
                                   ("embedding", embedding, self.species)):
            missing = [n for n in names if n not in forms]
            if missing:
                raise ConfigError(f"{what}: no form for {', '.join(missing)}")
        self.pair = {n: pair[n] for n in self.type_names}
        self.density = {s: density[s] for s in self.species}
        self.embedding = {s: embedding[s] for s in self.species}
        if not 0 <= smooth_width < cutoff:
            raise ConfigError(f"smooth_width: expected 0 <= width < cutoff, got {smooth_width}")
        self.smooth_width = float(smooth_width)
        _check_parameters(self, {**{f"pair.{n}": f for n, f in self.pair.items()},
                                 **{f"density.{s}": f for s, f in self.density.items()},
                                 **{f"embedding.{s}": f for s, f in self.embedding.items()}})

    # -- the three functions ----------------------------------------------------------------------
    def phi(self, p, r: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        return radial_sum(self.pair, p, "pair", r, types, self.type_names,
                          smooth_switch(r, self.cutoff, self.smooth_width))

    def rho(self, p, r: torch.Tensor, element: torch.Tensor) -> torch.Tensor:
        return radial_sum(self.density, p, "density", r, element, list(self.species),
                          smooth_switch(r, self.cutoff, self.smooth_width))

    def embed(self, p, rho: torch.Tensor, element: torch.Tensor) -> torch.Tensor:
        if len(self.species) == 1:
            s = self.species[0]
            return self.embedding[s](sub(p, f"embedding.{s}"), rho)
        out = torch.zeros_like(rho)
        for e, s in enumerate(self.species):
            idx = torch.nonzero(element == e).squeeze(1)
            if idx.numel():
                out = out.index_copy(0, idx, self.embedding[s](sub(p, f"embedding.{s}"), rho[idx]))
        return out

    def site_energies(self, p, graph: Graph) -> torch.Tensor:
        r = torch.linalg.vector_norm(graph.vectors, dim=1)
        ei, ej = graph.element[graph.center], graph.element[graph.neighbor]
        phi = self.phi(p, r, pair_type_index(len(self.species), ei, ej))
        dens = torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, self.rho(p, r, ej))
        pair = torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, 0.5 * phi)
        return self.embed(p, dens, graph.element) + pair

    # -- tabulation -------------------------------------------------------------------------------
    def to_setfl(self, *, nr: int = DEFAULT_TABLE_POINTS, nrho: int = DEFAULT_TABLE_POINTS,
                 rho_max: float | None = None,
                 comments: tuple[str, str, str] = ("", "", "")) -> "SetflData":
        """Tabulate for LAMMPS ``eam/alloy``: F_Z(ρ) + energy offset of Z on [0, rho_max],
        ρ_Z(r) and r·φ(r) on [0, cutoff]. ``rho_max`` defaults to twice the host density in
        a 10 %-compressed fcc crystal (:meth:`_reference_density`); beyond it LAMMPS continues
        F linearly, so give a larger value for strongly compressed structures."""
        p = self.parameter_tensors()
        dr = self.cutoff / (nr - 1)
        r = torch.arange(nr, dtype=torch.float64) * dr
        r_safe = r.clone()
        r_safe[0] = dr  # r = 0 is never evaluated by LAMMPS; keep the table finite
        if rho_max is None:
            rho_max = 2.0 * self._reference_density(p)
        drho = rho_max / (nrho - 1)
        rho = torch.arange(nrho, dtype=torch.float64) * drho
        with torch.no_grad():
            frho = {s: (self.embed(p, rho, torch.full_like(rho, e, dtype=torch.long))
                        + self.energy_offsets[s]).numpy()
                    for e, s in enumerate(self.species)}
            rhor = {s: self.rho(p, r_safe, torch.full_like(r, e, dtype=torch.long)).numpy()
                    for e, s in enumerate(self.species)}
            z2r = {}
            for t, (a, b, name) in enumerate(pair_types(self.species)):
                values = (r_safe * self.phi(p, r_safe, torch.full_like(r, t, dtype=torch.long))).numpy()
                values[0] = 2 * values[1] - values[2]
                z2r[(self.species[b], self.species[a])] = values
        info = []
        for s in self.species:
            ref = reference_states[atomic_numbers[s]] or {}
            info.append((atomic_numbers[s], float(atomic_masses[atomic_numbers[s]]),
                         float(ref.get("a", 0.0)), str(ref.get("symmetry", "fcc"))))
        return SetflData(list(self.species), info, nrho, drho, nr, dr, self.cutoff, frho, rhor, z2r,
                         list(comments))

    def _reference_density(self, p) -> float:
        """Largest host density of one atom of any element in a compressed (−10 %) fcc crystal
        of its reference nearest-neighbour distance (or 2.5 Å)."""
        best = 0.0
        for e, s in enumerate(self.species):
            ref = reference_states[atomic_numbers[s]] or {}
            a = float(ref.get("a", 3.6)) if ref.get("symmetry") == "fcc" else 3.6
            d0 = 0.9 * a / np.sqrt(2.0)
            shells = np.array([1, np.sqrt(2), np.sqrt(3), 2, np.sqrt(5)]) * d0
            counts = np.array([12, 6, 24, 12, 24])
            r = torch.tensor(shells[shells < self.cutoff])
            with torch.no_grad():
                values = self.rho(p, r, torch.full_like(r, e, dtype=torch.long)).numpy()
            best = max(best, float(np.dot(counts[: len(values)], values)))
        return best if best > 0 else 1.0

    def _description(self) -> dict:
        return {"smooth_width_angstrom": self.smooth_width,
                "pair": {n: f.describe() for n, f in self.pair.items()},
                "density": {s: f.describe() for s, f in self.density.items()},
                "embedding": {s: f.describe() for s, f in self.embedding.items()}}

    @classmethod
    def _from_description(cls, d, params, arrays):
        cutoff = float(d["cutoff_angstrom"])
        embedding = {}
        for s, e in d["embedding"].items():
            e = dict(e)
            embedding[s] = embedding_form(e.pop("form"), key=f"embedding.{s}", **e)
        return cls(d["species"], forms_from_description(d["pair"], cutoff, "pair"),
                   forms_from_description(d["density"], cutoff, "density"), embedding, params, cutoff,
                   smooth_width=float(d["smooth_width_angstrom"]),
                   energy_offsets=d.get("energy_offsets_ev"), metadata=d.get("metadata"))


# -- setfl tables --------------------------------------------------------------------------------
def hermite_coefficients(y: np.ndarray) -> np.ndarray:
    """LAMMPS' per-interval cubic for the table y (n ≥ 5): rows (c3, c4, s, y) so that on
    interval m the value is ((c3 p + c4) p + s) p + y_m for the fraction p ∈ [0, 1]."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n < 5:
        raise ModelFormatError(f"a setfl table needs at least 5 points, got {n}")
    s = np.empty(n)
    s[0] = y[1] - y[0]
    s[1] = 0.5 * (y[2] - y[0])
    s[n - 2] = 0.5 * (y[n - 1] - y[n - 3])
    s[n - 1] = y[n - 1] - y[n - 2]
    s[2:n - 2] = ((y[0:n - 4] - y[4:n]) + 8.0 * (y[3:n - 1] - y[1:n - 3])) / 12.0
    c4 = np.zeros(n)
    c3 = np.zeros(n)
    dy = y[1:] - y[:-1]
    c4[:-1] = 3.0 * dy - 2.0 * s[:-1] - s[1:]
    c3[:-1] = s[:-1] + s[1:] - 2.0 * dy
    return np.stack([c3, c4, s, y], 1)


def _interpolate(coeff: torch.Tensor, x: torch.Tensor, step: float, n: int, *,
                 min_index: int = 0) -> torch.Tensor:
    """LAMMPS' table lookup (0-based): m = ⌊x/step⌋ clipped to [min_index, n − 2], p = x/step − m
    capped at 1; value = ((c3 p + c4) p + s) p + y_m."""
    t = x / step
    m = torch.floor(t.detach()).long().clamp(min_index, n - 2)
    p = (t - m).clamp(max=1.0)
    c = coeff[m].to(x.dtype)
    return ((c[:, 0] * p + c[:, 1]) * p + c[:, 2]) * p + c[:, 3]


class SetflEAM(ClassicalPotential):
    """A tabulated EAM (setfl), evaluated exactly as LAMMPS ``eam/alloy`` does. No fittable
    parameters; ``energy_offsets`` (zero when read from a file) are added per atom and folded
    into F when written back."""

    kind: ClassVar[str] = "eam-setfl"

    def __init__(self, data: SetflData, *, energy_offsets: Mapping[str, float] | None = None,
                 metadata: dict | None = None) -> None:
        super().__init__(data.elements, [], data.cutoff, energy_offsets=energy_offsets, metadata=metadata)
        self.data = data
        t = lambda a: torch.from_numpy(hermite_coefficients(a))  # noqa: E731
        self._frho = [t(data.frho[s]) for s in data.elements]
        self._rhor = [t(data.rhor[s]) for s in data.elements]
        self._z2r = [t(data.pair(data.elements[a], data.elements[b]))
                     for a, b, _ in pair_types(tuple(data.elements))]
        self._rho_max = (data.nrho - 1) * data.drho

    def site_energies(self, p, graph: Graph) -> torch.Tensor:
        d = self.data
        r = torch.linalg.vector_norm(graph.vectors, dim=1)
        ei, ej = graph.element[graph.center], graph.element[graph.neighbor]
        n_el = len(d.elements)
        types = pair_type_index(n_el, ei, ej)
        z2 = torch.zeros_like(r)
        dens = torch.zeros_like(r)
        for t, table in enumerate(self._z2r):
            idx = torch.nonzero(types == t).squeeze(1)
            if idx.numel():
                z2 = z2.index_copy(0, idx, _interpolate(table, r[idx], d.dr, d.nr))
        for e, table in enumerate(self._rhor):
            idx = torch.nonzero(ej == e).squeeze(1)
            if idx.numel():
                dens = dens.index_copy(0, idx, _interpolate(table, r[idx], d.dr, d.nr))
        rho = torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, dens)
        f = torch.zeros_like(rho)
        for e, table in enumerate(self._frho):
            idx = torch.nonzero(graph.element == e).squeeze(1)
            if not idx.numel():
                continue
            x = rho[idx]
            value = _interpolate(table, x, d.drho, d.nrho)
            above = x > self._rho_max
            if bool(above.any()):
                # LAMMPS: F continues linearly with the slope at the end of the table
                c = table[d.nrho - 2].to(x.dtype)
                slope = (3 * c[0] + 2 * c[1] + c[2]) / d.drho
                value = torch.where(above, value + slope * (x - self._rho_max), value)
            f = f.index_copy(0, idx, value)
        pair = torch.zeros_like(rho).index_add(0, graph.center, 0.5 * z2 / r)
        return f + pair

    def _description(self) -> dict:
        d = self.data
        return {"elements": d.elements, "info": [list(i) for i in d.info], "nrho": d.nrho,
                "drho": d.drho, "nr": d.nr, "dr": d.dr, "comments": d.comments}

    def _arrays(self) -> dict[str, np.ndarray]:
        d = self.data
        out = {f"frho_{s}": d.frho[s] for s in d.elements}
        out.update({f"rhor_{s}": d.rhor[s] for s in d.elements})
        out.update({f"z2r_{a}_{b}": v for (a, b), v in d.z2r.items()})
        return out

    @classmethod
    def _from_description(cls, d, params, arrays):
        els = list(d["elements"])
        z2r = {}
        for k, v in arrays.items():
            if k.startswith("z2r_"):
                a, b = k[4:].split("_")
                z2r[(a, b)] = v
        data = SetflData(els, [tuple(i) for i in d["info"]], int(d["nrho"]), float(d["drho"]),
                         int(d["nr"]), float(d["dr"]), float(d["cutoff_angstrom"]),
                         {s: arrays[f"frho_{s}"] for s in els}, {s: arrays[f"rhor_{s}"] for s in els},
                         z2r, list(d.get("comments", ["", "", ""])))
        return cls(data, energy_offsets=d.get("energy_offsets_ev"), metadata=d.get("metadata"))
