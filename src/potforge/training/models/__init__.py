"""Model families in training form (registered by kind: ``model: {kind: hdnnp}``)."""

from .base import TRAINABLE, ModelOutput, TrainableModel, register_trainable
from .classical import TrainableClassical
from .hdnnp import TrainableHDNNP
from .molecular import TrainableMolecularNetwork

__all__ = ["TRAINABLE", "ModelOutput", "TrainableModel", "register_trainable", "TrainableHDNNP",
           "TrainableMolecularNetwork", "TrainableClassical"]
