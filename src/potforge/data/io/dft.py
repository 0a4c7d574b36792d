"""Outputs of electronic-structure codes, read through ``ase.io`` into labelled frames.

Files: VASP ``OUTCAR`` and ``vasprun.xml``, Quantum ESPRESSO ``pw.x`` output, FHI-aims output,
CASTEP ``.castep``, GPAW text output, Qbox XML, NWChem, ONETEP, Gaussian, ORCA, ABINIT and
any other file that ``ase.io`` reads (ASE trajectories, ...); gzip/bzip2/xz compressed ones
too. CP2K's trajectories (``PROJECT-pos-1.xyz`` with its forces and cell files), which ASE
does not read with their labels, are read by :mod:`.dft_cp2k`. The format follows from the name (``*OUTCAR*``, ``*vasp*.xml``, ``*.castep``, the names
ASE knows), else from the content (ASE's signature strings, e.g. ``Program PWSCF``), or is
named: ASE's format name (``vasp-out``, ``espresso-out``, ``aims-output``, ...) or one of
:data:`ALIASES` (``outcar``, ``vasprun``, ``espresso``, ``aims``, ``castep``, ``gpaw``, ...).

Labels, in potforge's units and signs. ASE's readers convert each code's units and signs and
potforge takes their values: energy eV, forces eV/Å, stress eV/Å³ in Voigt order
xx yy zz yz xz xy with σ = (1/V) ∂E/∂ε, so a compressed cell has negative stress (VASP's
``in kB`` line is −σ in kbar, order XX YY ZZ XY YZ ZX; QE prints −σ too). One deviation:
ASE's Qbox reader leaves Qbox's atomic units unconverted; potforge converts them (see
:func:`_qbox_units`).

Energy: ``energy="free"`` (the default) takes the free energy F = E − TS of the smeared
electrons, the energy whose derivatives the forces are: VASP's ``free energy TOTEN``, QE's
``!    total energy``, FHI-aims' ``Electronic free energy``, CASTEP's ``Final free energy``.
``energy="sigma0"`` takes ASE's ``energy``, the energy extrapolated to zero smearing (VASP's
``energy(sigma->0)``, aims' ``Total energy corrected``; QE has none and gives F again). Files
that carry a single energy (GPAW text output: the extrapolated one; Qbox; molecular codes)
give it for both choices. ``Frame.info["dft_energy"]`` names the quantity each frame holds
(``free_energy`` or ``energy``, ASE's names) and ``Frame.info["dft_step"]`` the step (from 0).

Steps: every ionic step (relaxation, MD) becomes a frame, in file order, by these rules.

- A step needs an energy, and forces if any step of the file has them. A step other than the
  last without them is a :class:`DataFormatError` naming it (a damaged file, or two runs).
- The last step is dropped, with a warning that names it, when it lacks an energy, forces the
  other steps have, stress the step before has, or cannot be read at all: a run stopped in
  its last step. Where the code writes a line when a run ends (VASP, QE ``JOB DONE``, GPAW's
  timing table, Qbox) and the file lacks it, a last step without forces is dropped too; where
  the file has it, an unreadable last step is damage: an error.
- Any other unreadable step is an error naming the step and the line where it begins, found
  by re-reading the file cut at the step starts; a non-finite value is an error naming the
  step. Never an ASE traceback. No complete step at all is an error.
- ASE reads only finished FHI-aims and CASTEP runs (told to read an unfinished aims run it
  mixes values of unfinished SCF cycles into the steps): their stopped runs are errors.
- A structure-only format (POSCAR, CIF, ...) gives unlabelled frames.

What no rule can see: a single-point run stopped after its energy and before its stress,
or a GPAW run stopped between its DFT energy and its van der Waals correction, gives the
values printed so far.

Names: ``group`` is the file's path (the steps of one run are correlated and are never split
between training and test sets); ``config_type`` is the file name without its extension,
or, for VASP's fixed names, the rest after ``OUTCAR``/``vasprun`` (``OUTCAR.relax`` →
``relax``) and the directory's name when nothing is left (``runs/Cu_vac/OUTCAR`` →
``Cu_vac``). Both can be given instead.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from ...core.errors import DataFormatError
from ..frame import Frame

__all__ = ["ALIASES", "CODES", "ENERGIES", "dft_format", "sniff_format", "iter_dft", "read_dft"]

#: The energies a frame can take from a DFT output (see the module's docstring).
ENERGIES = ("free", "sigma0")


@dataclass(frozen=True)
class Code:
    """What potforge knows about one code's output beyond ASE's reader.

    ``step_start`` matches the line that begins an ionic step (as ASE's reader counts steps):
    it names the step and line of errors, and lets potforge re-read a file without its
    unfinished last step. ``counted``: ASE drops an unfinished last step without saying so;
    potforge counts the steps begun to report it. ``finished`` matches a line the code writes
    when the run ends: in such a file an unreadable last step is damage, not a stopped run.
    """

    description: str
    step_start: str | None = None
    counted: bool = False
    finished: str | None = None


#: Codes whose outputs must carry energies (other ASE formats may be structures only).
CODES: dict[str, Code] = {
    "vasp-out": Code("VASP OUTCAR", r"Iteration\s+\d+\(\s*1\)", counted=True,
                     finished=r"General timing and accounting"),
    "vasp-xml": Code("VASP vasprun.xml", r"<calculation>", counted=True, finished=r"</modeling>"),
    "espresso-out": Code("Quantum ESPRESSO pw.x output", r"^!\s+total energy", counted=True,
                         finished=r"JOB DONE"),
    # told to read an unfinished aims run, ASE takes the last energy printed, even one inside
    # an unfinished SCF cycle: potforge keeps ASE's refusal (a stopped run is an error)
    "aims-output": Code("FHI-aims output"),
    "castep-castep": Code("CASTEP .castep output"),
    "gpaw-out": Code("GPAW text output", r"^positions:", finished=r"^Timing:"),
    "qbox": Code("Qbox XML output", r"<iteration\b", counted=True, finished=r"</\w+:simulation>"),
    "nwchem-out": Code("NWChem output"),
    "onetep-out": Code("ONETEP output"),
    "gaussian-out": Code("Gaussian output"),
    "orca-output": Code("ORCA output"),
    "abinit-out": Code("ABINIT output"),
    "gamess-us-out": Code("GAMESS-US output"),
    "turbomole-gradient": Code("TURBOMOLE gradient file"),
}

#: Short names users may give for ASE's format names.
ALIASES = {"outcar": "vasp-out", "vasprun": "vasp-xml", "vasprun.xml": "vasp-xml",
           "espresso": "espresso-out", "qe": "espresso-out", "pw": "espresso-out",
           "aims": "aims-output", "fhi-aims": "aims-output", "castep": "castep-castep",
           "gpaw": "gpaw-out", "nwchem": "nwchem-out", "onetep": "onetep-out",
           "gaussian": "gaussian-out", "orca": "orca-output", "abinit": "abinit-out"}

# formats potforge reads itself: extxyz, input.data (ASE's runnerdata), ASE databases
_NOT_HERE = {"extxyz", "db", "runnerdata", "postgresql", "mysql"}
_SIGNATURE_BYTES = 50_000


def dft_format(name: str) -> str:
    """ASE's name of a format named by the user (an alias or ASE's own name; ``cp2k``: a CP2K
    trajectory, read by :mod:`.dft_cp2k`)."""
    from ase.io.formats import ioformats

    fmt = ALIASES.get(name.lower(), name)
    if fmt == "cp2k":
        return fmt
    io = ioformats.get(fmt)
    if io is None or not io.can_read or fmt in _NOT_HERE:
        from ...core.errors import nearest

        known = sorted(set(CODES) | set(ALIASES) | {"cp2k"})
        guess = nearest(name, known + ["extxyz", "n2p2", "ase-db"])
        hint = f" (did you mean {guess}?)" if guess else ""
        raise DataFormatError(f"unknown format {name!r}{hint}; expected extxyz, n2p2, ase-db, one "
                              f"of the DFT outputs {', '.join(known)}, or another format ase.io reads")
    return fmt


def sniff_format(path: str | os.PathLike) -> str | None:
    """ASE's format of a file from its name, else its first bytes; None if neither tells.

    An extension alone is trusted only for formats without a signature: ``x.out`` that does
    not contain ``Program PWSCF`` is not taken for a Quantum ESPRESSO output.
    """
    return _sniff(path)[0]


def _sniff(path: str | os.PathLike) -> tuple[str | None, str]:
    """:func:`sniff_format` and what told: ``name``, ``content`` or ``extension``."""
    from ase.io.formats import extension2format, get_compression, ioformats, match_magic

    from .dft_cp2k import CP2K_NAME

    root, _ = get_compression(os.fspath(path))
    base = os.path.basename(root)
    if CP2K_NAME.match(base):
        return "cp2k", "name"
    for io in ioformats.values():
        if io.can_read and io.match_name(base):
            return (io.name if io.name not in _NOT_HERE else None), "name"
    io, how = None, "content"
    if Path(path).is_file():
        from ase.io.formats import open_with_compression

        try:
            with open_with_compression(os.fspath(path), "rb") as handle:
                io = match_magic(handle.read(_SIGNATURE_BYTES))
        except Exception:  # unreadable or no signature: the extension may tell
            pass
    if io is None:
        ext = os.path.splitext(base)[1].lstrip(".").lower()
        io, how = extension2format.get(ext), "extension"
        if io is not None and io.magic and Path(path).is_file():
            return None, how
        if io is not None and io.name not in CODES:
            return None, how    # "*.md" is not a CASTEP MD file just for its name: say so
    if io is None or not io.can_read or io.name in _NOT_HERE:
        return None, how
    return io.name, how


def default_names(path: str | os.PathLike) -> tuple[str, str]:
    """``(config_type, group)`` of the frames of a file when none are given (module docstring)."""
    from ase.io.formats import get_compression

    p = Path(get_compression(os.fspath(path))[0])
    name = p.name
    for fixed in ("OUTCAR", "vasprun"):
        if name.startswith(fixed):
            rest = name[len(fixed):]
            rest = rest[:-4] if rest.lower().endswith(".xml") else rest
            name = rest.strip("._-")
            break
    else:
        name = p.stem or name
    if not name:
        name = Path(os.path.abspath(p)).parent.name or "run"
    return name, os.fspath(path)


def read_dft(path: str | os.PathLike, format: str | None = None, **options) -> list[Frame]:
    """All frames of a DFT output (see :func:`iter_dft`)."""
    return list(iter_dft(path, format, **options))


def iter_dft(path: str | os.PathLike, format: str | None = None, *, energy: str = "free",
             config_type: str | None = None, group: str | None = None) -> Iterator[Frame]:
    """Yield the labelled ionic steps of a DFT output (rules in the module's docstring).

    Parameters
    ----------
    path : the file (compressed or not)
    format : ASE's format name or an alias; None: from the name or the content
    energy : ``"free"`` (free energy, consistent with the forces) or ``"sigma0"``
    config_type, group : names for every frame; None: from the file's path
    """
    name = os.fspath(path)
    if energy not in ENERGIES:
        raise DataFormatError(f"energy {energy!r} is not one of {', '.join(ENERGIES)} (free: the "
                              "free energy the forces belong to; sigma0: extrapolated to zero smearing)")
    fmt, how = (dft_format(format), "") if format is not None else _sniff(path)
    if fmt is None:
        raise DataFormatError("cannot tell which code wrote this file; name the format (e.g. "
                              "--format outcar / data.format: espresso-out)", path=name)
    if not Path(path).is_file():
        raise DataFormatError("a directory, not a file" if Path(path).is_dir() else "no such file",
                              path=name)
    if fmt == "cp2k":
        from .dft_cp2k import iter_cp2k

        yield from iter_cp2k(path, config_type=config_type, group=group)
        return
    code = CODES.get(fmt, Code(f"{fmt} file (read by ase.io)"))
    try:
        if fmt in CODES:
            _check_line_lengths(name, code)
        images, lost, finished = _read_steps(name, fmt, code)
        if not images and lost:
            raise DataFormatError(f"no complete step: {lost}", path=name)
        frames, incomplete = _frames(name, code, images, energy, required=fmt in CODES,
                                     finished=finished)
        if not frames:
            raise DataFormatError(f"no complete step: {incomplete}", path=name)
    except DataFormatError as err:
        if how != "extension":
            raise
        raise DataFormatError(f"{err.reason}; {fmt} was a guess from the file's extension: potforge "
                              "reads *.xyz/*.extxyz, input.data/*.data, *.db and DFT outputs, or "
                              "name the format (--format)", path=name, line=err.line) from None
    note = lost or incomplete  # both: the same unfinished step, cut off and then incomplete
    if note is not None:
        warnings.warn(f"{name}: {note}", stacklevel=2)
    default_type, default_group = default_names(path)
    for step, frame in frames:
        frame.config_type = config_type if config_type is not None else default_type
        frame.group = group if group is not None else default_group
        frame.info["dft_step"] = step
        yield frame


# -- reading: ASE's reader, and what to do when it fails ----------------------------------------
def _ase_read(path: str, fmt: str) -> list[Atoms]:
    import ase.io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ASE's notices about its plugins and formats
        images = ase.io.read(path, index=":", format=fmt)
    return list(images) if isinstance(images, list) else [images]


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


#: No DFT code writes a text line this long; ASE's line-based readers can take minutes on one
#: (CASTEP's with a 150 kB line), so such a file is refused as damaged before ASE sees it.
MAX_LINE_BYTES = 65_536


def _check_line_lengths(path: str, code: Code) -> None:
    """Refuse a text output with a line longer than :data:`MAX_LINE_BYTES` (file and line)."""
    from ase.io.formats import open_with_compression

    number, length = 1, 0
    with open_with_compression(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            start = 0
            while (newline := chunk.find(b"\n", start)) >= 0:
                length += newline - start
                if length > MAX_LINE_BYTES:
                    break
                number, length, start = number + 1, 0, newline + 1
            else:
                length += len(chunk) - start
            if length > MAX_LINE_BYTES:
                raise DataFormatError(f"a line of more than {MAX_LINE_BYTES} bytes, which no "
                                      f"{code.description} has: the file is damaged", path=path,
                                      line=number)


def _scan(path: str, code: Code) -> tuple[list[tuple[int, int]], bool]:
    """``(line number, byte offset)`` of each line that begins a step, and whether the file
    has the line the code writes when a run ends."""
    if code.step_start is None and code.finished is None:
        return [], False
    from ase.io.formats import open_with_compression

    # on bytes: the patterns are ASCII, and a stray byte of a damaged file must not stop the scan
    pattern = re.compile((code.step_start or r"(?!)").encode(), re.IGNORECASE)
    end = re.compile(code.finished.encode()) if code.finished else None
    starts, offset, finished = [], 0, False
    with open_with_compression(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if pattern.search(line):
                starts.append((number, offset))
            elif end is not None and end.search(line):
                finished = True
            offset += len(line)
    return starts, finished


def _read_steps(path: str, fmt: str, code: Code) -> tuple[list[Atoms], str | None, bool | None]:
    """ASE's images of the file; if its last step was dropped, a sentence that says so; whether
    the run finished (None: the code writes no line that tells)."""
    starts, finished = _scan(path, code)
    done = finished if code.finished else None
    try:
        images = _ase_read(path, fmt)
    except Exception as err:  # any failure of ASE's parser becomes one line about the file
        images, lost = _read_without_last(path, fmt, code, err, starts, finished)
        return (_qbox_units(path, images) if fmt == "qbox" else images), lost, done
    if fmt == "qbox":
        images = _qbox_units(path, images)
    if not code.counted:
        return images, None, done
    if len(images) < len(starts) - 1 or (finished and len(images) < len(starts)):
        raise DataFormatError(f"ase.io read {len(images)} of the {len(starts)} steps the file "
                              f"begins; the file is damaged", path=path)
    if len(images) == len(starts) - 1:
        return images, (f"step {len(starts)} (from line {starts[-1][0]}) is unfinished, dropped "
                        "(the run was stopped in it?)"), done
    return images, None, done


def _read_without_last(path: str, fmt: str, code: Code, err: BaseException,
                       starts: list[tuple[int, int]], finished: bool) -> tuple[list[Atoms], str]:
    """After ASE failed: read the file cut before the last step begins; if that reads, the last
    step is dropped with a warning, else the first step that cannot be read is found (by
    bisection over the step starts) and named in the error."""
    if not starts:
        raise DataFormatError(f"not a readable {code.description} ({_reason(err)})", path=path) from None
    from ase.io.formats import get_compression, open_with_compression

    with open_with_compression(path, "rb") as handle:
        data = handle.read()
    n = len(starts)
    with tempfile.TemporaryDirectory(prefix="potforge-dft-") as tmp:
        cut = os.path.join(tmp, os.path.basename(get_compression(path)[0]))

        def first(k: int) -> list[Atoms] | None:  # ASE's images of the first k steps, None: fails
            with open(cut, "wb") as handle:
                handle.write(data[:starts[k][1]] if k < n else data)
            try:
                return _ase_read(cut, fmt)
            except Exception:
                return None

        # a stopped run may end inside its last step; a finished run's last step is damaged
        images = None if finished else first(n - 1)
        if images is not None:
            return images, (f"step {n}, the last (from line {starts[-1][0]}), cannot be read and is "
                            f"dropped; the run was stopped in it? ({_reason(err)})")
        low, high = 0, n if finished else max(n - 1, 1)  # the first `low` steps read, `high` not
        while high - low > 1:
            mid = (low + high) // 2
            if first(mid) is None:
                high = mid
            else:
                low = mid
    before = " (or the text before it)" if high == 1 else ""
    raise DataFormatError(f"step {high} of {n}{before} cannot be read ({_reason(err)})",
                          path=path, line=starts[high - 1][0]) from None


def _qbox_units(path: str, images: list[Atoms]) -> list[Atoms]:
    """Qbox's steps in Å and eV. ASE's Qbox reader passes on Qbox's atomic units (bohr,
    hartree, hartree/bohr) and its total stress in GPa unconverted. Qbox's stress is
    σ = −(1/Ω) ∂E/∂ε (its cell steppers move the cell by ∂E/∂A = −Ω σ A⁻ᵀ), the opposite sign
    of ASE's, and its total adds the kinetic and applied-stress terms: potforge takes the
    stress of the energy alone (``sigma_eks``), in eV/Å³ with ASE's sign."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.units import Bohr, GPa, Hartree

    stresses = _qbox_energy_stresses(path)
    if len(stresses) < len(images):
        raise DataFormatError(f"ase.io read {len(images)} steps but the file has "
                              f"{len(stresses)} <iteration> blocks", path=path)
    converted = []
    for atoms, stress in zip(images, stresses):
        results = atoms.calc.results if atoms.calc is not None else {}
        new = Atoms(numbers=atoms.numbers, positions=atoms.positions * Bohr,
                    cell=atoms.cell.array * Bohr, pbc=atoms.pbc)
        labels = {}
        if results.get("energy") is not None:
            labels["energy"] = results["energy"] * Hartree
        if results.get("forces") is not None:
            labels["forces"] = np.asarray(results["forces"]) * (Hartree / Bohr)
        if stress is not None:
            labels["stress"] = -stress * GPa
        new.calc = SinglePointCalculator(new, **labels) if labels else None
        converted.append(new)
    return converted


def _qbox_energy_stresses(path: str) -> list[np.ndarray | None]:
    """``sigma_eks`` of each ``<iteration>`` block, Voigt order, GPa, Qbox's sign."""
    from ase.io.formats import open_with_compression

    value = re.compile(r"<sigma_eks_(xx|yy|zz|yz|xz|xy)>\s*(\S+)\s*<")
    stresses: list[np.ndarray | None] = []
    block: dict[str, float] | None = None
    with open_with_compression(path, "r") as handle:
        for number, line in enumerate(handle, start=1):
            if "<iteration" in line:
                block = {}
            elif block is not None and "</iteration>" in line:
                keys = ("xx", "yy", "zz", "yz", "xz", "xy")
                stresses.append(np.array([block[k] for k in keys]) if all(k in block for k in keys)
                                else None)
                block = None
            elif block is not None:
                match = value.search(line)
                if match:
                    try:
                        block[match.group(1)] = float(match.group(2))
                    except ValueError:
                        raise DataFormatError(f"{match.group(2)!r} is not a number", path=path,
                                              line=number) from None
    return stresses


# -- labels ---------------------------------------------------------------------------------------
def _energy(results: dict, energy: str) -> tuple[float | None, str | None]:
    if energy == "free" and results.get("free_energy") is not None:
        return results["free_energy"], "free_energy"
    if results.get("energy") is not None:
        return results["energy"], "energy"
    return None, None


def _frames(path: str, code: Code, images: list[Atoms], energy: str, *, required: bool,
            finished: bool | None) -> tuple[list[tuple[int, Frame]], str | None]:
    """Frames of ASE's images by the rules of the module's docstring, and a sentence about a
    dropped last step (``required``: a code's output, which must have energies; other ASE
    formats may hold structures only; ``finished``: whether the run ended, None: unknown)."""
    results = [dict(a.calc.results) if a.calc is not None else {} for a in images]
    energies = [_energy(r, energy) for r in results]
    has = [{"energy": e is not None, "forces": r.get("forces") is not None,
            "stress": r.get("stress") is not None} for (e, _), r in zip(energies, results)]
    labelled = any(h["energy"] or h["forces"] for h in has)
    if not images or (required and not labelled):
        raise DataFormatError(f"no step with an energy (read as {code.description}; if another "
                              "code wrote it, name the format)", path=path)
    need_forces = any(h["forces"] for h in has)
    n = len(images)
    for k in range(n - 1):
        lacking = [x for x in ("energy", "forces") if labelled and not has[k][x]
                   and (x == "energy" or need_forces)]
        if lacking or _misshapen(images[k], results[k]):
            what = f"has no {lacking[0]} (other steps have)" if lacking else \
                _misshapen(images[k], results[k])
            raise DataFormatError(f"step {k + 1} of {n} {what}; the file is damaged or holds more "
                                  "than one run", path=path)
    note = None
    if labelled:  # the last step of a stopped run: missing what the run has, or unfinished
        stopped = finished is False  # a stopped run's last step may miss what it was computing
        lacking = [f"has no {x}" for x in ("energy", "forces", "stress") if not has[-1][x] and (
            x == "energy" or (x == "forces" and (need_forces or stopped)) or (n > 1 and has[-2][x]))]
        lacking += [_misshapen(images[-1], results[-1])] if _misshapen(images[-1], results[-1]) else []
        if lacking and finished and not lacking[0].startswith("has no"):
            raise DataFormatError(f"step {n} of {n} {lacking[0]}", path=path)
        if lacking:
            why = "the run did not finish" if stopped else "the run was stopped in it?"
            note = f"step {n}, the last, {lacking[0]}: dropped ({why})"
            n -= 1
    return [(k, _frame(path, k, images[k], results[k], energies[k])) for k in range(n)], note


def _misshapen(atoms: Atoms, results: dict) -> str | None:
    """What is wrong with the shape of a step's forces or stress (a half-read block), or None."""
    shapes = {"forces": [(len(atoms), 3)], "stress": [(6,), (3, 3)]}
    for label, allowed in shapes.items():
        value = results.get(label)
        if value is not None and np.shape(value) not in allowed:
            return f"has {label} of shape {np.shape(value)}, expected {allowed[0]}"
    return None


def _frame(path: str, k: int, atoms: Atoms, results: dict, energy: tuple) -> Frame:
    value, kind = energy
    labels = {"energy": value, "forces": results.get("forces"), "stress": results.get("stress")}
    for label, x in labels.items():
        if x is not None and not np.all(np.isfinite(np.asarray(x, dtype=float))):
            raise DataFormatError(f"step {k + 1}: {label} is not finite", path=path)
    structure = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                      pbc=atoms.pbc)
    if not np.all(np.isfinite(structure.positions)) or not np.all(np.isfinite(structure.cell.array)):
        raise DataFormatError(f"step {k + 1}: positions or cell are not finite", path=path)
    info = {"dft_energy": kind} if kind is not None else {}
    return Frame(structure, **labels, info=info)
