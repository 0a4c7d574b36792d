"""What stage 1 of 3G (:mod:`.trainable3g`, charge networks) and 4G (:mod:`.trainable4g`,
electronegativity networks and hardness) share: one network per element on the scaled
symmetry functions, their layout and their per-atom outputs, and no forces to fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...core.dtypes import check_dtype
from ...core.lazy import torch
from ...data.labels import FrameLabels
from ..network import NetworkLayout, network_forward
from ..trainable import TrainableModel

__all__ = ["ChargeNetworkStage"]


class ChargeNetworkStage(TrainableModel):
    """Stage 1 of a charge model: per-element networks on the scaled symmetry functions
    (subclasses set ``sfs``, ``species`` and ``scaling`` before :meth:`_set_networks`)."""

    def _set_networks(self, hidden: Mapping[str, Sequence[int]], activations: Mapping[str, str],
                      normalize: bool, dtype: str, n_threads: int) -> None:
        """The networks' shapes, the arithmetic and their :class:`NetworkLayout` (one output)."""
        self.hidden = {s: tuple(int(n) for n in hidden[s]) for s in self.species}
        self.activations = {s: activations[s] for s in self.species}
        self.normalize = bool(normalize)
        self.dtype_name = check_dtype(dtype, "model.dtype")
        self.n_threads = int(n_threads)
        self.n_functions = [self.sfs.n_functions(s) for s in self.species]
        self.layout = NetworkLayout(
            [(self.n_functions[e], *self.hidden[s], 1) for e, s in enumerate(self.species)],
            [self.activations[s] for s in self.species], normalize)

    def labels(self, data) -> FrameLabels:
        return data.labels

    def has_derivatives(self, data) -> bool:
        return True  # stage 1 has no forces to give; the trainer asks for none

    def _network_outputs(self, theta: torch.Tensor, element: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """The networks' outputs (n,) for atoms with raw symmetry functions ``values`` (n, n_max)."""
        out = torch.zeros(values.shape[0], dtype=torch.float64)
        for e, sym in enumerate(self.species):
            idx = torch.nonzero(element == e).squeeze(1)
            if idx.numel() == 0:
                continue
            a, b = self._affine[e]
            x = values[idx, :self.n_functions[e]] * a + b
            o, _ = network_forward(self.layout.layers(theta, e), self.activations[sym], x,
                                   normalize=self.normalize, gradient=False)
            out = out.index_copy(0, idx, o)
        return out
