"""Symmetry functions against n2p2's own values and derivatives (H2O_RPBE-D3 sf_fixture).

Acceptance: values and derivatives match to 1e-10, relative, or absolute for values below
1e-6. The fixture is in Bohr; potforge works in Å and converts at the file boundary.

Scaled values are s (G − mean) (+ S_min): where G is close to the mean the subtraction
cancels, so a last-bit difference in G (summation order) becomes a large relative
difference in the scaled value. Their tolerance is therefore 1e-10 of s·|G|, which is what
the raw-value agreement implies; scaled derivatives (s·dG/dr, no cancellation) use the
plain rule.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from potforge.core.neighbors import neighbor_list
from potforge.core.units import Bohr
from potforge.data.io import read_frames
from potforge.descriptors.symmetry_functions import SymmetryFunctionSet, parse_n2p2_symfunction
from potforge.data.n2p2_model import read_input_nn
from potforge.core.elements import species_indices


def assert_close_1e10(actual, expected, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    small = np.abs(expected) < 1e-6
    rel = np.abs(actual - expected) / np.where(small, 1.0, np.abs(expected))
    worst = int(np.argmax(rel))
    assert rel.max() <= 1e-10, (f"{what}: worst relative/absolute error {rel.max():.3g} at entry {worst}"
                                f" ({actual.ravel()[worst]!r} vs {expected.ravel()[worst]!r})")


@pytest.fixture(scope="module")
def fixture(water_dir):
    root = water_dir / "sf_fixture"
    frames = read_frames(root / "input.data", length_unit="bohr", energy_unit="hartree")
    values = np.array([ln.split() for ln in (root / "sf_values.txt").read_text().splitlines()
                       if ln.strip() and not ln.startswith("#")])
    derivs = np.array([ln.split() for ln in (root / "sf_derivatives.txt").read_text().splitlines()
                       if ln.strip() and not ln.startswith("#")])
    return frames, values, derivs


def _compute(model, atoms, derivatives):
    sfs = model.symmetry_functions
    idx, z = species_indices(atoms, sfs.species)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
    g, jac = sfs.compute(idx, z, nl, derivatives=derivatives)
    return idx, g, jac, nl


def test_values_raw_and_scaled(water_model, fixture):
    frames, values, _ = fixture
    n_checked = 0
    for s, frame in enumerate(frames, start=1):
        idx, g, _, _ = _compute(water_model, frame.atoms, False)
        rows = values[values[:, 0] == str(s)]
        atom = rows[:, 1].astype(int) - 1
        sf = rows[:, 3].astype(int) - 1
        assert np.all(np.array(frame.symbols)[atom] == rows[:, 2])
        assert_close_1e10(g[atom, sf], rows[:, 4].astype(float), f"structure {s} raw G")
        scaled = np.empty(len(rows))
        magnitude = np.empty(len(rows))
        sc = water_model.scaling
        for e, element in enumerate(water_model.species):
            m = idx[atom] == e
            a, _ = sc.affine(element)
            raw = g[atom[m], sf[m]]
            mean = sc.statistics[element].mean[sf[m]]
            scaled[m] = sc.scaled_min + a[sf[m]] * (raw - mean)  # n2p2's ST_SCALECENTER formula
            magnitude[m] = a[sf[m]] * np.abs(raw)
        expected = rows[:, 5].astype(float)
        assert np.all(np.abs(scaled - expected) <= 1e-10 * np.maximum(magnitude, 1e-6)), \
            f"structure {s} scaled G: max deviation {np.abs(scaled - expected).max():.3g}"
        # every (atom, function) of the structure is in the fixture
        expected_rows = sum(water_model.symmetry_functions.n_functions(x) for x in frame.symbols)
        assert len(rows) == expected_rows
        n_checked += len(rows)
    assert n_checked > 5000


def test_derivatives_raw_and_scaled(water_model, fixture):
    frames, _, derivs = fixture
    for s, frame in enumerate(frames, start=1):
        atoms = frame.atoms
        idx, _, jac, nl = _compute(water_model, atoms, True)
        n = len(atoms)
        n_max = jac.shape[1]
        full = np.zeros((n, n_max, n, 3))
        np.add.at(full, (nl.centers, slice(None), nl.neighbors), jac)
        np.add.at(full, (nl.centers, slice(None), nl.centers), -jac)
        full *= Bohr  # dG/dr per Bohr
        rows = derivs[derivs[:, 0] == str(s)]
        i = rows[:, 1].astype(int) - 1
        sf = rows[:, 3].astype(int) - 1
        j = rows[:, 4].astype(int) - 1
        raw = rows[:, 5:8].astype(float)
        scaled = rows[:, 8:11].astype(float)
        assert_close_1e10(full[i, sf, j], raw, f"structure {s} dG/dr")
        factors = np.empty(len(rows))
        for e, element in enumerate(water_model.species):
            m = idx[i] == e
            factors[m] = water_model.scaling.affine(element)[0][sf[m]]
        assert_close_1e10(full[i, sf, j] * factors[:, None], scaled, f"structure {s} dGscaled/dr")
        # entries the fixture does not list (zero in n2p2) are zero here too
        listed = np.zeros((n, n_max, n), dtype=bool)
        listed[i, sf, j] = True
        centres = np.unique(i)
        for c in centres:
            n_sf = water_model.symmetry_functions.n_functions(atoms.get_chemical_symbols()[c])
            rest = full[c, :n_sf][~listed[c, :n_sf]]
            assert np.abs(rest).max(initial=0.0) < 1e-12


def test_symmetry_function_order_matches_n2p2(water_dir):
    """n2p2 sorts each element's functions; its screen output lists the input.nn line of each
    sorted function. potforge's canonical order must be the same."""
    settings = read_input_nn(water_dir / "input.nn")
    by_line = {}
    for line, value in settings.all("symfunction_short"):
        by_line[line] = parse_n2p2_symfunction(value.split(), length_unit=Bohr, cutoff_type=2)
    sfs = SymmetryFunctionSet(("H", "O"), {e: [sf for sf in by_line.values() if sf.element == e]
                                           for e in ("H", "O")})
    screen = (water_dir / "reference" / "nnp-predict.screen.txt").read_text()
    for element in ("H", "O"):
        block = screen.split(f"Short range atomic symmetry functions element  {element} :")[1]
        table = block.split("-" * 97)[2]
        n2p2_lines = [int(row.split()[-1]) for row in table.strip().splitlines()]
        ours = [next(ln for ln, sf in by_line.items() if sf == x) for x in sfs.functions[element]]
        assert ours == n2p2_lines, element


def test_n2p2_line_round_trip():
    lines = ["O 2 H 0.001 0.0 12.0", "H 3 O H 0.2 1.0 1.0 12.0", "H 3 H O 0.2 -1.0 4.0 12.0 1.5",
             "O 9 H H 0.07 -1.0 1.0 12.0", "O 12 0.1 0.2 16.0", "O 13 0.1 0.2 1.0 8.0 16.0",
             "O 20 H 0.5 12.0 p2", "O 21 H O 0.0 12.0 30.0 150.0 p3a", "O 22 H H -12.0 12.0 0.0 180.0 e",
             "O 23 1.0 12.0 p4", "O 24 0.0 12.0 -90.0 90.0 p1", "O 25 0.0 12.0 90.0 270.0 p2"]
    for text in lines:
        sf = parse_n2p2_symfunction(text.split(), length_unit=Bohr)
        again = parse_n2p2_symfunction(sf.to_n2p2(length_unit=Bohr).split(), length_unit=Bohr)
        assert sf == again, text
        # the numbers come back as written (up to the Bohr round trip)
        number = re.compile(r"-?[0-9][-0-9.e]*")
        fields = [float(x) if number.fullmatch(x) else x for x in text.split()]
        back = [float(x) if number.fullmatch(x) else x for x in sf.to_n2p2(length_unit=Bohr).split()]
        if text.startswith("H 3 H O"):
            continue  # neighbours are stored in atomic-number order: "H O" stays, written "H O"
        np.testing.assert_allclose([f for f in back if isinstance(f, float)],
                                   [f for f in fields if isinstance(f, float)], rtol=1e-14)


@pytest.mark.parametrize("text,message", [
    ("O 4 H 0.1 0.0 12.0", "unknown symmetry function type 4"),
    ("O 2 H 0.1 12.0", "type 2 needs"),
    ("O 2 H x 0.0 12.0", "eta: expected a number, found 'x'"),
    ("O 2 Xx 0.1 0.0 12.0", "unknown element"),
    ("O 20 H 13.0 12.0 p2", "inner radius < cutoff radius"),
    ("O 21 H O 0.0 12.0 150.0 30.0 p2", "left < right"),
    ("O 20 H 0.0 12.0 q2", "bad polynomial subtype"),
])
def test_bad_n2p2_lines(text, message):
    with pytest.raises(ValueError, match=message):
        parse_n2p2_symfunction(text.split())
