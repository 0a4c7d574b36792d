"""First-generation neural network potentials of one molecule (``kind: hdnnp-1g``): one
network over the molecule's interatomic distances, symmetrised over like atoms.

The family: the Potential (:mod:`.potential`), its trainable form (:mod:`.trainable`), its
config schema and builder (:mod:`.config`) and its contract example (:mod:`.example`).
"""

from ..registry import ModelFamily, register_family
from .config import MolecularConfig, build_molecular
from .example import example
from .potential import MolecularNetworkPotential
from .trainable import TrainableMolecularNetwork

__all__ = ["MolecularNetworkPotential", "TrainableMolecularNetwork", "MolecularConfig"]

register_family(ModelFamily(
    kind="hdnnp-1g", potential=MolecularNetworkPotential, example=example,
    summary="1G neural network potential of one molecule (global coordinates, like atoms symmetrised)",
    config=MolecularConfig, build=build_molecular, trainable=TrainableMolecularNetwork))
