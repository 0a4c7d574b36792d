"""Second-generation Behler–Parrinello neural network potentials (``kind: hdnnp``).

One folder holds the family: the Potential (:mod:`.potential`, compiled kernel), its
trainable form (:mod:`.trainable`, PyTorch on a descriptor cache), its config schema
(:mod:`.config`) and builder (:mod:`.build`), its exchange with n2p2 (:mod:`.n2p2`) and its
contract example (:mod:`.example`). The charge-carrying generations build on it.
"""

from ...data.n2p2_model import is_n2p2_model
from ..registry import Importer, ModelFamily, register_family
from .build import build_hdnnp
from .config import HDNNPConfig
from .example import example
from .n2p2 import export_n2p2, read_n2p2_model, write_n2p2_model
from .potential import HDNNP
from .trainable import TrainableHDNNP

__all__ = ["HDNNP", "TrainableHDNNP", "HDNNPConfig", "read_n2p2_model", "write_n2p2_model"]

register_family(ModelFamily(
    kind="hdnnp", potential=HDNNP, example=example,
    summary="2G high-dimensional neural network potential (Behler-Parrinello, n2p2-exact)",
    config=HDNNPConfig, build=build_hdnnp, trainable=TrainableHDNNP,
    exporters={"n2p2": export_n2p2},
    importers=(Importer("n2p2 model directory (input.nn)", is_n2p2_model, read_n2p2_model),)))
