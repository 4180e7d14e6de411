/* mcfast's own worker threads: a parallel loop whose workers sleep once their part is done.
 *
 * Why not OpenMP's pool: GNU OpenMP workers spin after each parallel region (for
 * GOMP_SPINCOUNT, read once when libgomp loads, process-wide and shared with every
 * library on the same libgomp), and a NumPy product right after an mcfast call waited for
 * them (a 512² matmul 1.7-1.9x slower on 2 cores). These workers spin at most
 * mc_pool_spin_ns after their last task, then sleep on a condition variable; nothing
 * process-wide is changed. OpenMP stays the source of the thread count only.
 *
 * mc_pool_run(fn, ctx, ntasks, nthreads): fn(ctx, task, tid) for task = 0 .. ntasks-1,
 * on nthreads threads (the caller is tid 0, workers 1 .. nthreads-1); tasks are claimed
 * one at a time through an atomic counter. Serial (in order, tid 0) when nthreads <= 1,
 * in a process made by fork() (the workers stay in the parent), when another call holds
 * the pool (concurrent callers, a task that calls mcfast), or without POSIX threads.
 * Used by _threads.pyx only (one pool per process); other modules cimport mc_parallel_for.
 *
 * The caller waits for the tasks, never for a worker that has not started one. On a busy
 * machine a woken worker may not run for a scheduler tick (milliseconds); the caller then
 * claims every task itself and returns, and the late worker finds the job over. So a
 * claim names its job: the counter holds the job's number (high 32 bits) beside the next
 * task (low 32), and a claim is a compare-and-swap that fails once a later job has
 * replaced the number. (Waiting for every worker to check in, as before, cost a 4,096-row
 * minibatch 12 ms on two threads instead of 0.12 ms on one, on a busy 2-core machine.)
 */
#ifndef MCFAST_POOL_H
#define MCFAST_POOL_H

#include <stddef.h>
#include "_threads.h"

typedef void (*mc_task_fn)(void* ctx, Py_ssize_t task, int tid);

#define MC_POOL_MAX 256      /* workers at most (threads beyond are not started) */

/* how long a worker waits for the next job before it sleeps, and the caller for the
 * workers' last tasks before it sleeps (nanoseconds; _threads.set_spin_ns for benchmarks) */
static long mc_pool_spin_ns = 20000;

/* 1: start the workers for each call and join them at its end instead (a candidate kept
 * for bench_beside_numpy.py --mechanisms; _threads.set_per_call) */
static int mc_pool_per_call = 0;

/* tests: each worker sleeps this long after it reads a job, before it claims (a worker
 * the scheduler keeps waiting); the stalls begun and ended so far (_threads.set_stall_ns,
 * stalls) */
static long mc_pool_stall_ns = 0;
static long mc_pool_stalls_begun = 0, mc_pool_stalls_ended = 0;

static void mc_run_serial(mc_task_fn fn, void* ctx, Py_ssize_t ntasks)
{
    Py_ssize_t q;
    for (q = 0; q < ntasks; q++)
        fn(ctx, q, 0);
}

#if defined(_WIN32) || defined(MCFAST_NO_POOL)

static int mc_pool_run(mc_task_fn fn, void* ctx, Py_ssize_t ntasks, int nthreads)
{
    (void)nthreads;
    mc_run_serial(fn, ctx, ntasks);
    return 1;
}

static int mc_pool_workers(void) { return 0; }

static long mc_pool_stalls(int ended) { (void)ended; return 0; }

#else

#include <pthread.h>
#include <signal.h>
#include <time.h>

typedef struct {
    pthread_mutex_t submit;     /* held by the one call using the pool */
    pthread_mutex_t lock;       /* guards the job's fields, sleeping, waiting */
    pthread_cond_t wake;        /* workers sleep here between jobs */
    pthread_cond_t done;        /* the caller sleeps here for the last tasks */
    int nworkers;               /* started (ids 1 .. nworkers); under submit */
    int sleeping;               /* workers waiting on wake */
    int waiting;                /* the caller waits on done */
    /* the job: written under lock, generation last */
    mc_task_fn fn;
    void* ctx;
    Py_ssize_t ntasks;
    int want;                   /* threads of the job, caller included */
    unsigned long gen;          /* job number (atomic) */
    unsigned long long claim;   /* the job's number << 32 | next task to claim (atomic) */
    Py_ssize_t left;            /* tasks of the job not yet done (atomic) */
} mc_pool;

/* tasks of one job at most: the claim's low 32 bits (more run serially) */
#define MC_POOL_TASKS_MAX 0x7fffffffL

static mc_pool mc_the_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                              PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                              0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0};

static inline unsigned long long mc_claim_word(unsigned long gen, Py_ssize_t next)
{
    return ((unsigned long long)(gen & 0xffffffffUL) << 32) | (unsigned long long)next;
}

/* the job number when each worker was started (under submit, before the job that
 * started it was published): a worker takes part in the jobs after it */
static unsigned long mc_start_gen[MC_POOL_MAX + 1];

static long mc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void mc_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spin until *p differs from `seen` (acquire) or spin_ns pass; 1 if it changed. */
static int mc_spin_ulong(const unsigned long* p, unsigned long seen, long spin_ns)
{
    long t0;
    int k;
    if (spin_ns <= 0)
        return __atomic_load_n(p, __ATOMIC_ACQUIRE) != seen;
    t0 = mc_now_ns();
    for (;;) {
        for (k = 0; k < 64; k++) {
            if (__atomic_load_n(p, __ATOMIC_ACQUIRE) != seen)
                return 1;
            mc_cpu_relax();
        }
        if (mc_now_ns() - t0 > spin_ns)
            return 0;
    }
}

static int mc_spin_zero_ssize(const Py_ssize_t* p, long spin_ns)
{
    long t0;
    int k;
    if (spin_ns <= 0)
        return __atomic_load_n(p, __ATOMIC_ACQUIRE) == 0;
    t0 = mc_now_ns();
    for (;;) {
        for (k = 0; k < 64; k++) {
            if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == 0)
                return 1;
            mc_cpu_relax();
        }
        if (mc_now_ns() - t0 > spin_ns)
            return 0;
    }
}

static void mc_sleep_ns(long ns)
{
    struct timespec ts;
    ts.tv_sec = ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Run tasks of job `gen` while it has unclaimed ones; each finished task counts down
 * `left`, and the one that ends the job wakes a waiting caller. */
static void mc_claim_tasks(mc_pool* P, unsigned long gen, mc_task_fn fn, void* ctx,
                           Py_ssize_t ntasks, int tid)
{
    unsigned long long c = __atomic_load_n(&P->claim, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((c >> 32) != (gen & 0xffffffffUL) || (Py_ssize_t)(c & 0xffffffffULL) >= ntasks)
            return;         /* the job is over, or a later one replaced it */
        if (!__atomic_compare_exchange_n(&P->claim, &c, c + 1, 1, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;       /* c now holds the counter as it is */
        fn(ctx, (Py_ssize_t)(c & 0xffffffffULL), tid);
        if (__atomic_sub_fetch(&P->left, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&P->lock);
            if (P->waiting)
                pthread_cond_signal(&P->done);
            pthread_mutex_unlock(&P->lock);
        }
        c = __atomic_load_n(&P->claim, __ATOMIC_ACQUIRE);
    }
}

static void* mc_worker(void* arg)
{
    mc_pool* P = &mc_the_pool;
    int id = (int)(size_t)arg;
    unsigned long seen;
    mc_task_fn fn;
    void* ctx;
    Py_ssize_t ntasks;
    int want;
    long stall;
    seen = mc_start_gen[id];
    for (;;) {
        mc_spin_ulong(&P->gen, seen, __atomic_load_n(&mc_pool_spin_ns, __ATOMIC_RELAXED));
        pthread_mutex_lock(&P->lock);
        if (P->gen == seen) {
            P->sleeping++;
            while (P->gen == seen)
                pthread_cond_wait(&P->wake, &P->lock);
            P->sleeping--;
        }
        /* a consistent view of the job, under the lock */
        seen = P->gen;
        fn = P->fn;
        ctx = P->ctx;
        ntasks = P->ntasks;
        want = P->want;
        pthread_mutex_unlock(&P->lock);
        if (id >= want)
            continue;           /* not in this job */
        /* (read as an atomic: the settings change under running workers, and a plain
         * read of a static the compiler sees no other writer of may be hoisted out of
         * this loop, so a worker started before the change would never see it) */
        stall = __atomic_load_n(&mc_pool_stall_ns, __ATOMIC_RELAXED);
        if (stall > 0) {
            __atomic_add_fetch(&mc_pool_stalls_begun, 1, __ATOMIC_RELAXED);
            mc_sleep_ns(stall);
            __atomic_add_fetch(&mc_pool_stalls_ended, 1, __ATOMIC_RELEASE);
        }
        mc_claim_tasks(P, seen, fn, ctx, ntasks, id);
    }
    return NULL;
}

/* Start workers up to `want` - 1 (under submit); the number running. Signals are blocked
 * in them, so that the interpreter's handlers run in its own threads. */
static int mc_pool_grow(mc_pool* P, int want)
{
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t th;
    if (want - 1 <= P->nworkers)
        return P->nworkers;
    if (pthread_attr_init(&attr) != 0)
        return P->nworkers;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (P->nworkers < want - 1 && P->nworkers < MC_POOL_MAX) {
        mc_start_gen[P->nworkers + 1] = P->gen;
        if (pthread_create(&th, &attr, mc_worker, (void*)(size_t)(P->nworkers + 1)) != 0)
            break;
        P->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return P->nworkers;
}

typedef struct { mc_task_fn fn; void* ctx; Py_ssize_t ntasks; Py_ssize_t* next; int tid; } mc_own;

static void* mc_own_thread(void* arg)
{
    mc_own* o = (mc_own*)arg;
    Py_ssize_t q;
    while ((q = __atomic_fetch_add(o->next, 1, __ATOMIC_RELAXED)) < o->ntasks)
        o->fn(o->ctx, q, o->tid);
    return NULL;
}

/* The per-call candidate: threads started for this call and joined before it returns. */
static void mc_run_per_call(mc_task_fn fn, void* ctx, Py_ssize_t ntasks, int want)
{
    pthread_t th[MC_POOL_MAX];
    mc_own own[MC_POOL_MAX + 1];
    Py_ssize_t next = 0;
    sigset_t all, old;
    int t, started = 0;
    if (want > MC_POOL_MAX + 1)
        want = MC_POOL_MAX + 1;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (t = 0; t < want; t++) {
        own[t].fn = fn; own[t].ctx = ctx; own[t].ntasks = ntasks; own[t].next = &next;
        own[t].tid = t;
        if (t > 0 && pthread_create(&th[t - 1], NULL, mc_own_thread, &own[t]) == 0)
            started++;
        else if (t > 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    mc_own_thread(&own[0]);
    for (t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

/* Run the job; 1 if it ran serially, 0 if on the pool. */
static int mc_pool_run(mc_task_fn fn, void* ctx, Py_ssize_t ntasks, int nthreads)
{
    mc_pool* P = &mc_the_pool;
    int want = nthreads;
    unsigned long gen;
    if (want > ntasks)
        want = (int)ntasks;
    if (want <= 1 || ntasks > MC_POOL_TASKS_MAX || mc_forked_child
            || pthread_mutex_trylock(&P->submit) != 0) {
        mc_run_serial(fn, ctx, ntasks);
        return 1;
    }
    if (mc_pool_per_call) {
        mc_run_per_call(fn, ctx, ntasks, want);
        pthread_mutex_unlock(&P->submit);
        return 0;
    }
    if (mc_pool_grow(P, want) < want - 1)
        want = P->nworkers + 1;
    if (want <= 1) {
        pthread_mutex_unlock(&P->submit);
        mc_run_serial(fn, ctx, ntasks);
        return 1;
    }
    pthread_mutex_lock(&P->lock);
    P->fn = fn;
    P->ctx = ctx;
    P->ntasks = ntasks;
    P->want = want;
    gen = P->gen + 1;
    __atomic_store_n(&P->left, ntasks, __ATOMIC_RELAXED);
    __atomic_store_n(&P->claim, mc_claim_word(gen, 0), __ATOMIC_RELEASE);
    __atomic_store_n(&P->gen, gen, __ATOMIC_RELEASE);
    if (P->sleeping)
        pthread_cond_broadcast(&P->wake);
    pthread_mutex_unlock(&P->lock);
    mc_claim_tasks(P, gen, fn, ctx, ntasks, 0);
    if (!mc_spin_zero_ssize(&P->left, mc_pool_spin_ns)) {
        pthread_mutex_lock(&P->lock);
        P->waiting = 1;
        while (__atomic_load_n(&P->left, __ATOMIC_ACQUIRE) != 0)
            pthread_cond_wait(&P->done, &P->lock);
        P->waiting = 0;
        pthread_mutex_unlock(&P->lock);
    }
    pthread_mutex_unlock(&P->submit);
    return 0;
}

static int mc_pool_workers(void) { return mc_the_pool.nworkers; }

static long mc_pool_stalls(int ended)
{
    return __atomic_load_n(ended ? &mc_pool_stalls_ended : &mc_pool_stalls_begun,
                           __ATOMIC_ACQUIRE);
}

#endif
#endif
