"""Make (or check) n2p2's answers for 4G models with other Ewald and screening settings.

The shipped 4G models use one Ewald setting each. n2p2's real-space Ewald sum does not simply
stop at its real-space cutoff rCut: it runs over ``Atom::getStoredMinNumNeighbors(rCut)``
neighbours (Structure::calculateElectrostaticEnergy, calculateDAdrQ), i.e. up to rCut only when
rCut is one of the cutoffs stored per element (its symmetry-function cutoffs, the screening
radius, the largest of all), otherwise over the whole neighbour list, whose radius is
max(rCut, symmetry-function cutoffs, screening radius). And n2p2 keeps rCut when its Ewald
width eta is below sqrt(2) sigma_max. The variants here change ``ewald_prec``,
``ewald_truncation_error_method`` and ``screen_electrostatics`` in copies of the shipped
``input.nn`` of AlAuMgO_4G and H2O_RPBE-D3_4G (weights, scaling, hardness unchanged: other but
valid models) and run the real ``nnp-predict`` on the shipped structure. The outputs become
``tests/fixtures/n2p2_4g_ewald/<variant>/shipped/``.

    python bench/n2p2_ewald_fixtures.py [--n2p2 /work/n2p2build/bin] [--check]

``--check`` reruns nnp-predict and compares with the stored fixtures. ``--compare`` prints how
far potforge is from each fixture with convention "n2p2" (expected ~1e-13) and "physical".
Needs the n2p2 binaries (bench/build_n2p2.sh) and ../shared/data/n2p2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from n2p2_normalised_fixtures import (DATA, _rows, charged_atoms, finish, frame_text,  # noqa: E402
                                      potforge_differences, replace_keywords, run_predict, store_or_check)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "n2p2_4g_ewald"
KP = "ewald_truncation_error_method"

# variant -> (shipped model, keywords replaced in its input.nn). Lengths in Bohr; symmetry-
# function cutoffs 8 Bohr (AlAuMgO), 12 Bohr (water); sqrt(2) sigma_max 6.07 and 1.77 Bohr.
VARIANTS = {
    # Jackson-Catlow, loose and tight relative precision (rCut 36 and 51 Bohr)
    "alaumgo_jackson_1e-3": ("AlAuMgO_4G", {KP: "0", "ewald_prec": "1.e-3"}),
    "alaumgo_jackson_1e-6": ("AlAuMgO_4G", {KP: "0", "ewald_prec": "1.e-6"}),
    # Kolafa-Perram with the optimal eta, loose (rCut 18 Bohr)
    "alaumgo_kolafa_1e-3": ("AlAuMgO_4G", {KP: "1", "ewald_prec": "1.e-3 0.45"}),
    # fixed real cutoff below the symmetry-function cutoff: n2p2 sums to 8 Bohr (eta 1.6)
    "alaumgo_rcut_6": ("AlAuMgO_4G", {KP: "1", "ewald_prec": "2.e-5 0.45 6.0"}),
    # fixed real cutoff equal to the symmetry-function cutoff: a stored cutoff
    "alaumgo_rcut_8": ("AlAuMgO_4G", {KP: "1", "ewald_prec": "2.e-5 0.45 8.0"}),
    # fixed real cutoffs beyond the symmetry-function cutoff, eta 3.3 and 4.2 < sqrt(2) sigma_max
    "alaumgo_rcut_12": ("AlAuMgO_4G", {KP: "1", "ewald_prec": "2.e-5 0.45 12.0"}),
    "alaumgo_rcut_15": ("AlAuMgO_4G", {KP: "1", "ewald_prec": "2.e-5 0.45 15.0"}),
    # screening from 0 (whole short range screened)
    "alaumgo_screen_0_8": ("AlAuMgO_4G", {"screen_electrostatics": "0.0 8.0"}),
    # screening radius beyond the symmetry-function cutoff, rCut 6 below both: n2p2 sums to 11
    "alaumgo_screen_3.2_11_rcut_6": ("AlAuMgO_4G", {"screen_electrostatics": "3.2 11.0", KP: "1",
                                                    "ewald_prec": "2.e-5 0.45 6.0"}),
    # water: fixed real cutoff half the symmetry-function cutoff, eta 1.58 < sqrt(2) sigma_max
    "h2o_rcut_6": ("H2O_RPBE-D3_4G", {KP: "1", "ewald_prec": "1.e-5 0.36 6.0"}),
    # water: Jackson-Catlow with a loose precision
    "h2o_jackson_1e-2": ("H2O_RPBE-D3_4G", {KP: "0", "ewald_prec": "1.e-2"}),
}


def variant_input_nn(model: str, changes: dict[str, str]) -> str:
    """The shipped input.nn with the keywords of ``changes`` replaced (or appended)."""
    out, extra = replace_keywords(model, changes)
    if extra:
        out.append("# Ewald settings added for potforge's fixtures (bench/n2p2_ewald_fixtures.py)")
    return "\n".join(out + extra) + "\n"


def compare() -> int:
    """potforge (convention n2p2 and physical) against every fixture: Ha/atom, Ha/Bohr, e."""
    import dataclasses

    from potforge.models.hdnnp_charges.n2p2 import read_n2p2_4g_model

    units = dict(length_unit="bohr", energy_unit="hartree")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, _) in VARIANTS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            for p in (DATA / model).glob("*.data"):
                if p.name != "input.data":
                    shutil.copy(p, folder / p.name)
            shutil.copy(FIXTURES / name / "input.nn", folder / "input.nn")
            potential = read_n2p2_4g_model(folder, **units)
            atoms = charged_atoms(DATA / model / "input.data")
            line = [name]
            for convention in ("n2p2", "physical"):
                potential.electrostatics = dataclasses.replace(potential.electrostatics, convention=convention)
                d = potforge_differences(potential, atoms, FIXTURES / name / "shipped")
                if convention == "n2p2":
                    worst = max(worst, *d)
                line.append(f"{convention}: " + " ".join(f"{x:.1e}" for x in d))
            print(" | ".join(line), flush=True)
    print(f"worst difference (convention n2p2): {worst:.1e}")
    return 0 if worst < 1e-9 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n2p2", type=Path, default=Path("/work/n2p2build/bin"))
    ap.add_argument("--check", action="store_true", help="compare with the stored fixtures")
    ap.add_argument("--compare", action="store_true", help="potforge against the fixtures")
    ap.add_argument("variants", nargs="*", help="only these variants")
    args = ap.parse_args()
    if args.compare:
        return compare()
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, changes) in VARIANTS.items():
            if args.variants and name not in args.variants:
                continue
            input_nn = variant_input_nn(model, changes)
            if not args.check:
                (FIXTURES / name).mkdir(parents=True, exist_ok=True)
                (FIXTURES / name / "input.nn").write_text(input_nn)
            text = frame_text(DATA / model / "input.data", 0)
            work = run_predict(args.n2p2, model, input_nn, text, Path(tmp) / name)
            worst = max(worst, store_or_check(work, FIXTURES / name / "shipped", name, args.check))
            if args.check:
                continue
            shutil.copy(work / "screen.txt", Path(tmp) / f"{name}.screen.txt")
            energy = _rows(work / "energy.out")[0]
            log = (work / "screen.txt").read_text()
            warn = " (n2p2 warns: truncation estimate unreliable)" if "may not be" in log else ""
            print(f"{name}: Ennp {energy[3]} (n = {energy[1]}){warn}", flush=True)
    return finish(args.check, worst)


if __name__ == "__main__":
    sys.exit(main())
