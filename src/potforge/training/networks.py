"""Atomic feed-forward networks in PyTorch for training, on one flat parameter vector.

All networks of a model share one parameter vector θ (what the Kalman filter and L-BFGS
work on, and what checkpoints store); each layer's weights and biases are views into it.
The forward pass also returns ∂output/∂input in closed form (backpropagation written out),
so that forces come from one pass and autograd differentiates the whole thing once more for
∂loss/∂θ. Activation letters and ``normalize`` follow n2p2 (see
:mod:`potforge.models.hdnnp.network`); conversion to and from
:class:`~potforge.models.hdnnp.network.AtomicNetwork` is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..models.hdnnp.network import ACTIVATIONS, AtomicNetwork

__all__ = ["activation", "NetworkLayout", "network_forward", "ACTIVATION_NAMES", "initial_parameters"]

#: Long names accepted in configs for n2p2's activation letters.
ACTIVATION_NAMES = {"linear": "l", "tanh": "t", "sigmoid": "s", "softplus": "p", "relu": "r",
                    "gaussian": "g", "cos": "c", "sigmoid_complement": "S", "exp": "e",
                    "square": "h"}


def activation(letter: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Value and derivative of an activation (differentiable again by autograd)."""
    if letter == "l":
        return z, torch.ones_like(z)
    if letter == "t":
        f = torch.tanh(z)
        return f, 1 - f * f
    if letter == "s":
        f = torch.sigmoid(z)
        return f, f * (1 - f)
    if letter == "p":
        return torch.nn.functional.softplus(z), torch.sigmoid(z)
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
        self.is_weight = []
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


def network_forward(layers: list[tuple[torch.Tensor, torch.Tensor]], activations: str,
                    x: torch.Tensor, *, normalize: bool = False,
                    gradient: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Outputs (n,) of one network for inputs (n, n_in), and ∂output/∂input (n, n_in).

    The gradient is backpropagation written out with the activation derivatives, so autograd
    can differentiate it with respect to the parameters (force training).
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
