"""Tabulated EAM potentials evaluated exactly as LAMMPS does: ``eam/alloy`` and ``eam/fs``
tables (:class:`SetflEAM`) and ``eam`` funcfl files (:class:`FuncflEAM`).

    E = Σ_i F_{Z_i}(ρ_i) + ½ Σ_i Σ_{j≠i} φ_{Z_i Z_j}(r_ij),      ρ_i = Σ_{j≠i} ρ_{Z_j→Z_i}(r_ij)

where ρ_{a→b} is the density an atom of element a contributes at an atom of element b: one
function per element (eam/alloy, eam) or per ordered pair (eam/fs). LAMMPS (22 Jul 2025,
``pair_eam.cpp``) evaluates every table the same way, and so does this module:

- ``interpolate``: on each grid interval a cubic in the fraction p ∈ [0, 1] whose end values
  are the table values y_m, y_{m+1} and whose end slopes (per grid step) are the fourth-order
  central differences s_m = [8 (y_{m+1} − y_{m−1}) − (y_{m+2} − y_{m−2})]/12 (one-sided and
  second-order at the two ends of the table); φ is tabulated as r·φ(r).
- the lookup: m = ⌊x/Δ⌋ clipped to the last interval, p = x/Δ − m capped at 1. Beyond the
  last grid point LAMMPS thus takes the table's last value but the slope at that point, so
  there (r between the table's end and the cutoff, ρ between the table's end and ρ_max) its
  forces are not the derivative of its energy. Potforge reproduces that exactly: the value is
  held while the derivative carries the end slope (a straight-through term).
- above ρ_max, F continues linearly with that slope: F(ρ_end) + F′(ρ_end)(ρ − ρ_max).

funcfl files (``pair_style eam``) first go through LAMMPS' ``file2array``: every file's
tables are interpolated (4-point Lagrange) onto one grid, Δr = max Δr_f up to max (N_r,f − 1)
Δr_f with N_r = round(r_max/Δr) points (one point less than a single file holds), likewise
for ρ; ρ_max = max (N_ρ,f − 1) Δρ_f lies one grid step above that table's end. The pair term
of elements i, j is r·φ_ij = 27.2 · 0.529 · Z_i(r) Z_j(r): several funcfl files mix their
pairs as the geometric mean φ_ij = √(φ_ii φ_jj). :func:`funcfl_to_setfl` reproduces all of
this in the same floating-point order.

Saved models (``from_saved``) are checked as the file readers check files: the grid, every
table's length and every value within the ranges of
:data:`potforge.data.lammps.setfl.TABLE_LIMITS` (|value| ≤ 1e20, ≤ 1,000,000 points, dr in
[1e-6, 10] Å, cutoff ≤ 100 Å; |Z(r)| ≤ 1e10 for funcfl), so that a loaded table cannot
overflow on an ordinary structure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from ...core.errors import ConfigError, ModelFormatError
from ...core.lazy import torch
from ...data.lammps.funcfl import HARTREE_BOHR, FuncflData, check_funcfl
from ...data.lammps.setfl import SetflData, check_setfl
from .base import ClassicalPotential, Graph
from .pair import pair_type_index, pair_types

__all__ = ["SetflEAM", "FuncflEAM", "TabulatedEAM", "hermite_coefficients", "funcfl_to_setfl"]


def hermite_coefficients(y: np.ndarray) -> np.ndarray:
    """LAMMPS' per-interval cubic for the table y (n ≥ 5): rows (c3, c4, s, y) so that on
    interval m the value is ((c3 p + c4) p + s) p + y_m for the fraction p ∈ [0, 1]."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n < 5:
        raise ModelFormatError(f"an EAM table needs at least 5 points, got {n}")
    s = np.empty(n)
    c4 = np.zeros(n)
    c3 = np.zeros(n)
    with np.errstate(over="ignore", invalid="ignore"):     # checked below
        s[0] = y[1] - y[0]
        s[1] = 0.5 * (y[2] - y[0])
        s[n - 2] = 0.5 * (y[n - 1] - y[n - 3])
        s[n - 1] = y[n - 1] - y[n - 2]
        s[2:n - 2] = ((y[0:n - 4] - y[4:n]) + 8.0 * (y[3:n - 1] - y[1:n - 3])) / 12.0
        dy = y[1:] - y[:-1]
        c4[:-1] = 3.0 * dy - 2.0 * s[:-1] - s[1:]
        c3[:-1] = s[:-1] + s[1:] - 2.0 * dy
    out = np.stack([c3, c4, s, y], 1)
    if not np.all(np.isfinite(out)):
        raise ModelFormatError("an EAM table's values are too large to interpolate (differences overflow)")
    return out


def _interpolate(coeff: torch.Tensor, table: torch.Tensor | int, x: torch.Tensor, step: float,
                 n: int) -> torch.Tensor:
    """LAMMPS' table lookup in tables ``coeff`` (n_tables, n, 4), table index per value:
    m = ⌊x/step⌋ clipped to [0, n − 2], p = x/step − m capped at 1; the value
    ((c3 p + c4) p + s) p + y_m. Beyond the table (p > 1) the value is the end value and the
    derivative the end slope, as in LAMMPS."""
    t = x / step
    m = torch.floor(t.detach()).long().clamp(0, n - 2)
    p = t - m
    c = coeff[table, m].to(x.dtype)
    pc = p.clamp(max=1.0)
    value = ((c[:, 0] * pc + c[:, 1]) * pc + c[:, 2]) * pc + c[:, 3]
    beyond = p.detach() > 1.0
    if bool(beyond.any()):
        slope = 3.0 * c[:, 0] + 2.0 * c[:, 1] + c[:, 2]
        value = value + torch.where(beyond, slope * (p - p.detach()), torch.zeros_like(p))
    return value


class TabulatedEAM(ClassicalPotential):
    """An EAM given as LAMMPS' tables (``table``, a :class:`SetflData` of chemical symbols),
    evaluated as LAMMPS does (module docstring); F continues linearly above ``rho_max``. No
    fittable parameters; ``energy_offsets`` (zero when read from a file) are added per atom."""

    def __init__(self, table: SetflData, rho_max: float, cutoff: float, *,
                 energy_offsets: Mapping[str, float] | None = None, metadata: dict | None = None) -> None:
        super().__init__(table.elements, [], cutoff, energy_offsets=energy_offsets, metadata=metadata)
        els = list(table.elements)
        self.table = table
        self.rho_max = float(rho_max)
        t = lambda arrays: torch.from_numpy(np.stack([hermite_coefficients(a) for a in arrays]))  # noqa: E731
        self._frho = t([table.frho[s] for s in els])
        # density tables indexed source * n + host: what an atom of `source` gives at `host`
        self._rhor = t([table.density(a, b) for a in els for b in els])
        self._z2r = t([table.pair(els[a], els[b]) for a, b, _ in pair_types(tuple(els))])

    def site_energies(self, p, graph: Graph) -> torch.Tensor:
        d = self.table
        n_el = len(d.elements)
        r = torch.linalg.vector_norm(graph.vectors, dim=1)
        ei, ej = graph.element[graph.center], graph.element[graph.neighbor]
        z2 = _interpolate(self._z2r, pair_type_index(n_el, ei, ej), r, d.dr, d.nr)
        dens = _interpolate(self._rhor, ej * n_el + ei, r, d.dr, d.nr)
        rho = torch.zeros(graph.n_atoms, dtype=graph.vectors.dtype).index_add(0, graph.center, dens)
        f = _interpolate(self._frho, graph.element, rho, d.drho, d.nrho)
        above = rho.detach() > self.rho_max
        if bool(above.any()):
            # LAMMPS: F(ρ_end) + F'(ρ_end) (ρ − ρ_max), its force from F'(ρ_end) alone (which
            # the straight-through lookup already gives)
            c = self._frho[graph.element, d.nrho - 2].to(rho.dtype)
            slope = (3.0 * c[:, 0] + 2.0 * c[:, 1] + c[:, 2]) / d.drho
            f = f + torch.where(above, slope * (rho.detach() - self.rho_max), torch.zeros_like(rho))
        pair = torch.zeros_like(rho).index_add(0, graph.center, 0.5 * z2 / r)
        return f + pair


class SetflEAM(TabulatedEAM):
    """A tabulated EAM from one file: setfl (``eam/alloy``) or, with ``data.fs``, ``eam/fs``
    (a density per ordered element pair). Element names of ``data`` are the model's species
    (chemical symbols; :meth:`SetflData.select` maps a file's names). Energy offsets are
    folded into F when written back."""

    kind: ClassVar[str] = "eam-setfl"

    def __init__(self, data: SetflData, *, energy_offsets: Mapping[str, float] | None = None,
                 metadata: dict | None = None) -> None:
        super().__init__(data, (data.nrho - 1) * data.drho, data.cutoff, energy_offsets=energy_offsets,
                         metadata=metadata)
        self.data = data

    @property
    def lammps_style(self) -> str:
        return "eam/fs" if self.data.fs else "eam/alloy"

    def _description(self) -> dict:
        d = self.data
        out = {"elements": d.elements, "info": [list(i) for i in d.info], "nrho": d.nrho,
               "drho": d.drho, "nr": d.nr, "dr": d.dr, "comments": d.comments}
        if d.fs:
            out["fs"] = True
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        d = self.data
        out = {f"frho_{s}": d.frho[s] for s in d.elements}
        if d.fs:
            out.update({f"rhor_{a}_{b}": v for (a, b), v in d.rhor.items()})
        else:
            out.update({f"rhor_{s}": d.rhor[s] for s in d.elements})
        out.update({f"z2r_{a}_{b}": v for (a, b), v in d.z2r.items()})
        return out

    @classmethod
    def _from_description(cls, d, params, arrays):
        els = list(d["elements"])
        fs = bool(d.get("fs", False))
        z2r = {}
        for k, v in arrays.items():
            if k.startswith("z2r_"):
                a, b = k[4:].split("_")
                z2r[(a, b)] = v
        rhor = ({(a, b): arrays[f"rhor_{a}_{b}"] for a in els for b in els} if fs
                else {s: arrays[f"rhor_{s}"] for s in els})
        data = SetflData(els, [tuple(i) for i in d["info"]], _count(d, "nrho"), float(d["drho"]),
                         _count(d, "nr"), float(d["dr"]), float(d["cutoff_angstrom"]),
                         {s: arrays[f"frho_{s}"] for s in els}, rhor, z2r,
                         list(d.get("comments", ["", "", ""])), fs)
        check_setfl(data)
        return cls(data, energy_offsets=d.get("energy_offsets_ev"), metadata=d.get("metadata"))


def _count(d: Mapping, key: str) -> int:
    """An integer entry of a saved description (a count or Z), strictly."""
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelFormatError(f"{key} = {value!r}: expected an integer")
    return value


# -- funcfl ---------------------------------------------------------------------------------------
def _regrid(values: np.ndarray, step_file: float, n_file: int, step: float, n: int) -> np.ndarray:
    """LAMMPS ``file2array``: a file's table (on 0, step_file, …) at 0, step, …, (n−1) step by
    4-point Lagrange interpolation, in LAMMPS' order of operations (1-based indices as there)."""
    f = np.concatenate([[0.0], np.asarray(values, dtype=np.float64)])
    x = np.arange(n, dtype=np.float64) * step
    p = x / step_file + 1.0
    k = np.maximum(np.minimum(p.astype(np.int64), n_file - 2), 2)
    p = np.minimum(p - k, 2.0)
    sixth = 1.0 / 6.0
    c1 = -sixth * p * (p - 1.0) * (p - 2.0)
    c2 = 0.5 * (p * p - 1.0) * (p - 2.0)
    c3 = -0.5 * p * (p + 1.0) * (p - 2.0)
    c4 = sixth * p * (p * p - 1.0)
    return c1 * f[k - 1] + c2 * f[k] + c3 * f[k + 1] + c4 * f[k + 2]


def funcfl_to_setfl(files: Sequence[FuncflData], species: Sequence[str]) -> tuple[SetflData, float]:
    """The tables LAMMPS builds from funcfl files (``pair_coeff i i file`` for species i, in
    this order) and its ρ_max: see the module docstring. The pair term of files i ≥ j is
    27.2 · 0.529 · Z_i(r) · Z_j(r) (that order of products)."""
    if len(files) != len(species) or not files:
        raise ConfigError(f"expected one funcfl file per species ({len(species)}), got {len(files)}")
    dr = max(f.dr for f in files)
    drho = max(f.drho for f in files)
    rmax = max((f.nr - 1) * f.dr for f in files)
    rhomax = max((f.nrho - 1) * f.drho for f in files)
    nr = int(rmax / dr + 0.5)
    nrho = int(rhomax / drho + 0.5)
    if nr < 5 or nrho < 5:
        raise ModelFormatError(f"funcfl grid of {min(nr, nrho)} points: LAMMPS needs at least 5")
    frho = {s: _regrid(f.frho, f.drho, f.nrho, drho, nrho) for s, f in zip(species, files)}
    rhor = {s: _regrid(f.rhor, f.dr, f.nr, dr, nr) for s, f in zip(species, files)}
    zr = [_regrid(f.zr, f.dr, f.nr, dr, nr) for f in files]
    z2r = {}
    for i, a in enumerate(species):
        for j, b in enumerate(species[: i + 1]):
            z2r[(a, b)] = HARTREE_BOHR * zr[i] * zr[j]
    info = [(f.z, f.mass, f.a0, f.lattice) for f in files]
    data = SetflData(list(species), info, nrho, drho, nr, dr, max(f.cutoff for f in files), frho, rhor, z2r,
                     ["", "", ""])
    return data, rhomax


class FuncflEAM(TabulatedEAM):
    """An EAM of funcfl files (LAMMPS ``pair_style eam``, one file per element, ``files[k]``
    for ``species[k]``), evaluated on the tables LAMMPS builds from them
    (:func:`funcfl_to_setfl`); cross pairs are the geometric mean of the elements' pairs."""

    kind: ClassVar[str] = "eam-funcfl"

    def __init__(self, files: Sequence[FuncflData], species: Sequence[str], *,
                 energy_offsets: Mapping[str, float] | None = None, metadata: dict | None = None) -> None:
        table, rho_max = funcfl_to_setfl(files, species)
        super().__init__(table, rho_max, table.cutoff, energy_offsets=energy_offsets, metadata=metadata)
        self.files = list(files)

    def _description(self) -> dict:
        return {"files": [{"z": f.z, "mass": f.mass, "a0": f.a0, "lattice": f.lattice, "comment": f.comment,
                           "nrho": f.nrho, "drho": f.drho, "nr": f.nr, "dr": f.dr, "cutoff": f.cutoff}
                          for f in self.files]}

    def _arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for s, f in zip(self.species, self.files):
            out.update({f"frho_{s}": f.frho, f"zr_{s}": f.zr, f"rhor_{s}": f.rhor})
        return out

    @classmethod
    def _from_description(cls, d, params, arrays):
        files = [check_funcfl(FuncflData(_count(h, "z"), float(h["mass"]), _count(h, "nrho"), float(h["drho"]),
                                         _count(h, "nr"), float(h["dr"]), float(h["cutoff"]), arrays[f"frho_{s}"],
                                         arrays[f"zr_{s}"], arrays[f"rhor_{s}"], float(h["a0"]), str(h["lattice"]),
                                         str(h["comment"])), f"funcfl of {s}")
                 for s, h in zip(d["species"], d["files"])]
        return cls(files, d["species"], energy_offsets=d.get("energy_offsets_ev"), metadata=d.get("metadata"))
