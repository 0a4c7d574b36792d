// Kernels for x86-64-v4, single precision (see arch_unit.hpp).
#define PF_ARCH_LEVEL 4
#define PF_REAL float
#define PF_REAL_IS_FLOAT 1
#include "arch_unit.hpp"
