"""4G HDNNPs in training form, stage 1: electronegativity networks and hardness fitted to
reference charges by differentiable charge equilibration (Ko et al., Nat. Commun. 12, 398
(2021); n2p2's first 4G training stage).

Per frame, with scaled symmetry functions G_i (n2p2's scaling), per-element Gaussian widths
σ_e (n2p2 ``fixed_gausswidth``, fixed) and hardness J_e (trained),

    χ_i = NN^χ_{Z_i}(a ⊙ G_i + b),
    [A + diag(J)  1] [q]   [−χ]
    [1ᵀ           0] [μ] = [ Q ],

where A is the Gaussian-charge Coulomb matrix of the frame (k_e erf(r_ij/(√2 γ_ij))/r_ij off
the diagonal, k_e/(σ_i √π) on it; γ_ij = √(σ_i² + σ_j²)) and Q the frame's total charge
(:attr:`potforge.data.labels.FrameLabels.total_charge`). A depends on the geometry only, so
it is computed once per frame in :meth:`prepare`; an epoch costs the χ networks and one dense
bordered solve per frame (frames of this stage are small molecules and slabs: 12 to ~110
atoms), differentiated by autograd with respect to the network weights and J.

Units: χ in eV/e, J and A in eV/e², σ in Å (n2p2 files in Hartree/Bohr are converted by the
reader). The stage has no energy: its :class:`ModelOutput` carries charges and a NaN energy
marked ``no_energy`` (the loss fits ``loss.charge_sigma`` alone).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np

from ...core.dtypes import check_dtype
from ...core.errors import ConfigError
from ...core.lazy import torch
from ...core.units import Bohr, Hartree
from ...data.frame import Frame
from ...data.labels import FrameLabels
from ...descriptors.cache import DescriptorBatch, DescriptorCache
from ...descriptors.scaling import SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import NetworkLayout, initial_parameters, network_forward
from ..trainable import ModelOutput, TrainableModel

__all__ = ["TrainableHDNNP4GCharges", "ChargeData", "gaussian_coulomb_matrix", "qeq_dense", "COULOMB"]

#: Coulomb constant k_e (eV Å / e²), as :mod:`potforge.electrostatics` defines it
COULOMB = Hartree * Bohr


def gaussian_coulomb_matrix(positions: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """A (N, N) in eV/e² of Gaussian charges of widths ``sigma`` (Å) at ``positions`` (Å) in
    open boundaries: k_e erf(r_ij/(√2 γ_ij))/r_ij, diagonal k_e/(σ_i √π) (n2p2's A without J).

    Periodic frames go through :class:`potforge.electrostatics.GaussianCoulomb` (Ewald)."""
    from scipy.special import erf

    d = positions[:, None, :] - positions[None, :, :]
    r = np.sqrt((d * d).sum(-1))
    gamma = np.sqrt(sigma[:, None] ** 2 + sigma[None, :] ** 2)
    n = len(positions)
    off = ~np.eye(n, dtype=bool)
    a = np.empty((n, n))
    a[off] = erf(r[off] / (math.sqrt(2.0) * gamma[off])) / r[off]
    a[~off] = 1.0 / (sigma * math.sqrt(math.pi))
    return COULOMB * a


def qeq_dense(matrix: torch.Tensor, chi: torch.Tensor, hardness: torch.Tensor,
              total_charge: torch.Tensor) -> torch.Tensor:
    """Charges (N,) minimising Σ χ_i q_i + ½ Σ J_i q_i² + ½ qᵀ A q with Σ q = Q: the bordered
    system solved densely (differentiable in χ, J and A)."""
    n = chi.shape[0]
    m = torch.zeros((n + 1, n + 1), dtype=chi.dtype)
    m[:n, :n] = matrix + torch.diag(hardness)
    m[:n, n] = 1.0
    m[n, :n] = 1.0
    rhs = torch.cat([-chi, total_charge.reshape(1).to(chi.dtype)])
    return torch.linalg.solve(m, rhs)[:n]


class ChargeData:
    """A training set prepared for stage 1: the descriptor cache (values) plus each frame's
    Coulomb matrix A (eV/e²)."""

    def __init__(self, cache: DescriptorCache, matrices: list[torch.Tensor]) -> None:
        self.cache = cache
        self.matrices = matrices
        self.labels = cache.labels
        self.n_pairs = cache.n_pairs
        self.jacobian = cache.jacobian


class TrainableHDNNP4GCharges(TrainableModel):
    """Stage 1 of a 4G HDNNP: electronegativity networks χ and per-element hardness J.

    Parameters
    ----------
    symmetry_functions, scaling
        As for the 2G model (the χ networks read the same scaled functions).
    hidden, activations : mapping element -> sizes / n2p2 letters (one per layer and output)
    gaussian_width : mapping element -> float, Å (n2p2 ``fixed_gausswidth``)
    hardness : mapping element -> float, eV/e² (initial J; n2p2 ``initial_hardness``)
    normalize : bool (n2p2 ``normalize_nodes``)
    dtype : {"float64", "float32"}

    theta = [χ network parameters, J_1 .. J_S] (J in eV/e²; L2 acts on the network weights only).
    """

    kind: ClassVar[str] = "hdnnp-4g"
    predicts_charges: ClassVar[bool] = True
    stage: ClassVar[int] = 1
    #: the trainer refuses energy, force and stress terms for this stage
    charges_only: ClassVar[bool] = True

    def __init__(self, symmetry_functions: SymmetryFunctionSet, scaling: SymmetryFunctionScaling,
                 hidden: Mapping[str, Sequence[int]], activations: Mapping[str, str], *,
                 gaussian_width: Mapping[str, float], hardness: Mapping[str, float],
                 normalize: bool = False, dtype: str = "float64", n_threads: int = 1) -> None:
        self.sfs = symmetry_functions
        self.species = symmetry_functions.species
        self.scaling = scaling
        for name, table in (("gaussian_width", gaussian_width), ("hardness", hardness)):
            missing = [s for s in self.species if s not in table]
            if missing:
                raise ConfigError(f"model.{name}: no value for {', '.join(missing)}")
        self.gaussian_width = {s: float(gaussian_width[s]) for s in self.species}
        if not all(w > 0 and math.isfinite(w) for w in self.gaussian_width.values()):
            raise ConfigError(f"model.gaussian_width: expected widths > 0 Å, got {self.gaussian_width}")
        self.hidden = {s: tuple(int(n) for n in hidden[s]) for s in self.species}
        self.activations = {s: activations[s] for s in self.species}
        self.normalize = bool(normalize)
        self.dtype_name = check_dtype(dtype, "model.dtype")
        self.n_threads = int(n_threads)
        self.n_functions = [symmetry_functions.n_functions(s) for s in self.species]
        self.layout = NetworkLayout(
            [(self.n_functions[e], *self.hidden[s], 1) for e, s in enumerate(self.species)],
            [self.activations[s] for s in self.species], normalize)
        n_net = self.layout.n_parameters
        self.theta = torch.zeros(n_net + len(self.species), dtype=torch.float64, requires_grad=True)
        with torch.no_grad():
            self.theta[n_net:] = torch.tensor([float(hardness[s]) for s in self.species])
        self.element_energies = torch.zeros(len(self.species), dtype=torch.float64)
        self.mean_energy = 0.0
        self._sigma = torch.tensor([self.gaussian_width[s] for s in self.species], dtype=torch.float64)
        self._affine = [tuple(torch.from_numpy(v) for v in scaling.affine(s)) for s in self.species]

    def initialize(self, generator: torch.Generator, scheme: str = "glorot",
                   bounds: tuple[float, float] = (-1.0, 1.0)) -> None:
        """Random network weights (the hardness keeps its initial values)."""
        n_net = self.layout.n_parameters
        with torch.no_grad():
            self.theta[:n_net] = initial_parameters(self.layout, generator, scheme=scheme, bounds=bounds)

    @property
    def hardness(self) -> torch.Tensor:
        """J per species (eV/e²), a view into theta."""
        return self.theta[self.layout.n_parameters:]

    # -- data -------------------------------------------------------------------------------
    def prepare(self, frames: Sequence[Frame], names: Sequence[str], *, derivatives: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ChargeData:
        cache = DescriptorCache(frames, self.sfs, derivatives=False, n_threads=self.n_threads,
                                names=names, progress=progress)
        matrices = []
        element = cache.labels.element.numpy()
        offsets = cache.labels.atom_offsets.numpy()
        sigma = self._sigma.numpy()
        for k, frame in enumerate(frames):
            if frame.atoms.pbc.any():
                raise ConfigError(f"{cache.labels.names[k]}: periodic frame; stage-1 4G training "
                                  "runs on open (non-periodic) structures until the Ewald matrix is in "
                                  "potforge.electrostatics")
            widths = sigma[element[offsets[k]:offsets[k + 1]]]
            matrices.append(torch.from_numpy(gaussian_coulomb_matrix(frame.atoms.positions, widths)))
        return ChargeData(cache, matrices)

    def batch(self, data: ChargeData, frames: torch.Tensor | None, *,
              derivatives: bool = False) -> DescriptorBatch:
        batch = data.cache.batch(frames, derivatives=False)
        batch.coulomb = [data.matrices[int(f)] for f in batch.frames]
        return batch

    def labels(self, data: ChargeData) -> FrameLabels:
        return data.labels

    def has_derivatives(self, data: ChargeData) -> bool:
        return True  # stage 1 has no forces to give; the trainer asks for none

    # -- evaluation -------------------------------------------------------------------------
    def electronegativities(self, theta: torch.Tensor, element: torch.Tensor,
                            values: torch.Tensor) -> torch.Tensor:
        """χ (n,) eV/e of atoms with raw symmetry functions ``values`` (n, n_max)."""
        chi = torch.zeros(values.shape[0], dtype=torch.float64)
        for e, sym in enumerate(self.species):
            idx = torch.nonzero(element == e).squeeze(1)
            if idx.numel() == 0:
                continue
            a, b = self._affine[e]
            x = values[idx, :self.n_functions[e]] * a + b
            out, _ = network_forward(self.layout.layers(theta, e), self.activations[sym], x,
                                     normalize=self.normalize, gradient=False)
            chi = chi.index_copy(0, idx, out)
        return chi

    def charges(self, batch: DescriptorBatch) -> torch.Tensor:
        """QEq charges (n_atoms,) e of the batch's atoms, frame by frame."""
        chi = self.electronegativities(self.theta, batch.element, batch.values)
        hardness = self.hardness[batch.element]
        out = []
        start = 0
        for k, n in enumerate(batch.n_atoms.tolist()):
            sl = slice(start, start + n)
            out.append(qeq_dense(batch.coulomb[k], chi[sl], hardness[sl], batch.total_charge[k]))
            start += n
        return torch.cat(out)

    def predict(self, batch: DescriptorBatch, *, forces: bool = False, stress: bool = False) -> ModelOutput:
        # stage 1 has charges only: no forces or stress whatever is asked (the trainer refuses
        # a loss that fits them: ``charges_only``)
        energy = torch.full((batch.n_frames,), math.nan, dtype=torch.float64)
        return ModelOutput(energy, charges=self.charges(batch), no_energy=True)

    # -- parameters and conversion ----------------------------------------------------------
    def regularized(self) -> torch.Tensor:
        return torch.cat([self.layout.weight_mask, torch.zeros(len(self.species), dtype=torch.bool)])

    def to_potential(self, metadata: dict | None = None):
        raise ConfigError("model.stage: a stage-1 4G model has no short-range networks yet; save it "
                          "with save_stage1() and train stage 2 from it (model.stage: 2)")

    def stage1_state(self) -> dict:
        """The fitted χ networks and J (what stage 2 starts from): JSON-able."""
        nets = self.layout.to_atomic_networks(self.theta.detach()[:self.layout.n_parameters])
        return {"networks": {s: {"weights": [w.tolist() for w in n.weights],
                                 "biases": [b.tolist() for b in n.biases]}
                             for s, n in zip(self.species, nets)},
                "hardness": {s: float(self.hardness[e]) for e, s in enumerate(self.species)},
                "gaussian_width": self.gaussian_width}

    def load_electronegativity(self, networks: Mapping[str, object], hardness: Mapping[str, float]) -> None:
        """Set χ networks (AtomicNetwork per element, e.g. n2p2's weightse files read as eV/e)
        and J (eV/e²): a warm start, or a pre-trained stage 1."""
        theta = self.layout.from_atomic_networks([networks[s] for s in self.species])
        with torch.no_grad():
            self.theta[:self.layout.n_parameters] = theta
            self.theta[self.layout.n_parameters:] = torch.tensor([float(hardness[s]) for s in self.species])

    def description(self) -> dict:
        return {"kind": self.kind, "stage": self.stage, "symmetry_functions": self.sfs.to_dict(),
                "scaling": self.scaling.to_dict(), "hidden": {s: list(h) for s, h in self.hidden.items()},
                "activations": self.activations, "normalize": self.normalize,
                "gaussian_width": self.gaussian_width,
                "hardness": {s: float(self.hardness[e]) for e, s in enumerate(self.species)},
                "dtype": self.dtype_name, "n_threads": self.n_threads}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableHDNNP4GCharges":
        return cls(SymmetryFunctionSet.from_dict(d["symmetry_functions"]),
                   SymmetryFunctionScaling.from_dict(d["scaling"]), d["hidden"], d["activations"],
                   gaussian_width=d["gaussian_width"], hardness=d["hardness"], normalize=d["normalize"],
                   dtype=d["dtype"], n_threads=d["n_threads"])



def stage1_from_n2p2(directory, *, length_unit: str = "angstrom", energy_unit: str = "ev",
                     input_nn: str = "input.nn", pretrained: bool = True,
                     n_threads: int = 1) -> TrainableHDNNP4GCharges:
    """A stage-1 model from an n2p2 4G folder: ``input.nn`` (symmetry functions,
    ``global_*_electrostatic`` architecture, ``fixed_gausswidth``, ``initial_hardness``),
    ``scaling.data`` and, where present, pre-trained ``weightse.ZZZ.data`` and
    ``hardness.ZZZ.data`` (n2p2's stage-1 output), converted to Å, eV and e.

    Without the weight files (or with ``pretrained=False``) the χ networks are left at zero
    (call ``initialize``) and J starts at ``initial_hardness``. Weight files written for another
    architecture than ``input.nn`` states are a ModelFormatError."""
    from pathlib import Path

    from ase.data import atomic_numbers

    from ...core.units import energy_factor, length_factor
    from ...data.n2p2_model import network_architecture, read_input_nn, read_weights
    from ..hdnnp.n2p2 import _read_scaling, _species, _symmetry_functions
    from ..network import ACTIVATIONS, AtomicNetwork

    directory = Path(directory)
    L = length_factor(length_unit, "length_unit")
    E = energy_factor(energy_unit, "energy_unit")
    settings = read_input_nn(directory / input_nn)
    species = _species(settings)
    sfs = _symmetry_functions(settings, species, L)
    scaling = _read_scaling(directory / "scaling.data", settings, sfs)
    width = _per_element(settings, "fixed_gausswidth", species, L)
    hardness = _per_element(settings, "initial_hardness", species, E, default=0.0)
    electrostatic = _ElectrostaticSettings(settings)
    archs = {s: network_architecture(electrostatic, s, sfs.n_functions(s), ACTIVATIONS) for s in species}
    model = TrainableHDNNP4GCharges(sfs, scaling, {s: a[0][1:-1] for s, a in archs.items()},
                                    {s: a[1] for s, a in archs.items()}, gaussian_width=width,
                                    hardness=hardness, normalize=settings.has("normalize_nodes"),
                                    n_threads=n_threads)
    files = {s: directory / f"weightse.{atomic_numbers[s]:03d}.data" for s in species}
    if pretrained and all(p.is_file() for p in files.values()):
        networks = {}
        for s in species:
            weights, biases = read_weights(files[s], archs[s][0], s)
            weights[-1], biases[-1] = weights[-1] * E, biases[-1] * E  # χ: linear output, to eV/e
            networks[s] = AtomicNetwork(weights, biases, archs[s][1], settings.has("normalize_nodes"))
        for s in species:
            path = directory / f"hardness.{atomic_numbers[s]:03d}.data"
            if path.is_file():
                hardness[s] = float(path.read_text().split()[0]) * E
        model.load_electronegativity(networks, hardness)
    return model


def _per_element(settings, keyword: str, species, factor: float, default: float | None = None) -> dict:
    """``keyword <element> <value>`` lines as {element: value × factor}."""
    out = {}
    for line, value in settings.all(keyword):
        parts = value.split()
        if len(parts) != 2 or parts[0] not in species:
            raise settings.error(keyword, f"expected '<element> <value>' for one of {' '.join(species)}", line)
        out[parts[0]] = float(parts[1]) * factor
    for s in species:
        if s not in out:
            if default is None:
                raise settings.error(keyword, f"no value for {s}")
            out[s] = default
    return out


class _ElectrostaticSettings:
    """The settings seen through the ``*_electrostatic`` keywords, so that n2p2's architecture
    reader (written for ``*_short``) reads the χ networks."""

    def __init__(self, settings) -> None:
        self._s = settings
        self.path = settings.path

    def _key(self, key: str) -> str:
        return key.replace("_short", "_electrostatic")

    def get(self, key, default=None):
        return self._s.get(self._key(key), default)

    def all(self, key):
        return self._s.all(self._key(key))

    def int(self, key, value):
        return self._s.int(self._key(key), value)

    def error(self, key, message, line=None):
        return self._s.error(self._key(key), message, line) if line is not None \
            else self._s.error(self._key(key), message)
