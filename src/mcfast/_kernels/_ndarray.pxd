# cython: language_level=3
"""Checks of ndarrays in compiled code, shared by the fast entries of the kernel modules."""
cimport numpy as cnp


cdef inline bint plain(object a, int typenum, int ndim) noexcept:
    """a is exactly an ndarray, C-contiguous, in native byte order, of the given type number
    and ndim: what a kernel may read (or write) through its data pointer as is.

    The type number alone does not say the byte order ('>f8' and '<f8' are both
    NPY_DOUBLE), so a non-native array is declined here and converted by the caller.
    """
    return (cnp.PyArray_CheckExact(a) and cnp.PyArray_NDIM(<cnp.ndarray>a) == ndim
            and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a))


cdef inline bint disjoint(cnp.ndarray a, cnp.ndarray b):
    """The memory of two C-contiguous arrays does not overlap."""
    cdef char* pa = <char*>cnp.PyArray_DATA(a)
    cdef char* pb = <char*>cnp.PyArray_DATA(b)
    return pa + cnp.PyArray_NBYTES(a) <= pb or pb + cnp.PyArray_NBYTES(b) <= pa
