"""Jitted kernels (numba, compiled once and cached on disk).

Each kernel takes plain arrays and integers that `ops/` prepared, so kernels stay free of
model parsing and can be tested (or replaced) on their own. Convolutions and fully connected
layers multiply on BLAS in floating point, which is exact here: every product and partial
sum is an integer below the float's 2**24 / 2**53 exactness limit (see `gemm.py`).
"""
