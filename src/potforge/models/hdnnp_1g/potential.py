"""First-generation (1G) neural network potential of one small molecule.

One feed-forward network maps global internal coordinates of a fixed molecule to its energy
(Blank, Brown, Calhoun & Doren, J. Chem. Phys. 103, 4129 (1995); reviewed as the first
generation in Behler, J. Chem. Phys. 145, 170901 (2016)). The molecule is given as an atom
order ``symbols`` (e.g. O, H, H); its n atoms form the n(n−1)/2 pairs p = (a, b), a < b.

Coordinates. Every interatomic distance d_p is mapped to a Morse-like variable

    y_p = exp(−d_p / λ)                       (``coordinates="morse"``, λ: ``length``, Å)

(Braams & Bowman, Int. Rev. Phys. Chem. 28, 577 (2009), eq. 5; Jiang & Guo, J. Chem. Phys.
139, 054112 (2013)). Why: y is bounded in (0, 1] and goes smoothly to 0 when a bond breaks,
so stretched geometries stay inside the range the network saw; the Morse stretch
D (1 − e^{−a(d − d_e)})² is a quadratic polynomial in e^{−a d}, so the anharmonic bond
potential is a simple function of the input; the short-range wall is steep in d but gentle
in y. With the inputs standardised below, λ only sets that curvature (1 Å is a safe default;
Braams–Bowman use 2 bohr). ``"inverse"`` (y = λ/d) and ``"distance"`` (y = d/λ) exist for
comparison.

Interatomic distances make the energy exactly invariant under translations and rotations.

Permutations. Let G be the group of permutations of like atoms (for H2O: identity and the
H↔H swap; in general the product of the symmetric groups of each element). A permutation
π ∈ G maps pair p = (a, b) to π(p) = (π(a), π(b)); the network sees the permuted input
x^π_p = (y_{π(p)} − μ_p) / s_p, with μ, s the mean and standard deviation of the inputs over
the training frames *and* all permutations (so like pairs share their scaling). The energy is
the group average

    E = (σ / |G|) Σ_{π∈G} NN(x^π) + E_0,

σ the output scale (eV per network unit) and E_0 the energy offset (eV). Relabelling like
atoms by ρ ∈ G maps the set {x^π} onto itself (π ↦ π∘ρ), so E is exactly invariant
(symmetrisation by summing over the group, as in Behler, Lorenz & Reuter, J. Chem. Phys.
127, 014705 (2007) for low-dimensional networks).

Forces. With g_q = ∂E/∂y_q = (σ/|G|) Σ_π Σ_{p: π(p)=q} ∂NN/∂x_p (x^π) / s_p and
y'(d) = −y/λ (morse), for pair q = (a, b) with unit vector u = (r_a − r_b)/d_q,

    F_a −= g_q y'(d_q) u,      F_b += g_q y'(d_q) u.

A 1G model has no atomic energies; :attr:`Prediction.energies` reports E/n for every atom
(the sum is the energy; the split is a convention). Molecules are not periodic: structures
with periodic boundaries are refused, and there is no stress.

Structures may list the atoms in any order: atoms are matched to ``symbols`` element by
element in order of appearance, which is enough because E is symmetric in like atoms.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from ase import Atoms

from ...core.elements import is_element, species_indices
from ...core.errors import StructureError
from ...core.neighbors import check_min_distance
from ...descriptors.symmetry_functions import MAX_CUTOFF
from ..network import AtomicNetwork
from ..potential import Potential, Prediction, check_energy, check_energy_scale, saved_part

__all__ = ["MolecularNetworkPotential", "COORDINATES", "MAX_INPUT", "atom_pairs", "like_atom_permutations",
           "permuted_pair_indices", "pair_coordinates", "molecule_order", "unique_species",
           "check_molecule"]

#: Coordinate transforms of a distance d (Å) with length λ (Å).
COORDINATES = ("morse", "inverse", "distance")
#: Beyond this many like-atom permutations a 1G model is the wrong tool (use a 2G HDNNP).
MAX_PERMUTATIONS = 50_000
#: Largest |mean| or standard deviation of a coordinate: they are O(1) numbers by construction
#: (exp(−d/λ) <= 1, λ/d and d/λ for sensible λ).
MAX_INPUT = 1.0e6


def unique_species(symbols: Sequence[str]) -> tuple[str, ...]:
    """Elements of ``symbols`` in order of first appearance (``O,H,H`` → ``O,H``)."""
    return tuple(dict.fromkeys(symbols))


def atom_pairs(n_atoms: int) -> np.ndarray:
    """All pairs (a, b), a < b, in lexicographic order: (n_atoms(n_atoms−1)/2, 2) int."""
    return np.array(list(itertools.combinations(range(n_atoms), 2)), dtype=np.int64).reshape(-1, 2)


def like_atom_permutations(symbols: Sequence[str]) -> np.ndarray:
    """All permutations that exchange atoms of the same element only: (|G|, n_atoms) int.

    Row π lists, for each atom a, the atom π[a] whose role it takes; the identity comes first.
    """
    symbols = list(symbols)
    groups = [[k for k, s in enumerate(symbols) if s == e] for e in unique_species(symbols)]
    count = math.prod(math.factorial(len(g)) for g in groups)
    if count > MAX_PERMUTATIONS:
        raise ValueError(f"{count} permutations of like atoms in {''.join(symbols)}; a 1G model "
                         f"symmetrises over all of them (at most {MAX_PERMUTATIONS}); use a 2G HDNNP")
    rows = []
    for choice in itertools.product(*(itertools.permutations(g) for g in groups)):
        perm = np.empty(len(symbols), dtype=np.int64)
        for group, image in zip(groups, choice):
            perm[group] = image
        rows.append(perm)
    return np.array(rows, dtype=np.int64)


def permuted_pair_indices(permutations: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Index of pair π(p) for every permutation and pair: (|G|, n_pairs) int."""
    n = int(permutations.shape[1])
    lookup = np.full((n, n), -1, dtype=np.int64)
    lookup[pairs[:, 0], pairs[:, 1]] = np.arange(len(pairs))
    lookup[pairs[:, 1], pairs[:, 0]] = np.arange(len(pairs))
    return lookup[permutations[:, pairs[:, 0]], permutations[:, pairs[:, 1]]]


def pair_coordinates(distances: np.ndarray, kind: str, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates y(d) and their derivatives dy/dd (1/Å) for distances d (Å), any shape.

    ``morse``: y = exp(−d/λ); ``inverse``: y = λ/d; ``distance``: y = d/λ.
    """
    d = np.asarray(distances, dtype=np.float64)
    if kind == "morse":
        y = np.exp(-d / length)
        return y, -y / length
    if kind == "inverse":
        y = length / d
        return y, -y / d
    if kind == "distance":
        return d / length, np.full_like(d, 1.0 / length)
    raise ValueError(f"unknown coordinates {kind!r}; expected one of {', '.join(COORDINATES)}")


def molecule_order(symbols: Sequence[str], model_symbols: Sequence[str],
                   species: tuple[str, ...] | None = None, atoms: Atoms | None = None) -> np.ndarray:
    """Index of the structure atom that plays each model atom: (n_atoms,) int.

    Atoms are matched element by element in order of appearance. Raises
    UnknownElementError (element the model does not know) or StructureError (another
    composition) with a one-line message.
    """
    symbols = list(symbols)
    model_symbols = list(model_symbols)
    species = species or unique_species(model_symbols)
    if atoms is not None:
        species_indices(atoms, species)  # names unknown elements and the model's species
    have, want = Counter(symbols), Counter(model_symbols)
    if have != want:
        found = "".join(f"{e}{have[e] if have[e] > 1 else ''}" for e in sorted(have))
        expected = "".join(f"{e}{want[e] if want[e] > 1 else ''}" for e in sorted(want))
        raise StructureError(f"structure has composition {found} ({len(symbols)} atoms) but the "
                             f"model describes one {expected} molecule (atoms "
                             f"{', '.join(model_symbols)}); give exactly one such molecule")
    slots: dict[str, list[int]] = {}
    for k, s in enumerate(symbols):
        slots.setdefault(s, []).append(k)
    taken = {e: 0 for e in slots}
    order = np.empty(len(model_symbols), dtype=np.int64)
    for a, s in enumerate(model_symbols):
        order[a] = slots[s][taken[s]]
        taken[s] += 1
    return order


def check_molecule(atoms: Atoms) -> None:
    """StructureError for periodic structures and non-finite positions."""
    if np.any(atoms.pbc):
        raise StructureError(f"the model describes an isolated molecule but the structure is "
                             f"periodic (pbc={atoms.pbc.tolist()}); set atoms.pbc = False")
    if not np.all(np.isfinite(atoms.positions)):
        raise StructureError("positions contain NaN or inf")


class MolecularNetworkPotential(Potential):
    """A 1G neural network potential of one molecule (formulas in the module docstring).

    Parameters
    ----------
    symbols : sequence of str
        The molecule's atoms in model order, e.g. ``("O", "H", "H")``.
    network : AtomicNetwork
        Takes n(n−1)/2 inputs (one per atom pair), one output.
    coordinates : {"morse", "inverse", "distance"}
    length : float, Å
        λ of the coordinate transform.
    input_mean, input_std : (n_pairs,) float
        μ, s of the standardised inputs (training statistics over all permutations).
    output_scale : float, eV
        σ: energy of one network output unit.
    energy_offset : float, eV
        E_0, added to the molecule's energy.
    metadata : dict
        Free-form provenance (training data, level of theory, ...).

    Attributes
    ----------
    n_threads : int
        Accepted from :meth:`configure` for uniformity with other models and ignored: one
        molecule costs a few small matrix products.
    dtype : {"float64", "float32"}
        Arithmetic of the network (coordinates and scaling stay float64).
    """

    kind: ClassVar[str] = "hdnnp-1g"

    def __init__(self, symbols: Sequence[str], network: AtomicNetwork, *,
                 coordinates: str = "morse", length: float = 1.0,
                 input_mean: Sequence[float] | np.ndarray | None = None,
                 input_std: Sequence[float] | np.ndarray | None = None,
                 output_scale: float = 1.0, energy_offset: float = 0.0,
                 metadata: dict | None = None) -> None:
        self.symbols = tuple(str(s) for s in symbols)
        if len(self.symbols) < 2:
            raise ValueError(f"a molecule needs at least two atoms, got {self.symbols}")
        unknown = [s for s in self.symbols if not is_element(s)]
        if unknown:
            raise ValueError(f"unknown element {unknown[0]!r} in symbols {list(self.symbols)}")
        if coordinates not in COORDINATES:
            raise ValueError(f"unknown coordinates {coordinates!r}; expected one of {', '.join(COORDINATES)}")
        if not 0 < length <= MAX_CUTOFF:
            raise ValueError(f"length {length!r} Å is outside (0, {MAX_CUTOFF:g}] Å")
        self.coordinates = coordinates
        self.length = float(length)
        self.pairs = atom_pairs(len(self.symbols))
        self.permutations = like_atom_permutations(self.symbols)
        self.permuted_pairs = permuted_pair_indices(self.permutations, self.pairs)
        n_pairs = len(self.pairs)
        self.network = network
        if network.architecture[0] != n_pairs:
            raise ValueError(f"the network takes {network.architecture[0]} inputs but "
                             f"{''.join(self.symbols)} has {n_pairs} atom pairs")
        self.input_mean = np.zeros(n_pairs) if input_mean is None else np.asarray(input_mean, dtype=np.float64)
        self.input_std = np.ones(n_pairs) if input_std is None else np.asarray(input_std, dtype=np.float64)
        if self.input_mean.shape != (n_pairs,) or self.input_std.shape != (n_pairs,):
            raise ValueError(f"input scaling needs {n_pairs} means and standard deviations, got "
                             f"{self.input_mean.shape} and {self.input_std.shape}")
        for what, values in (("input_mean", self.input_mean), ("input_std", self.input_std)):
            bad = np.flatnonzero(~(np.abs(values) <= MAX_INPUT))
            if bad.size:
                raise ValueError(f"{what}[{bad[0]}] is {values[bad[0]]!r}, expected a finite number "
                                 f"within ±{MAX_INPUT:g}")
        if not np.all(self.input_std > 0):
            raise ValueError("input standard deviations must be positive")
        self.output_scale = check_energy_scale(output_scale, "output scale")
        self.energy_offset = check_energy(energy_offset, "energy offset", n_atoms=len(self.symbols))
        self.metadata = dict(metadata or {})

    # -- Potential interface -----------------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return unique_species(self.symbols)

    @property
    def cutoff(self) -> float:
        """No cutoff: the network sees the whole molecule (infinite range)."""
        return math.inf

    @property
    def generation(self) -> int:
        return 1

    def energy_and_gradient(self, positions: np.ndarray, *, gradient: bool = True
                            ) -> tuple[float, np.ndarray | None]:
        """E (eV) and ∂E/∂r (n_atoms, 3) eV/Å of positions (Å) in model atom order.

        No checks (see :meth:`predict`).
        """
        pos = np.asarray(positions, dtype=np.float64)
        vec = pos[self.pairs[:, 0]] - pos[self.pairs[:, 1]]
        dist = np.linalg.norm(vec, axis=1)
        y, dy = pair_coordinates(dist, self.coordinates, self.length)
        x = (y[self.permuted_pairs] - self.input_mean) / self.input_std  # (|G|, n_pairs)
        n_perm = len(self.permutations)
        if not gradient:
            out = self.network.forward(x, dtype=self.dtype)
            return self.output_scale * float(out.sum()) / n_perm + self.energy_offset, None
        out, grad = self.network.forward(x, gradient=True, dtype=self.dtype)
        energy = self.output_scale * float(out.sum()) / n_perm + self.energy_offset
        de_dy = np.zeros(len(self.pairs))
        np.add.at(de_dy, self.permuted_pairs.ravel(),
                  (grad * (self.output_scale / n_perm) / self.input_std).ravel())
        g = (de_dy * dy / dist)[:, None] * vec  # ∂E/∂r_a of each pair (a, b)
        de_dr = np.zeros_like(pos)
        np.add.at(de_dr, self.pairs[:, 0], g)
        np.add.at(de_dr, self.pairs[:, 1], -g)
        return energy, de_dr

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        check_molecule(atoms)
        order = molecule_order(atoms.get_chemical_symbols(), self.symbols, self.species, atoms)
        pos = atoms.positions[order]
        i, j = order[self.pairs[:, 0]], order[self.pairs[:, 1]]
        check_min_distance(np.linalg.norm(pos[self.pairs[:, 0]] - pos[self.pairs[:, 1]], axis=1),
                           i, j, self.min_distance)
        energy, de_dr = self.energy_and_gradient(pos, gradient=forces)
        n = len(atoms)
        f = None
        if forces:
            f = np.empty((n, 3))
            f[order] = -de_dr
        return Prediction(energy=energy, energies=np.full(n, energy / n), forces=f, stress=None)

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        net = self.network
        return {
            "generation": 1,
            "symbols": list(self.symbols),
            "coordinates": self.coordinates,
            "length_angstrom": self.length,
            "network": {"architecture": list(net.architecture), "activations": net.activations,
                        "normalize": net.normalize},
            "input_mean": self.input_mean.tolist(),
            "input_std": self.input_std.tolist(),
            "output_scale_ev": self.output_scale,
            "energy_offset_ev": self.energy_offset,
            "n_permutations": int(len(self.permutations)),
            "metadata": self.metadata,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for k, (w, b) in enumerate(zip(self.network.weights, self.network.biases)):
            arrays[f"weights{k}"] = w
            arrays[f"biases{k}"] = b
        return arrays

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "MolecularNetworkPotential":
        with saved_part("model.network"):
            spec = description["network"]
            n_layers = len(spec["activations"])
            network = AtomicNetwork([arrays[f"weights{k}"] for k in range(n_layers)],
                                    [arrays[f"biases{k}"] for k in range(n_layers)],
                                    spec["activations"], spec.get("normalize", False))
        with saved_part("model.output_scale_ev"):
            check_energy_scale(description["output_scale_ev"], "output scale")
        with saved_part("model.energy_offset_ev"):
            check_energy(description["energy_offset_ev"], "energy offset",
                         n_atoms=len(description["symbols"]))
        with saved_part("model.length_angstrom"):
            if not 0 < float(description["length_angstrom"]) <= MAX_CUTOFF:
                raise ValueError(f"{description['length_angstrom']!r} Å is outside (0, {MAX_CUTOFF:g}] Å")
        with saved_part("model"):
            return cls(description["symbols"], network, coordinates=description["coordinates"],
                       length=description["length_angstrom"], input_mean=description["input_mean"],
                       input_std=description["input_std"], output_scale=description["output_scale_ev"],
                       energy_offset=description["energy_offset_ev"],
                       metadata=description.get("metadata", {}))
