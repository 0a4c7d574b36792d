// Fused evaluation of a 2G high-dimensional neural network potential (Behler & Parrinello,
// PRL 98, 146401 (2007)), one centre atom at a time: symmetry-function values (symfunc.hpp),
// scaling, the element's network and its input gradient w = dE_i/dG, then one weighted
// derivative pass that yields dE_i/d(pair vector) for every neighbour directly, summed over
// all functions in registers; forces and the strain derivative follow. Nothing of size
// n_atoms x n_sf x n_neighbours is ever stored.
#ifndef PF_HDNNP_HPP  // once per kernel_impl.hpp inclusion (it resets these guards)
#define PF_HDNNP_HPP

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels.hpp"
#include "mlp.hpp"
#include "symfunc.hpp"

namespace potforge {
namespace PF_ARCH_NS {

// Per-element affine scaling G_scaled = factor * G + offset, and the [min, max] of the
// training set for extrapolation warnings.
struct ElementScaling {
    std::vector<real> factor, offset;
    std::vector<double> gmin, gmax;
};

using potforge::HDNNPOutput;
using potforge::NeighborView;

// Gather atom i's neighbours (sorted by species, within its element's cutoff) into ws;
// returns the number of symmetry functions of its element e.
inline int prepare_atom(const SymmetryFunctionKernel& kernel, Workspace& ws, int64_t i, int e,
                        const int32_t* species, const double* atom_weight, const NeighborView& nl) {
    const ElementSFs& el = kernel.element(e);
    const int n_sf = static_cast<int>(el.sfs.size());
    const int64_t begin = nl.offsets[i], end = nl.offsets[i + 1];
    ws.reserve(static_cast<int>(end - begin), n_sf, static_cast<int>(el.cutoffs.size()));
    gather_neighbors(ws, begin, end, nl.neighbor, nl.vectors, nl.distances, species, atom_weight,
                     kernel.n_species(), el.rc_max);
    return n_sf;
}

// Threads to use: n_threads, 0 = OpenMP's default; at most 4 per processor (a mistyped
// thread count must not make the runtime try to start a million threads).
inline int resolve_threads(int n_threads) {
#ifdef _OPENMP
    const int cap = 4 * std::max(1, omp_get_num_procs());
    return n_threads > 0 ? std::min(n_threads, cap) : omp_get_max_threads();
#else
    (void)n_threads;
    return 1;
#endif
}

// With w = dE/dG of centre atom i (species e, neighbours and cutoff values of values_atom in
// ws), add -dE/dr to the forces of i and its neighbours and sum_n d_n (x) dE/dd_n to strain.
inline void accumulate_atom_gradient(const SymmetryFunctionKernel& kernel, Workspace& ws, int e,
                                     int64_t i, const real* w, const NeighborView& nl,
                                     double* forces, std::array<double, 9>& strain,
                                     std::vector<real>& g, double* atom_strain = nullptr) {
    const int n = ws.n;
    const size_t stride = static_cast<size_t>(n) + PAD;
    PF_T0
    g.assign(3 * stride, 0.0);
    real* gx = g.data();
    real* gy = gx + stride;
    real* gz = gy + stride;
    PF_LAP(10)
    kernel.gradient_atom(e, ws, w, gx, gy, gz);
    PF_LAP(12)
    double fix = 0.0, fiy = 0.0, fiz = 0.0;
    std::array<double, 9> own{};
    for (int q = 0; q < n; ++q) {
        const int64_t j = nl.neighbor[ws.pair[q]];
        forces[3 * j] -= gx[q];
        forces[3 * j + 1] -= gy[q];
        forces[3 * j + 2] -= gz[q];
        fix += gx[q];
        fiy += gy[q];
        fiz += gz[q];
        const double d[3] = {ws.x[q], ws.y[q], ws.z[q]};
        const double gv[3] = {gx[q], gy[q], gz[q]};
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) own[3 * a + b] += d[a] * gv[b];
    }
    for (int k = 0; k < 9; ++k) strain[k] += own[k];
    if (atom_strain != nullptr)
        for (int k = 0; k < 9; ++k) atom_strain[k] = own[k];
    forces[3 * i] += fix;
    forces[3 * i + 1] += fiy;
    forces[3 * i + 2] += fiz;
    PF_LAP(10)
}

// Centre atoms 0..n_atoms-1 (the neighbour list's rows); neighbours index atoms 0..n_total-1
// (n_total >= n_atoms: in LAMMPS the ghost atoms follow the local ones), whose species and
// weights are given and whose forces are returned. want_atom_virial: the strain derivative of
// each centre's own energy, 9 per centre (its share of the virial).
inline void hdnnp_evaluate(const SymmetryFunctionKernel& kernel, const std::vector<Network>& nets,
                           const std::vector<ElementScaling>& scaling, int64_t n_atoms,
                           int64_t n_total, const int32_t* species, const double* atom_weight,
                           const NeighborView& nl, double output_scale, bool want_forces,
                           bool want_atom_virial, double extrapolation_tolerance, int n_threads,
                           HDNNPOutput& out) {

    out.atomic.assign(n_atoms, 0.0);
    out.forces.assign(want_forces ? 3 * n_total : 0, 0.0);
    out.extrapolations.assign(n_atoms, 0);
    out.atom_virial.assign(want_forces && want_atom_virial ? 9 * n_atoms : 0, 0.0);
    out.strain_derivative.fill(0.0);
    const int threads = resolve_threads(n_threads);
    std::vector<std::vector<double>> thread_forces(threads > 1 ? threads : 0);
    std::vector<std::array<double, 9>> thread_strain(threads, std::array<double, 9>{});

#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double* forces = nullptr;
        if (want_forces) {
            if (threads > 1) {
                thread_forces[tid].assign(3 * n_total, 0.0);
                forces = thread_forces[tid].data();
            } else {
                forces = out.forces.data();
            }
        }
        std::array<double, 9>& strain = thread_strain[tid];
        Workspace ws;
        NetworkScratch scratch;
        std::vector<real> scaled, grad, g;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t i = 0; i < n_atoms; ++i) {
            PF_T0
            const int e = species[i];
            const int n_sf = prepare_atom(kernel, ws, i, e, species, atom_weight, nl);
            PF_LAP(0)
            kernel.values_atom(e, ws);
            PF_LAP(11)
            const ElementScaling& sc = scaling[e];
            scaled.resize(n_sf);
            grad.resize(n_sf);
            int n_extra = 0;
            for (int s = 0; s < n_sf; ++s) {
                const real G = ws.G[s];
                scaled[s] = sc.factor[s] * G + sc.offset[s];
                const double Gd = static_cast<double>(G);
                if (Gd + extrapolation_tolerance < sc.gmin[s] ||
                    Gd - extrapolation_tolerance > sc.gmax[s])
                    ++n_extra;
            }
            out.extrapolations[i] = n_extra;
            const double o = network_forward_backward(nets[e], scaled.data(),
                                                        want_forces ? grad.data() : nullptr, scratch);
            out.atomic[i] = output_scale * o;
            if (!want_forces) continue;
            // w_s = dE_i/dG_s (raw G)
            for (int s = 0; s < n_sf; ++s) grad[s] *= static_cast<real>(output_scale) * sc.factor[s];
            PF_LAP(6)
            accumulate_atom_gradient(kernel, ws, e, i, grad.data(), nl, forces, strain, g,
                                     out.atom_virial.empty() ? nullptr : &out.atom_virial[9 * i]);
        }
    }
    if (want_forces && threads > 1) {
        for (int t = 0; t < threads; ++t) {
            if (thread_forces[t].empty()) continue;
            for (int64_t k = 0; k < 3 * n_total; ++k) out.forces[k] += thread_forces[t][k];
        }
    }
    for (int t = 0; t < threads; ++t)
        for (int k = 0; k < 9; ++k) out.strain_derivative[k] += thread_strain[t][k];
#ifdef PF_PROFILE
    {
        const char* names[] = {"gather", "cutoffs", "radial values", "ang compaction", "ang process_block",
                               "-", "scale+network", "radial grad", "ang grad compute", "ang grad scatter",
                               "force scatter+zero", "(values_atom total)", "(gradient_atom total)", "-", "-", "-"};
        double tot = 0;
        for (int k = 0; k < 11; ++k) tot += pf_prof(k);
        std::fprintf(stderr, "profile %s (ms at 2.596 GHz):", PF_ARCH_NAME);
        for (int k = 0; k < 16; ++k)
            if (pf_prof(k)) std::fprintf(stderr, " [%s %.2f]", names[k], pf_prof(k) / 2.596e6);
        std::fprintf(stderr, " total %.2f\n", tot / 2.596e6);
        for (int k = 0; k < 16; ++k) pf_prof(k) = 0;
    }
#endif
}

// The backward pass of the symmetry functions alone: with per-atom weights
// dE_dG (n_atoms x n_sf_max, row i = dE/dG_i of the raw functions of atom i, entries beyond
// its element's count ignored), forces -dE/dr (3 per atom, overwritten) and the strain
// derivative sum_n d_n (x) dE/dd_n. The same per-atom pass as hdnnp_evaluate with the
// network's gradient replaced by the caller's weights, so models whose energy depends on the
// functions through more than one network (4G: electronegativity and short-range networks,
// adjoint weights) get their forces without a stored per-pair Jacobian.
inline void symmetry_functions_backward(const SymmetryFunctionKernel& kernel, int64_t n_atoms,
                                        const int32_t* species, const double* atom_weight,
                                        const NeighborView& nl, const double* dE_dG,
                                        int n_threads, double* forces_out,
                                        std::array<double, 9>& strain_out) {
    const int n_max = kernel.n_sf_max();
    std::fill(forces_out, forces_out + 3 * n_atoms, 0.0);
    strain_out.fill(0.0);
    const int threads = resolve_threads(n_threads);
    std::vector<std::vector<double>> thread_forces(threads > 1 ? threads : 0);
    std::vector<std::array<double, 9>> thread_strain(threads, std::array<double, 9>{});
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double* forces = forces_out;
        if (threads > 1) {
            thread_forces[tid].assign(3 * n_atoms, 0.0);
            forces = thread_forces[tid].data();
        }
        Workspace ws;
        std::vector<real> w, g;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t i = 0; i < n_atoms; ++i) {
            const int e = species[i];
            const int n_sf = prepare_atom(kernel, ws, i, e, species, atom_weight, nl);
            w.resize(n_sf);
            bool any = false;
            for (int s = 0; s < n_sf; ++s) {
                w[s] = static_cast<real>(dE_dG[i * n_max + s]);
                any = any || w[s] != real(0);
            }
            if (!any) continue;
            kernel.values_atom(e, ws);
            accumulate_atom_gradient(kernel, ws, e, i, w.data(), nl, forces, thread_strain[tid], g);
        }
    }
    if (threads > 1) {
        for (int t = 0; t < threads; ++t) {
            if (thread_forces[t].empty()) continue;
            for (int64_t k = 0; k < 3 * n_atoms; ++k) forces_out[k] += thread_forces[t][k];
        }
    }
    for (int t = 0; t < threads; ++t)
        for (int k = 0; k < 9; ++k) strain_out[k] += thread_strain[t][k];
}

// Values (and optionally per-pair Jacobians dG_i,s / d d_p) of all atoms.
inline void symmetry_functions_all(const SymmetryFunctionKernel& kernel, int64_t n_atoms,
                                   const int32_t* species, const double* atom_weight,
                                   const NeighborView& nl, double* values /* n x n_sf_max */,
                                   double* pair_jacobian /* n_pairs x n_sf_max x 3, or null */,
                                   int n_threads) {

    const int n_max = kernel.n_sf_max();
    const int threads = resolve_threads(n_threads);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        Workspace ws;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t i = 0; i < n_atoms; ++i) {
            const int e = species[i];
            const int n_sf = prepare_atom(kernel, ws, i, e, species, atom_weight, nl);
            kernel.compute_atom(e, ws);
            for (int s = 0; s < n_sf; ++s) values[i * n_max + s] = ws.G[s];
            if (pair_jacobian == nullptr) continue;
            const size_t stride = static_cast<size_t>(ws.n) + PAD;
            for (int q = 0; q < ws.n; ++q) {
                double* dst = pair_jacobian + static_cast<size_t>(ws.pair[q]) * n_max * 3;
                for (int s = 0; s < n_sf; ++s)
                    for (int c = 0; c < 3; ++c)
                        dst[3 * s + c] = ws.J[(static_cast<size_t>(s) * 3 + c) * stride + q];
            }
        }
    }
}

}  // namespace PF_ARCH_NS
}  // namespace potforge

#endif  // PF_HDNNP_HPP
