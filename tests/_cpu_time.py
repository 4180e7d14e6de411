"""Source text shared by the child scripts that measure per-thread CPU time (Linux /proc).

The children are fresh interpreters (``python -c SCRIPT``): they get this function as text,
after their own ``import os, threading, time``.
"""

CPU_NS = '''
def cpu_ns():
    # schedstat lags up to a scheduler tick for the thread reading it: this thread's own
    # CPU time comes from thread_time_ns, the others' (idle by now) from schedstat
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except OSError:
            pass
    out[str(threading.get_native_id())] = time.thread_time_ns()
    return out
'''
