// Kernels for any x86-64 (SSE2) or other CPU, double precision; also the scalar helpers
// exposed for tests. (Each precision has its own translation unit: GCC's inlining budget is per
// unit, and two copies of the kernels in one unit made the double ones 8 % slower.)
#define PF_SIMD_WIDTH 2
#define PF_ARCH_NAME "baseline"
#define PF_ARCH_NS arch_baseline
#define PF_REAL double
#include "kernel_impl.hpp"

namespace potforge {

std::unique_ptr<Kernel> make_kernel_baseline_f32(const KernelDescription& d);

std::unique_ptr<Kernel> make_kernel_baseline(const KernelDescription& d) {
    if (d.single_precision) return make_kernel_baseline_f32(d);
    return std::make_unique<arch_baseline::KernelImpl>(d);
}
void baseline_exp(const double* x, double* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = arch_baseline::pf_exp(x[i]);
}

void baseline_cutoff(int type, double rc, double alpha, const double* r, double* f, double* df,
                     int64_t n) {
    arch_baseline::Cutoff c(type, rc, alpha);
    c.eval(r, static_cast<int>(n), f, df);
}

void baseline_activation(int type, const double* x, double* f, double* df, int64_t n) {
    for (int64_t i = 0; i < n; ++i) arch_baseline::activate(type, x[i], f[i], df[i]);
}

}  // namespace potforge
