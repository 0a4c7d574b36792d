"""The aluminium example end to end: labelling cost, test errors and properties against GPAW.

Run in ``examples/al-gpaw`` after the commands in ``hdnnp.yaml`` (convergence study,
generation, labelling, the two fits):

    cd examples/al-gpaw
    python ../../bench/bench_al_gpaw.py --models al-hdnnp al-eam --reference-kpts-density 9

It reports

- labelling cost: GPAW seconds per structure (from ``label_seconds`` in the databases), by
  configuration kind and in total;
- test errors of each model on ``al-test.db`` (and training errors on ``al.db``): RMSE of
  energies per atom, force components and stress components, also per config_type;
- properties, model against DFT computed the same way with the labelling calculator:
  fcc equation of state (7 lattice constants ±3 % around 4.04 Å, Birch–Murnaghan a0, B0)
  and elastic constants (central stress differences at ±1 % strain on the primitive cell at
  a0); energies of the labelled defect structures as they are (unrelaxed, at a = 4.04 Å):
  vacancy and interstitial formation energies against the perfect supercell of the same
  shape, surface energies γ = (E_slab − N e_bulk)/2A, generalized stacking-fault energies
  (E_fault − E_perfect)/A against the perfect cell of the same shape, competing-phase
  energies E_phase − E_fcc per atom. The perfect reference cells and the EOS/elastic points
  are extra GPAW calculations (8 min on one core), cached in ``OUT/dft.json`` with the
  settings hash, so a rerun or a new model costs no DFT. ``--reference-kpts-density D``
  computes the EOS and elastic constants once more at k-point density D (a converged
  reference where the labels are not; 11 min at D = 9), cached in its own file.

Writes ``OUT/report.md`` and ``OUT/results.json`` and prints the report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

A_LABEL = 4.04          # Å, the lattice constant of the generated structures (generate.yaml)
EOS_STRAINS = np.linspace(-0.03, 0.03, 7)
ELASTIC_DELTA = 0.01


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- structures ------------------------------------------------------------------------------
def _frames(db):
    from potforge.generate.labelling import read_labelled

    return read_labelled(db)


def _perfect_cells(frames):
    """Perfect reference cells of the same shape as the labelled defect cells."""
    from ase.build import bulk

    from potforge.generate.planar import stacking_fault_structures

    out = {}
    for f in frames:
        if f.config_type == "vacancy" and "vacancy_perfect" not in out:
            out["vacancy_perfect"] = bulk("Al", "fcc", A_LABEL, cubic=True).repeat((2, 2, 2))
        if f.config_type == "interstitial" and "interstitial_perfect" not in out:
            out["interstitial_perfect"] = bulk("Al", "fcc", A_LABEL).repeat((3, 3, 3))
        if f.config_type == "stacking_fault":
            system, layers = f.info["fault_system"], int(f.info["layers"])
            key = f"sf_perfect_{system}_{layers}"
            if key not in out:
                out[key] = stacking_fault_structures("Al", system, [0.0], layers=layers, a=A_LABEL)[0]
    for key, atoms in out.items():
        n = {"vacancy_perfect": 32, "interstitial_perfect": 27}.get(key)
        if n is not None and len(atoms) != n:
            raise SystemExit(f"{key}: expected {n} atoms, built {len(atoms)}")
    return out


def _key(atoms) -> str:
    """Cache key of a perfect reference cell: its content (two fault systems may share one)."""
    from potforge.generate.labelling import structure_key

    return "perfect_" + structure_key(atoms, 0)[:16]


def _check_same_shape(defect, perfect, what: str) -> None:
    if not np.allclose(np.abs(np.linalg.det(defect.cell)), np.abs(np.linalg.det(perfect.cell)), rtol=1e-6):
        raise SystemExit(f"{what}: the defect cell and the perfect reference cell differ in volume")


# -- one calculator, all properties ----------------------------------------------------------
class Energies:
    """Energy/stress of structures with one calculator; with ``cache`` (a dict persisted by
    ``save``) every result is computed once."""

    def __init__(self, make, cache=None, save=None, known=None):
        self.make, self.cache, self.save = make, cache, save
        self.known = known or {}      # results already at hand (the labels), never persisted

    def __call__(self, key, atoms, stress=False):
        if key in self.known and not stress:
            return self.known[key]
        if self.cache is not None and key in self.cache and (not stress or "stress" in self.cache[key]):
            return self.cache[key]
        a = atoms.copy()
        a.calc = self.make()
        t0 = time.perf_counter()
        row = {"energy": float(a.get_potential_energy()), "n_atoms": len(a)}
        if stress:
            row["stress"] = [float(x) for x in a.get_stress(voigt=True)]
        row["seconds"] = time.perf_counter() - t0
        if self.cache is not None:
            self.cache[key] = row
            self.save()
            _say(f"  {key}: {row['energy']:.5f} eV ({row['seconds']:.1f} s)")
        return row


def properties(energy: Energies, frames, perfect, *, bulk_only: bool = False) -> dict:
    from ase.build import bulk
    from ase.units import GPa

    from potforge.core.crystals import voigt_strain
    from potforge.validation.properties import birch_murnaghan_fit

    out: dict = {}
    # equation of state of fcc (primitive cell)
    vols, ens = [], []
    for s in EOS_STRAINS:
        atoms = bulk("Al", "fcc", A_LABEL * (1 + s))
        row = energy(f"eos_{s:+.3f}", atoms)
        vols.append(atoms.get_volume())
        ens.append(row["energy"])
    e0, v0, b0, bp, _ = birch_murnaghan_fit(vols, ens)
    a0 = (4 * v0) ** (1 / 3)
    out.update(a0_angstrom=a0, bulk_modulus_gpa=b0 / GPa, bulk_modulus_prime=bp)
    # elastic constants at a0 (a rounded a0, so that cached DFT keys stay valid)
    a0r = round(a0, 3)
    ground = bulk("Al", "fcc", a0r)
    cell0 = ground.cell.array.copy()
    cij = np.zeros((6, 6))
    for j in range(6):
        stresses = []
        for sign in (1, -1):
            deformation = np.eye(3) + voigt_strain(j, sign * ELASTIC_DELTA)
            atoms = ground.copy()
            atoms.set_cell(cell0 @ deformation.T, scale_atoms=True)
            stresses.append(np.array(energy(f"elastic_{a0r:.3f}_{j}_{sign:+d}", atoms, stress=True)["stress"]))
        cij[:, j] = (stresses[0] - stresses[1]) / (2 * ELASTIC_DELTA) / GPa
    out.update(c11_gpa=float(np.mean(np.diag(cij)[:3])),
               c12_gpa=float(np.mean(cij[:3, :3][~np.eye(3, dtype=bool)])),
               c44_gpa=float(np.mean(np.diag(cij)[3:])))
    if bulk_only:
        return out
    # labelled structures as they are
    by_type = defaultdict(list)
    for k, f in enumerate(frames):
        by_type[f.config_type].append((k, f))
    fcc = [f for _, f in by_type["bulk"] if f.info.get("phase") == "fcc"]
    if not fcc:
        raise SystemExit("no fcc bulk frame in the training data (generate.yaml's bulk generator)")
    e_fcc = energy("label_bulk_fcc", fcc[0].atoms)["energy"] / fcc[0].n_atoms
    for _, f in by_type["bulk"]:
        phase = f.info.get("phase")
        if phase != "fcc":
            out[f"e_{phase}_minus_fcc_mev_per_atom"] = 1000 * (
                energy(f"label_bulk_{phase}", f.atoms)["energy"] / f.n_atoms - e_fcc)
    for k, f in by_type["vacancy"][:1]:
        ref = perfect["vacancy_perfect"]
        _check_same_shape(f.atoms, ref, "vacancy")
        e_perfect = energy(_key(ref), ref)["energy"]
        out["vacancy_formation_unrelaxed_ev"] = (energy(f"label_{k}", f.atoms)["energy"]
                                                 - f.n_atoms / len(ref) * e_perfect)
    for k, f in by_type["interstitial"]:
        ref = perfect["interstitial_perfect"]
        _check_same_shape(f.atoms, ref, "interstitial")
        e_perfect = energy(_key(ref), ref)["energy"]
        site = f.group.rsplit("-", 1)[-1]
        out[f"interstitial_{site}_unrelaxed_ev"] = (energy(f"label_{k}", f.atoms)["energy"]
                                                    - f.n_atoms / len(ref) * e_perfect)
    for k, f in by_type["surface"]:
        area = np.linalg.norm(np.cross(f.atoms.cell[0], f.atoms.cell[1]))
        e = energy(f"label_{k}", f.atoms)["energy"]
        miller = "".join(str(int(x)) for x in np.atleast_1d(f.info["miller"]))
        out[f"surface_{miller}_unrelaxed_j_per_m2"] = (e - f.n_atoms * e_fcc) / (2 * area) * 16.021766
    for k, f in by_type["stacking_fault"]:
        key = f"sf_perfect_{f.info['fault_system']}_{int(f.info['layers'])}"
        ref = perfect[key]
        area = np.linalg.norm(np.cross(f.atoms.cell[0], f.atoms.cell[1]))
        e_perfect = energy(_key(ref), ref)["energy"]
        name = f"gsf_{f.info['fault_system']}_{float(f.info['fault_fraction']):g}_mj_per_m2"
        out[name] = (energy(f"label_{k}", f.atoms)["energy"] - e_perfect) / area * 16021.766
    return out


# -- errors ----------------------------------------------------------------------------------
def errors(calc, frames) -> dict:
    from ase.units import GPa

    rows = defaultdict(lambda: {"de": [], "df": [], "ds": []})
    for f in frames:
        a = f.atoms.copy()
        a.calc = calc
        e = a.get_potential_energy()
        forces = a.get_forces()
        for key in ("all", f.config_type or "none"):
            r = rows[key]
            r["de"].append((e - f.energy) / f.n_atoms)
            r["df"].extend((forces - f.forces).ravel())
            if f.stress is not None and a.pbc.all():
                r["ds"].extend((a.get_stress(voigt=True) - f.stress) / GPa)

    def rmse(x):
        return float(np.sqrt(np.mean(np.square(x)))) if len(x) else math.nan

    return {key: {"n": len(r["de"]), "energy_rmse_mev_per_atom": 1000 * rmse(r["de"]),
                  "force_rmse_ev_per_angstrom": rmse(r["df"]), "stress_rmse_gpa": rmse(r["ds"])}
            for key, r in rows.items()}


def labelling_cost(db) -> dict:
    from ase.db import connect

    by_type = defaultdict(list)
    atoms = defaultdict(list)
    with connect(str(db), use_lock_file=False) as con:
        for row in con.select():
            kvp = row.key_value_pairs
            if kvp.get("status") != "done":
                continue
            by_type[kvp.get("config_type", "?")].append(float(kvp.get("label_seconds", math.nan)))
            atoms[kvp.get("config_type", "?")].append(row.natoms)
    out = {t: {"n": len(v), "atoms_max": max(atoms[t]), "seconds_mean": float(np.mean(v)),
               "seconds_total": float(np.sum(v))} for t, v in by_type.items()}
    allv = [x for v in by_type.values() for x in v]
    out["all"] = {"n": len(allv), "atoms_max": max(max(v) for v in atoms.values()),
                  "seconds_mean": float(np.mean(allv)), "seconds_total": float(np.sum(allv))}
    return out


def _fmt(x, digits=3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="al.db")
    ap.add_argument("--test", default="al-test.db")
    ap.add_argument("--calculator", default="al-converge-k/calculator.yaml",
                    help="the labelling calculator (DFT reference for the properties)")
    ap.add_argument("--models", nargs="*", default=[], help="potforge model directories")
    ap.add_argument("--out", default="al-bench", type=Path)
    ap.add_argument("--reference-kpts-density", type=float, default=None, metavar="D",
                    help="also compute the fcc equation of state and elastic constants with GPAW "
                         "at this k-point density (converged reference for the bulk properties)")
    args = ap.parse_args(argv)

    import potforge
    from potforge.core.atomic import atomic_write
    from potforge.generate.calculators import build_calculator, load_calculator_spec
    from potforge.generate.converge import with_override

    args.out.mkdir(parents=True, exist_ok=True)
    spec = load_calculator_spec(args.calculator)

    def cached(spec, cache_path):
        """A DFT Energies with its results persisted in cache_path (checked by settings hash)."""
        cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
        if cache.get("settings_hash") not in (None, spec.settings_hash()):
            raise SystemExit(f"{cache_path}: computed with other calculator settings; use another --out")
        cache["settings_hash"] = spec.settings_hash()
        results = cache.setdefault("results", {})

        def save():
            with atomic_write(cache_path) as handle:
                json.dump(cache, handle, indent=1)

        return results, save

    train = _frames(args.train)
    test = _frames(args.test) if args.models else []
    perfect = _perfect_cells(train)
    # DFT values of labelled structures come from the database, the rest is computed once
    labels = {f"label_{k}": {"energy": f.energy, "n_atoms": f.n_atoms} for k, f in enumerate(train)}
    labels.update({f"label_bulk_{f.info.get('phase')}": labels[f"label_{k}"]
                   for k, f in enumerate(train) if f.config_type == "bulk"})
    _say(f"DFT ({spec.name}): properties, perfect reference cells, cached in {args.out / 'dft.json'}")
    t0 = time.perf_counter()
    results, save = cached(spec, args.out / "dft.json")
    dft = properties(Energies(lambda: build_calculator(spec), results, save, labels), train, perfect)
    _say(f"DFT properties: {time.perf_counter() - t0:.1f} s")
    dense = None
    if args.reference_kpts_density:
        d = args.reference_kpts_density
        dense_spec = dataclasses.replace(spec, parameters=with_override(spec.parameters, "kpts.density", d))
        path = args.out / f"dft-kpts-density-{d:g}.json"
        _say(f"DFT at k-point density {d:g}: equation of state and elastic constants, cached in {path}")
        t0 = time.perf_counter()
        results, save = cached(dense_spec, path)
        dense = properties(Energies(lambda: build_calculator(dense_spec), results, save), train, perfect,
                           bulk_only=True)
        _say(f"DFT bulk properties at k-point density {d:g}: {time.perf_counter() - t0:.1f} s")
    costs = {"train": labelling_cost(args.train)}
    if Path(args.test).exists():
        costs["test"] = labelling_cost(args.test)
    report = {"labelling": costs,
              "dft": dft, "dft_dense": dense, "dense_kpts_density": args.reference_kpts_density,
              "models": {}}
    for model_dir in args.models:
        calc = potforge.calculator(model_dir)
        t0 = time.perf_counter()
        props = properties(Energies(lambda: calc), train, perfect)
        report["models"][model_dir] = {"properties": props, "test": errors(calc, test),
                                       "train": errors(calc, train),
                                       "seconds": time.perf_counter() - t0}
    text = markdown(report)
    with atomic_write(args.out / "results.json") as handle:
        json.dump(report, handle, indent=1, default=float)
    with atomic_write(args.out / "report.md") as handle:
        handle.write(text)
    print(text)
    return 0


def markdown(report: dict) -> str:
    lines = ["# Aluminium with GPAW: labelling, fits, properties", "",
             "## Labelling cost (GPAW, one worker process per core)", "",
             "| set | config_type | structures | max atoms | mean s/structure | total s |", "|---|---|---|---|---|---|"]
    for name, cost in report["labelling"].items():
        for t, c in sorted(cost.items(), key=lambda kv: (kv[0] == "all", kv[0])):
            lines.append(f"| {name} | {t} | {c['n']} | {c['atoms_max']} | {c['seconds_mean']:.1f} | {c['seconds_total']:.0f} |")
    models = report["models"]
    if models:
        lines += ["", "## Errors (RMSE: energy meV/atom, forces eV/Å, stress GPa)", "",
                  "| model | set | config_type | frames | energy | forces | stress |", "|---|---|---|---|---|---|---|"]
        for m, r in models.items():
            for part in ("test", "train"):
                for t, e in sorted(r[part].items(), key=lambda kv: (kv[0] != "all", kv[0])):
                    if part == "train" and t != "all":
                        continue
                    lines.append(f"| {m} | {part} | {t} | {e['n']} | {_fmt(e['energy_rmse_mev_per_atom'], 2)} | "
                                 f"{_fmt(e['force_rmse_ev_per_angstrom'], 4)} | {_fmt(e['stress_rmse_gpa'], 3)} |")
    dense = report.get("dft_dense") or {}
    dense_head = f"DFT, k density {report['dense_kpts_density']:g} | " if dense else ""
    lines += ["", "## Properties against DFT (labelled structures unrelaxed, a = 4.04 Å)", "",
              "| property | DFT, labelling settings | " + dense_head + " | ".join(models) + " |",
              "|---|---|" + ("---|" if dense else "") + "---|" * len(models)]
    for key, value in report["dft"].items():
        cells = [_fmt(r["properties"].get(key)) for r in models.values()]
        extra = f"{_fmt(dense.get(key))} | " if dense else ""
        lines.append(f"| {key} | {_fmt(value)} | " + extra + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
