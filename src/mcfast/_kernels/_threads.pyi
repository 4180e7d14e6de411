"""Stub of mcfast._kernels._threads: the kernels' thread count, decided at each call, and their pool."""

from typing import TypedDict

class _ThreadInfo(TypedDict):
    effective_n_threads: int  # mc_effective_n_threads(): what the kernels use now
    omp_max_threads: int      # omp_get_max_threads(), 1 without OpenMP
    cpu_count: int            # CPUs in this process's affinity mask
    forked_child: bool        # set by the at-fork handler: kernels run serially
    pool_workers: int         # mcfast's worker threads started so far

def thread_info() -> _ThreadInfo: ...
def effective_n_threads() -> int: ...
def set_spin_ns(ns: int) -> int: ...
def set_per_call(on: bool) -> bool: ...
