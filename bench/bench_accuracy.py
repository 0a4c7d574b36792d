"""The accuracy study of issue 15: one recipe, every mlearn element, several seeds.

Runs complete ``potforge train CONFIG -o DIR`` processes for each element and seed, with only
the data paths and the seed changed, and tabulates the test errors on mlearn's test sets (never
used for any choice: the recipe's epoch is chosen on a validation split of the training set)
against the best published methods of Zuo et al. 2020 and ace-jax:

    python bench/bench_accuracy.py examples/mlearn-cu/config.yaml --elements Cu,Ni,Li,Si \\
        --seeds 1,2,3 --parallel 2 -o bench-accuracy [--set key=value ...]

Every run writes ``OUT/<element>-seed<S>/`` (the model, ``summary.json`` and the training log)
and the command that made it; a finished run made by the same command and config text is not
repeated and an interrupted one is resumed (``--resume``), so a study can be continued; a run
directory made by another command is an error rather than a stale row in the table.
The table (markdown) goes to stdout and ``OUT/table.md``, the raw figures to ``OUT/results.json``.
Mean absolute errors are the headline (Zuo et al. report MAE); RMSEs, stress and per-config-type
energy MAEs stand beside them. ``--parallel 2`` runs two single-threaded trainings at a time on
the 2 cores (each run's wall time then includes the sharing; say so when quoting).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))

# Best test MAE of GAP, MTP (Zuo et al. 2020, as quoted by ACEpotentials.jl examples/zuobench)
# and ace-jax (issue 15's measurement): energy meV/atom, forces eV/Å.
TARGETS = {"Ni": (0.41, 0.01), "Cu": (0.28, 0.0080), "Li": (0.37, 0.0082), "Si": (2.21, 0.06)}


def run_one(config: Path, element: str, seed: int, overrides: list[str], out: Path) -> dict:
    """Train (unless done before) and return the run's figures."""
    run_dir = out / f"{element}-seed{seed}"
    summary_path = run_dir / "summary.json"
    log_path = out / f"{element}-seed{seed}.log"
    data = SHARED / "mlearn" / element
    cmd = [sys.executable, "-m", "potforge.cli", "train", str(config), "-o", str(run_dir),
           "--set", f"data.train={data / 'train.xyz'}", "--set", f"data.test={data / 'test.xyz'}",
           "--set", f"training.seed={seed}"]
    for o in overrides:
        cmd += ["--set", o]
    # a run is reused only if it was made by the same command from the same config text
    stamp = json.dumps({"command": cmd[1:], "config": config.read_text()}, sort_keys=True)
    stamp_path = out / f"{element}-seed{seed}.command.json"
    same = stamp_path.exists() and stamp_path.read_text() == stamp
    if run_dir.exists() and not same:
        raise SystemExit(f"{run_dir}: made by another command or config; choose another -o or remove it")
    wall = None
    if not summary_path.exists():
        _write(stamp_path, stamp)
        resume = ["--resume"] if (run_dir / "checkpoint.pt").exists() else []
        start = time.perf_counter()
        with open(log_path, "a") as log:
            proc = subprocess.run(cmd + resume, stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = log_path.read_text()[-2000:]
            raise SystemExit(f"{element} seed {seed}: training failed ({proc.returncode}):\n{tail}")
        if not resume:     # a resumed run's wall time would leave out the part before the stop
            _write(run_dir / "wall_time_s", f"{wall:.1f}\n")
    if (run_dir / "wall_time_s").exists():
        wall = float((run_dir / "wall_time_s").read_text())
    s = json.loads(summary_path.read_text())
    t = s["test"]
    return {"element": element, "seed": seed, "wall_s": wall, "peak_memory_mib": s["peak_memory_mib"],
            "epochs_run": s["epochs_run"], "best_epoch": s["best_epoch"], "n_parameters": s["n_parameters"],
            "energy_mae": t["energy_mae_mev_per_atom"], "energy_rmse": t["energy_rmse_mev_per_atom"],
            "force_mae": t["force_mae_ev_per_angstrom"], "force_rmse": t["force_rmse_ev_per_angstrom"],
            "stress_mae": t["stress_mae_gpa"], "stress_rmse": t["stress_rmse_gpa"],
            "stress_offset": s.get("stress_offset"),
            "by_config_type": {k: v["energy_mae_mev_per_atom"]
                               for k, v in (s.get("test_by_config_type") or {}).items()}}


def _write(path: Path, text: str) -> None:
    """Atomic: a temporary file beside ``path``, then a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def table(rows: list[dict]) -> str:
    """Markdown: one line per run, then mean ± std over seeds per element."""
    lines = ["| element | seed | wall (s) | peak (MiB) | epochs (best) | E MAE (RMSE) meV/atom | "
             "F MAE (RMSE) eV/Å | S MAE (RMSE) GPa | E MAE by config_type | target E / F MAE |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ct = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["by_config_type"].items()))
        tgt = TARGETS.get(r["element"], (None, None))
        wall = f"{r['wall_s']:.0f}" if r["wall_s"] is not None else "—"
        lines.append(f"| {r['element']} | {r['seed']} | {wall} | {r['peak_memory_mib']:.0f} | "
                     f"{r['epochs_run']} ({r['best_epoch']}) | "
                     f"{r['energy_mae']:.3f} ({r['energy_rmse']:.3f}) | "
                     f"{r['force_mae']:.4f} ({r['force_rmse']:.4f}) | {r['stress_mae']:.3f} "
                     f"({r['stress_rmse']:.3f}) | {ct} | {tgt[0]} / {tgt[1]} |")
    lines += ["", "| element | seeds | E MAE meV/atom | F MAE eV/Å | E RMSE | F RMSE | wall (s) | "
              "target E / F |",
              "|---|---|---|---|---|---|---|---|"]
    for el in dict.fromkeys(r["element"] for r in rows):
        rs = [r for r in rows if r["element"] == el]
        tgt = TARGETS.get(el, (None, None))
        lines.append(f"| {el} | {len(rs)} | {_mean_std([r['energy_mae'] for r in rs])} | "
                     f"{_mean_std([r['force_mae'] for r in rs])} | "
                     f"{_mean_std([r['energy_rmse'] for r in rs])} | "
                     f"{_mean_std([r['force_rmse'] for r in rs])} | {_mean_std([r['wall_s'] for r in rs])} | "
                     f"{tgt[0]} / {tgt[1]} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--elements", default="Cu,Ni,Li,Si")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--parallel", type=int, default=1, help="runs at a time (each single-threaded)")
    ap.add_argument("-o", "--output", type=Path, default=Path("bench-accuracy"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    overrides = ["training.threads=1", *args.overrides] if args.parallel > 1 else list(args.overrides)
    jobs = [(el, int(s)) for el in args.elements.split(",") for s in args.seeds.split(",")]
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        rows = list(pool.map(lambda j: run_one(args.config.resolve(), j[0], j[1], overrides,
                                               args.output.resolve()), jobs))
    _write(args.output / "results.json", json.dumps(rows, indent=1) + "\n")
    text = table(rows)
    _write(args.output / "table.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
