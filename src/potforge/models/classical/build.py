"""Build a classical model for training: the potential its config describes (forms, starting
values, bounds, fixed parameters) with per-element reference energies from the data; and
rebuild one from a saved definition (resume). The trainable form is imported here, when a
model is built, not when the family registers."""

from __future__ import annotations

from typing import Any

from ...core.lazy import torch
from ..building import BuildContext, reference_energies, resolve_species
from .config import ClassicalConfig
from .spec import potential_from_spec
from .trainable import TrainableClassical

__all__ = ["build_classical", "rebuild_classical"]


def build_classical(ctx: BuildContext) -> tuple[TrainableClassical, dict[str, Any]]:
    mc: ClassicalConfig = ctx.model
    species = resolve_species(mc.named_species(), ctx.train)
    potential = potential_from_spec(ctx.kind, mc.spec(), species)
    model = TrainableClassical(potential)
    ref = reference_energies(mc.element_energies, species, ctx.train)
    model.element_energies = torch.tensor([ref[s] for s in species], dtype=torch.float64)
    ctx.log(f"{ctx.kind}: {', '.join(species)}; {model.n_parameters} free of "
            f"{len(potential.parameters)} parameters; cutoff {potential.cutoff:.3f} Å")
    return model, {"element_energies_ev": ref, "free_parameters": list(model.free)}


def rebuild_classical(description: dict) -> TrainableClassical:
    """The untrained model of a definition :meth:`TrainableClassical.description` wrote."""
    return TrainableClassical.from_description(description)
