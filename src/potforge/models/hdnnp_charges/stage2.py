"""What the stage-2 short-range trainers of 3G (:mod:`.trainable3g`) and 4G
(:mod:`.trainable4g_short`) share: the prepared data's descriptor cache, the offset fit on
the labels minus the fixed electrostatics, and loading the short-range networks of a saved
potential."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...core.lazy import torch
from ...descriptors.cache import DescriptorCache
from ..hdnnp.trainable import TrainableHDNNP
from ..network import AtomicNetwork

__all__ = ["ShortRangeCache", "ShortRangeTrainable"]


class ShortRangeCache:
    """A training set prepared for stage 2: the descriptor cache, whose labels are those minus
    the fixed stage-1 electrostatics (subclasses add the stage-1 results)."""

    def __init__(self, cache: DescriptorCache) -> None:
        self.cache = cache
        self.labels = cache.labels
        self.n_pairs = cache.n_pairs
        self.jacobian = cache.jacobian


class ShortRangeTrainable(TrainableHDNNP):
    """The 2G trainer on the remainder of fixed stage-1 electrostatics (3G and 4G stage 2)."""

    def fit_offsets(self, data: ShortRangeCache, *, output_scale: bool = True) -> None:
        """Element energies by least squares on composition of E_ref − E_elec, the mean
        per-atom residual as the global offset and (``output_scale``) the residuals' spread as
        the output scale, as the 2G builder does: call before training from scratch."""
        lab = data.labels
        keep = ~torch.isnan(lab.energy)
        if not bool(keep.any()):
            return
        comp, energy = lab.composition[keep], lab.energy[keep]
        ref = torch.linalg.lstsq(comp, energy.unsqueeze(1), driver="gelsd").solution[:, 0]
        residual = (energy - comp @ ref) / lab.n_atoms[keep].to(torch.float64)
        self.element_energies = ref.detach().clone()
        self.mean_energy = float(residual.mean())
        spread = float(residual.std()) if residual.numel() > 1 else 0.0
        if output_scale and spread > 1e-6:
            self.output_scale = spread

    @staticmethod
    def _short_shape(nets: Mapping[str, AtomicNetwork], species: Sequence[str]) -> tuple[dict, dict]:
        """The ``hidden`` and ``activations`` arguments that rebuild ``nets``."""
        return ({s: nets[s].architecture[1:-1] for s in species}, {s: nets[s].activations for s in species})

    def _load_short(self, nets: Mapping[str, AtomicNetwork], atom_energies: Mapping[str, float]) -> None:
        """Take the weights of the short-range networks ``nets`` and the element energies of a
        saved potential (whose atom energies already hold the mean offset)."""
        species = self.species
        with torch.no_grad():
            self.theta.copy_(self.layout.from_atomic_networks([nets[s] for s in species]))
        self.element_energies = torch.tensor([atom_energies[s] for s in species], dtype=torch.float64)
        self.mean_energy = 0.0
