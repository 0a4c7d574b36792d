// Small math kernels written so that GCC/Clang vectorise the loops that call them.
//
// libm's exp cannot be vectorised without -ffast-math, and the symmetry-function loops spend
// most of their time in exp, so potforge carries its own: Cody-Waite range reduction and a
// degree-13 Taylor polynomial, accurate to about 1 ulp for the arguments that occur here
// (|error| < 2.5e-16 relative over [-708, 709], checked against libm in the tests). Results
// do not depend on the libm version, which also keeps predictions bit-stable across machines.
#ifndef PF_MATHFUN_HPP  // once per kernel_impl.hpp inclusion (it resets these guards)
#define PF_MATHFUN_HPP

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <limits>
#include <new>
#include <string>
#include <type_traits>

#ifndef PF_INLINE
#if defined(__GNUC__)
#define PF_INLINE inline __attribute__((always_inline))
#else
#define PF_INLINE inline
#endif
#endif
#ifndef PF_REAL
#define PF_REAL double
#endif

namespace potforge {
namespace PF_ARCH_NS {

#ifdef PF_PROFILE  // temporary section timers (TSC cycles), printed by hdnnp_evaluate
inline unsigned long long& pf_prof(int k) { static unsigned long long c[16]; return c[k]; }
#define PF_T0 unsigned long long pf_t_ = __builtin_ia32_rdtsc();
#define PF_LAP(k) { unsigned long long n_ = __builtin_ia32_rdtsc(); pf_prof(k) += n_ - pf_t_; pf_t_ = n_; }
#else
#define PF_T0
#define PF_LAP(k)
#endif

// The floating-point type of the kernels: double (default) or float (PF_REAL, set by the
// translation unit that compiles the single-precision copy).
using real = PF_REAL;
constexpr bool real_is_float = sizeof(real) == 4;
using mask_int = std::conditional_t<real_is_float, int32_t, int64_t>;

// Explicit SIMD through GCC/Clang vector extensions: PF_SIMD_WIDTH * 8 bytes per vector, set
// by each architecture's translation unit (2 = SSE2, 4 = AVX2, 8 = AVX-512), i.e. VW lanes.
#ifndef PF_SIMD_WIDTH
#define PF_SIMD_WIDTH 2
#endif
constexpr int VW = PF_SIMD_WIDTH * 8 / static_cast<int>(sizeof(real));
typedef real vd __attribute__((vector_size(8 * PF_SIMD_WIDTH)));
// Per-neighbour and per-triplet arrays carry PAD spare elements, so that whole vectors can be
// loaded and stored at their ends (PAD >= the widest vector: 16 floats).
constexpr int PAD = VW > 8 ? VW : 8;
typedef mask_int vl __attribute__((vector_size(8 * PF_SIMD_WIDTH)));

PF_INLINE vd vload(const real* p) {
    vd v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
PF_INLINE void vstore(real* p, vd v) { std::memcpy(p, &v, sizeof v); }
PF_INLINE vd vsplat(real x) { return vd{} + x; }  // scalar operands broadcast
PF_INLINE real vsum(vd v) {
    real s = 0;
    for (int i = 0; i < VW; ++i) s += v[i];
    return s;
}
// lanes i with first + i < end are active
PF_INLINE vl vactive(int first, int end) {
    vl idx;
    for (int i = 0; i < VW; ++i) idx[i] = static_cast<mask_int>(first + i);
    return idx < static_cast<mask_int>(end);
}
PF_INLINE vd vselect(vl mask, vd a, vd b) { return mask ? a : b; }
// lanes i with lo <= first + i < hi are active
PF_INLINE vl vinside(int first, int lo, int hi) {
    vl idx;
    for (int i = 0; i < VW; ++i) idx[i] = static_cast<mask_int>(first + i);
    return (idx >= static_cast<mask_int>(lo)) & (idx < static_cast<mask_int>(hi));
}

// A heap array of vd aligned to the vector's size, for per-call scratch longer than a stack
// buffer. Not std::vector<vd>: in the translation units compiled under `#pragma GCC target`
// (arch_v3/arch_v4) GCC gives that operator new's 16-byte alignment, while the code it emits
// for vd uses aligned 32/64-byte loads and stores, which fault on such memory (the segmentation
// fault of mlearn's Li model: its 72 angular functions share one group, more than the
// 64-entry stack buffers hold).
class VectorBuffer {
public:
    VectorBuffer() = default;
    VectorBuffer(const VectorBuffer&) = delete;
    VectorBuffer& operator=(const VectorBuffer&) = delete;
    ~VectorBuffer() { std::free(data_); }
    // n vectors (contents undefined), aligned to sizeof(vd)
    vd* get(size_t n) {
        if (n > capacity_) {
            std::free(data_);
            data_ = static_cast<vd*>(std::aligned_alloc(sizeof(vd), (n > 0 ? n : 1) * sizeof(vd)));
            if (data_ == nullptr) throw std::bad_alloc();
            capacity_ = n;
        }
        return data_;
    }

private:
    vd* data_ = nullptr;
    size_t capacity_ = 0;
};

// A number for an error message ("%.6g": 5.58347e+135, not 136 digits).
inline std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

PF_INLINE double bits_to_double(uint64_t u) {
    double d;
    std::memcpy(&d, &u, sizeof d);
    return d;
}
PF_INLINE uint64_t double_to_bits(double d) {
    uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
}

// exp(x); arguments below -708 give exp(-708) ~ 3e-308 instead of a subnormal or zero,
// which is harmless where it is used (Gaussians that are multiplied by cutoff functions).
PF_INLINE double pf_exp(double x) {
    constexpr double log2e = 1.4426950408889634074;
    constexpr double ln2_hi = 6.93147180369123816490e-01;
    constexpr double ln2_lo = 1.90821492927058770002e-10;
    constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    const double kd = x * log2e + shifter;
    const double k = kd - shifter;
    const double r = (x - k * ln2_hi) - k * ln2_lo;  // |r| <= ln2/2
    double p = 1.0 / 6227020800.0;                   // 1/13!
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^k: the low bits of kd hold k; shifting (k + 1023) into the exponent field.
    const uint64_t scale_bits = (double_to_bits(kd) + 1023u) << 52;
    return p * bits_to_double(scale_bits);
}

// exp(x) in single precision: same scheme, degree-7 polynomial (about 1 ulp); arguments
// below -87 give exp(-87) ~ 1.6e-38.
PF_INLINE float pf_exp(float x) {
    constexpr float log2e = 1.44269504088896341f;
    constexpr float ln2_hi = 0.693145751953125f;
    constexpr float ln2_lo = 1.42860682030941723212e-6f;
    constexpr float shifter = 12582912.0f;  // 1.5 * 2^23
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float kd = x * log2e + shifter;
    const float k = kd - shifter;
    const float r = (x - k * ln2_hi) - k * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t kb;
    std::memcpy(&kb, &kd, sizeof kb);
    const uint32_t scale_bits = (kb + 127u) << 23;
    float scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

// Cutoff function types, numbered as n2p2's cutoff_type.
enum CutoffType : int {
    CUT_HARD = 0, CUT_COS = 1, CUT_TANHU = 2, CUT_TANH = 3, CUT_EXP = 4,
    CUT_POLY1 = 5, CUT_POLY2 = 6, CUT_POLY3 = 7, CUT_POLY4 = 8,
};

// Core functions of the compact (polynomial) symmetry functions and of the poly/exp cutoffs:
// f(0) = 1, f(1) = 0 on x in [0, 1]. Numbered like the cutoff types that use them.
PF_INLINE void core_function(int type, real x, real& f, real& df) {
    switch (type) {
        case CUT_POLY1:
            f = (2.0 * x - 3.0) * x * x + 1.0;
            df = x * (6.0 * x - 6.0);
            return;
        case CUT_POLY2:
            f = ((15.0 - 6.0 * x) * x - 10.0) * x * x * x + 1.0;
            df = x * x * ((60.0 - 30.0 * x) * x - 30.0);
            return;
        case CUT_POLY3:
            f = (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x * x * x * x + 1.0;
            df = x * x * x * (x * (x * (140.0 * x - 420.0) + 420.0) - 140.0);
            return;
        case CUT_POLY4:
            f = (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x * x * x * x * x + 1.0;
            df = x * x * x * x * (x * (x * ((2520.0 - 630.0 * x) * x - 3780.0) + 2520.0) - 630.0);
            return;
        case CUT_EXP: {
            // e * exp(1/(x^2 - 1)); x is kept below 1 by the callers' masks.
            const real xc = x < real(0.999999) ? x : real(0.999999);
            const real q = xc * xc - 1.0;
            const real e = 2.718281828459045 * pf_exp(1.0 / q);
            f = e;
            df = -2.0 * xc * e / (q * q);
            return;
        }
        default:
            f = 1.0;
            df = 0.0;
            return;
    }
}

// Smooth cutoff f_c(r) with inner cutoff r_ci = alpha * r_c (used by cos, exp, poly types;
// n2p2 ignores alpha for the tanh types and so do we). f = f' = 0 for r >= r_c.
struct Cutoff {
    int type = CUT_TANHU;
    real rc = 0.0, rci = 0.0, iw = 0.0;  // iw = 1 / (rc - rci)

    Cutoff() = default;
    Cutoff(int type_, real rc_, real alpha) : type(type_), rc(rc_), rci(alpha * rc_) {
        iw = 1.0 / (rc - rci);
    }

    // f and df/dr for n radii (vectorised per type).
    void eval(const real* __restrict r, int n, real* __restrict f,
              real* __restrict df) const {
        const real rc_ = rc, rci_ = rci, iw_ = iw, inv_rc = 1.0 / rc;
        switch (type) {
            case CUT_HARD:
                for (int k = 0; k < n; ++k) {
                    f[k] = r[k] < rc_ ? 1.0 : 0.0;
                    df[k] = 0.0;
                }
                return;
            case CUT_TANHU:
            case CUT_TANH: {
                // tanh(y) = (1 - e^{-2y}) / (1 + e^{-2y}), y = 1 - r/rc in [0, 1].
                const real pre = type == CUT_TANH ? 1.0 / (0.76159415595576488812 *
                                                              0.76159415595576488812 *
                                                              0.76159415595576488812)
                                                    : 1.0;
#pragma GCC ivdep
                for (int k = 0; k < n; ++k) {
                    real y = 1.0 - r[k] * inv_rc;
                    const real inside = y > 0.0 ? 1.0 : 0.0;
                    y = y > 0.0 ? y : 0.0;
                    const real e = pf_exp(-2.0 * y);
                    const real t = (1.0 - e) / (1.0 + e);
                    const real t2 = t * t;
                    f[k] = inside * pre * t2 * t;
                    df[k] = inside * pre * 3.0 * t2 * (t2 - 1.0) * inv_rc;
                }
                return;
            }
            case CUT_COS: {
                constexpr real pi = 3.14159265358979323846;
                for (int k = 0; k < n; ++k) {
                    const real x = (r[k] - rci_) * iw_;
                    if (r[k] >= rc_) {
                        f[k] = 0.0;
                        df[k] = 0.0;
                    } else if (x <= 0.0) {
                        f[k] = 1.0;
                        df[k] = 0.0;
                    } else {
                        f[k] = 0.5 * (std::cos(pi * x) + 1.0);
                        df[k] = -0.5 * pi * iw_ * std::sin(pi * x);
                    }
                }
                return;
            }
            default: {  // exp and poly1-4 through their core function
                const int t = type;
#pragma GCC ivdep
                for (int k = 0; k < n; ++k) {
                    real x = (r[k] - rci_) * iw_;
                    const real inside = r[k] < rc_ ? 1.0 : 0.0;
                    const real beyond_inner = x > 0.0 ? 1.0 : 0.0;
                    x = x > 0.0 ? x : 0.0;
                    x = x < 1.0 ? x : 1.0;
                    real cf, cdf;
                    core_function(t, x, cf, cdf);
                    f[k] = inside * (beyond_inner * cf + (1.0 - beyond_inner));
                    df[k] = inside * beyond_inner * cdf * iw_;
                }
                return;
            }
        }
    }
};

}  // namespace PF_ARCH_NS
}  // namespace potforge

#endif  // PF_MATHFUN_HPP
