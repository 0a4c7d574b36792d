"""The 1G molecular network potential in training form.

Same model as :class:`potforge.models.hdnnp_1g.potential.MolecularNetworkPotential` (formulas
there): E = (σ/|G|) Σ_{π∈G} NN((y_{π(·)} − μ)/s) + Σ_Z n_Z ε_Z + n c, with the trainer's
per-element energies ε_Z and per-atom offset c in place of the single offset E_0 (for one
fixed composition only their total matters; :meth:`to_potential` folds them into E_0).

:meth:`prepare` computes, once per frame, the raw pair coordinates y_p (model pair order)
and, for forces, ∂y_p/∂r_a = y'(d_p) (r_a − r_b)/d_p together with the structure indices of
a and b. A training step is then one network pass over all |G| permuted inputs with the
closed-form input gradient (:func:`~potforge.models.network.network_forward`), a scatter
to ∂E/∂y and a contraction with the cached coordinate gradients; autograd differentiates
that once more with respect to θ.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...core.dtypes import check_dtype
from ...core.errors import ConfigError, NotFittedError, StructureError, UnknownElementError
from ...core.lazy import torch
from ...core.neighbors import DEFAULT_MIN_DISTANCE, check_min_distance
from ...data.frame import Frame
from ...data.labels import BatchLabels, FrameLabels, frame_labels
from ..network import ACTIVATION_NAMES, NetworkLayout, initial_parameters, network_forward
from ..trainable import ModelOutput, TrainableModel, trained_model
from .potential import (COORDINATES, MolecularNetworkPotential, atom_pairs, check_molecule,
                        like_atom_permutations, molecule_order, pair_coordinates, permuted_pair_indices,
                        unique_species)

__all__ = ["TrainableMolecularNetwork", "MolecularData", "MolecularBatch"]

_OPTIONS = ("kind", "symbols", "hidden", "activations", "coordinates", "length", "input_mean",
            "input_std", "output_scale", "dtype")


@dataclass
class MolecularBatch(BatchLabels):
    """Frames of :class:`MolecularData` gathered for one evaluation (torch tensors).

    ``inputs`` (n_frames, n_pairs) are the raw coordinates y in model pair order;
    ``coordinate_gradient`` (n_frames, n_pairs, 3) is ∂y_p/∂r_a for pair p = (a, b), with
    ``atom_a``/``atom_b`` (n_frames, n_pairs) the batch-atom indices of a and b. The label
    fields are those the training loss reads.
    """

    inputs: torch.Tensor
    coordinate_gradient: torch.Tensor | None
    atom_a: torch.Tensor | None
    atom_b: torch.Tensor | None


class MolecularData:
    """Pair coordinates (and their gradients) of frames of one molecule, plus labels.

    Attributes
    ----------
    labels : FrameLabels
    inputs : (n_frames, n_pairs) float64 — raw coordinates y, model pair order
    jacobian : (n_frames, n_pairs, 3) float64 or None — ∂y_p/∂r_a (None without derivatives;
        the trainer reads this name to know whether forces can be evaluated)
    atom_a, atom_b : (n_frames, n_pairs) long — frame-local atom indices of each pair
    """

    def __init__(self, labels: FrameLabels, inputs: torch.Tensor, jacobian: torch.Tensor | None,
                 atom_a: torch.Tensor, atom_b: torch.Tensor) -> None:
        self.labels = labels
        self.inputs = inputs
        self.jacobian = jacobian
        self.atom_a = atom_a
        self.atom_b = atom_b

    @property
    def n_frames(self) -> int:
        return self.labels.n_frames

    def batch(self, frames: Sequence[int] | torch.Tensor | None = None, *,
              derivatives: bool = True) -> MolecularBatch:
        lab = self.labels
        frames, _, atoms = lab.select(frames)
        n = int(lab.n_atoms[0]) if lab.n_frames else 0  # one molecule: the same in every frame
        local = torch.arange(len(frames)).unsqueeze(1) * n
        grad = a = b = None
        if derivatives and self.jacobian is not None:
            grad = self.jacobian[frames]
            a = self.atom_a[frames] + local
            b = self.atom_b[frames] + local
        return MolecularBatch(**lab.gather(frames, atoms), inputs=self.inputs[frames],
                              coordinate_gradient=grad, atom_a=a, atom_b=b)


class TrainableMolecularNetwork(TrainableModel):
    """A 1G molecular network potential being trained.

    Parameters
    ----------
    symbols : sequence of str
        The molecule's atoms in model order, e.g. ``["O", "H", "H"]``.
    hidden : sequence of int
        Hidden-layer sizes.
    activations : str or None
        n2p2 letters, one per hidden layer and the output (e.g. ``"ttl"``); long names
        (``tanh``) are accepted as a list. None: tanh hidden layers, linear output.
    coordinates : {"morse", "inverse", "distance"}
        Transform of the distances (see the Potential's docstring).
    length : float, Å
        λ of the transform.
    input_mean, input_std : sequence of float or None
        Input standardisation (one per atom pair); None until :meth:`fit_scaling`.
    output_scale : float, eV
        Energy of one network output unit (:meth:`fit_scaling` sets the training-energy spread).
    dtype : {"float64", "float32"}
        Arithmetic of the network during training (θ itself stays float64).
    """

    kind: ClassVar[str] = "hdnnp-1g"

    def __init__(self, symbols: Sequence[str], hidden: Sequence[int] = (16, 16),
                 activations: str | Sequence[str] | None = None, *, coordinates: str = "morse",
                 length: float = 1.0, input_mean: Sequence[float] | None = None,
                 input_std: Sequence[float] | None = None, output_scale: float = 1.0,
                 dtype: str = "float64") -> None:
        self.symbols = tuple(str(s) for s in symbols)
        if len(self.symbols) < 2:
            raise ConfigError(f"model.symbols: a molecule needs at least two atoms, got {list(self.symbols)}")
        self.species = unique_species(self.symbols)
        self.hidden = tuple(int(n) for n in hidden)
        if any(n < 1 for n in self.hidden):
            raise ConfigError(f"model.hidden: layer sizes must be >= 1, got {list(self.hidden)}")
        if activations is None:
            activations = "t" * len(self.hidden) + "l"
        elif not isinstance(activations, str):
            activations = "".join(ACTIVATION_NAMES.get(a, a) for a in activations)
        if len(activations) != len(self.hidden) + 1:
            raise ConfigError(f"model.activations: {activations!r} has {len(activations)} letters; "
                              f"{len(self.hidden)} hidden layers and the output need "
                              f"{len(self.hidden) + 1} (e.g. {'t' * len(self.hidden) + 'l'!r})")
        self.activations = activations
        if coordinates not in COORDINATES:
            raise ConfigError(f"model.coordinates: {coordinates!r} is not one of {', '.join(COORDINATES)}")
        if not float(length) > 0:
            raise ConfigError(f"model.length: must be a positive length in Å, got {length}")
        check_dtype(dtype, "model.dtype")
        self.coordinates = coordinates
        self.length = float(length)
        self.output_scale = float(output_scale)
        self.dtype_name = dtype
        self.dtype = getattr(torch, dtype)
        self.pairs = atom_pairs(len(self.symbols))
        self.n_pairs = len(self.pairs)
        try:
            permutations = like_atom_permutations(self.symbols)
        except ValueError as err:
            raise ConfigError(f"model.symbols: {err}") from None
        self.n_permutations = len(permutations)
        self._permuted_pairs = torch.from_numpy(permuted_pair_indices(permutations, self.pairs))
        self.input_mean = self.input_std = None
        if (input_mean is None) != (input_std is None):
            raise ConfigError("model.input_mean and model.input_std go together (or neither)")
        if input_mean is not None:
            self._set_scaling(np.asarray(input_mean, dtype=np.float64), np.asarray(input_std, dtype=np.float64))
        self.layout = NetworkLayout([(self.n_pairs, *self.hidden, 1)], [self.activations])
        self.theta = torch.zeros(self.layout.n_parameters, dtype=torch.float64, requires_grad=True)
        self.element_energies = torch.zeros(len(self.species), dtype=torch.float64)
        self.mean_energy = 0.0

    def _set_scaling(self, mean: np.ndarray, std: np.ndarray) -> None:
        if mean.shape != (self.n_pairs,) or std.shape != (self.n_pairs,):
            raise ConfigError(f"model.input_mean/input_std: need {self.n_pairs} values each "
                              f"(one per atom pair), got {mean.shape[0]} and {std.shape[0]}")
        if not np.all(std > 0):
            raise ConfigError("model.input_std: standard deviations must be positive")
        self.input_mean, self.input_std = mean, std
        self._mean = torch.from_numpy(mean).to(self.dtype)
        self._std = torch.from_numpy(std).to(self.dtype)

    # -- set-up --------------------------------------------------------------------------------
    def fit_scaling(self, data: MolecularData, *, output: bool = True) -> "TrainableMolecularNetwork":
        """Input standardisation from prepared training data (all frames, all permutations).

        With ``output``, the output scale becomes the standard deviation of the training
        energies (1 eV if they do not vary), so that initial network outputs of order one
        span the data. Returns self.
        """
        y = data.inputs[:, self._permuted_pairs].reshape(-1, self.n_pairs).numpy()
        std = y.std(axis=0)
        # a constant coordinate carries no information; scaling it by 1 keeps it harmless
        std = np.where(std > 1e-12 * np.maximum(np.abs(y).max(axis=0), 1e-300), std, 1.0)
        self._set_scaling(y.mean(axis=0), std)
        if output:
            e = data.labels.energy
            e = e[~torch.isnan(e)]
            spread = float(e.std()) if e.numel() > 1 else 0.0
            self.output_scale = spread if spread > 0 else 1.0
        return self

    def initialize(self, generator: torch.Generator, scheme: str = "glorot",
                   bounds: tuple[float, float] = (-1.0, 1.0)) -> None:
        """Random initial weights (see :func:`~potforge.models.network.initial_parameters`)."""
        with torch.no_grad():
            self.theta.copy_(initial_parameters(self.layout, generator, scheme=scheme, bounds=bounds))

    # -- data -------------------------------------------------------------------------------
    def prepare(self, frames: Sequence[Frame], names: Sequence[str] | None = None, *,
                derivatives: bool = True,
                progress: Callable[[int, int], None] | None = None) -> MolecularData:
        names = list(names) if names is not None else [f"frame {k}" for k in range(len(frames))]
        for k, frame in enumerate(frames):  # composition first: frame_labels needs known elements
            self._check_frame(frame, names[k])
        labels = frame_labels(frames, self.species, names=names)
        n_frames = len(frames)
        inputs = np.empty((n_frames, self.n_pairs))
        grads = np.empty((n_frames, self.n_pairs, 3)) if derivatives else None
        atom_a = np.empty((n_frames, self.n_pairs), dtype=np.int64)
        atom_b = np.empty((n_frames, self.n_pairs), dtype=np.int64)
        for k, frame in enumerate(frames):
            atoms = frame.atoms
            order = molecule_order(atoms.get_chemical_symbols(), self.symbols, self.species)
            a, b = order[self.pairs[:, 0]], order[self.pairs[:, 1]]
            vec = atoms.positions[a] - atoms.positions[b]
            dist = np.linalg.norm(vec, axis=1)
            try:
                check_min_distance(dist, a, b, DEFAULT_MIN_DISTANCE)
            except StructureError as err:
                raise StructureError(f"{names[k]}: {err.reason}") from None
            y, dy = pair_coordinates(dist, self.coordinates, self.length)
            inputs[k] = y
            if derivatives:
                grads[k] = (dy / dist)[:, None] * vec
            atom_a[k], atom_b[k] = a, b
            if progress is not None:
                progress(k + 1, n_frames)
        t = torch.from_numpy
        return MolecularData(labels, t(inputs), t(grads) if derivatives else None, t(atom_a), t(atom_b))

    def _check_frame(self, frame: Frame, name: str) -> None:
        try:
            check_molecule(frame.atoms)
            molecule_order(frame.atoms.get_chemical_symbols(), self.symbols, self.species, frame.atoms)
        except (StructureError, UnknownElementError) as err:
            raise type(err)(f"{name}: {err.reason}") from None

    def batch(self, data: MolecularData, frames: torch.Tensor | None, *,
              derivatives: bool = True) -> MolecularBatch:
        return data.batch(frames, derivatives=derivatives)

    def labels(self, data: MolecularData) -> FrameLabels:
        return data.labels

    # -- evaluation -------------------------------------------------------------------------
    def _theta(self) -> torch.Tensor:
        return self.theta if self.dtype == torch.float64 else self.theta.to(self.dtype)

    def predict(self, batch: MolecularBatch, *, forces: bool = True, stress: bool = False) -> ModelOutput:
        """Energies (n_frames,) eV and forces (n_frames·n_atoms, 3) eV/Å; stress is None."""
        if self.input_mean is None:
            raise NotFittedError("the 1G model has no input scaling yet; call fit_scaling(training "
                                 "data) first")
        n_frames, n_perm, n_pairs = batch.n_frames, self.n_permutations, self.n_pairs
        x = (batch.inputs.to(self.dtype)[:, self._permuted_pairs] - self._mean) / self._std
        out, grad = network_forward(self.layout.layers(self._theta(), 0), self.activations,
                                    x.reshape(-1, n_pairs), gradient=forces)
        scale = self.output_scale / n_perm
        energy = (out.reshape(n_frames, n_perm).sum(1) * scale).to(torch.float64)
        result = ModelOutput(self.with_offsets(energy, batch))
        if not forces:
            return result
        if batch.coordinate_gradient is None:
            raise ValueError("forces need data prepared with derivatives")
        # ∂E/∂y_q = scale Σ_π Σ_{p: π(p) = q} ∂NN/∂x_p / s_p
        dedx = (grad * scale / self._std).reshape(n_frames, n_perm * n_pairs)
        dedy = torch.zeros((n_frames, n_pairs), dtype=self.dtype).index_add(
            1, self._permuted_pairs.reshape(-1), dedx)
        g = (dedy.unsqueeze(2) * batch.coordinate_gradient.to(self.dtype)).reshape(-1, 3)  # ∂E/∂r_a
        total_atoms = int(batch.n_atoms.sum())
        f = torch.zeros((total_atoms, 3), dtype=self.dtype)
        f = f.index_add(0, batch.atom_a.reshape(-1), -g).index_add(0, batch.atom_b.reshape(-1), g)
        result.forces = f.to(torch.float64)
        return result

    # -- parameters and conversion ----------------------------------------------------------------
    def regularized(self) -> torch.Tensor:
        return self.layout.weight_mask

    def energy_offset(self) -> float:
        """E_0 of the molecule: Σ_Z n_Z ε_Z + n c (eV)."""
        counts = torch.tensor([self.symbols.count(s) for s in self.species], dtype=torch.float64)
        return float(counts @ self.element_energies) + len(self.symbols) * float(self.mean_energy)

    def to_potential(self, metadata: dict | None = None) -> MolecularNetworkPotential:
        if self.input_mean is None:
            raise NotFittedError("the 1G model has no input scaling yet; call fit_scaling first")
        with trained_model():
            (network,) = self.layout.to_atomic_networks(self.theta)
            return MolecularNetworkPotential(self.symbols, network, coordinates=self.coordinates,
                                             length=self.length, input_mean=self.input_mean,
                                             input_std=self.input_std, output_scale=self.output_scale,
                                             energy_offset=self.energy_offset(), metadata=metadata)

    @classmethod
    def from_potential(cls, potential: MolecularNetworkPotential, *,
                       dtype: str = "float64") -> "TrainableMolecularNetwork":
        """Continue training a saved 1G model (its scaling, weights and offset)."""
        net = potential.network
        if net.normalize:
            raise ConfigError("cannot train a 1G model with normalize_nodes networks")
        model = cls(potential.symbols, net.architecture[1:-1], net.activations,
                    coordinates=potential.coordinates, length=potential.length,
                    input_mean=potential.input_mean, input_std=potential.input_std,
                    output_scale=potential.output_scale, dtype=dtype)
        with torch.no_grad():
            model.theta.copy_(model.layout.from_atomic_networks([net]))
        model.mean_energy = potential.energy_offset / len(potential.symbols)
        return model

    def description(self) -> dict:
        return {"kind": self.kind, "symbols": list(self.symbols), "hidden": list(self.hidden),
                "activations": self.activations, "coordinates": self.coordinates,
                "length": self.length,
                "input_mean": None if self.input_mean is None else self.input_mean.tolist(),
                "input_std": None if self.input_std is None else self.input_std.tolist(),
                "output_scale": self.output_scale, "dtype": self.dtype_name}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableMolecularNetwork":
        """Build from :meth:`description` or a config (``symbols`` required, the rest optional)."""
        for key in d:
            if key not in _OPTIONS:
                near = difflib.get_close_matches(key, _OPTIONS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f"; expected one of {', '.join(_OPTIONS)}"
                raise ConfigError(f"model.{key}: unknown option of an hdnnp-1g model{hint}")
        if "symbols" not in d:
            raise ConfigError("model.symbols: missing; list the molecule's atoms, e.g. [O, H, H]")
        options = {k: d[k] for k in _OPTIONS[4:] if k in d}
        return cls(d["symbols"], d.get("hidden", (16, 16)), d.get("activations"), **options)
