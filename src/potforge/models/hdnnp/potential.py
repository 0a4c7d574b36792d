"""High-dimensional neural network potentials (Behler & Parrinello, PRL 98, 146401 (2007)).

Second generation (2G): the energy is a sum of atomic energies, each the output of its
element's network on the scaled symmetry functions of the atom's environment,

    E = Σ_i [ s · NN_{Z_i}(G̃_i) + ē + E_{Z_i} ],

with s the output scale (eV per network unit; n2p2: energy unit / ``conv_energy``), ē the
mean energy per atom (n2p2 ``mean_energy``) and E_Z per-element offsets (n2p2
``atom_energy``). Forces and stress follow analytically from the symmetry-function Jacobian
(compiled kernel, one pass per atom). The charge-carrying generations (3G, 4G) extend this
class with their charge networks and electrostatics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from ase import Atoms

from ... import _native
from ...core.dtypes import check_dtype
from ...core.elements import species_indices
from ...core.errors import ConfigError, ModelFormatError
from ...core.neighbors import check_min_distance, neighbor_list
from ...core.voigt import VOIGT_COLS, VOIGT_ROWS
from ...descriptors.scaling import EXTRAPOLATION_TOLERANCE, SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import AtomicNetwork
from ..potential import Potential, Prediction, check_energy, check_energy_scale, saved_part

__all__ = ["HDNNP", "check_common", "networks_description", "network_arrays", "saved_networks"]


def check_common(species: tuple[str, ...], atom_energies: Mapping[str, float] | None, n_threads: int,
                 dtype: str, metadata: dict | None) -> tuple[dict[str, float], int, str, dict]:
    """What every HDNNP (2G, 3G, 4G) checks of its common settings: the atom energies (eV, one
    per model species, 0 where not given), the thread count (>= 0), the dtype and metadata."""
    unknown = sorted(set(atom_energies or {}) - set(species))
    if unknown:
        raise ValueError(f"atom energy of {unknown[0]}, which is not a model species")
    energies = {s: check_energy((atom_energies or {}).get(s, 0.0), f"atom energy of {s}") for s in species}
    if int(n_threads) < 0:
        raise ValueError(f"n_threads must be >= 0 (0: all cores), got {n_threads}")
    return energies, int(n_threads), check_dtype(dtype), dict(metadata or {})


class HDNNP(Potential):
    """A 2G high-dimensional neural network potential.

    Parameters
    ----------
    symmetry_functions : SymmetryFunctionSet
        Per-element descriptors (Å); its species order is the model's.
    scaling : SymmetryFunctionScaling
        Mode and training-set statistics.
    networks : mapping element -> AtomicNetwork
    output_scale : float, eV
        Energy of one network output unit.
    mean_energy : float, eV
        Added per atom.
    atom_energies : mapping element -> float, eV
        Per-element offsets (free-atom or fitted reference energies).
    n_threads : int
        Threads for neighbour search and kernels (0: all available).
    dtype : {"float64", "float32"}
        Arithmetic of the prediction kernels. float64 (default) reproduces n2p2 to round-off;
        float32 is faster, with energies good to about 1e-7 relative.
    metadata : dict
        Free-form provenance (source files, units of the original model, ...).
    """

    kind: ClassVar[str] = "hdnnp"

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 networks: Mapping[str, AtomicNetwork], *, output_scale: float = 1.0,
                 mean_energy: float = 0.0, atom_energies: Mapping[str, float] | None = None,
                 n_threads: int = 0, dtype: str = "float64", metadata: dict | None = None) -> None:
        self.symmetry_functions = symmetry_functions
        self.scaling = scaling
        self.networks = dict(networks)
        self.output_scale = check_energy_scale(output_scale, "output scale")
        self.mean_energy = check_energy(mean_energy, "mean energy")
        self.atom_energies, self.n_threads, self._dtype, self.metadata = check_common(
            symmetry_functions.species, atom_energies, n_threads, dtype, metadata)
        for s in self.species:
            if s not in self.networks:
                raise ValueError(f"no network for element {s}")
            n_sf = symmetry_functions.n_functions(s)
            if self.networks[s].architecture[0] != n_sf:
                raise ValueError(f"element {s}: network takes {self.networks[s].architecture[0]} "
                                 f"inputs but there are {n_sf} symmetry functions")
            if s not in scaling.statistics or len(scaling.statistics[s]) != n_sf:
                raise ValueError(f"element {s}: scaling statistics do not match its {n_sf} "
                                 "symmetry functions")
            scaling.affine(s)  # raises where the statistics cannot scale the functions
        self._kernel = None
        self._offsets = np.array([self.mean_energy + self.atom_energies[s] for s in self.species])

    # -- Potential interface -----------------------------------------------------------------
    @property
    def species(self) -> tuple[str, ...]:
        return self.symmetry_functions.species

    @property
    def cutoff(self) -> float:
        return self.symmetry_functions.cutoff

    @property
    def generation(self) -> int:
        return 2

    @property
    def dtype(self) -> str:
        """Arithmetic of the prediction kernels ("float64" or "float32")."""
        return self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        if check_dtype(value) != self._dtype:
            if value == "float32":
                self._check_float32(self._scalings())  # refuse before any structure is read
            self._dtype = value
            self._kernel = None

    def _scalings(self) -> list[tuple[np.ndarray, ...]]:
        """Per species (factor, offset, G_min, G_max) of the kernels' affine scaling."""
        scalings = []
        for s in self.species:
            a, b = self.scaling.affine(s)
            st = self.scaling.statistics[s]
            scalings.append((a, b, st.minimum, st.maximum))
        return scalings

    @property
    def kernel(self):
        if self._kernel is None:
            nets = [self.networks[s].kernel_spec() for s in self.species]
            scalings = self._scalings()
            if self._dtype == "float32":
                self._check_float32(scalings)
            sfs = self.symmetry_functions
            try:
                self._kernel = _native.make_kernel([sfs.table(e) for e in self.species],
                                                   len(self.species), nets, scalings,
                                                   dtype=self._dtype)
            except ValueError as err:  # the kernel's own checks; the constructors check first
                raise ModelFormatError(f"the model cannot be compiled: {err}") from None
        return self._kernel

    def _check_float32(self, scalings: list) -> None:
        """What float32 kernels cannot represent (they would compute NaN): scaling factors and
        offsets beyond float32's range (mlearn's Li model has factors of 5e135) and angular
        exponents ζ > 120 (2^(1-ζ) underflows)."""
        limit = float(np.finfo(np.float32).max)
        for s, (a, b, _, _) in zip(self.species, scalings):
            bad = np.flatnonzero(~((np.abs(a) <= limit) & (np.abs(b) <= limit)))
            if bad.size:
                k = int(bad[0])
                raise ConfigError(f"dtype: float32 cannot represent the scaling of symmetry function "
                                  f"{k + 1} of {s} (factor {a[k]:.3g}, offset {b[k]:.3g}); use float64")
            zeta = max((sf.zeta for sf in self.symmetry_functions.functions[s] if not sf.is_radial),
                       default=1.0)
            if zeta > 120:
                raise ConfigError(f"dtype: float32 cannot evaluate zeta = {zeta:g} of {s} (2^(1-zeta) "
                                  "underflows beyond 120); use float64")

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        idx, numbers = species_indices(atoms, self.species)
        periodic = bool(np.all(atoms.pbc))
        nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, self.cutoff,
                           n_threads=self.n_threads, min_height=self.min_distance)
        check_min_distance(nl.distances, nl.centers, nl.neighbors, self.min_distance)
        want_stress = stress and periodic
        atomic, f, strain, extrapolations = _native.hdnnp_evaluate(
            self.kernel, idx, numbers, nl.offsets, nl.neighbors, nl.vectors, nl.distances,
            self.output_scale, forces or want_stress, EXTRAPOLATION_TOLERANCE, self.n_threads)
        energies = atomic + self._offsets[idx]
        sigma = None
        if want_stress:
            s = 0.5 * (strain + strain.T) / atoms.get_volume()
            sigma = s[VOIGT_ROWS, VOIGT_COLS]
        return Prediction(energy=float(energies.sum()), energies=energies,
                          forces=f if forces else None, stress=sigma,
                          extrapolations=extrapolations)

    # -- reference path (the torch networks on kernel symmetry functions), used by tests ------
    def predict_reference(self, atoms: Atoms) -> Prediction:
        """The same prediction through the generic symmetry-function API and the networks'
        one definition (:func:`potforge.models.network.network_forward`, float64).

        Slower; it exists so that the fused kernel can be checked against an independent
        composition of the parts.
        """
        idx, numbers = species_indices(atoms, self.species)
        nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, self.cutoff)
        values, jac = self.symmetry_functions.compute(idx, numbers, nl, derivatives=True)
        n = len(atoms)
        energies = np.empty(n)
        dE_dG = np.zeros_like(values)
        for e, s in enumerate(self.species):
            mask = idx == e
            if not mask.any():
                continue
            n_sf = self.symmetry_functions.n_functions(s)
            a, b = self.scaling.affine(s)
            out, grad = self.networks[s].forward(values[mask, :n_sf] * a + b, gradient=True)
            energies[mask] = self.output_scale * out + self._offsets[e]
            dE_dG[mask, :n_sf] = self.output_scale * grad * a
        g = np.einsum("ps,psc->pc", dE_dG[nl.centers], jac)  # dE/d(pair vector)
        forces = np.zeros((n, 3))
        np.add.at(forces, nl.centers, g)
        np.add.at(forces, nl.neighbors, -g)
        sigma = None
        if np.all(atoms.pbc):
            s = np.einsum("pa,pb->ab", g, nl.vectors)
            s = 0.5 * (s + s.T) / atoms.get_volume()
            sigma = s[VOIGT_ROWS, VOIGT_COLS]
        return Prediction(energy=float(energies.sum()), energies=energies, forces=forces, stress=sigma)

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "generation": 2,
            "dtype": self._dtype,
            "symmetry_functions": self.symmetry_functions.to_dict(),
            "scaling": self.scaling.to_dict(),
            "networks": networks_description(self.networks),
            "output_scale_ev": self.output_scale,
            "mean_energy_ev": self.mean_energy,
            "atom_energies_ev": self.atom_energies,
            "metadata": self.metadata,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return network_arrays(self.networks)

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "HDNNP":
        """Rebuild a saved model; every number passes the constructors' checks, and an error
        names the dotted key of ``model.json`` (or array of ``arrays.npz``) it is about."""
        with saved_part("model.symmetry_functions"):
            sfs = SymmetryFunctionSet.from_dict(description["symmetry_functions"])
        with saved_part("model.scaling"):
            scaling = SymmetryFunctionScaling.from_dict(description["scaling"])
        networks = saved_networks(description, arrays, "networks")
        with saved_part("model.output_scale_ev"):
            check_energy_scale(description["output_scale_ev"], "output scale")
        with saved_part("model.mean_energy_ev"):
            check_energy(description["mean_energy_ev"], "mean energy")
        with saved_part("model.atom_energies_ev"):
            for s, value in dict(description["atom_energies_ev"]).items():
                check_energy(value, f"atom energy of {s}")
        with saved_part("model"):
            return cls(sfs, scaling, networks, output_scale=description["output_scale_ev"],
                       mean_energy=description["mean_energy_ev"],
                       atom_energies=description["atom_energies_ev"],
                       dtype=description.get("dtype", "float64"),
                       metadata=description.get("metadata", {}))


# -- the atomic networks of a saved HDNNP (every generation) -------------------------------------------
def networks_description(networks: Mapping[str, AtomicNetwork]) -> dict:
    """``model.json`` description of per-element networks (architecture, activations, normalize)."""
    return {s: {"architecture": list(net.architecture), "activations": net.activations,
                "normalize": net.normalize} for s, net in networks.items()}


def network_arrays(networks: Mapping[str, AtomicNetwork], prefix: str = "") -> dict[str, np.ndarray]:
    """The weights and biases of per-element networks as ``arrays.npz`` entries
    ``{prefix}{element}/weights{k}`` and ``.../biases{k}``."""
    arrays = {}
    for s, net in networks.items():
        for k, (w, b) in enumerate(zip(net.weights, net.biases)):
            arrays[f"{prefix}{s}/weights{k}"] = w
            arrays[f"{prefix}{s}/biases{k}"] = b
    return arrays


def saved_networks(description: dict, arrays: dict, key: str, prefix: str = "") -> dict[str, AtomicNetwork]:
    """The networks that ``description[key]`` and the arrays ``{prefix}{element}/...`` describe;
    an error names the dotted key ``model.{key}.{element}``."""
    networks = {}
    with saved_part(f"model.{key}"):
        specs = dict(description[key])
    for s, spec in specs.items():
        with saved_part(f"model.{key}.{s}"):
            n_layers = len(spec["activations"])
            networks[s] = AtomicNetwork([arrays[f"{prefix}{s}/weights{k}"] for k in range(n_layers)],
                                        [arrays[f"{prefix}{s}/biases{k}"] for k in range(n_layers)],
                                        spec["activations"], spec.get("normalize", False))
            if tuple(spec.get("architecture", networks[s].architecture)) != networks[s].architecture:
                raise ValueError(f"architecture {spec['architecture']} but the arrays are "
                                 f"{list(networks[s].architecture)}")
    return networks
