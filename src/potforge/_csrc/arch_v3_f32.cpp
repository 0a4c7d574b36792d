// Kernels for x86-64-v3, single precision (see arch_unit.hpp).
#define PF_ARCH_LEVEL 3
#define PF_REAL float
#define PF_REAL_IS_FLOAT 1
#include "arch_unit.hpp"
