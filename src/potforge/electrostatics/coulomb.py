"""Coulomb interaction of point and Gaussian charges: the matrix A of n2p2's 4G potentials.

For Gaussian charges of widths σ_i (charge density q_i exp(-r²/2σ_i²) / (2π σ_i²)^(3/2)) the
pair interaction is erf(r / (√2 γ_ij)) / r with γ_ij = √(σ_i² + σ_j²), and the self interaction
is 1 / (σ_i √π) (the diagonal of A; Ko et al., Nat. Commun. 12, 398 (2021), eq. 5-7). Point
charges (``sigma=None``) have 1/r and no self term.

Open boundaries: a direct sum over all pairs. Periodic cells: Ewald summation with n2p2's
splitting (Structure::calculateElectrostaticEnergy): real space
[erfc(r/√2η) - erfc(r/√2γ_ij)] / r over all images closer than the real-space cutoff,
reciprocal space 4π/(V k²) exp(-η²k²/2) cos(k·r_ij) over n2p2's k vectors, and the diagonal
1/(σ_i√π) - √(2/π)/η. Everything is a differentiable function of positions and cell (stress
by autograd through a strain). All quantities carry k_e (:data:`COULOMB`): eV for charges in e.

Charged periodic cells (``convention="physical"``, the default) include the uniform
neutralising background: the energy is that of the Gaussian charges plus a uniform charge
-Q/V, i.e. the k = 0 term is left out of the exact reciprocal sum. In the Ewald splitting this
adds -2π(η² - γ_ij²)/V to every A_ij: the energy no longer depends on η, and for neutral cells
the term vanishes. n2p2 adds no background (its charged-cell energies move with η, which
n2p2 ties to the volume), and it counts the images of an atom itself inside the screening
radius twice in the screening energy (Structure::calculateScreeningEnergy skips j < i only).
n2p2's real-space sum also has its own range: it keeps its real-space cutoff where its η is
below √2 σ_max (potforge's physical convention lengthens it, :meth:`GaussianCoulomb.real_cutoff`)
and sums over stored neighbour counts that can reach past that cutoff
(:func:`~potforge.electrostatics.ewald.n2p2_real_ranges`). ``convention="n2p2"`` reproduces all
three. QEq charges are the same in both conventions for point
charges or equal widths; with unequal widths the background's σ² part moves the charges of
charged cells.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import ConfigError, StructureError
from ..core.lazy import torch
from ..core.neighbors import neighbor_list
from .ewald import COULOMB, EwaldParameters, check_memory, ewald_parameters, kvector_count, kvectors
from .screening import Screening

__all__ = ["GaussianCoulomb", "DEFAULT_PRECISION"]

#: relative accuracy of potforge's own Ewald parameters (method "potforge")
DEFAULT_PRECISION = 1e-10
_SQRT2 = math.sqrt(2.0)
_SQRTPI = math.sqrt(math.pi)


def _tensor(x, name: str, shape: tuple, where: str):
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=float))
    if t.dtype != torch.float64:
        t = t.to(torch.float64)
    if tuple(t.shape) != shape:
        raise StructureError(f"{where}: {name} has shape {tuple(t.shape)}, expected {shape}")
    if not bool(torch.isfinite(t.detach()).all()):
        raise StructureError(f"{where}: {name} has non-finite entries")
    return t


class GaussianCoulomb:
    """The Coulomb operator A of one geometry (open or periodic), for point or Gaussian charges.

    Parameters
    ----------
    positions : (n_atoms, 3) float tensor, Å (may require grad)
    cell : (3, 3) float tensor, Å (rows; may require grad; ignored for open boundaries)
    pbc : bool or (3,) bool — all three directions periodic, or none
    sigma : (n_atoms,) float tensor, Å, or None for point charges
    ewald : EwaldParameters, optional
        Periodic cells: the splitting (n2p2's via :func:`ewald_parameters`); default
        potforge's own choice with relative accuracy :data:`DEFAULT_PRECISION`.
    screening : Screening, optional
        n2p2's ``screen_electrostatics``: adds Σ_pairs q_i q_j erf(r/√2γ)/r (f(r) - 1) to
        :meth:`energy` (A itself is not screened, as in n2p2).
    method : "auto", "dense", "ewald" or "pme"
        How :meth:`matvec` works: "dense" multiplies by :meth:`matrix`; "ewald" is matrix-free
        (real-space pairs and k vectors; open boundaries: the direct sum in row blocks,
        :mod:`.open_boundary`, method "direct"); "pme" uses particle-mesh Ewald (periodic only).
        "auto": open boundaries dense (matrix-free in chunks for many atoms); periodic cells
        Ewald or PME, whichever one product is estimated to cost less (:mod:`.cost`).
    convention : "physical" or "n2p2"
        See the module docstring (neutralising background, screening self images, the range of
        the real-space sum).
    real_ranges : (n_atoms,) float, Å, optional
        ``convention="n2p2"``, periodic: the radius of the real-space sum of each atom (a pair
        i < j and the images of i are summed within ``real_ranges[i]``), as
        :func:`~potforge.electrostatics.ewald.n2p2_real_ranges` computes it from the model's
        symmetry-function cutoffs. Default: n2p2's choice for a model without symmetry
        functions, max(real-space cutoff, screening radius). Used by the sums of n2p2's
        splitting (:meth:`matrix`, methods "dense" and "ewald"); method "pme" splits its own way
        and converges, so it differs from n2p2 by n2p2's truncation error.
    """

    def __init__(self, positions, cell, pbc, sigma, *, ewald: EwaldParameters | None = None,
                 screening: Screening | None = None, method: str = "auto",
                 convention: str = "physical", real_ranges=None) -> None:
        where = "electrostatics"
        self.positions = _tensor(positions, "positions", (len(positions), 3), where)
        n = self.n_atoms = int(self.positions.shape[0])
        if n < 1:
            raise StructureError(f"{where}: no atoms")
        flags = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
        if flags.any() and not flags.all():
            raise StructureError(f"{where}: pbc {flags.tolist()}: Ewald summation needs all three "
                                 f"directions periodic or none")
        self.periodic = bool(flags.all())
        self.cell = _tensor(cell, "cell", (3, 3), where) if self.periodic else None
        self.sigma = None if sigma is None else _tensor(sigma, "sigma", (n,), where)
        if self.sigma is not None and not bool((self.sigma.detach() > 0).all()):
            raise StructureError(f"{where}: Gaussian widths sigma must be positive")
        if convention not in ("physical", "n2p2"):
            raise ConfigError(f"electrostatics convention: unknown {convention!r}; expected "
                              f"'physical' or 'n2p2'")
        self.convention = convention
        self.screening = screening
        if self.periodic:
            if ewald is None:
                smax = 0.0 if self.sigma is None else float(self.sigma.detach().max())
                ewald = ewald_parameters(self.cell.detach(), n, precision=DEFAULT_PRECISION,
                                         method="potforge", max_sigma=smax)
            self.ewald = ewald
            self.volume = torch.abs(torch.linalg.det(self.cell))
        else:
            self.ewald = None
        self.method = self._resolve_method(method)
        #: the splitting of matvec: n2p2's (ewald) for "dense"/"ewald", PME's own for "pme"
        self.split = self.ewald
        if self.method == "pme":
            from .pme import pme_parameters

            self.split = pme_parameters(self)
        self.real_ranges = self._n2p2_ranges(real_ranges)
        self._real = None
        self._kspace = None
        self._dense = None
        self._pme = None
        self._csr = None

    # ------------------------------------------------------------------ set-up
    def _resolve_method(self, method: str) -> str:
        allowed = ("auto", "dense", "ewald", "pme")
        if method not in allowed:
            raise ConfigError(f"electrostatics method: unknown {method!r}; expected one of "
                              f"{', '.join(allowed)}")
        if not self.periodic:
            if method == "pme":
                raise ConfigError("electrostatics method 'pme' needs a periodic cell")
            from .open_boundary import OPEN_DENSE_MAX_ATOMS

            # "ewald" (matrix-free) means the direct sum in row blocks for open boundaries
            if method == "ewald" or (method == "auto" and self.n_atoms > OPEN_DENSE_MAX_ATOMS):
                return "direct"
            return "dense"
        if method == "auto":
            from .cost import choose_periodic_method

            return choose_periodic_method(self)
        return method

    def _n2p2_ranges(self, real_ranges):
        """Per-atom radii of n2p2's real-space sum (n_atoms,) numpy, or None (one cutoff)."""
        if self.convention != "n2p2" or not self.periodic:
            return None
        if real_ranges is None:
            outer = 0.0 if self.screening is None else self.screening.outer
            return np.full(self.n_atoms, max(self.ewald.real_cutoff, outer))
        ranges = np.asarray(real_ranges, dtype=np.float64)
        if ranges.shape != (self.n_atoms,) or not np.all(np.isfinite(ranges) & (ranges > 0)):
            raise ConfigError(f"electrostatics: real_ranges has shape {ranges.shape}, expected "
                              f"({self.n_atoms},) positive lengths")
        return ranges

    def _gamma2(self, i, j):
        """γ_ij² = σ_i² + σ_j² for index tensors (None for point charges)."""
        if self.sigma is None:
            return None
        s2 = self.sigma * self.sigma
        return s2[i] + s2[j]

    def _pairs(self, cutoff: float):
        """Half list (i < j) and self-image pairs (i = i + n, both ±n) closer than ``cutoff``.

        Returns (i, j, r) of the half list and (i_self, r_self); r differentiable in
        positions and cell.
        """
        pos_np = self.positions.detach().cpu().numpy()
        cell_np = self.cell.detach().cpu().numpy()
        # ~ N² (4π/3) rc³ / V pairs (plus the self images), ~100 bytes each with the graph
        density = self.n_atoms / float(self.volume.detach())
        pairs = self.n_atoms * (density * 4 * math.pi / 3 * cutoff ** 3 + 1)
        check_memory(100 * pairs, f"{pairs:.3g} real-space pairs within {cutoff:.4g} Å",
                     "use a shorter real-space cutoff (a coarser Ewald precision or a smaller fixed cutoff)")
        nl = neighbor_list(pos_np, cell_np, True, cutoff)
        ci, cj = nl.centers, nl.neighbors
        if nl.n_pairs and float(nl.distances.min()) == 0.0:
            k = int(np.argmin(nl.distances))
            raise StructureError(f"electrostatics: atoms {ci[k]} and {cj[k]} (or an image) coincide")
        out = []
        for keep in (ci < cj, ci == cj):
            i = torch.as_tensor(ci[keep])
            j = torch.as_tensor(cj[keep])
            shifts = torch.as_tensor(nl.shifts[keep].astype(np.float64))
            vec = self.positions[j] - self.positions[i] + shifts @ self.cell
            out.append((i, j, torch.sqrt((vec * vec).sum(-1))))
        (i, j, r), (si, _, sr) = out
        return i, j, r, si, sr

    def _real_space(self):
        """Cached real-space Ewald weights of the half list and the self images (with k_e)."""
        if self._real is None:
            with torch.enable_grad():  # the cache must carry the graph even if built under no_grad
                self._real = self._real_space_weights()
        return self._real

    def _n2p2_sum(self) -> bool:
        """Whether the real-space sum is n2p2's (its splitting, its ranges, no stretching)."""
        return self.real_ranges is not None and self.split is self.ewald

    def real_cutoff(self) -> float:
        """The real-space cutoff used (Å): the Ewald one, stretched by γ_max / η where the widest
        Gaussian pair γ_max = √2 σ_max exceeds η, so erfc(r/√2γ) is cut as far out in its own
        decay as erfc(r/√2η) (n2p2 keeps the cutoff, which only adds truncation error).
        ``convention="n2p2"`` (n2p2's splitting): the largest of :attr:`real_ranges`."""
        rc = self.split.real_cutoff
        if self._n2p2_sum():
            return float(self.real_ranges.max())
        if self.sigma is not None:
            rc *= max(1.0, _SQRT2 * float(self.sigma.detach().max()) / self.split.eta)
        return rc

    def _real_space_weights(self):
        i, j, r, si, sr = self._pairs(self.real_cutoff())
        if self._n2p2_sum():  # n2p2: pairs i < j within the range of i (j's list is not used)
            ranges = torch.as_tensor(self.real_ranges)
            keep = r.detach() <= ranges[i]
            keep_self = sr.detach() <= ranges[si]
            i, j, r, si, sr = i[keep], j[keep], r[keep], si[keep_self], sr[keep_self]
        a = _SQRT2 * self.split.eta
        w = torch.erfc(r / a) / r
        ws = torch.erfc(sr / a) / sr
        if self.sigma is not None:
            w = w - torch.erfc(r / (_SQRT2 * torch.sqrt(self._gamma2(i, j)))) / r
            ws = ws - torch.erfc(sr / (2.0 * self.sigma[si])) / sr
        return i, j, COULOMB * w, si, COULOMB * ws

    def _kvectors(self):
        """Cached (cos, sin, coefficient) of n2p2's half sphere of k vectors (with k_e, ×2)."""
        if self._kspace is None:
            with torch.enable_grad():
                self._kspace = self._kvector_terms()
        return self._kspace

    def _kvector_terms(self):
        cell = self.cell.detach().cpu().numpy()
        count = kvector_count(cell, self.split.kspace_cutoff)
        # cos, sin and the phases (with their graph) of every atom and k vector
        check_memory(4 * 8 * self.n_atoms * count, f"{count:.3g} k vectors × {self.n_atoms} atoms",
                     "use a larger real-space cutoff, a coarser Ewald precision or method 'pme'")
        m = kvectors(cell, self.split.kspace_cutoff)
        recip = 2 * math.pi * torch.linalg.inv(self.cell).T
        k = torch.as_tensor(m, dtype=torch.float64) @ recip
        k2 = (k * k).sum(-1)
        eta = self.split.eta
        coeff = COULOMB * 2.0 * 4 * math.pi / self.volume * torch.exp(-0.5 * eta * eta * k2) / k2
        phase = self.positions @ k.T
        return torch.cos(phase), torch.sin(phase), coeff

    def diagonal(self):
        """The self terms of A (n_atoms,), eV/e²: k_e [1/(σ√π) - √(2/π)/η (periodic)]."""
        d = torch.zeros(self.n_atoms, dtype=torch.float64)
        if self.sigma is not None:
            d = d + COULOMB / (self.sigma * _SQRTPI)
        if self.periodic:
            d = d - COULOMB * math.sqrt(2.0 / math.pi) / self.split.eta
        return d

    def matrix_diagonal(self):
        """The diagonal of :meth:`matrix` (n_atoms,), eV/e², without building A (no gradient)."""
        with torch.no_grad():
            if not self.periodic or self.method == "dense":
                return torch.diagonal(self.matrix()).detach().clone() if self.periodic else self.diagonal()
            d = self.diagonal()
            _, _, _, si, ws = self._real_space()
            d = d.index_add(0, si, ws.detach())
            if self.method == "pme":
                from .pme import pme_self_kspace

                d = d + pme_self_kspace(self)
            else:
                d = d + self._kvectors()[2].detach().sum()
            bg = self._background_terms()
            if bg is not None:
                const, c, s2 = bg
                d = d + float(const) + (0.0 if s2 is None else 2 * float(c) * s2.detach())
            return d

    def _background_terms(self):
        """(const, c, s2): A_ij gets const + c (s2_i + s2_j) (s2 may be None), or None.

        c = k_e 2π/V. Physical: const = -c η², s2 = σ² (the neutralising background of the
        splitting η). n2p2 (no background, splitting η_n2p2): nothing, or, where matvec splits
        with PME's own η, const = c (η_n2p2² - η²) to stay n2p2's A.
        """
        if not self.periodic:
            return None
        c = COULOMB * 2 * math.pi / self.volume
        if self.convention == "n2p2":
            if self.split is self.ewald:
                return None
            return c * (self.ewald.eta ** 2 - self.split.eta ** 2), c, None
        s2 = None if self.sigma is None else self.sigma * self.sigma
        return -c * self.split.eta ** 2, c, s2

    # ------------------------------------------------------------------ operators
    def matrix(self):
        """A (n_atoms, n_atoms), eV/e²: Coulomb matrix with self terms and images, no hardness.

        With ``convention="n2p2"`` exactly n2p2's A without J; the physical convention adds
        the background term of charged cells (module docstring).
        """
        if self._dense is None and self.method == "pme":  # dense Ewald with n2p2's splitting
            self._dense = GaussianCoulomb(self.positions, self.cell, True, self.sigma, ewald=self.ewald,
                                          method="ewald", convention=self.convention,
                                          real_ranges=self.real_ranges).matrix()
        if self._dense is None:
            with torch.enable_grad():
                self._dense = self._periodic_matrix() if self.periodic else self._open_matrix()
        return self._dense

    def _open_matrix(self):
        n = self.n_atoms
        # pair vectors, distances and the matrix with their graph: ~6 tables of N² float64
        check_memory(6 * 8 * 3 * n * n, f"the dense {n}×{n} Coulomb matrix of an open cluster",
                     "use the CG solver (solver 'auto' or 'cg'), which never forms the matrix")
        pos = self.positions
        d = pos[:, None, :] - pos[None, :, :]
        eye = torch.eye(n, dtype=torch.bool)
        r2 = (d * d).sum(-1)
        off = r2.detach()[~eye]
        if off.numel() and float(off.min()) == 0.0:
            k = int(torch.nonzero((r2.detach() == 0) & ~eye)[0, 0])
            raise StructureError(f"electrostatics: atom {k} coincides with another atom")
        r = torch.sqrt(torch.where(eye, torch.ones_like(r2), r2))
        if self.sigma is None:
            pair = 1.0 / r
        else:
            s2 = self.sigma * self.sigma
            pair = torch.erf(r / (_SQRT2 * torch.sqrt(s2[:, None] + s2[None, :]))) / r
        return torch.where(eye, torch.diag(self.diagonal()), COULOMB * pair)

    def _periodic_matrix(self):
        n = self.n_atoms
        i, j, w, si, ws = self._real_space()
        flat = torch.zeros(n * n, dtype=torch.float64)
        flat = flat.index_add(0, i * n + j, w).index_add(0, j * n + i, w).index_add(0, si * (n + 1), ws)
        a = flat.reshape(n, n) + torch.diag(self.diagonal())
        cos, sin, coeff = self._kvectors()
        a = a + (cos * coeff) @ cos.T + (sin * coeff) @ sin.T
        bg = self._background_terms()
        if bg is not None:
            const, c, s2 = bg
            a = a + const
            if s2 is not None:
                a = a + c * (s2[:, None] + s2[None, :])
        return a

    def matvec(self, x):
        """A x for x (n_atoms,) or (n_atoms, k), eV/e² × x; differentiable in x and geometry."""
        x = self._check_vector(x, "x", allow_2d=True)
        if self.method == "dense":
            return self.matrix() @ x
        if self.method == "pme":
            from .pme import pme_matvec

            return pme_matvec(self, x)
        if self.method == "direct":
            from .open_boundary import open_matvec

            return open_matvec(self, x)
        return self._ewald_matvec(x)

    def _ewald_matvec(self, x):
        out = self._real_and_self(x)
        cos, sin, coeff = self._kvectors()
        cf = coeff if x.dim() == 1 else coeff[:, None]
        out = out + cos @ (cf * (cos.T @ x)) + sin @ (cf * (sin.T @ x))
        return out + self._background_matvec(x)

    def _real_and_self(self, x):
        """Real-space pairs and self terms of A x (shared by the Ewald and PME products)."""
        if not self._needs_graph(x):  # CG iterations: one sparse product
            return torch.as_tensor(self._real_sparse() @ x.detach().numpy())
        i, j, w, si, ws = self._real_space()
        wx = w if x.dim() == 1 else w[:, None]
        wsx = ws if x.dim() == 1 else ws[:, None]
        out = torch.zeros_like(x).index_add(0, i, wx * x[j]).index_add(0, j, wx * x[i])
        out = out.index_add(0, si, wsx * x[si])
        return out + (self.diagonal() if x.dim() == 1 else self.diagonal()[:, None]) * x

    def _needs_graph(self, x) -> bool:
        """Whether a product must carry gradients (to x or to the geometry)."""
        if not torch.is_grad_enabled():
            return False
        return any(t is not None and t.requires_grad for t in (x, self.positions, self.cell, self.sigma))

    def _real_sparse(self):
        """Real-space pairs, self images and self terms as one symmetric scipy CSR matrix
        (cached, no gradient): the products of a CG solve without a torch graph."""
        if self._csr is None:
            from scipy.sparse import coo_matrix

            i, j, w, si, ws = (t.detach().numpy() for t in self._real_space())
            n = self.n_atoms
            diag = np.arange(n)
            rows = np.concatenate([i, j, si, diag])
            cols = np.concatenate([j, i, si, diag])
            vals = np.concatenate([w, w, ws, self.diagonal().detach().numpy()])
            self._csr = coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
        return self._csr

    def _background_matvec(self, x):
        bg = self._background_terms()
        if bg is None:
            return torch.zeros_like(x)
        const, c, s2 = bg
        total = x.sum(0)
        out = const * total * torch.ones_like(x)
        if s2 is not None:
            s2x = s2 if x.dim() == 1 else s2[:, None]
            out = out + c * (s2x * total + (s2x * x).sum(0))
        return out

    def _check_vector(self, x, name: str, allow_2d: bool = False):
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=float))
        if t.dtype != torch.float64:
            t = t.to(torch.float64)
        ok = t.dim() == 1 or (allow_2d and t.dim() == 2)
        if not ok or t.shape[0] != self.n_atoms:
            raise ConfigError(f"electrostatics: {name} has shape {tuple(t.shape)}, expected "
                              f"({self.n_atoms},)" + (" or (n_atoms, k)" if allow_2d else ""))
        if not bool(torch.isfinite(t.detach()).all()):
            raise ConfigError(f"electrostatics: {name} has non-finite entries")
        return t

    def bilinear(self, q, p):
        """qᵀ A p (eV for charges in e); differentiable (adjoint forces: d/dr of λᵀ A Q)."""
        q = self._check_vector(q, "q")
        return (q * self.matvec(self._check_vector(p, "p"))).sum()

    def energy(self, q):
        """n2p2's 4G electrostatic energy (eV) of charges q (n_atoms,), e.

        E = ½ qᵀ A q - Σ_i k_e q_i² / (2 σ_i √π) + Σ_{pairs r < outer} k_e q_i q_j
        erf(r / √2γ_ij) / r (f(r) - 1), the last sum only with a screening (Structure.cpp:
        calculateElectrostaticEnergy + calculateScreeningEnergy).
        """
        q = self._check_vector(q, "q")
        e = 0.5 * (q * self.matvec(q)).sum()
        if self.sigma is not None:
            e = e - COULOMB * (q * q / (2.0 * self.sigma * _SQRTPI)).sum()
        if self.screening is not None:
            e = e + self._screening_energy(q)
        return e

    def _screening_energy(self, q):
        scr = self.screening
        if self.periodic:
            i, j, r, si, sr = self._pairs(scr.outer)
            self_weight = 1.0 if self.convention == "n2p2" else 0.5
        else:
            from .open_boundary import open_screening_pairs

            i, j = open_screening_pairs(self.positions, scr.outer)
            vec = self.positions[j] - self.positions[i]
            r = torch.sqrt((vec * vec).sum(-1))
            si, sr, self_weight = i[:0], r[:0], 0.0
        e = (q[i] * q[j] * self._erf_pair(r, i, j) * (scr.value(r) - 1.0)).sum()
        e = e + self_weight * (q[si] ** 2 * self._erf_pair(sr, si, si) * (scr.value(sr) - 1.0)).sum()
        return COULOMB * e

    def _erf_pair(self, r, i, j):
        if self.sigma is None:
            return 1.0 / r
        return torch.erf(r / (_SQRT2 * torch.sqrt(self._gamma2(i, j)))) / r

