"""MaxBoxAccV2's two costly steps, compiled with numba on first use (cached beside this file when it
can be written): OpenCV's bicubic resize, and the boxes of every contour ``cv2.findContours(RETR_TREE)``
finds at every level of a banded map.

The resize applies precomputed taps in OpenCV's order (rows, then columns; four taps left to right),
so it is bit-identical. For the contours one raster pass serves all levels at once. Along a row, each
change of band opens or closes the runs of ``band > l`` of every level it crosses; at the end of the row each level's runs are linked to the runs of the row
above that they touch (8-connected), and the gaps between them, to the gaps above that share a
column (4-connected). Union-find keeps each component's bounding box. A component of runs is an
outer contour; a component of gaps that never reaches the border of the map is a hole, also a
contour. The cost is one pass over the pixels plus one step per run, whatever the number of levels.

Plain loops and comparisons rather than min / max and slice assignment: numba compiles one more
function for each such overload it meets, which made the first use twice as slow.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _find(parent, i):
    while parent[i] != i:              # path halving
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True)
def _union(parent, size, box, outside, a, b):
    a, b = _find(parent, a), _find(parent, b)
    if a == b:
        return
    if size[a] < size[b]:
        a, b = b, a
    parent[b] = a
    size[a] += size[b]
    for c in range(2):
        if box[b, c] < box[a, c]:
            box[a, c] = box[b, c]
        if box[b, c + 2] > box[a, c + 2]:
            box[a, c + 2] = box[b, c + 2]
    outside[a] = outside[a] or outside[b]


@njit(cache=True)
def apply_taps(cam, ys, wy, xs, wx):
    """(len(ys), len(xs)) float64: out[i, j] = sum over a of wy[i, a] * (sum over b of wx[j, b] * cam[ys[i, a], xs[j, b]]),
    each sum taken in tap order."""
    rows = np.empty((cam.shape[0], len(xs)))
    for r in range(cam.shape[0]):
        for j in range(len(xs)):
            rows[r, j] = (cam[r, xs[j, 0]] * wx[j, 0] + cam[r, xs[j, 1]] * wx[j, 1] + cam[r, xs[j, 2]] * wx[j, 2]
                          + cam[r, xs[j, 3]] * wx[j, 3])
    out = np.empty((len(ys), len(xs)))
    for i in range(len(ys)):
        for j in range(len(xs)):
            out[i, j] = (rows[ys[i, 0], j] * wy[i, 0] + rows[ys[i, 1], j] * wy[i, 1] + rows[ys[i, 2], j] * wy[i, 2]
                         + rows[ys[i, 3], j] * wy[i, 3])
    return out


@njit(cache=True)
def _contours(quantised, lut, levels):
    """(n, 5) rows [level, x0, y0, x1, y1] of the components and holes of every level, and which are holes."""
    h, w = quantised.shape
    band = np.empty((h, w), np.int32)
    runs = 0                                          # runs of all levels: the rises along padded rows
    for y in range(h):
        u = 0
        for x in range(w):
            band[y, x] = lut[quantised[y, x]]
            runs += band[y, x] - u if band[y, x] > u else 0
            u = band[y, x]
    n = 2 * runs + 1                                  # every run, and at most as many gaps between runs
    parent, size = np.arange(n, dtype=np.int32), np.ones(n, np.int32)
    box = np.empty((n, 4), np.int32)                  # x0, y0, x1, y1
    level_of, is_gap, outside = np.empty(n, np.int32), np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    ids = 0
    cap = w // 2 + 2                                  # runs of one level in a row, at most
    # each level's runs in this row and the one above: first and last column, id, and the ids of the gaps
    start, end, run_id, gap_id = (np.empty((levels, cap), np.int32), np.empty((levels, cap), np.int32),
                                  np.empty((levels, cap), np.int32), np.empty((levels, cap), np.int32))
    count = np.zeros(levels, np.int32)
    start_above, end_above, id_above, gap_above = (np.empty((levels, cap), np.int32), np.empty((levels, cap), np.int32),
                                                   np.empty((levels, cap), np.int32), np.empty((levels, cap), np.int32))
    count_above = np.zeros(levels, np.int32)
    opened = np.empty(levels, np.int32)
    top_above = 0
    for y in range(h):
        for level in range(levels):
            count[level] = 0
        u = top = 0
        for x in range(w + 1):
            v = band[y, x] if x < w else 0
            if v > u:
                top = v if v > top else top
                for level in range(u, v):
                    opened[level] = x
            else:
                for level in range(v, u):             # close the runs of levels v .. u - 1
                    k = count[level]
                    start[level, k], end[level, k], run_id[level, k] = opened[level], x - 1, ids
                    box[ids, 0], box[ids, 1], box[ids, 2], box[ids, 3] = opened[level], y, x - 1, y
                    level_of[ids] = level
                    ids += 1
                    count[level] = k + 1
            u = v
        for level in range(top if top > top_above else top_above):     # the levels with runs in this row or the one above
            nc, npr = count[level], count_above[level]
            i = j = 0                                 # runs touching the runs above, corners included
            while i < nc and j < npr:
                if end_above[level, j] < start[level, i] - 1:
                    j += 1
                elif end[level, i] < start_above[level, j] - 1:
                    i += 1
                else:
                    _union(parent, size, box, outside, run_id[level, i], id_above[level, j])
                    if end[level, i] < end_above[level, j]:
                        i += 1
                    else:
                        j += 1
            for k in range(1, nc):                    # the gaps between runs; the first and last reach the border
                gap_id[level, k] = ids
                box[ids, 0], box[ids, 1], box[ids, 2], box[ids, 3] = end[level, k - 1] + 1, y, start[level, k] - 1, y
                level_of[ids], is_gap[ids], outside[ids] = level, True, y == 0 or y == h - 1
                ids += 1
            i = j = 0                                 # gaps sharing a column with the gaps above
            while (nc > 1 or npr > 1) and i <= nc and j <= npr:
                c0 = end[level, i - 1] + 1 if i > 0 else 0
                c1 = start[level, i] - 1 if i < nc else w - 1
                p0 = end_above[level, j - 1] + 1 if j > 0 else 0
                p1 = start_above[level, j] - 1 if j < npr else w - 1
                if c1 < c0 or c1 < p0:
                    i += 1
                    continue
                if p1 < p0 or p1 < c0:
                    j += 1
                    continue
                a = gap_id[level, i] if 0 < i < nc else -1
                b = gap_above[level, j] if 0 < j < npr else -1
                if a >= 0 and b >= 0:
                    _union(parent, size, box, outside, a, b)
                elif a >= 0 or b >= 0:
                    outside[_find(parent, a if a > b else b)] = True
                if c1 < p1:
                    i += 1
                else:
                    j += 1
        top_above = top
        start, start_above, end, end_above = start_above, start, end_above, end
        run_id, id_above, gap_id, gap_above = id_above, run_id, gap_above, gap_id
        count, count_above = count_above, count
    roots = 0
    for i in range(ids):
        if parent[i] == i and not (is_gap[i] and outside[i]):
            roots += 1
    found, holes = np.empty((roots, 5), np.int64), np.empty(roots, np.bool_)
    k = 0
    for i in range(ids):
        if parent[i] == i and not (is_gap[i] and outside[i]):
            found[k, 0] = level_of[i]
            for c in range(4):
                found[k, c + 1] = box[i, c]
            holes[k] = is_gap[i]
            k += 1
    return found, holes


def level_components(quantised: np.ndarray, band_of: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (rows [level, x0, y0, x1, y1], inclusive pixels) of the 8-connected components of
    ``band > l`` and of the holes, the 4-connected components of ``band <= l`` that do not touch the
    border, for l in 0 .. levels - 1, where ``band = band_of[quantised]``: a uint8 map, and the band in
    0 .. levels of each of its 256 values. Returns the boxes and which of them are holes."""
    return _contours(np.ascontiguousarray(quantised, np.uint8), np.asarray(band_of, np.int32), levels)
