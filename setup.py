"""Build the compiled kernels of potforge (``potforge._native``).

Everything else about the package lives in pyproject.toml. The extension is plain C++17 with
pybind11; hot loops are written so that GCC/Clang vectorise them, and on x86-64 the hot
functions are compiled for several instruction sets (arch_*.cpp) and picked at run time, so
one build runs on any x86-64 CPU (``POTFORGE_KERNEL_ARCH`` forces a choice).
"""

from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup


# -fno-wrapv undoes Python's -fwrapv (from sysconfig CFLAGS), which stops GCC from vectorising
# loops with int counters; -fno-trapping-math lets compare-and-select become vector blends.
compile_args = ["-O3", "-fno-wrapv", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden",
                "-fopenmp"]

ext = Pybind11Extension(
    "potforge._native",
    sources=[f"src/potforge/_csrc/{name}.cpp" for name in (
        "module", "arch_baseline", "arch_baseline_f32", "arch_v3", "arch_v3_f32", "arch_v4", "arch_v4_f32")],
    depends=sorted(str(p) for p in Path("src/potforge/_csrc").glob("*.hpp")),
    include_dirs=["src/potforge/_csrc"],
    extra_compile_args=compile_args,
    extra_link_args=["-fopenmp"],
    cxx_std=17,
)

setup(ext_modules=[ext], cmdclass={"build_ext": build_ext})
