"""Stub of mcfast._kernels._threads: the kernels' thread count, decided at each call."""

from typing import TypedDict

class _ThreadInfo(TypedDict):
    effective_n_threads: int  # mc_effective_n_threads(): what the kernels use now
    omp_max_threads: int      # omp_get_max_threads(), 1 without OpenMP
    cpu_count: int            # CPUs in this process's affinity mask
    forked_child: bool        # set by the at-fork handler: kernels run serially

def thread_info() -> _ThreadInfo: ...
def effective_n_threads() -> int: ...
