// Run-time choice among the compiled architectures of the kernels (kernels.hpp): the best
// instruction-set level this CPU supports, or the one POTFORGE_KERNEL_ARCH names. Shared by
// the Python module (module.cpp) and the LAMMPS pair style (lammps/pair_potforge.cpp).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace potforge {

inline std::vector<std::string> supported_architectures() {
    std::vector<std::string> out{"baseline"};
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v3")) out.push_back("x86-64-v3");
    if (__builtin_cpu_supports("x86-64-v4")) out.push_back("x86-64-v4");
#elif defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back("x86-64-v3");
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        out.push_back("x86-64-v4");
#endif
    return out;
}

inline std::string default_architecture() {
    const char* env = std::getenv("POTFORGE_KERNEL_ARCH");
    if (env != nullptr && *env != '\0' && std::strcmp(env, "auto") != 0) return env;
    return supported_architectures().back();
}

inline std::shared_ptr<Kernel> build_kernel(const KernelDescription& d, std::string arch) {
    if (arch.empty() || arch == "auto") arch = default_architecture();
    auto supported = supported_architectures();
    if (std::find(supported.begin(), supported.end(), arch) == supported.end())
        throw std::invalid_argument("kernel architecture '" + arch +
                                    "' is not supported by this CPU");
    std::unique_ptr<Kernel> k;
    if (arch == "baseline") k = make_kernel_baseline(d);
    else if (arch == "x86-64-v3") k = make_kernel_x86_64_v3(d);
    else if (arch == "x86-64-v4") k = make_kernel_x86_64_v4(d);
    if (!k) throw std::invalid_argument("kernel architecture '" + arch + "' was not compiled");
    return std::shared_ptr<Kernel>(std::move(k));
}

}  // namespace potforge
