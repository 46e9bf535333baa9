"""All numba options in one place.

``cache=True`` writes compiled code next to the sources so the CLI does not recompile on
every start; ``error_model='numpy'`` lets float division give inf/nan instead of raising;
``nogil`` lets worker threads overlap. Kernels accept read-only and memory-mapped arrays
because numba specialises on the array type at first call.
"""

import numba

_BASE = dict(nogil=True, cache=True, error_model="numpy")


def jit(**extra):
    return numba.njit(**{**_BASE, **extra})


def n_chunks(n_items: int, per_thread: int = 4) -> int:
    """How many work chunks to split ``n_items`` rows into for a parallel kernel."""
    return max(1, min(n_items, numba.get_num_threads() * per_thread))
