"""Training never goes on with, or saves, a NaN or an infinity.

The loss leaves out what is NaN (a frame without an energy label has a NaN reference), so a
prediction that turns NaN would silently drop out of the loss instead of stopping the run.
These checks look at the predictions themselves, at the loss and at the parameters, and
raise a one-line :class:`~potforge.core.errors.NonFiniteError` that names when (epoch, batch
or evaluation), the frame and the quantity. They run before the epoch's checkpoint is
written, so ``checkpoint.pt`` keeps the last good epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..core.errors import NonFiniteError
from ..core.lazy import torch
from ..core.voigt import VOIGT_NAMES
from ..models.trainable import ModelOutput, TrainableModel
from .loss import LossTerms

__all__ = ["check_output", "check_loss", "check_parameters", "check_measurement"]

_ADVICE = ("a learning rate or step too large, or a model or data set that the model's "
           "functions overflow on")


def _first(bad: torch.Tensor) -> int | None:
    index = torch.nonzero(bad.reshape(-1)).reshape(-1)
    return int(index[0]) if index.numel() else None


def nonfinite_output(out: ModelOutput, batch, names: Sequence[str]) -> str | None:
    """The first non-finite prediction of a batch in words (``energy of training frame 3
    (nan)``), or None. Stress counts only for periodic frames (open ones have NaN by design)."""
    energy = out.energy.detach()
    k = None if out.no_energy else _first(~torch.isfinite(energy))
    if k is not None:
        return f"predicted energy of {names[int(batch.frames[k])]} ({float(energy[k])})"
    if out.forces is not None:
        forces = out.forces.detach()
        atom = _first(~torch.isfinite(forces).all(1))
        if atom is not None:
            k = int(batch.frame_of_atom[atom])
            first = int(torch.nonzero(batch.frame_of_atom == k)[0])
            value = forces[atom][~torch.isfinite(forces[atom])][0]
            return (f"predicted force on atom {atom - first} of {names[int(batch.frames[k])]} "
                    f"({float(value)})")
    if out.stress is not None:
        stress = out.stress.detach()
        periodic = torch.isfinite(batch.volume).unsqueeze(1)
        k = _first(~torch.isfinite(stress) & periodic)
        if k is not None:
            frame, component = divmod(k, 6)
            return (f"predicted stress component {VOIGT_NAMES[component]} of "
                    f"{names[int(batch.frames[frame])]} ({float(stress.reshape(-1)[k])})")
    if out.charges is not None:
        charges = out.charges.detach()
        atom = _first(~torch.isfinite(charges))
        if atom is not None:
            k = int(batch.frame_of_atom[atom])
            first = int(torch.nonzero(batch.frame_of_atom == k)[0])
            return (f"predicted charge of atom {atom - first} of {names[int(batch.frames[k])]} "
                    f"({float(charges[atom])})")
    return None


def check_output(out: ModelOutput, batch, names: Sequence[str], when: str) -> None:
    """NonFiniteError if any prediction of the batch is NaN or infinite."""
    what = nonfinite_output(out, batch, names)
    if what is not None:
        raise NonFiniteError(f"{when}: non-finite {what}; training stopped ({_ADVICE})")


def check_loss(terms: LossTerms, batch, names: Sequence[str], when: str) -> None:
    """NonFiniteError if the loss is NaN or infinite although the predictions are finite
    (a squared error that overflows): names the term and the batch's frames."""
    if math.isfinite(float(terms.total.detach())):
        return
    parts = {"energy": terms.energy, "forces": terms.forces, "stress": terms.stress,
             "charges": terms.charges, "l2": terms.l2}
    bad = [name for name, value in parts.items() if not math.isfinite(value)] or ["total"]
    frames = [names[int(k)] for k in batch.frames[:3]]
    more = f" and {batch.n_frames - 3} more" if batch.n_frames > 3 else ""
    raise NonFiniteError(f"{when}: the loss's {'/'.join(bad)} term is non-finite "
                         f"({float(terms.total.detach())}) on {', '.join(frames)}{more}; training "
                         f"stopped ({_ADVICE})")


def check_parameters(model: TrainableModel, when: str) -> None:
    """NonFiniteError if a parameter, an element energy or the energy offset is non-finite."""
    theta = model.theta.detach()
    k = _first(~torch.isfinite(theta))
    if k is not None:
        raise NonFiniteError(f"{when}: parameter {k} of {theta.numel()} became {float(theta[k])}; "
                             f"training stopped ({_ADVICE})")
    energies = torch.as_tensor(model.element_energies).detach()
    k = _first(~torch.isfinite(energies))
    if k is not None:
        raise NonFiniteError(f"{when}: the reference energy of {model.species[k]} became "
                             f"{float(energies[k])}; training stopped ({_ADVICE})")
    if not math.isfinite(float(model.mean_energy)):
        raise NonFiniteError(f"{when}: the energy offset became {float(model.mean_energy)}; "
                             f"training stopped ({_ADVICE})")


def check_measurement(error: float, jacobian: torch.Tensor, name: str, when: str) -> None:
    """NonFiniteError if one Kalman-filter measurement (its error or its gradient in the
    parameters) is non-finite; ``name`` says which (``energy of training frame 3``)."""
    if not math.isfinite(error):
        raise NonFiniteError(f"{when}: non-finite predicted {name} ({error}); training stopped "
                             f"({_ADVICE})")
    if not bool(torch.isfinite(jacobian).all()):
        raise NonFiniteError(f"{when}: the gradient of the predicted {name} in the parameters is "
                             f"non-finite; training stopped ({_ADVICE})")
