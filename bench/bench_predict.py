"""Whole-process speed of ``potforge predict`` on n2p2's water model (issue: core).

Measures, single-threaded (``--threads 1``, one OpenMP/BLAS thread; the CPU time of each
process is reported beside its wall time to show that one core does the work), the wall
time of complete ``potforge predict`` processes — interpreter start, imports, reading the model and the
structure, neighbour list, energies and forces, writing the output — for

  * the 1,080-atom box of ../shared/data/n2p2/H2O_RPBE-D3/input.data, and
  * its 3x3x3 replica (29,160 atoms), built here,

and reports the median of several runs, atoms per second, the per-atom cost ratio of the big
and the small box, and the peak resident memory of the process. n2p2's figures on the same
machine type are in the issue: 2,300 atoms/s (0.48 s) and 222 atoms/s.

    python bench/bench_predict.py [--runs 7] [--big-runs 3] [--dtype float32] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
MODEL = SHARED / "n2p2" / "H2O_RPBE-D3"
N2P2_ATOMS_PER_S = {1080: 2300.0, 29160: 222.0}  # measured on this machine type (issue text)


def make_replica(target: Path) -> Path:
    from potforge.data.io import read_frames, write_frames

    frame = read_frames(MODEL / "input.data", length_unit="bohr", energy_unit="hartree")[0]
    big = frame.copy()
    big.atoms = frame.atoms.repeat((3, 3, 3))
    big.forces = big.charges = big.atomic_energies = None
    path = target / "input.data"
    write_frames(path, [big], length_unit="bohr", energy_unit="hartree")
    return path


def one_run(input_path: Path, output: Path, extra: list[str], pin: int | None = None
            ) -> tuple[float, int, float]:
    exe = shutil.which("potforge") or sys.executable
    cmd = [exe] if exe.endswith("potforge") else [exe, "-m", "potforge.cli"]
    cmd += ["predict", str(MODEL), str(input_path), "-o", str(output), "--length-unit", "bohr",
            "--energy-unit", "hartree", "--threads", "1", *extra]
    if pin is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(pin), *cmd]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime  # KiB on Linux


def measure(input_path: Path, n_atoms: int, runs: int, extra: list[str], pin: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        one_run(input_path, Path(tmp) / "warm.xyz", extra, pin)  # warm the page cache
        results = [one_run(input_path, Path(tmp) / "out.xyz", extra, pin) for _ in range(runs)]
    times = [t for t, _, _ in results]
    median = statistics.median(times)
    return {"atoms": n_atoms, "runs": runs, "median_s": median, "min_s": min(times),
            "max_s": max(times), "atoms_per_s": n_atoms / median,
            "median_cpu_s": statistics.median(c for _, _, c in results),
            "peak_rss_mib": max(m for _, m, _ in results) / 1024.0,
            "n2p2_atoms_per_s": N2P2_ATOMS_PER_S.get(n_atoms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--big-runs", type=int, default=3)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--pin", type=int, default=None,
                        help="run on this core only (taskset); by default the single-threaded "
                             "process may be placed on any core")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from potforge import _native

    report = {"date": time.strftime("%Y-%m-%d"), "kernel": _native.default_architecture(),
              "cpu": _cpu_name(), "cores_used": 1}
    extra = ["--dtype", args.dtype]
    report["dtype"] = args.dtype
    report["box_1080"] = measure(MODEL / "input.data", 1080, args.runs, extra, args.pin)
    with tempfile.TemporaryDirectory() as tmp:
        big = make_replica(Path(tmp))
        report["box_29160"] = measure(big, 29160, args.big_runs, extra, args.pin)
    small, large = report["box_1080"], report["box_29160"]
    report["per_atom_cost_ratio_29160_vs_1080"] = (large["median_s"] / 29160) / (small["median_s"] / 1080)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"potforge predict, single-threaded, {args.dtype}, kernel {report['kernel']}, {report['cpu']}")
        for key in ("box_1080", "box_29160"):
            r = report[key]
            print(f"  {r['atoms']:>6} atoms: median {r['median_s']:.3f} s over {r['runs']} runs "
                  f"(min {r['min_s']:.3f}, max {r['max_s']:.3f}) = {r['atoms_per_s']:,.0f} atoms/s "
                  f"(n2p2 {r['n2p2_atoms_per_s']:,.0f}: x{r['atoms_per_s'] / r['n2p2_atoms_per_s']:.2f}); "
                  f"CPU time {r['median_cpu_s']:.3f} s; peak memory {r['peak_rss_mib']:.0f} MiB")
        print(f"  per-atom cost 29,160 / 1,080 atoms: {report['per_atom_cost_ratio_29160_vs_1080']:.2f}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
