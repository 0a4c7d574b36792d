"""The contract example of the composite: the classical EAM example of Cu with a ZBL
repulsion whose switching region holds the nearest-neighbour pairs of its structures."""

from __future__ import annotations

import dataclasses

from ..registry import ModelExample
from .composite import Baselined
from .zbl import ZBL


def example() -> ModelExample:
    from ..classical.examples import eam_example

    base = eam_example()
    return dataclasses.replace(base, potential=Baselined(base.potential, [ZBL(1.2, 2.7)]))
