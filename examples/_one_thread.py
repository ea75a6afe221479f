"""Imported first by the examples written as plain scripts (keras_mnist.py), for its side effect: every thread pool
(BLAS, OpenMP, Numba) gets 1 thread, or N with ``--threads N`` on the command line, as in the other examples. It
must run before NumPy starts its BLAS threads, hence an import rather than a call after the imports."""

import sys

from _threads import pin_threads, threads_flag

pin_threads(threads_flag(sys.argv))
