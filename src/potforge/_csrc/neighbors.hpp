// Neighbour lists through vesin's C API, loaded at run time with dlopen.
//
// Why not `import vesin`: vesin's Python package imports torch when it is installed (~1.3 s),
// which would dominate a whole-process prediction of a 1,000-atom box. Loading libvesin.so
// directly costs a millisecond. The header comes from the vesin package at build time; the
// version range is pinned in pyproject.toml so that header and library agree.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "vesin.h"

namespace potforge {

struct VesinLibrary {
    void* handle = nullptr;
    decltype(&vesin_neighbors) neighbors = nullptr;
    decltype(&vesin_free) free = nullptr;
};

inline VesinLibrary& vesin_library() {
    static VesinLibrary lib;
    return lib;
}

inline void load_vesin(const std::string& path) {
    VesinLibrary& lib = vesin_library();
    if (lib.handle != nullptr) return;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* err = dlerror();
        throw std::runtime_error("cannot load vesin library " + path + ": " + (err ? err : "?"));
    }
    auto nb = reinterpret_cast<decltype(&vesin_neighbors)>(dlsym(handle, "vesin_neighbors"));
    auto fr = reinterpret_cast<decltype(&vesin_free)>(dlsym(handle, "vesin_free"));
    if (nb == nullptr || fr == nullptr) {
        dlclose(handle);
        throw std::runtime_error("vesin library " + path + " lacks vesin_neighbors/vesin_free");
    }
    lib.handle = handle;
    lib.neighbors = nb;
    lib.free = fr;
}

// A full neighbour list in CSR form: the pairs of atom i are [offsets[i], offsets[i+1]).
// vector[p] = r_j - r_i + shift[p] @ cell, distance[p] = |vector[p]|.
struct NeighborListData {
    std::vector<int64_t> center, neighbor, offsets;
    std::vector<int32_t> shift;    // 3 per pair
    std::vector<double> vector;    // 3 per pair
    std::vector<double> distance;  // 1 per pair
};

inline NeighborListData compute_neighbor_list(const double* positions, size_t n_atoms,
                                              const double cell[3][3], const bool pbc[3],
                                              double cutoff, bool full, int n_threads) {
    VesinLibrary& lib = vesin_library();
    if (lib.handle == nullptr) throw std::runtime_error("vesin library not loaded");
    NeighborListData out;
    out.offsets.assign(n_atoms + 1, 0);
    if (n_atoms == 0) return out;

    // vesin's unsorted half list is the cheapest to build; the full CSR list (both directions,
    // grouped by centre) is made here with a counting sort, in pair order within each centre.
    VesinOptions options{};
    options.cutoff = cutoff;
    options.full = false;
    options.sorted = false;
    options.algorithm = VesinAutoAlgorithm;
    options.skin = 0.0;
    options.n_threads = n_threads;
    options.return_shifts = true;
    options.return_distances = true;
    options.return_vectors = true;

    VesinNeighborList nl;
    const char* error = nullptr;
    VesinDevice device{VesinCPU, 0};
    int status = lib.neighbors(reinterpret_cast<const double(*)[3]>(positions), n_atoms, cell,
                               pbc, device, options, &nl, &error);
    if (status != 0) {
        std::string msg = error ? error : "unknown error";
        lib.free(&nl);
        throw std::runtime_error("vesin: " + msg);
    }
    const size_t half = nl.length;
    const size_t n = full ? 2 * half : half;
    out.center.resize(n);
    out.neighbor.resize(n);
    out.shift.resize(3 * n);
    out.vector.resize(3 * n);
    out.distance.resize(n);
    for (size_t p = 0; p < half; ++p) {
        out.offsets[nl.pairs[p][0] + 1] += 1;
        if (full) out.offsets[nl.pairs[p][1] + 1] += 1;
    }
    for (size_t i = 0; i < n_atoms; ++i) out.offsets[i + 1] += out.offsets[i];
    std::vector<int64_t> fill(out.offsets.begin(), out.offsets.end() - 1);
    auto put = [&](int64_t i, int64_t j, const int32_t* s, const double* v, double d, double sign) {
        const int64_t q = fill[i]++;
        out.center[q] = i;
        out.neighbor[q] = j;
        for (int c = 0; c < 3; ++c) {
            out.shift[3 * q + c] = static_cast<int32_t>(sign) * s[c];
            out.vector[3 * q + c] = sign * v[c];
        }
        out.distance[q] = d;
    };
    for (size_t p = 0; p < half; ++p) {
        const int64_t i = static_cast<int64_t>(nl.pairs[p][0]);
        const int64_t j = static_cast<int64_t>(nl.pairs[p][1]);
        put(i, j, nl.shifts[p], nl.vectors[p], nl.distances[p], 1.0);
        if (full) put(j, i, nl.shifts[p], nl.vectors[p], nl.distances[p], -1.0);
    }
    lib.free(&nl);
    // With several threads vesin's pair order varies from run to run; sort each centre's pairs
    // by (neighbour, shift) so that results are reproducible to the last bit. One thread gives
    // a fixed order already.
    if (n_threads == 1) return out;
    std::vector<int64_t> perm;
    std::vector<int64_t> nb_tmp;
    std::vector<int32_t> sh_tmp;
    std::vector<double> v_tmp, d_tmp;
    for (size_t i = 0; i < n_atoms; ++i) {
        const int64_t a = out.offsets[i], b = out.offsets[i + 1];
        const int64_t m = b - a;
        if (m < 2) continue;
        perm.resize(m);
        for (int64_t q = 0; q < m; ++q) perm[q] = a + q;
        std::sort(perm.begin(), perm.end(), [&](int64_t x, int64_t y) {
            if (out.neighbor[x] != out.neighbor[y]) return out.neighbor[x] < out.neighbor[y];
            for (int c = 0; c < 3; ++c)
                if (out.shift[3 * x + c] != out.shift[3 * y + c])
                    return out.shift[3 * x + c] < out.shift[3 * y + c];
            return false;
        });
        nb_tmp.resize(m);
        sh_tmp.resize(3 * m);
        v_tmp.resize(3 * m);
        d_tmp.resize(m);
        for (int64_t q = 0; q < m; ++q) {
            const int64_t src = perm[q];
            nb_tmp[q] = out.neighbor[src];
            d_tmp[q] = out.distance[src];
            for (int c = 0; c < 3; ++c) {
                sh_tmp[3 * q + c] = out.shift[3 * src + c];
                v_tmp[3 * q + c] = out.vector[3 * src + c];
            }
        }
        std::copy(nb_tmp.begin(), nb_tmp.end(), out.neighbor.begin() + a);
        std::copy(d_tmp.begin(), d_tmp.end(), out.distance.begin() + a);
        std::copy(sh_tmp.begin(), sh_tmp.end(), out.shift.begin() + 3 * a);
        std::copy(v_tmp.begin(), v_tmp.end(), out.vector.begin() + 3 * a);
    }
    return out;
}

}  // namespace potforge
