"""What every worker of a local Dask cluster imports before its first case, imported once.

backends/dask.py starts the workers of ``--scheduler local[:N]`` from a multiprocessing
forkserver that imports this module first: each worker is then a fork of a process that has
already imported distributed, numpy, numba, segloss's per-case code and every kernel module,
and initialised numba's CPU target (its type registries, loaded at the first kernel call),
instead of doing all of it itself after a fresh interpreter start (about 0.8 s of CPU a
worker). No kernel runs here: a process forked after a parallel kernel ran dies (GNU
OpenMP), and the workers load their compiled kernels from numba's cache themselves.

The workers run only segloss tasks, so numba's BLAS probe is skipped as in the CLI's own
process (kernels/_jit.py, segloss_cli.CLI_PROCESS).
"""

import importlib
import pkgutil
import sys
from types import FrameType
from typing import Optional

import segloss_cli

if "segloss_cli.kernels._jit" not in sys.modules:
    segloss_cli.CLI_PROCESS = True

import distributed  # noqa: E402, F401

from .. import evaluate, folder  # noqa: E402, F401
from .. import kernels as _kernels  # noqa: E402

for _module in pkgutil.iter_modules(_kernels.__path__):
    importlib.import_module(f"{_kernels.__name__}.{_module.name}")


def _in_forkserver() -> bool:
    """Whether this import runs in multiprocessing's forkserver (its main() is on the stack)."""
    frame: Optional[FrameType] = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_globals.get("__name__") == "multiprocessing.forkserver":
            return True
        frame = frame.f_back
    return False


if _in_forkserver():
    # The forkserver holds nothing to flush: when the run stops it (backends/dask.py waits for
    # it), it leaves at once instead of tearing down numba, LLVM and every module (~0.3 s).
    # Its forked children never run atexit handlers (multiprocessing ends them with os._exit).
    import atexit
    import os

    atexit.register(os._exit, 0)

try:  # numba internals: what its first compile or cache load would do
    from numba.core.registry import cpu_target

    cpu_target.target_context.refresh()
except (ImportError, AttributeError):  # pragma: no cover - another numba: the first case does it
    pass
