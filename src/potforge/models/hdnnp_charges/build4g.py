"""The ``model:`` section of 4G training (``kind: hdnnp-4g``) and its builder.

Two runs, as in n2p2 (stage 1, then stage 2 on its result)::

    # stage 1: χ networks and hardness to reference charges (loss: charge_sigma only)
    model: {kind: hdnnp-4g, stage: 1, n2p2: train/, length_unit: bohr, energy_unit: hartree}
    # stage 2: short-range networks on E_ref − E_elec, F_ref − F_elec of a fitted stage 1
    model: {kind: hdnnp-4g, stage: 2, n2p2: train/, length_unit: bohr, energy_unit: hartree,
            electronegativity_from: run1/model}    # or an n2p2 folder with weightse/hardness

``n2p2``: an n2p2 4G training folder (``input.nn`` with the symmetry functions, both network
architectures, ``fixed_gausswidth``, ``initial_hardness``, ``screen_electrostatics``,
``ewald_prec``; ``scaling.data``). Stage 1 saves an :class:`~.potential4g.HDNNP4G` whose
short-range networks are zero (charges and electrostatic energy only);
``electronegativity_from`` takes such a saved model (its χ networks, hardness and
electrostatics) or an n2p2 folder's ``weightse``/``hardness`` files (n2p2's stage 1;
default: the ``n2p2`` folder's own). ``pretrained: true`` starts stage 1 from the folder's
``weightse``/``hardness`` instead of random weights.

Without ``n2p2``, both stages come from potforge's own settings (symmetry-function preset,
networks, Gaussian widths, screening, Ewald precision, initial hardness; :mod:`.config`)::

    model: {kind: hdnnp-4g, stage: 1, symmetry_functions: {preset: {cutoff: 4.2}},
            electronegativity_network: {hidden: [15, 15]}, hardness: 10, screening: [2.5, 4.2]}
    model: {kind: hdnnp-4g, stage: 2, electronegativity_from: run1/model, network: {hidden: [15, 15]}}

(``network``, the short-range networks, applies only without ``n2p2``: an n2p2 folder's
``input.nn`` states them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...core.config import doc
from ...core.errors import ConfigError
from ...core.lazy import torch
from ..building import BuildContext, reference_energies
from ..hdnnp.config import NetworkConfig
from ..potential import saved_part
from .config import (ChargeModelConfig, descriptors_from_config, electrostatics_from_config, initial_hardness,
                     load_stage1, network_spec, start_stage2, widths_text)

__all__ = ["HDNNP4GConfig", "build_hdnnp4g", "rebuild_hdnnp4g"]


@dataclass(frozen=True)
class HDNNP4GConfig(ChargeModelConfig):
    n2p2: str = field(default="", metadata=doc(
        "n2p2 4G training folder (input.nn, scaling.data); empty: potforge's own settings (.config)"))
    stage: Literal[1, 2] = field(default=1, metadata=doc(
        "1: χ networks + hardness; 2: short-range networks"))
    length_unit: str = field(default="angstrom", metadata=doc("length unit of the n2p2 files"))
    energy_unit: str = field(default="ev", metadata=doc("energy unit of the n2p2 files"))
    pretrained: bool = field(default=False, metadata=doc(
        "stage 1: start from the folder's weightse/hardness files"))
    electronegativity_from: str | None = field(default=None, metadata=doc(
        "stage 2: a saved stage-1 (hdnnp-4g) model, or an n2p2 folder with weightse/hardness"))
    electronegativity_network: NetworkConfig = field(default_factory=lambda: NetworkConfig((15, 15)),
                                                     metadata=doc("stage 1 without n2p2: the χ networks"))
    hardness: float | dict[str, float] | None = field(default=None, metadata=doc(
        "stage 1 without n2p2: initial hardness J, eV/e², one number or per element (default 10)"))
    output_fit: Literal["epoch", "start", "none"] = field(default="epoch", metadata=doc(
        "stage 1: the χ output layers by ridge least squares on the training charges before the first "
        "epoch (start) and after every epoch (epoch); none: the filter alone, as n2p2"))

    def check(self, key: str) -> None:
        self.check_own(key)
        if self.stage == 1 and self.electronegativity_from is not None:
            raise ConfigError(f"{key}.electronegativity_from: only stage 2 takes a stage-1 model")
        own = self.stage1_fields_given() + (["hardness"] if self.hardness is not None else [])
        if self.n2p2 and own:
            raise ConfigError(f"{key}.{own[0]}: the n2p2 folder's input.nn states it; remove it or "
                              f"{key}.n2p2")
        if self.stage == 2 and self.output_fit != "epoch":
            raise ConfigError(f"{key}.output_fit: stage 1 fits the χ output layers; stage 2 has none")
        if self.stage == 2 and self.pretrained:
            raise ConfigError(f"{key}.pretrained: only stage 1 starts from weightse/hardness files; stage 2 "
                              f"takes its stage-1 part from {key}.electronegativity_from (default: the n2p2 "
                              "folder's weightse/hardness)")
        if not self.n2p2 and self.pretrained:
            raise ConfigError(f"{key}.pretrained: starts from an n2p2 folder's weightse/hardness; give {key}.n2p2")
        if not self.n2p2 and self.stage == 2:
            if not self.electronegativity_from:
                raise ConfigError(f"{key}.electronegativity_from: stage 2 without an n2p2 folder needs "
                                  "the saved stage-1 model (a directory)")
            if own:
                raise ConfigError(f"{key}.{own[0]}: stage 2 takes it from the stage-1 model; remove it")


def _stage1_source(ctx: BuildContext, mc: HDNNP4GConfig, units: dict):
    """The stage-1 model of ``electronegativity_from`` as (chi networks, hardness,
    electrostatics) or None (the n2p2 folder's own files)."""
    from ..registry import load_potential

    path = ctx.path(mc.electronegativity_from)
    if (path / "input.nn").is_file():
        return None, path
    if not (path / "model.json").is_file():
        raise ConfigError(f"model.electronegativity_from: {path} is neither an n2p2 folder (input.nn) "
                          "nor a saved potforge model (model.json)")
    pot = load_potential(path)
    if getattr(pot, "kind", None) != "hdnnp-4g":
        raise ConfigError(f"model.electronegativity_from: {path} holds a {pot.kind} model; expected hdnnp-4g")
    return pot, None


def _check_data_species(ctx: BuildContext, species, folder) -> None:
    """The model's species come from the n2p2 folder: every element of the training data must
    be among them."""
    extra = sorted(set(ctx.train.species) - set(species))
    if extra:
        raise ConfigError(f"data.train: holds {', '.join(extra)}, which the n2p2 folder {folder} (species "
                          f"{', '.join(species)}, from its input.nn) does not know; give model.n2p2 a "
                          "folder for these elements or training data of its elements")


def build_hdnnp4g(ctx: BuildContext) -> tuple[Any, dict[str, Any]]:
    """Stage 1 or stage 2 of a 4G HDNNP from an n2p2 training folder (module docstring)."""
    from .train_n2p2 import n2p2_setup, stage1_from_n2p2, stage2_from_n2p2
    from .trainable4g_short import TrainableHDNNP4G, _scaled

    mc: HDNNP4GConfig = ctx.model
    if not mc.n2p2:
        return _build_own(ctx)
    folder = ctx.path(mc.n2p2)
    units = dict(length_unit=mc.length_unit, energy_unit=mc.energy_unit)
    generator = torch.Generator().manual_seed(int(ctx.seed))
    if mc.stage == 1:
        model = stage1_from_n2p2(folder, pretrained=mc.pretrained, n_threads=ctx.threads, **units)
        _check_data_species(ctx, model.species, folder)
        model.output_fit = mc.output_fit
        if not mc.pretrained:
            model.initialize(generator, mc.init)
        ctx.log(f"4G stage 1: χ networks {model.layout.n_parameters} parameters + hardness of "
                f"{', '.join(model.species)}")
        return model, {"stage": 1}
    pot, n2p2_dir = (None, folder) if mc.electronegativity_from is None else _stage1_source(ctx, mc, units)
    model = stage2_from_n2p2(folder, electronegativity_from=n2p2_dir, n_threads=ctx.threads, **units) \
        if pot is None else None
    if pot is not None:

        setup = n2p2_setup(folder, **units)
        arch = setup["short_arch"]
        chi = {s: _scaled(pot.electronegativity_networks[s], pot.chi_scale) for s in setup["species"]}
        species = setup["species"]
        model = TrainableHDNNP4G(setup["sfs"], setup["scaling"], {s: arch[s][0][1:-1] for s in species},
                                 {s: arch[s][1] for s in species}, chi, pot.hardness,
                                 pot.electrostatics, normalize=setup["normalize"], n_threads=ctx.threads)
    _check_data_species(ctx, model.species, folder)
    model.initialize(generator, mc.init)
    ref = reference_energies("fit", model.species, ctx.train)
    residuals = [(f.energy - sum(ref[s] for s in f.atoms.get_chemical_symbols())) / f.n_atoms
                 for f in ctx.train if f.energy is not None]
    spread = float(np.std(residuals)) if len(residuals) > 1 else 0.0
    model.output_scale = mc.output_scale or (spread if spread > 1e-6 else 1.0)
    model.element_energies = torch.tensor([ref[s] for s in model.species], dtype=torch.float64)
    model.mean_energy = float(np.mean(residuals)) if residuals else 0.0
    ctx.log(f"4G stage 2: short-range networks {model.layout.n_parameters} parameters; output scale "
            f"{model.output_scale:.4g} eV")
    return model, {"stage": 2, "element_energies_ev": ref, "output_scale_ev": model.output_scale}


def _build_own(ctx: BuildContext) -> tuple[Any, dict[str, Any]]:
    """Either stage from potforge's own settings (:mod:`.config`): stage 1 on the configured
    symmetry functions, stage 2 on a saved stage-1 model's functions, χ networks and J."""
    from .trainable4g import TrainableHDNNP4GCharges
    from .trainable4g_short import TrainableHDNNP4G, _scaled

    mc: HDNNP4GConfig = ctx.model
    generator = torch.Generator().manual_seed(int(ctx.seed))
    if mc.stage == 1:
        facts: dict[str, Any] = {"stage": 1}
        species, sfs, scaling = descriptors_from_config(mc, ctx, facts)
        electrostatics = electrostatics_from_config(mc, species)
        hidden, acts, normalize = network_spec(mc.electronegativity_network, species)
        model = TrainableHDNNP4GCharges(sfs, scaling, hidden, acts, gaussian_width=dict(electrostatics.widths),
                                        hardness=initial_hardness(mc.hardness, species), normalize=normalize,
                                        n_threads=ctx.threads, electrostatics=electrostatics,
                                        output_fit=mc.output_fit)
        model.initialize(generator, mc.init)
        ctx.log(f"4G stage 1: χ networks {model.layout.n_parameters} parameters + hardness; "
                + widths_text(electrostatics))
        facts["gaussian_width_angstrom"] = dict(electrostatics.widths)
        return model, facts
    pot = load_stage1(ctx, mc.electronegativity_from, "hdnnp-4g", "model.electronegativity_from")
    hidden, acts, normalize = network_spec(mc.network, pot.species)
    chi = {s: _scaled(pot.electronegativity_networks[s], pot.chi_scale) for s in pot.species}
    model = TrainableHDNNP4G(pot.symmetry_functions, pot.scaling, hidden, acts, chi, pot.hardness,
                             pot.electrostatics, normalize=normalize, n_threads=ctx.threads)
    return start_stage2(ctx, model, pot, generator, "4G")


def rebuild_hdnnp4g(description: dict):
    """The untrained model of a definition either stage's ``description()`` wrote."""
    from .trainable4g import TrainableHDNNP4GCharges
    from .trainable4g_short import TrainableHDNNP4G

    with saved_part("description"):
        if description.get("stage") == 2:
            return TrainableHDNNP4G.from_description(description)
        return TrainableHDNNP4GCharges.from_description(description)
