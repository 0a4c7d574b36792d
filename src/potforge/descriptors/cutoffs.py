"""Smooth cutoff functions f_c(r): every n2p2 ``cutoff_type``, with derivatives.

Pure NumPy reference implementations; the compiled kernels carry vectorised copies that the
tests check against these. With the inner cutoff r_ci = α r_c and x = (r − r_ci)/(r_c − r_ci)
(n2p2 documentation, "Cutoff functions"; Singraber et al., JCTC 15, 1827 (2019)):

=========  ==  ===================================  ================================
name       n2p2 f_c(r) for r_ci <= r < r_c          smoothness at r_c
=========  ==  ===================================  ================================
hard       0   1                                    none (f jumps to 0)
cos        1   ½ [cos(πx) + 1]                       f, f′ continuous
tanhu      2   tanh³(1 − r/r_c)                      f, f′, f″ continuous
tanh       3   coth³(1) tanh³(1 − r/r_c)             f, f′, f″ continuous; f(0) = 1
exp        4   e · exp(1/(x² − 1))                   all derivatives
poly1      5   (2x − 3)x² + 1                        f, f′
poly2      6   ((15 − 6x)x − 10)x³ + 1               f, f′, f″
poly3      7   (x(x(20x − 70) + 84) − 35)x⁴ + 1      up to f‴
poly4      8   (x(x((315 − 70x)x − 540) + 420) − 126)x⁵ + 1   up to f⁗
=========  ==  ===================================  ================================

f_c = 1 below r_ci and 0 at and beyond r_c. As in n2p2, the tanh types ignore α.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CUTOFF_TYPES", "cutoff_type_index", "check_cutoff_alpha", "cutoff_function",
           "cutoff_second_derivative",
           "core_function"]

#: n2p2 cutoff_type numbers by name.
CUTOFF_TYPES: dict[str, int] = {"hard": 0, "cos": 1, "tanhu": 2, "tanh": 3, "exp": 4,
                                "poly1": 5, "poly2": 6, "poly3": 7, "poly4": 8}
_TANH_PRE = 1.0 / np.tanh(1.0) ** 3


def cutoff_type_index(kind: str | int) -> int:
    """n2p2's number of a cutoff type given by name or number."""
    if isinstance(kind, (int, np.integer)):
        if int(kind) not in CUTOFF_TYPES.values():
            raise ValueError(f"unknown cutoff type {kind}; expected 0-8")
        return int(kind)
    try:
        return CUTOFF_TYPES[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown cutoff type {kind!r}; expected one of {', '.join(CUTOFF_TYPES)}") from None


def core_function(kind: str | int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Core functions on x in [0, 1] with f(0) = 1 and f(1) = 0 (poly1-4, exp); value and df/dx."""
    t = cutoff_type_index(kind)
    x = np.asarray(x, dtype=np.float64)
    if t == 5:
        return (2 * x - 3) * x**2 + 1, x * (6 * x - 6)
    if t == 6:
        return ((15 - 6 * x) * x - 10) * x**3 + 1, x**2 * ((60 - 30 * x) * x - 30)
    if t == 7:
        return ((x * (x * (20 * x - 70) + 84) - 35) * x**4 + 1,
                x**3 * (x * (x * (140 * x - 420) + 420) - 140))
    if t == 8:
        return ((x * (x * ((315 - 70 * x) * x - 540) + 420) - 126) * x**5 + 1,
                x**4 * (x * (x * ((2520 - 630 * x) * x - 3780) + 2520) - 630))
    if t == 4:
        xc = np.minimum(x, 1 - 1e-9)
        q = xc**2 - 1
        f = np.e * np.exp(1.0 / q)
        return f, -2 * xc * f / q**2
    raise ValueError(f"cutoff type {kind!r} has no core function")


def check_cutoff_alpha(alpha: float) -> float:
    """``alpha`` if the inner cutoff r_ci = alpha r_c lies in [0, r_c), else a ValueError."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"cutoff_alpha must be in [0, 1), got {alpha}")
    return alpha


def cutoff_function(r: np.ndarray, cutoff: float, kind: str | int = "tanhu",
                    alpha: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Cutoff function value and derivative.

    Parameters
    ----------
    r : (n,) float, Å
        Distances.
    cutoff : float, Å
        r_c; f = f′ = 0 for r >= r_c.
    kind : str or int
        Name or n2p2 number (table in the module docstring).
    alpha : float
        Inner cutoff r_ci = α r_c (0 <= α < 1), ignored by the tanh types.

    Returns
    -------
    f, df_dr : (n,) float
    """
    t = cutoff_type_index(kind)
    check_cutoff_alpha(alpha)
    r = np.asarray(r, dtype=np.float64)
    inside = r < cutoff
    f = np.zeros_like(r)
    df = np.zeros_like(r)
    if t == 0:
        f[inside] = 1.0
        return f, df
    if t in (2, 3):
        pre = _TANH_PRE if t == 3 else 1.0
        th = np.tanh(1.0 - r[inside] / cutoff)
        f[inside] = pre * th**3
        df[inside] = pre * 3 * th**2 * (th**2 - 1) / cutoff
        return f, df
    rci = alpha * cutoff
    iw = 1.0 / (cutoff - rci)
    x = (r - rci) * iw
    inner = inside & (x <= 0)
    outer = inside & (x > 0)
    f[inner] = 1.0
    if t == 1:
        f[outer] = 0.5 * (np.cos(np.pi * x[outer]) + 1)
        df[outer] = -0.5 * np.pi * iw * np.sin(np.pi * x[outer])
        return f, df
    cf, cdf = core_function(t, x[outer])
    f[outer] = cf
    df[outer] = cdf * iw
    return f, df


def cutoff_second_derivative(r: np.ndarray, cutoff: float, kind: str | int = "tanhu",
                             alpha: float = 0.0) -> np.ndarray:
    """d²f_c/dr² where defined (used to test smoothness at r_c); central difference of f′ for
    the polynomial and exp types, analytic for cos and tanh."""
    t = cutoff_type_index(kind)
    r = np.asarray(r, dtype=np.float64)
    inside = r < cutoff
    out = np.zeros_like(r)
    if t in (2, 3):
        pre = _TANH_PRE if t == 3 else 1.0
        th = np.tanh(1.0 - r[inside] / cutoff)
        sech2 = 1 - th**2
        # d/dr [3 t^2 (t^2 - 1)/rc] with dt/dr = -sech^2/rc
        out[inside] = pre * (6 * th * (th**2 - 1) + 6 * th**3) * (-sech2 / cutoff) / cutoff
        return out
    if t == 1:
        rci = alpha * cutoff
        iw = 1.0 / (cutoff - rci)
        x = (r - rci) * iw
        m = inside & (x > 0)
        out[m] = -0.5 * np.pi**2 * iw**2 * np.cos(np.pi * x[m])
        return out
    h = 1e-6 * cutoff
    _, dp = cutoff_function(r + h, cutoff, kind, alpha)
    _, dm = cutoff_function(r - h, cutoff, kind, alpha)
    return (dp - dm) / (2 * h)
