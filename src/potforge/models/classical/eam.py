"""The embedded-atom method (Daw & Baskes, PRB 29, 6443 (1984)), multi-element (alloy) form:

    E = Σ_i F_{Z_i}(ρ_i) + ½ Σ_i Σ_{j≠i} φ_{Z_i Z_j}(r_ij),      ρ_i = Σ_{j≠i} ρ_{Z_j}(r_ij),

with per-pair φ, per-element density ρ_Z and embedding F_Z (LAMMPS ``eam/alloy`` semantics).

Two representations:

- :class:`EAM`: analytic or B-spline forms (:mod:`.functions`), fitted by potforge; φ and ρ are
  switched smoothly to zero at the cutoff. Exported to LAMMPS as a finely tabulated setfl file.
- :class:`~.eam_tables.SetflEAM`, :class:`~.eam_tables.FuncflEAM`: LAMMPS' tabulated files
  (setfl, eam/fs, funcfl) evaluated with LAMMPS' own interpolation so that both codes agree to
  round-off (:mod:`.eam_tables`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

import numpy as np
from ase.data import atomic_masses, atomic_numbers, reference_states

from ...core.errors import ConfigError, ModelFormatError
from ...core.lazy import torch
from ...data.lammps.funcfl import HARTREE_BOHR, FuncflData
from ...data.lammps.setfl import SetflData
from .base import DEFAULT_TABLE_POINTS, ClassicalPotential, Graph, Parameter
from .eam_tables import FuncflEAM, SetflEAM, hermite_coefficients
from .functions import EmbeddingForm, RadialForm, embedding_form, smooth_switch, sub
from .pair import _check_parameters, forms_from_description, pair_type_index, pair_types, radial_sum

__all__ = ["EAM", "SetflEAM", "FuncflEAM", "hermite_coefficients"]


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
        if rho_max is None:
            rho_max = 2.0 * self._reference_density(p)
        table = self._tabulate(p, nr, self.cutoff / (nr - 1), nrho, rho_max / (nrho - 1))
        table.comments = list(comments)
        return table

    def _tabulate(self, p, nr: int, dr: float, nrho: int, drho: float) -> SetflData:
        """F + offset on ρ = k·drho (k < nrho), ρ and r·φ on r = k·dr (k < nr), as setfl data."""
        r = torch.arange(nr, dtype=torch.float64) * dr
        r_safe = r.clone()
        r_safe[0] = dr  # r = 0 is never evaluated by LAMMPS; keep the table finite
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
        return SetflData(list(self.species), info, nrho, drho, nr, dr, self.cutoff, frho, rhor, z2r)

    def to_funcfl(self, *, nr: int = DEFAULT_TABLE_POINTS, nrho: int = DEFAULT_TABLE_POINTS,
                  rho_max: float | None = None, tolerance: float = 1e-8) -> list[FuncflData]:
        """Tabulate for LAMMPS ``pair_style eam``: one funcfl per species (species order) with
        F + energy offset on ρ = 0 … rho_max, ρ(r) and the effective charge
        Z(r) = √(r·φ_ii(r) / (27.2·0.529)) on r = 0 … cutoff. Each grid holds one point more
        (LAMMPS regrids a funcfl file to one point less, :mod:`.eam_tables`). ModelFormatError
        if a pair φ_ii is negative somewhere (funcfl has no attractive pair term) or a cross
        pair is not the geometric mean √(φ_ii φ_jj) that LAMMPS mixes (both to ``tolerance``
        relative to the largest |r·φ|)."""
        if nr < 7 or nrho < 7:
            raise ConfigError(f"table points: expected at least 7, got {min(nr, nrho)}")
        p = self.parameter_tensors()
        rho_max = 2.0 * self._reference_density(p) if rho_max is None else float(rho_max)
        table = self._tabulate(p, nr, self.cutoff / (nr - 2), nrho, rho_max / (nrho - 2))
        scale = max(float(np.abs(v).max()) for v in table.z2r.values()) or 1.0
        z = {}
        for s in self.species:
            z2 = table.z2r[(s, s)]
            k = int(np.argmin(z2[1:])) + 1
            if z2[k] < -tolerance * scale:
                raise ModelFormatError(f"the {s}-{s} pair term is negative (r*phi = {z2[k]:.4g} eV*A at "
                                       f"r = {k * table.dr:.4g} A): a funcfl file (pair_style eam) holds "
                                       "it as a square Z(r)^2; export as eam/alloy or eam/fs")
            z[s] = np.sqrt(np.maximum(z2, 0.0) / HARTREE_BOHR)
        for (b, a), z2 in table.z2r.items():       # keys (later, earlier species)
            gap = np.abs(z2[1:] - HARTREE_BOHR * z[a][1:] * z[b][1:])
            if a != b and gap.max() > tolerance * scale:
                k = int(np.argmax(gap)) + 1
                raise ModelFormatError(f"the {a}-{b} pair term is not the geometric mean of {a}-{a} and "
                                       f"{b}-{b} (off by {gap[k - 1]:.3g} eV*A at r = {k * table.dr:.4g} A), "
                                       "which pair_style eam assumes; export as eam/alloy or eam/fs")
        return [FuncflData(int(z_), mass, table.nrho, table.drho, table.nr, table.dr, self.cutoff,
                           table.frho[s], z[s], table.rhor[s], a0, lattice)
                for s, (z_, mass, a0, lattice) in zip(self.species, table.info)]

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
