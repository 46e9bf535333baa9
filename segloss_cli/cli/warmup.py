"""`segloss warmup`: compile and cache every kernel for the common dtypes ahead of time.

For a Docker image build or a CI cache step (README, "Using segloss in CI"): tiny synthetic
cases go through the library's own code paths (``segloss.score``), so the kernels compile for
the argument types real files give them. Inputs reach the kernels in one canonical form
(kernels/layout.py: read-only, C-ordered, signed labels as unsigned), so an in-memory array
and a .nii, .nii.gz or .npy of the same dtype share one compiled kernel.
"""

from __future__ import annotations

from typing import Any, Optional

import typer

from . import app
from ._common import handle_errors

# Label dtypes written by the common tools: nnU-Net and TotalSegmentator (uint8, int16 after
# resampling in ITK), MONAI/torch exports (int64), SimpleITK (uint16, int32), and float maps
# of integral values (float32, float64; scored after a cast to the smallest integer type).
DEFAULT_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "float32", "float64")
SUPPORTED_DTYPES = (*DEFAULT_DTYPES, "uint64", "bool")
SCORE_DTYPES = ("float32", "float64")


def parse_dtypes(text: Optional[str]) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_DTYPES
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in SUPPORTED_DTYPES]
    if bad or not names:
        raise typer.BadParameter(
            f"unknown dtype {bad[0] if bad else repr(text)}; choose from {', '.join(SUPPORTED_DTYPES)}",
            param_hint="--dtypes",
        )
    return names


def _cases(np: Any, dtype: str) -> list[tuple[Any, Any]]:
    """(PRED, GT) label maps of ``dtype`` that take every branch of the overlap and surface code:
    classes filling the field of view (one shared surface pass), a lone small class (its own
    box) and objects far apart (the global distance search beyond the nearby ball)."""
    shape = (24, 20, 16)
    gt = np.zeros(shape, np.int64)
    gt[2:22, 2:18, 2:8] = 1
    gt[2:22, 2:18, 8:14] = 2
    gt[6:12, 6:12, 4:12] = 3
    pred = np.roll(gt, 1, axis=0)
    pred[pred == 3] = 0
    pred[7:11, 7:11, 5:11] = 3
    far_gt = np.zeros((40, 40, 40), np.int64)
    far_gt[1:4, 1:4, 1:4] = 1
    far_gt[20:22, 20:22, 20:22] = 2
    far_pred = np.zeros_like(far_gt)
    far_pred[34:38, 34:38, 34:38] = 1
    far_pred[20:23, 20:22, 20:22] = 2
    if dtype == "bool":
        return [(pred > 0, gt > 0), (far_pred > 0, far_gt > 0)]
    cases = [(pred.astype(dtype), gt.astype(dtype)), (far_pred.astype(dtype), far_gt.astype(dtype))]
    if dtype in ("int32", "uint32", "int64", "uint64"):
        big = gt.copy()
        big[big == 3] = 70000  # beyond the 65536-entry label table: the general counting path
        cases.append((np.where(pred == 3, 70000, pred).astype(dtype), big.astype(dtype)))
    return cases


def warm(dtypes: tuple[str, ...], *, losses: bool, echo: Any = None) -> int:
    """Score the synthetic cases of every dtype (and with ``losses`` every loss on score maps
    and label maps) with the serial and the parallel kernels (small inputs run the one, large
    ones the other: kernels._jit.PARALLEL_MIN_ITEMS); returns the number of cases scored."""
    from ..kernels._jit import kernel_variant

    n = 0
    for variant in ("serial", "parallel"):
        with kernel_variant(variant):
            n += _warm_variant(dtypes, losses=losses, echo=echo if variant == "parallel" else None)
    return n


def _warm_variant(dtypes: tuple[str, ...], *, losses: bool, echo: Any = None) -> int:
    import numpy as np

    from ..api import score

    spacing = (0.8, 0.9, 2.5)
    n = 0
    for dtype in dtypes:
        for pred, gt in _cases(np, dtype):
            score(pred, gt, spacing_mm=spacing, metrics="all")
            score(pred, gt, spacing_mm=spacing, metrics="distance,directed", surface="surfel")
            if pred.dtype != np.uint8 and gt.dtype.kind in "iu":
                score(pred.astype(np.uint8), gt, spacing_mm=spacing, metrics="all")  # uint8 PRED, a common mix
            n += 1
        if losses:
            pred, gt = _cases(np, dtype)[0]
            score(pred, gt, spacing_mm=spacing, metrics="dice", losses="all")
            n += 1
        if echo:
            echo(f"warmed {dtype}")
    if losses:
        pred, gt = _cases(np, "uint8")[0]
        k = 4
        for sdtype in SCORE_DTYPES:
            rng = np.random.default_rng(0)
            logits = rng.normal(size=(k,) + gt.shape).astype(sdtype)
            probs = np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)
            score(probs.astype(sdtype), gt, spacing_mm=spacing, losses="all")
            score(logits, gt, spacing_mm=spacing, pred_type="logits", losses="all")
            n += 2
            if echo:
                echo(f"warmed {sdtype} scores (probs, logits)")
    return n


@app.command("warmup")
@handle_errors
def warmup_command(
    dtypes: Optional[str] = typer.Option(
        None,
        "--dtypes",
        help=f"Comma-separated label dtypes to compile for (default {','.join(DEFAULT_DTYPES)}).",
    ),
    losses: bool = typer.Option(
        False, "--losses", help="Also compile the losses (probabilities, logits and label maps; float32 and float64)."
    ),
    print_cache_key: bool = typer.Option(
        False,
        "--print-cache-key",
        help="Print the cache key (segloss version and a hash of the kernel sources) and exit; for CI cache keys.",
    ),
) -> None:
    """Compile and cache every kernel ahead of time (Docker build, CI cache step).

    The compiled code goes where every run reads it: NUMBA_CACHE_DIR when set, else beside
    the installed package. Afterwards a fresh process scoring these dtypes compiles nothing.
    """
    if print_cache_key:
        from ..kernels._jit import cache_key

        typer.echo(cache_key())
        return
    chosen = parse_dtypes(dtypes)
    n = warm(chosen, losses=losses, echo=lambda m: typer.echo(m, err=True))
    from numba.core import config  # set by kernels._jit, imported by the first kernel

    cache_dir = config.CACHE_DIR  # type: ignore[attr-defined]  # numba sets it from the environment
    typer.echo(f"segloss warmup: {n} synthetic cases scored; kernels cached in {cache_dir}")
