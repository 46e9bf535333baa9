"""The label scan: one pass over the voxels that validates the maps and counts what is there.

Between io (raw volumes) and the metrics: label maps are checked (integers or integral
floats, no negative label) and their labels listed; for the usual case of two integer label
maps one pass over both also tabulates every label (``LabelHistograms``), so the overlap
counts need no second pass. A score map is checked (finite, probabilities in [0, 1] summing
to 1) and reduced to hard labels in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .errors import InputError, UsageError
from .io.prediction import LoadParams
from .metrics.overlap import Counts
from .model import Prediction, Volume


def integral_labels(arr: np.ndarray, path: str, role: str) -> np.ndarray:
    """An integer label map: integer arrays as they are, floats with integral values cast to
    the smallest integer type that holds them; NaN, Inf and fractional values are errors."""
    from .kernels import labels as K
    from .kernels._jit import n_chunks
    from .kernels.layout import as_kernel_3d, spatial_order

    if arr.dtype.kind == "f":
        order = spatial_order(arr)
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        view = as_kernel_3d(arr, order)
        nonfinite, nonintegral, bad, lo, hi = K.scan_float_labels(view, n_chunks(view.shape[0] * view.shape[1]))
        if nonfinite:
            raise InputError(f"{role} label map has {nonfinite} NaN/Inf voxels; fix the file", path)
        if nonintegral:
            hint = (
                "a ground truth must be a label map (PRED comes first, GT second)"
                if role == "GT"
                else "or pass @pred_type=probs (or logits) if it is a score map"
            )
            raise InputError(
                f"{role} label map has {nonintegral} non-integer values (e.g. {bad:g}); resample label maps "
                f"with nearest-neighbour interpolation; {hint}",
                path,
            )
        if max(abs(lo), abs(hi)) > 2.0**53:
            raise InputError(
                f"{role} label map holds {hi if abs(hi) >= abs(lo) else lo:g}, beyond the integers a float stores "
                "exactly (2**53); save label maps as integers",
                path,
            )
        lo_i, hi_i = int(lo), int(hi)
        dtype = np.result_type(np.min_scalar_type(lo_i), np.min_scalar_type(hi_i))
        return arr.astype(dtype, order="K")
    if arr.dtype.kind not in "biu":
        raise InputError(f"{role} has dtype {arr.dtype}; expected an integer label map", path)
    return arr


def check_ignore_label(dtype: np.dtype, ignore_label: Optional[int], path: str) -> None:
    """An ignore label that GT's stored type cannot hold (-1 in uint8, 300 in uint8) can never
    match a voxel: a usage error, not a run that silently ignores nothing. A negative ignore
    label in a signed map is a void label like any other (its voxels are left out)."""
    if ignore_label is None or dtype.kind not in "biu":
        return  # float maps hold any integer up to 2**53 (larger ones are refused by the scan)
    lo, hi = (0, 1) if dtype.kind == "b" else (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    if lo <= ignore_label <= hi:
        return
    hint = ""
    if ignore_label < 0 and dtype.kind in "bu" and -ignore_label <= hi + 1:
        stored = ignore_label % (hi + 1)
        hint = f" ({ignore_label} written as {dtype} is stored as {stored}: pass @ignore_label={stored})"
    raise UsageError(
        f"@ignore_label {ignore_label} can never occur in GT: its labels are stored as {dtype} ({lo}..{hi}); "
        f"give the ignore label as the file stores it{hint}",
        path,
    )


def validate_label_map(arr: np.ndarray, path: str, role: str, ignore_label: Optional[int]):
    """Check a label map and return (integer array, sorted labels present as int64).

    Floats with integral values are accepted and cast to the smallest integer type; NaN,
    Inf, fractional and negative labels are errors.
    """
    from .kernels import labels as K
    from .kernels._jit import n_chunks
    from .kernels.layout import as_kernel_3d, as_unsigned, spatial_order

    arr = integral_labels(arr, path, role)
    order = spatial_order(arr)
    view = as_kernel_3d(arr, order)
    present, lo, hi, outside = K.scan_int_labels(view, n_chunks(view.shape[0] * view.shape[1]))
    if lo < 0 and arr.dtype == np.uint64:
        raise InputError(f"{role} has labels >= 2**63; labels must fit a signed 64-bit integer", path)
    if lo < 0 and not (ignore_label is not None and ignore_label < 0 and _only_negative_is(view, ignore_label)):
        raise InputError(
            f"{role} has negative labels (min {lo}); labels must be >= 0 (use @ignore_label for a void label)", path
        )
    labels = np.flatnonzero(present).astype(np.int64)
    if outside:
        big = K.collect_large_labels(view)
        labels = np.union1d(labels, big[big >= 0])
    if lo >= 0:  # int16 labels as uint16: the kernels after the scan compile once per width
        arr = as_unsigned(arr)
    return arr, labels


def _only_negative_is(view, value: int) -> bool:
    from .kernels import labels as K

    values = K.collect_large_labels(view)
    return bool(np.all(values[values < 0] == value))


@dataclass(frozen=True)
class LabelHistograms:
    """Voxel counts per label value of a PRED/GT label-map pair, from one read of both.

    Index v holds label value v (0 <= v < size). ``pred``, ``tp`` and ``n`` leave out voxels
    whose GT is the ignore label; ``pred_in_ignored`` counts PRED there (it still makes a
    label present) and ``gt`` counts every voxel.
    """

    pred: np.ndarray
    gt: np.ndarray
    tp: np.ndarray
    pred_in_ignored: np.ndarray
    n: int

    def pred_present(self) -> np.ndarray:
        return np.flatnonzero(self.pred + self.pred_in_ignored).astype(np.int64)

    def gt_present(self) -> np.ndarray:
        return np.flatnonzero(self.gt).astype(np.int64)

    def counts(self, labels, *, ignore_label: Optional[int] = None, spacing_mm=None) -> Counts:
        """Per-class confusion counts for ``labels`` (labels outside the table count 0)."""
        want = np.asarray(labels, dtype=np.int64)
        size = self.gt.size
        inside = (want >= 0) & (want < size)
        idx = np.where(inside, want, 0)

        def pick(table: np.ndarray) -> np.ndarray:
            return np.where(inside, table[idx], 0).astype(np.int64)

        tp, n_pred, n_gt = pick(self.tp), pick(self.pred), pick(self.gt)
        if ignore_label is not None:
            n_gt = np.where(want == ignore_label, 0, n_gt)
        fp = n_pred - tp
        fn = n_gt - tp
        tn = self.n - tp - fp - fn
        voxel_ml = float(np.prod(spacing_mm)) / 1000.0 if spacing_mm is not None else None
        return Counts(want, tp, fp, fn, tn, self.n, voxel_ml)


def label_histograms(pred: np.ndarray, gt: np.ndarray, ignore_label: Optional[int] = None) -> Optional[LabelHistograms]:
    """Label histograms of two integer label maps of one shape in one pass, or None.

    None means "use the general path" (validation scans, then :func:`confusion`): float or
    differently laid out arrays, or a value outside the table (negative, >= 65536 in a
    wider than 8-bit map, uint64 values >= 2**63 which the kernel reads as negative). The
    table has 256 entries for 8-bit maps, 65536 otherwise. Maps of one width are compared
    a 64-bit word at a time; maps of different widths voxel by voxel, neither one cast.
    """
    import numba

    from .kernels import confusion as K
    from .kernels.layout import as_kernel_3d, as_unsigned, spatial_order

    if pred.shape != gt.shape or pred.dtype.kind not in "biu" or gt.dtype.kind not in "biu":
        return None
    order = spatial_order(gt)
    views = [as_kernel_3d(arr, order) for arr in (pred, gt)]  # bool arrays come back as uint8
    if not all(v.flags.c_contiguous for v in views):
        return None  # strided input: the general path walks any layout
    p1, g1 = (v.reshape(-1) for v in views)
    # Signed maps are read through their unsigned view (one compiled kernel per width); a
    # negative value then lands at index >= 2**(bits-1) of an 8/16-bit table (checked below)
    # or outside a wider one, and either sends the pair to the general path.
    halves = [1 << (8 * v.dtype.itemsize - 1) if v.dtype.kind == "i" and v.dtype.itemsize <= 2 else 0 for v in (p1, g1)]
    if ignore_label is None or ignore_label >= 0:
        p1, g1 = as_unsigned(p1), as_unsigned(g1)
    else:
        halves = [0, 0]
    ignore = np.int64(ignore_label if ignore_label is not None else 0)
    threads = numba.get_num_threads()
    itemsize = p1.dtype.itemsize
    size = 1 << 8 if max(itemsize, g1.dtype.itemsize) == 1 else 1 << 16
    if g1.dtype.itemsize != itemsize:
        # Different widths: no common word layout, and casting one map would copy a volume.
        hist, outside = K.label_histograms_mixed(
            p1, g1, size, ignore, ignore_label is not None, max(1, min(threads, p1.size))
        )
    else:
        hist, outside = K.word_histograms(p1, g1, size, ignore, ignore_label is not None, joint=False)
    if outside:
        return None
    hp, hg = halves
    if hp and (hist[0, hp : 2 * hp].any() or hist[3, hp : 2 * hp].any()):
        return None  # a negative PRED label
    if hg and hist[1, hg : 2 * hg].any():
        return None  # a negative GT label
    n_ignored = int(hist[1, ignore_label]) if ignore_label is not None and 0 <= ignore_label < size else 0
    return LabelHistograms(hist[0], hist[1], hist[2], hist[3], int(g1.size) - n_ignored)


def label_prediction(vol: Volume) -> Prediction:
    """A validated integer label map as a Prediction."""
    return Prediction("labels", vol.array, None, vol)


def scan_scores(
    vol: Volume, scores: np.ndarray, ax: Optional[int], kind: str, params: LoadParams, ndim: int
) -> Prediction:
    """Check a class-first score view and reduce it to hard labels, in one pass.

    Argmax over classes (ties: lowest class) or, for one sigmoid channel, ``p >= threshold``
    (a logit threshold for logits); NaN/Inf, probabilities outside [0, 1] and channel sums
    off 1 by more than 1e-3 (unless ``renormalize``) are errors.
    """
    from .kernels import labels as K
    from .kernels._jit import n_chunks
    from .kernels.layout import from_kernel_3d, scores_kernel_4d, spatial_order

    n_classes = scores.shape[0]
    order = spatial_order(scores[0])
    view = scores_kernel_4d(scores, order)
    spatial3 = view.shape[1:]
    out = np.empty(spatial3, dtype=np.uint8 if n_classes <= 256 else np.int32)
    threshold = params.threshold
    if n_classes == 1 and not 0.0 < threshold < 1.0:  # also rejects NaN, which no score reaches
        raise UsageError(f"@threshold {threshold:g} must be a probability strictly between 0 and 1 (default 0.5)")
    if n_classes == 1 and kind == "logits":
        threshold = float(np.log(threshold) - np.log1p(-threshold))
    nonfinite, lo, hi, sumdev = K.scores_to_labels(view, out, threshold, n_chunks(spatial3[0] * spatial3[1]))
    if nonfinite:
        raise InputError(f"PRED has {nonfinite} voxels with NaN/Inf scores; fix the model output", vol.path)
    if kind == "probs":
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"probabilities outside [0, 1] (min {lo:.4g}, max {hi:.4g}); if these are logits pass @pred_type=logits",
                vol.path,
            )
        if n_classes > 1 and sumdev > 1e-3 and not params.renormalize:
            raise InputError(
                f"class probabilities do not sum to 1 (off by up to {sumdev:.3g}); pass @renormalize=True to divide by the sum, "
                "or @pred_type=logits if these are logits",
                vol.path,
            )
    labels = from_kernel_3d(out, order, ndim)
    return Prediction(kind, labels, scores, vol, channel_axis=ax)  # type: ignore[arg-type]


def joint_label_table(pred: np.ndarray, gt: np.ndarray, ignore_label: Optional[int]):
    """(LabelHistograms, the (PRED, GT) label-pair table) of two integer label maps with every
    value below 256, from one pass; None otherwise (then label_histograms and a pass per region).

    With regions the pair table serves both: the histograms are its margins and diagonal,
    and every region's counts are sums over it (metrics.overlap.region_counts).
    """
    from .kernels import confusion as K
    from .kernels.layout import as_kernel_3d, spatial_order
    from .metrics.overlap import JOINT_SIZE

    if pred.shape != gt.shape or pred.dtype.kind not in "biu" or gt.dtype.kind not in "biu":
        return None
    if ignore_label is not None and not 0 <= ignore_label < JOINT_SIZE:
        return None
    order = spatial_order(gt)
    p3, g3 = as_kernel_3d(pred, order), as_kernel_3d(gt, order)
    ign = np.int64(ignore_label if ignore_label is not None else 0)
    table, outside = K.pair_table(p3, g3, JOINT_SIZE, ign, ignore_label is not None)
    if outside:
        return None
    pairs = table[:, :JOINT_SIZE]
    gt_counts = pairs.sum(axis=0)
    if ignore_label is not None:
        gt_counts[ignore_label] += int(table[:, JOINT_SIZE].sum())
    hist = LabelHistograms(pairs.sum(axis=1), gt_counts, np.diagonal(pairs).copy(), table[:, JOINT_SIZE].copy(),
                           int(pairs.sum()))  # fmt: skip
    return hist, table
