"""ASE calculators for potforge models."""

from .ase import PotforgeCalculator

__all__ = ["PotforgeCalculator"]
