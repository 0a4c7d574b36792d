"""Classical potentials: pair, EAM (analytic and tabulated), Tersoff and Stillinger–Weber.

Each kind is a pure PyTorch energy kernel under the shared
:class:`~potforge.models.classical.base.ClassicalPotential` (one module per kind: ``pair``,
``eam``, ``tersoff``, ``sw``). The kinds share their trainable form
(:mod:`.trainable`: the free named parameters as theta, least squares with the exact
Jacobian), their config schema (:mod:`.config`, parsed by :mod:`.spec`), their builder
(:mod:`.build`) and their exchange with LAMMPS (:mod:`.lammps`). A new classical style is one
module here plus its registration below.
"""

from ..registry import ModelFamily, register_family
from .base import ClassicalPotential, Parameter
from .build import build_classical
from .config import classical_schema
from .eam import EAM, SetflEAM
from .examples import eam_example, pair_example, setfl_example, sw_example, tersoff_example
from .lammps import (export_eam, export_pair, export_setfl, export_sw, export_tersoff,
                     lammps_importer)
from .pair import PairPotential
from .sw import StillingerWeber
from .tersoff import Tersoff
from .trainable import TrainableClassical

__all__ = ["ClassicalPotential", "Parameter", "PairPotential", "EAM", "SetflEAM", "Tersoff",
           "StillingerWeber", "TrainableClassical"]

#: a few parameters: one least-squares solve to convergence is the natural default
_LEAST_SQUARES = {"optimizer": {"kind": "lsq"}, "epochs": 1}

for _kind, _cls, _summary, _example, _export in (
        ("pair", PairPotential, "pair potential: Lennard-Jones, Morse, Buckingham or B-spline forms",
         pair_example, export_pair),
        ("eam", EAM, "embedded-atom method with analytic or B-spline forms (eam/alloy semantics)",
         eam_example, export_eam),
        ("tersoff", Tersoff, "Tersoff bond-order potential (LAMMPS pair_style tersoff)",
         tersoff_example, export_tersoff),
        ("sw", StillingerWeber, "Stillinger-Weber potential (LAMMPS pair_style sw)",
         sw_example, export_sw)):
    register_family(ModelFamily(
        kind=_kind, potential=_cls, summary=_summary, example=_example,
        config=classical_schema(_kind), build=build_classical, trainable=TrainableClassical,
        training_defaults=_LEAST_SQUARES, exporters={"lammps": _export},
        importers=(lammps_importer(_kind),) if _kind in ("tersoff", "sw") else ()))

register_family(ModelFamily(
    kind="eam-setfl", potential=SetflEAM, example=setfl_example,
    summary="tabulated EAM (DYNAMO setfl), evaluated exactly as LAMMPS eam/alloy does",
    exporters={"lammps": export_setfl}, importers=(lammps_importer("eam/alloy"),)))
