"""Shared test helpers: the same values in every memory layout, and input snapshots."""

import numpy as np
import pytest

LAYOUTS = ["C", "F", "strided", "negative", "readonly", "swapped"]
DTYPES = [np.float32, np.float64]


def in_layout(a, layout):
    """`a`'s values in the given memory layout (a new array; `a` is untouched)."""
    a = np.asarray(a)
    if a.ndim == 0 and layout in ("strided", "negative"):
        return np.array(a)  # a 0-d array has no strides to vary
    if layout == "C":
        return np.array(a, order="C")
    if layout == "F":
        return np.array(a, order="F")
    if layout == "strided":
        # every other element of a twice-as-large buffer, along every axis
        big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "negative":
        rev = np.array(a[tuple(slice(None, None, -1) for _ in a.shape)], order="C")
        return rev[tuple(slice(None, None, -1) for _ in a.shape)]
    if layout == "swapped":
        # C-contiguous in the non-native byte order ('>f8' on a little-endian machine):
        # the type number is the native one's, so a check of it alone reads garbage
        return np.array(a, order="C").astype(a.dtype.newbyteorder())
    if layout == "readonly":
        b = np.array(a)
        b.flags.writeable = False
        return b
    raise ValueError(layout)


def rtol_for(dtype):
    """Comparison tolerance of fast path against reference for a working dtype."""
    return 2e-4 if np.dtype(dtype) == np.float32 else 1e-11


class Snapshot:
    """Copies of the inputs, to assert afterwards that nothing modified them."""

    def __init__(self, *arrays):
        self.arrays = arrays
        self.copies = [np.array(a, copy=True) for a in arrays]

    def assert_unchanged(self):
        for a, c in zip(self.arrays, self.copies):
            np.testing.assert_array_equal(a, c)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
