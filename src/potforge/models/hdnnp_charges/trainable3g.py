"""3G HDNNPs in training form (Artrith, Morawietz, Behler, PRB 83, 153101 (2011)), two stages
as for 4G:

Stage 1 (:class:`TrainableHDNNP3GCharges`): the charge networks fitted to reference charges
(``loss.charge_sigma`` alone). Per frame, with the scaled symmetry functions G̃_i and the
frame's total charge Q,

    q̂_i = c · NN^q_{Z_i}(G̃_i),   q_i = q̂_i − (Σ_j q̂_j − Q) / N,

exactly :class:`~.potential3g.HDNNP3G`'s charges (c: ``charge_scale``, e per output unit).
The charges depend on the weights directly: no charge equilibration, no Coulomb matrix.

Stage 2 (:class:`TrainableHDNNP3G`): plain 2G short-range networks on G only (the
:class:`~potforge.models.hdnnp.trainable.TrainableHDNNP` machinery: descriptor cache, every
optimizer) fitted to E_ref − E_elec, F_ref − F_elec (and the stress alike), where E_elec,
F_elec and the stress of the electrostatics of the fixed stage-1 charges are computed once
per frame by the stage-1 :class:`~.potential3g.HDNNP3G` itself (zero short-range networks,
zero atom energies): its forces include the dq/dr path through the charge networks, so
training and prediction share one definition. :meth:`TrainableHDNNP3G.to_potential` gives
the :class:`~.potential3g.HDNNP3G` that predicts E^s + E_elec.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np

from ...core.errors import ConfigError, StructureError
from ...core.lazy import torch
from ...data.frame import Frame
from ...descriptors.cache import DescriptorBatch, DescriptorCache
from ...descriptors.scaling import SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import AtomicNetwork, initial_parameters
from ..trainable import ModelOutput, trained_model
from .potential3g import HDNNP3G
from .settings import ElectrostaticSettings
from .stage1 import ChargeNetworkStage
from .stage2 import ShortRangeCache, ShortRangeTrainable

__all__ = ["TrainableHDNNP3GCharges", "TrainableHDNNP3G", "ElectrostaticLabels", "zero_networks"]


def zero_networks(sfs: SymmetryFunctionSet, normalize: bool = False) -> dict[str, AtomicNetwork]:
    """Short-range networks that output 0 (one linear layer of zeros, n_sf inputs)."""
    return {s: AtomicNetwork([np.zeros((1, sfs.n_functions(s)))], [np.zeros(1)], "l", normalize)
            for s in sfs.species}


def _networks_json(networks: Mapping[str, AtomicNetwork]) -> dict:
    return {s: {"weights": [w.tolist() for w in n.weights], "biases": [b.tolist() for b in n.biases],
                "activations": n.activations, "normalize": n.normalize} for s, n in networks.items()}


def _networks_from_json(data: Mapping) -> dict[str, AtomicNetwork]:
    return {s: AtomicNetwork([np.asarray(w) for w in n["weights"]], [np.asarray(b) for b in n["biases"]],
                             n["activations"], n["normalize"]) for s, n in data.items()}


class TrainableHDNNP3GCharges(ChargeNetworkStage):
    """Stage 1 of a 3G HDNNP: the charge networks.

    Parameters
    ----------
    symmetry_functions, scaling : as for the 2G model
    hidden, activations : mapping element -> sizes / n2p2 letters (hidden layers and output)
    electrostatics : ElectrostaticSettings
        Gaussian widths, screening and Ewald settings the saved model carries (stage 1 fits
        charges only; stage 2 and predictions use them).
    charge_scale : float, e
        Charge of one network output unit (e.g. the spread of the reference charges).
    normalize : bool (n2p2 ``normalize_nodes``), dtype, n_threads

    theta: the charge networks' parameters.
    """

    kind: ClassVar[str] = "hdnnp-3g"
    predicts_charges: ClassVar[bool] = True
    stage: ClassVar[int] = 1
    #: the trainer refuses energy, force and stress terms for this stage
    charges_only: ClassVar[bool] = True

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 hidden: Mapping[str, Sequence[int]], activations: Mapping[str, str], *,
                 electrostatics: ElectrostaticSettings, charge_scale: float = 1.0, normalize: bool = False,
                 dtype: str = "float64", n_threads: int = 1) -> None:
        self.sfs = symmetry_functions
        self.species = symmetry_functions.species
        self.scaling = scaling
        missing = [s for s in self.species if s not in electrostatics.widths]
        if missing:
            raise ConfigError(f"model.gaussian_width: no value for {', '.join(missing)}")
        self.electrostatics = electrostatics
        if not (math.isfinite(charge_scale) and 1e-6 <= charge_scale <= 100):
            raise ConfigError(f"model.charge_scale: {charge_scale!r}; expected a charge in [1e-06, 100] e")
        self.charge_scale = float(charge_scale)
        self._set_networks(hidden, activations, normalize, dtype, n_threads)
        self.theta = torch.zeros(self.layout.n_parameters, dtype=torch.float64, requires_grad=True)
        self.element_energies = torch.zeros(len(self.species), dtype=torch.float64)
        self.mean_energy = 0.0
        self._affine = [tuple(torch.from_numpy(v) for v in scaling.affine(s)) for s in self.species]

    def initialize(self, generator: torch.Generator, scheme: str = "glorot",
                   bounds: tuple[float, float] = (-1.0, 1.0)) -> None:
        with torch.no_grad():
            self.theta.copy_(initial_parameters(self.layout, generator, scheme=scheme, bounds=bounds))

    # -- data -------------------------------------------------------------------------------
    def prepare(self, frames: Sequence[Frame], names: Sequence[str], *, derivatives: bool = False,
                progress: Callable[[int, int], None] | None = None) -> DescriptorCache:
        return DescriptorCache(frames, self.sfs, derivatives=False, n_threads=self.n_threads,
                               names=names, progress=progress)

    def batch(self, data: DescriptorCache, frames: torch.Tensor | None, *,
              derivatives: bool = False) -> DescriptorBatch:
        return data.batch(frames, derivatives=False)

    # -- evaluation -------------------------------------------------------------------------
    def raw_charges(self, theta: torch.Tensor, element: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """q̂ (n,) e of atoms with raw symmetry functions ``values`` (n, n_max)."""
        return self.charge_scale * self._network_outputs(theta, element, values)

    def charges(self, batch: DescriptorBatch) -> torch.Tensor:
        """Charges (n_atoms,) e of the batch's atoms, each frame's total restored by an equal
        shift of its atoms' charges."""
        q_hat = self.raw_charges(self.theta, batch.element, batch.values)
        totals = torch.zeros(batch.n_frames, dtype=torch.float64).index_add(0, batch.frame_of_atom, q_hat)
        excess = (totals - batch.total_charge.to(torch.float64)) / batch.n_atoms.to(torch.float64)
        return q_hat - excess[batch.frame_of_atom]

    def predict(self, batch: DescriptorBatch, *, forces: bool = False, stress: bool = False) -> ModelOutput:
        energy = torch.full((batch.n_frames,), math.nan, dtype=torch.float64)
        return ModelOutput(energy, charges=self.charges(batch), no_energy=True)

    # -- parameters and conversion ----------------------------------------------------------
    def regularized(self) -> torch.Tensor:
        return self.layout.weight_mask

    def charge_networks(self) -> dict[str, AtomicNetwork]:
        nets = self.layout.to_atomic_networks(self.theta.detach())
        return dict(zip(self.species, nets))

    def to_potential(self, metadata: dict | None = None) -> HDNNP3G:
        """The stage-1 result as an :class:`~.potential3g.HDNNP3G` with zero short-range
        networks (charges and electrostatic energy only); stage 2 starts from it."""
        with trained_model():
            return HDNNP3G(self.sfs, self.scaling, self.charge_networks(), zero_networks(self.sfs),
                           self.electrostatics, charge_scale=self.charge_scale, n_threads=self.n_threads,
                           metadata={**(metadata or {}), "stage": 1})

    def description(self) -> dict:
        return {"kind": self.kind, "stage": 1, "symmetry_functions": self.sfs.to_dict(),
                "scaling": self.scaling.to_dict(), "hidden": {s: list(h) for s, h in self.hidden.items()},
                "activations": self.activations, "normalize": self.normalize,
                "electrostatics": self.electrostatics.to_dict(), "charge_scale": self.charge_scale,
                "dtype": self.dtype_name, "n_threads": self.n_threads}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableHDNNP3GCharges":
        return cls(SymmetryFunctionSet.from_dict(d["symmetry_functions"]),
                   SymmetryFunctionScaling.from_dict(d["scaling"]), d["hidden"], d["activations"],
                   electrostatics=ElectrostaticSettings.from_dict(d["electrostatics"]),
                   charge_scale=d["charge_scale"], normalize=d["normalize"], dtype=d["dtype"],
                   n_threads=d["n_threads"])


@dataclasses.dataclass
class ElectrostaticLabels:
    """Per frame, of the fixed stage-1 model: charges (total_atoms,) e, energy (n_frames,) eV,
    forces (total_atoms, 3) eV/Å and stress (n_frames, 6) eV/Å³ (NaN for open frames)."""

    charges: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor


class ShortRangeData3G(ShortRangeCache):
    """A training set prepared for 3G stage 2: the descriptor cache (labels minus the
    electrostatics) and the stage-1 :class:`ElectrostaticLabels`."""

    def __init__(self, cache: DescriptorCache, electrostatics: ElectrostaticLabels) -> None:
        super().__init__(cache)
        self.electrostatics = electrostatics


class TrainableHDNNP3G(ShortRangeTrainable):
    """Stage 2 of a 3G HDNNP: short-range networks on the symmetry functions only, on the
    remainder of the fixed stage-1 charges' electrostatics.

    Parameters
    ----------
    symmetry_functions, scaling, hidden, activations, normalize, output_scale, dtype,
    cache_dtype, n_threads : as :class:`~potforge.models.hdnnp.trainable.TrainableHDNNP`
    charge_networks : mapping element -> AtomicNetwork
        The fixed stage-1 networks (n_sf inputs, output in units of ``charge_scale``).
    electrostatics : ElectrostaticSettings
    charge_scale : float, e
    """

    kind: ClassVar[str] = "hdnnp-3g"
    stage: ClassVar[int] = 2
    predicts_charges: ClassVar[bool] = True

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 hidden: Mapping[str, Sequence[int]], activations: Mapping[str, str],
                 charge_networks: Mapping[str, AtomicNetwork], electrostatics: ElectrostaticSettings, *,
                 charge_scale: float = 1.0, **options) -> None:
        super().__init__(symmetry_functions, scaling, hidden, activations, **options)
        self.charge_networks = {s: charge_networks[s] for s in self.species}
        self.electrostatics = electrostatics
        self.charge_scale = float(charge_scale)
        # the fixed electrostatics: the Potential itself, with zero short-range networks
        self.stage1 = HDNNP3G(symmetry_functions, scaling, self.charge_networks,
                              zero_networks(symmetry_functions), electrostatics,
                              charge_scale=self.charge_scale, n_threads=1)

    # -- data -------------------------------------------------------------------------------
    def electrostatic_labels(self, frames: Sequence[Frame], names: Sequence[str]) -> ElectrostaticLabels:
        """Charges, E_elec, F_elec and stress of every frame under the stage-1 model."""
        charges, forces, energy, stress = [], [], [], []
        for frame, name in zip(frames, names):
            try:
                p = self.stage1.predict(frame.atoms, forces=True, stress=True)
            except StructureError as err:
                raise StructureError(f"{name}: {err.reason}") from None
            charges.append(p.charges)
            forces.append(p.forces)
            energy.append(p.energy)
            stress.append(p.stress if p.stress is not None else np.full(6, np.nan))
        as_t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)  # noqa: E731
        return ElectrostaticLabels(as_t(np.concatenate(charges)), as_t(energy),
                                   as_t(np.concatenate(forces)).reshape(-1, 3), as_t(np.stack(stress)))

    def prepare(self, frames: Sequence[Frame], names: Sequence[str], *, derivatives: bool = True,
                progress: Callable[[int, int], None] | None = None) -> ShortRangeData3G:
        cache = super().prepare(frames, names, derivatives=derivatives, progress=progress)
        elec = self.electrostatic_labels(frames, cache.labels.names)
        lab = cache.labels
        cache.labels = dataclasses.replace(lab, energy=lab.energy - elec.energy,
                                           forces=lab.forces - elec.forces, stress=lab.stress - elec.stress)
        return ShortRangeData3G(cache, elec)

    def batch(self, data: ShortRangeData3G, frames: torch.Tensor | None, *,
              derivatives: bool = True) -> DescriptorBatch:
        batch = data.cache.batch(frames, derivatives=derivatives)
        _, _, atoms = data.labels.select(batch.frames)
        batch.q = data.electrostatics.charges[atoms]
        return batch

    def predict(self, batch: DescriptorBatch, *, forces: bool = True, stress: bool = False) -> ModelOutput:
        out = super().predict(batch, forces=forces, stress=stress)
        out.charges = getattr(batch, "q", None)
        return out

    def force_measurement(self, data: ShortRangeData3G, atom: int, component: int) -> torch.Tensor:
        return super().force_measurement(data.cache, atom, component)

    # -- parameters and conversion ----------------------------------------------------------
    def to_potential(self, metadata: dict | None = None) -> HDNNP3G:
        with trained_model():
            nets = self.layout.to_atomic_networks(self.theta)
            energies = {s: float(self.element_energies[e]) + self.mean_energy
                        for e, s in enumerate(self.species)}
            return HDNNP3G(self.sfs, self.scaling, self.charge_networks, dict(zip(self.species, nets)),
                           self.electrostatics, output_scale=self.output_scale,
                           charge_scale=self.charge_scale, atom_energies=energies,
                           n_threads=self.n_threads, metadata=metadata)

    @classmethod
    def from_potential(cls, potential: HDNNP3G, **options) -> "TrainableHDNNP3G":
        """Stage 2 on a saved HDNNP3G (a stage-1 result or a trained model): its functions,
        scaling, charge networks, electrostatics and short-range weights."""
        species = potential.species
        nets = potential.short_networks
        model = cls(potential.symmetry_functions, potential.scaling, *cls._short_shape(nets, species),
                    potential.charge_networks, potential.electrostatics, charge_scale=potential.charge_scale,
                    normalize=nets[species[0]].normalize, output_scale=potential.output_scale, **options)
        model._load_short(nets, potential.atom_energies)
        return model

    def description(self) -> dict:
        return {**super().description(), "stage": 2, "electrostatics": self.electrostatics.to_dict(),
                "charge_scale": self.charge_scale, "charge_networks": _networks_json(self.charge_networks)}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableHDNNP3G":
        return cls(SymmetryFunctionSet.from_dict(d["symmetry_functions"]),
                   SymmetryFunctionScaling.from_dict(d["scaling"]), d["hidden"], d["activations"],
                   _networks_from_json(d["charge_networks"]), ElectrostaticSettings.from_dict(d["electrostatics"]),
                   charge_scale=d["charge_scale"], normalize=d["normalize"], output_scale=d["output_scale"],
                   dtype=d["dtype"], cache_dtype=d["cache_dtype"], n_threads=d["n_threads"])
