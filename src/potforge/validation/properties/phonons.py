"""Harmonic phonon frequencies at high-symmetry points by finite displacements."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from ...core.errors import ConfigError
from .common import THZ_PER_EV
from .results import PhononResult

__all__ = ["phonons"]

#: High-symmetry points reported by :func:`phonons`, by ASE Bravais-lattice name.
_PHONON_POINTS = {"FCC": ("G", "X", "L"), "BCC": ("G", "H", "N"), "HEX": ("G", "M", "K", "A"),
                  "CUB": ("G", "X", "M", "R")}


def phonons(calc, atoms: Atoms, supercell: tuple[int, int, int] = (5, 5, 5), delta: float = 0.01,
            points: Mapping[str, Sequence[float]] | Sequence[str] | None = None) -> PhononResult:
    """Harmonic phonon frequencies (THz) at high-symmetry points by finite displacements.

    ``ase.phonons.Phonons`` displaces each atom of ``atoms`` (a primitive cell) by ±``delta``
    Å in a ``supercell`` repetition, builds the force constants (acoustic sum rule imposed)
    and diagonalises the dynamical matrix; its cache lives in a temporary directory that is
    removed afterwards. Frequencies f = ω/2π, ascending; imaginary modes come out negative.
    Exact at points commensurate with the supercell if the force constants are shorter-ranged
    than half the supercell. The default supercell is odd on purpose: ASE's Fourier
    interpolation to other points gives each force constant one image, which is ambiguous
    half-way across an even supercell (EMT Cu with 4×4×4 splits the transverse branches near
    Γ by 15 %; with 5×5×5 the sound velocities agree with √(C/ρ) to 0.2 %).

    Parameters
    ----------
    points : names of ASE special points of the cell (``atoms.cell.bandpath()``), or a
        mapping name -> scaled reciprocal coordinates. Default: Γ, X, L (fcc); Γ, H, N (bcc);
        Γ, M, K, A (hexagonal); Γ, X, M, R (simple cubic); all special points otherwise.
    """
    from ase.phonons import Phonons

    if not np.all(atoms.pbc):
        raise ConfigError("phonons: the structure must be periodic in all three directions")
    special = atoms.cell.bandpath(npoints=0).special_points
    if points is None:
        names = _PHONON_POINTS.get(atoms.cell.get_bravais_lattice().name, tuple(special))
        chosen = {n: special[n] for n in names}
    elif isinstance(points, Mapping):
        chosen = {str(k): np.asarray(v, dtype=float) for k, v in points.items()}
    else:
        unknown = [p for p in points if p not in special]
        if unknown:
            raise ConfigError(f"phonons: unknown special point(s) {', '.join(unknown)}; this cell "
                              f"has {', '.join(special)}")
        chosen = {p: special[p] for p in points}
    with tempfile.TemporaryDirectory(prefix="potforge-phonons-") as tmp:
        ph = Phonons(atoms.copy(), calc, supercell=tuple(supercell), delta=delta,
                     name=str(Path(tmp) / "phonon"))
        ph.run()
        ph.read(acoustic=True)
        energies = ph.band_structure(np.array(list(chosen.values())), verbose=False)
    frequencies = {name: sorted(float(e) * THZ_PER_EV for e in row)
                   for name, row in zip(chosen, energies)}
    return PhononResult(frequencies, {k: tuple(float(x) for x in v) for k, v in chosen.items()},
                        tuple(supercell))
