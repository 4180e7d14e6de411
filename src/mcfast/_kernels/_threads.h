/* Threads for mcfast's kernels, decided at each call (used by _threads.pyx only).
 *
 * mc_effective_n_threads(): omp_get_max_threads() (so OMP_NUM_THREADS and
 * threadpoolctl.threadpool_limits hold) capped by the CPUs this process may run on
 * (its affinity mask), as scikit-learn's _openmp_effective_n_threads does; without
 * OpenMP, OMP_NUM_THREADS when set, else those CPUs; and 1 in a process made by fork():
 * the workers of mcfast's pool (_pool.h) stay in the parent. The at-fork handler,
 * registered once when _threads is imported, marks the child.
 */
#ifndef MCFAST_THREADS_H
#define MCFAST_THREADS_H

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>          /* sched_getaffinity, CPU_COUNT (Python.h defines _GNU_SOURCE) */
#endif
#if defined(_WIN32)
#include <windows.h>        /* GetProcessAffinityMask */
#else
#include <pthread.h>        /* pthread_atfork */
#include <unistd.h>         /* sysconf */
#endif
#include <stdlib.h>         /* getenv, strtol */

static volatile int mc_forked_child = 0;

static void mc_mark_forked_child(void) { mc_forked_child = 1; }

/* 0 on success (or where there is no fork), else the error number. */
static int mc_register_at_fork(void)
{
#if !defined(_WIN32)
    return pthread_atfork(NULL, NULL, mc_mark_forked_child);
#else
    return 0;
#endif
}

/* CPUs this process may run on: its affinity mask where the OS has one, else online CPUs. */
static int mc_cpu_count(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
#endif
#if defined(_WIN32)
    {
        DWORD_PTR process_mask, system_mask;
        int n = 0;
        if (GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask)) {
            for (; process_mask; process_mask &= process_mask - 1)
                n++;
        }
        return n > 0 ? n : 1;
    }
#else
    {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
#endif
}

static int mc_omp_max_threads(void)
{
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    /* no OpenMP runtime to ask (macOS clang): its variable, else every CPU */
    const char* s = getenv("OMP_NUM_THREADS");
    long n = s ? strtol(s, NULL, 10) : 0;
    return n > 0 ? (n < 4096 ? (int)n : 4096) : mc_cpu_count();
#endif
}

static int mc_effective_n_threads(void)
{
    int n;
    if (mc_forked_child)
        return 1;
    n = mc_omp_max_threads();
    if (n > 1) {
        int cpus = mc_cpu_count();
        if (cpus < n)
            n = cpus;
    }
    return n > 1 ? n : 1;
}

#endif
