"""Classical potentials: pair, EAM, Tersoff and Stillinger–Weber, each a pure PyTorch energy
kernel under the shared :class:`~potforge.models.classical.base.ClassicalPotential`."""

from .base import ClassicalPotential, Parameter
from .eam import EAM, SetflData, SetflEAM
from .pair import PairPotential
from .sw import StillingerWeber
from .tersoff import Tersoff

__all__ = ["ClassicalPotential", "Parameter", "PairPotential", "EAM", "SetflEAM", "SetflData",
           "Tersoff", "StillingerWeber"]
