"""2G high-dimensional neural network potentials in training form.

The same model as :class:`~potforge.models.hdnnp.potential.HDNNP` (Behler & Parrinello 2007),

    E = Σ_i [ s · NN_{Z_i}(a ⊙ G_i + b) + ε_{Z_i} + c ],

with scaled symmetry functions (a, b from the training-set statistics), output scale s,
per-element reference energies ε_Z and the global per-atom offset c. Training evaluates it
on a :class:`~potforge.descriptors.cache.DescriptorCache` with the networks' one definition
(:mod:`potforge.models.network`); :meth:`to_potential` hands
the result to the compiled evaluator, which predicts the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from ...core.dtypes import check_dtype
from ...core.lazy import torch
from ...data.frame import Frame
from ...data.labels import FrameLabels, voigt
from ...descriptors.cache import DescriptorBatch, DescriptorCache, cache_size
from ...descriptors.scaling import SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import NetworkLayout, initial_parameters, network_forward
from ..trainable import ModelOutput, TrainableModel, trained_model
from .potential import HDNNP

__all__ = ["TrainableHDNNP"]


class TrainableHDNNP(TrainableModel):
    """A 2G HDNNP being trained.

    Parameters
    ----------
    symmetry_functions : SymmetryFunctionSet
    scaling : SymmetryFunctionScaling
        Training-set statistics of ``symmetry_functions``.
    hidden : mapping element -> sequence of int
        Hidden-layer sizes of each element's network.
    activations : mapping element -> str
        n2p2 letters, one per hidden layer and the output (e.g. ``"ttl"``).
    normalize : bool
        n2p2 ``normalize_nodes``.
    output_scale : float, eV
        Energy of one network output unit.
    dtype : {"float64", "float32"}
        Arithmetic of the networks during training.
    cache_dtype : {"float64", "float32"}
        Storage of the cached Jacobians.
    n_threads : int
        Threads of the descriptor computation (0: all cores).
    """

    kind: ClassVar[str] = "hdnnp"

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 hidden: Mapping[str, Sequence[int]], activations: Mapping[str, str], *,
                 normalize: bool = False, output_scale: float = 1.0, dtype: str = "float64",
                 cache_dtype: str = "float64", n_threads: int = 1) -> None:
        self.sfs = symmetry_functions
        self.species = symmetry_functions.species
        self.scaling = scaling
        self.hidden = {s: tuple(int(n) for n in hidden[s]) for s in self.species}
        self.activations = {s: activations[s] for s in self.species}
        self.normalize = bool(normalize)
        self.output_scale = float(output_scale)
        self.dtype_name = check_dtype(dtype, "model.dtype")
        self.dtype = getattr(torch, dtype)
        self.cache_dtype = check_dtype(cache_dtype, "model.cache_dtype")
        self.n_threads = int(n_threads)
        self.n_functions = [symmetry_functions.n_functions(s) for s in self.species]
        self.layout = NetworkLayout(
            [(self.n_functions[e], *self.hidden[s], 1) for e, s in enumerate(self.species)],
            [self.activations[s] for s in self.species], normalize)
        self.theta = torch.zeros(self.layout.n_parameters, dtype=torch.float64, requires_grad=True)
        self.element_energies = torch.zeros(len(self.species), dtype=torch.float64)
        self.mean_energy = 0.0
        self._affine = []
        for s in self.species:
            a, b = scaling.affine(s)
            self._affine.append((torch.from_numpy(a).to(self.dtype), torch.from_numpy(b).to(self.dtype)))

    def initialize(self, generator: torch.Generator, scheme: str = "glorot",
                   bounds: tuple[float, float] = (-1.0, 1.0)) -> None:
        with torch.no_grad():
            self.theta.copy_(initial_parameters(self.layout, generator, scheme=scheme, bounds=bounds))

    # -- data -------------------------------------------------------------------------------
    def prepare(self, frames: Sequence[Frame], names: Sequence[str], *, derivatives: bool = True,
                progress: Callable[[int, int], None] | None = None) -> DescriptorCache:
        return DescriptorCache(frames, self.sfs, derivatives=derivatives, dtype=self.cache_dtype,
                               n_threads=self.n_threads, names=names, progress=progress)

    def batch(self, data: DescriptorCache, frames: torch.Tensor | None, *,
              derivatives: bool = True) -> DescriptorBatch:
        return data.batch(frames, derivatives=derivatives)

    def labels(self, data: DescriptorCache) -> FrameLabels:
        return data.labels

    def memory_estimate(self, frames: Sequence[Frame], n_threads: int = 1) -> tuple[str, int]:
        n_pairs, size = cache_size(frames, self.sfs, dtype=self.cache_dtype, n_threads=n_threads)
        return (f"descriptor cache: {n_pairs:,} neighbour pairs, about {size / 2**20:,.0f} MiB of "
                f"derivatives ({self.cache_dtype})", size)

    # -- evaluation -------------------------------------------------------------------------
    def _atomic(self, theta: torch.Tensor, element: torch.Tensor, values: torch.Tensor,
                gradient: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Atomic energies (n,) and ∂E_i/∂G_i (n, n_max) for raw values (n, n_max)."""
        s = self.output_scale
        if len(self.species) == 1:
            a, b = self._affine[0]
            n_sf = self.n_functions[0]
            x = values[:, :n_sf].to(self.dtype) * a + b
            out, grad = network_forward(self.layout.layers(theta, 0), self.activations[self.species[0]],
                                        x, normalize=self.normalize, gradient=gradient)
            dedg = grad * (s * a) if gradient else None
            if dedg is not None and n_sf < values.shape[1]:
                dedg = torch.nn.functional.pad(dedg, (0, values.shape[1] - n_sf))
            return out * s, dedg
        n = values.shape[0]
        energies = torch.zeros(n, dtype=self.dtype)
        dedg = torch.zeros(values.shape, dtype=self.dtype) if gradient else None
        for e, sym in enumerate(self.species):
            idx = torch.nonzero(element == e).squeeze(1)
            if idx.numel() == 0:
                continue
            a, b = self._affine[e]
            n_sf = self.n_functions[e]
            x = values[idx, :n_sf].to(self.dtype) * a + b
            out, grad = network_forward(self.layout.layers(theta, e), self.activations[sym], x,
                                        normalize=self.normalize, gradient=gradient)
            energies = energies.index_copy(0, idx, out * s)
            if gradient:
                g = grad * (s * a)
                if n_sf < values.shape[1]:
                    g = torch.nn.functional.pad(g, (0, values.shape[1] - n_sf))
                dedg = dedg.index_copy(0, idx, g)
        return energies, dedg

    def _theta(self) -> torch.Tensor:
        return self.theta if self.dtype == torch.float64 else self.theta.to(self.dtype)

    def predict(self, batch: DescriptorBatch, *, forces: bool = True, stress: bool = False) -> ModelOutput:
        theta = self._theta()
        need_gradient = forces or stress
        atomic, dedg = self._atomic(theta, batch.element, batch.values, need_gradient)
        energy = torch.zeros(batch.n_frames, dtype=self.dtype).index_add(0, batch.frame_of_atom, atomic)
        out = ModelOutput(self.with_offsets(energy.to(torch.float64), batch))
        if not need_gradient:
            return out
        if batch.jacobian is None:
            raise ValueError("forces and stress need a cache with derivatives")
        jac = batch.jacobian
        coeff = dedg[batch.center].to(jac.dtype)
        g = torch.bmm(coeff.unsqueeze(1), jac).squeeze(1).to(self.dtype)  # dE/d(pair vector)
        if forces:
            f = torch.zeros((batch.values.shape[0], 3), dtype=self.dtype)
            f = f.index_add(0, batch.center, g).index_add(0, batch.neighbor, -g)
            out.forces = f.to(torch.float64)
        if stress:
            outer = g.unsqueeze(2) * batch.vectors.to(self.dtype).unsqueeze(1)
            virial = torch.zeros((batch.n_frames, 3, 3), dtype=self.dtype)
            virial = virial.index_add(0, batch.frame_of_pair, outer).to(torch.float64)
            out.stress = voigt(virial) / batch.volume.unsqueeze(1)
        return out

    def force_measurement(self, data: DescriptorCache, atom: int, component: int) -> torch.Tensor:
        """F_{atom, component} from the pairs that touch ``atom`` only (see cache docstring)."""
        as_center, as_neighbor = data.pairs_of_atom(atom)
        jac = data.jacobian
        rows = torch.cat([torch.tensor([atom]), data.center[as_neighbor]])
        coeff = torch.cat([jac[as_center, :, component].sum(0, keepdim=True),
                           -jac[as_neighbor, :, component]]).to(self.dtype)
        _, dedg = self._atomic(self._theta(), data.labels.element[rows], data.values[rows], True)
        return (dedg * coeff).sum().to(torch.float64)

    # -- parameters and conversion ----------------------------------------------------------------
    def regularized(self) -> torch.Tensor:
        return self.layout.weight_mask

    def to_potential(self, metadata: dict | None = None) -> HDNNP:
        with trained_model():
            nets = self.layout.to_atomic_networks(self.theta)
            return HDNNP(self.sfs, self.scaling, dict(zip(self.species, nets)),
                         output_scale=self.output_scale, mean_energy=self.mean_energy,
                         atom_energies={s: float(self.element_energies[e])
                                        for e, s in enumerate(self.species)},
                         n_threads=self.n_threads, metadata=metadata)

    @classmethod
    def from_potential(cls, potential: HDNNP, **options) -> "TrainableHDNNP":
        """Continue training a saved HDNNP (its functions, scaling and weights)."""
        species = potential.species
        hidden = {s: potential.networks[s].architecture[1:-1] for s in species}
        acts = {s: potential.networks[s].activations for s in species}
        normalize = potential.networks[species[0]].normalize
        model = cls(potential.symmetry_functions, potential.scaling, hidden, acts,
                    normalize=normalize, output_scale=potential.output_scale, **options)
        with torch.no_grad():
            model.theta.copy_(model.layout.from_atomic_networks([potential.networks[s] for s in species]))
        model.element_energies = torch.tensor([potential.atom_energies[s] for s in species],
                                              dtype=torch.float64)
        model.mean_energy = potential.mean_energy
        return model

    def description(self) -> dict:
        return {"kind": self.kind, "symmetry_functions": self.sfs.to_dict(),
                "scaling": self.scaling.to_dict(), "hidden": {s: list(h) for s, h in self.hidden.items()},
                "activations": self.activations, "normalize": self.normalize,
                "output_scale": self.output_scale, "dtype": self.dtype_name,
                "cache_dtype": self.cache_dtype, "n_threads": self.n_threads}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableHDNNP":
        return cls(SymmetryFunctionSet.from_dict(d["symmetry_functions"]),
                   SymmetryFunctionScaling.from_dict(d["scaling"]), d["hidden"], d["activations"],
                   normalize=d["normalize"], output_scale=d["output_scale"], dtype=d["dtype"],
                   cache_dtype=d["cache_dtype"], n_threads=d["n_threads"])
