// Kernels for any x86-64 (SSE2) or other CPU, single precision.
#define PF_SIMD_WIDTH 2
#define PF_ARCH_NAME "baseline"
#define PF_ARCH_NS arch_baseline_f32
#define PF_REAL float
#define PF_REAL_IS_FLOAT 1
#include "kernel_impl.hpp"

namespace potforge {

std::unique_ptr<Kernel> make_kernel_baseline_f32(const KernelDescription& d) {
    return std::make_unique<arch_baseline_f32::KernelImpl>(d);
}

}  // namespace potforge
