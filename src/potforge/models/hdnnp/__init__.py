"""Behler-Parrinello neural network potentials (2G now; charge generations build on it)."""

from .hdnnp import HDNNP
from .molecular import MolecularNetworkPotential
from .network import ACTIVATIONS, AtomicNetwork

__all__ = ["HDNNP", "MolecularNetworkPotential", "AtomicNetwork", "ACTIVATIONS"]
