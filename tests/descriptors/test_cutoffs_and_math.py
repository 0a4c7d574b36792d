"""Cutoff functions, the kernels' own exp, and the activation functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from potforge import _native
from potforge.descriptors.cutoffs import (CUTOFF_TYPES, cutoff_function, cutoff_second_derivative,
                                          cutoff_type_index)
from potforge.models.network import ACTIVATIONS, AtomicNetwork, activation

from .. import reference_network

SMOOTH = {  # derivatives that vanish at r_c
    "cos": 1, "tanhu": 2, "tanh": 2, "exp": 2, "poly1": 1, "poly2": 2, "poly3": 2, "poly4": 2}


@pytest.mark.parametrize("kind", [k for k in CUTOFF_TYPES if k != "hard"])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_cutoff_derivatives_and_limits(kind, alpha):
    rc = 5.0
    r = np.linspace(0.01, rc - 1e-3, 997)
    f, df = cutoff_function(r, rc, kind, alpha)
    h = 1e-4  # fourth-order central differences
    fx = {k: cutoff_function(r + k * h, rc, kind, alpha)[0] for k in (-2, -1, 1, 2)}
    numeric = (-fx[2] + 8 * fx[1] - 8 * fx[-1] + fx[-2]) / (12 * h)
    inner = np.abs(r - alpha * rc) < 3 * h  # the inner cutoff is a kink for some types
    np.testing.assert_allclose(df[~inner], numeric[~inner], rtol=1e-6, atol=1e-8)
    # f -> 0 and f' -> 0 (and f'' where the type is that smooth) at r_c
    near = np.array([rc - 1e-4])
    fn, dfn = cutoff_function(near, rc, kind, alpha)
    assert fn[0] < 1e-6 and abs(dfn[0]) < 1e-2
    if SMOOTH[kind] >= 2:
        assert abs(cutoff_second_derivative(near, rc, kind, alpha)[0]) < 1e-1
        assert abs(dfn[0]) < 1e-5
    beyond = cutoff_function(np.array([rc, rc + 0.1]), rc, kind, alpha)
    assert np.all(beyond[0] == 0) and np.all(beyond[1] == 0)
    # f(0) = 1 except for the unnormalised tanh, and 1 inside the inner cutoff
    f0 = cutoff_function(np.array([0.0]), rc, kind, alpha)[0][0]
    assert abs(f0 - (np.tanh(1) ** 3 if kind == "tanhu" else 1.0)) < 1e-12
    if alpha > 0 and kind not in ("tanh", "tanhu"):
        inside = cutoff_function(np.array([0.5 * alpha * rc]), rc, kind, alpha)
        assert inside[0][0] == 1.0 and inside[1][0] == 0.0


@pytest.mark.parametrize("kind", list(CUTOFF_TYPES))
def test_compiled_cutoffs_match_numpy(kind):
    rc, alpha = 4.5, (0.0 if kind.startswith("tanh") else 0.25)
    r = np.concatenate([np.linspace(0.0, rc + 0.5, 1001), [rc, np.nextafter(rc, 0)]])
    f, df = cutoff_function(r, rc, kind, alpha)
    g, dg = _native.cutoff(cutoff_type_index(kind), rc, alpha, r)
    np.testing.assert_allclose(g, f, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dg, df, rtol=1e-12, atol=1e-14)


def test_cutoff_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown cutoff type"):
        cutoff_function(np.ones(2), 3.0, "gauss")
    with pytest.raises(ValueError, match="alpha"):
        cutoff_function(np.ones(2), 3.0, "cos", alpha=1.0)


def test_kernel_exp_is_accurate_to_the_last_bits():
    x = np.concatenate([np.linspace(-700, 700, 200001), np.linspace(-1, 1, 100001),
                        [0.0, -0.0, 1e-300, -1e-300, 709.0]])
    ours = _native.exp(x)
    exact = np.exp(x)
    assert np.max(np.abs(ours - exact) / exact) < 5e-16


def test_activation_letters_are_n2p2s():
    assert "".join(ACTIVATIONS) == reference_network.LETTERS


@pytest.mark.parametrize("letter", list(ACTIVATIONS))
def test_activations_torch_vs_compiled_vs_numpy_vs_finite_differences(letter):
    """The one definition (torch) against the compiled kernel and an independent NumPy
    version, across the ±35 clipping of the logistic and softplus functions."""
    x = np.linspace(-40, 40, 4001)
    f, df = (t.numpy() for t in activation(letter, torch.from_numpy(x)))
    g, dg = _native.activation(ACTIVATIONS[letter], x)
    r, dr = reference_network.activation(letter, x)
    np.testing.assert_allclose(g, f, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dg, df, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r, f, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dr, df, rtol=1e-12, atol=1e-15)
    h = 1e-6
    smooth = np.abs(x) < 34 if letter in "sp" else np.ones_like(x, bool)
    if letter == "r":
        smooth &= np.abs(x) > 2 * h
    numeric = (reference_network.activation(letter, x + h)[0]
               - reference_network.activation(letter, x - h)[0]) / (2 * h)
    np.testing.assert_allclose(df[smooth], numeric[smooth], rtol=1e-5, atol=1e-6 * np.abs(f[smooth]).max())


@pytest.mark.parametrize("letter", list(ACTIVATIONS))
def test_activation_second_derivatives_are_finite_beyond_the_clipping(letter):
    """Force training differentiates the activation derivative again: no NaN may come back
    from the branches torch.where discards (exp overflow beyond ±35)."""
    z = torch.tensor([-800.0, -36.0, -35.0, 0.3, 35.0, 36.0, 800.0], dtype=torch.float64,
                     requires_grad=True)
    f, df = activation(letter, z)
    (g,) = torch.autograd.grad((f + df).sum(), z)
    assert torch.isfinite(g).all() or letter in "eg", g  # exp(−x), exp(−x²/2) are what they are


def test_network_torch_forward_matches_numpy_reference(rng):
    sizes = [6, 5, 4, 1]
    for letters, normalize in [("ttl", False), ("spl", True), ("gcS", False), ("rel", False)]:
        ws = [rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(3)]
        bs = [rng.normal(size=sizes[k + 1]) for k in range(3)]
        net = AtomicNetwork(ws, bs, letters, normalize)
        x = rng.normal(size=(9, 6)) * 3
        out, grad = net.forward(x, gradient=True)
        ref_out, ref_grad = reference_network.forward(ws, bs, letters, normalize, x)
        np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-14)


def test_network_gradient_matches_finite_differences(rng):
    sizes = [6, 5, 4, 1]
    for letters, normalize in [("ttl", False), ("spl", True), ("gcS", False)]:
        net = AtomicNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(3)],
                            [rng.normal(size=sizes[k + 1]) for k in range(3)], letters, normalize)
        x = rng.normal(size=(7, 6))
        out, grad = net.forward(x, gradient=True)
        h = 1e-6
        for q in range(6):
            e = np.zeros(6)
            e[q] = h
            numeric = (net.forward(x + e) - net.forward(x - e)) / (2 * h)
            np.testing.assert_allclose(grad[:, q], numeric, rtol=1e-6, atol=1e-9)


def test_network_rejects_bad_shapes(rng):
    with pytest.raises(ValueError, match="layer 2 takes"):
        AtomicNetwork([np.ones((3, 2)), np.ones((1, 4))], [np.ones(3), np.ones(1)], "tl")
    with pytest.raises(ValueError, match="unknown activation"):
        AtomicNetwork([np.ones((1, 2))], [np.ones(1)], "x")
