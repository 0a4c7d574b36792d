"""What a labelled DFT data set says about the same properties (:func:`reference_properties`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms, units

from ...core.crystals import ATOMS_PER_CELL, check_lattice
from ...core.errors import DataFormatError
from ...core.voigt import VOIGT_PAIRS

__all__ = ["reference_properties"]


def _green_lagrange(cell0: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deformation gradient F (column convention, x' = F x) and the Green–Lagrange strain
    E = ½(FᵀF − I) of ``cell`` relative to ``cell0`` (rows are cell vectors: cell = cell0 Fᵀ)."""
    f = np.linalg.solve(cell0, cell).T
    return f, 0.5 * (f.T @ f - np.eye(3))


def _to_voigt(tensor: np.ndarray, engineering: bool) -> np.ndarray:
    factor = 2.0 if engineering else 1.0
    return np.array([tensor[i, j] * (factor if i != j else 1.0) for i, j in VOIGT_PAIRS])


def reference_properties(frames: Sequence[Atoms], element: str, lattice: str, *,
                         max_strain: float = 0.035, degree: int = 2) -> dict:
    """What a labelled DFT data set says about the properties of :func:`potforge.validation.properties.table.property_table`.

    ``frames`` are ``ase.Atoms`` with energies and stresses (calculator results, as
    ``ase.io.read`` gives them) and ``atoms.info["config_type"]`` as in the mlearn data
    (Zuo et al., J. Phys. Chem. A 124, 731 (2020)).

    - Ground state: the ``Elastic`` frame whose ``info["description"]`` starts with
      "Ground state" (mlearn's label), else the ``Elastic`` frame of smallest |σ|. Gives
      ``e0_ev_per_atom``, ``v0_angstrom3_per_atom`` and, for cubic lattices, a0 = (V/N · n)^(1/3)
      with n atoms per conventional cell.
    - Elastic constants: each ``Elastic`` frame with the ground state's atom count is a
      homogeneous strain of it, F = (cell_gs⁻¹ cell)ᵀ; its Green–Lagrange strain
      ε = ½(FᵀF − I) (Voigt, engineering shears) and second Piola–Kirchhoff stress
      S = det F · F⁻¹ σ F⁻ᵀ (σ: the DFT stress, so rigid rotations of a frame cancel) are
      fitted by linear least squares, S = S0 + C ε + Σ_k Σ_{p=2..d_k} D_kp ε_k^p, over the
      frames with max |ε_i| ≤ ``max_strain``; S0 takes the ground state's residual stress and
      the powers (d_k ≤ ``degree``, as many as the values of ε_k allow) the curvature of the
      stress–strain curves, so C is the slope at ε = 0. Defaults: mlearn strains one Voigt
      component at a time by ±1 … ±10 %. Over ±3.5 % with quadratic terms, EMT-labelled
      frames of that design give EMT's own constants to 0.5 % (cubic terms would give 0.1 %,
      but on the noisy mlearn Cu stresses they make the cubic-equivalent C11, C22, C33 differ
      by 10 %, against 2 % with quadratic terms); the full ±10 % is far from polynomial
      (third- and fourth-order constants) and biases C11 by several %. The mlearn Cu
      stresses are noisy (ΔE/(Vσ:Δε) = 0.98, data README): other ranges and degrees move C11
      by about ±10 GPa, C12 by ±5 GPa and C44 by ±2 GPa, the bulk modulus by ±2 %. C is
      symmetrised; the note gives the asymmetry before. Reported as ``cij_gpa``, cubic averages
      ``c11_gpa``, ``c12_gpa``, ``c44_gpa``, ``cauchy_pressure_gpa``, ``bulk_modulus_voigt_gpa``
      and ``bulk_modulus_gpa`` = (C11 + 2C12)/3 (the data hold no hydrostatic E–V scan; at
      zero pressure the two agree exactly). These are the energy-derivative constants C⁰ at
      the ground state; under a pressure P they relate to the stress–strain coefficients B of
      :func:`potforge.validation.properties.bulk.elastic_constants` by C⁰11 = B11 + P, C⁰12 = B12 − P, C⁰44 = B44 + P (Wallace
      1972), a 0.3 GPa effect at mlearn Cu's residual pressure.
    - Vacancy: mlearn's ``Vacancy`` frames are AIMD snapshots (300 K and above), not relaxed
      structures, so E(N−1) − (N−1) e_gs contains the thermal potential energy of ~N atoms
      (≈ (3/2) N k_B T): it is only an upper bound of the relaxed formation energy.
      The minimum over the frames is reported as ``vacancy_formation_upper_bound_ev``
      (deliberately not ``vacancy_formation_ev``).

    Returns the keys that the data allow plus ``notes`` (list of str) saying what was used.
    """
    lattice = check_lattice(lattice)
    notes: list[str] = []
    out: dict = {"element": element, "lattice": lattice}
    labelled = [(k, atoms) for k, atoms in enumerate(frames)
                if set(atoms.get_chemical_symbols()) == {element}]
    if not labelled:
        raise DataFormatError(f"no frames of pure {element} in the data")
    elastic = [(k, a) for k, a in labelled if str(a.info.get("config_type", "")).lower() == "elastic"]
    vacancy = [(k, a) for k, a in labelled if str(a.info.get("config_type", "")).lower() == "vacancy"]
    ground = _ground_state(elastic, notes)
    if ground is not None:
        k_gs, gs = ground
        n_gs = len(gs)
        e_gs = _energy_label(gs, k_gs) / n_gs
        v_gs = float(gs.get_volume()) / n_gs
        out["e0_ev_per_atom"] = e_gs
        out["v0_angstrom3_per_atom"] = v_gs
        if lattice != "hcp":
            out["a0_angstrom"] = (v_gs * ATOMS_PER_CELL[lattice]) ** (1 / 3)
        else:
            notes.append("a0 not derived: hcp needs c/a, which V/N alone does not give")
        p_gs = -float(np.trace(_stress(gs, k_gs, voigt=False))) / 3 / units.GPa
        notes.append(f"ground-state pressure {p_gs:.3f} GPa")
        out.update(_elastic_from_frames(gs, elastic, max_strain, degree, notes))
        if vacancy:
            out.update(_vacancy_bound(vacancy, n_gs, e_gs, notes))
    if not vacancy:
        notes.append("no config_type 'Vacancy' frames")
    notes.append("not in the data: cohesive energy (no isolated atom), surface energies by "
                 "facet (Surface frames carry no Miller labels), stacking fault, phonons")
    out["notes"] = notes
    return out


def _ground_state(elastic: Sequence[tuple[int, Atoms]], notes: list[str]) -> tuple[int, Atoms] | None:
    """mlearn's 'Ground state crystal' Elastic frame, else the Elastic frame of smallest |σ|."""
    if not elastic:
        notes.append("no config_type 'Elastic' frames: no ground state, elastic constants or a0")
        return None
    marked = [(k, a) for k, a in elastic
              if str(a.info.get("description", "")).lower().startswith("ground state")]
    if marked:
        notes.append(f"ground state: frame {marked[0][0]} (description 'Ground state crystal')")
        return marked[0]
    ground = min(elastic, key=lambda ka: float(np.linalg.norm(_stress(ka[1], ka[0]))))
    notes.append(f"ground state: frame {ground[0]} (Elastic frame of smallest |stress|; "
                 "no 'Ground state' description)")
    return ground


def _elastic_from_frames(ground: Atoms, elastic: Sequence[tuple[int, Atoms]], max_strain: float,
                         degree: int, notes: list[str]) -> dict:
    fitted = _fit_elastic_constants(ground, elastic, max_strain, degree)
    if isinstance(fitted, str):
        notes.append(fitted)
        return {}
    c, used, deg, asym = fitted
    c11 = float(np.mean(np.diag(c)[:3]))
    c12 = float(np.mean(c[:3, :3][~np.eye(3, dtype=bool)]))
    c44 = float(np.mean(np.diag(c)[3:]))
    notes.append(f"elastic constants: PK2 stress fitted by a degree-{deg} polynomial in "
                 f"each Green-Lagrange strain component over {used} Elastic frames with "
                 f"|strain| <= {max_strain} (largest |C_ij - C_ji| before symmetrising "
                 f"{asym:.2f} GPa); bulk modulus = (C11 + 2 C12)/3")
    return dict(c11_gpa=c11, c12_gpa=c12, c44_gpa=c44, cauchy_pressure_gpa=c12 - c44,
                bulk_modulus_voigt_gpa=float(np.sum(c[:3, :3]) / 9),
                bulk_modulus_gpa=(c11 + 2 * c12) / 3, cij_gpa=c.tolist())


def _vacancy_bound(vacancy: Sequence[tuple[int, Atoms]], n_gs: int, e_gs: float,
                   notes: list[str]) -> dict:
    estimates = [_energy_label(a, k) - len(a) * e_gs for k, a in vacancy if len(a) == n_gs - 1]
    if not estimates:
        notes.append(f"vacancy: no Vacancy frame has {n_gs - 1} atoms (ground state minus one)")
        return {}
    notes.append(
        f"vacancy: {len(estimates)} Vacancy frames are AIMD snapshots, not relaxed; "
        f"E(N-1) - (N-1) e_gs ranges {min(estimates):.2f} to {max(estimates):.2f} eV "
        "and includes thermal potential energy, so its minimum is only an upper "
        "bound of the relaxed vacancy formation energy")
    return {"vacancy_formation_upper_bound_ev": min(estimates)}


def _fit_elastic_constants(ground: Atoms, strained: Sequence[tuple[int, Atoms]], max_strain: float,
                           degree: int) -> tuple[np.ndarray, int, int, float] | str:
    """(C GPa symmetrised, frames used, degree, max asymmetry GPa) or the reason for none;
    ``strained`` holds (frame index, atoms) pairs."""
    n_atoms, cell0 = len(ground), ground.cell.array
    strains, stresses = [], []
    for k, atoms in strained:
        if len(atoms) != n_atoms:
            continue
        f, strain = _green_lagrange(cell0, atoms.cell.array)
        e_voigt = _to_voigt(strain, engineering=True)
        if np.max(np.abs(e_voigt)) > max_strain + 1e-12:
            continue
        sigma = _stress(atoms, k, voigt=False)
        pk2 = np.linalg.det(f) * np.linalg.solve(f, np.linalg.solve(f, sigma).T).T
        strains.append(e_voigt)
        stresses.append(_to_voigt(pk2, engineering=False))
    used = len(strains)
    if used == 0:
        return f"elastic constants not fitted: no Elastic frame within |strain| <= {max_strain}"
    eps, sig = np.array(strains).reshape(used, 6), np.array(stresses).reshape(used, 6)
    # per strain component: the highest power (<= degree) that its distinct non-zero values
    # on both sides of zero can determine
    powers = []
    dominant = np.argmax(np.abs(eps), axis=1)
    for k, col in enumerate(eps.T):
        # values of frames that strain mostly this component (a shear frame's ½γ² normal
        # strain does not count)
        values = np.unique(np.round(col[(dominant == k) & (np.abs(col) > 1e-9)], 6))
        if values.size == 0 or not values.min() < 0 < values.max():
            return (f"elastic constants not fitted: the {used} Elastic frames with |strain| <= "
                    f"{max_strain} do not strain Voigt component {k + 1} both ways")
        powers.append(max(1, min(int(degree), values.size - 1)))
    columns = [np.ones(used)] + [eps[:, k] for k in range(6)]
    columns += [eps[:, k] ** p for k in range(6) for p in range(2, powers[k] + 1)]
    design = np.column_stack(columns)
    if used <= design.shape[1] or np.linalg.matrix_rank(design) < design.shape[1]:
        return (f"elastic constants not fitted: {used} Elastic frames with |strain| <= "
                f"{max_strain} cannot determine {design.shape[1]} coefficients per stress component")
    coef, *_ = np.linalg.lstsq(design, sig, rcond=None)
    c_raw = coef[1:7].T / units.GPa          # C[i, j] = dS_i/dε_j at ε = 0
    return (0.5 * (c_raw + c_raw.T), used, max(powers), float(np.max(np.abs(c_raw - c_raw.T))))


def _energy_label(atoms: Atoms, index: int) -> float:
    try:
        return float(atoms.get_potential_energy())
    except Exception as err:  # no energy label
        raise DataFormatError(f"frame {index}: no energy label ({err})") from None


def _stress(atoms: Atoms, index: int, voigt: bool = True) -> np.ndarray:
    try:
        return np.asarray(atoms.get_stress(voigt=voigt), dtype=float)
    except Exception as err:  # no stress label: ASE raises PropertyNotImplementedError/RuntimeError
        raise DataFormatError(f"frame {index}: no stress label ({err})") from None
