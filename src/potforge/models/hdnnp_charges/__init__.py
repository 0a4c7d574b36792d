"""Charge-carrying high-dimensional neural network potentials: 4G (``kind: hdnnp-4g``,
electronegativity networks and charge equilibration, n2p2's layout) and 3G (``kind:
hdnnp-3g``, charges from atomic charge networks), both with the Gaussian-charge
electrostatics of :mod:`potforge.electrostatics` and short-range networks.

Modules: the shared parts (:mod:`.base`, :mod:`.settings`), the Potentials
(:mod:`.potential4g`, :mod:`.potential3g`), n2p2's 4G files (:mod:`.n2p2`; n2p2 has no 3G
format, so 3G has no n2p2 exporter), the contract examples (:mod:`.example`) and training:
the trainable forms of both stages (:mod:`.trainable4g`, :mod:`.trainable4g_short`,
:mod:`.trainable3g`), their configs and builders (:mod:`.config`, :mod:`.build4g`,
:mod:`.build3g`; 4G also from an n2p2 training folder, :mod:`.train_n2p2`).
"""

from ...data.n2p2_model import is_n2p2_4g_model
from ..registry import Importer, ModelFamily, register_family

_HERE = "potforge.models.hdnnp_charges"

register_family(ModelFamily(
    kind="hdnnp-4g",
    summary="4G HDNNP: electronegativity networks, charge equilibration, Ewald electrostatics (n2p2-exact)",
    potential_ref=f"{_HERE}.potential4g:HDNNP4G", example_ref=f"{_HERE}.example:example_4g",
    config_ref=f"{_HERE}.build4g:HDNNP4GConfig", build_ref=f"{_HERE}.build4g:build_hdnnp4g",
    rebuild_ref=f"{_HERE}.build4g:rebuild_hdnnp4g",
    exporter_refs={"n2p2": f"{_HERE}.n2p2:export_n2p2_4g"},
    importers=(Importer("n2p2 4G model directory (input.nn with nnp_generation 4)", is_n2p2_4g_model,
                        f"{_HERE}.n2p2:read_n2p2_4g_model"),)))

# n2p2 has no 3G model format: no importer, no n2p2 exporter
register_family(ModelFamily(
    kind="hdnnp-3g",
    summary="3G HDNNP: charges from atomic charge networks, Ewald electrostatics, short-range networks",
    potential_ref=f"{_HERE}.potential3g:HDNNP3G", example_ref=f"{_HERE}.example:example_3g",
    config_ref=f"{_HERE}.config:HDNNP3GConfig", build_ref=f"{_HERE}.build3g:build_hdnnp3g",
    rebuild_ref=f"{_HERE}.build3g:rebuild_hdnnp3g"))
