"""Third-generation HDNNP (Artrith, Morawietz, Behler, PRB 83, 153101 (2011)): charges from
atomic charge networks on the environment, their Gaussian-charge electrostatics, and
short-range networks on the symmetry functions only,

    q̂_i = NN^q_Z(G̃_i),   q_i = q̂_i − (Σ_j q̂_j − Q) / N,
    E = Σ_i (s · NN^s_Z(G̃_i) + E_Z) + E_elec(q).

The total charge Q is restored by shifting every charge by the same amount (the excess
divided by the number of atoms; a choice: Behler's 3G papers scale by |q̂| or leave the
excess, neither is a standard). E_elec is the same energy as in 4G
(:meth:`potforge.electrostatics.GaussianCoulomb.energy`, with the screening when given).
n2p2 has no 3G format, so this family has no n2p2 importer or exporter.

Forces: with g = ∂E_elec/∂q and its mean ḡ, dE/dr = ∂E_elec/∂r|_q + Σ_i (g_i − ḡ) ∂q̂_i/∂r
+ ∂E^s/∂r; the network parts go through one native backward pass with per-atom weights
∂E^s_i/∂G_i + (g_i − ḡ) ∂q̂_i/∂G_i, the electrostatic part by autograd. Per-atom energies
carry ½ q_i g_i (they sum to E_elec, a quadratic form in q).
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
from .settings import ElectrostaticSettings

__all__ = ["HDNNP3G"]


class HDNNP3G(ChargeHDNNPBase):
    """A 3G high-dimensional neural network potential (kind ``hdnnp-3g``).

    Parameters
    ----------
    symmetry_functions, scaling : as :class:`~potforge.models.hdnnp.potential.HDNNP`
    charge_networks : mapping element -> AtomicNetwork
        n_sf inputs, output the charge in units of ``charge_scale`` (e).
    short_networks : mapping element -> AtomicNetwork
        n_sf inputs, output in units of ``output_scale`` (eV).
    electrostatics : ElectrostaticSettings
    output_scale : float, eV
    charge_scale : float, e
    atom_energies, n_threads, dtype, metadata : as for HDNNP.
    """

    kind: ClassVar[str] = "hdnnp-3g"

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 charge_networks: Mapping[str, AtomicNetwork], short_networks: Mapping[str, AtomicNetwork],
                 electrostatics: ElectrostaticSettings, *, output_scale: float = 1.0,
                 charge_scale: float = 1.0, atom_energies: Mapping[str, float] | None = None,
                 n_threads: int = 0, dtype: str = "float64", metadata: dict | None = None) -> None:
        super().__init__(symmetry_functions, scaling, electrostatics, atom_energies=atom_energies,
                         n_threads=n_threads, dtype=dtype, metadata=metadata)
        self.charge_networks = self._check_network(charge_networks, "charge", 0)
        self.short_networks = self._check_network(short_networks, "short-range", 0)
        self.output_scale = check_energy_scale(output_scale, "output scale")
        if not (np.isfinite(charge_scale) and 1e-6 <= charge_scale <= 100):
            raise ValueError(f"charge scale {charge_scale!r} e is outside [1e-06, 100] e")
        self.charge_scale = float(charge_scale)
        self._offsets = np.array([self.atom_energies[s] for s in self.species])

    @property
    def generation(self) -> int:
        return 3

    def _predict(self, atoms: Atoms, forces: bool, stress: bool) -> Prediction:
        env = self._environment(atoms)
        Q = total_charge(atoms)
        n = len(atoms)
        periodic = bool(np.all(atoms.pbc))
        want_stress = stress and periodic
        q_raw, dq_dG = self._per_element(env, self.charge_networks)
        q_hat = self.charge_scale * q_raw
        q = q_hat - (q_hat.sum() - Q) / n
        self._check_charges(atoms, q)
        short_raw, dshort = self._per_element(env, self.short_networks)
        positions, cell, base_positions, strain = self._geometry(atoms, want_stress)
        coulomb = self._coulomb(atoms, env, positions, cell)
        q_var = torch.tensor(q, dtype=torch.float64, requires_grad=True)
        e_elec = coulomb.energy(q_var)
        (g,) = torch.autograd.grad(e_elec, q_var, retain_graph=forces or want_stress)
        g = g.detach().numpy()
        energies = self.output_scale * short_raw + self._offsets[env.idx] + 0.5 * q * g
        prediction = Prediction(energy=float(energies.sum()), energies=energies, charges=q,
                                extrapolations=env.extrapolations)
        if not (forces or want_stress):
            return prediction
        weights = self.output_scale * dshort + ((g - g.mean()) * self.charge_scale)[:, None] * dq_dG
        f_sf, strain_sf = self._backward(env, weights)
        return self._finish(prediction, atoms, e_elec, base_positions, strain, f_sf, strain_sf, Q, forces)

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"generation": 3, **self._common_dict(),
                "charge_networks": self._networks_dict(self.charge_networks),
                "short_networks": self._networks_dict(self.short_networks),
                "output_scale_ev": self.output_scale, "charge_scale_e": self.charge_scale}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**self._network_arrays(self.charge_networks, "charge_networks"),
                **self._network_arrays(self.short_networks, "short_networks")}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "HDNNP3G":
        with saved_part("model.generation"):
            if description.get("generation", 3) != 3:
                raise ValueError(f"{description['generation']!r} in an hdnnp-3g model; expected 3")
        common = cls._saved_common(description)
        charge_nets = cls._saved_networks(description, arrays, "charge_networks")
        short_nets = cls._saved_networks(description, arrays, "short_networks")
        with saved_part("model.output_scale_ev"):
            check_energy_scale(description["output_scale_ev"], "output scale")
        with saved_part("model"):
            return cls(common.pop("symmetry_functions"), common.pop("scaling"), charge_nets, short_nets,
                       common.pop("electrostatics"), output_scale=description["output_scale_ev"],
                       charge_scale=description["charge_scale_e"], **common)
