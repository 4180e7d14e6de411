# The nogil planner of chains of dense and Diagonal links (included by _chain.pyx)

# The nogil planner of the cimport API (mcfast.kernels.chain_order) for chains of dense and
# Diagonal links: the cost model of mcfast._plan restricted to those kinds (dense·dense
# p·q·r, a Diagonal side p·r, Diagonal·Diagonal n), in saturating arithmetic: a cost past
# PY_SSIZE_T_MAX is held at PY_SSIZE_T_MAX (then the order is the best among the
# bracketings that fit, and mcfast.chain_plan gives exact costs), and the same rule at
# every length: the exact DP up to PLAN_DP_MAX links, mcfast._plan's heuristic beyond.
# Python plans with mcfast._plan itself; tests hold the two equal.

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX


cdef inline Py_ssize_t _sat_mul(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """a·b for a, b >= 0, held at PY_SSIZE_T_MAX."""
    if a != 0 and b > PY_SSIZE_T_MAX // a:
        return PY_SSIZE_T_MAX
    return a * b


cdef inline Py_ssize_t _sat_add(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """a + b for a, b >= 0, held at PY_SSIZE_T_MAX."""
    if b > PY_SSIZE_T_MAX - a:
        return PY_SSIZE_T_MAX
    return a + b


cdef inline Py_ssize_t _pair_cost(const Py_ssize_t* dims, const Py_ssize_t* prefix,
                                  Py_ssize_t i, Py_ssize_t s, Py_ssize_t j) noexcept nogil:
    """Multiply-adds of (J_j⋯J_{s+1}) @ (J_s⋯J_i), a range being diagonal when all its
    links are: dense·dense p·q·r, one Diagonal p·r, two Diagonals n."""
    cdef bint right = prefix[s + 1] - prefix[i] == s + 1 - i
    cdef bint left = prefix[j + 1] - prefix[s + 1] == j - s
    if left and right:
        return dims[i]
    if left or right:
        return _sat_mul(dims[j + 1], dims[i])
    return _sat_mul(_sat_mul(dims[j + 1], dims[s + 1]), dims[i])


cdef void _dp_units(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                    Py_ssize_t first, Py_ssize_t step, Py_ssize_t last,
                    Py_ssize_t* cost, Py_ssize_t* split) noexcept nogil:
    """The matrix-chain DP (CLRS §15.2) over the units of links first..last: unit u holds
    links first + u·step .. first + (u+1)·step - 1 (the last unit may be shorter), and
    the cost of a single unit is already in the table (0 for a link, a block's DP result
    for a block). cost[i, j] / split[i, j] are indexed by links: split = the last link of
    the right part. Ties go to the smallest split, as mcfast._plan._dp."""
    cdef Py_ssize_t m = (last - first) // step + 1, length, u, w, t, i, j, s, c, best, best_s
    for length in range(2, m + 1):
        for u in range(m - length + 1):
            w = u + length - 1
            i = first + u * step
            j = min(first + (w + 1) * step, last + 1) - 1
            best = -1
            best_s = i
            for t in range(u, w):
                s = first + (t + 1) * step - 1
                # cost[i, j] = min_s cost[i, s] + cost[s + 1, j] + pair(i, s, j)
                c = _sat_add(_sat_add(cost[i * n + s], cost[(s + 1) * n + j]),
                             _pair_cost(dims, prefix, i, s, j))
                if best < 0 or c < best:
                    best = c
                    best_s = s
            cost[i * n + j] = best
            split[i * n + j] = best_s


cdef Py_ssize_t _blocks(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                        Py_ssize_t* cost, Py_ssize_t* split) noexcept nogil:
    """The DP inside blocks of PLAN_BLOCK links, then over the blocks (_plan._blocks)."""
    cdef Py_ssize_t start = 0, end, s
    while start < n:
        end = min(start + PLAN_BLOCK, n) - 1
        for s in range(start, end + 1):
            cost[s * n + s] = 0
            split[s * n + s] = s
        _dp_units(n, dims, prefix, start, 1, end, cost, split)
        start += PLAN_BLOCK
    _dp_units(n, dims, prefix, 0, PLAN_BLOCK, n - 1, cost, split)
    return cost[n - 1]


cdef inline bint _heap_less(const Py_ssize_t* x, const Py_ssize_t* y) noexcept nogil:
    """Entries (c, r, a, va, vb) ordered as _plan._greedy's tuples (c / max(r, 1), c, a,
    va, vb): the key is the same correctly rounded double while c and r are below 2^53."""
    cdef double kx = <double>x[0] / <double>(x[1] if x[1] > 1 else 1)
    cdef double ky = <double>y[0] / <double>(y[1] if y[1] > 1 else 1)
    if kx != ky:
        return kx < ky
    if x[0] != y[0]:
        return x[0] < y[0]
    if x[2] != y[2]:
        return x[2] < y[2]
    if x[3] != y[3]:
        return x[3] < y[3]
    return x[4] < y[4]


cdef void _heap_push(Py_ssize_t* heap, Py_ssize_t* size, Py_ssize_t c, Py_ssize_t r,
                     Py_ssize_t a, Py_ssize_t va, Py_ssize_t vb) noexcept nogil:
    """A binary min-heap of 5-entry rows: push, sifting up."""
    cdef Py_ssize_t k = size[0], parent, f, tmp
    cdef Py_ssize_t* e = heap + 5 * k
    e[0], e[1], e[2], e[3], e[4] = c, r, a, va, vb
    size[0] = k + 1
    while k > 0:
        parent = (k - 1) // 2
        if not _heap_less(heap + 5 * k, heap + 5 * parent):
            break
        for f in range(5):
            tmp = heap[5 * k + f]
            heap[5 * k + f] = heap[5 * parent + f]
            heap[5 * parent + f] = tmp
        k = parent


cdef void _heap_pop(Py_ssize_t* heap, Py_ssize_t* size, Py_ssize_t* top) noexcept nogil:
    """The least row into top (5 entries), sifting the last one down."""
    cdef Py_ssize_t k = 0, child, f, tmp, n
    for f in range(5):
        top[f] = heap[f]
    n = size[0] - 1
    size[0] = n
    for f in range(5):
        heap[f] = heap[5 * n + f]
    while True:
        child = 2 * k + 1
        if child >= n:
            break
        if child + 1 < n and _heap_less(heap + 5 * (child + 1), heap + 5 * child):
            child += 1
        if not _heap_less(heap + 5 * child, heap + 5 * k):
            break
        for f in range(5):
            tmp = heap[5 * k + f]
            heap[5 * k + f] = heap[5 * child + f]
            heap[5 * child + f] = tmp
        k = child


cdef inline void _greedy_push(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                              const Py_ssize_t* nxt, const Py_ssize_t* version,
                              Py_ssize_t a, Py_ssize_t* heap, Py_ssize_t* size) noexcept nogil:
    cdef Py_ssize_t b = nxt[a]
    if b < n:
        # the segments a..b-1 and b..nxt[b]-1: cost per unit of the size it eliminates
        _heap_push(heap, size, _pair_cost(dims, prefix, a, b - 1, nxt[b] - 1), dims[b], a,
                   version[a], version[b])


cdef Py_ssize_t _greedy(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                        Py_ssize_t* work, Py_ssize_t* split) noexcept nogil:
    """Merge the adjacent pair of segments whose product is cheapest per unit of the size
    it eliminates until one is left (_plan._greedy, the same order of merges). work: 18 n
    entries of scratch. With split not NULL, the bracketing is written there."""
    cdef Py_ssize_t* nxt = work
    cdef Py_ssize_t* prv = work + n
    cdef Py_ssize_t* version = work + 2 * n
    cdef Py_ssize_t* top = work + 3 * n
    cdef Py_ssize_t* heap = work + 3 * n + 5
    cdef Py_ssize_t size = 0, total = 0, a, b
    for a in range(n):
        nxt[a], prv[a], version[a] = a + 1, a - 1, 0
    for a in range(n - 1):
        _greedy_push(n, dims, prefix, nxt, version, a, heap, &size)
    while size > 0:
        _heap_pop(heap, &size, top)
        a = top[2]
        b = nxt[a]
        if b >= n or version[a] != top[3] or version[b] != top[4]:
            continue                    # stale: a or its neighbour changed since
        total = _sat_add(total, top[0])
        if split != NULL:
            split[a * n + nxt[b] - 1] = b - 1
        version[a] += 1
        version[b] += 1
        nxt[a] = nxt[b]
        if nxt[b] < n:
            prv[nxt[b]] = a
        if prv[a] >= 0:
            _greedy_push(n, dims, prefix, nxt, version, prv[a], heap, &size)
        _greedy_push(n, dims, prefix, nxt, version, a, heap, &size)
    return total


cdef void chain_order(Py_ssize_t n,                 # IN  number of links
                      const Py_ssize_t* dims,       # IN  (n + 1,) d_0 .. d_n
                      const unsigned char* diag,    # IN  (n,) 1 for a Diagonal link
                      Py_ssize_t* prefix,           # OUT (n + 1,) scratch: Diagonal counts
                      Py_ssize_t* cost,             # OUT (n, n) fewest multiply-adds of J_j⋯J_i
                      Py_ssize_t* split,            # OUT (n, n) best s: (J_j⋯J_{s+1})(J_s⋯J_i)
                      ) noexcept nogil:
    """The plan of mcfast._plan.plan(order="optimal") for dense and Diagonal links.

    Up to PLAN_DP_MAX links the matrix-chain DP (CLRS §15.2), ties to the smallest split
    s: the whole tables. Longer chains take the cheapest of pure forward, pure reverse,
    the greedy pairing and the block DP, first of those on ties, as mcfast._plan: then
    cost[0, n-1] is its cost and split holds its bracketing along its own tree (what
    chain_steps follows); every other entry is scratch.
    """
    cdef Py_ssize_t i, k, best, c
    cdef int which = 0
    prefix[0] = 0
    for i in range(n):
        prefix[i + 1] = prefix[i] + diag[i]
        cost[i * n + i] = 0
        split[i * n + i] = i
    if n <= PLAN_DP_MAX:
        _dp_units(n, dims, prefix, 0, 1, n - 1, cost, split)
        return
    # forward: ((J2 J1) J3) ...; reverse: J_n (J_{n-1} (...))
    best = 0
    for k in range(1, n):
        best = _sat_add(best, _pair_cost(dims, prefix, 0, k - 1, k))
    c = 0
    for k in range(n - 2, -1, -1):
        c = _sat_add(c, _pair_cost(dims, prefix, k, k, n - 1))
    if c < best:
        best, which = c, 1
    c = _greedy(n, dims, prefix, cost + n, NULL)     # scratch: the rows below the first
    if c < best:
        best, which = c, 2
    c = _blocks(n, dims, prefix, cost, split)        # leaves its bracketing in split
    if c < best:
        best, which = c, 3
    if which == 0:
        for k in range(1, n):
            split[k] = k - 1                         # split[0, k]
    elif which == 1:
        for k in range(n - 2, -1, -1):
            split[k * n + n - 1] = k
    elif which == 2:
        _greedy(n, dims, prefix, cost + n, split)
    cost[n - 1] = best


cdef Py_ssize_t chain_steps(Py_ssize_t n,             # IN  number of links
                            const Py_ssize_t* split,  # IN  (n, n) from chain_order
                            Py_ssize_t* stack,        # OUT (8 n,) scratch
                            Py_ssize_t* steps,        # OUT (n - 1, 2) (left, right) ids
                            ) noexcept nogil:
    """The bracketing of a split table as post-order steps, without recursion: operand
    ids below n are links, n + t the result of step t (the layout of ChainPlan.steps).
    Returns the number of steps, n - 1.

    stack[0 : 6n] holds pending ranges (i, j, done) (at most 2 per tree level + 1);
    stack[7n : 8n] the operand ids of finished ranges.
    """
    cdef Py_ssize_t top = 1, nids = 0, nsteps = 0, i, j, s
    cdef Py_ssize_t* ids = stack + 7 * n
    stack[0], stack[1], stack[2] = 0, n - 1, 0
    while top > 0:
        top -= 1
        i, j = stack[3 * top], stack[3 * top + 1]
        if i == j:
            ids[nids] = i
            nids += 1
        elif stack[3 * top + 2]:
            # both halves done: the later range (s+1..j) finished last, on top
            steps[2 * nsteps] = ids[nids - 1]
            steps[2 * nsteps + 1] = ids[nids - 2]
            ids[nids - 2] = n + nsteps
            nids -= 1
            nsteps += 1
        else:
            s = split[i * n + j]
            stack[3 * top + 2] = 1
            stack[3 * top + 3], stack[3 * top + 4], stack[3 * top + 5] = s + 1, j, 0
            stack[3 * top + 6], stack[3 * top + 7], stack[3 * top + 8] = i, s, 0
            top += 3
    return nsteps


cdef Py_ssize_t _fixed_order(Py_ssize_t n, const Py_ssize_t* dims, const unsigned char* diag,
                             Py_ssize_t* prefix, Py_ssize_t* split,
                             bint reverse) noexcept nogil:
    """The pure forward ((J2 J1) J3 ...) or reverse (J_n (J_{n-1} (...))) bracketing in
    split (along its tree, for chain_steps) and its cost, saturating."""
    cdef Py_ssize_t i, k, total = 0
    prefix[0] = 0
    for i in range(n):
        prefix[i + 1] = prefix[i] + diag[i]
        split[i * n + i] = i
    if reverse:
        for k in range(n - 2, -1, -1):
            split[k * n + n - 1] = k
            total = _sat_add(total, _pair_cost(dims, prefix, k, k, n - 1))
    else:
        for k in range(1, n):
            split[k] = k - 1                         # split[0, k]
            total = _sat_add(total, _pair_cost(dims, prefix, 0, k - 1, k))
    return total


PLAN_MAX_LINKS = PLAN_TABLE_LINKS   # longest chain plan_dense takes (its (n, n) tables)


def plan_dense(const Py_ssize_t[::1] dims not None,         # IN  (n + 1,) d_0 .. d_n
               const unsigned char[::1] diag not None,      # IN  (n,) 1 for a Diagonal
               str order not None):                         # IN  optimal, forward, reverse
    """The plan of a chain of dense and Diagonal links, by the nogil planner (the one
    mcfast.kernels.chain_order runs): (multiply-adds, steps (n - 1, 2) of (left, right)
    operand ids in post-order), or None when a cost passes PY_SSIZE_T_MAX (held there: the
    caller plans in exact integers instead), n < 2 or n > PLAN_MAX_LINKS."""
    cdef Py_ssize_t n = diag.shape[0], total
    cdef int which
    if dims.shape[0] != n + 1:
        raise ValueError("plan_dense: dims must have one entry more than diag")
    which = 0 if order == "optimal" else 1 if order == "forward" else 2 \
        if order == "reverse" else -1
    if which < 0:
        raise ValueError(f"plan_dense: unknown order {order!r}")
    if n < 2 or n > PLAN_TABLE_LINKS:
        return None
    cdef Py_ssize_t[::1] prefix = np.empty(n + 1, dtype=np.intp)
    cdef Py_ssize_t[::1] cost = np.empty(n * n, dtype=np.intp)
    cdef Py_ssize_t[::1] split = np.empty(n * n, dtype=np.intp)
    cdef Py_ssize_t[::1] stack = np.empty(8 * n, dtype=np.intp)
    steps = np.empty((n - 1, 2), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] st = steps
    with nogil:
        if which == 0:
            chain_order(n, &dims[0], &diag[0], &prefix[0], &cost[0], &split[0])
            total = cost[n - 1]
        else:
            total = _fixed_order(n, &dims[0], &diag[0], &prefix[0], &split[0], which == 2)
        chain_steps(n, &split[0], &stack[0], &st[0, 0])
    if total == PY_SSIZE_T_MAX:
        return None
    return total, steps
