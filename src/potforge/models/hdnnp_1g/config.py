"""The ``model:`` section of a 1G training config (``kind: hdnnp-1g``), and its builder.

::

    model:
      kind: hdnnp-1g
      symbols: [O, H, H]            # the molecule (default: the first training frame's atoms)
      hidden: [20, 20]
      activation: t
      coordinates: morse            # y = exp(-r/length)
      length: 1.0 Å
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ...core.config import doc
from ...core.dtypes import DTYPES
from ...core.errors import ConfigError
from ...core.lazy import torch
from ...descriptors.symmetry_functions import MAX_CUTOFF
from ..building import BuildContext, frame_names
from ..network import check_activation
from ..potential import saved_part
from .trainable import TrainableMolecularNetwork

__all__ = ["MolecularConfig", "build_molecular", "rebuild_molecular"]


@dataclass(frozen=True)
class MolecularConfig:
    """1G: one network over the interatomic distances of a fixed molecule
    (:class:`~potforge.models.hdnnp_1g.trainable.TrainableMolecularNetwork`)."""

    symbols: tuple[str, ...] | None = field(default=None, metadata=doc(
        "the molecule's atoms, e.g. [O, H, H] (default: those of the first training frame)"))
    hidden: tuple[int, ...] = (20, 20)
    activation: str = "t"
    coordinates: Literal["morse", "inverse", "distance"] = field(default="morse", metadata=doc(
        "distance transform: exp(-r/length), length/r, or r/length"))
    length: float = field(default=1.0, metadata=doc("length of the transform", unit="length"))
    init: Literal["glorot", "uniform"] = "glorot"
    dtype: Literal[DTYPES] = "float64"

    def check(self, key: str) -> None:
        check_activation(self.activation, f"{key}.activation")
        if not 0 < self.length <= MAX_CUTOFF:
            raise ConfigError(f"{key}.length: expected a length in (0, {MAX_CUTOFF:g}] Å, got {self.length}")
        if not self.hidden or any(n < 1 for n in self.hidden):
            raise ConfigError(f"{key}.hidden: expected a non-empty list of positive layer sizes, "
                              f"got {list(self.hidden)}")


def build_molecular(ctx: BuildContext) -> tuple[TrainableMolecularNetwork, dict[str, Any]]:
    """A 1G model with input scaling and output scale from the training frames, random weights."""
    mc: MolecularConfig = ctx.model
    train = ctx.train
    symbols = mc.symbols or tuple(train[0].atoms.get_chemical_symbols())
    try:
        model = TrainableMolecularNetwork(symbols, mc.hidden, mc.activation * len(mc.hidden) + "l",
                                          coordinates=mc.coordinates, length=mc.length, dtype=mc.dtype)
        model.fit_scaling(model.prepare(list(train), frame_names(train, "training"), derivatives=False))
    except ValueError as err:
        raise ConfigError(f"model: {err}") from None
    model.initialize(torch.Generator().manual_seed(int(ctx.seed)), mc.init)
    ctx.log(f"network: {'-'.join(symbols)}, {model.n_parameters} parameters "
            f"({mc.coordinates} coordinates, hidden {list(mc.hidden)})")
    return model, {"symbols": list(symbols)}


def rebuild_molecular(description: dict) -> TrainableMolecularNetwork:
    """The untrained model of a definition :meth:`TrainableMolecularNetwork.description` wrote
    (a value the model refuses: a one-line ModelFormatError)."""
    with saved_part("description"):
        return TrainableMolecularNetwork.from_description(description)
