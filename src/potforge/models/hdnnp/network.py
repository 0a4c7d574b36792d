"""Atomic feed-forward networks of Behler-Parrinello potentials (NumPy reference evaluation).

Activation letters are n2p2's (``global_activation_short``), one per layer after the input:

==== ============================ =============================
l    x                            linear (output layer as a rule)
t    tanh x
s    1/(1 + e^{−x})               clipped to 0/1 for |x| > 35 (n2p2)
p    ln(1 + e^x)                  x for x > 35, 0 for x < −35 (n2p2)
r    max(0, x)
g    exp(−x²/2)
c    cos x
S    1 − 1/(1 + e^{−x})
e    exp(−x)
h    x²
==== ============================ =============================

With ``normalize`` (n2p2 ``normalize_nodes``) every layer's pre-activation is divided by the
number of its inputs, bias included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ACTIVATIONS", "AtomicNetwork", "activation"]

#: Activation letter -> code used by the compiled kernel.
ACTIVATIONS: dict[str, int] = {"l": 0, "t": 1, "s": 2, "p": 3, "r": 4, "g": 5, "c": 6, "S": 7,
                               "e": 8, "h": 9}


def activation(letter: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and derivative of an activation function (letters in the module docstring)."""
    if letter == "l":
        return x, np.ones_like(x)
    if letter == "t":
        f = np.tanh(x)
        return f, 1 - f * f
    if letter == "s":
        with np.errstate(over="ignore"):
            f = 1 / (1 + np.exp(-x))
        f = np.where(x > 35, 1.0, np.where(x < -35, 0.0, f))
        df = np.where(np.abs(x) > 35, 0.0, f * (1 - f))
        return f, df
    if letter == "p":
        with np.errstate(over="ignore"):
            f = np.where(x > 35, x, np.where(x < -35, 0.0, np.log1p(np.exp(np.minimum(x, 35)))))
            df = np.where(x > 35, 1.0, np.where(x < -35, 0.0, 1 / (1 + np.exp(-np.maximum(x, -35)))))
        return f, df
    if letter == "r":
        return np.maximum(x, 0), (x > 0).astype(x.dtype)
    if letter == "g":
        f = np.exp(-0.5 * x * x)
        return f, -x * f
    if letter == "c":
        return np.cos(x), -np.sin(x)
    if letter == "S":
        s = 1 / (1 + np.exp(-x))
        return 1 - s, s * (s - 1)
    if letter == "e":
        f = np.exp(-x)
        return f, -f
    if letter == "h":
        return x * x, 2 * x
    raise ValueError(f"unknown activation {letter!r}; expected one of {''.join(ACTIVATIONS)}")


@dataclass
class AtomicNetwork:
    """A dense network R^n -> R: ``weights[l]`` has shape (n_out, n_in), ``biases[l]`` (n_out,).

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
            if w.ndim != 2 or b.shape != (w.shape[0],):
                raise ValueError(f"layer {k + 1}: weights {w.shape} and biases {b.shape} do not fit")
            if k and w.shape[1] != self.weights[k - 1].shape[0]:
                raise ValueError(f"layer {k + 1} takes {w.shape[1]} inputs but layer {k} has "
                                 f"{self.weights[k - 1].shape[0]} outputs")
        if self.weights[-1].shape[0] != 1:
            raise ValueError("the output layer must have one neuron")

    @property
    def architecture(self) -> tuple[int, ...]:
        """Layer sizes from input to output, e.g. (27, 25, 25, 1)."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    @property
    def n_parameters(self) -> int:
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases))

    def forward(self, x: np.ndarray, *, gradient: bool = False):
        """Outputs (n,) for inputs (n, n_in); with ``gradient`` also d output/d input (n, n_in)."""
        y = np.asarray(x, dtype=np.float64)
        derivs = []
        for w, b, letter in zip(self.weights, self.biases, self.activations):
            z = y @ w.T + b
            if self.normalize:
                z = z / w.shape[1]
            y, dy = activation(letter, z)
            derivs.append(dy)
        out = y[:, 0]
        if not gradient:
            return out
        delta = derivs[-1]  # (n, 1)
        for layer in range(len(self.weights) - 1, -1, -1):
            w = self.weights[layer]
            scale = 1.0 / w.shape[1] if self.normalize else 1.0
            delta = (delta * scale) @ w
            if layer > 0:
                delta = delta * derivs[layer - 1]
        return out, delta

    def kernel_spec(self) -> tuple[list[np.ndarray], list[np.ndarray], list[int], bool]:
        """The tuple the compiled HDNNP kernel takes."""
        return (self.weights, self.biases, [ACTIVATIONS[a] for a in self.activations], self.normalize)
