"""Fourth-generation HDNNP (Ko, Finkler, Goedecker, Behler, Nat. Commun. 12, 398 (2021)), as
n2p2 computes it (n2p2 v2.3: Mode.cpp, Structure.cpp):

1. χ_i = s_χ · NN^χ_Z(G̃_i): the electronegativity network on the scaled symmetry functions
   (n2p2 uses the raw output, Mode::calculateAtomicNeuralNetworks "elec");
2. charges q from charge equilibration: minimise Σ χ_i q_i + ½ J_i q_i² + ½ qᵀ A q subject to
   Σ q = Q (Structure::calculateElectrostaticEnergy, a bordered linear system; A the
   Coulomb matrix of Gaussian charges of widths σ_Z, with the self term on its diagonal);
3. E_i^s = s · NN^s_Z([G̃_i, q_i]): the short-range network takes the charge, unscaled, as
   one more input (Mode::calculateAtomicNeuralNetworks "short");
4. E = Σ_i (E_i^s + E_Z) + E_elec(q), E_elec = ½ qᵀ A q − Σ k_e q_i²/(2σ_i√π) + the
   screening term (:meth:`potforge.electrostatics.GaussianCoulomb.energy`).

Forces by one adjoint solve (never an explicit inverse): with x from the bordered system
(A + J) x + ν 1 = ∂E/∂q, Σ x = 0,

    dE/dr = ∂E/∂r|_q − xᵀ (∂A/∂r q + ∂χ/∂r),

(n2p2 Mode::calculateForces with λ = −x). The parts through the symmetry functions, ∂E^s/∂G
and −x_i ∂χ_i/∂G, go through ONE native backward pass; the electrostatic parts
∂/∂r [E_elec(q) − xᵀ A q] come from PyTorch autograd through the Coulomb operator (and
through a strain for the stress).

Per-atom energies: E_i = E_i^s + E_Z + ½ q_i ∂E_elec/∂q_i; E_elec is a quadratic form in q,
so these sum to E exactly (½ q_i φ_i with φ_i the screened electrostatic potential at i).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from ase import Atoms

from ...core.lazy import torch
from ...descriptors.scaling import SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import AtomicNetwork
from ..potential import Prediction, check_energy_scale, saved_part
from .base import ChargeHDNNPBase, total_charge
from .settings import MAX_HARDNESS, ElectrostaticSettings, check_hardness

__all__ = ["HDNNP4G"]


class HDNNP4G(ChargeHDNNPBase):
    """A 4G high-dimensional neural network potential (kind ``hdnnp-4g``).

    Parameters
    ----------
    symmetry_functions : SymmetryFunctionSet
        The descriptors of both networks (n2p2 shares them), Å.
    scaling : SymmetryFunctionScaling
    electronegativity_networks : mapping element -> AtomicNetwork
        n_sf inputs (scaled functions), output χ in units of ``chi_scale``.
    short_networks : mapping element -> AtomicNetwork
        n_sf + 1 inputs (scaled functions, then the charge in e), output in ``output_scale``.
    hardness : mapping element -> float, eV/e²
        Atomic hardness J (n2p2 ``hardness.ZZZ.data``).
    electrostatics : ElectrostaticSettings
        Gaussian widths, screening, Ewald settings, solver.
    output_scale : float, eV
        Energy of one short-range network output unit.
    chi_scale : float, eV/e
        Electronegativity of one network output unit.
    atom_energies : mapping element -> float, eV
    n_threads, dtype, metadata : as :class:`~potforge.models.hdnnp.potential.HDNNP`.
    """

    kind: ClassVar[str] = "hdnnp-4g"

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 electronegativity_networks: Mapping[str, AtomicNetwork],
                 short_networks: Mapping[str, AtomicNetwork], hardness: Mapping[str, float],
                 electrostatics: ElectrostaticSettings, *, output_scale: float = 1.0,
                 chi_scale: float = 1.0, atom_energies: Mapping[str, float] | None = None,
                 n_threads: int = 0, dtype: str = "float64", metadata: dict | None = None) -> None:
        super().__init__(symmetry_functions, scaling, electrostatics, atom_energies=atom_energies,
                         n_threads=n_threads, dtype=dtype, metadata=metadata)
        self.electronegativity_networks = self._check_network(electronegativity_networks,
                                                              "electronegativity", 0)
        self.short_networks = self._check_network(short_networks, "short-range", 1)
        self.output_scale = check_energy_scale(output_scale, "output scale")
        self.chi_scale = check_energy_scale(chi_scale, "electronegativity scale")
        self.hardness = {}
        for s in self.species:
            if s not in hardness:
                raise ValueError(f"no hardness for element {s}")
            value = float(hardness[s])
            if not abs(value) <= MAX_HARDNESS:
                raise ValueError(f"hardness of {s} is {value!r}, expected a finite number within "
                                 f"±{MAX_HARDNESS:g} eV/e²")
            self.hardness[s] = value
        self._hardness = np.array([self.hardness[s] for s in self.species])
        self._offsets = np.array([self.atom_energies[s] for s in self.species])

    @property
    def generation(self) -> int:
        return 4

    def _predict(self, atoms: Atoms, forces: bool, stress: bool) -> Prediction:
        from ...electrostatics import solve_adjoint, solve_qeq

        env = self._environment(atoms)
        Q = total_charge(atoms)
        periodic = bool(np.all(atoms.pbc))
        want_stress = stress and periodic
        chi_raw, dchi_dG = self._per_element(env, self.electronegativity_networks)
        chi = self.chi_scale * chi_raw
        positions, cell, base_positions, strain = self._geometry(atoms, want_stress)
        coulomb = self._coulomb(atoms, env, positions, cell)
        J = torch.as_tensor(self._hardness[env.idx], dtype=torch.float64)
        solver = self.electrostatics.solver
        with torch.no_grad():
            q, _ = solve_qeq(coulomb, torch.as_tensor(chi), J, Q, solver=solver)
        q = q.detach()
        self._check_charges(atoms, q.numpy())
        short_raw, dshort = self._per_element(env, self.short_networks, q.numpy())
        q_var = q.clone().requires_grad_(True)
        e_elec = coulomb.energy(q_var)
        (dEelec_dq,) = torch.autograd.grad(e_elec, q_var, retain_graph=forces or want_stress)
        energies = (self.output_scale * short_raw + self._offsets[env.idx]
                    + 0.5 * q.numpy() * dEelec_dq.detach().numpy())
        prediction = Prediction(energy=float(energies.sum()), energies=energies, charges=q.numpy().copy(),
                                extrapolations=env.extrapolations)
        if not (forces or want_stress):
            return prediction
        dE_dq = dEelec_dq.detach() + torch.as_tensor(self.output_scale * dshort[:, -1])
        with torch.no_grad():
            x, _ = solve_adjoint(coulomb, J, dE_dq, solver=solver)
        x = x.detach()
        # through the functions: dE^s/dG − x_i dχ_i/dG (one native pass)
        weights = self.output_scale * dshort[:, :-1] - (x.numpy() * self.chi_scale)[:, None] * dchi_dG
        f_sf, strain_sf = self._backward(env, weights)
        # electrostatics at fixed q: E_elec(r) − xᵀ A(r) q
        total = e_elec - coulomb.bilinear(x, q)
        return self._finish(prediction, atoms, total, base_positions, strain, f_sf, strain_sf, Q, forces)

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"generation": 4, **self._common_dict(),
                "electronegativity_networks": self._networks_dict(self.electronegativity_networks),
                "short_networks": self._networks_dict(self.short_networks),
                "hardness_ev_per_e2": self.hardness, "output_scale_ev": self.output_scale,
                "chi_scale_ev_per_e": self.chi_scale}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**self._network_arrays(self.electronegativity_networks, "electronegativity_networks"),
                **self._network_arrays(self.short_networks, "short_networks")}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "HDNNP4G":
        common = cls._saved_common(description)
        chi_nets = cls._saved_networks(description, arrays, "electronegativity_networks")
        short_nets = cls._saved_networks(description, arrays, "short_networks")
        with saved_part("model.generation"):
            if description.get("generation", 4) != 4:
                raise ValueError(f"{description['generation']!r} in an hdnnp-4g model; expected 4")
        with saved_part("model.hardness_ev_per_e2"):
            saved = description["hardness_ev_per_e2"]
            if not isinstance(saved, Mapping):
                raise ValueError(f"{type(saved).__name__}; expected a mapping of element to hardness (eV/e²)")
        hardness = {}
        for s, v in saved.items():
            with saved_part(f"model.hardness_ev_per_e2.{s}"):
                hardness[s] = check_hardness(v)
        with saved_part("model.output_scale_ev"):
            check_energy_scale(description["output_scale_ev"], "output scale")
        with saved_part("model.chi_scale_ev_per_e"):
            check_energy_scale(description["chi_scale_ev_per_e"], "electronegativity scale")
        with saved_part("model"):
            return cls(common.pop("symmetry_functions"), common.pop("scaling"), chi_nets, short_nets,
                       hardness, common.pop("electrostatics"),
                       output_scale=description["output_scale_ev"],
                       chi_scale=description["chi_scale_ev_per_e"], **common)
