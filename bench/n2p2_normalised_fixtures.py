"""Make (or check) the n2p2 reference answers of 4G models with data-set normalisation.

n2p2 reads ``mean_energy``, ``conv_energy``, ``conv_length`` and ``conv_charge`` in ``input.nn``
and then predicts in "normalised" units (Mode::setupNormalization, setupElectrostatics,
Prediction::readStructureFromFile/predict). The shipped 4G models have no normalisation, so
the variants here add these lines to a copy of a shipped ``input.nn`` (the weights, scaling,
hardness files stay the same: a different but valid model) and run the real ``nnp-predict`` on
them. The outputs become ``tests/fixtures/n2p2_4g_normalised/<variant>/<structure>/``.

    python bench/n2p2_normalised_fixtures.py [--n2p2 /work/n2p2build/bin] [--check]

``--check`` compares a fresh nnp-predict run with the stored fixtures instead of writing them.
``--export`` reads each variant with potforge, writes it back with potforge's n2p2 exporter
(equivalent un-normalised files), runs nnp-predict on the exported folder and prints how far
that is from n2p2 on the normalised original (the fixtures) and from potforge.
Needs the n2p2 binaries (bench/build_n2p2.sh) and ../shared/data/n2p2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "n2p2"
FIXTURES = ROOT / "tests" / "fixtures" / "n2p2_4g_normalised"
OUTPUTS = ("energy.out", "nnforces.out", "nnatoms.out")

# variant -> (shipped model, lines replacing/adding keywords of its input.nn, structures)
# structures: name -> (input.data of the shipped folder, 0-based frame index)
VARIANTS = {
    # open chain, Kolafa-Perram, no conv_charge (n2p2 default 1)
    "carbon_chain": ("Carbon_chain_4G",
                     {"mean_energy": "-0.27315", "conv_energy": "41.3", "conv_length": "0.62"},
                     {"shipped": ("input.data", 0), "charged": ("train/input.data", 3)}),
    # the same chain with a charge conversion (short-range network's charge input)
    "carbon_chain_charge": ("Carbon_chain_4G",
                            {"mean_energy": "1.5", "conv_energy": "0.21", "conv_length": "3.7",
                             "conv_charge": "2.3"},
                            {"shipped": ("input.data", 0), "charged": ("train/input.data", 3)}),
    # periodic slab, Kolafa-Perram with the optimal eta (precision a force, max charge)
    "alaumgo": ("AlAuMgO_4G",
                {"mean_energy": "0.0123", "conv_energy": "3.7", "conv_length": "1.9",
                 "conv_charge": "0.55"},
                {"shipped": ("input.data", 0)}),
    # periodic slab, Kolafa-Perram with a fixed real-space cutoff (Bohr); long enough that
    # eta >= sqrt(2) sigma_max, where potforge keeps n2p2's cutoff (see the README)
    "alaumgo_fixed_cutoff": ("AlAuMgO_4G",
                             {"mean_energy": "-2.5", "conv_energy": "0.8", "conv_length": "0.35",
                              "conv_charge": "1.6", "ewald_prec": "2.e-5 0.45 24.0"},
                             {"shipped": ("input.data", 0)}),
    # periodic slab, Jackson-Catlow (relative precision)
    "alaumgo_jackson": ("AlAuMgO_4G",
                        {"mean_energy": "0.4", "conv_energy": "12.0", "conv_length": "2.2",
                         "conv_charge": "0.8", "ewald_truncation_error_method": "0",
                         "ewald_prec": "1.e-6"},
                        {"shipped": ("input.data", 0)}),
}


def replace_keywords(model: str, changes: dict[str, str]) -> tuple[list[str], list[str]]:
    """The shipped input.nn's lines with the keywords of ``changes`` replaced (the first
    occurrence; later ones dropped), and the lines of the keywords it lacks."""
    out, done = [], set()
    for line in (DATA / model / "input.nn").read_text().splitlines():
        words = line.split("#")[0].split()
        key = words[0] if words else None
        if key in changes:
            if key not in done:
                out.append(f"{key} {changes[key]}")
                done.add(key)
            continue
        out.append(line)
    return out, [f"{k} {v}" for k, v in changes.items() if k not in done]


def variant_input_nn(model: str, changes: dict[str, str]) -> str:
    """The shipped input.nn with the keywords of ``changes`` replaced (or appended)."""
    out, extra = replace_keywords(model, changes)
    out.append("# data-set normalisation added for potforge's fixtures (bench/n2p2_normalised_fixtures.py)")
    return "\n".join(out + extra) + "\n"


def frame_text(path: Path, index: int) -> str:
    """Frame ``index`` (0-based) of an n2p2 input.data as text."""
    frames, current = [], None
    for line in path.read_text().splitlines():
        word = line.split()[0] if line.split() else ""
        if word == "begin":
            current = [line]
        elif current is not None:
            current.append(line)
            if word == "end":
                frames.append(current)
                current = None
    return "\n".join(frames[index]) + "\n"


def model_files(model: str) -> list[Path]:
    return [p for p in (DATA / model).iterdir()
            if p.name == "scaling.data" or p.name.startswith(("weights.", "weightse.", "hardness."))]


def run_predict(n2p2: Path, model: str, input_nn: str, structure: str, work: Path) -> Path:
    work.mkdir(parents=True)
    for p in model_files(model):
        shutil.copy(p, work / p.name)
    (work / "input.nn").write_text(input_nn)
    (work / "input.data").write_text(structure)
    nnp_predict(n2p2, work)
    return work


def max_difference(a: Path, b: Path) -> float:
    worst = 0.0
    for la, lb in zip(_rows(a), _rows(b), strict=True):
        for x, y in zip(la, lb, strict=True):
            worst = max(worst, abs(float(x) - float(y)))
    return worst


def _rows(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def charged_atoms(path: Path):
    """The first frame of an n2p2 input.data (Bohr, Ha) as ASE atoms with its total charge."""
    from potforge.data.io.n2p2 import read_input_data

    frame = read_input_data(path, length_unit="bohr", energy_unit="hartree")[0]
    atoms = frame.atoms
    atoms.info["total_charge"] = frame.total_charge or 0.0
    return atoms


def potforge_differences(potential, atoms, outputs: Path) -> tuple[float, float, float]:
    """potforge's prediction of ``atoms`` against nnp-predict's energy.out, nnforces.out and
    nnatoms.out in ``outputs``: |dE| per atom (Ha), max |dF| (Ha/Bohr), max |dq| (e)."""
    import numpy as np
    from ase.units import Bohr, Hartree

    energy = float(_rows(outputs / "energy.out")[0][3])
    forces = np.array(_rows(outputs / "nnforces.out"), dtype=float)[:, 5:8]
    charges = np.array(_rows(outputs / "nnatoms.out"), dtype=float)[:, 4]
    p = potential.predict(atoms)
    return (abs(p.energy / Hartree - energy) / len(atoms),
            float(np.abs(p.forces / (Hartree / Bohr) - forces).max()),
            float(np.abs(p.charges - charges).max()))


def nnp_predict(n2p2: Path, work: Path) -> None:
    """nnp-predict in ``work`` (one thread), its screen output in screen.txt."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(work / "screen.txt", "w") as screen:
        subprocess.run([os.fspath(n2p2 / "nnp-predict"), "0"], cwd=work, env=env, stdout=screen,
                       stderr=subprocess.STDOUT, check=True)


def store_or_check(work: Path, target: Path, label: str, check: bool) -> float:
    """With ``check``: the largest difference of the outputs in ``work`` from the fixture
    ``target`` (printed); otherwise copy the outputs there and return 0."""
    if check:
        diffs = [max_difference(work / f, target / f) for f in OUTPUTS]
        print(f"{label}: max |n2p2 now - fixture| " + " ".join(f"{d:.2e}" for d in diffs))
        return max(diffs)
    target.mkdir(parents=True, exist_ok=True)
    for f in OUTPUTS:
        shutil.copy(work / f, target / f)
    return 0.0


def finish(check: bool, worst: float) -> int:
    if check:
        print(f"worst difference {worst:.2e}")
        return 0 if worst < 1e-12 else 1
    return 0


def check_export(n2p2: Path) -> int:
    """nnp-predict on potforge's export of each normalised variant, against the fixtures and
    against potforge's own prediction (Ha/atom, Ha/Bohr, e)."""
    from potforge.export import export_model
    from potforge.models.hdnnp_charges.n2p2 import read_n2p2_4g_model

    units = dict(length_unit="bohr", energy_unit="hartree")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, changes, structures) in VARIANTS.items():
            original = Path(tmp) / name / "original"
            original.mkdir(parents=True)
            for p in model_files(model):
                shutil.copy(p, original / p.name)
            shutil.copy(FIXTURES / name / "input.nn", original / "input.nn")
            potential = read_n2p2_4g_model(original, **units)
            exported = Path(tmp) / name / "exported"
            export_model(potential, "n2p2", exported, **units)
            for sname, (source, index) in structures.items():
                text = frame_text(DATA / model / source, index)
                work = Path(tmp) / name / f"run_{sname}"
                work.mkdir()
                for p in exported.iterdir():
                    shutil.copy(p, work / p.name)
                (work / "input.data").write_text(text)
                nnp_predict(n2p2, work)
                # energy.out: Ennp per atom (its E_offset column differs by design: the export
                # carries mean_energy in the atom_energy offsets)
                n_atoms = int(_rows(work / "energy.out")[0][1])
                fixture = [abs(float(_rows(work / "energy.out")[0][3])
                               - float(_rows(FIXTURES / name / sname / "energy.out")[0][3])) / n_atoms]
                fixture += [max_difference(work / f, FIXTURES / name / sname / f) for f in OUTPUTS[1:]]
                atoms = charged_atoms(work / "input.data")
                own = list(potforge_differences(potential, atoms, work))
                worst = max(worst, *own, *fixture)
                print(f"{name}/{sname}: n2p2(export) vs n2p2(normalised) Ennp/atom, max |diff| "
                      f"nnforces.out, nnatoms.out " + " ".join(f"{d:.1e}" for d in fixture)
                      + "; vs potforge dE/atom, dF, dq " + " ".join(f"{d:.1e}" for d in own))
    print(f"worst difference: {worst:.1e}")
    return 0 if worst < 1e-9 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n2p2", type=Path, default=Path("/work/n2p2build/bin"))
    ap.add_argument("--check", action="store_true", help="compare with the stored fixtures")
    ap.add_argument("--export", action="store_true", help="nnp-predict on potforge's n2p2 export")
    args = ap.parse_args()
    if args.export:
        return check_export(args.n2p2)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, changes, structures) in VARIANTS.items():
            input_nn = variant_input_nn(model, changes)
            if not args.check:
                (FIXTURES / name).mkdir(parents=True, exist_ok=True)
                (FIXTURES / name / "input.nn").write_text(input_nn)
            for sname, (source, index) in structures.items():
                text = frame_text(DATA / model / source, index)
                work = run_predict(args.n2p2, model, input_nn, text, Path(tmp) / name / sname)
                target = FIXTURES / name / sname
                worst = max(worst, store_or_check(work, target, f"{name}/{sname}", args.check))
                if args.check:
                    continue
                if source != "input.data":  # the shipped structure is read from the model folder
                    (target / "input.data").write_text(text)
                energy = _rows(work / "energy.out")[0]
                print(f"{name}/{sname}: Ennp {energy[3]} Eref {energy[2]} (n = {energy[1]})")
    return finish(args.check, worst)


if __name__ == "__main__":
    sys.exit(main())
