"""Classical potentials: pair, EAM (analytic and tabulated: setfl, eam/fs, funcfl), Tersoff and
Stillinger–Weber.

Each kind is a pure PyTorch energy kernel under the shared
:class:`~potforge.models.classical.base.ClassicalPotential` (one module per kind: ``pair``,
``eam``, ``tersoff``, ``sw``). The kinds share their trainable form (:mod:`.trainable`: the
free named parameters as theta, least squares with the exact Jacobian of :mod:`.jacobian`),
their config schema (:mod:`.config`, parsed by :mod:`.spec`), their builder (:mod:`.build`),
their exchange with LAMMPS (:mod:`.lammps`) and their contract examples (:mod:`.examples`).
A new classical style is one module here plus its registration below.
"""

from ...data.lammps import is_potential_file
from ..registry import Importer, ModelFamily, register_family

_HERE = "potforge.models.classical"
#: a few parameters: one least-squares solve to convergence is the natural default
_LEAST_SQUARES = {"optimizer": {"kind": "lsq"}, "epochs": 1}

for _kind, _potential, _config, _summary, _importers in (
        ("pair", "pair:PairPotential", "PairConfig",
         "pair potential: Lennard-Jones, Morse, Buckingham or B-spline forms", ()),
        ("eam", "eam:EAM", "EAMConfig",
         "embedded-atom method with analytic or B-spline forms (eam/alloy semantics)", ()),
        ("tersoff", "tersoff:Tersoff", "TersoffConfig",
         "Tersoff bond-order potential (LAMMPS pair_style tersoff)",
         (Importer("LAMMPS tersoff file (.tersoff)", is_potential_file("tersoff"),
                   f"{_HERE}.lammps:read_tersoff_file"),)),
        ("sw", "sw:StillingerWeber", "SWConfig",
         "Stillinger-Weber potential (LAMMPS pair_style sw)",
         (Importer("LAMMPS sw file (.sw)", is_potential_file("sw"), f"{_HERE}.lammps:read_sw_file"),))):
    register_family(ModelFamily(
        kind=_kind, summary=_summary, potential_ref=f"{_HERE}.{_potential}",
        example_ref=f"{_HERE}.examples:{_kind}_example",
        config_ref=f"{_HERE}.config:{_config}", build_ref=f"{_HERE}.build:build_classical",
        rebuild_ref=f"{_HERE}.build:rebuild_classical", training_defaults=_LEAST_SQUARES,
        exporter_refs={"lammps": f"{_HERE}.lammps:export_{_kind}"}, importers=_importers))

register_family(ModelFamily(
    kind="eam-setfl", potential_ref=f"{_HERE}.eam_tables:SetflEAM", example_ref=f"{_HERE}.examples:setfl_example",
    summary="tabulated EAM (DYNAMO setfl or eam/fs), evaluated exactly as LAMMPS eam/alloy, eam/fs do",
    exporter_refs={"lammps": f"{_HERE}.lammps:export_setfl"},
    importers=(Importer("LAMMPS eam/alloy file (.eam.alloy, .setfl)", is_potential_file("eam/alloy"),
                        f"{_HERE}.lammps:read_setfl_file"),
               Importer("LAMMPS eam/fs file (.eam.fs)", is_potential_file("eam/fs"),
                        f"{_HERE}.lammps:read_fs_file"))))

register_family(ModelFamily(
    kind="eam-funcfl", potential_ref=f"{_HERE}.eam_tables:FuncflEAM", example_ref=f"{_HERE}.examples:funcfl_example",
    summary="DYNAMO funcfl EAM files, evaluated exactly as LAMMPS pair_style eam does",
    exporter_refs={"lammps": f"{_HERE}.lammps:export_funcfl"},
    importers=(Importer("LAMMPS eam file (funcfl, .eam)", is_potential_file("eam"),
                        f"{_HERE}.lammps:read_funcfl_file"),)))
