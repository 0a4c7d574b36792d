"""4G HDNNPs in training form, stage 1: electronegativity networks and hardness fitted to
reference charges by differentiable charge equilibration (Ko et al., Nat. Commun. 12, 398
(2021); n2p2's first 4G training stage).

Per frame, with scaled symmetry functions G_i (n2p2's scaling), per-element Gaussian widths
σ_e (n2p2 ``fixed_gausswidth``, fixed) and hardness J_e (trained),

    χ_i = NN^χ_{Z_i}(a ⊙ G_i + b),
    [A + diag(J)  1] [q]   [−χ]
    [1ᵀ           0] [μ] = [ Q ],

where A is the Gaussian-charge Coulomb matrix of the frame,
:meth:`potforge.electrostatics.GaussianCoulomb.matrix` built by the model's
:class:`~.settings.ElectrostaticSettings` exactly as :class:`~.potential4g.HDNNP4G` builds it
(open boundaries or Ewald for periodic cells, n2p2's or potforge's Ewald parameters and
convention), and Q the frame's total charge
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

from ...core.errors import ConfigError, StructureError
from ...core.lazy import torch
from ...data.frame import Frame
from ...descriptors.cache import DescriptorBatch, DescriptorCache
from ...descriptors.scaling import SymmetryFunctionScaling
from ...descriptors.symmetry_functions import SymmetryFunctionSet
from ..network import initial_parameters, network_parameter_jacobian
from ..trainable import ModelOutput
from .settings import ElectrostaticSettings
from .stage1 import ChargeNetworkStage

__all__ = ["TrainableHDNNP4GCharges", "ChargeData", "frame_coulomb", "qeq_dense"]


def frame_coulomb(frame: Frame, sigma: np.ndarray, electrostatics: ElectrostaticSettings, name: str, *,
                  strain: bool = False):
    """The :class:`~potforge.electrostatics.GaussianCoulomb` of one frame (dense method), built
    by ``electrostatics`` exactly as :class:`HDNNP4G` builds it for a prediction (same widths,
    Ewald parameters, screening and convention), so that training and prediction agree.

    Returns (coulomb, positions, strain): positions (n, 3) a leaf tensor that requires grad,
    strain (3, 3) a zero leaf tensor that requires grad when ``strain`` and the frame is periodic
    (positions and cell deformed by 1 + ε), else None."""
    atoms = frame.atoms
    periodic = bool(np.all(atoms.pbc))
    if np.any(atoms.pbc) and not periodic:
        raise StructureError(f"{name}: pbc {atoms.pbc.tolist()}: charge models need a cell periodic "
                             "in all three directions or none (Ewald summation)")
    positions = torch.tensor(atoms.positions, dtype=torch.float64, requires_grad=True)
    cell = torch.tensor(np.asarray(atoms.cell), dtype=torch.float64)
    eps, pos, cel = None, positions, cell
    if strain and periodic:
        eps = torch.zeros((3, 3), dtype=torch.float64, requires_grad=True)
        deform = torch.eye(3, dtype=torch.float64) + eps
        pos, cel = positions @ deform.T, cell @ deform.T
    try:
        coulomb = electrostatics.coulomb(pos, cel, periodic, torch.as_tensor(sigma, dtype=torch.float64),
                                         method="dense", elements=atoms.get_chemical_symbols())
    except StructureError as err:
        raise StructureError(f"{name}: {err.reason}") from None
    return coulomb, positions, eps



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
        self.frame_inputs: dict[int, tuple] = {}  # per frame, filled by the Kalman updates


class TrainableHDNNP4GCharges(ChargeNetworkStage):
    """Stage 1 of a 4G HDNNP: electronegativity networks χ and per-element hardness J.

    Parameters
    ----------
    symmetry_functions, scaling
        As for the 2G model (the χ networks read the same scaled functions).
    hidden, activations : mapping element -> sizes / n2p2 letters (one per layer and output)
    gaussian_width : mapping element -> float, Å (n2p2 ``fixed_gausswidth``)
    electrostatics : ElectrostaticSettings, optional
        Widths (must equal ``gaussian_width``), screening, Ewald settings and convention of the
        Coulomb operator; default: potforge's own Ewald settings with these widths.
    hardness : mapping element -> float, eV/e² (initial J; n2p2 ``initial_hardness``)
    normalize : bool (n2p2 ``normalize_nodes``)
    dtype : {"float64", "float32"}
    output_fit : {"epoch", "start", "none"}
        potforge's closed-form part of stage 1 (:meth:`initial_fit`, :meth:`epoch_fit`, run by
        the trainer): the χ output layers by ridge least squares on the training charges before
        the first epoch (``start``) and again after every epoch (``epoch``, the default); ``none``:
        the optimizer alone (n2p2).
    initial_ridge : float (relative ridge of that fit)

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
                 normalize: bool = False, dtype: str = "float64", n_threads: int = 1,
                 electrostatics: ElectrostaticSettings | None = None, output_fit: str = "epoch",
                 initial_ridge: float = 1e-6) -> None:
        if output_fit not in ("start", "epoch", "none"):
            raise ConfigError(f"model.output_fit: {output_fit!r} is not one of start, epoch, none")
        if not (math.isfinite(initial_ridge) and initial_ridge >= 0):
            raise ConfigError(f"model.initial_ridge: expected a finite value >= 0, got {initial_ridge!r}")
        self.output_fit = output_fit
        self.initial_ridge = float(initial_ridge)
        self._loaded = False
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
        if electrostatics is None:
            electrostatics = ElectrostaticSettings(dict(self.gaussian_width))
        elif any(electrostatics.widths.get(s) != w for s, w in self.gaussian_width.items()):
            raise ConfigError(f"model.gaussian_width: {self.gaussian_width} differs from the "
                              f"electrostatic settings' widths {dict(electrostatics.widths)}")
        self.electrostatics = electrostatics
        self._set_networks(hidden, activations, normalize, dtype, n_threads)
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
        self._loaded = False
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
            widths = sigma[element[offsets[k]:offsets[k + 1]]]
            coulomb, _, _ = frame_coulomb(frame, widths, self.electrostatics, cache.labels.names[k])
            matrices.append(coulomb.matrix().detach())
        return ChargeData(cache, matrices)

    def batch(self, data: ChargeData, frames: torch.Tensor | None, *,
              derivatives: bool = False) -> DescriptorBatch:
        batch = data.cache.batch(frames, derivatives=False)
        batch.coulomb = [data.matrices[int(f)] for f in batch.frames]
        return batch

    # -- evaluation -------------------------------------------------------------------------
    def electronegativities(self, theta: torch.Tensor, element: torch.Tensor,
                            values: torch.Tensor) -> torch.Tensor:
        """χ (n,) eV/e of atoms with raw symmetry functions ``values`` (n, n_max)."""
        return self._network_outputs(theta, element, values)

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

    def _frame_inputs(self, data: ChargeData, frame: int) -> tuple:
        """(element (n,), [(species index, atom indices, scaled inputs)], A, Q) of one frame,
        gathered once."""
        got = data.frame_inputs.get(frame)
        if got is None:
            lab = data.labels
            a, b = int(lab.atom_offsets[frame]), int(lab.atom_offsets[frame + 1])
            element = lab.element[a:b]
            values = data.cache.values[a:b]
            groups = []
            for e in range(len(self.species)):
                idx = torch.nonzero(element == e).squeeze(1)
                if idx.numel():
                    sc, sh = self._affine[e]
                    groups.append((e, idx, values[idx, :self.n_functions[e]].to(torch.float64) * sc + sh))
            got = (element, groups, data.matrices[frame], float(lab.total_charge[frame]))
            data.frame_inputs[frame] = got
        return got

    def charge_jacobian(self, data: ChargeData, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Charges q (n,) of one frame and ∂q/∂θ (n, n_parameters) in closed form: with
        K = [[A + diag(J), 1], [1ᵀ, 0]], K [dq; dμ] = [−dχ − q ∘ dJ; 0], so
        ∂q/∂θ = −(K⁻¹)_{:n} [∂χ/∂θ + q ∘ ∂J/∂θ; 0]: the χ networks' per-atom parameter
        Jacobians (:func:`~potforge.models.network.network_parameter_jacobian`) and one LU of
        the (n+1)² bordered matrix, no autograd graph."""
        element, groups, matrix, total = self._frame_inputs(data, frame)
        n = element.shape[0]
        n_net = self.layout.n_parameters
        with torch.no_grad():
            theta = self.theta.detach()
            rhs = torch.zeros((n + 1, theta.shape[0] + 1), dtype=torch.float64)
            for e, idx, x in groups:
                layers = self.layout.layers(theta, e)
                out, jac = network_parameter_jacobian(layers, self.activations[self.species[e]], x,
                                                      normalize=self.normalize)
                start, stop = self.layout.slices[e][0][0].start, self.layout.slices[e][-1][2].stop
                rhs[idx, -1] = -out
                rhs[idx.unsqueeze(1), torch.arange(start, stop)] = jac
            rhs[n, -1] = total
            k = torch.ones((n + 1, n + 1), dtype=torch.float64)
            k[:n, :n] = matrix + torch.diag(theta[n_net:][element])
            k[n, n] = 0.0
            lu = torch.linalg.lu_factor(k)
            q = torch.linalg.lu_solve(*lu, rhs[:, -1:])[:n, 0]
            rhs[torch.arange(n), n_net + element] = q
            jac = -torch.linalg.lu_solve(*lu, rhs[:, :-1])[:n]
        return q, jac

    def output_layer_columns(self) -> torch.Tensor:
        """Indices into theta of every χ network's output-layer weights and bias."""
        return torch.cat([torch.arange(layers[-1][0].start, layers[-1][2].stop)
                          for layers in self.layout.slices])

    def output_layer_jacobian(self, data: ChargeData, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Charges q (n,) of one frame and ∂q/∂θ_o (n, m) with respect to the output layers
        only (columns of :meth:`output_layer_columns`): the hidden layers' last activations y
        give ∂χ_i/∂(w_o, b_o) = f'(z_i) [y_i, 1] (over the fan-in with ``normalize``), and
        ∂q/∂θ_o = −(K⁻¹)_{:n,:n} ∂χ/∂θ_o (one LU of the bordered matrix, as
        :meth:`charge_jacobian` but without the hidden layers' Jacobians)."""
        from ..network import activation

        element, groups, matrix, total = self._frame_inputs(data, frame)
        n = element.shape[0]
        with torch.no_grad():
            theta = self.theta.detach()
            sizes = [layers[-1][2].stop - layers[-1][0].start for layers in self.layout.slices]
            starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
            rhs = torch.zeros((n + 1, starts[-1] + 1), dtype=torch.float64)
            for e, idx, x in groups:
                layers = self.layout.layers(theta, e)
                y = x
                letters = self.activations[self.species[e]]
                for (w, b), letter in zip(layers, letters):
                    z = torch.addmm(b, y, w.t()) if not self.normalize else (y @ w.t() + b) / w.shape[1]
                    last, (y, dy) = y, activation(letter, z)
                scale = dy[:, :1]
                if self.normalize:
                    scale = scale / last.shape[1]
                rhs[idx, -1] = -y[:, 0]
                rhs[idx.unsqueeze(1), torch.arange(starts[e], starts[e + 1])] = \
                    torch.cat([last, torch.ones((last.shape[0], 1), dtype=torch.float64)], 1) * scale
            rhs[n, -1] = total
            k = torch.ones((n + 1, n + 1), dtype=torch.float64)
            k[:n, :n] = matrix + torch.diag(theta[self.layout.n_parameters:][element])
            k[n, n] = 0.0
            sol = torch.linalg.solve(k, rhs)[:n]
        return sol[:, -1], -sol[:, :-1]

    def initial_fit(self, data: ChargeData, log: Callable[[str], None] | None = None) -> float | None:
        """potforge's data-driven start of stage 1 (``output_fit: start`` or ``epoch``;
        ``none`` skips it): the χ networks' output layers by ridge linear least squares on the
        reference charges of the training frames, before the first epoch.

        With the hidden layers and J fixed, χ is linear in the output layer θ_o (linear output
        neuron) and the QEq charges q = −(K⁻¹)_{:n}[χ; −Q] are linear in χ, so q(θ_o + Δ) =
        q + (∂q/∂θ_o) Δ exactly; Δ minimises Σ_frames ‖q_ref − q − (∂q/∂θ_o) Δ‖² +
        λ ‖Δ‖² (λ = ``initial_ridge`` × the mean diagonal of the normal matrix: a uniform shift
        of every χ leaves q unchanged, the ridge picks the smallest step). One
        :meth:`charge_jacobian` per frame and one small solve: deterministic, cheaper than an
        epoch. The step is kept only when the training charge RMSE falls (it always does for a
        linear output neuron). Returns the new RMSE (e), or None when nothing was fitted."""
        if self.output_fit == "none" or self._loaded:
            return None  # off, or a pre-trained stage 1 (load_electronegativity) is kept as given
        return self._fit_output_layer(data, log)

    def _output_features(self, data: ChargeData) -> tuple[torch.Tensor, torch.Tensor]:
        """χ (N,) of every atom of ``data`` and ∂χ/∂θ_o (N, m) (one forward per element)."""
        from ..network import activation

        lab = data.labels
        theta = self.theta.detach()
        sizes = [layers[-1][2].stop - layers[-1][0].start for layers in self.layout.slices]
        starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        chi = torch.zeros(lab.element.shape[0], dtype=torch.float64)
        feats = torch.zeros((lab.element.shape[0], starts[-1]), dtype=torch.float64)
        for e, sym in enumerate(self.species):
            idx = torch.nonzero(lab.element == e).squeeze(1)
            if idx.numel() == 0:
                continue
            sc, sh = self._affine[e]
            y = data.cache.values[idx, :self.n_functions[e]].to(torch.float64) * sc + sh
            for (w, b), letter in zip(self.layout.layers(theta, e), self.activations[sym]):
                z = torch.addmm(b, y, w.t()) if not self.normalize else (y @ w.t() + b) / w.shape[1]
                last, (y, dy) = y, activation(letter, z)
            scale = dy[:, :1] / (last.shape[1] if self.normalize else 1)
            chi[idx] = y[:, 0]
            feats[idx, starts[e]:starts[e + 1]] = torch.cat([last, torch.ones_like(last[:, :1])], 1) * scale
        return chi, feats

    def _output_layer_system(self, data: ChargeData):
        """Normal equations of the output-layer least squares over the frames with reference
        charges: (gram (m, m), rhs (m,), sse e², atom count); frames of one size solved as one
        batch of bordered systems."""
        lab = data.labels
        with torch.no_grad():
            chi, feats = self._output_features(data)
            hardness = self.theta.detach()[self.layout.n_parameters:]
            m = feats.shape[1]
            gram = torch.zeros((m, m), dtype=torch.float64)
            rhs = torch.zeros(m, dtype=torch.float64)
            sse, count = 0.0, 0
            n_atoms = lab.n_atoms
            by_size: dict[int, list[int]] = {}
            for f in range(len(n_atoms)):
                a, b = int(lab.atom_offsets[f]), int(lab.atom_offsets[f + 1])
                if b > a and not bool(torch.isnan(lab.charges[a:b]).any()):
                    by_size.setdefault(b - a, []).append(f)
            for n, frames in by_size.items():
                atoms = lab.atom_offsets[frames].unsqueeze(1) + torch.arange(n)      # (B, n)
                k = torch.ones((len(frames), n + 1, n + 1), dtype=torch.float64)
                k[:, :n, :n] = torch.stack([data.matrices[f] for f in frames]) \
                    + torch.diag_embed(hardness[lab.element[atoms]])
                k[:, n, n] = 0.0
                sys_rhs = torch.zeros((len(frames), n + 1, m + 1), dtype=torch.float64)
                sys_rhs[:, :n, :m] = feats[atoms]
                sys_rhs[:, :n, m] = -chi[atoms]
                sys_rhs[:, n, m] = lab.total_charge[frames].to(torch.float64)
                sol = torch.linalg.solve(k, sys_rhs)[:, :n]
                jo = -sol[..., :m].reshape(-1, m)
                r = (lab.charges[atoms].to(torch.float64) - sol[..., m]).reshape(-1)
                gram += jo.T @ jo
                rhs += jo.T @ r
                sse += float(r @ r)
                count += r.numel()
        return gram, rhs, sse, count

    def _fit_output_layer(self, data: ChargeData, log: Callable[[str], None] | None) -> float | None:
        cols = self.output_layer_columns()
        m = cols.numel()
        gram, rhs, sse, count = self._output_layer_system(data)
        if not count:
            return None
        lam = self.initial_ridge * float(gram.diagonal().mean()) + 1e-300
        step = torch.linalg.solve(gram + lam * torch.eye(m, dtype=torch.float64), rhs)
        before = self.theta.detach().clone()
        with torch.no_grad():
            self.theta[cols] += step
            # a linear output neuron: q is affine in θ_o, the new residual is exact; else re-evaluate
            if all(self.activations[s][-1] == "l" for s in self.species):
                new = float(sse - 2 * rhs @ step + step @ gram @ step)
            else:
                new = self._output_layer_system(data)[2]
            if not new < sse:
                self.theta.copy_(before)
        old_rmse, new_rmse = math.sqrt(sse / count), math.sqrt(min(new, sse) / count)
        if log is not None:
            log(f"4G stage 1 initial fit of the χ output layers ({m} parameters, "
                f"ridge {self.initial_ridge:g}): "
                f"train charge RMSE {1000 * old_rmse:.2f} -> {1000 * new_rmse:.2f} me")
        return new_rmse

    def epoch_fit(self, data: ChargeData) -> float | None:
        """After each epoch (``output_fit: epoch``): the χ output layers refitted in closed form
        on the hidden layers the epoch left (:meth:`initial_fit`'s least squares)."""
        if self.output_fit != "epoch":
            return None
        return self._fit_output_layer(data, None)

    def predict(self, batch: DescriptorBatch, *, forces: bool = False, stress: bool = False) -> ModelOutput:
        # stage 1 has charges only: no forces or stress whatever is asked (the trainer refuses
        # a loss that fits them: ``charges_only``)
        energy = torch.full((batch.n_frames,), math.nan, dtype=torch.float64)
        return ModelOutput(energy, charges=self.charges(batch), no_energy=True)

    # -- parameters and conversion ----------------------------------------------------------
    def regularized(self) -> torch.Tensor:
        return torch.cat([self.layout.weight_mask, torch.zeros(len(self.species), dtype=torch.bool)])

    def to_potential(self, metadata: dict | None = None):
        """The stage-1 result as an :class:`~.potential4g.HDNNP4G` with zero short-range
        networks: it predicts the charges and the electrostatic energy only; stage 2 starts
        from it (``model.electronegativity_from``)."""
        from ..network import AtomicNetwork
        from ..trainable import trained_model
        from .potential4g import HDNNP4G

        with trained_model():
            nets = self.layout.to_atomic_networks(self.theta.detach()[:self.layout.n_parameters])
            short = {s: AtomicNetwork([np.zeros((1, self.n_functions[e] + 1))], [np.zeros(1)], "l",
                                      self.normalize) for e, s in enumerate(self.species)}
            return HDNNP4G(self.sfs, self.scaling, dict(zip(self.species, nets)), short,
                           {s: float(self.hardness.detach()[e]) for e, s in enumerate(self.species)},
                           self.electrostatics, n_threads=self.n_threads,
                           metadata={**(metadata or {}), "stage": 1})

    def stage1_state(self) -> dict:
        """The fitted χ networks and J (what stage 2 starts from): JSON-able."""
        nets = self.layout.to_atomic_networks(self.theta.detach()[:self.layout.n_parameters])
        return {"networks": {s: {"weights": [w.tolist() for w in n.weights],
                                 "biases": [b.tolist() for b in n.biases]}
                             for s, n in zip(self.species, nets)},
                "hardness": {s: float(self.hardness.detach()[e]) for e, s in enumerate(self.species)},
                "gaussian_width": self.gaussian_width,
                "electrostatics": self.electrostatics.to_dict()}

    def load_electronegativity(self, networks: Mapping[str, object], hardness: Mapping[str, float]) -> None:
        """Set χ networks (AtomicNetwork per element, e.g. n2p2's weightse files read as eV/e)
        and J (eV/e²): a warm start, or a pre-trained stage 1."""
        theta = self.layout.from_atomic_networks([networks[s] for s in self.species])
        self._loaded = True
        with torch.no_grad():
            self.theta[:self.layout.n_parameters] = theta
            self.theta[self.layout.n_parameters:] = torch.tensor([float(hardness[s]) for s in self.species])

    def description(self) -> dict:
        return {"kind": self.kind, "stage": self.stage, "symmetry_functions": self.sfs.to_dict(),
                "scaling": self.scaling.to_dict(), "hidden": {s: list(h) for s, h in self.hidden.items()},
                "activations": self.activations, "normalize": self.normalize,
                "gaussian_width": self.gaussian_width,
                "hardness": {s: float(self.hardness.detach()[e]) for e, s in enumerate(self.species)},
                "electrostatics": self.electrostatics.to_dict(),
                "dtype": self.dtype_name, "n_threads": self.n_threads,
                "output_fit": self.output_fit, "initial_ridge": self.initial_ridge}

    @classmethod
    def from_description(cls, d: dict) -> "TrainableHDNNP4GCharges":
        return cls(SymmetryFunctionSet.from_dict(d["symmetry_functions"]),
                   SymmetryFunctionScaling.from_dict(d["scaling"]), d["hidden"], d["activations"],
                   gaussian_width=d["gaussian_width"], hardness=d["hardness"], normalize=d["normalize"],
                   dtype=d["dtype"], n_threads=d["n_threads"], output_fit=d.get("output_fit", "epoch"),
                   initial_ridge=d.get("initial_ridge", 1e-6),
                   electrostatics=ElectrostaticSettings.from_dict(d["electrostatics"])
                   if d.get("electrostatics") else None)
