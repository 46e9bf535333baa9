"""Shared test helpers. Fixtures here are used by every test module."""

import os

import numpy as np
import pytest
from hypothesis import settings

# CI draws the same examples every run (style.md: a fixed seed in CI), so a submission's
# result does not depend on luck; a local run explores new ones (and replays failures).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# The quick lane: NUMBA_DISABLE_JIT=1 runs every kernel as Python (README, "Setup"), so logic
# tests need no compilation. Tests marked ``compiled`` need compiled code itself (specialisations,
# cache files, bit equality that holds for compiled arithmetic only) or arrays large enough to
# take minutes as Python, and are skipped there; property tests draw a tenth of their examples.
NO_JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
NO_JIT_EXAMPLES = 0.1


def _starts_processes(source: str) -> bool:
    return "subprocess." in source or "Popen(" in source


def pytest_collection_modifyitems(config, items):
    """Mark the tests that start a child process ``subprocess`` (pyproject's marker): those whose
    own source, or a module-level helper they call, runs subprocess/Popen. Explicit marks stay.
    Under NUMBA_DISABLE_JIT, skip the ``compiled`` tests and draw fewer property examples."""
    import inspect

    if NO_JIT:
        _quick_lane(items)

    helpers: dict[object, set[str]] = {}
    for item in items:
        fn = getattr(item, "function", None)
        if fn is None or item.get_closest_marker("subprocess"):
            continue
        module = inspect.getmodule(fn)
        if module not in helpers:
            names = set()
            for name, obj in vars(module).items():
                if inspect.isfunction(obj) and not name.startswith("test") and obj.__module__ == module.__name__:
                    try:
                        if _starts_processes(inspect.getsource(obj)):
                            names.add(name)
                    except (OSError, TypeError):
                        pass
            helpers[module] = names
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
        if _starts_processes(source) or any(f"{h}(" in source for h in helpers[module]):
            item.add_marker(pytest.mark.subprocess)


def _quick_lane(items):
    skip = pytest.mark.skip(reason="needs compiled kernels (NUMBA_DISABLE_JIT=1 is set)")
    for item in items:
        if item.get_closest_marker("compiled"):
            item.add_marker(skip)
            continue
        test = getattr(item, "obj", None)
        # hypothesis keeps a test's @settings on the wrapped function under this name
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None:
            fewer = max(5, int(own.max_examples * NO_JIT_EXAMPLES))
            test._hypothesis_internal_use_settings = settings(own, max_examples=fewer)


def write_nifti(path, array, spacing=(1.0, 1.0, 1.0), affine=None):
    """Save ``array`` as NIfTI with ``spacing`` (and a diagonal affine unless given)."""
    import nibabel as nib

    array = np.asarray(array)
    if affine is None:
        affine = np.eye(4)
        for i, s in enumerate(spacing[:3]):
            affine[i, i] = s
    img = nib.Nifti1Image(array, affine)
    zooms = tuple(spacing[: min(3, array.ndim)]) + (1.0,) * (array.ndim - min(3, array.ndim))
    img.header.set_zooms(zooms)
    nib.save(img, str(path))
    return path


def sigint_default():
    """Popen preexec_fn: give the child the default SIGINT disposition.

    A shell running a job in the background (CI scripts, `cmd &`) starts it with SIGINT
    ignored, and Python then keeps it ignored, so a Ctrl-C test would test nothing. The
    child gets the disposition an interactive user's process has.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
