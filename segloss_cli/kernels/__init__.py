"""Numba kernels: the only package that imports numba.

Private workers: no validation, no segloss types, plain arrays in and out. The public
wrappers in metrics/, losses/ and io/ validate and call these.
"""
