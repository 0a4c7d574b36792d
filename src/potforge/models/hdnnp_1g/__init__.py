"""First-generation neural network potentials of one molecule (``kind: hdnnp-1g``): one
network over the molecule's interatomic distances, symmetrised over like atoms.

The family: the Potential (:mod:`.potential`), its trainable form (:mod:`.trainable`), its
config schema and builder (:mod:`.config`) and its contract example (:mod:`.example`).
"""

from ..registry import ModelFamily, register_family

_HERE = "potforge.models.hdnnp_1g"

register_family(ModelFamily(
    kind="hdnnp-1g",
    summary="1G neural network potential of one molecule (global coordinates, like atoms symmetrised)",
    potential_ref=f"{_HERE}.potential:MolecularNetworkPotential", example_ref=f"{_HERE}.example:example",
    config_ref=f"{_HERE}.config:MolecularConfig", build_ref=f"{_HERE}.config:build_molecular",
    rebuild_ref=f"{_HERE}.config:rebuild_molecular"))
