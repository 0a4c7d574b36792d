"""What the charge-carrying HDNNPs (3G, 4G) share: symmetry functions with their scaling,
per-element networks, the total charge of a structure, the electrostatic settings, one
backward pass through the symmetry functions, stress assembly and persistence helpers.

Total charge of a structure (one rule for every charge model, the ASE calculator and the
data readers): ``atoms.info["total_charge"]`` (e) when present, otherwise the sum of
``atoms.get_initial_charges()`` (0 when none are set). :class:`potforge.data.frame.Frame`
keeps a frame's ``total_charge`` label in ``atoms.info["total_charge"]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ... import _native
from ...core.dtypes import check_dtype
from ...core.elements import species_indices
from ...core.errors import ModelFormatError, StructureError
from ...core.lazy import torch
from ...core.neighbors import check_min_distance, neighbor_list
from ...core.voigt import VOIGT_COLS, VOIGT_ROWS
from ...descriptors.scaling import EXTRAPOLATION_TOLERANCE, SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..hdnnp.potential import check_common, network_arrays, networks_description, saved_networks
from ..network import AtomicNetwork
from ..potential import Potential, Prediction, check_energy, saved_part
from .settings import ElectrostaticSettings

__all__ = ["ChargeHDNNPBase", "Environment", "total_charge", "MAX_CHARGE_PER_ATOM"]

#: |total charge| per atom beyond this (e) is no physical structure.
MAX_CHARGE_PER_ATOM = 10.0


def total_charge(atoms: Atoms) -> float:
    """The structure's total charge (e): ``atoms.info["total_charge"]``, else the sum of the
    initial charges; a StructureError when it is not a finite number within ±10 e per atom."""
    if "total_charge" in atoms.info:
        value = atoms.info["total_charge"]
        where = "atoms.info['total_charge']"
    else:
        value = float(np.sum(atoms.get_initial_charges())) if len(atoms) else 0.0
        where = "the sum of the initial charges"
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    # a bool or a string is no charge (True would silently be 1 e)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise StructureError(f"{where} is {value!r}, expected a number (e)")
    q = float(value)
    if not (math.isfinite(q) and abs(q) <= MAX_CHARGE_PER_ATOM * max(1, len(atoms))):
        raise StructureError(f"{where} is {q!r}, expected a finite charge within ±"
                             f"{MAX_CHARGE_PER_ATOM:g} e per atom")
    return q


@dataclass
class Environment:
    """One structure's symmetry functions: species index, atomic numbers, neighbour list,
    raw values G (n, n_sf_max) and the scaled ones per element."""

    idx: np.ndarray
    numbers: np.ndarray
    nl: object
    G: np.ndarray
    scaled: dict
    extrapolations: np.ndarray


class ChargeHDNNPBase(Potential):
    """The shared state of 3G and 4G HDNNPs (see the subclasses for the parameters)."""

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 electrostatics: ElectrostaticSettings, *, atom_energies: Mapping[str, float] | None,
                 n_threads: int, dtype: str, metadata: dict | None) -> None:
        self.symmetry_functions = symmetry_functions
        self.scaling = scaling
        self.electrostatics = electrostatics
        self.atom_energies, self.n_threads, self._dtype, self.metadata = check_common(
            symmetry_functions.species, atom_energies, n_threads, dtype, metadata)
        missing = [s for s in self.species if s not in electrostatics.widths]
        if missing:
            raise ValueError(f"no Gaussian width for element {missing[0]}")
        for s in self.species:
            n_sf = symmetry_functions.n_functions(s)
            if s not in scaling.statistics or len(scaling.statistics[s]) != n_sf:
                raise ValueError(f"element {s}: scaling statistics do not match its {n_sf} "
                                 "symmetry functions")
            scaling.affine(s)
        self._kernel = None
        self._widths = np.array([electrostatics.widths[s] for s in self.species])

    def _check_network(self, networks: Mapping[str, AtomicNetwork], what: str, extra_inputs: int) -> dict:
        networks = dict(networks)
        for s in self.species:
            if s not in networks:
                raise ValueError(f"no {what} network for element {s}")
            n_in = self.symmetry_functions.n_functions(s) + extra_inputs
            if networks[s].architecture[0] != n_in:
                raise ValueError(f"element {s}: the {what} network takes {networks[s].architecture[0]} "
                                 f"inputs, expected {n_in}")
        return networks

    # -- Potential interface ---------------------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return self.symmetry_functions.species

    @property
    def cutoff(self) -> float:
        """The symmetry functions' cutoff (Å); the electrostatics reach beyond it."""
        return self.symmetry_functions.cutoff

    @property
    def dtype(self) -> str:
        """Arithmetic of the symmetry-function kernels (the networks, electrostatics and
        charge equilibration always run in float64)."""
        return self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        if check_dtype(value) != self._dtype:
            self._dtype = value
            self._kernel = None

    @property
    def kernel(self):
        """The compiled symmetry-function kernel (no networks)."""
        if self._kernel is None:
            sfs = self.symmetry_functions
            try:
                self._kernel = _native.make_kernel([sfs.table(e) for e in self.species],
                                                   len(self.species), dtype=self._dtype)
            except ValueError as err:
                raise ModelFormatError(f"the model cannot be compiled: {err}") from None
        return self._kernel

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """PyTorch's intra-op threads set to ``n_threads`` (when not 0) during a prediction and
        restored after: the networks and the electrostatics of small structures run 10x
        slower on two contended threads than on one (measured: 2.3 ms vs 0.22 ms per
        network call for 10 atoms)."""
        previous = torch.get_num_threads()
        if self.n_threads > 0 and self.n_threads != previous:
            torch.set_num_threads(self.n_threads)
        try:
            yield
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        with self._threads():
            return self._predict(atoms, forces, stress)

    # -- shared steps of predict -------------------------------------------------------------------
    def _environment(self, atoms: Atoms) -> Environment:
        idx, numbers = species_indices(atoms, self.species)
        nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, self.cutoff,
                           n_threads=self.n_threads, min_height=self.min_distance)
        check_min_distance(nl.distances, nl.centers, nl.neighbors, self.min_distance)
        G, _ = _native.symmetry_functions(self.kernel, idx.astype(np.int32),
                                          numbers.astype(np.float64), nl.offsets, nl.neighbors,
                                          nl.vectors, nl.distances, False, self.n_threads)
        scaled = {}
        extrapolations = np.zeros(len(atoms), dtype=np.int32)
        for e, s in enumerate(self.species):
            mask = idx == e
            if mask.any():
                n_sf = self.symmetry_functions.n_functions(s)
                raw = G[mask, :n_sf]
                a, b = self.scaling.affine(s)
                scaled[e] = raw * a + b
                st = self.scaling.statistics[s]
                outside = ((raw + EXTRAPOLATION_TOLERANCE < st.minimum) |
                           (raw - EXTRAPOLATION_TOLERANCE > st.maximum))
                extrapolations[mask] = outside.sum(axis=1)
        return Environment(idx, numbers, nl, G, scaled, extrapolations)

    def _per_element(self, env: Environment, networks: Mapping[str, AtomicNetwork],
                     extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Outputs (n,) and input gradients (n, n_sf_max [+1]) of ``networks`` on the scaled
        functions (and the extra input column ``extra``, e.g. the charges); the gradient with
        respect to the raw functions (scaling factor applied), the extra input's last."""
        n = len(env.idx)
        width = env.G.shape[1] + (0 if extra is None else 1)
        out, grad = np.zeros(n), np.zeros((n, width))
        for e, s in enumerate(self.species):
            if e not in env.scaled:
                continue
            mask = env.idx == e
            x = env.scaled[e]
            if extra is not None:
                x = np.concatenate([x, extra[mask, None]], axis=1)
            o, g = networks[s].forward(x, gradient=True)
            n_sf = self.symmetry_functions.n_functions(s)
            a, _ = self.scaling.affine(s)
            out[mask] = o
            grad[mask, :n_sf] = g[:, :n_sf] * a
            if extra is not None:
                grad[mask, -1] = g[:, n_sf]
        return out, grad

    def _backward(self, env: Environment, dE_dG: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forces (n, 3) and strain derivative (3, 3) of an energy that depends on the raw
        functions with weights ``dE_dG`` (n, n_sf_max): one native pass, no stored Jacobian."""
        nl = env.nl
        return _native.symmetry_functions_backward(
            self.kernel, env.idx.astype(np.int32), env.numbers.astype(np.float64), nl.offsets,
            nl.neighbors, nl.vectors, nl.distances, np.ascontiguousarray(dE_dG, dtype=np.float64),
            self.n_threads)

    def _geometry(self, atoms: Atoms, want_strain: bool):
        """Positions and cell as float64 tensors that carry gradients: positions directly,
        the cell (and positions) through a strain ε at 0 when ``want_strain``."""
        positions = torch.tensor(atoms.positions, dtype=torch.float64, requires_grad=True)
        cell = torch.tensor(np.asarray(atoms.cell), dtype=torch.float64)
        strain = None
        if want_strain:
            strain = torch.zeros((3, 3), dtype=torch.float64, requires_grad=True)
            deform = torch.eye(3, dtype=torch.float64) + strain
            return positions @ deform.T, cell @ deform.T, positions, strain
        return positions, cell, positions, strain

    def _coulomb(self, atoms: Atoms, env: Environment, positions, cell):
        periodic = bool(np.all(atoms.pbc))
        if np.any(atoms.pbc) and not periodic:
            raise StructureError(f"pbc {atoms.pbc.tolist()}: charge models need a cell periodic in all "
                                 "three directions or none (Ewald summation)")
        sigma = torch.as_tensor(self._widths[env.idx], dtype=torch.float64)
        return self.electrostatics.coulomb(positions, cell, periodic, sigma,
                                           method=_method(self.electrostatics.solver, len(atoms)),
                                           elements=[self.species[k] for k in env.idx])

    def _check_charges(self, atoms: Atoms, q: np.ndarray) -> None:
        """A StructureError naming the first atom whose charge is not finite or beyond
        ±MAX_CHARGE_PER_ATOM e: a broken model (or a saddle-point charge equilibration) must
        never hand back such charges, or energies built on them, silently."""
        bad = np.flatnonzero(~(np.abs(q) <= MAX_CHARGE_PER_ATOM))
        if bad.size:
            i = int(bad[0])
            raise StructureError(f"atom {i} ({atoms.get_chemical_symbols()[i]}): predicted charge {q[i]!r} e, "
                                 f"expected within ±{MAX_CHARGE_PER_ATOM:g} e (the model does not describe "
                                 "this structure)")

    def _finish(self, prediction: Prediction, atoms: Atoms, e_fixed_q, base_positions, strain,
                f_sf: np.ndarray, strain_sf: np.ndarray, Q: float, forces: bool) -> Prediction:
        """Complete ``prediction`` with the forces (and the stress when ``strain`` is not None):
        the symmetry-function parts ``f_sf``/``strain_sf`` from the native backward pass plus
        autograd of ``e_fixed_q`` (the electrostatic energy at fixed charges) through the
        positions and the strain; the forces dropped again when not ``forces``."""
        inputs = [base_positions] + ([strain] if strain is not None else [])
        grads = torch.autograd.grad(e_fixed_q, inputs, allow_unused=True)
        prediction.forces = f_sf - (grads[0].numpy() if grads[0] is not None else 0.0)
        if strain is not None:
            prediction.stress = self._stress(atoms, strain_sf, grads[1], Q)
        if not forces:
            prediction.forces = None
        return prediction

    def _stress(self, atoms: Atoms, strain_sf: np.ndarray, strain_elec, Q: float = 0.0) -> np.ndarray:
        total = strain_sf + (strain_elec.numpy() if strain_elec is not None else 0.0)
        total = total + np.eye(3) * self._splitting_strain(atoms, Q)
        s = 0.5 * (total + total.T) / atoms.get_volume()
        return s[VOIGT_ROWS, VOIGT_COLS]

    def _splitting_strain(self, atoms: Atoms, Q: float) -> float:
        """dE/dε_aa (eV, the same for a = x, y, z) through the Ewald splitting η(V) of n2p2's
        convention for a charged cell; 0 otherwise.

        n2p2 has no neutralising background, so its energy is the physical one plus
        π k_e Q² η² / V (minus η-free terms; :meth:`GaussianCoulomb._background_terms`), and η
        is chosen from the volume per structure (:func:`potforge.electrostatics.ewald_parameters`).
        The autograd strain treats η as a constant; the missing term is
        ∂E/∂η · dη/dε_aa = (2π k_e Q² η / V) · dη/d ln V. The charges' response adds nothing:
        ∂A/∂η ∝ 1 1ᵀ and the adjoint x sums to zero. dη/d ln V by central differences of
        the parameter choice on an isotropically scaled cell (relative step 1e-5).
        """
        es = self.electrostatics
        if es.convention != "n2p2" or Q == 0.0:
            return 0.0
        from ...electrostatics.ewald import COULOMB

        cell = np.asarray(atoms.cell, dtype=np.float64)
        sigma = float(max(es.widths.values()))
        eta = es.ewald.parameters(cell, len(atoms), sigma).eta
        h = 1e-5
        up = es.ewald.parameters(cell * math.exp(h / 3), len(atoms), sigma).eta
        down = es.ewald.parameters(cell * math.exp(-h / 3), len(atoms), sigma).eta
        deta_dlnv = (up - down) / (2 * h)
        return 2 * math.pi * COULOMB * Q * Q * eta / atoms.get_volume() * deta_dlnv

    # -- persistence helpers ------------------------------------------------------------------------
    def _common_dict(self) -> dict:
        return {"dtype": self._dtype, "symmetry_functions": self.symmetry_functions.to_dict(),
                "scaling": self.scaling.to_dict(), "electrostatics": self.electrostatics.to_dict(),
                "atom_energies_ev": self.atom_energies, "metadata": self.metadata}

    @staticmethod
    def _networks_dict(networks: Mapping[str, AtomicNetwork]) -> dict:
        return networks_description(networks)

    @staticmethod
    def _network_arrays(networks: Mapping[str, AtomicNetwork], prefix: str) -> dict:
        return network_arrays(networks, f"{prefix}/")

    @staticmethod
    def _saved_networks(description: dict, arrays: dict, key: str) -> dict:
        return saved_networks(description, arrays, key, f"{key}/")

    @staticmethod
    def _saved_common(description: dict) -> dict:
        with saved_part("model.symmetry_functions"):
            sfs = SymmetryFunctionSet.from_dict(description["symmetry_functions"])
        with saved_part("model.scaling"):
            scaling = SymmetryFunctionScaling.from_dict(description["scaling"])
        with saved_part("model.electrostatics"):
            electrostatics = ElectrostaticSettings.from_dict(description["electrostatics"])
        with saved_part("model.atom_energies_ev"):
            atom_energies = {s: check_energy(v, f"atom energy of {s}")
                             for s, v in dict(description["atom_energies_ev"]).items()}
        return dict(symmetry_functions=sfs, scaling=scaling, electrostatics=electrostatics,
                    atom_energies=atom_energies, dtype=description.get("dtype", "float64"),
                    metadata=description.get("metadata", {}))


def _method(solver: str, n_atoms: int) -> str:
    """GaussianCoulomb's matrix-vector method for a QEq solver choice."""
    if solver == "dense" or (solver == "auto" and n_atoms <= DENSE_LIMIT):
        return "dense"
    return "auto"


#: Up to this many atoms the charge equilibration solves the dense bordered system.
DENSE_LIMIT = 2000
