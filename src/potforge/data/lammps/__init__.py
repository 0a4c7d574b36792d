"""LAMMPS files as plain data: setfl (``eam/alloy``), Tersoff and Stillinger–Weber parameter
files, ``pair_style table`` files, and ``in.lammps`` scripts — read and written exactly as
LAMMPS (22 Jul 2025) reads them, with one-line errors naming file and line.

No models here: the classical families turn themselves into these files and back
(:mod:`potforge.models.classical.lammps`).
"""

from .input_script import input_script
from .parameter_files import SW_KEYS, TERSOFF_KEYS, Entry, read_sw, read_tersoff, write_sw, write_tersoff
from .setfl import SetflData, read_setfl, write_setfl
from .table import TableSection, read_table, write_table

__all__ = ["SetflData", "read_setfl", "write_setfl", "TERSOFF_KEYS", "SW_KEYS", "Entry",
           "read_tersoff", "write_tersoff", "read_sw", "write_sw", "TableSection", "read_table",
           "write_table", "input_script"]
