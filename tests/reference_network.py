"""An independent NumPy evaluation of n2p2's atomic networks, for tests only.

The networks' one definition is the PyTorch code of :mod:`potforge.models.network`; the
compiled kernel (``_csrc/mlp.hpp``) is the fast path. This third, plain NumPy version,
written from n2p2's definitions (``global_activation_short`` letters, clipping of the
logistic and softplus functions beyond ±35, ``normalize_nodes``), checks both.
"""

from __future__ import annotations

import numpy as np

LETTERS = "ltsprgcSeh"


def activation(letter: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and derivative of an n2p2 activation function."""
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
    raise ValueError(f"unknown activation {letter!r}")


def forward(weights, biases, activations: str, normalize: bool, x: np.ndarray):
    """Outputs (n,) and d output/d input (n, n_in) of a network given as arrays."""
    y = np.asarray(x, dtype=np.float64)
    derivs = []
    for w, b, letter in zip(weights, biases, activations):
        z = y @ w.T + b
        if normalize:
            z = z / w.shape[1]
        y, dy = activation(letter, z)
        derivs.append(dy)
    delta = derivs[-1]
    for layer in range(len(weights) - 1, -1, -1):
        w = weights[layer]
        delta = (delta * (1.0 / w.shape[1] if normalize else 1.0)) @ w
        if layer > 0:
            delta = delta * derivs[layer - 1]
    return y[:, 0], delta
