"""Prediction cost of training recipes (issue 15): atoms/s per core of the models a recipe
builds, on the 4,000-atom Cu box and on n2p2's 1,080-atom water box.

The cost of a 2G model depends on its symmetry functions (after pruning on the training data)
and its networks, not on its trained weights. Each recipe is therefore built with
``training.epochs=0`` on mlearn Cu's training set and on n2p2's water data set
(``../shared/data/n2p2/H2O_RPBE-D3``, Bohr/Hartree), and both models are timed in one process,
alternating between the recipes so that the drift of the shared cores affects all alike:

    python bench/bench_recipe_cost.py --recipe today=REV:examples/mlearn-cu/config.yaml \\
        --recipe now=examples/mlearn-cu/config.yaml [--runs 7]

``REV:PATH`` reads the config as it was at git revision REV (e.g. the commit before issue 15).
Each call is ``Potential.predict`` (neighbour list, energies and forces) with one thread, after
a moved copy of the structure so nothing is cached; the table gives the median over ``--runs``
of the process's CPU time (one thread: the cost per core, which sharing the cores does not inflate).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
WATER = SHARED / "n2p2" / "H2O_RPBE-D3" / "input.data"
CU = SHARED / "mlearn" / "Cu" / "train.xyz"


def config_file(spec: str, work: Path, label: str) -> Path:
    """A recipe's config: a path, or ``REV:PATH`` from git (written beside the original so that
    its relative data paths still resolve)."""
    if ":" in spec and not Path(spec).exists():
        rev, path = spec.split(":", 1)
        text = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"], check=True,
                              capture_output=True, text=True).stdout
        out = (REPO / path).parent / f".bench-cost-{label}.yaml"
        out.write_text(text)
        return out
    return Path(spec).resolve()


def build(config: Path, data: Path, out: Path, extra: list[str]) -> Path:
    """An untrained model of the recipe (epochs 0) on ``data``."""
    cmd = [sys.executable, "-m", "potforge.cli", "train", str(config), "-o", str(out), "--set",
           f"data.train={data}", "--set", "data.test=null", "--set", "training.epochs=0",
           "--set", "loss.stress_sigma=null", "--set", "loss.stress_offset=none",
           "--set", "training.refit_output=false", *sum((["--set", e] for e in extra), [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"building {config} on {data} failed:\n{proc.stderr[-2000:]}")
    return out


def boxes():
    from ase.build import bulk

    from potforge.data.io import read_frames

    cu = bulk("Cu", "fcc", a=3.62, cubic=True).repeat((10, 10, 10))
    cu.positions += np.random.default_rng(0).normal(0.0, 0.05, cu.positions.shape)
    water = read_frames(WATER, length_unit="bohr", energy_unit="hartree")[0].atoms
    return {"Cu 4,000": cu, "water 1,080": water}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", required=True, metavar="LABEL=CONFIG")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from potforge.models import load_potential

    structures = boxes()
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for spec in args.recipe:
            label, path = spec.split("=", 1)
            config = config_file(path, work, label)
            try:
                cu = build(config, CU, work / f"{label}-cu", [])
                water = build(config, WATER, work / f"{label}-water",
                              ["data.length_unit=bohr", "data.energy_unit=hartree"])
            finally:
                if config.name.startswith(".bench-cost-"):
                    config.unlink()
            models[label] = {"Cu 4,000": load_potential(cu).configure(n_threads=1),
                             "water 1,080": load_potential(water).configure(n_threads=1)}
        times = {(label, box): [] for label in models for box in structures}
        for r in range(args.runs + 1):           # the first round warms up
            for label, pair in models.items():
                for box, atoms in structures.items():
                    moved = atoms.copy()
                    moved.positions += 1e-3 * (r + 1)
                    t = time.process_time()     # CPU time of this one-thread process: the
                    pair[box].predict(moved)     # cost per core, also on shared cores
                    if r:
                        times[(label, box)].append(time.process_time() - t)
    print("Potential.predict (neighbour list, energies, forces), one thread, CPU time, "
          f"median of {args.runs}")
    print("| recipe | box | functions per element | parameters | CPU time (s) | atoms/s per core |")
    print("|---|---|---|---|---|---|")
    for (label, box), ts in times.items():
        model = models[label][box]
        sfs = model.symmetry_functions
        counts = ", ".join(f"{s} {sfs.n_functions(s)}" for s in sfs.species)
        med = statistics.median(ts)
        n_parameters = sum(n.n_parameters for n in model.networks.values())
        print(f"| {label} | {box} | {counts} (cutoff {sfs.cutoff:.1f} Å) | {n_parameters} | "
              f"{med:.3f} | {len(structures[box]) / med:,.0f} |")


if __name__ == "__main__":
    main()
