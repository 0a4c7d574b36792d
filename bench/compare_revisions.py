"""Two source trees of potforge side by side: whole ``potforge predict`` processes on n2p2's
water model (1,080 atoms, one thread), alternating the trees run by run so that the
machine's drift falls on both alike; medians and minima.

Each tree is a checkout with its compiled kernel built in place::

    git worktree add /tmp/old dd306d5 && (cd /tmp/old && python setup.py build_ext --inplace)

Bytecode caching is switched on for both, as in an installed package, and both trees are
byte-compiled before the first run (with ``PYTHONDONTWRITEBYTECODE`` every run would
compile every module from source, and the tree with more source would look slower).

    python bench/compare_revisions.py /path/to/old-tree /path/to/new-tree [--runs 40]

BENCHMARKS.md section 7 compares dd306d5 with the restructured tree this way.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "n2p2" / "H2O_RPBE-D3"


def _run(tree: Path, out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree / "src"), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "potforge.cli", "predict", str(SHARED), str(SHARED / "input.data"),
           "-o", str(out), "--length-unit", "bohr", "--energy-unit", "hartree", "--threads", "1"]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="first source tree (a checkout with src/potforge)")
    parser.add_argument("new", type=Path, help="second source tree")
    parser.add_argument("--runs", type=int, default=40, help="runs per tree (default 40)")
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for name, tree in trees.items():
        if not (tree / "src" / "potforge").is_dir():
            parser.error(f"{name}: {tree} has no src/potforge")
        compileall.compile_dir(str(tree / "src" / "potforge"), quiet=1)
    times: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.runs):
            order = ("old", "new") if k % 2 == 0 else ("new", "old")
            for name in order:
                times[name].append(_run(trees[name], Path(tmp) / f"{name}.xyz"))
            print(f"\rrun {k + 1}/{args.runs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for name, values in times.items():
        values.sort()
        print(f"{name} ({trees[name]}): median {statistics.median(values):.3f} s, "
              f"min {values[0]:.3f} s, first quartile {values[len(values) // 4]:.3f} s over {len(values)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
