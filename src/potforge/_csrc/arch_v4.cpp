// Kernels for x86-64-v4, double precision (see arch_unit.hpp).
#define PF_ARCH_LEVEL 4
#define PF_REAL double
#include "arch_unit.hpp"
