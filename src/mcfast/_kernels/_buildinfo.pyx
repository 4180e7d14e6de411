# cython: language_level=3
"""How the kernels were compiled, read from the compiler's own macros at build time."""
from mcfast._kernels._blas cimport BLAS_INT_MAX

cdef extern from *:
    """
    #ifndef MCFAST_BUILD_CFLAGS
    #define MCFAST_BUILD_CFLAGS ""
    #endif
    #ifndef MCFAST_CYTHON_VERSION
    #define MCFAST_CYTHON_VERSION ""
    #endif
    #ifndef MCFAST_NUMPY_VERSION
    #define MCFAST_NUMPY_VERSION ""
    #endif
    #ifdef _OPENMP
    static int mcfast_openmp_version(void) { return _OPENMP; }
    #else
    static int mcfast_openmp_version(void) { return 0; }
    #endif
    #if defined(__VERSION__)
    #define MCFAST_COMPILER __VERSION__
    #else
    #define MCFAST_COMPILER "unknown"
    #endif
    #if defined(__clang__)
    #define MCFAST_COMPILER_NAME "clang"
    #elif defined(__GNUC__)
    #define MCFAST_COMPILER_NAME "gcc"
    #elif defined(_MSC_VER)
    #define MCFAST_COMPILER_NAME "msvc"
    #else
    #define MCFAST_COMPILER_NAME "unknown"
    #endif
    """
    const char* MCFAST_BUILD_CFLAGS
    const char* MCFAST_CYTHON_VERSION
    const char* MCFAST_NUMPY_VERSION
    const char* MCFAST_COMPILER
    const char* MCFAST_COMPILER_NAME
    int mcfast_openmp_version() noexcept nogil


def build_info():
    """A dict: compiler, flags, OpenMP version (0 when off), Cython, NumPy, and the BLAS
    size limit past which the shims loop (2**31 - 1, or MCFAST_BLAS_INT_MAX's test value).

    The threads the kernels use are a run-time fact: mcfast._kernels._threads.thread_info.
    """
    return {
        "compiler": MCFAST_COMPILER_NAME.decode() + " " + MCFAST_COMPILER.decode(),
        "cflags": MCFAST_BUILD_CFLAGS.decode(),
        "openmp": mcfast_openmp_version(),
        "cython": MCFAST_CYTHON_VERSION.decode(),
        "numpy": MCFAST_NUMPY_VERSION.decode(),
        "blas_int_max": BLAS_INT_MAX,
    }
