"""Second-generation Behler–Parrinello neural network potentials (``kind: hdnnp``).

One folder holds the family: the Potential (:mod:`.potential`, compiled kernel), its
trainable form (:mod:`.trainable`, PyTorch on a descriptor cache), its config schema
(:mod:`.config`) and builder (:mod:`.build`), its exchange with n2p2 (:mod:`.n2p2`) and its
contract example (:mod:`.example`). The charge-carrying generations build on it.
"""

from ...data.n2p2_model import is_n2p2_model
from ..registry import Importer, ModelFamily, register_family

_HERE = "potforge.models.hdnnp"

register_family(ModelFamily(
    kind="hdnnp", summary="2G high-dimensional neural network potential (Behler-Parrinello, n2p2-exact)",
    potential_ref=f"{_HERE}.potential:HDNNP", example_ref=f"{_HERE}.example:example",
    config_ref=f"{_HERE}.config:HDNNPConfig", build_ref=f"{_HERE}.build:build_hdnnp",
    rebuild_ref=f"{_HERE}.build:rebuild_hdnnp",
    exporter_refs={"n2p2": f"{_HERE}.n2p2:export_n2p2", "lammps": f"{_HERE}.lammps:export_lammps"},
    importers=(Importer("n2p2 model directory (input.nn)", is_n2p2_model, f"{_HERE}.n2p2:read_n2p2_model"),)))
