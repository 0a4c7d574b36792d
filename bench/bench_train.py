"""Whole-process training benchmarks on mlearn data (issue: training).

Runs complete ``potforge train CONFIG -o DIR`` processes — interpreter start, reading the
data, symmetry functions and their derivatives, training, test evaluation, writing the model —
and reports their wall time, peak resident memory (of the process and its children) and the
test RMSEs from the run's ``summary.json``:

    python bench/bench_train.py examples/mlearn-cu-zuo/config.yaml [--runs 1] [--set key=value ...]
    python bench/bench_train.py examples/mlearn-cu/config.yaml --data Ni   # same recipe, other data

``--data X`` points the recipe at ../shared/data/mlearn/X/{train,test}.xyz. Reference figures
(issue text, same machine type): n2p2 in the Zuo setting, 557 s for 16 epochs, test 3.40
meV/atom and 0.0584 eV/Å; the model shipped with mlearn, 1.68 meV/atom and 0.0630 eV/Å.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))


def run_once(config: Path, overrides: list[str], workdir: Path) -> dict:
    out = workdir / f"run{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "potforge.cli", "train", str(config), "-o", str(out)]
    for o in overrides:
        cmd += ["--set", o]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"training failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"wall_s": wall, "peak_mib_children_max": peak, "summary": summary,
            "stress_split": stress_split(out)}


def stress_split(model_dir: Path) -> dict:
    """Test stress RMSE (GPa) of the normal and the shear components separately."""
    import numpy as np
    import yaml

    from potforge.core.units import GPa
    from potforge.data import Dataset
    from potforge.models import load_potential

    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    if not config["data"]["test"]:
        return {}
    model = load_potential(model_dir)
    errors = []
    for frame in Dataset.read(config["data"]["test"]):
        if frame.stress is not None and frame.atoms.pbc.all():
            errors.append(model.predict(frame.atoms).stress - frame.stress)
    if not errors:
        return {}
    e = np.array(errors) / GPa
    return {"normal_gpa": float(np.sqrt(np.mean(e[:, :3] ** 2))),
            "shear_gpa": float(np.sqrt(np.mean(e[:, 3:] ** 2)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--data", help="mlearn element whose train/test sets replace the config's")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    overrides = list(args.overrides)
    if args.data:
        base = SHARED / "mlearn" / args.data
        overrides += [f"data.train={base / 'train.xyz'}", f"data.test={base / 'test.xyz'}"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            results.append(run_once(args.config, overrides, Path(tmp)))
    walls = [r["wall_s"] for r in results]
    s = results[-1]["summary"]
    row = {
        "config": str(args.config), "data": args.data or "as configured", "overrides": args.overrides,
        "runs": len(results), "wall_s_median": statistics.median(walls), "wall_s_all": walls,
        "training_loop_s": s["training_loop_time_s"], "descriptor_s": s["descriptor_time_s"],
        "epochs_run": s["epochs_run"], "best_epoch": s["best_epoch"],
        "n_parameters": s["n_parameters"], "frames": s["frames"],
        "test_energy_rmse_mev_per_atom": s["test"]["energy_rmse_mev_per_atom"],
        "test_force_rmse_ev_per_angstrom": s["test"]["force_rmse_ev_per_angstrom"],
        "test_stress_rmse_gpa": s["test"]["stress_rmse_gpa"],
        "peak_memory_mib": s["peak_memory_mib"],
        "cache_mib": (s["cache_estimate_bytes"] or 0) / 2**20,
        "test_stress_rmse_normal_gpa": results[-1]["stress_split"].get("normal_gpa"),
        "test_stress_rmse_shear_gpa": results[-1]["stress_split"].get("shear_gpa"),
    }
    if args.json:
        print(json.dumps(row, indent=1))
        return
    print(f"{row['config']} ({row['data']}) {' '.join(args.overrides)}")
    print(f"  whole process: median {row['wall_s_median']:.1f} s over {row['runs']} run(s) "
          f"(descriptors {row['descriptor_s']:.1f} s, training loop {row['training_loop_s']:.1f} s, "
          f"{row['epochs_run']} epochs, best {row['best_epoch']})")
    print(f"  test RMSE: {row['test_energy_rmse_mev_per_atom']:.3f} meV/atom, "
          f"{row['test_force_rmse_ev_per_angstrom']:.4f} eV/Å, {row['test_stress_rmse_gpa']:.3f} GPa "
          f"(normal {row['test_stress_rmse_normal_gpa'] or float('nan'):.3f}, "
          f"shear {row['test_stress_rmse_shear_gpa'] or float('nan'):.3f})")
    print(f"  peak memory {row['peak_memory_mib']:.0f} MiB (derivative cache {row['cache_mib']:.0f} MiB), "
          f"{row['n_parameters']} parameters, frames {row['frames']}")


if __name__ == "__main__":
    main()
