"""MD stability of a trained HDNNP (issue 16, item 5): NVT runs at a temperature ladder in
LAMMPS with potforge's plugin, from the model's own crystal, and what happened in them.

For every temperature: Langevin NVT (LAMMPS ``fix langevin`` + ``fix nve``) for ``--ps``
picoseconds, then the same length in NVE; reported are the extrapolation warnings per 1,000
atom-steps (``compute pair potforge``), the shortest interatomic distance seen in dumped frames
against the shortest in the training data (``domain.json``), the atoms outside the training
domain in those frames, the mean temperature, and the NVE energy drift (meV/atom/ps) — a model
that is unstable shows it as collapsing distances, a runaway temperature or drift, or a growing
share of extrapolating atoms. A PNG of the shortest distance and of the extrapolation rate
against temperature.

    python bench/bench_md_stability.py MODEL_DIR --element Cu --lattice fcc --a 3.62 \\
        --temperatures 300,900,1500 --ps 5 -o md-stability [--ranks 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def thermo(path: Path) -> np.ndarray:
    rows = []
    for line in path.read_text().splitlines():
        w = line.split()
        if len(w) == 6:
            try:
                rows.append([float(x) for x in w])
            except ValueError:
                pass
    return np.array(rows)


def frames(dump: Path) -> list[np.ndarray]:
    out, lines, k = [], dump.read_text().splitlines(), 0
    while k < len(lines):
        if lines[k].startswith("ITEM: NUMBER OF ATOMS"):
            n = int(lines[k + 1])
            box = np.array([lines[k + 3 + d].split()[:2] for d in range(3)], dtype=float)
            pos = np.array([ln.split()[1:4] for ln in lines[k + 7:k + 7 + n]], dtype=float)
            out.append((box, pos))
            k += 7 + n
        else:
            k += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--element", required=True)
    ap.add_argument("--lattice", default="fcc")
    ap.add_argument("--a", type=float, required=True, help="lattice constant (Å)")
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--temperatures", default="300,900,1500")
    ap.add_argument("--ps", type=float, default=5.0)
    ap.add_argument("--timestep-fs", type=float, default=2.0)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--train", type=Path, help="training data, for models saved without domain.json")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    from ase import Atoms
    from ase.build import bulk
    from ase.io import write

    from potforge.descriptors.domain import load_domain
    from potforge.export import export_model, load_model

    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model)
    record = export_model(model, "lammps", out / "model")
    if (Path(args.model) / "domain.json").is_file() or args.train is None:
        domain = load_domain(args.model)
    else:   # a model trained before domain.json existed: the domain of its training data
        from potforge.data.dataset import Dataset
        from potforge.descriptors.domain import TrainingDomain

        domain = TrainingDomain.from_structures([f.atoms for f in Dataset.read(args.train)], model.cutoff)
    crystal = bulk(args.element, args.lattice, a=args.a, cubic=True).repeat(args.repeat)
    write(out / "crystal.data", crystal, format="lammps-data", specorder=list(model.species), masses=True)
    steps = int(round(args.ps * 1000 / args.timestep_fs))
    exe = Path(sys.executable).parent
    results = []
    for t in [float(x) for x in args.temperatures.split(",")]:
        name = f"T{int(t)}"
        script = f"""units metal
atom_style atomic
atom_modify map array
read_data {out / 'crystal.data'}
plugin load {record['plugin']}
pair_style potforge extrapolation ignore
pair_coeff * * {out / 'model'} {' '.join(model.species)}
velocity all create {2 * t} 12345 mom yes rot yes dist gaussian
timestep {args.timestep_fs / 1000}
compute ex all pair potforge
thermo_style custom step time temp pe etotal c_ex[3]
thermo_modify format float %.12g
thermo {max(1, steps // 200)}
fix nve all nve
fix lan all langevin {t} {t} 0.1 4928
run {steps}
unfix lan
dump d all custom {max(1, steps // 20)} {out / (name + '.dump')} id x y z
dump_modify d sort id
run {steps}
"""
        (out / f"in.{name}").write_text(script)
        command = [str(exe / "lmp"), "-in", str(out / f"in.{name}"), "-log", str(out / f"log.{name}"), "-nocite"]
        if args.ranks > 1:
            command = [str(exe / "mpirun"), "-np", str(args.ranks), *command]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode != 0:
            sys.exit(f"LAMMPS failed at {t} K: {done.stdout[-1500:]}")
        th = thermo(out / f"log.{name}")
        nve = th[len(th) // 2 + 1:]
        drift = float(np.polyfit(nve[:, 1], nve[:, 4], 1)[0]) / len(crystal) * 1000
        shortest, outside = np.inf, 0
        snapshots = frames(out / (name + ".dump"))
        for box, pos in snapshots:
            atoms = Atoms([args.element] * len(pos), positions=pos - box[:, 0], cell=np.diag(box[:, 1] - box[:, 0]),
                          pbc=True)
            d = atoms.get_all_distances(mic=True)
            shortest = min(shortest, float(d[np.triu_indices(len(atoms), 1)].min()))
            outside += int(np.count_nonzero(domain.outside(atoms)))
        warnings = float(th[-1, 5])
        row = {"temperature_k": t, "mean_temperature_nvt_k": float(th[: len(th) // 2, 2].mean()),
               "mean_temperature_nve_k": float(nve[:, 2].mean()), "nve_drift_mev_per_atom_per_ps": drift,
               "extrapolation_warnings_per_1000_atom_steps": 1000 * warnings / (2 * steps * len(crystal)),
               "shortest_distance_angstrom": shortest,
               "training_shortest_angstrom": min(domain.min_distance.values()),
               "atoms_outside_domain_in_dumped_frames": outside, "dumped_frames": len(snapshots)}
        results.append(row)
        print(json.dumps(row), flush=True)
    (out / "md_stability.json").write_text(json.dumps({"model": args.model, "atoms": len(crystal), "ps": args.ps,
                                                       "results": results}, indent=1))


if __name__ == "__main__":
    main()
