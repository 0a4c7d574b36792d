// One translation unit of the kernels for x86-64 instruction-set level PF_ARCH_LEVEL (3: AVX2
// and FMA, 4: AVX-512) and precision PF_REAL (double or float), included by arch_v*.cpp.
// Each (level, precision) has its own unit: GCC's inlining budget is per unit, and the
// kernels are selected at run time by module.cpp.
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

#define PF_CAT_(a, b) a##b
#define PF_CAT(a, b) PF_CAT_(a, b)
#define PF_STR_(a) #a
#define PF_STR(a) PF_STR_(a)

#if PF_ARCH_LEVEL == 3
#define PF_SIMD_WIDTH 4
#define PF_HAVE_AVX2 1  // the target pragma does not define the ISA macros
#else
#define PF_SIMD_WIDTH 8
#define PF_HAVE_AVX512 1
#endif
#define PF_ARCH_NAME "x86-64-v" PF_STR(PF_ARCH_LEVEL)
#ifdef PF_REAL_IS_FLOAT
#define PF_UNIT_SUFFIX _f32
#else
#define PF_UNIT_SUFFIX
#endif
#define PF_ARCH_NS PF_CAT(PF_CAT(arch_x86_64_v, PF_ARCH_LEVEL), PF_UNIT_SUFFIX)
#define PF_FACTORY PF_CAT(PF_CAT(make_kernel_x86_64_v, PF_ARCH_LEVEL), PF_UNIT_SUFFIX)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC push_options
#if PF_ARCH_LEVEL == 3
#pragma GCC target("arch=x86-64-v3")
#else
#pragma GCC target("arch=x86-64-v4")
#endif
#include "kernel_impl.hpp"
#pragma GCC pop_options

std::unique_ptr<potforge::Kernel> potforge::PF_FACTORY(const KernelDescription& d) {
#ifndef PF_REAL_IS_FLOAT
    if (d.single_precision) return PF_CAT(PF_FACTORY, _f32)(d);
#endif
    return std::make_unique<PF_ARCH_NS::KernelImpl>(d);
}
#else
std::unique_ptr<potforge::Kernel> potforge::PF_FACTORY(const KernelDescription&) { return nullptr; }
#endif
