"""Apply a potential to frames: predictions as frames, and an extrapolation summary.

n2p2 prints one warning line per symmetry-function value outside the training range
[min, max] of ``scaling.data``; potforge counts them per atom and per frame, keeps the counts
in the output (``extrapolations`` per frame and per atom) and summarises them in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import NonFiniteError, PotforgeError
from ..data.frame import Frame
from ..data.labels import frame_total_charge
from ..models.potential import Potential, Prediction

__all__ = ["PredictionSummary", "predict_frames", "predict_file", "check_finite"]


def check_finite(prediction: Prediction, *, source: str | None = None, frame: int | None = None) -> None:
    """Refuse a prediction with a NaN or an infinity: a :class:`NonFiniteError` that names the
    frame and the first such quantity (energy, the force on atom i, a stress component)."""
    what = prediction.nonfinite()
    if what is not None:
        raise NonFiniteError(f"the model gives a non-finite {what}; nothing written (a model "
                             "parameter out of range, or a structure far outside what the model "
                             "knows)", path=source, frame=frame)


@dataclass
class PredictionSummary:
    """Counts gathered while predicting (extrapolations: descriptor values outside training range)."""

    n_frames: int = 0
    n_atoms: int = 0
    n_extrapolations: int = 0
    n_atoms_extrapolating: int = 0
    frames_extrapolating: list[int] = field(default_factory=list)
    has_extrapolation_check: bool = False

    def add(self, index: int, frame: Frame, prediction: Prediction) -> None:
        self.n_frames += 1
        self.n_atoms += frame.n_atoms
        if prediction.extrapolations is not None:
            self.has_extrapolation_check = True
            count = int(prediction.extrapolations.sum())
            if count:
                self.n_extrapolations += count
                self.n_atoms_extrapolating += int(np.count_nonzero(prediction.extrapolations))
                self.frames_extrapolating.append(index)

    def line(self) -> str:
        """One-line summary for the terminal."""
        if not self.has_extrapolation_check:
            return f"{self.n_frames} frames, {self.n_atoms} atoms (model has no extrapolation check)"
        if not self.n_extrapolations:
            return (f"{self.n_frames} frames, {self.n_atoms} atoms: no extrapolation warnings "
                    "(all symmetry functions inside the training range)")
        shown = ", ".join(str(k) for k in self.frames_extrapolating[:10])
        more = "" if len(self.frames_extrapolating) <= 10 else ", ..."
        return (f"{self.n_frames} frames, {self.n_atoms} atoms: EXTRAPOLATION WARNING: "
                f"{self.n_extrapolations} symmetry-function values outside the training range in "
                f"{self.n_atoms_extrapolating} atoms of {len(self.frames_extrapolating)} frames "
                f"(frames {shown}{more}); predictions there are unreliable")


def predict_frames(potential: Potential, frames: Iterable[Frame], *, keep_reference: bool = False,
                   summary: PredictionSummary | None = None, source: str | None = None) -> Iterator[Frame]:
    """Yield one output frame per input frame with the predicted energy, per-atom energies,
    forces, stress (periodic), charges (charge models) and extrapolation counts (info
    ``extrapolations`` and per-atom array ``extrapolations``). With ``keep_reference`` the
    input's labels are kept as ``ref_energy`` (info), ``ref_forces`` and ``ref_charges``
    (per-atom arrays). Errors name ``source`` and the frame index.

    A charge model receives the frame's total charge as ``atoms.info["total_charge"]`` (the
    frame's label, else the sum of its reference charges, else 0: the QEq constraint); the
    output frame keeps that total charge."""
    for index, frame in enumerate(frames):
        total_charge = frame_total_charge(frame)
        structure = frame.atoms
        if total_charge != 0.0 or "total_charge" in structure.info:
            structure = structure.copy()
            structure.info["total_charge"] = total_charge
        try:
            prediction = potential.predict(structure, forces=True, stress=True)
        except PotforgeError as err:
            raise type(err)(err.reason, path=source, frame=index) from None
        check_finite(prediction, source=source, frame=index)
        atoms = frame.atoms.copy()
        info = {k: v for k, v in frame.info.items()}
        if keep_reference:
            if frame.energy is not None:
                info["ref_energy"] = frame.energy
            if frame.forces is not None:
                atoms.arrays["ref_forces"] = frame.forces.copy()
            if frame.charges is not None and prediction.charges is not None:
                atoms.arrays["ref_charges"] = frame.charges.copy()
        if prediction.extrapolations is not None:
            info["extrapolations"] = int(prediction.extrapolations.sum())
            atoms.arrays["extrapolations"] = prediction.extrapolations.astype(np.int64)
        _add_extras(prediction.extras, info, atoms)
        out = Frame(atoms, energy=prediction.energy, forces=prediction.forces,
                    stress=prediction.stress, charges=prediction.charges,
                    total_charge=frame.total_charge if prediction.charges is None else total_charge,
                    atomic_energies=prediction.energies, config_type=frame.config_type,
                    group=frame.group, weight=frame.weight, info=info)
        if summary is not None:
            summary.add(index, frame, prediction)
        yield out


def _add_extras(extras: dict, info: dict, atoms) -> None:
    """A model's extra outputs (a committee's spreads) into the output frame: numbers into
    ``info``, per-atom arrays (first axis n_atoms) into ``atoms.arrays``, others (stress_std:
    6 values) into ``info`` as lists; names unchanged."""
    n = len(atoms)
    for name, value in extras.items():
        if isinstance(value, (int, float, np.integer, np.floating)):
            info[name] = value.item() if hasattr(value, "item") else value
            continue
        array = np.asarray(value)
        per_atom = array.ndim >= 1 and array.shape[0] == n and "stress" not in name   # (6,) of a 6-atom cell
        if per_atom and name not in atoms.arrays:
            atoms.arrays[name] = array.astype(np.float64)
        elif array.size:
            info[name] = array.astype(np.float64)


def predict_file(potential: Potential, input_path, output_path, *, length_unit: str = "angstrom",
                 energy_unit: str = "ev", keep_reference: bool = False, progress=None,
                 provenance: dict | None = None) -> PredictionSummary:
    """Predict every frame of a data file and write them atomically to a file whose name says
    the format (:func:`potforge.data.io.write_frames`: ``*.xyz`` extended XYZ in eV/Å with a
    ``charges`` column for charge models; ``*.data`` n2p2 input.data in ``length_unit`` and
    ``energy_unit``, predicted charges in its charge column; ``*.db``).

    ``progress`` wraps the frame list (e.g. a progress bar); ``provenance`` entries (model,
    version) are added to every output frame's info. Nothing is written if any frame fails:
    every frame is predicted (and checked finite) before the output file is opened, so neither
    an error nor a crash inside a model leaves a partial or temporary file, and an existing
    output stays as it was.
    """
    import os

    from ..core.errors import DataFormatError
    from ..data.io import detect_format, iter_frames, write_frames

    if os.path.isdir(output_path):
        raise DataFormatError("is a directory; expected the name of the output file",
                              path=os.fspath(output_path))
    detect_format(output_path, write=True)  # a name potforge cannot write fails before the work
    frames = list(iter_frames(input_path, length_unit=length_unit, energy_unit=energy_unit))
    if not frames:
        raise DataFormatError("holds no structures", path=os.fspath(input_path))
    summary = PredictionSummary()
    outputs = predict_frames(potential, progress(frames) if progress else frames,
                             keep_reference=keep_reference, summary=summary,
                             source=os.fspath(input_path))
    if provenance:
        outputs = (_with_info(f, provenance) for f in outputs)
    outputs = list(outputs)
    write_frames(output_path, outputs, length_unit=length_unit, energy_unit=energy_unit)
    return summary


def _with_info(frame: Frame, extra: dict) -> Frame:
    frame.info.update(extra)
    return frame
