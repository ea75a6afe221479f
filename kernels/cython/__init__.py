"""Cython kernels, compiled by ``setup.py`` against NumPy's headers."""
