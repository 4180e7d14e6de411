# The cheap entry for one vector through Kronecker links (included by _chain.pyx)

cdef inline bint _factor_ok(object f, int typenum) noexcept:
    """A Kronecker factor NumPy's dot may read as is: an exact ndarray of the type number, in
    native byte order, with no zero-size axis (any strides: dot copies what BLAS cannot
    read)."""
    return (cnp.PyArray_CheckExact(f) and cnp.PyArray_TYPE(<cnp.ndarray>f) == typenum
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>f)
            and cnp.PyArray_DIMS(<cnp.ndarray>f)[0] > 0
            and cnp.PyArray_DIMS(<cnp.ndarray>f)[1] > 0)


cdef inline object _reshaped(cnp.ndarray x, int ndim, Py_ssize_t rows, Py_ssize_t cols):
    """x (C-contiguous, rows·cols entries) viewed as a (rows, cols) matrix (ndim 2) or a
    (rows,) vector (ndim 1)."""
    cdef cnp.npy_intp shape[2]
    cdef cnp.PyArray_Dims dims
    shape[0], shape[1] = rows, cols
    dims.ptr, dims.len = shape, ndim
    return cnp.PyArray_Newshape(x, &dims, cnp.NPY_CORDER)


def fast_kron_vector(object links, object vector, bint grad, type kronecker):
    """J1ᵀ(⋯(Jnᵀ g)) (grad) or Jn(⋯(J1 t)) when every link is a `kronecker`, or None.

    The vector is a C-contiguous float ndarray and the factors ndarrays of its dtype (any
    strides) in native byte order; anything else returns None (the general path, which
    also reports every error). Each link is two matrix products through NumPy's dot (its
    BLAS, as the Python path's np.matmul), in the order the link chose when made:
    forward Y = A X Bᵀ, adjoint Y = Aᵀ X B, X the vector as a matrix. Checking in C and
    calling dot from C is what the Python path spends on top of those products.
    """
    cdef Py_ssize_t n, k, step, length, rows, cols
    cdef int typenum
    cdef cnp.ndarray x
    typenum = _fast_vector_args(links, vector)
    if typenum < 0:
        return None
    n = len(links)
    length = cnp.PyArray_DIMS(<cnp.ndarray>vector)[0]
    for step in range(n):
        link = links[n - 1 - step if grad else step]
        if type(link) is not kronecker:
            return None
        A, B = link.A, link.B
        if not _factor_ok(A, typenum) or not _factor_ok(B, typenum):
            return None
        # the sizes the vector has on entering this link, and on leaving it
        rows = cnp.PyArray_DIMS(<cnp.ndarray>A)[0] * cnp.PyArray_DIMS(<cnp.ndarray>B)[0]
        cols = cnp.PyArray_DIMS(<cnp.ndarray>A)[1] * cnp.PyArray_DIMS(<cnp.ndarray>B)[1]
        if length != (rows if grad else cols):
            return None
        length = cols if grad else rows
    x = <cnp.ndarray>vector
    for step in range(n):
        link = links[n - 1 - step if grad else step]
        A, B = link.A, link.B
        if grad:
            # Y = Aᵀ X B, X (pa, pb): (Aᵀ X) B or Aᵀ (X B), as the link chose
            X = _reshaped(x, 2, cnp.PyArray_DIMS(<cnp.ndarray>A)[0],
                          cnp.PyArray_DIMS(<cnp.ndarray>B)[0])
            At = cnp.PyArray_Transpose(<cnp.ndarray>A, NULL)
            if link.a_first[1]:
                Y = cnp.PyArray_MatrixProduct(cnp.PyArray_MatrixProduct(At, X), B)
            else:
                Y = cnp.PyArray_MatrixProduct(At, cnp.PyArray_MatrixProduct(X, B))
        else:
            # Y = A X Bᵀ, X (qa, qb): (A X) Bᵀ or A (X Bᵀ)
            X = _reshaped(x, 2, cnp.PyArray_DIMS(<cnp.ndarray>A)[1],
                          cnp.PyArray_DIMS(<cnp.ndarray>B)[1])
            Bt = cnp.PyArray_Transpose(<cnp.ndarray>B, NULL)
            if link.a_first[0]:
                Y = cnp.PyArray_MatrixProduct(cnp.PyArray_MatrixProduct(A, X), Bt)
            else:
                Y = cnp.PyArray_MatrixProduct(A, cnp.PyArray_MatrixProduct(X, Bt))
        x = <cnp.ndarray>Y
    return _reshaped(x, 1, length, 1)
