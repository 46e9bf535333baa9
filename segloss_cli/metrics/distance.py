"""Surface-distance metrics: surfaces and distances computed once per class, reduced many ways.

Definitions (conventions.md, "Surface-distance metrics"): the surface of a mask is its voxels
with a face neighbour outside the mask (outside the image counts as outside). d(P->G) is, for
each PRED surface voxel, the Euclidean distance in mm to the nearest GT surface voxel; d(G->P)
likewise. hd, hd95, assd, masd and nsd are reductions of those two arrays.

How (per class): one pass over both label maps finds every class's bounding box; the class is
cropped to the box of PRED | GT; surface voxels are marked straight from the label maps; an
exact anisotropic EDT (kernels/edt.py) from one surface is read at the other's voxels, then
the other way round. The crop is exact without a margin: every surface voxel of either mask
lies inside the union box, distances are measured between surface voxels only, and the EDT
restricted to a box is the exact minimum over the sites in that box; the surface test reads
neighbours from the full image, so a voxel on the box edge is judged correctly.

Ignore label: voxels whose GT is the ignore label belong to neither mask (PRED is masked
there, as for the overlap counts); a PRED region bordering an ignored region has a surface there.

Surfel model (``surface="surfel"``, conventions.md "Surfel surfaces"; DeepMind surface-distance):
the surface elements are the voxel corners whose 2x2(x2) neighbourhood is partly in the mask
(kernels/surfel.py), each weighted by its area from DeepMind's tables (surfel_areas.py);
distances run between corners, with the same search and EDT kernels on the corner grid of the
class box (one more corner than voxels per axis, which is exact for the same reasons). The
reductions weight each element by its area (DeepMind's compute_robust_hausdorff,
compute_average_surface_distance, compute_surface_dice_at_tolerance).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from ..choices import DistanceMetric, SurfaceModel
from ..errors import InputError, UsageError
from .params import SurfaceParams
from .registry import declarer


@dataclass(frozen=True)
class SurfaceDistances:
    """Distances (mm, float64) from each surface element of one mask to the other's surface.

    Raster order of the kernel layout; an empty mask is reported by ``surface_distances``
    returning ``None`` for the class. ``pred_area``/``gt_area``: the surfel areas (mm^2; 2-D:
    lengths in mm) of the PRED and GT elements under the surfel model, None for voxel surfaces
    (every element weighs the same).
    """

    pred_to_gt: np.ndarray
    gt_to_pred: np.ndarray
    pred_area: Optional[np.ndarray] = None
    gt_area: Optional[np.ndarray] = None


def _check_spacing(spacing_mm, ndim: int) -> np.ndarray:
    s = np.asarray(spacing_mm, dtype=np.float64).reshape(-1)
    if s.size == 1:
        s = np.repeat(s, ndim)
    if s.size != ndim:
        raise InputError(f"spacing {tuple(s.tolist())} has {s.size} values for a {ndim}-D image; give one per axis")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise InputError(
            f"voxel spacing {tuple(s.tolist())} must be positive and finite; fix the header or pass @spacing_mm"
        )
    return s


def _kernel_layout(arr: np.ndarray, spacing: np.ndarray):
    """(order, kernel spacing of 3 axes) for the no-copy kernel view of ``arr``."""
    from ..kernels.layout import spatial_order

    order = spatial_order(arr)
    s = [float(spacing[a]) for a in order]
    return order, (1.0,) * (3 - arr.ndim) + tuple(s)


def euclidean_distance_transform(sites: np.ndarray, *, spacing_mm) -> np.ndarray:
    """Distance in mm from every voxel to the nearest voxel where ``sites`` is true.

    Exact (separable lower-envelope EDT), anisotropic, float64, 2-D or 3-D; inf everywhere
    when there is no site. Equals ``scipy.ndimage.distance_transform_edt(~sites,
    sampling=spacing_mm)`` when a site exists.

    Examples
    --------
    >>> import numpy as np
    >>> euclidean_distance_transform(np.array([[True, False, False]]), spacing_mm=(1.0, 2.0))
    array([[0., 2., 4.]])
    """
    return distance_transform(sites, spacing_mm=spacing_mm)


def distance_transform(
    sites: np.ndarray, *, spacing_mm, metric: Union[str, DistanceMetric] = "euclidean"
) -> np.ndarray:
    """Distance in mm from every voxel to the nearest voxel where ``sites`` is true, in ``metric``.

    ``euclidean``: as :func:`euclidean_distance_transform`. ``taxicab``: min over sites of
    sum_a s_a |x_a - y_a|; ``chessboard``: min over sites of max_a s_a |x_a - y_a| (a step
    along axis a costs its spacing s_a; with unit spacing these equal
    ``scipy.ndimage.distance_transform_cdt(~sites, metric=...)``, which, like MONAI, counts
    voxel steps whatever the spacing). inf everywhere when there is no site.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros((3, 3), bool); s[0, 0] = True
    >>> distance_transform(s, spacing_mm=(1.0, 2.0), metric="taxicab")[2].tolist()
    [2.0, 4.0, 6.0]
    >>> distance_transform(s, spacing_mm=(1.0, 2.0), metric="chessboard")[2].tolist()
    [2.0, 2.0, 4.0]
    """
    from ..kernels import cdt as KD
    from ..kernels import edt as E
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, from_kernel_3d

    kind = _metric(metric)
    sites = np.asarray(sites)
    if sites.ndim not in (2, 3):
        raise ValueError(f"expected a 2-D or 3-D array, got shape {sites.shape}")
    spacing = _check_spacing(spacing_mm, sites.ndim)
    order, s = _kernel_layout(sites, spacing)
    if kind is DistanceMetric.EUCLIDEAN:
        view = np.ascontiguousarray(as_kernel_3d(sites.astype(np.uint8, copy=False), order))
        f = np.empty(view.shape, np.float64)
        b0, b1, b2 = view.shape
        E.edt_squared(view, np.uint8(1), f, s[0], s[1], s[2], n_chunks(max(b0 * b1, b0 * b2, b1 * b2)))
        np.sqrt(f, out=f)
    else:
        f = np.where(as_kernel_3d(sites.astype(bool, copy=False), order), 0.0, np.inf)
        KD.cdt_inplace(f, s[0], s[1], s[2], kind is DistanceMetric.CHESSBOARD)
    return from_kernel_3d(f, order, sites.ndim)


def _metric(metric) -> DistanceMetric:
    try:
        return DistanceMetric.parse(metric, "@distance_metric")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def surface_distances(
    pred: np.ndarray,
    gt: np.ndarray,
    labels: Iterable[int],
    *,
    spacing_mm,
    ignore_label: Optional[int] = None,
    surface: Union[str, SurfaceModel] = SurfaceModel.VOXEL,
    distance_metric: Union[str, DistanceMetric] = DistanceMetric.EUCLIDEAN,
) -> list[Optional[SurfaceDistances]]:
    """d(P->G) and d(G->P) for each class label (``None`` where PRED or GT is empty).

    ``pred`` and ``gt`` are label maps of one 2-D or 3-D shape (any memory order); for binary
    masks pass them as integers with ``labels=[1]``. ``surface``: ``voxel`` (surface voxels)
    or ``surfel`` (voxel-corner surface elements with their areas, DeepMind's model).
    ``distance_metric``: ``euclidean`` (default), ``taxicab`` or ``chessboard`` distances in mm
    (:func:`distance_transform`; MONAI's ``distance_metric``, which ignores the spacing for the
    last two, so they agree at unit spacing).

    Examples
    --------
    >>> import numpy as np
    >>> g = np.zeros((1, 5), np.uint8); g[0, 0] = 1
    >>> p = np.zeros((1, 5), np.uint8); p[0, 3] = 1
    >>> sd = surface_distances(p, g, [1], spacing_mm=(1.0, 0.5))[0]
    >>> sd.pred_to_gt, sd.gt_to_pred
    (array([1.5]), array([1.5]))
    >>> sd = surface_distances(p, g, [1], spacing_mm=(1.0, 0.5), surface="surfel")[0]
    >>> sd.pred_to_gt.tolist(), sd.pred_area.round(4).tolist()  # 4 corners; half-diagonal lengths
    ([1.0, 1.0, 1.5, 1.5], [0.559, 0.559, 0.559, 0.559])
    """
    from ..kernels import confusion as KC
    from ..kernels import surface as KS
    from ..kernels import surface_search as SS
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d

    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch {pred.shape} vs {gt.shape}")
    if gt.ndim not in (2, 3):
        raise ValueError(f"expected 2-D or 3-D label maps, got shape {gt.shape}")
    spacing = _check_spacing(spacing_mm, gt.ndim)
    try:
        model = SurfaceModel.parse(surface, "@surface")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    kind = _metric(distance_metric)
    want = np.asarray(list(labels), dtype=np.int64)
    if want.size == 0:
        return []
    sorted_labels, lut, use_lut = KC.class_lookup(want)
    order, s3 = _kernel_layout(gt, spacing)
    g3 = as_kernel_3d(gt, order)
    p3 = as_kernel_3d(pred, order)
    has_ignore = ignore_label is not None
    ign = np.int64(0 if ignore_label is None else ignore_label)
    lo, hi = KS.class_boxes(p3, g3, lut, sorted_labels, use_lut, ign, has_ignore, n_chunks(g3.shape[0] * g3.shape[1]))
    check0 = gt.ndim == 3
    k = sorted_labels.size
    present = [c for c in range(k) if not (np.any(lo[0, c] > hi[0, c]) or np.any(lo[1, c] > hi[1, c]))]
    box_lo = {c: np.minimum(lo[0, c], lo[1, c]) for c in present}
    box_hi = {c: np.maximum(hi[0, c], hi[1, c]) for c in present}

    # Per class, both surfaces as voxel lists and as bits of a uint8 code box; then per
    # direction a nearby search and, for the queries it leaves, the dense EDT over the code box
    # or the sparse scheme, by estimated cost and memory (kernels/surface_search.py). Classes
    # that together fill the field of view share one surface pass and one code box.
    n1, n2 = g3.shape[1], g3.shape[2]
    label_bytes = pred.nbytes + gt.nbytes
    results: dict[int, Optional[SurfaceDistances]] = {int(v): None for v in sorted_labels}
    if model is SurfaceModel.SURFEL:
        from .surfel_areas import kernel_area_table

        area = kernel_area_table(spacing, order)
        corners = (1 if gt.ndim == 2 else g3.shape[0] + 1, n1 + 1, n2 + 1)
        offsets = SS.near_offsets(s3, corners)
        for c in present:
            results[int(sorted_labels[c])] = _surfel_distances(
                p3,
                g3,
                gt.ndim == 2,
                int(sorted_labels[c]),
                box_lo[c],
                box_hi[c],
                ign,
                has_ignore,
                area,
                s3,
                offsets,
                label_bytes,
                kind,
            )
        return [results[int(v)] for v in want]
    offsets = SS.near_offsets(s3, g3.shape)
    if model is SurfaceModel.CONTOUR26:
        for c in present:
            results[int(sorted_labels[c])] = _contour26_distances(
                p3, g3, int(sorted_labels[c]), box_lo[c], box_hi[c], ign, has_ignore, gt.ndim == 2, s3, offsets,
                label_bytes, kind,
            )  # fmt: skip
        return [results[int(v)] for v in want]

    def both_ways(c, codes, r_lo, p_flat, g_flat):
        if kind is not DistanceMetric.EUCLIDEAN:  # a dense transform: the class's own box only
            codes = codes[tuple(slice(box_lo[c][a] - r_lo[a], box_hi[c][a] - r_lo[a] + 1) for a in range(3))]
            r_lo = box_lo[c]
        d_pg, d_gp = _both_ways(codes, p_flat, g_flat, g3.shape, r_lo, s3, offsets, label_bytes, kind)
        results[int(sorted_labels[c])] = SurfaceDistances(d_pg, d_gp)

    if present:
        all_lo = np.min([box_lo[c] for c in present], axis=0)
        all_hi = np.max([box_hi[c] for c in present], axis=0)
        shared = np.prod(all_hi - all_lo + 1) < sum(np.prod(box_hi[c] - box_lo[c] + 1) for c in present)
        if shared:
            active = np.zeros(k, np.bool_)
            active[present] = True
            b = all_hi - all_lo + 1
            ps, pf, gs, gf = SS.surface_points(
                p3,
                g3,
                lut,
                sorted_labels,
                use_lut,
                active,
                ign,
                has_ignore,
                check0,
                all_lo[0],
                all_lo[1],
                all_lo[2],
                b[0],
                b[1],
                b[2],
            )
            codes = np.zeros(tuple(b), np.uint8)
            for c in present:
                p_flat, g_flat = pf[ps[c] : ps[c + 1]], gf[gs[c] : gs[c + 1]]
                SS.scatter_codes(codes, p_flat, g_flat, n1, n2, all_lo[0], all_lo[1], all_lo[2], KS.PRED_BIT, KS.GT_BIT)
                both_ways(c, codes, all_lo, p_flat, g_flat)
                SS.clear_codes(codes, p_flat, n1, n2, all_lo[0], all_lo[1], all_lo[2])
                SS.clear_codes(codes, g_flat, n1, n2, all_lo[0], all_lo[1], all_lo[2])
        else:
            for c in present:
                r_lo = box_lo[c]
                b = box_hi[c] - r_lo + 1
                codes, row_p, row_g = KS.surface_codes(
                    p3,
                    g3,
                    np.int64(sorted_labels[c]),
                    ign,
                    has_ignore,
                    r_lo[0],
                    r_lo[1],
                    r_lo[2],
                    b[0],
                    b[1],
                    b[2],
                    check0,
                )
                p_flat = SS.codes_to_flat(codes, KS.PRED_BIT, row_p, n1, n2, r_lo[0], r_lo[1], r_lo[2])
                g_flat = SS.codes_to_flat(codes, KS.GT_BIT, row_g, n1, n2, r_lo[0], r_lo[1], r_lo[2])
                both_ways(c, codes, r_lo, p_flat, g_flat)
    return [results[int(v)] for v in want]


def _contour26(mask: np.ndarray, at_border: Sequence[tuple[bool, bool]]) -> np.ndarray:
    """Voxels of ``mask`` (a 3-D box with one voxel of margin where the image goes on) with a
    voxel outside the mask among their 26 neighbours; beyond a side ``at_border`` (the image's
    own edge) nothing counts as outside, as SimpleITK's LabelContour(fullyConnected=True)."""
    pad = np.pad(mask, 1, constant_values=False)
    for a, (lo_edge, hi_edge) in enumerate(at_border):
        idx = [slice(None)] * 3
        if lo_edge:
            idx[a] = slice(0, 1)
            pad[tuple(idx)] = True
        if hi_edge:
            idx[a] = slice(-1, None)
            pad[tuple(idx)] = True
    inner = np.ones(mask.shape, bool)
    n0, n1, n2 = mask.shape
    for d0 in range(3):
        for d1 in range(3):
            for d2 in range(3):
                if (d0, d1, d2) != (1, 1, 1):
                    inner &= pad[d0 : d0 + n0, d1 : d1 + n1, d2 : d2 + n2]
    return mask & ~inner


def _contour26_distances(p3, g3, label, lo, hi, ign, has_ignore, two_d, s3, offsets, label_bytes, kind):
    """One class's SurfaceDistances between the 26-neighbour contours of PRED and GT (both
    non-empty): seg-metrics' surfaces (SimpleITK LabelContour, fullyConnected=True), the
    distances of the voxel model between them. numpy over the class box with a margin of one."""
    from ..kernels import surface as KS

    shape = g3.shape
    m_lo = [max(int(lo[a]) - 1, 0) for a in range(3)]
    m_hi = [min(int(hi[a]) + 1, shape[a] - 1) for a in range(3)]
    crop = tuple(slice(m_lo[a], m_hi[a] + 1) for a in range(3))
    gc = np.asarray(g3[crop])
    pm = np.asarray(p3[crop]) == label
    if has_ignore:
        pm &= gc != ign
    gm = gc == label
    # A 2-D image's dummy axis 0 has no neighbours: both its sides are the image's edge.
    border = [(two_d or m_lo[a] == 0, two_d or m_hi[a] == shape[a] - 1) for a in range(3)]
    inner = tuple(slice(int(lo[a]) - m_lo[a], int(hi[a]) - m_lo[a] + 1) for a in range(3))
    cp, cg = _contour26(pm, border)[inner], _contour26(gm, border)[inner]
    codes = np.zeros(cp.shape, np.uint8)
    codes[cp] |= KS.PRED_BIT
    codes[cg] |= KS.GT_BIT
    lo3 = np.asarray([int(v) for v in lo], np.int64)

    def flat(m):
        i, j, t = (ix + lo3[a] for a, ix in enumerate(np.nonzero(m)))
        return ((i * shape[1] + j) * shape[2] + t).astype(np.int64)

    p_flat, g_flat = flat(cp), flat(cg)
    d_pg, d_gp = _both_ways(codes, p_flat, g_flat, shape, lo3, s3, offsets, label_bytes, kind)
    return SurfaceDistances(d_pg, d_gp)


def _surfel_distances(p3, g3, two_d, label, lo, hi, ign, has_ignore, area, s3, offsets, label_bytes, kind):
    """One class's SurfaceDistances under the surfel model (both masks non-empty).

    The corner box of the class box ``lo..hi`` (voxels, kernel axes) is ``lo..hi + 1``: a
    corner outside it touches no voxel of either mask. A 2-D image has one corner row.
    """
    from ..kernels import surfel as KF

    c = [int(hi[a] - lo[a]) + 2 for a in range(3)]
    lo0 = int(lo[0])
    if two_d:
        c[0], lo0 = 1, 0
    full = 15 if two_d else 255
    bits, p_flat, p_area, g_flat, g_area = KF.surfel_corners(
        p3, g3, np.int64(label), ign, has_ignore, lo0, int(lo[1]), int(lo[2]), c[0], c[1], c[2], full, area
    )
    d_pg, d_gp = _both_ways(bits, p_flat, g_flat, bits.shape, np.zeros(3, np.int64), s3, offsets, label_bytes, kind)
    return SurfaceDistances(d_pg, d_gp, p_area, g_area)


def _both_ways(codes, p_flat, g_flat, shape, lo, s3, offsets, label_bytes, kind=DistanceMetric.EUCLIDEAN):
    """(d(P->G), d(G->P)) between the elements ``p_flat``, ``g_flat`` (flat indices of a view of
    ``shape``) marked by PRED_BIT and GT_BIT in the code box ``codes`` at ``lo``.

    Taxicab and chessboard distances come from a transform over the whole code box
    (kernels/cdt.py, float64 of the box's size), read at the queries."""
    from ..kernels import cdt as KD
    from ..kernels import surface as KS
    from ..kernels import surface_search as SS
    from ..kernels._jit import CHUNKS

    out = []
    for sites, queries, sbit, qbit in (
        (g_flat, p_flat, KS.GT_BIT, KS.PRED_BIT),
        (p_flat, g_flat, KS.PRED_BIT, KS.GT_BIT),
    ):
        if kind is not DistanceMetric.EUCLIDEAN:
            f = np.where(codes & sbit, 0.0, np.inf)
            KD.cdt_inplace(f, s3[0], s3[1], s3[2], kind is DistanceMetric.CHESSBOARD)
            out.append(SS.gather_dense(f, queries, shape[1], shape[2], lo[0], lo[1], lo[2]))
            continue
        d2, _ = SS.directed_squared(codes, sbit, qbit, sites, queries, shape, lo, s3, offsets, CHUNKS, label_bytes)
        out.append(np.sqrt(d2, out=d2))
    return out[0], out[1]


# --- reductions: each takes one class's SurfaceDistances and returns a float -----------------
# Voxel surfaces weigh every element the same; surfels by their areas (DeepMind's reductions).


def _directed_max(d: np.ndarray) -> float:
    return float(d.max())


def _directed_percentile(d: np.ndarray, area: Optional[np.ndarray], percentile: float) -> float:
    """Linear-interpolation percentile (numpy's default) of voxel distances; for surfels
    DeepMind's compute_robust_hausdorff: elements sorted by (distance, area), the first whose
    cumulative area fraction reaches percentile / 100."""
    if area is None:
        return float(np.percentile(d, percentile))
    o = np.lexsort((area, d))
    ds, ws = d[o], area[o]
    cum = np.cumsum(ws) / np.sum(ws)
    idx = int(np.searchsorted(cum, percentile / 100.0))
    return float(ds[min(idx, ds.size - 1)])


def _directed_mean(d: np.ndarray, area: Optional[np.ndarray]) -> float:
    """Mean distance; for surfels area-weighted (DeepMind's compute_average_surface_distance)."""
    if area is None:
        return float(d.mean())
    return float(np.sum(d * area) / np.sum(area))


def hausdorff(sd: SurfaceDistances) -> float:
    """hd = max(max d(P->G), max d(G->P))."""
    return float(max(sd.pred_to_gt.max(), sd.gt_to_pred.max()))


def hausdorff_percentile(sd: SurfaceDistances, percentile: float = 95.0, mode: str = "max") -> float:
    """max of the two directed percentiles (``max``, MONAI) or the percentile of both pooled (MedPy).

    Percentiles interpolate linearly (numpy's default); surfels take DeepMind's area-weighted
    rule (:func:`_directed_percentile`), pooled over both surfaces' elements in ``pooled``.
    """
    if mode == "pooled":
        pooled = np.concatenate([sd.pred_to_gt, sd.gt_to_pred])
        area = None if sd.pred_area is None else np.concatenate([sd.pred_area, sd.gt_area])
        return _directed_percentile(pooled, area, percentile)
    if mode != "max":
        raise UsageError(f"@hd_mode must be max or pooled, not '{mode}'")
    return max(
        _directed_percentile(sd.pred_to_gt, sd.pred_area, percentile),
        _directed_percentile(sd.gt_to_pred, sd.gt_area, percentile),
    )


def assd(sd: SurfaceDistances) -> float:
    """(sum d(P->G) + sum d(G->P)) / (n_P + n_G); surfels: sums weighted by area, over the total area."""
    if sd.pred_area is None or sd.gt_area is None:
        return float((sd.pred_to_gt.sum() + sd.gt_to_pred.sum()) / (sd.pred_to_gt.size + sd.gt_to_pred.size))
    total = np.sum(sd.pred_to_gt * sd.pred_area) + np.sum(sd.gt_to_pred * sd.gt_area)
    return float(total / (np.sum(sd.pred_area) + np.sum(sd.gt_area)))


def masd(sd: SurfaceDistances) -> float:
    """(mean d(P->G) + mean d(G->P)) / 2 (surfels: area-weighted means)."""
    return (_directed_mean(sd.pred_to_gt, sd.pred_area) + _directed_mean(sd.gt_to_pred, sd.gt_area)) / 2.0


def nsd(sd: SurfaceDistances, tolerance_mm: float = 1.0) -> float:
    """Fraction of both surfaces within the tolerance; float32(d) <= float32(tau) (as MONAI).

    Surfels: the fraction of the total area, d <= tau in float64 (DeepMind's
    compute_surface_dice_at_tolerance).
    """
    if sd.pred_area is None or sd.gt_area is None:
        tau = np.float32(tolerance_mm)
        within = np.count_nonzero(sd.pred_to_gt.astype(np.float32) <= tau)
        within += np.count_nonzero(sd.gt_to_pred.astype(np.float32) <= tau)
        return float(within / (sd.pred_to_gt.size + sd.gt_to_pred.size))
    t = float(tolerance_mm)
    near = np.sum(sd.gt_area[sd.gt_to_pred <= t]) + np.sum(sd.pred_area[sd.pred_to_gt <= t])
    return float(near / (np.sum(sd.gt_area) + np.sum(sd.pred_area)))


def _reducers(params: SurfaceParams):
    q = params.hd_percentile
    return {
        "hd": lambda sd, label: hausdorff(sd),
        "hd95": lambda sd, label: hausdorff_percentile(sd, q, str(params.hd_mode)),
        "assd": (lambda sd, label: masd(sd)) if params.assd_mode == "mean" else (lambda sd, label: assd(sd)),
        "masd": lambda sd, label: masd(sd),
        "nsd": lambda sd, label: nsd(sd, params.nsd_tolerance(label)),
        # Directed (one-way) distances: pg from the PRED surface to the GT surface, gp back.
        "hd_pg": lambda sd, label: _directed_max(sd.pred_to_gt),
        "hd_gp": lambda sd, label: _directed_max(sd.gt_to_pred),
        "hd95_pg": lambda sd, label: _directed_percentile(sd.pred_to_gt, sd.pred_area, q),
        "hd95_gp": lambda sd, label: _directed_percentile(sd.gt_to_pred, sd.gt_area, q),
        "asd_pg": lambda sd, label: _directed_mean(sd.pred_to_gt, sd.pred_area),
        "asd_gp": lambda sd, label: _directed_mean(sd.gt_to_pred, sd.gt_area),
    }


def surface_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    labels,
    *,
    spacing_mm,
    names: Sequence[str],
    params: Optional[SurfaceParams] = None,
    ignore_label: Optional[int] = None,
) -> dict[str, np.ndarray]:
    """Selected surface metrics per label: name -> float64 array in the order of ``labels``.

    NaN where PRED or GT of the class is empty (evaluate applies the empty-mask policy).
    ``params``: the percentile and mode of hd95, the NSD tolerances and the surface model
    (default: conventions.md's).
    """
    want = [int(v) for v in np.asarray(labels, dtype=np.int64).reshape(-1)]
    params = params if params is not None else SurfaceParams()
    reducers = _reducers(params)
    unknown = [n for n in names if n not in reducers]
    if unknown:
        raise ValueError(f"not a surface metric: {unknown}")
    out = {n: np.full(len(want), np.nan) for n in names}
    if not names:
        return out
    for i, (label, sd) in enumerate(
        zip(
            want,
            surface_distances(
                pred,
                gt,
                want,
                spacing_mm=spacing_mm,
                ignore_label=ignore_label,
                surface=params.surface,
                distance_metric=params.distance_metric,
            ),
        )
    ):
        if sd is None:
            continue
        for n in names:
            out[n][i] = reducers[n](sd, label)
    return out


def region_surface_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    regions,
    *,
    spacing_mm,
    names: Sequence[str],
    params: Optional[SurfaceParams] = None,
    ignore_label: Optional[int] = None,
) -> dict[str, np.ndarray]:
    """:func:`surface_metrics` of regions (unions of labels), on each region's union masks.

    Per-label NSD tolerances do not apply to regions (the default tolerance does).
    """
    from dataclasses import replace

    params = replace(params if params is not None else SurfaceParams(), nsd_tolerance_per_label={})
    out: dict[str, list] = {n: [] for n in names}
    sets = [np.asarray(sorted({int(v) for v in region}), dtype=np.int64) for region in regions]
    for members, crop in zip(sets, _region_crops(pred, gt, sets, ignore_label)):
        if crop is None:  # the region is in neither mask: no surface, NaN like an absent label
            for n in names:
                out[n].append(np.nan)
            continue
        # Binary masks of the region's box only (one voxel of margin, so that surfaces are
        # the same as in the whole image): no volume-sized temporaries per region.
        pc, gc = pred[crop], gt[crop]
        p, g = _member_mask(pc, members), _member_mask(gc, members)
        if p.flags.c_contiguous != g.flags.c_contiguous:  # one layout for both: one specialisation
            p, g = np.ascontiguousarray(p), np.ascontiguousarray(g)
        if ignore_label is not None:
            g[gc == ignore_label] = 2  # the ignore label of the binary pair
        got = surface_metrics(p, g, [1], spacing_mm=spacing_mm, names=names, params=params,
                              ignore_label=None if ignore_label is None else 2)  # fmt: skip
        for n in names:
            out[n].append(got[n][0])
    return {n: np.asarray(v, dtype=np.float64) for n, v in out.items()}


def _member_mask(arr: np.ndarray, members: np.ndarray) -> np.ndarray:
    """uint8 mask, 1 where ``arr`` holds a member label, in ``arr``'s memory order.

    A run of consecutive labels is two compares and a few labels are one compare each
    (elementwise ufuncs keep the layout of a strided crop and need no sort), else np.isin.
    """
    if arr.dtype.kind in "biu":
        info = np.iinfo(arr.dtype) if arr.dtype.kind != "b" else np.iinfo(np.uint8)
        vals = [int(v) for v in members if info.min <= v <= info.max]  # others cannot occur
        if not vals:
            return np.zeros(arr.shape, np.uint8)
        if len(vals) > 1 and vals[-1] - vals[0] + 1 == len(vals):
            return ((arr >= vals[0]) & (arr <= vals[-1])).view(np.uint8)
        if len(vals) <= 4:
            mask = arr == vals[0]
            for v in vals[1:]:
                mask |= arr == v
            return mask.view(np.uint8)
    return np.isin(arr, members).view(np.uint8)


def _region_crops(pred: np.ndarray, gt: np.ndarray, sets, ignore_label: Optional[int], margin: int = 1):
    """Per region (sorted member labels): the slices of its bounding box in PRED and GT, grown
    by ``margin`` voxels within the image, or None where neither mask has a member. One pass over
    the label maps (the per-label boxes of every member label, then their unions)."""
    from ..kernels import confusion as KC
    from ..kernels import surface as KS
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, kernel_box_slices, spatial_order

    union = np.unique(np.concatenate(sets))
    sorted_labels, lut, use_lut = KC.class_lookup(union)
    order = spatial_order(gt)
    g3, p3 = as_kernel_3d(gt, order), as_kernel_3d(pred, order)
    ign = np.int64(0 if ignore_label is None else ignore_label)
    lo, hi = KS.class_boxes(p3, g3, lut, sorted_labels, use_lut, ign, ignore_label is not None,
                            n_chunks(g3.shape[0] * g3.shape[1]))  # fmt: skip
    crops: list[Optional[tuple[slice, ...]]] = []
    for members in sets:
        idx = np.searchsorted(sorted_labels, members)
        rlo = lo[:, idx, :].reshape(-1, 3).min(axis=0)
        rhi = hi[:, idx, :].reshape(-1, 3).max(axis=0)
        if np.any(rlo > rhi):
            crops.append(None)
            continue
        crops.append(kernel_box_slices(rlo, rhi, order, gt.shape, margin))
    return crops


# Surface metrics are reductions in _reducers (they need the distances, not counts).
_s = declarer("surface", unit="mm")


_inf = float("inf")
_s("hd", "max(max d(P->G), max d(G->P))", "distance", 0, _inf, False, "Hausdorff distance between the surfaces")
_s(
    "hd95",
    "max(q95 d(P->G), q95 d(G->P)); --hd-percentile, --hd-mode pooled",
    "distance",
    0,
    _inf,
    False,
    "Percentile Hausdorff distance (95th by default; MONAI/MetricsReloaded, or MedPy with --hd-mode pooled)",
    in_table=True,
)
_s(
    "assd",
    "(sum d(P->G) + sum d(G->P)) / (n_P + n_G)",
    "distance",
    0,
    _inf,
    False,
    "Average symmetric surface distance",
    in_table=True,
)
_s("masd", "(mean d(P->G) + mean d(G->P)) / 2", "distance", 0, _inf, False, "Mean average surface distance")
_s(
    "nsd",
    "(#{d(P->G)<=tau} + #{d(G->P)<=tau}) / (n_P + n_G); --nsd-tolerance",
    "similarity",
    0,
    1,
    True,
    "Normalized surface Dice at tolerance tau mm (default 1)",
    in_table=True,
    unit=None,
)

# Directed distances (opt-in: `--metrics directed`, by name, or `all`), registered after the
# symmetric ones so that the existing column order is unchanged. pg: from each PRED surface
# voxel to the GT surface, d(P->G); gp: d(G->P).
_directed = [
    ("hd_pg", "max d(P->G)", "Directed Hausdorff distance, PRED surface to GT surface"),
    ("hd_gp", "max d(G->P)", "Directed Hausdorff distance, GT surface to PRED surface"),
    ("hd95_pg", "q95 d(P->G); --hd-percentile", "Directed percentile Hausdorff distance, PRED to GT"),
    ("hd95_gp", "q95 d(G->P); --hd-percentile", "Directed percentile Hausdorff distance, GT to PRED"),
    ("asd_pg", "mean d(P->G)", "Average surface distance, PRED surface to GT surface"),
    ("asd_gp", "mean d(G->P)", "Average surface distance, GT surface to PRED surface (MedPy asd(gt, pred))"),
]
for _name, _formula, _desc in _directed:
    _s(_name, _formula, "distance", 0, _inf, False, _desc, default=False)
