"""Compiled kernels of mcfast (Cython); the .pxd files beside them are the cimport API."""
