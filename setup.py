"""Build the Cython kernels of mcfast (OpenMP when the compiler has it, portable flags).

Environment:
  MCFAST_DEBUG=1   build with boundscheck, wraparound and initializedcheck on (and -O0 -g)
  MCFAST_SANITIZE=1  build with AddressSanitizer and UndefinedBehaviorSanitizer
                   (-fsanitize=address,undefined, -O1 -g): the C of the .h files checked
                   as it runs; the interpreter must preload the runtimes (see .ci/run)
  MCFAST_NATIVE=1  tune for this CPU: -march=native on x86-64, -mcpu=native on ARM and
                   POWER, where compilers reject -march=native (off by default: the default
                   build stays portable)
  MCFAST_ONLY=a,b  build only the named kernel modules (developer convenience)
  MCFAST_BLAS_INT_MAX=N  hand sizes above N to the shims' 64-bit loops instead of BLAS
                   (default 2**31 - 1, BLAS's int; a small N makes tests reach those loops)
  MCFAST_JOBS=N    compile at most N modules at once (default: the CPUs this process may
                   use; `build_ext -j N` on the command line takes precedence)
"""
import os
import platform
import sys
import tempfile
from glob import glob
from pathlib import Path

import Cython
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
DEBUG = os.environ.get("MCFAST_DEBUG", "") not in ("", "0")
SANITIZE = os.environ.get("MCFAST_SANITIZE", "") not in ("", "0")
NATIVE = os.environ.get("MCFAST_NATIVE", "") not in ("", "0")
ONLY = [s for s in os.environ.get("MCFAST_ONLY", "").split(",") if s]
BLAS_INT_MAX = os.environ.get("MCFAST_BLAS_INT_MAX", "")


def build_jobs():
    """Modules compiled at once: MCFAST_JOBS, else the CPUs this process may use."""
    if os.environ.get("MCFAST_JOBS"):
        return max(1, int(os.environ["MCFAST_JOBS"]))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def native_flag(machine=None):
    """The compiler flag that tunes for this CPU: ARM and POWER spell it -mcpu=native (clang
    for aarch64 and Apple's clang reject -march=native), x86-64 -march=native."""
    machine = (machine or platform.machine()).lower()
    if machine.startswith(("arm", "aarch64", "ppc", "powerpc")):
        return "-mcpu=native"
    return "-march=native"


def compiler_accepts(compiler, cflags, ldflags=None):
    """True when `compiler` compiles (with `cflags`) and links (with `ldflags`, default
    `cflags`) a tiny OpenMP program."""
    ldflags = cflags if ldflags is None else ldflags
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=ldflags)
        except Exception:
            return False
    return True


# OpenMP's flags, tried in order: GCC and LLVM clang; then Apple's clang, whose driver
# takes OpenMP only through the preprocessor and needs libomp (e.g. Homebrew's) linked
OPENMP_FLAGS = [(["-fopenmp"], ["-fopenmp"]),
                (["-Xpreprocessor", "-fopenmp"], ["-lomp"])]


# Per-module flags of the optimised build, added where the compiler takes them (GCC;
# clang has no such options). _engine's kernels are written in vector types (mc_group.h:
# every hot loop is a vector loop already), so -O3's extra copies of loops — the
# vectoriser's run-time alias and stride versions with scalar epilogues (the dynamic cost
# model), loop versioning for strides and unswitching — add size, not speed: without them
# _engine is ~1 MB smaller at the same speed (bench/bench_losses.py --floor --cases, both
# levels; CHANGELOG.md); tests/test_build.py holds it under its size limit. The loops that
# are left to the vectoriser (mc_simd.h's MC_AUTOVEC: loss hooks, block products) keep
# the dynamic model, without a vectorised epilogue of each vectorised loop.
MODULE_FLAGS = {"_engine": ["-fvect-cost-model=very-cheap", "-fno-version-loops-for-strides",
                            "-fno-unswitch-loops", "--param=vect-epilogues-nomask=0"]}


def accepted_flags(compiler, flags):
    """The subset of `flags` that `compiler` compiles a tiny C file with (one at a time)."""
    ok = []
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int mcfast_probe(int a) { return a + 1; }\n")
        for flag in flags:
            try:
                compiler.compile([src], output_dir=tmp, extra_postargs=["-Werror", flag])
            except Exception:
                continue
            ok.append(flag)
    return ok


def openmp_flags(compiler):
    """(compile flags, link flags) that give `compiler` OpenMP, or None without it."""
    if compiler.compiler_type == "msvc":
        return None
    for cflags, ldflags in OPENMP_FLAGS:
        if compiler_accepts(compiler, cflags, ldflags):
            return cflags, ldflags
    return None


class BuildExt(build_ext):
    """build_ext that compiles the modules in parallel and adds OpenMP flags when the
    compiler supports them.

    `pip install .` runs build_ext without `-j`, which would compile the modules one after
    another; here they are compiled by a pool of `build_jobs()` threads unless `-j` says
    otherwise (setuptools' own parallel build_ext).
    """

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = build_jobs()

    def build_extensions(self):
        openmp = openmp_flags(self.compiler)
        if openmp:
            print(f"mcfast: OpenMP with {' '.join(openmp[0])} (link: {' '.join(openmp[1])})",
                  file=sys.stderr)
        else:
            # the kernels stay threaded (mcfast's own pool, POSIX threads); the count comes
            # from OMP_NUM_THREADS and the CPUs, as threadpoolctl cannot reach it
            print("mcfast: the compiler has no OpenMP (tried: "
                  + "; ".join(" ".join(c) for c, _ in OPENMP_FLAGS) + "); threads are counted "
                  "from OMP_NUM_THREADS and the CPUs, threadpoolctl cannot limit them",
                  file=sys.stderr)
        for ext in self.extensions:
            if openmp:
                ext.extra_compile_args.extend(openmp[0])
                ext.extra_link_args.extend(openmp[1])
            extra = MODULE_FLAGS.get(ext.name.rsplit(".", 1)[-1], [])
            if extra and not (DEBUG or SANITIZE):
                ext.extra_compile_args.extend(accepted_flags(self.compiler, extra))
            ext.define_macros.append(("MCFAST_OPENMP", "1" if openmp else "0"))
        super().build_extensions()


def extensions():
    """One Extension per src/mcfast/_kernels/*.pyx."""
    # -g0: no debug info in a release build (3 of the 4 MB of _chain.so), as in NumPy's
    # and SciPy's wheels; it overrides the -g of Python's own CFLAGS
    cflags = ["-O0", "-g"] if DEBUG else ["-O3", "-g0"]
    # the sanitizers: any out-of-bounds access or undefined behaviour aborts the process
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                "-fno-omit-frame-pointer"] if SANITIZE else []
    if SANITIZE and not DEBUG:
        cflags = ["-O1", "-g"]
    cflags += sanitize
    if NATIVE:
        cflags.append(native_flag())
    macros = [("MCFAST_BLAS_INT_MAX", str(int(BLAS_INT_MAX)))] if BLAS_INT_MAX else []
    exts = []
    for pyx in sorted(glob("src/mcfast/_kernels/*.pyx")):
        name = Path(pyx).stem
        if ONLY and name not in ONLY:
            continue
        exts.append(Extension(
            f"mcfast._kernels.{name}", [pyx],
            include_dirs=[numpy.get_include(), "src/mcfast/_kernels"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                           ("MCFAST_BUILD_CFLAGS", '"' + " ".join(cflags) + '"'),
                           ("MCFAST_CYTHON_VERSION", f'"{Cython.__version__}"'),
                           ("MCFAST_NUMPY_VERSION", f'"{numpy.__version__}"')] + macros,
            extra_compile_args=list(cflags),
            extra_link_args=list(sanitize),
            # the C helpers each module includes: a changed header recompiles it
            depends=sorted(glob("src/mcfast/_kernels/*.h")),
        ))
    directives = {
        "language_level": 3,
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "initializedcheck": DEBUG,
        "cdivision": True,
        "embedsignature": True,
    }
    # Cython itself in parallel too, where processes fork (a spawned worker would re-run
    # this script)
    nthreads = build_jobs() if sys.platform.startswith("linux") and len(exts) > 1 else 0
    return cythonize(exts, compiler_directives=directives, include_path=["src"],
                     compile_time_env={"MCFAST_DEBUG": DEBUG}, nthreads=nthreads)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
