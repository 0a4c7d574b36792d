"""Descriptors: cutoff functions, atom-centred symmetry functions (values and derivatives),
presets and pruning, scaling, and the cache of a training set's values and Jacobians
(:mod:`.cache`)."""

from .cutoffs import CUTOFF_TYPES, cutoff_function
from .scaling import SCALING_MODES, ScalingStatistics, SymmetryFunctionScaling
from .symmetry_functions import SF_TYPE_NAMES, SymmetryFunction, SymmetryFunctionSet

__all__ = ["CUTOFF_TYPES", "cutoff_function", "SymmetryFunction", "SymmetryFunctionSet",
           "SF_TYPE_NAMES", "SCALING_MODES", "ScalingStatistics", "SymmetryFunctionScaling"]
