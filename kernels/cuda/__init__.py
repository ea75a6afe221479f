"""numba.cuda kernels: the same contracts as ``minidl_kernels.reference``, on device arrays (CuPy on a GPU, NumPy
under Numba's CUDA simulator). ``runtime`` says how they are launched; each family has its module."""
