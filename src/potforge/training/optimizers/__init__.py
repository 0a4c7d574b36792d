"""Optimizers: what one epoch of training does to the parameters, registered by name.

=========  ==================================================================================
kind       what
=========  ==================================================================================
kalman     global extended Kalman filter (n2p2), one measurement (or a group) per update (:mod:`.kalman`)
adam       Adam on mini-batches with a learning-rate schedule (:mod:`.first_order`)
lbfgs      full-batch L-BFGS, strong-Wolfe line search (:mod:`.first_order`)
lsq        SciPy trust-region least squares, exact Jacobian; few-parameter models (:mod:`.least_squares`)
lbfgsb     SciPy L-BFGS-B with bounds; few-parameter models (:mod:`.least_squares`)
=========  ==================================================================================
"""

from . import first_order, kalman, least_squares  # noqa: F401  (importing registers them)
from .base import OPTIMIZERS, Optimizer, TrainerView, register_optimizer

__all__ = ["OPTIMIZERS", "Optimizer", "TrainerView", "register_optimizer"]
