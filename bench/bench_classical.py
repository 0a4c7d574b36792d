"""Classical potentials fitted to mlearn DFT data: fit time, test errors and properties vs DFT.

For each config, runs the whole ``potforge train CONFIG -o DIR`` process (timed: interpreter
start, reading data, neighbour lists, the least-squares fit, test evaluation, writing), then
computes the model's properties (validation.properties.property_table) and the same
properties from the DFT training data (reference_properties: Cij from the strained Elastic
frames, a0 from the ground state, ...), and prints both as a Markdown table:

    python bench/bench_classical.py examples/mlearn-cu-eam/config.yaml --element Cu --lattice fcc
    python bench/bench_classical.py examples/mlearn-cu-morse/config.yaml --element Cu --lattice fcc
    python bench/bench_classical.py examples/mlearn-ni-eam/config.yaml --element Ni --lattice fcc
    python bench/bench_classical.py examples/mlearn-si-tersoff/config.yaml --element Si --lattice diamond \
        --dft-max-strain 0.11

``--out DIR`` keeps the trained model (default: a temporary directory); ``--json FILE``
writes all figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

KEYS = ("a0_angstrom", "cohesive_energy_ev", "bulk_modulus_gpa", "c11_gpa", "c12_gpa", "c44_gpa",
        "cauchy_pressure_gpa", "vacancy_formation_ev", "surface_energy_111_j_per_m2",
        "surface_energy_100_j_per_m2", "stacking_fault_mj_per_m2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--element", required=True)
    ap.add_argument("--lattice", required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--dft-max-strain", type=float, default=0.035,
                    help="largest strain of the Elastic frames used for the DFT Cij (mlearn Si "
                         "strains the shear only beyond 3.5 %%: use 0.11 there)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "model"
        cmd = [sys.executable, "-m", "potforge.cli", "train", str(args.config), "-o", str(out)]
        for o in args.overrides:
            cmd += ["--set", o]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        summary = json.loads((out / "summary.json").read_text())
        print(proc.stdout.strip().splitlines()[-4] if proc.stdout else "")

        import potforge
        from ase.io import read

        from potforge.training.config import load_config
        from potforge.validation.properties import comparison_table, property_table, reference_properties

        config = load_config(args.config, args.overrides)
        calc = potforge.calculator(out)
        t0 = time.perf_counter()
        model = property_table(calc, args.element, args.lattice,
                               which=["lattice", "eos", "elastic", "vacancy", "surfaces"]
                               + (["stacking_fault"] if args.lattice == "fcc" else []),
                               progress=lambda line: print("  " + line, file=sys.stderr))
        t_props = time.perf_counter() - t0
        frames = [a for p in config.data.train for a in read(config.path(p), ":")]
        dft = reference_properties(frames, args.element, args.lattice, max_strain=args.dft_max_strain)

    test = summary.get("test", {})
    result = {"config": str(args.config), "wall_s": wall, "peak_rss_mib": peak,
              "fit_loop_s": summary.get("training_loop_time_s"), "n_parameters": summary.get("n_parameters"),
              "test": test, "properties_s": t_props,
              "model": {k: model.get(k) for k in KEYS if k in model},
              "dft": {k: dft.get(k) for k in KEYS if k in dft}, "dft_notes": dft.get("notes", [])}
    print(f"\n{args.config}: whole process {wall:.1f} s (fit loop {result['fit_loop_s']:.1f} s), "
          f"peak {peak:.0f} MiB, {result['n_parameters']} parameters")
    print(f"test RMSE: energy {test.get('energy_rmse_mev_per_atom', float('nan')):.3f} meV/atom, "
          f"forces {test.get('force_rmse_ev_per_angstrom', float('nan')):.4f} eV/Å, "
          f"stress {test.get('stress_rmse_gpa', float('nan')):.3f} GPa")
    print(f"properties in {t_props:.1f} s\n")
    print(comparison_table({k: model[k] for k in KEYS if k in model}, {k: dft[k] for k in KEYS if k in dft}))
    for note in dft.get("notes", []):
        print(f"- DFT: {note}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
