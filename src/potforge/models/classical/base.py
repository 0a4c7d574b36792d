"""What every classical potential shares: named parameters, the pair graph, one derivative path.

A classical model is a pure energy kernel: per-atom energies E_i as a PyTorch function of the
neighbour-pair vectors d_p = r_j − r_i (+ periodic shift) and the model's named parameters.
Every family (pair, EAM, Tersoff, Stillinger–Weber) writes only that kernel. Forces and stress
then follow for all of them from one reverse pass, g_p = ∂E/∂d_p:

    F_a = Σ_{p: i(p)=a} g_p − Σ_{p: j(p)=a} g_p,        σ = (1/V) Σ_p sym(d_p ⊗ g_p),

because E depends on positions only through the pair vectors (∂d_p/∂r_j = 1, ∂d_p/∂r_i = −1)
and a homogeneous strain ε maps d_p → (1 + ε) d_p. Three-body kernels get the ordered pairs of
pairs that share a centre (``Graph.triplets``). Training differentiates the same kernel with
respect to the parameters (forward mode over this reverse pass for the exact Jacobian).

Parameters are scalars with a name (``pair.Cu-Cu.D0``, ``Si-Si-Si.lambda3``), a value, bounds
and a ``fixed`` flag; fitting varies the free ones within their bounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from ase import Atoms

from ...core.elements import species_indices
from ...core.errors import ConfigError, ModelFormatError
from ...core.lazy import torch
from ...core.neighbors import check_min_distance, neighbor_list
from ...core.voigt import VOIGT_COLS, VOIGT_ROWS
from ..potential import Potential, Prediction

__all__ = ["Parameter", "Graph", "build_graph", "triplets", "ClassicalPotential",
           "assemble_forces", "assemble_virial", "DEFAULT_TABLE_POINTS", "MAX_CUTOFF", "MAX_ENERGY_OFFSET"]

#: the largest cutoff of a classical model (Å), as for potforge's other models and neighbour lists
MAX_CUTOFF = 100.0
#: the largest |per-element energy offset| (eV): all-electron total energies of the heaviest
#: elements are ~1e6 eV per atom
MAX_ENERGY_OFFSET = 1e8

#: points of the tables a classical model is written as for LAMMPS (pair tables, the setfl
#: grids of EAM), and of LAMMPS' own internal table of ``pair_style table``
DEFAULT_TABLE_POINTS = 10000


@dataclass
class Parameter:
    """One scalar model parameter: value, bounds (inclusive) and whether fitting may change it."""

    name: str
    value: float
    lower: float = -math.inf
    upper: float = math.inf
    fixed: bool = False

    def check(self) -> None:
        if self.lower == self.upper:
            self.fixed = True  # nothing to fit (and SciPy needs lower < upper for free ones)
        if not math.isfinite(self.value):
            raise ConfigError(f"{self.name}: value {self.value} is not finite")
        if self.lower > self.upper:
            raise ConfigError(f"{self.name}: lower bound {self.lower} > upper bound {self.upper}")
        if not self.lower <= self.value <= self.upper:
            raise ConfigError(f"{self.name} = {self.value:g} is outside its physical bounds "
                              f"[{self.lower:g}, {self.upper:g}]")

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "value": self.value}
        if self.lower > -math.inf:
            out["lower"] = self.lower
        if self.upper < math.inf:
            out["upper"] = self.upper
        if self.fixed:
            out["fixed"] = True
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> "Parameter":
        fixed = d.get("fixed", False)
        if not isinstance(fixed, bool):
            raise ConfigError(f"{d.get('name')}.fixed: expected true or false, got {fixed!r}")
        return cls(str(d["name"]), float(d["value"]), float(d.get("lower", -math.inf)),
                   float(d.get("upper", math.inf)), fixed)


@dataclass
class Graph:
    """Neighbour pairs of one or several structures as tensors (atoms numbered across all).

    Attributes
    ----------
    n_atoms : int
    element : (n_atoms,) long — species index
    center, neighbor : (n_pairs,) long — i and j of each pair (full list: both directions)
    vectors : (n_pairs, 3) float64 — d_p = r_j − r_i (+ shift), Å
    triplets : (n_triplets, 2) long or None — ordered pairs (p, q), p ≠ q, of pairs with the
        same centre (the three-body terms j–i–k); None for models without three-body terms
    """

    n_atoms: int
    element: torch.Tensor
    center: torch.Tensor
    neighbor: torch.Tensor
    vectors: torch.Tensor
    triplets: torch.Tensor | None = None

    @property
    def n_pairs(self) -> int:
        return int(self.center.shape[0])


def triplets(center: torch.Tensor, n_atoms: int) -> torch.Tensor:
    """All ordered (p, q), p ≠ q, of pairs with the same centre; pairs sorted by centre."""
    counts = torch.bincount(center, minlength=n_atoms)
    starts = torch.cumsum(counts, 0) - counts
    per_pair = counts[center]                               # partners incl. itself
    first = torch.repeat_interleave(torch.arange(center.shape[0]), per_pair)
    total = int(per_pair.sum())
    if total == 0:
        return torch.zeros((0, 2), dtype=torch.long)
    block_start = torch.cumsum(per_pair, 0) - per_pair
    local = torch.arange(total) - torch.repeat_interleave(block_start, per_pair)
    second = starts[center][first] + local
    keep = first != second
    return torch.stack([first[keep], second[keep]], 1)


def build_graph(atoms: Atoms, species: tuple[str, ...], cutoff: float, *, with_triplets: bool,
                min_distance: float = 0.0, n_threads: int = 1) -> Graph:
    """The pair graph of one structure (UnknownElementError, StructureError on bad input)."""
    element, _ = species_indices(atoms, species)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, cutoff,
                       n_threads=n_threads, min_height=min_distance)
    check_min_distance(nl.distances, nl.centers, nl.neighbors, min_distance)
    center = torch.from_numpy(np.asarray(nl.centers, dtype=np.int64))
    g = Graph(len(atoms), torch.from_numpy(element.astype(np.int64)), center,
              torch.from_numpy(np.asarray(nl.neighbors, dtype=np.int64)),
              torch.from_numpy(np.ascontiguousarray(nl.vectors, dtype=np.float64)))
    if with_triplets:
        g.triplets = triplets(center, len(atoms))
    return g


def assemble_forces(g: torch.Tensor, center: torch.Tensor, neighbor: torch.Tensor,
                    n_atoms: int) -> torch.Tensor:
    """F_a = Σ_{p: i=a} g_p − Σ_{p: j=a} g_p for g_p = ∂E/∂d_p."""
    forces = torch.zeros((n_atoms, 3), dtype=g.dtype)
    return forces.index_add(0, center, g).index_add(0, neighbor, -g)


def assemble_virial(g: torch.Tensor, vectors: torch.Tensor, frame_of_pair: torch.Tensor | None,
                    n_frames: int) -> torch.Tensor:
    """Σ_p d_p ⊗ g_p per frame, symmetrised, in Voigt order (n_frames, 6), eV (divide by V
    for the stress)."""
    outer = (vectors.unsqueeze(2) * g.unsqueeze(1)).reshape(-1, 9)
    if frame_of_pair is None:
        full = outer.sum(0, keepdim=True)
    else:
        full = torch.zeros((n_frames, 9), dtype=g.dtype).index_add(0, frame_of_pair, outer)
    full = full.reshape(-1, 3, 3)
    a, b = VOIGT_ROWS, VOIGT_COLS
    return 0.5 * (full[:, a, b] + full[:, b, a])


class ClassicalPotential(Potential):
    """Base of the classical families: named parameters, a per-atom energy kernel, autograd
    forces and stress, per-element energy offsets (eV/atom, the DFT reference energies).

    Subclasses implement :meth:`site_energies` (and :meth:`_description`/:meth:`_from_description`
    for saving); they set ``needs_triplets`` if the kernel has three-body terms.
    """

    kind: ClassVar[str] = "classical"
    needs_triplets: ClassVar[bool] = False
    #: parameter keys that set the cutoff (none: the cutoff is a fixed option)
    cutoff_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, species: Iterable[str], parameters: Iterable[Parameter], cutoff: float, *,
                 energy_offsets: Mapping[str, float] | None = None, metadata: dict | None = None) -> None:
        self._species = tuple(species)
        if len(set(self._species)) != len(self._species) or not self._species:
            raise ConfigError(f"species: expected distinct element symbols, got {list(self._species)}")
        self.parameters: dict[str, Parameter] = {}
        for p in parameters:
            if p.name in self.parameters:
                raise ConfigError(f"parameter {p.name} is given twice")
            p.check()
            self.parameters[p.name] = p
        if not 0 < cutoff <= MAX_CUTOFF:
            raise ConfigError(f"cutoff = {cutoff} Å is outside the accepted range (0, {MAX_CUTOFF:g}] Å")
        self._cutoff = float(cutoff)
        offsets = dict(energy_offsets or {})
        unknown = set(offsets) - set(self._species)
        if unknown:
            raise ConfigError(f"energy_offsets: {', '.join(sorted(unknown))} not among the species "
                              f"{', '.join(self._species)}")
        self.energy_offsets = {s: float(offsets.get(s, 0.0)) for s in self._species}
        for s, e in self.energy_offsets.items():
            if not abs(e) <= MAX_ENERGY_OFFSET:
                raise ConfigError(f"energy_offsets.{s} = {e:.6g} eV is outside the accepted range "
                                  f"[{-MAX_ENERGY_OFFSET:g}, {MAX_ENERGY_OFFSET:g}] eV")
        #: parameter name -> accepted range (families fill it; :meth:`physical_range`)
        self._ranges: dict[str, tuple[float, float]] = {}
        self.metadata = dict(metadata or {})
        self.n_threads = 1

    # -- interface -------------------------------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return self._species

    @property
    def cutoff(self) -> float:
        return self._cutoff

    def site_energies(self, p: Mapping[str, torch.Tensor], graph: Graph) -> torch.Tensor:
        """Per-atom energies (n_atoms,) eV, without the energy offsets; differentiable in
        ``graph.vectors`` and in the parameter tensors ``p`` (name -> 0-d tensor)."""
        raise NotImplementedError

    def parameter_tensors(self, theta: torch.Tensor | None = None,
                          free: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Name -> 0-d float64 tensor; the names in ``free`` take the entries of ``theta``."""
        out = {n: torch.tensor(p.value, dtype=torch.float64) for n, p in self.parameters.items()}
        if theta is not None:
            for k, name in enumerate(free or []):
                out[name] = theta[k]
        return out

    def free_parameters(self) -> list[str]:
        return [n for n, p in self.parameters.items() if not p.fixed]

    def set_values(self, values: Mapping[str, float], *, clip: bool = False) -> "ClassicalPotential":
        """Set parameter values; outside its bounds a value is clipped (``clip``) or refused."""
        for name, v in values.items():
            if name not in self.parameters:
                raise ConfigError(f"{name}: not a parameter of this {self.kind} model")
            p = self.parameters[name]
            v = float(v)
            if clip:
                lo, hi = self.physical_range(name)
                v = min(max(v, p.lower, lo), p.upper, hi)
            p.value = v
            p.check()
        self.check_physical()
        return self

    def physical_range(self, name: str) -> tuple[float, float]:
        """The accepted range of parameter ``name`` (fitted values are clipped into it)."""
        return self._ranges.get(name, (-math.inf, math.inf))

    def check_physical(self) -> None:
        """ConfigError naming a parameter outside its accepted range (families check more)."""
        for name, p in self.parameters.items():
            lo, hi = self.physical_range(name)
            if not lo <= p.value <= hi:
                raise ConfigError(f"{name} = {p.value:.6g} is outside the accepted range [{lo:g}, {hi:g}]")

    def values(self) -> dict[str, float]:
        return {n: p.value for n, p in self.parameters.items()}

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        graph = build_graph(atoms, self.species, self.cutoff, with_triplets=self.needs_triplets,
                            min_distance=self.min_distance, n_threads=self.n_threads)
        periodic = bool(np.all(atoms.pbc))
        want_grad = forces or (stress and periodic)
        dtype = torch.float32 if self.dtype == "float32" else torch.float64
        params = self.parameter_tensors()
        if dtype != torch.float64:
            params = {k: v.to(dtype) for k, v in params.items()}
        with torch.enable_grad():
            vectors = graph.vectors.to(dtype, copy=True).requires_grad_(want_grad)
            graph.vectors = vectors
            e_atoms = self.site_energies(params, graph)
            g = None
            if want_grad and graph.n_pairs:
                (g,) = torch.autograd.grad(e_atoms.sum(), vectors, allow_unused=True)
            if g is None:
                g = torch.zeros_like(vectors)
        offsets = np.array([self.energy_offsets[s] for s in self.species])[graph.element.numpy()]
        energies = e_atoms.detach().to(torch.float64).numpy() + offsets
        f = s = None
        if forces:
            f = assemble_forces(g.detach(), graph.center, graph.neighbor, len(atoms)).to(torch.float64).numpy()
        if stress and periodic:
            s = (assemble_virial(g.detach(), vectors.detach(), None, 1)[0].to(torch.float64)
                 / atoms.get_volume()).numpy()
        return Prediction(energy=float(energies.sum()), energies=energies, forces=f, stress=s)

    # -- persistence ------------------------------------------------------------------------------
    def _description(self) -> dict:
        """Family-specific part of the saved description (forms, tables, ...)."""
        return {}

    def to_dict(self) -> dict:
        return {"species": list(self.species), "cutoff_angstrom": self.cutoff,
                "parameters": [p.to_dict() for p in self.parameters.values()],
                "energy_offsets_ev": self.energy_offsets, "metadata": self.metadata,
                **self._description()}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "ClassicalPotential":
        try:
            params = [Parameter.from_dict(d) for d in description["parameters"]]
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFormatError(f"bad parameter list in a {cls.kind} model: {err}") from None
        return cls._from_description(description, params, arrays)

    @classmethod
    def _from_description(cls, description: dict, params: list[Parameter],
                          arrays: dict[str, np.ndarray]) -> "ClassicalPotential":
        raise NotImplementedError

    def copy(self) -> "ClassicalPotential":
        return type(self).from_saved(self.to_dict(), self._arrays())

    def without_offsets(self) -> "ClassicalPotential":
        """The same potential with zero energy offsets (what LAMMPS styles without per-element
        constants compute)."""
        other = self.copy()
        other.energy_offsets = {s: 0.0 for s in self.species}
        return other
