// Neighbour lists: a cell list that works for every geometry potforge accepts.
//
// Why not vesin (used before, through its C API): vesin 0.6 divides by zero (SIGFPE, the process
// dies) when its cell grid, capped at 1e5 cells, truncates a thin direction of a long or flat
// bounding box to zero cells (one atom 1e6 Å away from the others, a 1e6 Å long periodic cell,
// an open sheet thousands of Å wide); it searches cutoff / extent cells in each direction of an
// open structure much smaller than the cutoff, and 1/height cells in each direction of a skewed
// cell, which hangs. This cell list
//   - bins atoms in fractional coordinates along periodic directions and in Å along open
//     ones, bins at least one cutoff thick, and keeps only the occupied bins (hash map) when a
//     dense grid would have more than a few cells per atom: time and memory are
//     O(n_atoms + n_pairs) whatever the extent of the structure;
//   - visits as many periodic images as a cell thinner than the cutoff needs;
//   - refuses with NeighborListError, before allocating it, a list larger than `max_pairs`
//     (tiny cells with a large cutoff, many atoms on one point);
//   - writes the pairs of each centre in an order that does not depend on the number of
//     threads or on the kind of grid, so that results are bit-reproducible.
// The caller (core/neighbors.py) validates the inputs (finite numbers, a non-singular periodic
// cell whose skewed bases are reduced, rows of open directions orthonormal to each other and to
// the periodic rows).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace potforge {

// A structure whose neighbour list cannot be built (too many pairs, atoms too far outside a
// periodic cell); the message is one line for the user.
struct NeighborListError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A full neighbour list in CSR form: the pairs of atom i are [offsets[i], offsets[i+1]).
// vector[p] = r_j - r_i + shift[p] @ cell, distance[p] = |vector[p]|.
struct NeighborListData {
    std::vector<int64_t> center, neighbor, offsets;
    std::vector<int32_t> shift;    // 3 per pair
    std::vector<double> vector;    // 3 per pair
    std::vector<double> distance;  // 1 per pair
};

namespace nl_detail {

constexpr int64_t MAX_BINS_PER_AXIS = int64_t(1) << 40;
// Atoms may lie this many cell lengths outside a periodic cell; shifts must fit in int32.
constexpr double MAX_CELL_OFFSET = double(int64_t(1) << 28);

inline std::string format_g(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x);
    return buf;
}

inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// Everything the pair search needs to know about the bins.
struct Grid {
    double cell[3][3];
    bool periodic[3];
    int64_t n_bins[3];  // bins along each axis
    int64_t reach[3];   // bins to search on each side
    // per atom, in the order of the bins: wrapped Cartesian position (SoA), original index and
    // cell offset k (r = wrapped + k @ cell)
    std::vector<double> x, y, z;
    std::vector<int64_t> index;
    std::vector<int32_t> k;       // 3 per atom, in original order
    std::vector<int64_t> bin;     // 3 per atom, in original order
    std::vector<int64_t> sorted_position;  // where atom i went in the bin order
    // dense grid: bin_start[linear bin] .. bin_start[linear + 1]
    bool dense = true;
    std::vector<int64_t> bin_start;
    // sparse grid: occupied bin -> its first and one-past-last slot
    struct Key {
        int64_t a, b, c;
        bool operator==(const Key& o) const { return a == o.a && b == o.b && c == o.c; }
    };
    struct KeyHash {
        size_t operator()(const Key& key) const {
            uint64_t h = static_cast<uint64_t>(key.a) * 0x9E3779B97F4A7C15ull;
            h ^= static_cast<uint64_t>(key.b) + 0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
            h ^= static_cast<uint64_t>(key.c) + 0x94D049BB133111EBull + (h << 6) + (h >> 2);
            return static_cast<size_t>(h ^ (h >> 31));
        }
    };
    std::unordered_map<Key, std::pair<int64_t, int64_t>, KeyHash> occupied;
    // every non-empty bin, for the bound on the number of pairs
    struct Occupied {
        int64_t key[3];
        int64_t first, last;
    };
    std::vector<Occupied> occupied_list;

    // the atoms of bin (a, b, c) (already wrapped), as [first, last)
    inline std::pair<int64_t, int64_t> atoms_of(int64_t a, int64_t b, int64_t c) const {
        if (dense) {
            const int64_t linear = a + n_bins[0] * (b + n_bins[1] * c);
            return {bin_start[linear], bin_start[linear + 1]};
        }
        auto it = occupied.find(Key{a, b, c});
        if (it == occupied.end()) return {0, 0};
        return it->second;
    }
};

inline void invert3(const double m[3][3], double inv[3][3]) {
    const double c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    const double c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    const double c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    const double det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02;
    inv[0][0] = c00 / det;
    inv[1][0] = c01 / det;
    inv[2][0] = c02 / det;
    inv[0][1] = (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det;
    inv[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det;
    inv[2][1] = (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det;
    inv[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det;
    inv[1][2] = (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det;
    inv[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det;
}

// Bins: fractional coordinates along periodic axes (wrapped into [0, 1)), Å along open axes
// (whose cell rows are unit vectors orthogonal to everything else). A bin is at least `width`
// thick, so two atoms closer than the cutoff are at most `reach` bins apart along each axis.
inline void build_grid(Grid& g, const double* positions, int64_t n, const double cell[3][3],
                       const bool pbc[3], double cutoff, int64_t max_pairs, int64_t max_dense_cells) {
    double inv[3][3];
    invert3(cell, inv);
    double extent = 0.0;  // the largest |coordinate|, for the rounding slack below
    for (int64_t i = 0; i < 3 * n; ++i) extent = std::max(extent, std::abs(positions[i]));
    for (int a = 0; a < 3; ++a) {
        g.periodic[a] = pbc[a];
        for (int b = 0; b < 3; ++b) {
            g.cell[a][b] = cell[a][b];
            if (pbc[a]) extent += std::abs(cell[a][b]);
        }
    }
    // Bins a little thicker than the cutoff: fractional coordinates carry rounding errors of
    // a few ulp of the largest coordinate, and pairs must not be lost to them.
    const double width = cutoff * (1.0 + 1e-9) + 64.0 * std::numeric_limits<double>::epsilon() * extent;

    std::vector<double> frac(3 * n);
    g.k.assign(3 * n, 0);
    g.bin.assign(3 * n, 0);
    double lo[3], hi[3];
    for (int a = 0; a < 3; ++a) {
        lo[a] = std::numeric_limits<double>::infinity();
        hi[a] = -lo[a];
    }
    for (int64_t i = 0; i < n; ++i) {
        const double* r = positions + 3 * i;
        for (int a = 0; a < 3; ++a) {
            double f = r[0] * inv[0][a] + r[1] * inv[1][a] + r[2] * inv[2][a];
            if (pbc[a]) {
                const double k = std::floor(f);
                if (std::abs(k) > MAX_CELL_OFFSET)
                    throw NeighborListError(
                        "atom " + std::to_string(i) + " lies " + format_g(k) +
                        " cell lengths outside the periodic cell along axis " + std::to_string(a) +
                        " (at most " + format_g(MAX_CELL_OFFSET) + "); wrap the positions into the cell");
                g.k[3 * i + a] = static_cast<int32_t>(k);
                f -= k;
            }
            frac[3 * i + a] = f;
            lo[a] = std::min(lo[a], f);
            hi[a] = std::max(hi[a], f);
        }
    }
    double scale[3], origin[3];
    double loops_per_atom = 1.0;
    for (int a = 0; a < 3; ++a) {
        if (pbc[a]) {
            // thickness of the cell along axis a: 1 / |dual vector a|
            const double height =
                1.0 / std::sqrt(inv[0][a] * inv[0][a] + inv[1][a] * inv[1][a] + inv[2][a] * inv[2][a]);
            const double bins = std::clamp(std::floor(height / width), 1.0, double(MAX_BINS_PER_AXIS));
            g.n_bins[a] = static_cast<int64_t>(bins);
            origin[a] = 0.0;
            scale[a] = bins;
            // a cell thinner than the cutoff: search its images up to `reach` cells away
            const double reach = std::max(1.0, std::ceil(width * bins / height * (1.0 - 1e-12)));
            loops_per_atom *= 2.0 * reach + 1.0;
            if (!(double(n) * loops_per_atom <= 16.0 * double(max_pairs) + 1e6))
                throw NeighborListError(
                    "a cutoff of " + format_g(cutoff) + " Å reaches about " + format_g(reach) +
                    " periodic images of a cell only " + format_g(height) + " Å thick along axis " +
                    std::to_string(a) + ": the neighbour list would exceed " +
                    std::to_string(max_pairs) + " pairs (is the cutoff or the cell in the right unit?)");
            g.reach[a] = static_cast<int64_t>(reach);
        } else {
            double w = width;
            const double span = n > 0 ? hi[a] - lo[a] : 0.0;
            if (span / w >= double(MAX_BINS_PER_AXIS - 1)) w = span / double(MAX_BINS_PER_AXIS - 2);
            g.n_bins[a] = n > 0 ? static_cast<int64_t>(std::floor(span / w)) + 1 : 1;
            origin[a] = n > 0 ? lo[a] : 0.0;
            scale[a] = 1.0 / w;
            g.reach[a] = 1;
            loops_per_atom *= 3.0;
        }
    }
    if (pbc[0] && pbc[1] && pbc[2]) {
        // a periodic structure of uniform density has about n * (n / V) * (4/3 π rc³) pairs;
        // refuse at once what would surely be too many (the running count catches the rest)
        const double volume = std::abs(cell[0][0] * (cell[1][1] * cell[2][2] - cell[1][2] * cell[2][1]) -
                                       cell[0][1] * (cell[1][0] * cell[2][2] - cell[1][2] * cell[2][0]) +
                                       cell[0][2] * (cell[1][0] * cell[2][1] - cell[1][1] * cell[2][0]));
        const double expected = double(n) * double(n) / volume * 4.18879020478639 * cutoff * cutoff * cutoff;
        if (expected > 2.0 * double(max_pairs))
            throw NeighborListError(
                "the neighbour list of " + std::to_string(n) + " atoms in a periodic cell of " +
                format_g(volume) + " Å³ with a cutoff of " + format_g(cutoff) + " Å would hold about " +
                format_g(expected) + " pairs, more than " + std::to_string(max_pairs) +
                " that this machine's memory allows (is the cutoff or the cell in the right unit?)");
    }
    for (int64_t i = 0; i < n; ++i)
        for (int a = 0; a < 3; ++a) {
            const double b = std::floor((frac[3 * i + a] - origin[a]) * scale[a]);
            g.bin[3 * i + a] = std::clamp(static_cast<int64_t>(b), int64_t(0), g.n_bins[a] - 1);
        }

    // order the atoms by bin (counting sort on a dense grid, sort + hash map on a sparse one)
    const double dense_cells = double(g.n_bins[0]) * double(g.n_bins[1]) * double(g.n_bins[2]);
    g.dense = dense_cells <= double(max_dense_cells);
    std::vector<int64_t> order(n);
    if (g.dense) {
        const int64_t cells = static_cast<int64_t>(dense_cells);
        std::vector<int64_t> linear(n);
        g.bin_start.assign(cells + 1, 0);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t* b = &g.bin[3 * i];
            linear[i] = b[0] + g.n_bins[0] * (b[1] + g.n_bins[1] * b[2]);
            g.bin_start[linear[i] + 1] += 1;
        }
        for (int64_t c = 0; c < cells; ++c) g.bin_start[c + 1] += g.bin_start[c];
        std::vector<int64_t> fill(g.bin_start.begin(), g.bin_start.end() - 1);
        for (int64_t i = 0; i < n; ++i) order[fill[linear[i]]++] = i;
        for (int64_t c = 0; c < cells; ++c) {
            if (g.bin_start[c + 1] == g.bin_start[c]) continue;
            const int64_t a = c % g.n_bins[0], b = (c / g.n_bins[0]) % g.n_bins[1];
            const int64_t z = c / (g.n_bins[0] * g.n_bins[1]);
            g.occupied_list.push_back({{a, b, z}, g.bin_start[c], g.bin_start[c + 1]});
        }
    } else {
        for (int64_t i = 0; i < n; ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
            const int64_t* a = &g.bin[3 * p];
            const int64_t* b = &g.bin[3 * q];
            if (a[2] != b[2]) return a[2] < b[2];
            if (a[1] != b[1]) return a[1] < b[1];
            if (a[0] != b[0]) return a[0] < b[0];
            return p < q;
        });
        g.occupied.reserve(static_cast<size_t>(n));
        for (int64_t s = 0; s < n;) {
            const int64_t* b = &g.bin[3 * order[s]];
            int64_t e = s + 1;
            while (e < n && std::equal(b, b + 3, &g.bin[3 * order[e]])) ++e;
            g.occupied.emplace(Grid::Key{b[0], b[1], b[2]}, std::make_pair(s, e));
            g.occupied_list.push_back({{b[0], b[1], b[2]}, s, e});
            s = e;
        }
    }
    g.x.resize(n);
    g.y.resize(n);
    g.z.resize(n);
    g.index.resize(n);
    g.sorted_position.resize(n);
    for (int64_t s = 0; s < n; ++s) {
        const int64_t i = order[s];
        const double* r = positions + 3 * i;
        const int32_t* k = &g.k[3 * i];
        double w[3];
        for (int c = 0; c < 3; ++c)
            w[c] = r[c] - (k[0] * cell[0][c] + k[1] * cell[1][c] + k[2] * cell[2][c]);
        g.x[s] = w[0];
        g.y[s] = w[1];
        g.z[s] = w[2];
        g.index[s] = i;
        g.sorted_position[i] = s;
    }
}

// Growable output of one thread: the pairs of a contiguous range of centres.
struct PairBuffer {
    std::vector<int64_t> neighbor;
    std::vector<int32_t> shift;
    std::vector<double> vector, distance;
    void reserve(size_t n) {
        neighbor.reserve(n);
        shift.reserve(3 * n);
        vector.reserve(3 * n);
        distance.reserve(n);
    }
};

// Folds bin index t of `axis` into the grid: a periodic axis wraps it and puts the image
// number in q; an open axis has nothing outside its bins (returns false).
inline bool fold_bin(const Grid& g, int axis, int64_t& t, int64_t& q) {
    q = 0;
    if (t >= 0 && t < g.n_bins[axis]) return true;
    if (!g.periodic[axis]) return false;
    q = floor_div(t, g.n_bins[axis]);
    t -= q * g.n_bins[axis];
    return true;
}

// Calls visit(first, last, qx, qy, qz) for every non-empty bin image within reach of bin `b`
// (first..last: its atoms in bin order; q: the periodic image of the bin), until visit returns
// false. Returns false if it was stopped.
template <typename Visit>
inline bool visit_stencil(const Grid& g, const int64_t* b, Visit&& visit) {
    for (int64_t dz = -g.reach[2]; dz <= g.reach[2]; ++dz) {
        int64_t tz = b[2] + dz, qz;
        if (!fold_bin(g, 2, tz, qz)) continue;
        for (int64_t dy = -g.reach[1]; dy <= g.reach[1]; ++dy) {
            int64_t ty = b[1] + dy, qy;
            if (!fold_bin(g, 1, ty, qy)) continue;
            for (int64_t dx = -g.reach[0]; dx <= g.reach[0]; ++dx) {
                int64_t tx = b[0] + dx, qx;
                if (!fold_bin(g, 0, tx, qx)) continue;
                const auto [first, last] = g.atoms_of(tx, ty, tz);
                if (first == last) continue;
                if (!visit(first, last, qx, qy, qz)) return false;
            }
        }
    }
    return true;
}

// Squared distances from centre i (wrapped position xi, yi, zi) to the atoms first..last of a
// bin seen through image q: v = (w_j - w_i) + q @ cell, rounded in this order so that the pair
// j -> i (image -q) gets exactly -v and the list stays symmetric to the last bit. A loop the
// compiler vectorises: most candidates are beyond the cutoff (27 bins hold ~6x the volume of
// the cutoff sphere).
inline void squared_distances(const Grid& g, int64_t first, int64_t last, const double xi[3],
                              const double u[3], std::vector<double>& scratch) {
    const int64_t count = last - first;
    if (static_cast<int64_t>(scratch.size()) < count) scratch.resize(count);
    double* d2s = scratch.data();
    const double* xs = g.x.data() + first;
    const double* ys = g.y.data() + first;
    const double* zs = g.z.data() + first;
    for (int64_t m = 0; m < count; ++m) {
        const double vx = (xs[m] - xi[0]) + u[0], vy = (ys[m] - xi[1]) + u[1], vz = (zs[m] - xi[2]) + u[2];
        d2s[m] = vx * vx + vy * vy + vz * vz;
    }
}

inline void image_translation(const Grid& g, int64_t qx, int64_t qy, int64_t qz, double u[3]) {
    for (int c = 0; c < 3; ++c)
        u[c] = double(qx) * g.cell[0][c] + double(qy) * g.cell[1][c] + double(qz) * g.cell[2][c];
}

// The pairs of centre i, appended to `out`; returns how many, or -1 as soon as there are more
// than `limit` (the list would not fit in memory).
inline int64_t pairs_of(const Grid& g, int64_t i, double cutoff, int64_t limit, PairBuffer& out,
                        std::vector<double>& scratch) {
    const double c2 = cutoff * cutoff;
    const int64_t s_i = g.sorted_position[i];
    const double xi[3] = {g.x[s_i], g.y[s_i], g.z[s_i]};
    const int32_t* ki = &g.k[3 * i];
    const size_t before = out.distance.size();
    const bool complete = visit_stencil(g, &g.bin[3 * i], [&](int64_t first, int64_t last, int64_t qx,
                                                              int64_t qy, int64_t qz) {
        double u[3];
        image_translation(g, qx, qy, qz, u);
        squared_distances(g, first, last, xi, u, scratch);
        const bool q_zero = qx == 0 && qy == 0 && qz == 0;
        const double* d2s = scratch.data();
        for (int64_t m = 0; m < last - first; ++m) {
            if (!(d2s[m] <= c2)) continue;
            const int64_t j = g.index[first + m];
            if (q_zero && j == i) continue;
            const double d = std::sqrt(d2s[m]);
            if (!(d < cutoff)) continue;
            const int32_t* kj = &g.k[3 * j];
            out.neighbor.push_back(j);
            out.shift.push_back(static_cast<int32_t>(qx + ki[0] - kj[0]));
            out.shift.push_back(static_cast<int32_t>(qy + ki[1] - kj[1]));
            out.shift.push_back(static_cast<int32_t>(qz + ki[2] - kj[2]));
            out.vector.push_back((g.x[first + m] - xi[0]) + u[0]);
            out.vector.push_back((g.y[first + m] - xi[1]) + u[1]);
            out.vector.push_back((g.z[first + m] - xi[2]) + u[2]);
            out.distance.push_back(d);
        }
        return static_cast<int64_t>(out.distance.size() - before) <= limit;
    });
    return complete ? static_cast<int64_t>(out.distance.size() - before) : -1;
}

// Whether the list has more than `limit` pairs. First an upper bound from the bin occupancies
// (a few thousand operations for ordinary structures); only when that exceeds the limit, the
// exact count, without storing anything, stopped as soon as it passes the limit.
inline bool more_pairs_than(const Grid& g, double cutoff, int64_t limit) {
    double bound = 0.0;
    for (const auto& bin : g.occupied_list) {
        double reachable = 0.0;
        visit_stencil(g, bin.key, [&](int64_t first, int64_t last, int64_t, int64_t, int64_t) {
            reachable += double(last - first);
            return true;
        });
        bound += double(bin.last - bin.first) * reachable;
    }
    if (bound <= double(limit)) return false;
    const double c2 = cutoff * cutoff;
    std::vector<double> scratch;
    int64_t count = 0;
    for (int64_t s = 0; s < static_cast<int64_t>(g.index.size()); ++s) {
        const int64_t i = g.index[s];
        const double xi[3] = {g.x[s], g.y[s], g.z[s]};
        const bool within = visit_stencil(g, &g.bin[3 * i], [&](int64_t first, int64_t last, int64_t qx,
                                                                int64_t qy, int64_t qz) {
            double u[3];
            image_translation(g, qx, qy, qz, u);
            squared_distances(g, first, last, xi, u, scratch);
            for (int64_t m = 0; m < last - first; ++m) count += scratch[m] <= c2;
            if (qx == 0 && qy == 0 && qz == 0 && first <= s && s < last) --count;  // i itself
            return count <= limit;
        });
        if (!within) return true;
    }
    return false;
}

}  // namespace nl_detail

// All pairs i, j (and periodic images, also of i itself) with distance < cutoff, both
// directions, grouped by centre. `cell` rows of open directions must be unit vectors orthogonal
// to the other rows. `max_dense_cells` < 0 picks the default (a few cells per atom).
inline NeighborListData compute_neighbor_list(const double* positions, size_t n_atoms,
                                              const double cell[3][3], const bool pbc[3],
                                              double cutoff, int n_threads, int64_t max_pairs,
                                              int64_t max_dense_cells = -1) {
    using namespace nl_detail;
    NeighborListData out;
    const int64_t n = static_cast<int64_t>(n_atoms);
    out.offsets.assign(n + 1, 0);
    if (n == 0) return out;
    if (max_dense_cells < 0) max_dense_cells = std::max<int64_t>(8 * n, 1 << 16);

    Grid grid;
    build_grid(grid, positions, n, cell, pbc, cutoff, max_pairs, max_dense_cells);
    const auto too_many_pairs = [&] {
        return NeighborListError("the neighbour list of " + std::to_string(n) + " atoms with a cutoff of " +
                                 format_g(cutoff) + " Å would exceed " + std::to_string(max_pairs) +
                                 " pairs, more than this machine's memory allows (overlapping atoms, "
                                 "or a cutoff or cell in the wrong unit?)");
    };
    if (more_pairs_than(grid, cutoff, max_pairs)) throw too_many_pairs();

#ifdef _OPENMP
    int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#else
    int threads = 1;
    (void)n_threads;
#endif
    // below a few hundred atoms per thread, starting threads costs more than it saves
    threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n / 256)));
    std::vector<PairBuffer> buffers(threads);
    std::atomic<int64_t> total{0};
    std::atomic<bool> too_many{false};
    std::vector<std::exception_ptr> failures(threads);
    auto run = [&](int t) {
        // no exception may leave an OpenMP region (std::terminate): keep it for the caller
        try {
            const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
            PairBuffer& buf = buffers[t];
            std::vector<double> scratch;
            // a first guess, then (after a sample of centres) the sampled mean times the chunk:
            // growing by doubling would copy a dense box's list (~100 MB) several times
            const int64_t sample = 64;
            buf.reserve(static_cast<size_t>(std::min<int64_t>(64 * std::min(end - begin, sample), max_pairs)));
            for (int64_t i = begin; i < end; ++i) {
                if (i == begin + sample && end - begin > 2 * sample) {
                    const double mean = static_cast<double>(buf.neighbor.size()) / sample;
                    const double guess = 1.05 * mean * static_cast<double>(end - begin) + 64.0;
                    buf.reserve(static_cast<size_t>(std::min<double>(guess, static_cast<double>(max_pairs))));
                }
                const int64_t room = max_pairs - total.load(std::memory_order_relaxed);
                const int64_t m = pairs_of(grid, i, cutoff, room, buf, scratch);
                if (m < 0 || total.fetch_add(m, std::memory_order_relaxed) + m > max_pairs)
                    too_many.store(true);
                if (too_many.load(std::memory_order_relaxed)) return;
                out.offsets[i + 1] = m;
            }
        } catch (...) {
            failures[t] = std::current_exception();
            too_many.store(true);
        }
    };
    if (threads == 1) {
        run(0);
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
        for (int t = 0; t < threads; ++t) run(t);
#endif
    }
    for (auto& failure : failures)
        if (failure) std::rethrow_exception(failure);
    if (too_many.load()) throw too_many_pairs();  // not reached: counted above; a safety net

    for (int64_t i = 0; i < n; ++i) out.offsets[i + 1] += out.offsets[i];
    const int64_t n_pairs = out.offsets[n];
    out.center.resize(n_pairs);
    for (int64_t i = 0; i < n; ++i)
        std::fill(out.center.begin() + out.offsets[i], out.center.begin() + out.offsets[i + 1], i);
    if (threads == 1) {
        out.neighbor = std::move(buffers[0].neighbor);
        out.shift = std::move(buffers[0].shift);
        out.vector = std::move(buffers[0].vector);
        out.distance = std::move(buffers[0].distance);
        return out;
    }
    out.neighbor.resize(n_pairs);
    out.shift.resize(3 * n_pairs);
    out.vector.resize(3 * n_pairs);
    out.distance.resize(n_pairs);
    for (int t = 0; t < threads; ++t) {
        const int64_t at = out.offsets[n * t / threads];
        PairBuffer& buf = buffers[t];
        std::copy(buf.neighbor.begin(), buf.neighbor.end(), out.neighbor.begin() + at);
        std::copy(buf.shift.begin(), buf.shift.end(), out.shift.begin() + 3 * at);
        std::copy(buf.vector.begin(), buf.vector.end(), out.vector.begin() + 3 * at);
        std::copy(buf.distance.begin(), buf.distance.end(), out.distance.begin() + at);
        buf = PairBuffer{};
    }
    return out;
}

}  // namespace potforge
