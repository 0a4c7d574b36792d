// Atom-centred symmetry functions (Behler 2011; n2p2 types 2, 3, 9, 12, 13, 20-25; ANI angular)
// with their derivatives, evaluated one centre atom at a time.
//
// For a centre atom i the kernel computes the values G_s and the Jacobian with respect to the
// pair vectors d_n = r_j(n) - r_i (+ periodic shift) of its neighbours n,
//     J[s][c][n] = dG_s / d(d_n)_c,
// kept in a small per-thread buffer (n_sf x 3 x n_neighbours doubles, L2-resident). Forces,
// stress and training derivatives all follow from it: dG_s/dr_j = sum over pairs n with
// neighbour j of J[s][:][n], dG_s/dr_i = -sum_n J[s][:][n], and the strain derivative is
// sum_n d_n (x) J[s][:][n]. Angular terms are written in the basis (d_j, d_k): for a triplet
// term t(r_j, r_k, r_jk, cos) with partials T_j, T_k, T_jk, T_c,
//     dt/dd_j = d_j [T_j/r_j - T_c cos/r_j^2 + T_jk/r_jk] + d_k [T_c/(r_j r_k) - T_jk/r_jk]
//     dt/dd_k = d_k [T_k/r_k - T_c cos/r_k^2 + T_jk/r_jk] + d_j [T_c/(r_j r_k) - T_jk/r_jk]
// so the inner loops over k are branch-free and vectorise.
#ifndef PF_SYMFUNC_HPP  // once per kernel_impl.hpp inclusion (it resets these guards)
#define PF_SYMFUNC_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "mathfun.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace potforge {
namespace PF_ARCH_NS {

enum SFType : int {
    SF_RADIAL = 2,
    SF_ANGULAR_NARROW = 3,
    SF_ANGULAR_WIDE = 9,
    SF_WEIGHTED_RADIAL = 12,
    SF_WEIGHTED_ANGULAR_NARROW = 13,
    SF_COMPACT_RADIAL = 20,
    SF_COMPACT_ANGULAR_NARROW = 21,
    SF_COMPACT_ANGULAR_WIDE = 22,
    SF_WEIGHTED_COMPACT_RADIAL = 23,
    SF_WEIGHTED_COMPACT_ANGULAR_NARROW = 24,
    SF_WEIGHTED_COMPACT_ANGULAR_WIDE = 25,
    SF_ANI_ANGULAR = 100,
};

// One symmetry function; lengths in the units of the positions, angles in radians.
struct SFSpec {
    int type = 0;
    int e1 = -1, e2 = -1;  // neighbour species indices; -1 = any species (weighted types)
    int cutoff_type = CUT_TANHU;
    real cutoff_alpha = 0.0;
    real rc = 0.0, eta = 0.0, rs = 0.0, lambda = 1.0, zeta = 1.0;
    real rl = 0.0, angle_left = 0.0, angle_right = 0.0, theta_s = 0.0;
    int core = CUT_POLY2;
    bool asymmetric = false;
};

// Number of columns of the table that describes one SF (see SFSpec, same order).
constexpr int SF_TABLE_COLUMNS = 16;

// A table entry that holds an integer code, checked before the conversion (casting a NaN or
// out-of-range double to int is undefined behaviour).
inline int table_code(double v, double lo, double hi, const char* what) {
    if (!(v >= lo && v <= hi) || v != std::floor(v))
        throw std::invalid_argument(std::string("symmetry-function table: ") + what + " " +
                                    number_text(v) + " is not an integer in [" +
                                    std::to_string(static_cast<long>(lo)) + ", " +
                                    std::to_string(static_cast<long>(hi)) + "]");
    return static_cast<int>(v);
}

// One row of the parameter table, checked so that no row can make a kernel crash, divide by
// zero or branch on a NaN: every entry finite in the kernel's precision, codes in range,
// 0 <= alpha < 1, r_c > 0, eta >= 0, |zeta| >= 1 (n2p2 accepts negative zeta: its
// AlAuMgO_4G model uses -1 and -2) and small enough that 2^(1-zeta) and
// 2^zeta stay normal numbers (zeta <= 1016 in double, <= 120 in float), r_l < r_c and
// left < right for the compact types. The loaders check the physical ranges and give
// one-line errors; this is the last line of defence for direct callers.
inline SFSpec spec_from_row(const double* row) {
    for (int c = 0; c < 16; ++c)
        if (!(std::fabs(row[c]) <= static_cast<double>(std::numeric_limits<real>::max())))
            throw std::invalid_argument("symmetry-function table: column " + std::to_string(c) +
                                        " holds " + number_text(row[c]) +
                                        ", which is not a finite number in the kernel's precision");
    SFSpec s;
    s.type = table_code(row[0], 0, 1000, "type");
    s.e1 = table_code(row[1], -1, 1 << 20, "neighbour species index");
    s.e2 = table_code(row[2], -1, 1 << 20, "neighbour species index");
    s.cutoff_type = table_code(row[3], CUT_HARD, CUT_POLY4, "cutoff type");
    s.cutoff_alpha = row[4];
    s.rc = row[5];
    s.eta = row[6];
    s.rs = row[7];
    s.lambda = row[8];
    s.zeta = row[9];
    s.rl = row[10];
    s.angle_left = row[11];
    s.angle_right = row[12];
    s.core = table_code(row[13], 0, CUT_POLY4, "core function");
    s.asymmetric = row[14] != 0.0;
    s.theta_s = row[15];
    if (!(s.cutoff_alpha >= 0.0 && s.cutoff_alpha < 1.0))
        throw std::invalid_argument("symmetry-function table: cutoff alpha must lie in [0, 1)");
    if (!(s.rc > 0.0)) throw std::invalid_argument("symmetry function with cutoff radius <= 0");
    if (!(s.eta >= 0.0)) throw std::invalid_argument("symmetry function with eta < 0");
    const double zeta_max = std::numeric_limits<real>::max_exponent - 8;
    if (!(std::fabs(s.zeta) >= 1.0 && std::fabs(s.zeta) <= zeta_max))
        throw std::invalid_argument("symmetry function with |zeta| outside [1, " +
                                    std::to_string(static_cast<int>(zeta_max)) +
                                    "] (the kernel's precision)");
    if (s.type >= 20 && s.type <= 25) {
        if (!(s.rl < s.rc)) throw std::invalid_argument("compact symmetry function with r_l >= r_c");
        if (s.type != 20 && s.type != 23 && !(s.angle_left < s.angle_right))
            throw std::invalid_argument("compact symmetry function with left angle >= right angle");
        if (s.core < CUT_EXP) throw std::invalid_argument("compact symmetry function without a core");
    }
    return s;
}

inline bool is_weighted(int type) {
    return type == SF_WEIGHTED_RADIAL || type == SF_WEIGHTED_ANGULAR_NARROW ||
           type == SF_WEIGHTED_COMPACT_RADIAL || type == SF_WEIGHTED_COMPACT_ANGULAR_NARROW ||
           type == SF_WEIGHTED_COMPACT_ANGULAR_WIDE;
}
inline bool is_radial(int type) {
    return type == SF_RADIAL || type == SF_WEIGHTED_RADIAL || type == SF_COMPACT_RADIAL ||
           type == SF_WEIGHTED_COMPACT_RADIAL;
}
inline bool is_compact(int type) { return type >= 20 && type <= 25; }
inline bool is_narrow(int type) {
    return type == SF_ANGULAR_NARROW || type == SF_WEIGHTED_ANGULAR_NARROW ||
           type == SF_COMPACT_ANGULAR_NARROW || type == SF_WEIGHTED_COMPACT_ANGULAR_NARROW;
}

// Compact function C(a) = core(|a - c| / w), c = (left + right)/2, w = (right - left)/2
// (Bircher et al. 2021 as implemented by n2p2); 'asymmetric' replaces x by (2 - x) x.
// Zero outside (left, right).
PF_INLINE void compact_function(int core, bool asymmetric, real center, real inv_half_width,
                                real a, real& f, real& df) {
    const real u = (a - center) * inv_half_width;
    real x = std::fabs(u);
    if (x >= 1.0) {
        f = 0.0;
        df = 0.0;
        return;
    }
    real cf, cdf;
    if (asymmetric) {
        const real p = (2.0 - x) * x;
        core_function(core, p, cf, cdf);
        cdf *= (2.0 - 2.0 * x);
    } else {
        core_function(core, x, cf, cdf);
    }
    f = cf;
    df = (u < 0.0 ? -cdf : cdf) * inv_half_width;
}

// ---------------------------------------------------------------------------------------------
// Groups: symmetry functions of one centre element that share neighbour ranges and cutoff
// (n2p2's "symmetry function groups"), so that shared work is done once.
struct RadialGroup {
    bool compact = false, weighted = false;
    int e1 = -1;
    int cutoff_slot = -1;     // index into the element's distinct cutoffs (Gaussian types)
    std::vector<int> members;  // SF indices
    // Gaussian: exp(-eta_m (r - rs)^2) = exp(-eta_b (r - rs)^2)^n for eta_m = n eta_b (same
    // rs, small integer n): power_base[i] = index (in members) of b, or -1 for an own exp
    std::vector<int> power_base, power;
};

struct AngularGroup {
    int kind = 0;  // 0 Gaussian (3, 9, 13), 1 compact (21, 22, 24, 25), 2 ANI
    bool narrow = false, weighted = false;
    int e1 = -1, e2 = -1;
    int cutoff_slot = -1;
    real rc = 0.0;
    // compact: shared radial compact function
    real rl = 0.0;
    int core = CUT_POLY2;
    bool asymmetric = false;
    std::vector<int> members;
    // Gaussian: members grouped by distinct (eta, rs): key_of_member[m] indexes keys
    std::vector<std::pair<real, real>> keys;
    std::vector<int> key_of_member;
    // Gaussian: per member (in member order) 2^(1-zeta), and zeta as an integer where it is one
    std::vector<real> prefactor;
    std::vector<int> zeta_int;  // 0: not a (small positive) integer
    std::vector<int> key_begin;  // members of key q are [key_begin[q], key_begin[q + 1])
    // exp(-eta_q S) = exp(-eta_b S)^n when eta_q = n eta_b (same r_s, small integer n):
    // key_base[q] = b and key_power[q] = n, or key_base[q] = q (own exp)
    std::vector<int> key_base, key_power;
    // Gaussian: the distinct (lambda, zeta) of the members (their angular factor
    // (1 + lambda cos)^zeta is computed once per triplet and shared by the keys)
    std::vector<std::pair<real, real>> units;
    std::vector<int> unit_of_member;
};

struct ElementSFs {
    std::vector<SFSpec> sfs;
    std::vector<Cutoff> cutoffs;
    std::vector<RadialGroup> radial;
    std::vector<AngularGroup> angular;
    real rc_max = 0.0;
};

// n if a = n b for an integer 2 <= n <= 64 (to rounding), else 0: then
// exp(-a x) = exp(-b x)^n, a few multiplications instead of an exp.
inline int integer_ratio(real a, real b) {
    if (!(b > 0)) return 0;
    const real ratio = a / b, n = std::round(ratio);
    const real tolerance = real_is_float ? real(1e-6) : real(1e-12);
    return (n >= 2 && n <= 64 && std::fabs(ratio - n) <= tolerance * n) ? static_cast<int>(n) : 0;
}

inline ElementSFs build_element(const std::vector<SFSpec>& sfs, int n_species) {
    ElementSFs el;
    el.sfs = sfs;
    std::map<std::tuple<int, real, real>, int> cut_index;
    auto cutoff_slot = [&](const SFSpec& s) {
        auto key = std::make_tuple(s.cutoff_type, s.rc, s.cutoff_alpha);
        auto it = cut_index.find(key);
        if (it != cut_index.end()) return it->second;
        int slot = static_cast<int>(el.cutoffs.size());
        el.cutoffs.emplace_back(s.cutoff_type, s.rc, s.cutoff_alpha);
        cut_index[key] = slot;
        return slot;
    };
    std::map<std::tuple<int, int, int>, int> radial_index;
    std::map<std::tuple<int, int, int, int, real, real, int, bool>, int> angular_index;
    for (int m = 0; m < static_cast<int>(sfs.size()); ++m) {
        const SFSpec& s = sfs[m];
        if (!(s.rc > 0.0)) throw std::invalid_argument("symmetry function with cutoff radius <= 0");
        if (s.e1 >= n_species || s.e2 >= n_species)
            throw std::invalid_argument("symmetry function neighbour species out of range");
        el.rc_max = std::max(el.rc_max, s.rc);
        const bool w = is_weighted(s.type);
        const int e1 = w ? -1 : s.e1;
        const int e2 = w ? -1 : s.e2;
        if (!w && (e1 < 0 || e1 >= n_species))
            throw std::invalid_argument("symmetry function neighbour species out of range");
        if (is_radial(s.type)) {
            const bool compact = is_compact(s.type);
            const int slot = compact ? -1 : cutoff_slot(s);
            auto key = std::make_tuple(s.type, e1, slot);
            auto it = radial_index.find(key);
            if (it == radial_index.end()) {
                RadialGroup g;
                g.compact = compact;
                g.weighted = w;
                g.e1 = e1;
                g.cutoff_slot = slot;
                radial_index[key] = static_cast<int>(el.radial.size());
                el.radial.push_back(g);
                it = radial_index.find(key);
            }
            el.radial[it->second].members.push_back(m);
            continue;
        }
        int kind;
        if (s.type == SF_ANI_ANGULAR) kind = 2;
        else if (is_compact(s.type)) kind = 1;
        else if (s.type == SF_ANGULAR_NARROW || s.type == SF_ANGULAR_WIDE ||
                 s.type == SF_WEIGHTED_ANGULAR_NARROW) kind = 0;
        else throw std::invalid_argument("unknown symmetry function type " + std::to_string(s.type));
        if (!w && (e2 < 0 || e2 >= n_species))
            throw std::invalid_argument("symmetry function neighbour species out of range");
        const int a = std::min(e1, e2), b = std::max(e1, e2);
        const int slot = kind == 1 ? -1 : cutoff_slot(s);
        auto key = std::make_tuple(s.type, a, b, slot, kind == 1 ? s.rl : 0.0,
                                   kind == 1 ? s.rc : 0.0, kind == 1 ? s.core : 0,
                                   kind == 1 ? s.asymmetric : false);
        auto it = angular_index.find(key);
        if (it == angular_index.end()) {
            AngularGroup g;
            g.kind = kind;
            g.narrow = is_narrow(s.type);
            g.weighted = w;
            g.e1 = a;
            g.e2 = b;
            g.cutoff_slot = slot;
            g.rc = s.rc;
            g.rl = s.rl;
            g.core = s.core;
            g.asymmetric = s.asymmetric;
            angular_index[key] = static_cast<int>(el.angular.size());
            el.angular.push_back(g);
            it = angular_index.find(key);
        }
        el.angular[it->second].members.push_back(m);
    }
    for (RadialGroup& g : el.radial) {
        const int nm = static_cast<int>(g.members.size());
        g.power_base.assign(nm, -1);
        g.power.assign(nm, 1);
        if (g.compact) continue;
        for (int i = 0; i < nm; ++i) {
            const SFSpec& si = sfs[g.members[i]];
            for (int b = 0; b < i; ++b) {
                const SFSpec& sb = sfs[g.members[b]];
                if (g.power_base[b] != -1 || sb.rs != si.rs) continue;
                if (const int n = integer_ratio(si.eta, sb.eta)) {
                    g.power_base[i] = b;
                    g.power[i] = n;
                    break;
                }
            }
        }
    }
    for (AngularGroup& g : el.angular) {
        if (g.kind != 0) continue;
        // order members by (eta, rs) so those sharing a Gaussian are adjacent
        std::stable_sort(g.members.begin(), g.members.end(), [&](int x, int y) {
            return std::make_pair(sfs[x].eta, sfs[x].rs) < std::make_pair(sfs[y].eta, sfs[y].rs);
        });
        for (size_t mi = 0; mi < g.members.size(); ++mi) {
            const SFSpec& s = sfs[g.members[mi]];
            auto key = std::make_pair(s.eta, s.rs);
            if (g.keys.empty() || g.keys.back() != key) {
                g.keys.push_back(key);
                g.key_begin.push_back(static_cast<int>(mi));
            }
            g.key_of_member.push_back(static_cast<int>(g.keys.size()) - 1);
            g.prefactor.push_back(std::pow(2.0, 1.0 - s.zeta));
            const real zr = std::round(s.zeta);
            g.zeta_int.push_back(s.zeta == zr && zr >= 1.0 && zr <= 256.0 ? static_cast<int>(zr) : 0);
        }
        g.key_begin.push_back(static_cast<int>(g.members.size()));
        for (int m : g.members) {
            const auto u = std::make_pair(sfs[m].lambda, sfs[m].zeta);
            const auto it = std::find(g.units.begin(), g.units.end(), u);
            g.unit_of_member.push_back(static_cast<int>(it - g.units.begin()));
            if (it == g.units.end()) g.units.push_back(u);
        }
        // keys are sorted by (eta, rs); share one exp among keys with integer eta ratios
        const int nk = static_cast<int>(g.keys.size());
        g.key_base.assign(nk, 0);
        g.key_power.assign(nk, 1);
        for (int q = 0; q < nk; ++q) {
            g.key_base[q] = q;
            for (int b = 0; b < q; ++b) {
                if (g.key_base[b] != b || g.keys[b].second != g.keys[q].second) continue;
                if (const int n = integer_ratio(g.keys[q].first, g.keys[b].first)) {
                    g.key_base[q] = b;
                    g.key_power[q] = n;
                    break;
                }
            }
        }
    }
    return el;
}

// ---------------------------------------------------------------------------------------------
// Per-thread workspace for one centre atom.
// The triplets (j, k) of one Gaussian angular group of the current centre atom that can
// contribute (narrow functions: r_jk < r_c), flattened into structure-of-arrays form so that
// both passes run long vector loops; pass 2 reuses everything pass 1 computed. The three
// Gaussians of a triplet combine into exp(-eta S) with S = sum of (r - r_s)^2 over the
// (two or three) distances, so each (eta, r_s) key costs one exp per triplet.
// FJ, DFJ, FK, DFK hold the atomic weight times the cutoff and its derivative (weighted
// types; w fc otherwise fc itself), so that no weight columns are stored or multiplied.
struct TripletCache {
    size_t n = 0, padded = 0, capacity = 0;
    int n_keys = 0;
    std::vector<int> jl, kl;  // local neighbour indices
    std::vector<real> scratch;  // per-block columns of the values pass
    std::vector<real> data;  // columns (see enum), each `capacity` long
    enum Column {
        XJ, YJ, ZJ, IRJ, RJ, FJ, DFJ, XK, YK, ZK, IRK, RK, FK, DFK,
        COS, RJK, IRJK, FJK, DFJK, BASE  // then one column per key: exp(-eta S)
    };
    real* col(int q) { return data.data() + static_cast<size_t>(q) * capacity; }
    const real* col(int q) const { return data.data() + static_cast<size_t>(q) * capacity; }
    void reserve(size_t cap, int keys) {
        n_keys = keys;
        const size_t cols = BASE + static_cast<size_t>(keys);
        if (cap > capacity || data.size() < cols * capacity) {
            capacity = std::max(cap, capacity);
            jl.resize(capacity);
            kl.resize(capacity);
            data.resize(cols * capacity);
        }
    }
};

struct Workspace {
    std::vector<TripletCache> caches;   // one per angular group
    std::vector<real> gk;             // per-triplet scratch of the derivative pass
    std::vector<real> radE;           // radial Gaussians of pass 1, n_sf x stride (by SF index)
    int n = 0;  // local neighbours
    std::vector<real> x, y, z, r, inv_r, w;  // w: atomic number (weighted types)
    std::vector<real> wfc, wdfc;                // w fc, w dfc of one cutoff (weighted types)
    std::vector<int64_t> pair;                  // pair index in the CSR list
    std::vector<int> species_start;             // local range of each species (+ end)
    std::vector<real> fc, dfc;                // per cutoff slot, n each
    std::vector<real> R, dR;                  // per-neighbour radial factors (scratch)
    std::vector<real> c, rjk, inv_rjk, fjk, dfjk, Rjk, dRjk, tmp;  // per-k scratch
    std::vector<real> G;                      // n_sf
    std::vector<real> J;                      // n_sf * 3 * n

    void reserve(int n_local, int n_sf, int n_cut) {
        auto grow = [](std::vector<real>& v, size_t size) {
            if (v.size() < size) v.resize(size);
        };
        for (auto* v : {&x, &y, &z, &r, &inv_r, &w, &wfc, &wdfc, &R, &dR, &c, &rjk, &inv_rjk, &fjk, &dfjk,
                        &Rjk, &dRjk, &tmp})
            grow(*v, static_cast<size_t>(n_local) + PAD);
        if (pair.size() < static_cast<size_t>(n_local) + PAD) pair.resize(n_local + PAD);
        grow(fc, static_cast<size_t>(n_cut) * (n_local + PAD));
        grow(dfc, static_cast<size_t>(n_cut) * (n_local + PAD));
        grow(G, n_sf);
        grow(J, static_cast<size_t>(n_sf) * 3 * (n_local + PAD));
    }
};

// Gather the neighbours of atom i with r < rc_max, sorted by species (stable).
inline void gather_neighbors(Workspace& ws, int64_t begin, int64_t end, const int64_t* neighbor,
                             const double* vectors, const double* distances, const int32_t* species,
                             const double* atom_weight, int n_species, real rc_max_real) {
    // both passes compare the double distances, so that a distance that rounds up to the
    // cutoff in float is neither counted nor stored
    const double rc_max = rc_max_real;
    ws.species_start.assign(n_species + 1, 0);
    int count = 0;
    for (int64_t p = begin; p < end; ++p) {
        if (distances[p] < rc_max) {
            ws.species_start[species[neighbor[p]] + 1] += 1;
            ++count;
        }
    }
    for (int s = 0; s < n_species; ++s) ws.species_start[s + 1] += ws.species_start[s];
    std::vector<int> fill(ws.species_start.begin(), ws.species_start.end() - 1);
    ws.n = count;
    for (int64_t p = begin; p < end; ++p) {
        if (!(distances[p] < rc_max)) continue;
        const real d = static_cast<real>(distances[p]);
        const int64_t j = neighbor[p];
        const int slot = fill[species[j]]++;
        ws.x[slot] = vectors[3 * p];
        ws.y[slot] = vectors[3 * p + 1];
        ws.z[slot] = vectors[3 * p + 2];
        ws.r[slot] = d;
        ws.inv_r[slot] = 1.0 / d;
        ws.w[slot] = atom_weight[j];
        ws.pair[slot] = p;
    }
}

// Integer power with a fixed number of steps so that loops calling it vectorise.
template <int ZETA>
PF_INLINE real power_minus_one(real base, int zeta_runtime) {
    // returns base^(zeta - 1)
    if constexpr (ZETA == 1) {
        (void)base; (void)zeta_runtime;
        return 1.0;
    } else if constexpr (ZETA == 2) {
        (void)zeta_runtime;
        return base;
    } else if constexpr (ZETA > 0) {
        (void)zeta_runtime;
        real result = 1.0, b = base;
        int n = ZETA - 1;
        for (int bit = 0; bit < 8; ++bit) {
            if ((n >> bit) & 1) result *= b;
            b *= b;
        }
        return result;
    } else {
        const int n = zeta_runtime - 1;
        real result = 1.0, b = base;
        for (int bit = 0; bit < 8; ++bit) {
            result *= ((n >> bit) & 1) ? b : 1.0;
            b *= b;
        }
        return result;
    }
}

class SymmetryFunctionKernel {
public:
    SymmetryFunctionKernel(const std::vector<std::vector<SFSpec>>& per_element, int n_species)
        : n_species_(n_species) {
        if (static_cast<int>(per_element.size()) != n_species)
            throw std::invalid_argument("need one symmetry-function list per species");
        for (const auto& sfs : per_element) {
            elements_.push_back(build_element(sfs, n_species));
            n_sf_max_ = std::max(n_sf_max_, static_cast<int>(sfs.size()));
            rc_max_ = std::max(rc_max_, elements_.back().rc_max);
        }
    }

    int n_species() const { return n_species_; }
    int n_sf(int e) const { return static_cast<int>(elements_.at(e).sfs.size()); }
    int n_sf_max() const { return n_sf_max_; }
    real cutoff() const { return rc_max_; }
    const ElementSFs& element(int e) const { return elements_.at(e); }

    // Values and Jacobian for centre atom i (species e); neighbours already gathered in ws.
    void compute_atom(int e, Workspace& ws) const {
        const ElementSFs& el = elements_[e];
        const int n = ws.n;
        const int n_sf = static_cast<int>(el.sfs.size());
        const size_t stride = static_cast<size_t>(n) + PAD;
        std::fill(ws.G.begin(), ws.G.begin() + n_sf, 0.0);
        std::fill(ws.J.begin(), ws.J.begin() + static_cast<size_t>(n_sf) * 3 * stride, 0.0);
        for (size_t slot = 0; slot < el.cutoffs.size(); ++slot)
            el.cutoffs[slot].eval(ws.r.data(), n, ws.fc.data() + slot * stride,
                                  ws.dfc.data() + slot * stride);
        for (const RadialGroup& g : el.radial) radial_group(el, g, ws, stride);
        for (const AngularGroup& g : el.angular) {
            if (g.kind == 0) gaussian_angular_group(el, g, ws, stride);
            else if (g.kind == 1) compact_angular_group(el, g, ws, stride);
            else ani_angular_group(el, g, ws, stride);
        }
    }

    // Values only (for prediction: pass 1 of 2).
    void values_atom(int e, Workspace& ws) const {
        const ElementSFs& el = elements_[e];
        const int n = ws.n;
        const int n_sf = static_cast<int>(el.sfs.size());
        const size_t stride = static_cast<size_t>(n) + PAD;
        PF_T0
        std::fill(ws.G.begin(), ws.G.begin() + n_sf, 0.0);
        for (size_t slot = 0; slot < el.cutoffs.size(); ++slot)
            el.cutoffs[slot].eval(ws.r.data(), n, ws.fc.data() + slot * stride,
                                  ws.dfc.data() + slot * stride);
        PF_LAP(1)
        for (const RadialGroup& g : el.radial) {
            if (g.compact) {
                zero_jacobian_rows(ws, g.members, stride);
                radial_group(el, g, ws, stride);
            } else {
                radial_values(el, g, ws, stride);
            }
        }
        PF_LAP(2)
        if (ws.caches.size() < el.angular.size()) ws.caches.resize(el.angular.size());
        for (size_t gi = 0; gi < el.angular.size(); ++gi) {
            const AngularGroup& g = el.angular[gi];
            if (g.kind == 0) {
                gaussian_angular_values(el, g, static_cast<int>(gi), ws, stride);
            } else {
                zero_jacobian_rows(ws, g.members, stride);
                if (g.kind == 1) compact_angular_group(el, g, ws, stride);
                else ani_angular_group(el, g, ws, stride);
            }
        }
    }

    // Pass 2: with w_s = dE/dG_s, accumulate g_n = sum_s w_s dG_s/dd_n into gx, gy, gz
    // (length >= ws.n + PAD, zeroed by the caller). Uses the cutoff values of values_atom.
    void gradient_atom(int e, Workspace& ws, const real* w, real* gx, real* gy,
                       real* gz) const {
        const ElementSFs& el = elements_[e];
        const int n = ws.n;
        const size_t stride = static_cast<size_t>(n) + PAD;
        PF_T0
        for (const RadialGroup& g : el.radial) {
            if (g.compact) {
                zero_jacobian_rows(ws, g.members, stride);
                radial_group(el, g, ws, stride);
                contract_jacobian_rows(ws, g.members, w, n, stride, gx, gy, gz);
            } else {
                radial_gradient(el, g, ws, stride, w, gx, gy, gz);
            }
        }
        PF_LAP(7)
        for (size_t gi = 0; gi < el.angular.size(); ++gi) {
            const AngularGroup& g = el.angular[gi];
            const int gidx = static_cast<int>(gi);
            if (g.kind == 0) {
                if (g.narrow) gaussian_angular_gradient<true>(el, g, gidx, ws, stride, w, gx, gy, gz);
                else gaussian_angular_gradient<false>(el, g, gidx, ws, stride, w, gx, gy, gz);
            } else {
                zero_jacobian_rows(ws, g.members, stride);
                if (g.kind == 1) compact_angular_group(el, g, ws, stride);
                else ani_angular_group(el, g, ws, stride);
                contract_jacobian_rows(ws, g.members, w, n, stride, gx, gy, gz);
            }
        }
    }

private:
    int n_species_;
    int n_sf_max_ = 0;
    real rc_max_ = 0.0;
    std::vector<ElementSFs> elements_;

    std::pair<int, int> range_of(const Workspace& ws, int species) const {
        if (species < 0) return {0, ws.n};
        return {ws.species_start[species], ws.species_start[species + 1]};
    }

    real* jac(Workspace& ws, int sf, int comp, size_t stride) const {
        return ws.J.data() + (static_cast<size_t>(sf) * 3 + comp) * stride;
    }

    void zero_jacobian_rows(Workspace& ws, const std::vector<int>& members, size_t stride) const {
        for (int m : members) std::fill_n(jac(ws, m, 0, stride), 3 * stride, 0.0);
    }

    void contract_jacobian_rows(Workspace& ws, const std::vector<int>& members, const real* w,
                                int n, size_t stride, real* gx, real* gy, real* gz) const {
        for (int m : members) {
            const real wm = w[m];
            if (wm == 0.0) continue;
            const real* jx = jac(ws, m, 0, stride);
            const real* jy = jac(ws, m, 1, stride);
            const real* jz = jac(ws, m, 2, stride);
            for (int q = 0; q < n; ++q) {
                gx[q] += wm * jx[q];
                gy[q] += wm * jy[q];
                gz[q] += wm * jz[q];
            }
        }
    }

    // Radial Gaussian functions, pass 1: values; the Gaussians are kept for pass 2.
    void radial_values(const ElementSFs& el, const RadialGroup& g, Workspace& ws, size_t stride) const {
        auto [a, b] = range_of(ws, g.e1);
        if (a >= b) return;
        const size_t need = el.sfs.size() * stride;
        if (ws.radE.size() < need) ws.radE.resize(need);
        const real* __restrict r = ws.r.data();
        const real* __restrict w = ws.w.data();
        const real* __restrict fc = ws.fc.data() + g.cutoff_slot * stride;
        const bool weighted = g.weighted;
        const int nm = static_cast<int>(g.members.size());
        const int a0 = a / VW * VW;  // aligned start; lanes outside [a, b) are masked
        const vd zero = vsplat(0.0);
        for (int i = 0; i < nm; ++i) {
            const int m = g.members[i];
            real* __restrict E = ws.radE.data() + static_cast<size_t>(m) * stride;
            if (g.power_base[i] >= 0) {
                const real* __restrict Eb = ws.radE.data() + static_cast<size_t>(g.members[g.power_base[i]]) * stride;
                const int power = g.power[i];
                for (int k = a0; k < b; k += VW) vstore(E + k, vpower_minus_one(vload(Eb + k), power + 1));
            } else {
                const real eta = el.sfs[m].eta, rs = el.sfs[m].rs;
                const int b_up = (b + VW - 1) / VW * VW;  // <= stride: arrays have PAD slack
#pragma GCC ivdep
                for (int k = a0; k < b_up; ++k) {
                    const real dr = r[k] - rs;
                    E[k] = pf_exp(-eta * dr * dr);
                }
            }
            vd sum = zero;
            for (int k = a0; k < b; k += VW) {
                vd t = vload(E + k) * vload(fc + k);
                if (weighted) t *= vload(w + k);
                sum += vselect(vinside(k, a, b), t, zero);
            }
            ws.G[m] += vsum(sum);
        }
    }

    void radial_gradient(const ElementSFs& el, const RadialGroup& g, Workspace& ws, size_t stride,
                         const real* wsf, real* gx, real* gy, real* gz) const {
        auto [a, b] = range_of(ws, g.e1);
        if (a >= b) return;
        const real* __restrict r = ws.r.data();
        const real* __restrict inv_r = ws.inv_r.data();
        const real* __restrict w = ws.w.data();
        const real* __restrict fc = ws.fc.data() + g.cutoff_slot * stride;
        const real* __restrict dfc = ws.dfc.data() + g.cutoff_slot * stride;
        real* __restrict acc = ws.tmp.data();
        std::fill(acc + a, acc + b, 0.0);
        const bool weighted = g.weighted;
        for (int m : g.members) {
            const real wm = wsf[m];
            if (wm == 0.0) continue;
            const real eta2 = 2.0 * el.sfs[m].eta, rs = el.sfs[m].rs;
            const real* __restrict E = ws.radE.data() + static_cast<size_t>(m) * stride;
#pragma GCC ivdep
            for (int k = a; k < b; ++k) {
                const real wk = weighted ? wm * w[k] : wm;
                acc[k] += wk * E[k] * (dfc[k] - eta2 * (r[k] - rs) * fc[k]);
            }
        }
        const real* __restrict x = ws.x.data();
        const real* __restrict y = ws.y.data();
        const real* __restrict z = ws.z.data();
#pragma GCC ivdep
        for (int k = a; k < b; ++k) {
            const real coef = acc[k] * inv_r[k];
            gx[k] += coef * x[k];
            gy[k] += coef * y[k];
            gz[k] += coef * z[k];
        }
    }

    // Per-neighbour Gaussian factors of every key over the group's ranges (see gaussian_factors).
    void group_factors(const AngularGroup& g, Workspace& ws, size_t stride, int a1, int b1, int a2,
                       int b2) const {
        const int n_keys = static_cast<int>(g.keys.size());
        const size_t need = static_cast<size_t>(n_keys) * stride;
        if (ws.R.size() < need) {
            ws.R.resize(need);
            ws.dR.resize(need);
        }
        const real* fc = ws.fc.data() + g.cutoff_slot * stride;
        const real* dfc = ws.dfc.data() + g.cutoff_slot * stride;
        for (int q = 0; q < n_keys; ++q) {
            const auto [eta, rs] = g.keys[q];
            gaussian_factors(ws.r.data(), fc, dfc, ws.w.data(), g.weighted, eta, rs, a1, b1,
                             ws.R.data() + q * stride, ws.dR.data() + q * stride);
            if (g.e1 != g.e2)
                gaussian_factors(ws.r.data(), fc, dfc, ws.w.data(), g.weighted, eta, rs, a2, b2,
                                 ws.R.data() + q * stride, ws.dR.data() + q * stride);
        }
    }

    // base^(zeta - 1) for an integer zeta given at run time (uniform across lanes).
    static PF_INLINE vd vpower_minus_one(vd base, int zeta) {
        switch (zeta) {  // the common exponents without a loop
            case 1: return vsplat(1);
            case 2: return base;
            case 3: return base * base;
            case 4: return base * base * base;
            case 5: { const vd b2 = base * base; return b2 * b2; }
            case 9: { const vd b2 = base * base, b4 = b2 * b2; return b4 * b4; }
            default: break;
        }
        vd result = vsplat(1);
        int n = zeta - 1;
        vd b = base;
        while (n > 0) {
            if (n & 1) result *= b;
            n >>= 1;
            if (n) b *= b;
        }
        return result;
    }

    // Appends the k in [k0, k1) that form a contributing triplet with j (narrow: r_jk < r_c)
    // to the cache columns (k side) and kl, starting at n; returns the new count. The vector
    // versions compress each column in registers and store whole vectors (the cache has slack).
    static size_t append_candidates(real* __restrict const* col, int* kl, size_t n, int j, int k0, int k1,
                                    bool narrow, real rc2, const real* x, const real* y,
                                    const real* z, const real* inv_r, const real* r,
                                    const real* fc, const real* dfc) {
        using TC = TripletCache;
#if defined(PF_HAVE_AVX512) && defined(PF_REAL_IS_FLOAT)
        const __m512 xj = _mm512_set1_ps(x[j]), yj = _mm512_set1_ps(y[j]), zj = _mm512_set1_ps(z[j]);
        const __m512 rc2v = _mm512_set1_ps(rc2);
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (int k = k0; k < k1; k += 16) {
            const int rem = k1 - k;
            __mmask16 m = rem >= 16 ? static_cast<__mmask16>(0xFFFF)
                                    : static_cast<__mmask16>((1u << rem) - 1u);
            const __m512 xk = _mm512_loadu_ps(x + k), yk = _mm512_loadu_ps(y + k), zk = _mm512_loadu_ps(z + k);
            if (narrow) {
                const __m512 dx = _mm512_sub_ps(xk, xj), dy = _mm512_sub_ps(yk, yj), dz = _mm512_sub_ps(zk, zj);
                const __m512 d2 = _mm512_fmadd_ps(dz, dz, _mm512_fmadd_ps(dy, dy, _mm512_mul_ps(dx, dx)));
                m &= _mm512_cmp_ps_mask(d2, rc2v, _CMP_LT_OQ);
            }
            if (!m) continue;
            _mm512_storeu_ps(col[TC::XK] + n, _mm512_maskz_compress_ps(m, xk));
            _mm512_storeu_ps(col[TC::YK] + n, _mm512_maskz_compress_ps(m, yk));
            _mm512_storeu_ps(col[TC::ZK] + n, _mm512_maskz_compress_ps(m, zk));
            _mm512_storeu_ps(col[TC::IRK] + n, _mm512_maskz_compress_ps(m, _mm512_loadu_ps(inv_r + k)));
            _mm512_storeu_ps(col[TC::RK] + n, _mm512_maskz_compress_ps(m, _mm512_loadu_ps(r + k)));
            _mm512_storeu_ps(col[TC::FK] + n, _mm512_maskz_compress_ps(m, _mm512_loadu_ps(fc + k)));
            _mm512_storeu_ps(col[TC::DFK] + n, _mm512_maskz_compress_ps(m, _mm512_loadu_ps(dfc + k)));
            const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(k), iota);
            _mm512_storeu_si512(reinterpret_cast<void*>(kl + n), _mm512_maskz_compress_epi32(m, idx));
            n += static_cast<size_t>(__builtin_popcount(m));
        }
        return n;
#elif defined(PF_HAVE_AVX512)
        const __m512d xj = _mm512_set1_pd(x[j]), yj = _mm512_set1_pd(y[j]), zj = _mm512_set1_pd(z[j]);
        const __m512d rc2v = _mm512_set1_pd(rc2);
        const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (int k = k0; k < k1; k += 8) {
            const int rem = k1 - k;
            __mmask8 m = rem >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1u << rem) - 1u);
            const __m512d xk = _mm512_loadu_pd(x + k), yk = _mm512_loadu_pd(y + k), zk = _mm512_loadu_pd(z + k);
            if (narrow) {
                const __m512d dx = _mm512_sub_pd(xk, xj), dy = _mm512_sub_pd(yk, yj), dz = _mm512_sub_pd(zk, zj);
                const __m512d d2 = _mm512_fmadd_pd(dz, dz, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dx, dx)));
                m &= _mm512_cmp_pd_mask(d2, rc2v, _CMP_LT_OQ);
            }
            if (!m) continue;
            _mm512_storeu_pd(col[TC::XK] + n, _mm512_maskz_compress_pd(m, xk));
            _mm512_storeu_pd(col[TC::YK] + n, _mm512_maskz_compress_pd(m, yk));
            _mm512_storeu_pd(col[TC::ZK] + n, _mm512_maskz_compress_pd(m, zk));
            _mm512_storeu_pd(col[TC::IRK] + n, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(inv_r + k)));
            _mm512_storeu_pd(col[TC::RK] + n, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(r + k)));
            _mm512_storeu_pd(col[TC::FK] + n, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(fc + k)));
            _mm512_storeu_pd(col[TC::DFK] + n, _mm512_maskz_compress_pd(m, _mm512_loadu_pd(dfc + k)));
            const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(k), iota);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(kl + n), _mm256_maskz_compress_epi32(m, idx));
            n += static_cast<size_t>(__builtin_popcount(m));
        }
        return n;
#elif defined(PF_HAVE_AVX2) && defined(PF_REAL_IS_FLOAT)
        // compress 8 floats by an 8-bit mask: a lane permutation from a table
        static const struct Lut {
            int32_t idx[256][8];
            Lut() {
                for (int m = 0; m < 256; ++m) {
                    int o = 0;
                    for (int l = 0; l < 8; ++l)
                        if (m & (1 << l)) idx[m][o++] = l;
                    for (; o < 8; ++o) idx[m][o] = 0;
                }
            }
        } lut;
        const __m256 xj = _mm256_set1_ps(x[j]), yj = _mm256_set1_ps(y[j]), zj = _mm256_set1_ps(z[j]);
        const __m256 rc2v = _mm256_set1_ps(rc2);
        const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (int k = k0; k < k1; k += 8) {
            const int rem = k1 - k;
            int m = rem >= 8 ? 0xFF : (1 << rem) - 1;
            const __m256 xk = _mm256_loadu_ps(x + k), yk = _mm256_loadu_ps(y + k), zk = _mm256_loadu_ps(z + k);
            if (narrow) {
                const __m256 dx = _mm256_sub_ps(xk, xj), dy = _mm256_sub_ps(yk, yj), dz = _mm256_sub_ps(zk, zj);
                const __m256 d2 = _mm256_fmadd_ps(dz, dz, _mm256_fmadd_ps(dy, dy, _mm256_mul_ps(dx, dx)));
                m &= _mm256_movemask_ps(_mm256_cmp_ps(d2, rc2v, _CMP_LT_OQ));
            }
            if (!m) continue;
            const __m256i perm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut.idx[m]));
            _mm256_storeu_ps(col[TC::XK] + n, _mm256_permutevar8x32_ps(xk, perm));
            _mm256_storeu_ps(col[TC::YK] + n, _mm256_permutevar8x32_ps(yk, perm));
            _mm256_storeu_ps(col[TC::ZK] + n, _mm256_permutevar8x32_ps(zk, perm));
            _mm256_storeu_ps(col[TC::IRK] + n, _mm256_permutevar8x32_ps(_mm256_loadu_ps(inv_r + k), perm));
            _mm256_storeu_ps(col[TC::RK] + n, _mm256_permutevar8x32_ps(_mm256_loadu_ps(r + k), perm));
            _mm256_storeu_ps(col[TC::FK] + n, _mm256_permutevar8x32_ps(_mm256_loadu_ps(fc + k), perm));
            _mm256_storeu_ps(col[TC::DFK] + n, _mm256_permutevar8x32_ps(_mm256_loadu_ps(dfc + k), perm));
            const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(k), iota);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(kl + n), _mm256_permutevar8x32_epi32(idx, perm));
            n += static_cast<size_t>(__builtin_popcount(m));
        }
        return n;
#elif defined(PF_HAVE_AVX2)
        // compress 4 doubles by a 4-bit mask: permutation of 32-bit lanes from a table
        static const struct Lut {
            int32_t idx[16][8];
            Lut() {
                for (int m = 0; m < 16; ++m) {
                    int o = 0;
                    for (int l = 0; l < 4; ++l)
                        if (m & (1 << l)) { idx[m][2 * o] = 2 * l; idx[m][2 * o + 1] = 2 * l + 1; ++o; }
                    for (; o < 4; ++o) { idx[m][2 * o] = 0; idx[m][2 * o + 1] = 1; }
                }
            }
        } lut;
        const __m256d xj = _mm256_set1_pd(x[j]), yj = _mm256_set1_pd(y[j]), zj = _mm256_set1_pd(z[j]);
        const __m256d rc2v = _mm256_set1_pd(rc2);
        const __m256d iota = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0);
        auto put = [&](real* dst, __m256d v, __m256i perm) {
            _mm256_storeu_pd(dst, _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(v), perm)));
        };
        for (int k = k0; k < k1; k += 4) {
            const int rem = k1 - k;
            int m = rem >= 4 ? 0xF : (1 << rem) - 1;
            const __m256d xk = _mm256_loadu_pd(x + k), yk = _mm256_loadu_pd(y + k), zk = _mm256_loadu_pd(z + k);
            if (narrow) {
                const __m256d dx = _mm256_sub_pd(xk, xj), dy = _mm256_sub_pd(yk, yj), dz = _mm256_sub_pd(zk, zj);
                const __m256d d2 = _mm256_fmadd_pd(dz, dz, _mm256_fmadd_pd(dy, dy, _mm256_mul_pd(dx, dx)));
                m &= _mm256_movemask_pd(_mm256_cmp_pd(d2, rc2v, _CMP_LT_OQ));
            }
            if (!m) continue;
            const __m256i perm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut.idx[m]));
            put(col[TC::XK] + n, xk, perm);
            put(col[TC::YK] + n, yk, perm);
            put(col[TC::ZK] + n, zk, perm);
            put(col[TC::IRK] + n, _mm256_loadu_pd(inv_r + k), perm);
            put(col[TC::RK] + n, _mm256_loadu_pd(r + k), perm);
            put(col[TC::FK] + n, _mm256_loadu_pd(fc + k), perm);
            put(col[TC::DFK] + n, _mm256_loadu_pd(dfc + k), perm);
            const __m256d kd = _mm256_add_pd(_mm256_set1_pd(static_cast<real>(k)), iota);
            const __m256d kp = _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(kd), perm));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(kl + n), _mm256_cvttpd_epi32(kp));
            n += static_cast<size_t>(__builtin_popcount(m));
        }
        return n;
#else
        const real xj = x[j], yj = y[j], zj = z[j];
        for (int k = k0; k < k1; ++k) {
            const real dx = x[k] - xj, dy = y[k] - yj, dz = z[k] - zj;
            const bool keep = !narrow || (dx * dx + dy * dy + dz * dz) < rc2;
            kl[n] = k;
            col[TC::XK][n] = x[k];
            col[TC::YK][n] = y[k];
            col[TC::ZK][n] = z[k];
            col[TC::IRK][n] = inv_r[k];
            col[TC::RK][n] = r[k];
            col[TC::FK][n] = fc[k];
            col[TC::DFK][n] = dfc[k];
            n += keep;
        }
        return n;
#endif
    }

    // Pass 1 for a Gaussian angular group: values, and the triplet cache for pass 2.
    // Triplets are processed in blocks of ~BLOCK as the compaction produces them, so that the
    // vector loops over a block's columns run from L1 or L2 (512 measured ~2 % faster than 128 on the
    // water box: fewer calls, whose set-up and loop tails cost more than the misses).
    static constexpr size_t BLOCK = 512;

    void gaussian_angular_values(const ElementSFs& el, const AngularGroup& g, int group_index,
                                 Workspace& ws, size_t stride) const {
        using TC = TripletCache;
        TripletCache& tc = ws.caches[group_index];
        tc.n = tc.padded = 0;
        auto [a1, b1] = range_of(ws, g.e1);
        auto [a2, b2] = range_of(ws, g.e2);
        const bool same = g.e1 == g.e2;
        if (a1 >= b1 || a2 >= b2) return;
        const int n_keys = static_cast<int>(g.keys.size());
        const int n_members = static_cast<int>(g.members.size());
        size_t cap = 2 * PAD;  // slack: the compress paths store whole vectors past the end
        for (int j = a1; j < b1; ++j) {
            const int k0 = same ? j + 1 : a2;
            if (b2 > k0) cap += static_cast<size_t>(b2 - k0);
        }
        tc.reserve(cap, n_keys);
        const real* __restrict x = ws.x.data();
        const real* __restrict y = ws.y.data();
        const real* __restrict z = ws.z.data();
        const real* __restrict r = ws.r.data();
        const real* __restrict inv_r = ws.inv_r.data();
        const real* __restrict fc = ws.fc.data() + g.cutoff_slot * stride;
        const real* __restrict dfc = ws.dfc.data() + g.cutoff_slot * stride;
        if (g.weighted) {  // the cache stores w fc and w dfc (see TripletCache)
            real* __restrict wfc = ws.wfc.data();
            real* __restrict wdfc = ws.wdfc.data();
            const real* __restrict w = ws.w.data();
            for (int k = 0; k < ws.n; ++k) {
                wfc[k] = w[k] * fc[k];
                wdfc[k] = w[k] * dfc[k];
            }
            fc = wfc;
            dfc = wdfc;
        }
        int* __restrict jl = tc.jl.data();
        int* __restrict kl = tc.kl.data();
        real* __restrict col[TC::BASE];
        for (int q = 0; q < TC::BASE; ++q) col[q] = tc.col(q);
        const real rc2 = g.rc * g.rc;
        vd sums_buf[64];
        VectorBuffer sums_heap;
        vd* sums = n_members > 64 ? sums_heap.get(n_members) : sums_buf;
        for (int mi = 0; mi < n_members; ++mi) sums[mi] = vsplat(0.0);
        size_t n = 0, done = 0;  // triplets found; triplets processed (multiple of VW)
        PF_T0
        for (int j = a1; j < b1; ++j) {
            const int k0 = same ? j + 1 : a2;
            if (k0 >= b2 || r[j] >= g.rc) continue;
            const size_t start = n;
            n = append_candidates(col, kl, n, j, k0, b2, g.narrow, rc2, x, y, z, inv_r, r, fc, dfc);
            fill_segment(col, jl, start, n, j, x[j], y[j], z[j], inv_r[j], r[j], fc[j], dfc[j]);
            PF_LAP(3)
            if (n - done >= BLOCK) {
                const size_t upto = n / VW * VW;
                process_block(el, g, tc, done, upto, sums);
                done = upto;
            }
            PF_LAP(4)
        }
        if (n == 0) return;
        const size_t padded = (n + VW - 1) / VW * VW;
        tc.n = n;
        tc.padded = padded;
        // padding: finite geometry and zero cutoffs, so that it contributes nothing
        for (size_t t = n; t < padded; ++t) {
            jl[t] = jl[n - 1];
            kl[t] = kl[n - 1];
            for (int q = TC::XJ; q <= TC::DFK; ++q) col[q][t] = col[q][n - 1];
            col[TC::FJ][t] = col[TC::DFJ][t] = col[TC::FK][t] = col[TC::DFK][t] = 0.0;
        }
        if (done < padded) process_block(el, g, tc, done, padded, sums);
        PF_LAP(4)
        for (int mi = 0; mi < n_members; ++mi)
            ws.G[g.members[mi]] += g.prefactor[mi] * vsum(sums[mi]);
    }

    // The j columns of one segment (constant within it). Whole vectors are stored (the
    // cache has slack past the end; the next segment overwrites the excess): segments are
    // short (~20 triplets), and std::fill's scalar head and tail cost more than the stores.
    static void fill_segment(real* __restrict const* col, int* __restrict jl, size_t t0,
                             size_t t1, int j, real xj, real yj, real zj, real irj,
                             real rj, real fj, real dfj) {
        using TC = TripletCache;
        const vd v[7] = {vsplat(xj), vsplat(yj), vsplat(zj), vsplat(irj), vsplat(rj),
                         vsplat(fj), vsplat(dfj)};
        static_assert(TC::XJ == 0 && TC::DFJ == 6, "j columns are the first seven");
        for (int q = 0; q < 7; ++q)
            for (size_t t = t0; t < t1; t += VW) vstore(col[q] + t, v[q]);
        for (size_t t = t0; t < t1; t += 8)
            for (int l = 0; l < 8; ++l) jl[t + l] = j;
    }

    // Geometry, cutoff of r_jk, the Gaussians of every key and the member sums for the
    // triplets [t0, t1) (both multiples of VW; all columns of the range filled).
    void process_block(const ElementSFs& el, const AngularGroup& g, TripletCache& tc, size_t t0,
                       size_t t1, vd* sums) const {
        using TC = TripletCache;
        const int n_keys = static_cast<int>(g.keys.size());
        const int np = static_cast<int>(t1 - t0);
        auto c0 = [&](int q) { return tc.col(q) + t0; };
        const real* __restrict xj_ = c0(TC::XJ);
        const real* __restrict yj_ = c0(TC::YJ);
        const real* __restrict zj_ = c0(TC::ZJ);
        const real* __restrict irj_ = c0(TC::IRJ);
        const real* __restrict xk_ = c0(TC::XK);
        const real* __restrict yk_ = c0(TC::YK);
        const real* __restrict zk_ = c0(TC::ZK);
        const real* __restrict irk_ = c0(TC::IRK);
        const real* __restrict rj_ = c0(TC::RJ);
        const real* __restrict rk_ = c0(TC::RK);
        real* __restrict c_ = c0(TC::COS);
        real* __restrict rjk_ = c0(TC::RJK);
        real* __restrict irjk_ = c0(TC::IRJK);
        real* __restrict fjk_ = c0(TC::FJK);
        real* __restrict dfjk_ = c0(TC::DFJK);
#pragma GCC ivdep
        for (int t = 0; t < np; ++t) {
            real cq = (xj_[t] * xk_[t] + yj_[t] * yk_[t] + zj_[t] * zk_[t]) * irj_[t] * irk_[t];
            cq = cq > 1.0 ? 1.0 : cq;
            cq = cq < -1.0 ? -1.0 : cq;
            c_[t] = cq;
        }
        if (g.narrow) {
#pragma GCC ivdep
            for (int t = 0; t < np; ++t) {
                const real dx = xk_[t] - xj_[t], dy = yk_[t] - yj_[t], dz = zk_[t] - zj_[t];
                real d = std::sqrt(dx * dx + dy * dy + dz * dz);
                d = d > std::numeric_limits<real>::min() ? d : std::numeric_limits<real>::min();
                rjk_[t] = d;
                irjk_[t] = 1.0 / d;
            }
            el.cutoffs[g.cutoff_slot].eval(rjk_, np, fjk_, dfjk_);
        }
        for (int q = 0; q < n_keys; ++q) {
            real* __restrict E = tc.col(TC::BASE + q) + t0;
            if (g.key_base[q] != q) {  // integer power of an earlier key's Gaussian
                const real* __restrict Eb = tc.col(TC::BASE + g.key_base[q]) + t0;
                const int power = g.key_power[q];
                for (int t = 0; t < np; t += VW)
                    vstore(E + t, vpower_minus_one(vload(Eb + t), power + 1));
                continue;
            }
            const real eta = g.keys[q].first, rs = g.keys[q].second;
            // two loops: GCC does not vectorise a loop that selects on a loop-invariant bool
            // (with `if (g.narrow)` inside, this exp ran scalar)
            if (g.narrow) {
#pragma GCC ivdep
                for (int t = 0; t < np; ++t) {
                    const real aj = rj_[t] - rs, ak = rk_[t] - rs, ajk = rjk_[t] - rs;
                    E[t] = pf_exp(-eta * (aj * aj + ak * ak + ajk * ajk));
                }
            } else {
#pragma GCC ivdep
                for (int t = 0; t < np; ++t) {
                    const real aj = rj_[t] - rs, ak = rk_[t] - rs;
                    E[t] = pf_exp(-eta * (aj * aj + ak * ak));
                }
            }
        }
        // values: sum of 2^(1-zeta) (1 + lambda cos)^zeta exp(-eta S) F, with
        // F = w_j w_k fc(r_j) fc(r_k) [fc(r_jk)]
        const real* fj = c0(TC::FJ);
        const real* fk = c0(TC::FK);
        const vd zero = vsplat(0), one = vsplat(1);
        const int n_units = static_cast<int>(g.units.size());
        const int n_members = static_cast<int>(g.members.size());
        vd lam_buf[64];
        int zi_buf[64];
        VectorBuffer unit_heap;
        std::vector<int> zi_heap;
        vd* lam = lam_buf;
        int* zi = zi_buf;
        if (n_units > 64) {
            lam = unit_heap.get(static_cast<size_t>(n_units));
            zi_heap.resize(n_units);
            zi = zi_heap.data();
        }
        for (int u = 0; u < n_units; ++u) {
            lam[u] = vsplat(g.units[u].first);
            const real zeta = g.units[u].second, zr = std::round(zeta);
            zi[u] = zeta == zr && zr >= 1.0 && zr <= 256.0 ? static_cast<int>(zr) : 0;
        }
        // Column by column over the block, so that every accumulator stays in a register:
        // the angular factor of each unit, F, E F of each key, then one multiply-add loop per
        // member (the same operations in the same order as per triplet vector).
        const int* unit_of = g.unit_of_member.data();
        const size_t snp = static_cast<size_t>(np);
        const size_t need = static_cast<size_t>(n_units + n_keys + 1) * snp;
        if (tc.scratch.size() < need) tc.scratch.resize(need);
        real* __restrict Acol = tc.scratch.data();  // unit u: Acol + u np
        real* __restrict EFcol = Acol + n_units * snp;  // key q: EFcol + q np
        real* __restrict Fcol = EFcol + n_keys * snp;
        for (int u = 0; u < n_units; ++u) {
            const vd lu = lam[u];
            const int z = zi[u];
            real* __restrict a = Acol + u * snp;
            if (z == 1) {
                for (int t = 0; t < np; t += VW) {
                    const vd base = one + lu * vload(c_ + t);
                    vstore(a + t, base > zero ? base : zero);
                }
            } else if (z > 0) {
                for (int t = 0; t < np; t += VW) {
                    vd base = one + lu * vload(c_ + t);
                    base = base > zero ? base : zero;
                    vstore(a + t, vpower_minus_one(base, z) * base);
                }
            } else {
                const real zeta = g.units[u].second;
                for (int t = 0; t < np; t += VW) {
                    vd base = one + lu * vload(c_ + t);
                    base = base > zero ? base : zero;
                    vd av = base;
                    for (int l = 0; l < VW; ++l) av[l] = std::pow(base[l], zeta);
                    vstore(a + t, av);
                }
            }
        }
        if (g.narrow) {
            for (int t = 0; t < np; t += VW) vstore(Fcol + t, vload(fj + t) * vload(fk + t) * vload(fjk_ + t));
        } else {
            for (int t = 0; t < np; t += VW) vstore(Fcol + t, vload(fj + t) * vload(fk + t));
        }
        for (int q = 0; q < n_keys; ++q) {
            const real* __restrict E = tc.col(TC::BASE + q) + t0;
            real* __restrict ef = EFcol + q * snp;
            for (int t = 0; t < np; t += VW) vstore(ef + t, vload(E + t) * vload(Fcol + t));
        }
        for (int mi = 0; mi < n_members; ++mi) {
            const real* __restrict a = Acol + unit_of[mi] * snp;
            const real* __restrict ef = EFcol + g.key_of_member[mi] * snp;
            vd acc = sums[mi];
            for (int t = 0; t < np; t += VW) acc += vload(a + t) * vload(ef + t);
            sums[mi] = acc;
        }
    }

    // Pass 2 for a Gaussian angular group: for each cached triplet the partials of
    // sum_s w_s t_s are summed over the group's functions in registers, then turned into
    // vectors once (see file header) and added to g of j and k.
    // Per key q the weighted angular sums PA_q(c) = sum_m w_m 2^(1-zeta_m) (1 + lambda_m c)^zeta_m
    // and PdA_q = dPA_q/dc are polynomials in c when every member has an integer zeta <= 4 and
    // |lambda| <= 1 (then 1 + lambda c >= 0 needs no clamp): their coefficients are computed
    // once per atom (the weights w are known) and evaluated by Horner's rule, instead of a
    // power per member and triplet. The degree bound keeps the expansion's rounding at the
    // level of the per-member powers (at most 2^4 ulps of the terms). Other keys sum their
    // members. The keys are then combined before the geometry: with P0 = sum_q PA_q E_q,
    // P1 = sum_q 2 eta_q PA_q E_q, P2 = sum_q 2 eta_q r_s,q PA_q E_q and C = sum_q PdA_q E_q,
    //   dT/dr_j = F_j P0 - F (r_j P1 - P2), likewise r_k, r_jk, and dT/dcos = F C.
    static constexpr int POLY_MAX_DEGREE = 4;

    template <bool NARROW>
    void gaussian_angular_gradient(const ElementSFs& el, const AngularGroup& g, int group_index,
                                   Workspace& ws, size_t stride, const real* wsf, real* gx,
                                   real* gy, real* gz) const {
        (void)stride;
        using TC = TripletCache;
        const TripletCache& tc = ws.caches[group_index];
        if (tc.n == 0) return;
        const int n_members = static_cast<int>(g.members.size());
        bool any = false;
        for (int m : g.members) any = any || wsf[m] != 0.0;
        if (!any) return;
        const int n_keys = static_cast<int>(g.keys.size());
        const vd zero = vsplat(0), one = vsplat(1);
        vd pv_buf[3 * 64];
        VectorBuffer pv_heap;
        // per member: lambda, w 2^(1-zeta), w 2^(1-zeta) zeta lambda
        vd* pv = n_members > 64 ? pv_heap.get(3 * static_cast<size_t>(n_members)) : pv_buf;
        for (int mi = 0; mi < n_members; ++mi) {
            const SFSpec& s = el.sfs[g.members[mi]];
            const real wp = wsf[g.members[mi]] * g.prefactor[mi];
            pv[3 * mi] = vsplat(s.lambda);
            pv[3 * mi + 1] = vsplat(wp);
            pv[3 * mi + 2] = vsplat(wp * s.zeta * s.lambda);
        }
        // per key: 2 eta, 2 eta r_s, then the coefficients of PA (POLY_MAX_DEGREE + 1) and
        // PdA (POLY_MAX_DEGREE); degree[q] = -1: sum the members instead
        constexpr int KV = 2 + 2 * POLY_MAX_DEGREE + 1;
        vd kv_buf[KV * 8];
        VectorBuffer kv_heap;
        vd* kv = n_keys > 8 ? kv_heap.get(KV * static_cast<size_t>(n_keys)) : kv_buf;
        int degree_buf[8];
        std::vector<int> degree_heap;
        int* degree = degree_buf;
        if (n_keys > 8) {
            degree_heap.resize(n_keys);
            degree = degree_heap.data();
        }
        bool any_rs = false;
        for (int q = 0; q < n_keys; ++q) {
            vd* k = kv + KV * q;
            k[0] = vsplat(2 * g.keys[q].first);
            k[1] = vsplat(2 * g.keys[q].first * g.keys[q].second);
            any_rs = any_rs || g.keys[q].second != 0;
            int deg = 0;
            for (int mi = g.key_begin[q]; mi < g.key_begin[q + 1]; ++mi) {
                const int zi = g.zeta_int[mi];
                const real lam = el.sfs[g.members[mi]].lambda;
                if (zi < 1 || zi > POLY_MAX_DEGREE || !(std::fabs(lam) <= 1)) {
                    deg = -1;
                    break;
                }
                deg = std::max(deg, zi);
            }
            degree[q] = deg;
            if (deg < 0) continue;
            real a[POLY_MAX_DEGREE + 1] = {}, b[POLY_MAX_DEGREE] = {};
            for (int mi = g.key_begin[q]; mi < g.key_begin[q + 1]; ++mi) {
                const int zi = g.zeta_int[mi];
                const real lam = el.sfs[g.members[mi]].lambda;
                const real wp = wsf[g.members[mi]] * g.prefactor[mi];
                const real wpzl = wp * el.sfs[g.members[mi]].zeta * lam;
                // (1 + lam c)^n = sum_p binom(n, p) lam^p c^p
                real binom = 1, lp = 1;
                for (int p = 0; p <= zi; ++p) {
                    a[p] += wp * binom * lp;
                    binom = binom * (zi - p) / (p + 1);
                    lp *= lam;
                }
                binom = 1;
                lp = 1;
                for (int p = 0; p <= zi - 1; ++p) {
                    b[p] += wpzl * binom * lp;
                    binom = binom * (zi - 1 - p) / (p + 1);
                    lp *= lam;
                }
            }
            for (int p = 0; p <= POLY_MAX_DEGREE; ++p) k[2 + p] = vsplat(a[p]);
            for (int p = 0; p < POLY_MAX_DEGREE; ++p) k[3 + POLY_MAX_DEGREE + p] = vsplat(b[p]);
        }
        const real* col[TC::BASE];
        for (int q = 0; q < TC::BASE; ++q) col[q] = tc.col(q);
        const size_t np = tc.padded;
        if (ws.gk.size() < 6 * np) ws.gk.resize(6 * np);
        real* __restrict o = ws.gk.data();  // per triplet: g_j (x y z) and g_k (x y z)
        PF_T0
        for (size_t t = 0; t < np; t += VW) {
            const vd cq = vload(col[TC::COS] + t);
            vd P0 = zero, P1 = zero, P2 = zero, C = zero;
            for (int q = 0; q < n_keys; ++q) {
                const vd E = vload(tc.col(TC::BASE + q) + t);
                const vd* k = kv + KV * q;
                vd PA = zero, PdA = zero;
                const int deg = degree[q];
                if (deg >= 0) {
                    PA = k[2 + deg];
                    for (int p = deg - 1; p >= 0; --p) PA = PA * cq + k[2 + p];
                    PdA = k[3 + POLY_MAX_DEGREE + deg - 1];
                    for (int p = deg - 2; p >= 0; --p) PdA = PdA * cq + k[3 + POLY_MAX_DEGREE + p];
                } else {
                    for (int mi = g.key_begin[q]; mi < g.key_begin[q + 1]; ++mi) {
                        vd base = one + pv[3 * mi] * cq;
                        base = base > zero ? base : zero;
                        const int zi = g.zeta_int[mi];
                        vd pm1 = base;
                        if (zi > 0) {
                            pm1 = vpower_minus_one(base, zi);
                        } else {
                            const real zeta = el.sfs[g.members[mi]].zeta;
                            for (int l = 0; l < VW; ++l) pm1[l] = std::pow(base[l], zeta - 1);
                        }
                        PA += pv[3 * mi + 1] * pm1 * base;
                        PdA += pv[3 * mi + 2] * pm1;
                    }
                }
                const vd PE = PA * E;
                P0 += PE;
                P1 += k[0] * PE;
                if (any_rs) P2 += k[1] * PE;
                C += PdA * E;
            }
            const vd rj = vload(col[TC::RJ] + t), rk = vload(col[TC::RK] + t);
            const vd fj = vload(col[TC::FJ] + t), fk = vload(col[TC::FK] + t);
            vd F = fj * fk;
            vd Fj = vload(col[TC::DFJ] + t) * fk;  // dF/dr_j
            vd Fk = fj * vload(col[TC::DFK] + t);  // dF/dr_k
            vd Sjk = zero;
            if (NARROW) {
                const vd fjk = vload(col[TC::FJK] + t);
                const vd Fjk = F * vload(col[TC::DFJK] + t);
                F *= fjk;
                Fj *= fjk;
                Fk *= fjk;
                Sjk = Fjk * P0 - F * (vload(col[TC::RJK] + t) * P1 - P2);
            }
            const vd Sj = Fj * P0 - F * (rj * P1 - P2);
            const vd Sk = Fk * P0 - F * (rk * P1 - P2);
            const vd Sc = C * F;
            const vd irj = vload(col[TC::IRJ] + t), irk = vload(col[TC::IRK] + t);
            vd cross = Sc * irj * irk;
            vd aj = Sj * irj - Sc * cq * irj * irj;
            vd ak = Sk * irk - Sc * cq * irk * irk;
            if (NARROW) {
                const vd u = Sjk * vload(col[TC::IRJK] + t);
                cross -= u;
                aj += u;
                ak += u;
            }
            const vd xj = vload(col[TC::XJ] + t), yj = vload(col[TC::YJ] + t), zj = vload(col[TC::ZJ] + t);
            const vd xk = vload(col[TC::XK] + t), yk = vload(col[TC::YK] + t), zk = vload(col[TC::ZK] + t);
            vstore(o + t, aj * xj + cross * xk);
            vstore(o + np + t, aj * yj + cross * yk);
            vstore(o + 2 * np + t, aj * zj + cross * zk);
            vstore(o + 3 * np + t, ak * xk + cross * xj);
            vstore(o + 4 * np + t, ak * yk + cross * yj);
            vstore(o + 5 * np + t, ak * zk + cross * zj);
        }
        PF_LAP(8)
        const int* jl = tc.jl.data();
        const int* kl = tc.kl.data();
        // triplets are grouped by j: sum each run in registers, scatter the k parts
        size_t t = 0;
        while (t < tc.n) {
            const int j = jl[t];
            real sx = 0.0, sy = 0.0, sz = 0.0;
            for (; t < tc.n && jl[t] == j; ++t) {
                sx += o[t];
                sy += o[np + t];
                sz += o[2 * np + t];
                const int k = kl[t];
                gx[k] += o[3 * np + t];
                gy[k] += o[4 * np + t];
                gz[k] += o[5 * np + t];
            }
            gx[j] += sx;
            gy[j] += sy;
            gz[j] += sz;
        }
        PF_LAP(9)
    }

    void radial_group(const ElementSFs& el, const RadialGroup& g, Workspace& ws, size_t stride) const {
        auto [a, b] = range_of(ws, g.e1);
        if (a >= b) return;
        const real* __restrict r = ws.r.data();
        const real* __restrict inv_r = ws.inv_r.data();
        const real* __restrict x = ws.x.data();
        const real* __restrict y = ws.y.data();
        const real* __restrict z = ws.z.data();
        const real* __restrict w = ws.w.data();
        const bool weighted = g.weighted;
        for (int m : g.members) {
            const SFSpec& s = el.sfs[m];
            real* __restrict jx = jac(ws, m, 0, stride);
            real* __restrict jy = jac(ws, m, 1, stride);
            real* __restrict jz = jac(ws, m, 2, stride);
            real sum = 0.0;
            if (!g.compact) {
                const real* __restrict fc = ws.fc.data() + g.cutoff_slot * stride;
                const real* __restrict dfc = ws.dfc.data() + g.cutoff_slot * stride;
                const real eta = s.eta, rs = s.rs;
#pragma GCC ivdep
                for (int k = a; k < b; ++k) {
                    const real dr = r[k] - rs;
                    const real ex = pf_exp(-eta * dr * dr);
                    const real wk = weighted ? w[k] : 1.0;
                    const real val = wk * ex * fc[k];
                    const real der = wk * ex * (dfc[k] - 2.0 * eta * dr * fc[k]);
                    sum += val;
                    const real coef = der * inv_r[k];
                    jx[k] = coef * x[k];
                    jy[k] = coef * y[k];
                    jz[k] = coef * z[k];
                }
            } else {
                const real center = 0.5 * (s.rl + s.rc);
                const real ihw = 2.0 / (s.rc - s.rl);
                for (int k = a; k < b; ++k) {
                    if (!(r[k] > s.rl && r[k] < s.rc)) continue;
                    real f, df;
                    compact_function(s.core, s.asymmetric, center, ihw, r[k], f, df);
                    const real wk = weighted ? w[k] : 1.0;
                    sum += wk * f;
                    const real coef = wk * df * inv_r[k];
                    jx[k] = coef * x[k];
                    jy[k] = coef * y[k];
                    jz[k] = coef * z[k];
                }
            }
            ws.G[m] += sum;
        }
    }

    // Per-neighbour radial factor R_n = w_n exp(-eta (r_n - rs)^2) fc(r_n) and dR_n/dr_n.
    static void gaussian_factors(const real* __restrict r, const real* __restrict fc,
                                 const real* __restrict dfc, const real* __restrict w,
                                 bool weighted, real eta, real rs, int a, int b,
                                 real* __restrict R, real* __restrict dR) {
#pragma GCC ivdep
        for (int k = a; k < b; ++k) {
            const real dr = r[k] - rs;
            const real ex = pf_exp(-eta * dr * dr);
            const real wk = weighted ? w[k] : 1.0;
            R[k] = wk * ex * fc[k];
            dR[k] = wk * ex * (dfc[k] - 2.0 * eta * dr * fc[k]);
        }
    }

    template <bool NARROW, int ZETA>
    static void gaussian_member_loop(int j, int k0, int k1, real lambda, int zeta_int,
                                     real zeta, real prefactor, const Workspace& ws,
                                     const real* __restrict R, const real* __restrict dR,
                                     const real* __restrict Rjk, const real* __restrict dRjk,
                                     real* __restrict jx, real* __restrict jy,
                                     real* __restrict jz, real& G) {
        const real* __restrict x = ws.x.data();
        const real* __restrict y = ws.y.data();
        const real* __restrict z = ws.z.data();
        const real* __restrict inv_r = ws.inv_r.data();
        const real* __restrict c = ws.c.data();
        const real* __restrict inv_rjk = ws.inv_rjk.data();
        const real xj = x[j], yj = y[j], zj = z[j], irj = inv_r[j];
        const real Rj = R[j], dRj = dR[j];
        real sum = 0.0, sjx = 0.0, sjy = 0.0, sjz = 0.0;
#pragma GCC ivdep
        for (int k = k0; k < k1; ++k) {
            const int q = k - k0;
            real base = 1.0 + lambda * c[q];
            base = base > 0.0 ? base : 0.0;
            real pm1;
            if constexpr (ZETA >= 0) pm1 = power_minus_one<ZETA>(base, zeta_int);
            else pm1 = std::pow(base, zeta - 1.0);
            const real A = prefactor * pm1 * base;
            const real dA = prefactor * zeta * lambda * pm1;
            const real rjk_f = NARROW ? Rjk[q] : 1.0;
            const real drjk_f = NARROW ? dRjk[q] : 0.0;
            const real Rk = R[k];
            const real RR = Rj * Rk * rjk_f;
            sum += A * RR;
            const real Tj = A * dRj * Rk * rjk_f;
            const real Tk = A * Rj * dR[k] * rjk_f;
            const real Tc = dA * RR;
            const real irk = inv_r[k];
            real cross = Tc * irj * irk;
            real aj = Tj * irj - Tc * c[q] * irj * irj;
            real ak = Tk * irk - Tc * c[q] * irk * irk;
            if constexpr (NARROW) {
                const real Tjk = A * Rj * Rk * drjk_f * inv_rjk[q];
                cross -= Tjk;
                aj += Tjk;
                ak += Tjk;
            }
            const real xk = x[k], yk = y[k], zk = z[k];
            jx[k] += ak * xk + cross * xj;
            jy[k] += ak * yk + cross * yj;
            jz[k] += ak * zk + cross * zj;
            sjx += aj * xj + cross * xk;
            sjy += aj * yj + cross * yk;
            sjz += aj * zj + cross * zk;
        }
        G += sum;
        jx[j] += sjx;
        jy[j] += sjy;
        jz[j] += sjz;
    }

    template <bool NARROW>
    static void dispatch_member(int zeta_int, bool zeta_is_int, int j, int k0, int k1,
                                real lambda, real zeta, real prefactor, const Workspace& ws,
                                const real* R, const real* dR, const real* Rjk,
                                const real* dRjk, real* jx, real* jy, real* jz,
                                real& G) {
        if (zeta_is_int) {
            switch (zeta_int) {
                case 1:
                    return gaussian_member_loop<NARROW, 1>(j, k0, k1, lambda, 1, zeta, prefactor, ws, R,
                                                           dR, Rjk, dRjk, jx, jy, jz, G);
                case 2:
                    return gaussian_member_loop<NARROW, 2>(j, k0, k1, lambda, 2, zeta, prefactor, ws, R,
                                                           dR, Rjk, dRjk, jx, jy, jz, G);
                case 4:
                    return gaussian_member_loop<NARROW, 4>(j, k0, k1, lambda, 4, zeta, prefactor, ws, R,
                                                           dR, Rjk, dRjk, jx, jy, jz, G);
                case 8:
                    return gaussian_member_loop<NARROW, 8>(j, k0, k1, lambda, 8, zeta, prefactor, ws, R,
                                                           dR, Rjk, dRjk, jx, jy, jz, G);
                case 16:
                    return gaussian_member_loop<NARROW, 16>(j, k0, k1, lambda, 16, zeta, prefactor, ws,
                                                            R, dR, Rjk, dRjk, jx, jy, jz, G);
                default:
                    return gaussian_member_loop<NARROW, 0>(j, k0, k1, lambda, zeta_int, zeta, prefactor,
                                                           ws, R, dR, Rjk, dRjk, jx, jy, jz, G);
            }
        }
        gaussian_member_loop<NARROW, -1>(j, k0, k1, lambda, 0, zeta, prefactor, ws, R, dR, Rjk,
                                         dRjk, jx, jy, jz, G);
    }

    // Shared per-triplet geometry for pairs (j, k), k in [k0, k1): cos(theta_jk) and, for
    // narrow functions, r_jk, 1/r_jk and the cutoff at r_jk.
    static void triplet_geometry(Workspace& ws, int j, int k0, int k1, bool narrow,
                                 const Cutoff* cut) {
        const real* __restrict x = ws.x.data();
        const real* __restrict y = ws.y.data();
        const real* __restrict z = ws.z.data();
        const real* __restrict inv_r = ws.inv_r.data();
        real* __restrict c = ws.c.data();
        real* __restrict rjk = ws.rjk.data();
        real* __restrict inv_rjk = ws.inv_rjk.data();
        const real xj = x[j], yj = y[j], zj = z[j], irj = inv_r[j];
        const int nk = k1 - k0;
#pragma GCC ivdep
        for (int q = 0; q < nk; ++q) {
            const int k = k0 + q;
            real cq = (xj * x[k] + yj * y[k] + zj * z[k]) * irj * inv_r[k];
            cq = cq > 1.0 ? 1.0 : cq;
            cq = cq < -1.0 ? -1.0 : cq;
            c[q] = cq;
        }
        if (!narrow) return;
#pragma GCC ivdep
        for (int q = 0; q < nk; ++q) {
            const int k = k0 + q;
            const real dx = x[k] - xj, dy = y[k] - yj, dz = z[k] - zj;
            real d = std::sqrt(dx * dx + dy * dy + dz * dz);
            d = d > std::numeric_limits<real>::min() ? d : std::numeric_limits<real>::min();
            rjk[q] = d;
            inv_rjk[q] = 1.0 / d;
        }
        if (cut != nullptr) cut->eval(rjk, nk, ws.fjk.data(), ws.dfjk.data());
    }

    void gaussian_angular_group(const ElementSFs& el, const AngularGroup& g, Workspace& ws,
                                size_t stride) const {
        auto [a1, b1] = range_of(ws, g.e1);
        auto [a2, b2] = range_of(ws, g.e2);
        const bool same = g.e1 == g.e2;
        if (a1 >= b1 || a2 >= b2) return;
        const real* fc = ws.fc.data() + g.cutoff_slot * stride;
        const real* dfc = ws.dfc.data() + g.cutoff_slot * stride;
        const Cutoff& cut = el.cutoffs[g.cutoff_slot];
        const int n_keys = static_cast<int>(g.keys.size());
        // per-neighbour factors for every distinct (eta, rs), over both ranges
        std::vector<real>& R = ws.R;
        std::vector<real>& dR = ws.dR;
        const size_t key_stride = stride;
        if (R.size() < static_cast<size_t>(n_keys) * key_stride) {
            R.resize(n_keys * key_stride);
            dR.resize(n_keys * key_stride);
        }
        for (int q = 0; q < n_keys; ++q) {
            const auto [eta, rs] = g.keys[q];
            gaussian_factors(ws.r.data(), fc, dfc, ws.w.data(), g.weighted, eta, rs, a1, b1,
                             R.data() + q * key_stride, dR.data() + q * key_stride);
            if (!same)
                gaussian_factors(ws.r.data(), fc, dfc, ws.w.data(), g.weighted, eta, rs, a2, b2,
                                 R.data() + q * key_stride, dR.data() + q * key_stride);
        }
        const int n_members = static_cast<int>(g.members.size());
        for (int j = a1; j < b1; ++j) {
            const int k0 = same ? j + 1 : a2;
            const int k1 = b2;
            if (k0 >= k1) continue;
            // neighbours beyond rc contribute nothing; skip j early (R == 0 there)
            if (ws.r[j] >= g.rc) continue;
            triplet_geometry(ws, j, k0, k1, g.narrow, &cut);
            int current_key = -1;
            for (int mi = 0; mi < n_members; ++mi) {
                const int m = g.members[mi];
                const SFSpec& s = el.sfs[m];
                const int key = g.key_of_member[mi];
                if (g.narrow && key != current_key) {
                    const real eta = s.eta, rs = s.rs;
                    const real* __restrict rjk = ws.rjk.data();
                    const real* __restrict fjk = ws.fjk.data();
                    const real* __restrict dfjk = ws.dfjk.data();
                    real* __restrict Rjk = ws.Rjk.data();
                    real* __restrict dRjk = ws.dRjk.data();
                    const int nk = k1 - k0;
#pragma GCC ivdep
                    for (int q = 0; q < nk; ++q) {
                        const real dr = rjk[q] - rs;
                        const real ex = pf_exp(-eta * dr * dr);
                        Rjk[q] = ex * fjk[q];
                        dRjk[q] = ex * (dfjk[q] - 2.0 * eta * dr * fjk[q]);
                    }
                    current_key = key;
                }
                const real zeta = s.zeta;
                const real zr = std::round(zeta);
                const bool zeta_is_int = zeta == zr && zr >= 1 && zr <= 256;
                const real prefactor = std::pow(2.0, 1.0 - zeta);
                const real* Rq = R.data() + key * key_stride;
                const real* dRq = dR.data() + key * key_stride;
                real* jx = jac(ws, m, 0, stride);
                real* jy = jac(ws, m, 1, stride);
                real* jz = jac(ws, m, 2, stride);
                if (g.narrow)
                    dispatch_member<true>(static_cast<int>(zr), zeta_is_int, j, k0, k1, s.lambda, zeta,
                                          prefactor, ws, Rq, dRq, ws.Rjk.data(), ws.dRjk.data(), jx,
                                          jy, jz, ws.G[m]);
                else
                    dispatch_member<false>(static_cast<int>(zr), zeta_is_int, j, k0, k1, s.lambda,
                                           zeta, prefactor, ws, Rq, dRq, nullptr, nullptr, jx, jy,
                                           jz, ws.G[m]);
            }
        }
    }

    void compact_angular_group(const ElementSFs& el, const AngularGroup& g, Workspace& ws,
                               size_t stride) const {
        auto [a1, b1] = range_of(ws, g.e1);
        auto [a2, b2] = range_of(ws, g.e2);
        const bool same = g.e1 == g.e2;
        if (a1 >= b1 || a2 >= b2) return;
        const real rl = g.rl, rc = g.rc;
        const real center = 0.5 * (rl + rc), ihw = 2.0 / (rc - rl);
        // per-neighbour compact radial factor (with weights)
        std::vector<real>& R = ws.R;
        std::vector<real>& dR = ws.dR;
        if (R.size() < stride) {
            R.resize(stride);
            dR.resize(stride);
        }
        auto fill = [&](int a, int b) {
            for (int k = a; k < b; ++k) {
                real f = 0.0, df = 0.0;
                if (ws.r[k] > rl && ws.r[k] < rc)
                    compact_function(g.core, g.asymmetric, center, ihw, ws.r[k], f, df);
                const real wk = g.weighted ? ws.w[k] : 1.0;
                R[k] = wk * f;
                dR[k] = wk * df;
            }
        };
        fill(a1, b1);
        if (!same) fill(a2, b2);
        const real* x = ws.x.data();
        const real* y = ws.y.data();
        const real* z = ws.z.data();
        const real* inv_r = ws.inv_r.data();
        for (int j = a1; j < b1; ++j) {
            if (R[j] == 0.0 && dR[j] == 0.0) continue;
            const int k0 = same ? j + 1 : a2;
            for (int k = k0; k < b2; ++k) {
                if (R[k] == 0.0 && dR[k] == 0.0) continue;
                const real irj = inv_r[j], irk = inv_r[k];
                real c = (x[j] * x[k] + y[j] * y[k] + z[j] * z[k]) * irj * irk;
                // Exactly collinear triplets: n2p2 skips them, which makes the function jump
                // where a window is centred at 0 or 180 degrees (A = 1 there), and whether a
                // triplet is "exactly" collinear depends on rounding (it changes under
                // rotation). potforge keeps their value (continuity) and sets dA/dcos = 0,
                // which is exact for the forces since u_k - cos u_j = 0 there.
                const bool collinear = c <= -1.0 || c >= 1.0;
                c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
                real fjk = 1.0, dfjk = 0.0, irjk = 0.0;
                if (g.narrow) {
                    const real dx = x[k] - x[j], dy = y[k] - y[j], dz = z[k] - z[j];
                    const real rjk2 = dx * dx + dy * dy + dz * dz;
                    if (!(rjk2 < rc * rc)) continue;
                    if (rl > 0.0 ? !(rjk2 > rl * rl) : !(rjk2 > 0.0)) continue;
                    const real rjk = std::sqrt(rjk2);
                    compact_function(g.core, g.asymmetric, center, ihw, rjk, fjk, dfjk);
                    irjk = 1.0 / rjk;
                }
                const real theta = std::acos(c);
                const real sin_theta = std::sqrt(1.0 - c * c);
                const real Rj = R[j], Rk = R[k], dRj = dR[j], dRk = dR[k];
                for (int m : g.members) {
                    const SFSpec& s = el.sfs[m];
                    if (theta < s.angle_left || theta > s.angle_right) continue;
                    const real ac = 0.5 * (s.angle_left + s.angle_right);
                    const real aihw = 2.0 / (s.angle_right - s.angle_left);
                    real A, dA_dtheta;
                    compact_function(g.core, false, ac, aihw, theta, A, dA_dtheta);
                    const real dA = collinear ? 0.0 : -dA_dtheta / sin_theta;  // d/dcos
                    const real RR = Rj * Rk * fjk;
                    ws.G[m] += A * RR;
                    const real Tj = A * dRj * Rk * fjk;
                    const real Tk = A * Rj * dRk * fjk;
                    const real Tc = dA * RR;
                    const real Tjk = A * Rj * Rk * dfjk * irjk;
                    const real cross = Tc * irj * irk - Tjk;
                    const real aj = Tj * irj - Tc * c * irj * irj + Tjk;
                    const real ak = Tk * irk - Tc * c * irk * irk + Tjk;
                    real* jx = jac(ws, m, 0, stride);
                    real* jy = jac(ws, m, 1, stride);
                    real* jz = jac(ws, m, 2, stride);
                    jx[k] += ak * x[k] + cross * x[j];
                    jy[k] += ak * y[k] + cross * y[j];
                    jz[k] += ak * z[k] + cross * z[j];
                    jx[j] += aj * x[j] + cross * x[k];
                    jy[j] += aj * y[j] + cross * y[k];
                    jz[j] += aj * z[j] + cross * z[k];
                }
            }
        }
    }

    // ANI modified angular function (Smith, Isayev, Roitberg, Chem. Sci. 8, 3192 (2017), eq. 4):
    //   G = 2^(1-zeta) sum_{j<k} (1 + cos(theta - theta_s))^zeta
    //       exp(-eta ((r_j + r_k)/2 - R_s)^2) fc(r_j) fc(r_k)
    // summed over unordered pairs (the paper's sum over j != k counts each pair twice).
    // d theta / d d_j = -(u_k - cos u_j) / (r_j sin theta) has length 1/r_j; for an exactly
    // collinear triplet its direction is undefined and the angular derivative is set to 0.
    void ani_angular_group(const ElementSFs& el, const AngularGroup& g, Workspace& ws,
                           size_t stride) const {
        auto [a1, b1] = range_of(ws, g.e1);
        auto [a2, b2] = range_of(ws, g.e2);
        const bool same = g.e1 == g.e2;
        if (a1 >= b1 || a2 >= b2) return;
        const real* fc = ws.fc.data() + g.cutoff_slot * stride;
        const real* dfc = ws.dfc.data() + g.cutoff_slot * stride;
        const real* x = ws.x.data();
        const real* y = ws.y.data();
        const real* z = ws.z.data();
        const real* r = ws.r.data();
        const real* inv_r = ws.inv_r.data();
        for (int j = a1; j < b1; ++j) {
            if (fc[j] == 0.0) continue;
            const int k0 = same ? j + 1 : a2;
            for (int k = k0; k < b2; ++k) {
                if (fc[k] == 0.0) continue;
                const real irj = inv_r[j], irk = inv_r[k];
                real c = (x[j] * x[k] + y[j] * y[k] + z[j] * z[k]) * irj * irk;
                c = std::min(real(1), std::max(real(-1), c));
                const real sin_theta = std::sqrt(std::max(real(0), real(1) - c * c));
                const real ff = fc[j] * fc[k];
                for (int m : g.members) {
                    const SFSpec& s = el.sfs[m];
                    const real cs = std::cos(s.theta_s), ss = std::sin(s.theta_s);
                    const real cos_shift = c * cs + sin_theta * ss;       // cos(theta - theta_s)
                    const real sin_shift = sin_theta * cs - c * ss;       // sin(theta - theta_s)
                    const real base = 1.0 + cos_shift;
                    const real pre = std::pow(2.0, 1.0 - s.zeta);
                    const real P = pre * std::pow(base, s.zeta);
                    const real dP_dtheta = -pre * s.zeta * std::pow(base, s.zeta - 1.0) * sin_shift;
                    const real mean = 0.5 * (r[j] + r[k]) - s.rs;
                    const real E = std::exp(-s.eta * mean * mean);
                    const real dE_dr = -s.eta * mean * E;  // d/dr_j = d/dr_k
                    ws.G[m] += P * E * ff;
                    const real Tj = P * (dE_dr * ff + E * dfc[j] * fc[k]);
                    const real Tk = P * (dE_dr * ff + E * fc[j] * dfc[k]);
                    // angular part through theta: dt/dtheta * dtheta/dd
                    const real Tth = dP_dtheta * E * ff;
                    real gjx = Tj * x[j] * irj, gjy = Tj * y[j] * irj, gjz = Tj * z[j] * irj;
                    real gkx = Tk * x[k] * irk, gky = Tk * y[k] * irk, gkz = Tk * z[k] * irk;
                    if (sin_theta > 1e-12) {
                        const real f = -Tth / sin_theta;  // dt/dcos
                        // dcos/dd_j = (u_k - c u_j)/r_j, dcos/dd_k = (u_j - c u_k)/r_k
                        const real ujx = x[j] * irj, ujy = y[j] * irj, ujz = z[j] * irj;
                        const real ukx = x[k] * irk, uky = y[k] * irk, ukz = z[k] * irk;
                        gjx += f * (ukx - c * ujx) * irj;
                        gjy += f * (uky - c * ujy) * irj;
                        gjz += f * (ukz - c * ujz) * irj;
                        gkx += f * (ujx - c * ukx) * irk;
                        gky += f * (ujy - c * uky) * irk;
                        gkz += f * (ujz - c * ukz) * irk;
                    }
                    real* jx = jac(ws, m, 0, stride);
                    real* jy = jac(ws, m, 1, stride);
                    real* jz = jac(ws, m, 2, stride);
                    jx[j] += gjx; jy[j] += gjy; jz[j] += gjz;
                    jx[k] += gkx; jy[k] += gky; jz[k] += gkz;
                }
            }
        }
    }
};

}  // namespace PF_ARCH_NS
}  // namespace potforge

#endif  // PF_SYMFUNC_HPP
