"""Descriptors: cutoff functions, atom-centred symmetry functions (values and derivatives), scaling."""

from .cutoffs import CUTOFF_TYPES, cutoff_function
from .scaling import SCALING_MODES, ScalingStatistics, SymmetryFunctionScaling
from .symmetry_functions import SF_TYPE_NAMES, SymmetryFunction, SymmetryFunctionSet

__all__ = ["CUTOFF_TYPES", "cutoff_function", "SymmetryFunction", "SymmetryFunctionSet",
           "SF_TYPE_NAMES", "SCALING_MODES", "ScalingStatistics", "SymmetryFunctionScaling"]
