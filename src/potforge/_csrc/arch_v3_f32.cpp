// Kernels compiled for x86-64-v3 (AVX2, FMA), single precision; selected at run time
// when the CPU has it.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define PF_SIMD_WIDTH 4
#define PF_HAVE_AVX2 1  // the target pragma does not define the ISA macros
#define PF_ARCH_NAME "x86-64-v3"
#define PF_ARCH_NS arch_x86_64_v3_f32
#define PF_REAL float
#define PF_REAL_IS_FLOAT 1
#include "kernel_impl.hpp"
#pragma GCC pop_options

std::unique_ptr<potforge::Kernel> potforge::make_kernel_x86_64_v3_f32(const KernelDescription& d) {
    return std::make_unique<arch_x86_64_v3_f32::KernelImpl>(d);
}
#else
std::unique_ptr<potforge::Kernel> potforge::make_kernel_x86_64_v3_f32(const KernelDescription&) {
    return nullptr;
}
#endif
