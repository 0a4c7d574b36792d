"""Physical baselines for any model family: DFT-D3 dispersion (:mod:`.d3`, through the
reference ``dftd3`` library) and the ZBL screened nuclear repulsion (:mod:`.zbl`, switched as
LAMMPS ``pair_style zbl``), and the composite "model + baselines" (:mod:`.composite`, kind
``baselined``) that training saves when the config has a ``baselines:`` section
(:mod:`.config`): the baselines are subtracted from the labels before the fit and added back
at prediction. LAMMPS export (:mod:`.lammps`): ``pair_style hybrid/overlay`` of the model's own
style with ``zbl`` and ``dispersion/d3``.
"""

from ..registry import ModelFamily, register_family

_HERE = "potforge.models.baselines"

register_family(ModelFamily(
    kind="baselined", summary="a model plus physical baselines (ZBL repulsion, DFT-D3 dispersion)",
    potential_ref=f"{_HERE}.composite:Baselined", example_ref=f"{_HERE}.example:example",
    exporter_refs={"lammps": f"{_HERE}.lammps:export_lammps", "n2p2": f"{_HERE}.lammps:export_n2p2"}))
