"""All numba options in one place.

``cache=True`` writes compiled code next to the sources so the CLI does not recompile on
every start; ``error_model='numpy'`` lets float division give inf/nan instead of raising;
``nogil`` lets worker threads overlap. Kernels accept read-only and memory-mapped arrays
because numba specialises on the array type at first call.
"""

import os

# OpenMP's default "active" wait spins between parallel regions; on a busy or shared machine
# (more runnable threads than cores) every prange launch then waits ~20 ms for descheduled
# spinners, which dominates kernels launched many times (per class, per EDT pass). Passive
# waiting costs ~0.1 ms per launch. Must be set before the first parallel launch; a user's
# own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import contextlib  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.core.extending import intrinsic  # noqa: E402

import segloss_cli as _package  # noqa: E402


def _skip_blas_probe() -> None:
    """Answer numba's BLAS probe with "no BLAS" without importing scipy.

    The first kernel that compiles or loads from numba's cache imports numba.np.arraymath,
    which probes for BLAS by importing scipy.linalg: about 0.1-0.2 s of every CLI run when scipy
    is installed, for functions (np.dot, np.linalg) no segloss kernel uses. The CLI process
    runs only segloss kernels, so it hides scipy for the one import of arraymath that runs
    the probe. Library users keep numba's normal behaviour: only the `segloss` command's
    own process (segloss_cli.CLI_PROCESS, set by cli.main) does this.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # `import scipy.linalg...` fails fast
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules["scipy.linalg"]


if _package.CLI_PROCESS:
    _skip_blas_probe()


def _sources_key() -> str:
    """A hash of every kernel source file and the segloss version."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha1(str(_package.__version__).encode())
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def cache_key() -> str:
    """``<segloss version>-<hash of the kernel sources>``: what the cache folder is keyed on
    (``segloss warmup --print-cache-key``, for a CI cache key)."""
    return f"{_package.__version__}-{_sources_key()}"


def _keyed_cache_dir() -> None:
    """Put every cached kernel under a folder named by a hash of all kernel sources.

    numba keys a cached function on its own file only, and inlines helpers from other files
    into it: an edited helper in confusion.py left surface.py's kernels running the old code
    from the cache. With the folder keyed on every kernel file (and the version), any change
    in kernels/ recompiles every kernel. The folder sits under NUMBA_CACHE_DIR when that is
    set, else beside these sources (``__pycache__``), else in the user's cache directory when
    the package folder is not writable (a system install).
    """
    from pathlib import Path

    from numba.core import config

    key = f"segloss-{_sources_key()}"
    if os.environ.get("NUMBA_CACHE_DIR"):
        base = Path(os.environ["NUMBA_CACHE_DIR"])
    else:
        base = Path(__file__).parent / "__pycache__"
        if not (os.access(base, os.W_OK) or (not base.exists() and os.access(base.parent, os.W_OK))):
            base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segloss"
    config.CACHE_DIR = str(base / key)  # type: ignore[attr-defined]  # numba sets it from the environment


_keyed_cache_dir()

_BASE = dict(nogil=True, cache=True, error_model="numpy")
_NO_JIT = bool(numba.config.DISABLE_JIT)  # type: ignore[attr-defined]  # set from NUMBA_DISABLE_JIT

# Kernels declared parallel=True get a serial twin, used for calls whose largest array has
# fewer elements than this (or when only one thread is available): compiling the prange version costs 2-6x
# more CPU than the serial one (parfor analysis and an outlined gufunc per loop), while two or
# more threads save little on a small input. A 240x240x155 BraTS volume (8.9M voxels) runs
# the parallel version; the README's sample (2.7M voxels) and the test suite's small arrays
# run the serial one and never compile the parallel one.
PARALLEL_MIN_ITEMS = 1 << 22

# "serial" or "parallel" forces every kernel to that variant (tests compare the two; `segloss
# warmup` compiles both); None chooses by size. SEGLOSS_KERNEL_VARIANT sets it in a child process.
_forced: list[str | None] = [os.environ.get("SEGLOSS_KERNEL_VARIANT") or None]


class ParallelKernel:
    """A prange kernel compiled twice on demand: ``parallel`` and its ``serial`` twin.

    Both run the same source with the same fixed chunks (``CHUNKS``), so their results are the
    same bits; a call picks one by the size of its largest array argument. The twin is a copy of
    the function under another qualified name, so numba caches it in its own files.
    """

    def __init__(self, func, options):
        self.py_func = func
        self.parallel = numba.njit(**{**options, "parallel": True})(func)
        twin = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
        twin.__qualname__ = func.__qualname__ + "__serial"
        twin.__doc__ = func.__doc__
        twin.__module__ = func.__module__
        self.serial = numba.njit(**{**options, "parallel": False})(twin)
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def __call__(self, *args):
        forced = _forced[0]
        if forced is None:
            n = 0
            for a in args:
                if isinstance(a, np.ndarray) and a.size > n:
                    n = a.size
            # get_num_threads starts numba's thread pool: asked only when the input is big
            use_parallel = n >= PARALLEL_MIN_ITEMS and numba.get_num_threads() > 1
        else:
            use_parallel = forced == "parallel"
        return (self.parallel if use_parallel else self.serial)(*args)


@contextlib.contextmanager
def kernel_variant(which: str | None):
    """Run every ParallelKernel as ``which`` ("serial", "parallel"; None: by size) inside."""
    before = _forced[0]
    _forced[0] = which
    try:
        yield
    finally:
        _forced[0] = before


def _as_compiled(func):
    """``func`` run as Python with compiled code's arithmetic: integers wrap and float division
    gives inf/nan without numpy's warnings (which the CLI turns into errors). For
    NUMBA_DISABLE_JIT, where kernels run as Python; helpers inlined into a kernel run inside it."""
    import functools

    @functools.wraps(func)
    def run(*args):
        with np.errstate(all="ignore"):
            return func(*args)

    return run


def jit(**extra):
    options = {**_BASE, **extra}
    if _NO_JIT:
        return (lambda func: func) if options.get("inline") else _as_compiled
    if options.get("parallel"):
        return lambda func: ParallelKernel(func, options)
    return numba.njit(**options)


def _borrowed_python(arr):
    return arr


if _NO_JIT:
    borrowed = _borrowed_python
else:

    @intrinsic
    def borrowed(typingctx, arr):
        """The same array without its reference count (a null meminfo): for input arrays that
        a kernel passes to inline helpers in its hot loops.

        numba copies an array argument of an inlined helper and increments and decrements its
        reference count around every call where the helper reads it inside a branch: atomic
        operations per voxel that made serial kernels 5-10x slower than their prange twins
        (whose loop bodies see arrays without a meminfo). Only for arguments the kernel only
        reads, and then only through the view: the caller holds them for the whole call, and
        numba does not know the view aliases its source. Never for an array the kernel allocates:
        numba would not know the view aliases it (a prange loop then hoisted a chunk-local
        buffer written only through the view out of the loop: every chunk shared it).
        """
        if not isinstance(arr, numba.types.Array):
            return None

        def codegen(context, builder, sig, args):
            src = context.make_array(sig.args[0])(context, builder, args[0])
            out = context.make_array(sig.return_type)(context, builder)
            out.meminfo = cgutils.get_null_value(out.meminfo.type)
            for field in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
                setattr(out, field, getattr(src, field))
            return out._getvalue()

        return arr(arr), codegen


# A fixed number of chunks, not a multiple of the thread count: kernels merge per-chunk partial
# results in chunk order, so a float reduction gives the same bits whatever the number of
# threads (NUMBA_NUM_THREADS, or `--jobs` worker processes that each get fewer threads).
# 16 keeps up to ~8 threads load-balanced; more chunks cost per-chunk buffers (scan_int_labels
# keeps a 64 KiB presence table per chunk).
CHUNKS = 16


def n_chunks(n_items: int) -> int:
    """How many work chunks to split ``n_items`` rows into (independent of threads, see CHUNKS)."""
    return max(1, min(n_items, CHUNKS))


def one_specialisation(dispatcher, *argtypes):
    """Pin ``dispatcher`` to the one specialisation ``argtypes``, compiled (or loaded from the
    cache) at its first call; later calls convert their arguments to it instead of compiling
    another (e.g. a C-ordered array and a transposed view both run the 'A' code).

    For kernels called with several layouts of one dtype, where a second compile would cost
    more than the generic strided code. Returns the dispatcher (a plain function under
    NUMBA_DISABLE_JIT, where there is nothing to pin).
    """
    if isinstance(dispatcher, ParallelKernel):
        pinned = object.__new__(ParallelKernel)
        pinned.__dict__.update(dispatcher.__dict__)
        pinned.serial = one_specialisation(dispatcher.serial, *argtypes)
        pinned.parallel = one_specialisation(dispatcher.parallel, *argtypes)
        return pinned
    if not hasattr(dispatcher, "disable_compile"):
        return dispatcher
    state = {"ready": False}

    def call(*args):
        if not state["ready"]:
            dispatcher.compile(tuple(argtypes))
            dispatcher.disable_compile()
            state["ready"] = True
        return dispatcher(*args)

    call.dispatcher = dispatcher  # for tests that count signatures
    return call
