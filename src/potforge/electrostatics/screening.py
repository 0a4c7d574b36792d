"""The screening function of n2p2's ``screen_electrostatics`` (3G/4G potentials).

f(r) = 0 for r <= inner, 1 for r >= outer and fs(x) = 1 - c(x) between, with
x = (r - inner) / (outer - inner) and c one of n2p2's core functions (CoreFunction.cpp):

======  ==========================================
``c``   c(x) = (cos(pi x) + 1) / 2
``p1``  c(x) = (2x - 3) x^2 + 1
``p2``  c(x) = ((15 - 6x) x - 10) x^3 + 1
``p3``  c(x) = (x (x (20x - 70) + 84) - 35) x^4 + 1
``p4``  c(x) = (x (x ((315 - 70x) x - 540) + 420) - 126) x^5 + 1
``e``   c(x) = e exp(1 / (x^2 - 1))
======  ==========================================

The default core is ``c`` (cosine): n2p2's Mode.cpp uses it when the ``screen_electrostatics``
keyword names only the two radii (ScreeningFunction's constructor would pick ``p2``, but
Mode overrides it), and the shipped 4G models log ``CoreFunction::Type::COS``.
"""

from __future__ import annotations

import math

from ..core.errors import ConfigError
from ..core.lazy import torch

__all__ = ["Screening", "CORE_FUNCTIONS"]

#: n2p2's names of the core functions (the optional third argument of screen_electrostatics)
CORE_FUNCTIONS = ("c", "p1", "p2", "p3", "p4", "e")


def _core(kind: str, x):
    """n2p2's CoreFunction c(x) on x in [0, 1]: c(0) = 1, c(1) = 0."""
    if kind == "c":
        return 0.5 * (torch.cos(math.pi * x) + 1.0)
    if kind == "p1":
        return (2.0 * x - 3.0) * x * x + 1.0
    if kind == "p2":
        return ((15.0 - 6.0 * x) * x - 10.0) * x ** 3 + 1.0
    if kind == "p3":
        return (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x ** 4 + 1.0
    if kind == "p4":
        return (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x ** 5 + 1.0
    # "e": x is kept below 1 by the caller's clamp, so 1 / (x^2 - 1) stays finite
    return math.e * torch.exp(1.0 / (x * x - 1.0))


class Screening:
    """n2p2's screening function f(r) of the electrostatic pair energy (Å).

    Parameters
    ----------
    inner, outer : float, Å
        f = 0 up to ``inner`` and 1 from ``outer`` on (``screen_electrostatics inner outer``
        after conversion to Å).
    core : str
        n2p2's core function name (:data:`CORE_FUNCTIONS`); default ``"c"`` as in n2p2.
    """

    def __init__(self, inner: float, outer: float, core: str = "c") -> None:
        inner, outer = float(inner), float(outer)
        if not (math.isfinite(inner) and math.isfinite(outer)):
            raise ConfigError(f"screen_electrostatics: radii must be finite, got {inner} and {outer}")
        if not inner < outer:
            raise ConfigError(f"screen_electrostatics: inner radius {inner} must be below the "
                              f"outer radius {outer}")
        if core not in CORE_FUNCTIONS:
            raise ConfigError(f"screen_electrostatics: unknown core function {core!r}; expected one "
                              f"of {', '.join(CORE_FUNCTIONS)}")
        self.inner = inner
        self.outer = outer
        self.core = core

    def __repr__(self) -> str:
        return f"Screening(inner={self.inner!r}, outer={self.outer!r}, core={self.core!r})"

    def value(self, r):
        """f(r) for a tensor of distances (Å), differentiable; same shape as ``r``."""
        x = (r - self.inner) / (self.outer - self.inner)
        inside = (x > 0.0) & (x < 1.0)
        # clamp so that the branches not taken stay finite (their gradients would be NaN)
        xs = torch.where(inside, x, torch.full_like(x, 0.5))
        middle = 1.0 - _core(self.core, xs)
        return torch.where(inside, middle, (x >= 1.0).to(r.dtype))
