"""Data layer: frames (``ase.Atoms`` + labels), data sets, and file formats."""

from .dataset import Dataset, LabelStatistics
from .frame import LABELS, Frame
from .io import detect_format, iter_frames, read_frames, write_frames

__all__ = ["Frame", "LABELS", "Dataset", "LabelStatistics", "read_frames", "iter_frames",
           "write_frames", "detect_format"]
