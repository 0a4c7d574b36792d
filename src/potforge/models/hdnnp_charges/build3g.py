"""Build a 3G HDNNP for training (``kind: hdnnp-3g``, see :mod:`.config`): stage 1 (charge
networks) from potforge's own settings, stage 2 (short-range networks) from a saved stage-1
model."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.lazy import torch
from ..building import BuildContext
from ..potential import saved_part
from .config import (HDNNP3GConfig, descriptors_from_config, electrostatics_from_config, load_stage1,
                     network_spec, start_stage2, widths_text)

__all__ = ["build_hdnnp3g", "rebuild_hdnnp3g"]


def _charge_scale(ctx: BuildContext) -> float:
    """Spread of the training set's reference charges (e), 1 e when there are none."""
    values = [f.charges for f in ctx.train if getattr(f, "charges", None) is not None]
    spread = float(np.std(np.concatenate(values))) if values else 0.0
    return spread if spread > 1e-4 else 1.0


def build_hdnnp3g(ctx: BuildContext) -> tuple[Any, dict[str, Any]]:
    """Stage 1 (charge networks) or stage 2 (short-range networks on a saved stage 1)."""
    from .trainable3g import TrainableHDNNP3G, TrainableHDNNP3GCharges

    mc: HDNNP3GConfig = ctx.model
    generator = torch.Generator().manual_seed(int(ctx.seed))
    if mc.stage == 1:
        facts: dict[str, Any] = {"stage": 1}
        species, sfs, scaling = descriptors_from_config(mc, ctx, facts)
        electrostatics = electrostatics_from_config(mc, species)
        hidden, acts, normalize = network_spec(mc.charge_network, species)
        scale = mc.charge_scale or _charge_scale(ctx)
        model = TrainableHDNNP3GCharges(sfs, scaling, hidden, acts, electrostatics=electrostatics,
                                        charge_scale=scale, normalize=normalize, n_threads=ctx.threads)
        model.initialize(generator, mc.init)
        ctx.log(f"3G stage 1: charge networks {model.layout.n_parameters} parameters; charge scale "
                f"{scale:.4g} e; " + widths_text(electrostatics))
        facts.update(charge_scale_e=scale, gaussian_width_angstrom=dict(electrostatics.widths))
        return model, facts
    pot = load_stage1(ctx, mc.stage1, "hdnnp-3g", "model.stage1")
    hidden, acts, normalize = network_spec(mc.network, pot.species)
    model = TrainableHDNNP3G(pot.symmetry_functions, pot.scaling, hidden, acts, pot.charge_networks,
                             pot.electrostatics, charge_scale=pot.charge_scale, normalize=normalize,
                             n_threads=ctx.threads)
    return start_stage2(ctx, model, pot, generator, "3G")


def rebuild_hdnnp3g(description: dict):
    """The untrained model of a definition either stage's ``description()`` wrote."""
    from .trainable3g import TrainableHDNNP3G, TrainableHDNNP3GCharges

    with saved_part("description"):
        if description.get("stage") == 2:
            return TrainableHDNNP3G.from_description(description)
        return TrainableHDNNP3GCharges.from_description(description)
