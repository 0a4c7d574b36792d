"""Atomic feed-forward networks of Behler–Parrinello potentials: the one definition.

This PyTorch code is the truth for every network family (2G HDNNP, 1G molecular networks,
and the charge generations after them): training differentiates it, the 1G model predicts
with it, and the compiled HDNNP kernel (``_csrc/mlp.hpp``, the fast path) is checked against
it in the tests.

Activation letters are n2p2's (``global_activation_short``), one per layer after the input;
where n2p2 clips, so does this code (and the compiled kernel):

==== ============================ =============================
l    x                            linear (output layer as a rule)
t    tanh x
s    1/(1 + e^{−x})               1 above x = 35, 0 below −35 (n2p2)
p    ln(1 + e^x)                  x above 35, 0 below −35 (n2p2)
r    max(0, x)
g    exp(−x²/2)
c    cos x
S    1 − 1/(1 + e^{−x})
e    exp(−x)
h    x²
==== ============================ =============================

With ``normalize`` (n2p2 ``normalize_nodes``) every layer's pre-activation is divided by the
number of its inputs, bias included. A network's weights and biases are views into one flat
parameter vector θ shared by all networks of a model (what the Kalman filter and L-BFGS
update and what checkpoints store, see :class:`NetworkLayout`); the forward pass also returns
∂output/∂input in closed form (backpropagation written out), so that forces come from one
pass and autograd differentiates the whole once more for ∂loss/∂θ. A saved model holds its
networks as :class:`AtomicNetwork` arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import ConfigError
from ..core.lazy import torch

__all__ = ["ACTIVATIONS", "ACTIVATION_NAMES", "activation", "check_activation", "network_forward",
           "network_parameter_jacobian", "NetworkLayout", "initial_parameters", "AtomicNetwork",
           "MAX_PARAMETER"]

#: Activation letter -> code of the compiled kernel (``_csrc/mlp.hpp``).
ACTIVATIONS: dict[str, int] = {"l": 0, "t": 1, "s": 2, "p": 3, "r": 4, "g": 5, "c": 6, "S": 7,
                               "e": 8, "h": 9}
#: Long names accepted in configs for the letters.
ACTIVATION_NAMES = {"linear": "l", "tanh": "t", "sigmoid": "s", "softplus": "p", "relu": "r",
                    "gaussian": "g", "cos": "c", "sigmoid_complement": "S", "exp": "e",
                    "square": "h"}
#: n2p2 switches the logistic and softplus functions to their limits beyond ±35
_CLIP = 35.0
#: Largest |weight| or |bias| a model may hold. Trained networks stay below ~1e2 (n2p2's
#: published models: 43 at most); a parameter beyond 1e6 is a corrupted file or a diverged fit.
MAX_PARAMETER = 1.0e6


def activation(letter: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Value and derivative of an activation (both differentiable again by autograd).

    The clipped branches evaluate their functions on z clamped to ±35, so that no inf or NaN
    reaches a gradient through the branch that ``torch.where`` discards.
    """
    if letter == "l":
        return z, torch.ones_like(z)
    if letter == "t":
        f = torch.tanh(z)
        return f, 1 - f * f
    if letter == "s":
        inside = z.abs() <= _CLIP
        f = torch.sigmoid(z.clamp(-_CLIP, _CLIP))
        return (torch.where(inside, f, (z > 0).to(z.dtype)),
                torch.where(inside, f * (1 - f), torch.zeros_like(z)))
    if letter == "p":
        zc = z.clamp(-_CLIP, _CLIP)
        f = torch.log1p(torch.exp(zc))
        df = torch.sigmoid(zc)
        return (torch.where(z > _CLIP, z, torch.where(z < -_CLIP, torch.zeros_like(z), f)),
                torch.where(z > _CLIP, torch.ones_like(z), torch.where(z < -_CLIP, torch.zeros_like(z), df)))
    if letter == "r":
        return torch.relu(z), (z > 0).to(z.dtype)
    if letter == "g":
        f = torch.exp(-0.5 * z * z)
        return f, -z * f
    if letter == "c":
        return torch.cos(z), -torch.sin(z)
    if letter == "S":
        s = torch.sigmoid(z)
        return 1 - s, s * (s - 1)
    if letter == "e":
        f = torch.exp(-z)
        return f, -f
    if letter == "h":
        return z * z, 2 * z
    raise ValueError(f"unknown activation {letter!r}; expected one of {''.join(ACTIVATIONS)}")


def check_activation(letter: str, key: str) -> None:
    """ConfigError naming ``key`` unless ``letter`` is one of n2p2's activation letters."""
    if len(letter) != 1 or letter not in ACTIVATIONS:
        raise ConfigError(f"{key}: {letter!r} is not an n2p2 activation letter; expected one of "
                          f"{', '.join(ACTIVATIONS)} (t tanh, s logistic, p softplus, r ReLU, ...)")


def network_forward(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], activations: str,
                    x: torch.Tensor, *, normalize: bool = False,
                    gradient: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Outputs (n,) of one network for inputs (n, n_in), and ∂output/∂input (n, n_in).

    ``layers`` are (weights (n_out, n_in), biases (n_out,)) from input to output. The gradient
    is backpropagation written out with the activation derivatives, so autograd can
    differentiate it with respect to the parameters (force training).
    """
    y = x
    derivs = []
    for (w, b), letter in zip(layers, activations):
        z = torch.addmm(b, y, w.t()) if not normalize else (y @ w.t() + b) / w.shape[1]
        y, dy = activation(letter, z)
        derivs.append(dy)
    out = y[:, 0]
    if not gradient:
        return out, None
    delta = derivs[-1]
    for k in range(len(layers) - 1, -1, -1):
        w = layers[k][0]
        if normalize:
            delta = delta / w.shape[1]
        delta = delta @ w
        if k > 0:
            delta = delta * derivs[k - 1]
    return out, delta


def network_parameter_jacobian(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], activations: str,
                               x: torch.Tensor, *, normalize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs (n,) of one network and their Jacobian (n, n_parameters) with respect to its
    parameters in :class:`NetworkLayout` order (per layer the weights row-major, then the
    biases), in closed form: per sample, ∂out/∂W_l = δ_l ⊗ y_{l-1} and ∂out/∂b_l = δ_l
    (divided by the fan-in with ``normalize``), δ backpropagated from the output. No autograd
    graph: a Kalman filter's measurement Jacobian at the cost of two passes."""
    inputs, derivs = [], []
    y = x
    for (w, b), letter in zip(layers, activations):
        inputs.append(y)
        z = torch.addmm(b, y, w.t()) if not normalize else (y @ w.t() + b) / w.shape[1]
        y, dy = activation(letter, z)
        derivs.append(dy)
    n = x.shape[0]
    blocks = []
    delta = derivs[-1]
    for k in range(len(layers) - 1, -1, -1):
        w = layers[k][0]
        if normalize:
            delta = delta / w.shape[1]
        blocks.append(delta)                                                       # biases
        blocks.append((delta.unsqueeze(2) * inputs[k].unsqueeze(1)).reshape(n, -1))  # weights
        if k > 0:
            delta = (delta @ w) * derivs[k - 1]
    return y[:, 0], torch.cat(blocks[::-1], 1)


@dataclass
class AtomicNetwork:
    """A dense network R^n -> R as arrays: ``weights[l]`` (n_out, n_in), ``biases[l]`` (n_out,).

    Parameters
    ----------
    weights, biases : sequences of arrays
    activations : str
        One letter per layer (hidden layers and output).
    normalize : bool
        n2p2 ``normalize_nodes``.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: str
    normalize: bool = False

    def __post_init__(self) -> None:
        self.weights = [np.asarray(w, dtype=np.float64) for w in self.weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in self.biases]
        if not (len(self.weights) == len(self.biases) == len(self.activations)) or not self.weights:
            raise ValueError(f"{len(self.weights)} weight matrices, {len(self.biases)} bias vectors and "
                             f"{len(self.activations)} activations do not match")
        for k, letter in enumerate(self.activations):
            if letter not in ACTIVATIONS:
                raise ValueError(f"layer {k + 1}: unknown activation {letter!r}; expected one of "
                                 f"{''.join(ACTIVATIONS)}")
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or b.shape != (w.shape[0],) or w.size == 0:
                raise ValueError(f"layer {k + 1}: weights {w.shape} and biases {b.shape} do not fit")
            for what, a in (("weight", w), ("bias", b)):
                bad = np.argwhere(~(np.abs(a) <= MAX_PARAMETER))
                if bad.size:
                    raise ValueError(f"layer {k + 1}: {what} {tuple(int(i) for i in bad[0])} is "
                                     f"{a[tuple(bad[0])]!r}, expected a finite number within "
                                     f"±{MAX_PARAMETER:g}")
            if k and w.shape[1] != self.weights[k - 1].shape[0]:
                raise ValueError(f"layer {k + 1} takes {w.shape[1]} inputs but layer {k} has "
                                 f"{self.weights[k - 1].shape[0]} outputs")
        if self.weights[-1].shape[0] != 1:
            raise ValueError("the output layer must have one neuron")
        self._tensors: dict[torch.dtype, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    @property
    def architecture(self) -> tuple[int, ...]:
        """Layer sizes from input to output, e.g. (27, 25, 25, 1)."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    @property
    def n_parameters(self) -> int:
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases))

    def layers(self, dtype: torch.dtype | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The layers as tensors (float64 unless ``dtype``; cached per dtype, so the arrays must
        not change afterwards)."""
        dtype = torch.float64 if dtype is None else dtype
        if dtype not in self._tensors:
            self._tensors[dtype] = [(torch.from_numpy(w).to(dtype), torch.from_numpy(b).to(dtype))
                                    for w, b in zip(self.weights, self.biases)]
        return self._tensors[dtype]

    def forward(self, x: np.ndarray, *, gradient: bool = False, dtype: str = "float64"):
        """Outputs (n,) for inputs (n, n_in); with ``gradient`` also d output/d input (n, n_in),
        as float64 arrays, computed by :func:`network_forward` in ``dtype``."""
        tdtype = torch.float32 if dtype == "float32" else torch.float64
        with torch.no_grad():
            out, grad = network_forward(self.layers(tdtype), self.activations,
                                        torch.as_tensor(np.asarray(x), dtype=tdtype),
                                        normalize=self.normalize, gradient=gradient)
        out = out.to(torch.float64).numpy()
        return (out, grad.to(torch.float64).numpy()) if gradient else out

    def kernel_spec(self) -> tuple[list[np.ndarray], list[np.ndarray], list[int], bool]:
        """The tuple the compiled HDNNP kernel takes."""
        return (self.weights, self.biases, [ACTIVATIONS[a] for a in self.activations], self.normalize)


class NetworkLayout:
    """Where each network's weights and biases sit in the flat parameter vector.

    Parameters
    ----------
    architectures : sequence of tuples
        Layer sizes from input to output per network, e.g. ``[(27, 8, 8, 1)]``.
    activations : sequence of str
        One letter per layer after the input, per network.
    normalize : bool
        n2p2 ``normalize_nodes`` (pre-activations divided by the fan-in).
    """

    def __init__(self, architectures: Sequence[Sequence[int]], activations: Sequence[str],
                 normalize: bool = False) -> None:
        self.architectures = [tuple(int(n) for n in a) for a in architectures]
        self.activations = list(activations)
        self.normalize = bool(normalize)
        self.slices: list[list[tuple[slice, tuple[int, int], slice]]] = []
        self.is_weight: list[bool] = []
        offset = 0
        for arch, acts in zip(self.architectures, self.activations):
            if len(acts) != len(arch) - 1:
                raise ValueError(f"architecture {arch} needs {len(arch) - 1} activations, got {acts!r}")
            if arch[-1] != 1:
                raise ValueError(f"architecture {arch}: the output layer must have one neuron")
            layers = []
            for n_in, n_out in zip(arch[:-1], arch[1:]):
                w = slice(offset, offset + n_in * n_out)
                offset += n_in * n_out
                b = slice(offset, offset + n_out)
                offset += n_out
                layers.append((w, (n_out, n_in), b))
                self.is_weight += [True] * (n_in * n_out) + [False] * n_out
            self.slices.append(layers)
        self.n_parameters = offset
        self.weight_mask = torch.tensor(self.is_weight, dtype=torch.bool)

    def layers(self, theta: torch.Tensor, network: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(theta[w].view(shape), theta[b]) for w, shape, b in self.slices[network]]

    def to_atomic_networks(self, theta: np.ndarray | torch.Tensor) -> list[AtomicNetwork]:
        theta = torch.as_tensor(theta).detach().to(torch.float64)
        nets = []
        for k, acts in enumerate(self.activations):
            layers = self.layers(theta, k)
            nets.append(AtomicNetwork([w.numpy().copy() for w, _ in layers],
                                      [b.numpy().copy() for _, b in layers], acts, self.normalize))
        return nets

    def from_atomic_networks(self, networks: Sequence[AtomicNetwork]) -> torch.Tensor:
        theta = torch.zeros(self.n_parameters, dtype=torch.float64)
        for k, net in enumerate(networks):
            if net.architecture != self.architectures[k] or net.activations != self.activations[k]:
                raise ValueError(f"network {k}: {net.architecture}/{net.activations} does not match "
                                 f"{self.architectures[k]}/{self.activations[k]}")
            for (w, shape, b), wv, bv in zip(self.slices[k], net.weights, net.biases):
                theta[w] = torch.from_numpy(np.asarray(wv, dtype=np.float64)).reshape(-1)
                theta[b] = torch.from_numpy(np.asarray(bv, dtype=np.float64))
        return theta


def initial_parameters(layout: NetworkLayout, generator: torch.Generator, *,
                       scheme: str = "glorot", bounds: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Random initial parameters.

    ``glorot``: weights uniform in ±√(6/(n_in + n_out)) (Glorot & Bengio 2010), biases 0, so
    that tanh layers start in their linear range whatever the layer sizes. ``uniform``: all
    weights and biases uniform in ``bounds`` (n2p2's ``weights_min``/``weights_max``).
    """
    theta = torch.zeros(layout.n_parameters, dtype=torch.float64)
    for layers in layout.slices:
        for w, (n_out, n_in), b in layers:
            if scheme == "glorot":
                limit = math.sqrt(6.0 / (n_in + n_out))
                theta[w] = (torch.rand(n_in * n_out, generator=generator, dtype=torch.float64) * 2 - 1) * limit
            elif scheme == "uniform":
                lo, hi = bounds
                theta[w] = lo + (hi - lo) * torch.rand(n_in * n_out, generator=generator, dtype=torch.float64)
                theta[b] = lo + (hi - lo) * torch.rand(n_out, generator=generator, dtype=torch.float64)
            else:
                raise ValueError(f"unknown initialisation {scheme!r}; expected 'glorot' or 'uniform'")
    return theta
