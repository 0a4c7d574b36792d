"""A constant hydrostatic offset in the stress labels (``loss.stress_offset``), e.g. Pulay stress.

DFT stresses at a fixed plane-wave cut-off carry a nearly constant hydrostatic error (Pulay
stress), so the stresses that belong to the energies are σ = σ_label + s·I for some s. A model
that trusts the labels as they are has to pull its energies away from theirs. With
``loss.stress_offset`` the model is fitted to σ_label + s·I instead. s is the stress offset in
the ASE sign convention exactly as ``potforge data check`` reports it (``stress_offset_gpa``):
the hydrostatic stress that, ADDED to the labels, makes them consistent with the energies; the
labels carry −s·I (mlearn Cu: s ≈ −2.4 GPa, a spurious tensile stress of 2.4 GPa in the labels).

- ``fixed`` (a value): s is the same for every frame of every data set.
- ``fit``: one s per training source file (the Pulay stress depends on the DFT settings, which
  may differ between files), fitted jointly with the model in closed form: for fixed model
  parameters the stress term of the loss, Σ_f w_f Σ_k (σ_pred,fk − σ_label,fk − s δ_k)², is
  smallest at the weighted mean of σ_pred − σ_label over the normal components k that the
  loss uses (``loss.stress_components``) of the source's frames. s starts at 0 (the labels as
  given); :class:`~.trainer.Trainer` refits it after every epoch, for every optimizer, and
  each refit lowers the same loss that the optimizer lowers. (Not before the first epoch: the
  untrained model's stresses are arbitrary, and a fit to them starts many GPa away — −23 GPa
  for a +2 GPa offset in a test — from where the alternation crawls back at the rate at which
  the model can mimic a constant pressure.)

The offset is applied by correcting the label tensors in place (all three normal components:
s·I is isotropic), so the loss, every optimizer (the Kalman filter reads single labels) and the
error metrics see the corrected labels; the raw labels are kept and restored for the errors
against them. Validation and test frames from a training source get that source's offset;
frames from other files get the training data's offset when exactly one was fitted, none
otherwise (:meth:`StressOffset.applied` says which).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from ..core.errors import ConfigError, NonFiniteError
from ..core.lazy import torch
from ..core.units import GPa
from ..core.voigt import VOIGT_NAMES
from .guard import check_output

__all__ = ["StressOffset", "MEANING", "CONVENTION", "recorded_offsets_gpa"]

#: what the recorded values mean, in the summary and the model's metadata
MEANING = ("s is the hydrostatic stress offset (ASE sign convention, GPa) that, added to the stress "
           "labels, makes them consistent with the energies: the model was fitted to label + s·I and "
           "predicts stress without the offset (the labels carry −s·I)")
#: the sign convention of the recorded values (models and checkpoints without it have the
#: opposite one: s present in the labels, corrected as label − s·I)
CONVENTION = "added to the labels"

_NORMAL = 3  # xx, yy, zz lead the Voigt order


class StressOffset:
    """The offset s (eV/Å³) of each training source and the label sets it corrects.

    Parameters
    ----------
    mode : ``"fit"`` or ``"fixed"``
    value : float, eV/Å³
        The offset of ``fixed``.
    components : Voigt names
        The stress components of the loss; ``fit`` uses its normal ones.
    """

    def __init__(self, mode: str, value: float = 0.0, components: Sequence[str] = VOIGT_NAMES) -> None:
        if mode not in ("fit", "fixed"):
            raise ValueError(f"stress offset mode must be fit or fixed, got {mode!r}")
        self.mode = mode
        self.components = [k for k, name in enumerate(VOIGT_NAMES[:_NORMAL]) if name in components]
        self.sources: list[str] = ["all data"] if mode == "fixed" else []
        self.values = torch.tensor([float(value)] if mode == "fixed" else [], dtype=torch.float64)
        self.fitted = torch.ones(len(self.values), dtype=torch.bool)  # sources with stress labels
        self._sets: dict[str, tuple[Any, torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_config(cls, loss) -> "StressOffset | None":
        """The offset of a :class:`~potforge.training.config.LossConfig` (None: ``none``)."""
        mode = loss.stress_offset_mode
        if mode == "none":
            return None
        return cls(mode, loss.stress_offset if mode == "fixed" else 0.0, loss.stress_components)

    # -- label sets ---------------------------------------------------------------------------------
    def attach(self, role: str, labels, sources: Sequence[str | None]) -> None:
        """Correct ``labels`` (a :class:`~potforge.data.labels.FrameLabels`, in place) from now on.

        ``role`` ``"train"`` defines the sources of ``fit``; other roles map their frames to
        them (see module docstring). ``sources``: the file of each frame (None: unknown)."""
        if len(sources) != labels.n_frames:
            raise ValueError(f"{role}: {len(sources)} sources for {labels.n_frames} frames")
        names = [s if s is not None else "data given in code" for s in sources]
        if role == "train" and self.mode == "fit":
            self.sources = list(dict.fromkeys(names))
            self.values = torch.zeros(len(self.sources), dtype=torch.float64)
            index = torch.tensor([self.sources.index(n) for n in names], dtype=torch.long)
            raw = labels.stress[:, :_NORMAL]
            has = ~torch.isnan(raw[:, self.components]).any(1) if self.components else \
                torch.zeros(labels.n_frames, dtype=torch.bool)
            self.fitted = torch.zeros(len(self.sources), dtype=torch.bool)
            self.fitted[index[has]] = True
            if not self.fitted.any():
                raise ConfigError("loss.stress_offset: fit needs stress labels, but no training frame has "
                                  "them (periodic frames with stress); set loss.stress_offset: none")
        else:
            index = torch.tensor([self._index(n) for n in names], dtype=torch.long)
        self._sets[role] = (labels, labels.stress[:, :_NORMAL].clone(), index)
        self.apply()

    def _index(self, name: str) -> int:
        if self.mode == "fixed":
            return 0
        if name in self.sources:
            return self.sources.index(name)
        fitted = torch.nonzero(self.fitted).squeeze(1).tolist()
        return fitted[0] if len(fitted) == 1 else -1

    def offsets(self, role: str) -> torch.Tensor:
        """s of each frame of a label set (eV/Å³; 0 where none applies)."""
        _, _, index = self._sets[role]
        known = index >= 0
        out = torch.zeros(len(index), dtype=torch.float64)
        out[known] = self.values[index[known]]
        return out

    def apply(self) -> None:
        """Write label + s·I into every attached label set (normal components)."""
        for role, (labels, raw, _) in self._sets.items():
            labels.stress[:, :_NORMAL] = raw + self.offsets(role).unsqueeze(1)

    @contextlib.contextmanager
    def raw_labels(self, role: str) -> Iterator[None]:
        """The uncorrected labels of ``role`` inside the block (for the errors against them)."""
        labels, raw, _ = self._sets[role]
        corrected = labels.stress[:, :_NORMAL].clone()
        labels.stress[:, :_NORMAL] = raw
        try:
            yield
        finally:
            labels.stress[:, :_NORMAL] = corrected

    # -- the closed-form fit --------------------------------------------------------------------------
    def refit(self, trainer) -> None:
        """``fit``: s of each source at its optimum for the model as it is (the weighted mean
        of prediction − label over the loss's normal components); applied to all label sets."""
        if self.mode != "fit":
            return
        with torch.no_grad():
            values = self._optimum(trainer)
        if not torch.isfinite(values).all():
            raise NonFiniteError(f"epoch {trainer.epoch}: the fitted stress offset is not finite")
        self.values = values
        self.apply()

    def _optimum(self, trainer) -> torch.Tensor:
        model, data = trainer.model, trainer.train_data
        labels, raw, index = self._sets["train"]
        comps = torch.tensor(self.components, dtype=torch.long)
        has = ~torch.isnan(raw[:, comps]).any(1)
        num = torch.zeros(len(self.sources), dtype=torch.float64)
        den = torch.zeros(len(self.sources), dtype=torch.float64)
        for frames in trainer.chunks(data):
            frames = frames[has[frames]]
            if not len(frames):
                continue
            batch = model.batch(data, frames, derivatives=True)
            out = model.predict(batch, forces=False, stress=True)
            if out.stress is None:
                raise ConfigError(f"loss.stress_offset: a {model.kind} model predicts no stress; set "
                                  "loss.stress_offset: none")
            check_output(out, batch, labels.names, f"epoch {trainer.epoch}, stress offset")
            w = trainer.loss.frame_factors(batch, labels.config_types)
            residual = (out.stress[:, comps] - raw[frames][:, comps]).sum(1)
            num.index_add_(0, index[frames], w * residual)
            den.index_add_(0, index[frames], w * len(self.components))
        return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), self.values)

    # -- state and reports ----------------------------------------------------------------------------
    def state(self) -> dict:
        """What a checkpoint keeps (the values; the sources to check them against)."""
        return {"sources": list(self.sources), "values": self.values.clone(), "convention": CONVENTION}

    def load_state(self, state: dict) -> None:
        if list(state["sources"]) != self.sources:
            raise ConfigError(f"loss.stress_offset: the checkpoint's sources ({', '.join(state['sources'])}) "
                              f"differ from the data's ({', '.join(self.sources)}); resume with the same data")
        values = state["values"].clone().to(torch.float64)
        # a checkpoint written before the sign convention was recorded holds the offset
        # present in the labels, the opposite of s
        if state.get("convention") == CONVENTION:
            self.values = values
        else:
            self.values = -values
            _note_legacy("checkpoint", self.sources, [v / GPa for v in values.tolist()])
        self.apply()

    def values_gpa(self) -> dict[str, float | None]:
        """s of each source in GPa (None: a source without stress labels, nothing fitted)."""
        return {name: (float(v) / GPa if ok else None)
                for name, v, ok in zip(self.sources, self.values.tolist(), self.fitted.tolist())}

    def short(self) -> str:
        """``s 2.310 GPa`` (one value per fitted source) for the log lines."""
        return "s " + ", ".join(f"{v:.3f}" for v in self.values_gpa().values() if v is not None) + " GPa"

    def applied(self, role: str, data_sources: Sequence[str | None]) -> str:
        """Which correction the labels of ``role`` received, in words."""
        if self.mode == "fixed":
            return f"fixed offset {float(self.values[0]) / GPa:.4g} GPa on every frame"
        names = {s if s is not None else "data given in code" for s in data_sources}
        own = names & set(self.sources)
        other = names - own
        words = []
        if own:
            words.append("the fitted offset of the frame's training source")
        if other:
            i = self._index(next(iter(other)))
            words.append(f"other files: the one fitted offset ({float(self.values[i]) / GPa:.4g} GPa)"
                         if i >= 0 else "other files: none (several offsets were fitted)")
        return "; ".join(words)

    def record(self) -> dict:
        """The facts for summary.json and the model's metadata."""
        return {"mode": self.mode, "meaning": MEANING, "convention": CONVENTION,
                "values_gpa": self.values_gpa()}


def recorded_offsets_gpa(record: dict) -> dict[str, float | None]:
    """The values of a model's recorded ``stress_offset`` (:meth:`StressOffset.record`) as s in
    today's convention (added to the labels); older records without ``convention`` held the
    offset present in the labels, which is −s."""
    sign = 1.0 if record.get("convention") == CONVENTION else -1.0
    values = record.get("values_gpa") or {}
    if sign < 0:
        _note_legacy("model metadata", list(values), [v for v in values.values() if v is not None])
    return {name: (None if v is None else sign * float(v)) for name, v in values.items()}


def _note_legacy(what: str, sources: Sequence[str], values_gpa: Sequence[float]) -> None:
    """One line (a warning, which the CLI prints as a line) saying that a record without
    ``convention`` is read with its sign turned, so the flip is never silent."""
    shown = ", ".join(f"{float(v):.4g}" for v in values_gpa)
    warnings.warn(f"{what}: stress_offset ({', '.join(map(str, sources)) or 'no sources'}) has no 'convention': "
                  f"written before s was the offset added to the labels, its values ({shown} GPa) are read "
                  "as the offset present in the labels, s = -value", stacklevel=3)
