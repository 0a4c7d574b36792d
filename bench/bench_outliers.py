"""Error-vs-error outlier detection on real data with deliberately corrupted labels (issue 16).

Takes a labelled data set (default: the mlearn Cu test set, 31 DFT frames), corrupts the labels
of a random choice of frames in ways real data go wrong — an energy shifted by a few meV/atom
(a different DFT setting or a unit slip in one run), the energy of the wrong frame, one atom's
force off by a fraction of an eV/Å, all forces scaled by a wrong factor — writes the corrupted
set, and runs ``potforge outliers`` with two or more models trained on the uncorrupted training
set (independent seeds). Reports which frames were flagged against which were corrupted:
true positives, misses and false alarms, and the PNG of the errors.

    python bench/bench_outliers.py MODEL_A MODEL_B [MODEL_C ...] -o DIR
        [--data ../shared/data/mlearn/Cu/test.xyz] [--corrupt 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))


def corrupt(frames, n: int, seed: int) -> dict[int, str]:
    """Corrupt ``n`` frames in place; {index: what was done}."""
    rng = np.random.default_rng(seed)
    kinds = ["energy +4 meV/atom", "energy -3 meV/atom", "energy of another frame", "one force +0.5 eV/Å",
             "forces x 1.1", "energy +2 meV/atom"]
    # force corruptions go to frames with forces to corrupt (rms > 0.1 eV/Å: scaling the
    # 1e-3 eV/Å forces of a strained crystal by 1.1 changes nothing measurable)
    forceful = [i for i, f in enumerate(frames) if np.sqrt(np.mean(f.forces ** 2)) > 0.1]
    plan, used = [], set()
    for k in range(n):
        kind = kinds[k % len(kinds)]
        pool = [i for i in (forceful if "force" in kind else range(len(frames))) if i not in used]
        i = int(rng.choice(pool))
        used.add(i)
        plan.append((i, kind))
    done = {}
    for i, kind in sorted(plan):
        f = frames[i]
        if kind.startswith("energy +") or kind.startswith("energy -"):
            f.energy += float(kind.split()[1]) * 1e-3 * f.n_atoms
        elif kind == "energy of another frame":
            other = next(j for j in range(len(frames)) if j != i and frames[j].n_atoms == f.n_atoms
                         and abs(frames[j].energy - f.energy) > 0.01 * f.n_atoms)
            f.energy = frames[other].energy
        elif kind == "one force +0.5 eV/Å":
            f.forces[int(rng.integers(f.n_atoms)), 0] += 0.5
        else:
            f.forces *= 1.1
        done[i] = kind
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=SHARED / "mlearn" / "Cu" / "test.xyz")
    ap.add_argument("--corrupt", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from potforge.data.dataset import Dataset
    from potforge.data.io import write_frames

    args.output.mkdir(parents=True, exist_ok=True)
    frames = list(Dataset.read(args.data))
    done = corrupt(frames, args.corrupt, args.seed)
    bad = args.output / "corrupted.xyz"
    write_frames(bad, frames)

    def outliers(data: Path, *extra: str) -> dict:
        command = [sys.executable, "-m", "potforge.cli", "outliers", *args.models, str(data), "--json", *extra]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        return json.loads(proc.stdout)

    clean = set(outliers(args.data)["flagged"])     # what the unmodified data already show
    result = outliers(bad, "-o", str(args.output))
    flagged = set(result["flagged"])
    hits, misses = sorted(flagged & set(done)), sorted(set(done) - flagged)
    alarms = sorted(flagged - set(done) - clean)
    print(f"data {args.data} ({len(frames)} frames), models {', '.join(args.models)}")
    for i in sorted(done):
        row = result["frames"][i]
        print(f"  frame {i:3d} corrupted ({done[i]}): {'FLAGGED' if i in flagged else 'missed'}; energy errors "
              f"{row['energy_error_mev_per_atom']} meV/atom, largest force errors {row['max_force_error_ev_per_angstrom']}")
    print(f"flagged {len(flagged)}: {len(hits)} of {len(done)} corrupted frames found, misses {misses}; "
          f"flagged in the unmodified data too: {sorted(clean)}; other flags (false alarms): {alarms}")
    (args.output / "bench.json").write_text(json.dumps({"corrupted": done, "flagged": sorted(flagged),
                                                        "flagged_unmodified": sorted(clean),
                                                        "false_alarms": alarms, "misses": misses,
                                                        "command": " ".join(sys.argv)}, indent=1))


if __name__ == "__main__":
    main()
