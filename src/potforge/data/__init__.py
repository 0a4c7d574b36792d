"""Data layer: frames (``ase.Atoms`` + labels), data sets, their labels as tensors
(:mod:`.labels`), and file formats — structure files (:mod:`.io`), n2p2 model files
(:mod:`.n2p2_model`) and LAMMPS potential files (:mod:`.lammps`) as plain data."""

from .dataset import Dataset, LabelStatistics
from .frame import LABELS, Frame
from .io import detect_format, iter_frames, read_frames, write_frames

__all__ = ["Frame", "LABELS", "Dataset", "LabelStatistics", "read_frames", "iter_frames",
           "write_frames", "detect_format"]
