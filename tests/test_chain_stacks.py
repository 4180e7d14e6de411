"""Stacks of small square chains (issue 21): the batched kernels against the reference and the general path."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mcfast as mc
from mcfast import _stacks
from mcfast import reference as ref
from mcfast._kernels import _stack

SIZES = [2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32]
MIXES = [("dense", "dense", "dense"), ("diag", "dense", "diag"), ("dense", "diag", "dense"),
         ("diag", "diag", "dense"), ("dense",), ("dense", "diag")]
# batch of the chain; each link's batch: "full" (the chain's), "shared" (none), "ones"
BATCHES = [((37,), ("full", "full", "full")), ((37,), ("shared", "full", "full")),
           ((3, 5), ("full", "ones", "full")), ((1, 20), ("full", "full", "shared"))]
TOL = {np.float64: 1e-11, np.float32: 2e-4}


def _links(rng, n, mix, batch, kinds, dtype):
    links, dense = [], []
    for k, kind in enumerate(mix):
        how = kinds[k % len(kinds)]
        b = batch if how == "full" else () if how == "shared" else (1,) * len(batch)
        core = (n,) if kind == "diag" else (n, n)
        a = rng.standard_normal(b + core).astype(dtype)
        links.append(mc.Diagonal(a) if kind == "diag" else a)
        dense.append(ref.Diagonal(a) if kind == "diag" else a)
    return links, dense


def _levels():
    return range(_stack.simd_level()[1] + 1)


def _runs(fn):
    """fn() at every SIMD level and at 1 and 2 threads; the results at each level must be
    bitwise equal across thread counts. -> the results per level."""
    level = _stack.simd_level()[0]
    out = []
    try:
        for lvl in _levels():
            _stack.set_simd_level(lvl)
            with threadpool_limits(1):
                one = np.asarray(fn())
            with threadpool_limits(2):
                two = np.asarray(fn())
            np.testing.assert_array_equal(one, two)
            out.append(one)
    finally:
        _stack.set_simd_level(level)
    return out


def _close(got, want, dtype):
    want = np.asarray(want, dtype=np.float64)
    scale = max(np.abs(want).max(), 1.0)
    assert got.dtype == dtype
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOL[dtype] * scale * 10


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", SIZES)
def test_stacks_against_reference(n, dtype):
    rng = np.random.default_rng(n)
    for mix in MIXES:
        for batch, kinds in BATCHES:
            links, dense = _links(rng, n, mix, batch, kinds, dtype)
            raw = [np.asarray(a.diagonal) if m == "diag" else a for a, m in zip(links, mix)]
            assert _stacks._stack(raw, [m == "diag" for m in mix], (n,) * (len(mix) + 1),
                                  batch) is not None        # the stack kernels run it
            g = rng.standard_normal(batch + (n,)).astype(dtype)
            for fn, rfn in ((mc.grad_chain, ref.grad_chain),
                            (mc.tangent_chain, ref.tangent_chain)):
                want = rfn(dense, g)
                for got in _runs(lambda: fn(links, g)):
                    _close(got, want, dtype)
            if all(m == "diag" for m in mix) or len(mix) < 2:
                continue
            for order in ("optimal", "forward", "reverse"):
                want = ref.jacobian_chain(dense, order=order)
                for got in _runs(lambda: mc.jacobian_chain(links, order=order)):
                    _close(got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacks_keep_non_finite_entries_in_their_own_column_and_row(dtype):
    """A link holding inf and nan: the grad reads rows as padded vectors (n = 3, 5, 6, 7),
    whose extra lanes hold the next row's entries; those must never reach another output.
    Only the column (grad) or row (tangent) of each non-finite entry is non-finite, at
    every level, layout and thread count, as in the reference."""
    rng = np.random.default_rng(11)
    old = _stack.compact_ns()
    try:
        for n in SIZES:
            a = rng.standard_normal((40, n, n)).astype(dtype)
            for c, (r, j) in enumerate(rng.integers(0, n, size=(40, 2))):
                a[c, r, j] = (np.inf, -np.inf, np.nan)[c % 3]
            d = rng.uniform(0.5, 2.0, (40, n)).astype(dtype)
            g = rng.uniform(0.5, 2.0, (40, n)).astype(dtype)
            for fn, rfn in ((mc.grad_chain, ref.grad_chain),
                            (mc.tangent_chain, ref.tangent_chain)):
                # grad: Dᵀ(Aᵀ g), tangent: A(D g): D keeps each entry where it is
                links = [mc.Diagonal(d), a]
                with np.errstate(invalid="ignore"):
                    want = np.asarray(rfn([ref.Diagonal(d), a], g), dtype=np.float64)
                assert (~np.isfinite(want)).sum(axis=1).max() == 1
                for ns in [(), range(17)]:
                    _stack.set_compact_ns(ns, ns)
                    for got in _runs(lambda: fn(links, g)):
                        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
                        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
                        fin = np.isfinite(want)
                        _close(np.where(fin, got, 0), np.where(fin, want, 0), dtype)
    finally:
        _stack.set_compact_table(old)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacks_both_layouts_and_general_path(dtype):
    """The compact and the one-chain layout at every n they serve, and the general batched
    path, agree."""
    rng = np.random.default_rng(5)
    old = _stack.compact_ns()
    try:
        for n in [2, 3, 5, 8, 12, 16]:
            links, _ = _links(rng, n, ("dense", "diag", "dense", "dense"), (70,),
                              ("full", "full", "shared"), dtype)
            g = rng.standard_normal((70, n)).astype(dtype)
            calls = [lambda: mc.grad_chain(links, g), lambda: mc.tangent_chain(links, g),
                     lambda: mc.jacobian_chain(links, order="forward")]
            for call in calls:
                results = []
                for ns in [(), range(17)]:
                    _stack.set_compact_ns(ns, ns)
                    results += _runs(call)
                _stacks.ENABLED = False
                try:
                    general = np.asarray(call())
                finally:
                    _stacks.ENABLED = True
                for got in results:
                    _close(got, general, dtype)
    finally:
        _stack.set_compact_table(old)


def test_compact_layout_choice_is_per_level_and_checked():
    """The layout table has a row per level: setting one level leaves the others; every
    served n in either layout at each level gives the reference; bad n and level are
    refused; the table given back is the one before."""
    old = _stack.compact_ns()
    assert len(old) == 3 and all(len(row) == 2 and len(row[0]) == 2 for row in old)
    rng = np.random.default_rng(12)
    try:
        before = _stack.set_compact_ns(range(17), (), level=0)
        assert before == old
        now = _stack.compact_ns()
        assert now[0] == ((frozenset(range(17)),) * 2, (frozenset(),) * 2)
        assert now[1:] == old[1:]
        _stack.set_compact_ns(([2], [3, 4]), [5], level=1)
        assert _stack.compact_ns()[1] == ((frozenset([2]), frozenset([3, 4])),
                                          (frozenset([5]), frozenset([5])))
        for bad in ([17], [-1]):
            with pytest.raises(ValueError, match="outside 0 ... 16"):
                _stack.set_compact_ns(bad, ())
        with pytest.raises(ValueError, match="level"):
            _stack.set_compact_ns((), (), level=3)
        for ns in ((), range(17)):
            _stack.set_compact_ns(ns, ns)
            for n in (2, 5, 8):
                links, dense = _links(rng, n, ("dense", "diag", "dense"), (19,),
                                      ("full",), np.float64)
                g = rng.standard_normal((19, n))
                want = ref.jacobian_chain(dense)
                for got in _runs(lambda: mc.jacobian_chain(links)):
                    _close(got, want, np.float64)
                want = ref.grad_chain(dense, g)
                for got in _runs(lambda: mc.grad_chain(links, g)):
                    _close(got, want, np.float64)
    finally:
        _stack.set_compact_table(old)
    assert _stack.compact_ns() == old


def test_stacks_plans_layouts_and_out():
    rng = np.random.default_rng(7)
    A, B, C = (rng.standard_normal((50, 4, 4)) for _ in range(3))
    plan = mc.chain_plan([A, B, C])
    want = C @ B @ A
    np.testing.assert_allclose(plan([A, B, C]), want, rtol=1e-12)
    # a stack that is not C-contiguous is copied, a broadcast batch goes the general way
    At = np.ascontiguousarray(A.transpose(0, 2, 1)).transpose(0, 2, 1)
    np.testing.assert_allclose(mc.jacobian_chain([At, B, C]), want, rtol=1e-12)
    Ab = rng.standard_normal((5, 1, 4, 4))
    Bb = rng.standard_normal((1, 6, 4, 4))
    np.testing.assert_allclose(mc.jacobian_chain([Ab, Bb]), Bb @ Ab, rtol=1e-12)
    out = np.empty((50, 4, 4))
    assert mc.jacobian_chain([A, B, C], out=out) is out
    np.testing.assert_allclose(out, want, rtol=1e-12)
    g = rng.standard_normal((50, 4))
    out = np.empty((50, 4))
    assert mc.grad_chain([A, B, C], g, out=out) is out
    np.testing.assert_allclose(out, ref.grad_chain([A, B, C], g), rtol=1e-12)
    # a vector shared by every chain
    np.testing.assert_allclose(mc.tangent_chain([A, B, C], g[0]),
                               ref.tangent_chain([A, B, C], g[0]), rtol=1e-12)


def test_stack_kernel_checks_its_arguments():
    a = np.ones((4, 2, 2))
    out = np.empty((4, 2))
    flags, strides = (False,), (4,)
    assert _stack.stack_chain([a], flags, strides, np.ones((4, 2)), 2, out, 2, 4, _stack.GRAD)
    assert not _stack.stack_chain([a], flags, strides, np.ones((4, 2)), 2, out, 9, 4,
                                  _stack.GRAD)              # n = 9 is not served
    with pytest.raises(ValueError):                          # too few chains in the link
        _stack.stack_chain([a], flags, strides, np.ones((5, 2)), 2, np.empty((5, 2)), 2, 5,
                           _stack.GRAD)
    with pytest.raises(ValueError):                          # a vector with the jacobian
        _stack.stack_chain([a], flags, strides, np.ones((4, 2)), 2, np.empty((4, 2, 2)), 2,
                           4, _stack.JACOBIAN)
    with pytest.raises(ValueError):                          # dtypes differ
        _stack.stack_chain([a.astype(np.float32)], flags, strides, np.ones((4, 2)), 2, out,
                           2, 4, _stack.GRAD)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stack_read_floor_reads_every_element_of_its_block(dtype):
    """READ, the benchmark's floor (mc_stack_read.h, not a rule): out[c] = vec[c] + the sum
    of every link element of c's block of READ_BLOCK chains, a shared link once a block,
    at every level and thread count (large enough for two threads), for every served n,
    a last partial block, Diagonals, a shared vector; no link or vector changed."""
    rng = np.random.default_rng(21)
    blk = _stack.READ_BLOCK
    for n in SIZES:
        nchains = (1 << 17) // (3 * n * n) + blk // 2 + 3      # a partial last block
        dense = rng.standard_normal((nchains, n, n)).astype(dtype)
        diag = rng.standard_normal((nchains, n)).astype(dtype)
        shared = rng.standard_normal((n, n)).astype(dtype)
        v = rng.standard_normal((nchains, n)).astype(dtype)
        copies = [x.copy() for x in (dense, diag, shared, v)]
        links, flags, strides = [dense, diag, shared], (False, True, False), (n * n, n, 0)
        for vec, vstride in ((v, n), (v[0], 0)):
            out = np.empty((nchains, n), dtype)
            got = _runs(lambda: (_stack.stack_chain(links, flags, strides, vec, vstride, out,
                                                    n, nchains, _stack.READ), out.copy())[1])
            sums = np.zeros(nchains)
            for b0 in range(0, nchains, blk):
                part = slice(b0, b0 + blk)
                sums[part] = (dense[part].sum(dtype=np.float64) + diag[part].sum(dtype=np.float64)
                              + shared.sum(dtype=np.float64))
            want = np.broadcast_to(vec, (nchains, n)) + sums[:, None]
            for level_result in got:
                np.testing.assert_allclose(level_result, want, rtol=TOL[dtype] * 100,
                                           atol=TOL[dtype] * 100 * np.abs(sums).max())
        for x, c in zip((dense, diag, shared, v), copies):
            np.testing.assert_array_equal(x, c)
    with pytest.raises(ValueError):                          # READ takes vectors
        _stack.stack_chain([dense], (False,), (n * n,), None, 0, np.empty((nchains, n), dtype),
                           n, nchains, _stack.READ)
    # and is not a mode of the public entry
    assert _stack.fast_stack([dense], v, _stack.READ, mc.Diagonal) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mix", [("dense", "dense", "dense"), ("diag", "dense", "diag"),
                                 ("dense", "diag"), ("dense",), ("diag", "diag", "dense")])
def test_fast_stack_entry_equals_the_general_path_bitwise(mix, dtype):
    """The cheap entry (_stack.fast_stack: plain (B, n, n) stacks, no validation in
    Python), with and without out=, gives the bits of the general path (the same values
    Fortran-ordered, which the entry declines: the checked route, copies, the same
    kernels) at every n, level and thread count, and the reference's values."""
    rng = np.random.default_rng(31)
    for n in SIZES:
        links, dense = _links(rng, n, mix, (45,), ("full",), dtype)
        g = rng.standard_normal((45, n)).astype(dtype)
        slow_links = [mc.Diagonal(np.asfortranarray(a.diagonal)) if isinstance(a, mc.Diagonal)
                      else np.asfortranarray(a) for a in links]
        slow_g = np.asfortranarray(g)
        for fn, rfn, mode in ((mc.grad_chain, ref.grad_chain, _stack.GRAD),
                              (mc.tangent_chain, ref.tangent_chain, _stack.TANGENT)):
            assert _stack.fast_stack(links, g, mode, mc.Diagonal) is not None
            assert _stack.fast_stack(slow_links, slow_g, mode, mc.Diagonal) is None
            out = np.empty((45, n), dtype=dtype)
            fast = _runs(lambda: fn(links, g))
            into = _runs(lambda: fn(links, g, out=out).copy())
            slow = _runs(lambda: fn(slow_links, slow_g))
            for got, got_out, want in zip(fast, into, slow):
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(got_out, want)
            _close(fast[0], rfn(dense, g), dtype)
        if "dense" not in mix or len(mix) < 2:
            assert _stack.fast_stack(links, None, _stack.JACOBIAN, mc.Diagonal) is None
            continue
        out = np.empty((45, n, n), dtype=dtype)
        for order in ("forward", "reverse", "optimal"):
            fast = _runs(lambda: mc.jacobian_chain(links, order=order))
            into = _runs(lambda: mc.jacobian_chain(links, order=order, out=out).copy())
            slow = _runs(lambda: mc.jacobian_chain(slow_links, order=order))
            for got, got_out, want in zip(fast, into, slow):
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(got_out, want)
            _close(fast[0], ref.jacobian_chain(dense), dtype)
        if "diag" not in mix:   # "optimal" on dense square links: the all-reverse nesting
            assert mc.chain_plan(links).order == _nested_reverse(len(mix))


def _nested_reverse(k):
    order = k - 1
    for i in range(k - 2, -1, -1):
        order = (i, order)
    return order


def test_fast_stack_entry_declines_what_it_does_not_take():
    """Anything but plain same-dtype (B, n, n) stacks is left to the general path (None),
    which still gives the reference."""
    rng = np.random.default_rng(32)
    A, B = rng.standard_normal((2, 6, 3, 3))
    g = rng.standard_normal((6, 3))
    D = mc.Diagonal(rng.standard_normal((6, 3)))
    G, J = _stack.GRAD, _stack.JACOBIAN
    cases = [
        ([A, B.astype(np.float32)], g, G),                  # dtypes differ
        ([A, B], g.astype(np.float32), G),
        ([A[:, :, ::-1], B], g, G),                         # not C-contiguous
        ([A, B[0]], g, G),                                  # a link shared by every chain
        ([A, B], g[0], G),                                  # a vector shared by every chain
        ([A, B[:5]], g, G),                                 # batches differ
        ([A, B], g[:, :2], G),                              # the vector does not fit
        ([A[:, :2], B], g, G),                              # a link is not square
        ([rng.standard_normal((6, 9, 9))] * 2, rng.standard_normal((6, 9)), G),  # n = 9
        ([A.astype(np.complex128), B], g, G),
        ([A, B.astype(">f8")], g, G),                       # not native byte order
        ([A[:0], B[:0]], g[:0], G),                         # no chains
        ([np.float64(1.0), B], g, G),
        ([A, B], None, G),                                  # grad without a vector
        ([A, B], g, J),                                     # jacobian with one
        ([D, D], None, J),                                  # Diagonals only
        ([A], None, J),                                     # one link: a copy
        ([A] * 65, g, G),                                   # more links than the kernel's
        (iter([A, B]), g, G),                               # neither a list nor a tuple
    ]
    for links, vec, mode in cases:
        assert _stack.fast_stack(links, vec, mode, mc.Diagonal) is None
    assert _stack.fast_stack([A, D], None, J, mc.Diagonal, True) is None   # dense_only
    out = np.empty((6, 3))
    # too few rows, another dtype, not C-contiguous, the jacobian's shape
    for bad_out in (out[:5], out.astype(np.float32), np.empty((3, 6)).T, np.empty((6, 3, 3))):
        assert _stack.fast_stack([A, B], g, G, mc.Diagonal, False, bad_out) is None
    readonly = np.empty((6, 3))
    readonly.flags.writeable = False
    assert _stack.fast_stack([A, B], g, G, mc.Diagonal, False, readonly) is None
    assert _stack.fast_stack([A, B], g, G, mc.Diagonal, False, g) is None    # out is the vector
    Ac = A.copy()
    assert _stack.fast_stack([Ac, B], None, J, mc.Diagonal, False, Ac) is None  # out is a link
    np.testing.assert_allclose(mc.jacobian_chain([Ac, B], out=Ac), B @ A, rtol=1e-12)
    gc = g.copy()
    np.testing.assert_allclose(mc.grad_chain([A, B], gc, out=gc),
                               ref.grad_chain([A, B], g), rtol=1e-12)
    assert _stack.fast_stack([A, B], g, G, mc.Diagonal, False, out) is out
    assert _stack.fast_stack((A, D), g, G, mc.Diagonal) is not None
    for links, vec in (([A, B[0]], g), ([A[:, :, ::-1], B], g), ([A, B], g[0])):
        np.testing.assert_allclose(mc.grad_chain(links, vec), ref.grad_chain(links, vec),
                                   rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacks_threaded_bitwise(dtype):
    """Stacks large enough for two threads give the one-thread result bit for bit."""
    rng = np.random.default_rng(11)
    for n in SIZES:
        nchains = (1 << 16) // (3 * n * n) + 37
        links, dense = _links(rng, n, ("dense", "diag", "dense", "dense"), (nchains,),
                              ("full",), dtype)
        g = rng.standard_normal((nchains, n)).astype(dtype)
        got = _runs(lambda: mc.grad_chain(links, g))
        _close(got[-1], ref.grad_chain(dense, g), dtype)
        _runs(lambda: mc.tangent_chain(links, g))
        got = _runs(lambda: mc.jacobian_chain(links))
        _close(got[-1], ref.jacobian_chain(dense), dtype)


def test_stack_chunks_are_long_runs_of_whole_chains():
    """The driver's tasks: whole chains, a multiple of MC_STK_CHUNK_ALIGN, about four a
    thread, each between 32 KB and 1 MB of links (bigger runs stream from memory; the
    bits do not depend on them: test_stacks_threaded_bitwise)."""
    align = _stack.CHUNK_ALIGN
    for nchains, chain_bytes, threads in [(1, 96, 1), (10_000, 96, 2), (700_000, 96, 2),
                                          (2_731, 24_576, 2), (5, 1 << 20, 2),
                                          (10**7, 24, 64), (123_457, 3_000, 3)]:
        chunk = _stack.chunk_chains(nchains, chain_bytes, threads)
        assert chunk >= align and chunk % align == 0
        total = nchains * chain_bytes
        if chain_bytes * align <= 32 * 1024:
            assert chunk * chain_bytes >= 32 * 1024 - chain_bytes * align
        if chain_bytes * align <= 1 << 20:
            assert chunk * chain_bytes <= 1 << 20
        target = total // (4 * threads)
        if 32 * 1024 <= target <= 1 << 20 and align * chain_bytes <= target // 2:
            tasks = -(-nchains // chunk)                # about four a thread
            assert 4 * threads <= tasks <= 8 * threads, (nchains, chain_bytes, threads, tasks)
    # 64 MB of 2 × 2 chains on two threads: 1 MB tasks, not the 32 KB ones of before
    assert _stack.chunk_chains(700_000, 96, 2) * 96 > 1000 * 1024


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacks_streamed_output_bitwise(dtype):
    """An output past MC_STK_STREAM_BYTES (8 MiB) is written with streaming stores
    (mc_stack_stream.h): the same bits as the chains computed in small stacks at the same
    level, at 1 and 2 threads, into a fresh output and into out= one or two elements
    past an aligned start (the lines shared with the neighbour chains take ordinary stores)."""
    rng = np.random.default_rng(12)
    level = _stack.simd_level()[0]
    # chains whose streamed result comes from different products: three dense links, two
    # (the first product the last), a Diagonal first (that product not tiled), four links,
    # both orders
    mixes = [("dense",) * 3, ("dense", "dense"), ("diag", "dense"),
             ("dense", "diag", "dense", "dense")]
    try:
        for n, mix, order in [(3, mixes[0], "forward"), (16, mixes[0], "forward"),
                              (24, mixes[0], "reverse"), (16, mixes[1], "forward"),
                              (12, mixes[2], "reverse"), (16, mixes[3], "forward"),
                              (24, mixes[3], "reverse")]:
            item = np.dtype(dtype).itemsize
            nchains = (8 << 20) // (n * n * item) + 5
            links = [mc.Diagonal(rng.standard_normal((nchains, n)).astype(dtype))
                     if kind == "diag" else rng.standard_normal((nchains, n, n)).astype(dtype)
                     for kind in mix]
            part = [(lambda i: (lambda a: mc.Diagonal(a.diagonal[i:i + 1000])
                                if isinstance(a, mc.Diagonal) else a[i:i + 1000]))(i)
                    for i in range(0, nchains, 1000)]
            for lvl in _levels():
                _stack.set_simd_level(lvl)
                want = np.concatenate([mc.jacobian_chain([cut(a) for a in links], order=order)
                                       for cut in part])
                for threads in (1, 2):
                    with threadpool_limits(threads):
                        np.testing.assert_array_equal(mc.jacobian_chain(links, order=order),
                                                      want)
                        for shift in (1, 2):
                            buf = np.zeros(nchains * n * n + 3, dtype)
                            out = buf[shift:shift + nchains * n * n].reshape(nchains, n, n)
                            assert mc.jacobian_chain(links, out=out, order=order) is out
                            np.testing.assert_array_equal(out, want)
                            assert buf[0] == 0 and buf[-1] == 0
    finally:
        _stack.set_simd_level(level)
