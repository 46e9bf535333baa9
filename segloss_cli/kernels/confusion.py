"""One pass over PRED and GT: per-class TP, |PRED|, |GT| for every class at once.

Class lookup: a table indexed by label value when the largest class label is small (the
usual case), else a binary search over the sorted class labels, so a label like 2**31-1
never allocates a table sized by its value. Each chunk of rows counts into its own buffer;
buffers are merged serially at the end (no atomics, deterministic).
"""

import numpy as np
from numba import prange

from ._jit import borrowed, jit

LUT_MAX = 1 << 16  # largest class label served by a lookup table


def class_lookup(labels):
    """(sorted unique labels, lookup table, use_lut) for ``_class_index``.

    The table maps a label value to its index in the sorted labels (K for "not a class");
    it exists only when every label is in [0, LUT_MAX), else lookups binary-search.
    """
    sorted_labels = np.unique(np.asarray(labels, dtype=np.int64))
    use_lut = sorted_labels.size == 0 or bool(sorted_labels.min() >= 0 and sorted_labels.max() < LUT_MAX)
    size = int(sorted_labels.max()) + 1 if use_lut and sorted_labels.size else 1
    lut = np.full(size, sorted_labels.size, np.int64)
    if use_lut and sorted_labels.size:
        lut[sorted_labels] = np.arange(sorted_labels.size)
    return sorted_labels, lut, use_lut


@jit(inline="always")
def lower_bound(a, lo, hi, v):
    """First index i in [lo, hi) with a[i] >= v (hi when none): np.searchsorted on a[lo:hi],
    written out because numba's searchsorted costs ~0.5 s of compilation per process."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit(inline="always")
def _class_index(value, lut, sorted_labels, use_lut):
    v = np.int64(value)
    k = sorted_labels.size
    if use_lut:
        if v >= 0 and v < lut.size:
            return lut[v]
        return k
    i = lower_bound(sorted_labels, 0, k, v)
    if i < k and sorted_labels[i] == v:
        return i
    return k


@jit(inline="always")
def _add_run(loc, gv, pv, run, lut, sorted_labels, use_lut):
    gi = _class_index(gv, lut, sorted_labels, use_lut)
    pi = _class_index(pv, lut, sorted_labels, use_lut)
    loc[1, pi] += run
    loc[2, gi] += run
    if gi == pi:
        loc[0, gi] += run


@jit(parallel=True)
def confusion_counts(pred, gt, lut, sorted_labels, use_lut, ignore_label, has_ignore, nchunks):
    """Return (counts[3, K+1], n_ignored).

    counts[0, c] = TP, counts[1, c] = |PRED == c|, counts[2, c] = |GT == c| over voxels whose
    GT is not ``ignore_label``; slot K gathers labels outside the class set.

    Label maps are long runs of equal (PRED, GT) pairs, so the loop only compares raw values
    and counts the run; class lookup and the counter update happen once per run.
    """
    lut, sorted_labels = borrowed(lut), borrowed(sorted_labels)
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    k = sorted_labels.size
    buf = np.zeros((nchunks, 3, k + 1), np.int64)
    ignored = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        if r0 >= r1:
            continue
        loc = np.zeros((3, k + 1), np.int64)  # chunk-local: no sharing between threads
        n_ign = 0
        i0 = r0 // n1
        lg = gt[i0, r0 - i0 * n1, 0]
        lp = pred[i0, r0 - i0 * n1, 0]
        run = 0
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                g = gt[i, j, t]
                p = pred[i, j, t]
                if g == lg and p == lp:
                    run += 1
                    continue
                if has_ignore and np.int64(lg) == ignore_label:
                    n_ign += run
                else:
                    _add_run(loc, lg, lp, run, lut, sorted_labels, use_lut)
                lg = g
                lp = p
                run = 1
        if has_ignore and np.int64(lg) == ignore_label:
            n_ign += run
        else:
            _add_run(loc, lg, lp, run, lut, sorted_labels, use_lut)
        buf[ch] = loc
        ignored[ch] = n_ign
    out = np.zeros((3, k + 1), np.int64)
    for ch in range(nchunks):
        out += buf[ch]
    return out, ignored.sum()


@jit(inline="always")
def _add_hist_run(hist, lp, lg, run, size, ignore_label, has_ignore):
    """Count ``run`` voxels with PRED = lp, GT = lg; return how many fall outside the table."""
    p = np.int64(lp)
    g = np.int64(lg)
    if p < 0 or p >= size or g < 0 or g >= size:
        return run
    hist[1, g] += run
    if has_ignore and g == ignore_label:
        hist[3, p] += run
    else:
        hist[0, p] += run
        hist[2, p] += run if p == g else 0  # a select, not a branch: p == g flips at random
    return 0


@jit(inline="always")
def _add_joint_run(table, lp, lg, run, size, ignore_label, has_ignore):
    """Count ``run`` voxels with PRED = lp, GT = lg into the (PRED, GT) pair table (column
    ``size``: PRED at voxels whose GT is ``ignore_label``); return how many fall outside it."""
    p = np.int64(lp)
    g = np.int64(lg)
    if p < 0 or p >= size:
        return run
    if has_ignore and g == ignore_label:
        table[p, size] += run
        return 0
    if g < 0 or g >= size:
        return run
    table[p, g] += run
    return 0


@jit(inline="always")
def _add_any_run(table, lp, lg, run, size, ignore_label, has_ignore, joint):
    # A branch per run, not per voxel: one kernel serves the histograms and the pair table.
    if joint:
        return _add_joint_run(table, lp, lg, run, size, ignore_label, has_ignore)
    return _add_hist_run(table, lp, lg, run, size, ignore_label, has_ignore)


@jit(inline="always")
def _count_runs(pred, gt, lo, hi, hist, size, ignore_label, has_ignore, joint=False):
    """Count voxels lo..hi-1 of two flat maps into ``hist`` (the histograms, or the pair table
    when ``joint``), one update per run of equal (PRED, GT) pairs; return how many fell
    outside the table. Nothing for lo >= hi."""
    n_out = 0
    if lo >= hi:
        return n_out
    lp = np.int64(pred[lo])
    lg = np.int64(gt[lo])
    run = 0
    for u in range(lo, hi):
        p = np.int64(pred[u])
        g = np.int64(gt[u])
        if p == lp and g == lg:
            run += 1
        else:
            n_out += _add_any_run(hist, lp, lg, run, size, ignore_label, has_ignore, joint)
            lp = p
            lg = g
            run = 1
    return n_out + _add_any_run(hist, lp, lg, run, size, ignore_label, has_ignore, joint)


_DEBRUIJN64 = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_INDEX = np.array(
    [
        0,
        1,
        48,
        2,
        57,
        49,
        28,
        3,
        61,
        58,
        50,
        42,
        38,
        29,
        17,
        4,
        62,
        55,
        59,
        36,
        53,
        51,
        43,
        22,
        45,
        39,
        33,
        30,
        24,
        18,
        12,
        5,
        63,
        47,
        56,
        27,
        60,
        41,
        37,
        16,
        54,
        35,
        52,
        21,
        44,
        32,
        23,
        11,
        46,
        26,
        40,
        15,
        34,
        20,
        31,
        10,
        25,
        14,
        19,
        9,
        13,
        8,
        7,
        6,
    ],
    dtype=np.int64,
)


@jit(inline="always")
def _lowest_set_bit(x):
    """Index of the lowest set bit of a non-zero uint64 (de Bruijn multiply: no loop, no branch)."""
    low = x & (~x + np.uint64(1))
    return _DEBRUIJN_INDEX[(low * _DEBRUIJN64) >> np.uint64(58)]


@jit(inline="always")
def _splat(value, mask, unit):
    """A 64-bit word holding ``value`` in every label slot (two's complement, ``mask`` wide)."""
    return (np.uint64(np.int64(value)) & mask) * unit


@jit(parallel=True)
def label_histograms(
    pred, gt, pred_words, gt_words, per_word, mask, unit, size, ignore_label, has_ignore, nchunks, joint
):
    """One read of two flat, equally long integer label maps: (hist[4, size], n_outside), or
    with ``joint`` (table[size, size + 1], n_outside), the joint_histogram table.

    For every value v in [0, size):
      hist[0, v] = |PRED == v|       over voxels whose GT is not ``ignore_label``
      hist[1, v] = |GT == v|         over all voxels
      hist[2, v] = |PRED == v == GT| over voxels whose GT is not ``ignore_label``
      hist[3, v] = |PRED == v|       over voxels whose GT is ``ignore_label``
    These are the labels present in each map (validation) and every class's TP, |PRED| and
    |GT| (overlap counts) at once, so a label-map pair is read once instead of three times.
    Voxels with a value outside [0, size) in either map (negative, or too large for the
    table) are not counted but tallied in ``n_outside``: the caller then takes the general path.

    ``pred_words``/``gt_words`` are uint64 views of the first ``per_word * len(words)`` voxels
    (``per_word`` labels per word). Label maps are mostly long runs of one (PRED, GT) pair,
    background above all: a word equal to the current pair repeated (``_splat``) adds
    ``per_word`` voxels to the run with one compare per map. In any other word, XOR with
    the word shifted by one slot marks where a label changes, and only those positions are
    visited (lowest set bit first), so the cost follows the number of label changes, not
    the number of voxels. Integer counts are exact, so any number of chunks gives the
    same result.
    """
    n = gt.size
    n_words = pred_words.size
    slot_bits = np.uint64(64 // per_word)  # bits per label in a word: 8, 16 or 32
    slot_shift = np.uint64(3 if per_word == 8 else (4 if per_word == 4 else (5 if per_word == 2 else 6)))
    slot_shift_i = np.int64(slot_shift)  # int64 >> int64: numpy (NUMBA_DISABLE_JIT) refuses int64 >> uint64
    rows = size if joint else 4
    cols = size + 1 if joint else size
    buf = np.zeros((nchunks, rows, cols), np.int64)
    outside = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        w0 = ch * n_words // nchunks
        w1 = (ch + 1) * n_words // nchunks
        if w0 >= w1:
            continue
        hist = buf[ch]
        n_out = 0
        lp = pred[w0 * per_word]
        lg = gt[w0 * per_word]
        pp = _splat(lp, mask, unit)
        gp = _splat(lg, mask, unit)
        run = 0
        for w in range(w0, w1):
            pw = pred_words[w]
            gw = gt_words[w]
            if pw == pp and gw == gp:
                run += per_word
                continue
            # Label changes inside the word: slot i differs from the voxel before it (slot 0
            # from the last voxel of the previous word, i.e. the current pair) in either map.
            if per_word > 1:
                change = (pw ^ ((pw << slot_bits) | (pp & mask))) | (gw ^ ((gw << slot_bits) | (gp & mask)))
            else:  # one label per word: a shift by 64 bits would be undefined
                change = (pw ^ pp) | (gw ^ gp)
            u0 = w * per_word
            start = 0
            while change != 0:
                slot = _lowest_set_bit(change) >> slot_shift_i
                run += slot - start
                n_out += _add_any_run(hist, lp, lg, run, size, ignore_label, has_ignore, joint)
                lp = pred[u0 + slot]
                lg = gt[u0 + slot]
                run = 0
                start = slot
                change &= ~(mask << (np.uint64(slot) << slot_shift))
            run += per_word - start
            pp = _splat(lp, mask, unit)
            gp = _splat(lg, mask, unit)
        n_out += _add_any_run(hist, lp, lg, run, size, ignore_label, has_ignore, joint)
        outside[ch] = n_out
    out = np.zeros((rows, cols), np.int64)
    n_out = outside.sum()
    for ch in range(nchunks):
        out += buf[ch]
    # the few voxels after the last whole word
    n_out += _count_runs(pred, gt, n_words * per_word, n, out, size, ignore_label, has_ignore, joint)
    return out, n_out


def word_histograms(p1: np.ndarray, g1: np.ndarray, size: int, ignore, has_ignore: bool, *, joint: bool):
    """kernels.confusion.label_histograms on two flat, C-contiguous maps of one width: the
    histograms, or with ``joint`` the (PRED, GT) pair table, 64 bits at a time."""
    import numba

    itemsize = p1.dtype.itemsize
    per_word = 8 // itemsize
    n_words = p1.size // per_word
    mask = np.uint64((1 << (8 * itemsize)) - 1)
    unit = np.uint64(sum(1 << (8 * itemsize * i) for i in range(per_word)))
    # The word views reinterpret bytes; PRED and GT of one width compare slot by slot.
    return label_histograms(
        p1,
        g1,
        p1[: n_words * per_word].view(np.uint64),
        g1[: n_words * per_word].view(np.uint64),
        per_word,
        mask,
        unit,
        size,
        ignore,
        has_ignore,
        max(1, min(numba.get_num_threads(), n_words)),
        joint,
    )


def pair_table(p3: np.ndarray, g3: np.ndarray, size: int, ignore, has_ignore: bool):
    """(table[size, size + 1], n_outside) of two 3-D kernel views (joint_histogram's table):
    64 bits at a time when both are C-contiguous and of one width, else voxel by voxel."""
    from ._jit import n_chunks

    if p3.dtype.itemsize == g3.dtype.itemsize and p3.flags.c_contiguous and g3.flags.c_contiguous:
        return word_histograms(p3.reshape(-1), g3.reshape(-1), size, ignore, has_ignore, joint=True)
    return joint_histogram(p3, g3, size, ignore, has_ignore, n_chunks(g3.shape[0] * g3.shape[1]))


@jit(parallel=True)
def label_histograms_mixed(pred, gt, size, ignore_label, has_ignore, nchunks):
    """label_histograms for two flat maps of different integer widths (e.g. uint8 PRED, int16
    GT): the same tables, counted run by run, so neither map is cast (a copy the size of
    the volume)."""
    n = gt.size
    buf = np.zeros((nchunks, 4, size), np.int64)
    outside = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        outside[ch] = _count_runs(
            pred, gt, ch * n // nchunks, (ch + 1) * n // nchunks, buf[ch], size, ignore_label, has_ignore
        )
    out = np.zeros((4, size), np.int64)
    for ch in range(nchunks):
        out += buf[ch]
    return out, outside.sum()


@jit(parallel=True)
def joint_histogram(pred, gt, size, ignore_label, has_ignore, nchunks):
    """Return (table[size, size + 1], n_outside): voxels per (PRED label, GT label) pair; column
    ``size`` holds PRED at voxels whose GT is ``ignore_label``; pairs with a value outside
    [0, size) are only counted in n_outside.

    The counts of any union of labels (a region) are sums over this table, so every region
    of a case costs this one pass. Runs of equal pairs are counted once, as in confusion_counts.
    """
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    buf = np.zeros((nchunks, size, size + 1), np.int64)
    outside = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        if r0 >= r1:
            continue
        i0 = r0 // n1
        lg = gt[i0, r0 - i0 * n1, 0]
        lp = pred[i0, r0 - i0 * n1, 0]
        run = 0
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                g = gt[i, j, t]
                p = pred[i, j, t]
                if g == lg and p == lp:
                    run += 1
                    continue
                outside[ch] += _add_joint_run(buf[ch], lp, lg, run, size, ignore_label, has_ignore)
                lg = g
                lp = p
                run = 1
        outside[ch] += _add_joint_run(buf[ch], lp, lg, run, size, ignore_label, has_ignore)
    out = np.zeros((size, size + 1), np.int64)
    for ch in range(nchunks):
        out += buf[ch]
    return out, outside.sum()
