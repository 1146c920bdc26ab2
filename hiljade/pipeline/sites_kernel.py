"""The clustering loop of ``sites`` over arrays, compiled with numba: the same rule, step for step.

Every step does what ``sites.Clusterer`` does, in the same floating-point operations in the same
order (no fast-math, so no reassociation and no fused multiply-add): the grid rows and columns
(``floor``), the search span of a row, the squared distances and the tie by the smaller id, the
weight, the weight sums in join order, the cheap bound of the re-centre test with CPython's
``math.hypot`` (``_hypot`` repeats its algorithm in CPython 3.11: scaled, error-free squares,
compensated sums and a corrected square root), and the exact test over every member. Sites get
their index in id order, so the tie by the smaller id compares indices. ``tests/test_sites_fast.py``
pins the results to the reference (and ``_hypot`` and the cosine to Python's).

State lives in arrays the caller allocates (so ``tracemalloc`` sees them) and the loop stops when
the site arrays are full, to be called again after the caller has grown them:

- ``sf`` (float, one row a site): centre, metres per degree of longitude there, weight sums, and
  the bound of the members' distance to the centre (``LAT`` ... ``MAXD``);
- ``si`` (int, one row a site): id, grid row and column, the previous and next site in its cell,
  and its last member (entries link to the one before through ``mnext``);
- ``h``: the grid, from a cell (row, column) to its first site, ``FREE`` marking an empty slot:
  either dense (``g``: first row, first column, columns, rows; a cell's slot is its place in the
  box) or an open-addressing table (``g`` columns 0; linear probing, backward-shift deletion,
  never more than half full);
- ``ef`` (lat, lon, precision), ``es`` (site) and ``mnext`` per entry: the existing sites'
  members first, then the points in clustering order.

The functions are plain Python until ``ready()`` compiles them (numba is imported only then).
"""

from __future__ import annotations

import math

from hiljade.pipeline.geometry import M_PER_DEG

LAT, LON, KX, SW, SWLAT, SWLON, MAXD = range(7)
ID, ROW, COL, PREV, NEXT, LAST = range(6)
FREE = -2
DEG2RAD = math.pi / 180.0  # what math.radians multiplies by
SPLIT = 134217729.0  # 2**27 + 1 (Veltkamp)


def _two_product(x: float, y: float) -> tuple[float, float]:
    """x*y rounded and its exact error (what fma(x, y, -x*y) gives), by Dekker's splitting."""
    z = x * y
    t = x * SPLIT
    xh = t - (t - x)
    xl = x - xh
    t = y * SPLIT
    yh = t - (t - y)
    yl = y - yh
    return z, ((xh * yh - z) + xh * yl + xl * yh) + xl * yl


def _hypot(x: float, y: float) -> float:
    """CPython's math.hypot(x, y) (``vector_norm`` of mathmodule.c), operation for operation."""
    x = abs(x)
    y = abs(y)
    top = 0.0
    if x > top:
        top = x
    if y > top:
        top = y
    if top == math.inf:
        return top
    if x != x or y != y:
        return math.nan
    if top == 0.0:
        return top
    if math.frexp(top)[1] < -1023:  # subnormal: CPython 3.11 divides by the larger instead
        csum = 1.0
        frac = 0.0
        v = x / top
        v = v * v
        s = csum + v
        frac += (csum - s) + v
        csum = s
        v = y / top
        v = v * v
        s = csum + v
        frac += (csum - s) + v
        csum = s
        return top * math.sqrt(csum - 1.0 + frac)
    return _norm(x, y, top)


def _norm(x: float, y: float, top: float) -> float:
    """The body of ``vector_norm`` for two non-negative finite values, ``top`` the larger."""
    scale = math.ldexp(1.0, -math.frexp(top)[1])
    csum = 1.0
    frac1 = 0.0
    frac2 = 0.0
    v = x * scale
    hi, lo = _two_product(v, v)
    s = csum + hi
    frac2 += (csum - s) + hi
    csum = s
    frac1 += lo
    v = y * scale
    hi, lo = _two_product(v, v)
    s = csum + hi
    frac2 += (csum - s) + hi
    csum = s
    frac1 += lo
    h = math.sqrt(csum - 1.0 + (frac1 + frac2))
    hi, lo = _two_product(-h, h)
    s = csum + hi
    frac2 += (csum - s) + hi
    csum = s
    frac1 += lo
    v = csum - 1.0 + (frac1 + frac2)
    h += v / (2.0 * h)
    return h / scale


def _mpd(lat: float) -> float:
    """geometry.metres_per_degree."""
    return M_PER_DEG * math.cos(lat * DEG2RAD)


def _weight(precision: float) -> float:
    """sites.weight: max(precision, 1) as Python's max picks it."""
    p = precision
    if p < 1.0:
        p = 1.0
    return 1.0 / (p * p)


def _home(g, row: int, col: int, mask: int) -> int:  # noqa: ANN001
    """Where cell (row, column) belongs: its own slot in a dense grid (``g``: first row, first column,
    columns; 0 columns for a hash table), else its hash."""
    if g[2] > 0:
        return (row - g[0]) * g[2] + (col - g[1])
    return ((row * 73856093) ^ (col * 19349663)) & mask


def _find(h, g, row: int, col: int, mask: int) -> int:  # noqa: ANN001
    """The slot of cell (row, col), or the free slot where it would go."""
    i = _home(g, row, col, mask)
    while h[i, 2] != FREE:
        if h[i, 0] == row and h[i, 1] == col:
            return i
        i = (i + 1) & mask
    return i


def _link(si, h, g, mask: int, k: int) -> None:  # noqa: ANN001
    """Put site k first in its cell."""
    i = _find(h, g, si[k, ROW], si[k, COL], mask)
    si[k, PREV] = -1
    if h[i, 2] == FREE:
        h[i, 0] = si[k, ROW]
        h[i, 1] = si[k, COL]
        si[k, NEXT] = -1
    else:
        first = h[i, 2]
        si[k, NEXT] = first
        si[first, PREV] = k
    h[i, 2] = k


def _unlink(si, h, g, mask: int, k: int) -> None:  # noqa: ANN001
    """Take site k out of its cell; an emptied cell leaves the table (backward shift)."""
    i = _find(h, g, si[k, ROW], si[k, COL], mask)
    before, after = si[k, PREV], si[k, NEXT]
    if after >= 0:
        si[after, PREV] = before
    if before >= 0:
        si[before, NEXT] = after
        return
    h[i, 2] = after
    if after >= 0:
        return
    h[i, 2] = FREE
    if g[2] > 0:
        return
    j = i
    while True:
        j = (j + 1) & mask
        if h[j, 2] == FREE:
            break
        home = _home(g, h[j, 0], h[j, 1], mask)
        movable = (home <= i < j) if home <= j else (i >= home or i < j)
        if movable:
            h[i, 0] = h[j, 0]
            h[i, 1] = h[j, 1]
            h[i, 2] = h[j, 2]
            h[j, 2] = FREE
            i = j


def _start(sf, si, h, g, mask, k, site_id, lat, lon, row_deg, col_scale) -> None:  # noqa: ANN001
    """Clusterer._start: site k with this id and centre, in its cell."""
    sf[k, LAT] = lat
    sf[k, LON] = lon
    sf[k, KX] = _mpd(lat)
    sf[k, SW] = 0.0
    sf[k, SWLAT] = 0.0
    sf[k, SWLON] = 0.0
    sf[k, MAXD] = 0.0
    si[k, ID] = site_id
    si[k, ROW] = math.floor(lat / row_deg)
    si[k, COL] = math.floor(lon * col_scale)
    si[k, LAST] = -1
    _link(si, h, g, mask, k)


def _keep(sf, si, mnext, k, e, lat, lon, w) -> None:  # noqa: ANN001
    """Clusterer._keep: entry e joins site k."""
    sf[k, SW] += w
    sf[k, SWLAT] += w * lat
    sf[k, SWLON] += w * lon
    mnext[e] = si[k, LAST]
    si[k, LAST] = e


def _nearest(sf, si, h, g, mask, lat, lon, radius, row_deg, col_scale):  # noqa: ANN001, ANN202
    """Clusterer._nearest: (site, squared distance), site -1 when no centre is within the radius."""
    row = math.floor(lat / row_deg)
    a = abs(row)
    b = abs(row + 1)
    pole = ((b if b > a else a) + 1) * row_deg
    if pole > 89.9:
        pole = 89.9
    span = radius / _mpd(pole) * (1 + 1e-9)
    c0 = math.floor((lon - span) * col_scale)
    c1 = math.floor((lon + span) * col_scale)
    best = -1  # ties go to the smaller id, which is the smaller index: ids grow with the index
    best_d2 = radius * radius
    for r in range(row - 1, row + 2):
        for c in range(c0, c1 + 1):
            k = h[_find(h, g, r, c, mask), 2]
            while k >= 0:
                dy = (lat - sf[k, LAT]) * M_PER_DEG
                dx = (lon - sf[k, LON]) * sf[k, KX]
                d2 = dx * dx + dy * dy
                if d2 <= best_d2 and (d2 < best_d2 or best < 0 or k < best):
                    best = k
                    best_d2 = d2
                k = si[k, NEXT]
    return best, best_d2


def _farthest(sf, si, ef, mnext, k, lat, lon, kx, radius):  # noqa: ANN001, ANN202
    """Clusterer._farthest: the largest member distance from (lat, lon), early out past the radius."""
    r2 = radius * radius
    worst = 0.0
    e = si[k, LAST]
    while e >= 0:
        dy = (ef[e, 0] - lat) * M_PER_DEG
        dx = (ef[e, 1] - lon) * kx
        d2 = dx * dx + dy * dy
        if d2 > worst:
            worst = d2
            if worst > r2:
                break
        e = mnext[e]
    return math.sqrt(worst)


def _recentre(sf, si, h, g, mask, ef, mnext, k, maxd, radius, row_deg, col_scale) -> None:  # noqa: ANN001
    """Clusterer._recentre: move site k's centre to its members' mean if all stay within the radius."""
    mlat = sf[k, SWLAT] / sf[k, SW]
    mlon = sf[k, SWLON] / sf[k, SW]
    kx = _mpd(mlat)
    q = kx / sf[k, KX]
    grow = q if q > 1.0 else 1.0
    moved = _hypot((mlon - sf[k, LON]) * sf[k, KX], (mlat - sf[k, LAT]) * M_PER_DEG)
    bound = grow * (maxd + moved) + 1e-9
    if bound > radius:
        bound = _farthest(sf, si, ef, mnext, k, mlat, mlon, kx, radius)
        if bound > radius:
            sf[k, MAXD] = maxd
            return
    sf[k, LAT] = mlat
    sf[k, LON] = mlon
    sf[k, KX] = kx
    sf[k, MAXD] = bound
    row = math.floor(mlat / row_deg)
    col = math.floor(mlon * col_scale)
    if row != si[k, ROW] or col != si[k, COL]:
        _unlink(si, h, g, mask, k)
        si[k, ROW] = row
        si[k, COL] = col
        _link(si, h, g, mask, k)


def load(sf, si, h, g, ef, es, mnext, ids, lat, lon, offsets, row_deg, col_scale) -> None:  # noqa: ANN001
    """Clusterer.load for every existing site (by id): site k's members are entries offsets[k]..."""
    mask = h.shape[0] - 1
    for k in range(ids.shape[0]):
        _start(sf, si, h, g, mask, k, ids[k], lat[k], lon[k], row_deg, col_scale)
        for e in range(offsets[k], offsets[k + 1]):
            plat = ef[e, 0]
            plon = ef[e, 1]
            _keep(sf, si, mnext, k, e, plat, plon, _weight(ef[e, 2]))
            d = _hypot((plon - sf[k, LON]) * sf[k, KX], (plat - sf[k, LAT]) * M_PER_DEG)
            if d > sf[k, MAXD]:
                sf[k, MAXD] = d
            es[e] = k


def place(sf, si, h, g, ef, es, mnext, start, sites, next_id, radius, row_deg, col_scale):  # noqa: ANN001, ANN201
    """Clusterer.add for entries start...: returns (the first entry not placed, sites, next id); it
    stops early only when a new site would not fit in ``sf``/``si``."""
    mask = h.shape[0] - 1
    for e in range(start, ef.shape[0]):
        lat = ef[e, 0]
        lon = ef[e, 1]
        best, d2 = _nearest(sf, si, h, g, mask, lat, lon, radius, row_deg, col_scale)
        w = _weight(ef[e, 2])
        if best < 0:
            if sites == sf.shape[0]:
                return e, sites, next_id
            k = sites
            sites += 1
            _start(sf, si, h, g, mask, k, next_id, lat, lon, row_deg, col_scale)
            next_id += 1
            _keep(sf, si, mnext, k, e, lat, lon, w)
        else:
            k = best
            _keep(sf, si, mnext, k, e, lat, lon, w)
            d = math.sqrt(d2)
            maxd = sf[k, MAXD]
            _recentre(sf, si, h, g, mask, ef, mnext, k, d if d > maxd else maxd, radius, row_deg, col_scale)
        es[e] = k
    return ef.shape[0], sites, next_id


def relink(si, h, g, sites) -> None:  # noqa: ANN001
    """Fill an empty grid table with sites 0..sites-1 (after the arrays grew)."""
    mask = h.shape[0] - 1
    for k in range(sites):
        _link(si, h, g, mask, k)


def group(es, fill, out) -> None:  # noqa: ANN001
    """A counting sort: ``out`` lists the entries site by site, in entry order within a site;
    ``fill`` starts as each site's offset."""
    for e in range(es.shape[0]):
        k = es[e]
        out[fill[k]] = e
        fill[k] += 1


def hypot_many(x, y, out) -> None:  # noqa: ANN001
    """_hypot over arrays (for the pin test against math.hypot)."""
    for i in range(x.shape[0]):
        out[i] = _hypot(x[i], y[i])


def mpd_many(lat, out) -> None:  # noqa: ANN001
    """_mpd over an array (for the pin test against geometry.metres_per_degree)."""
    for i in range(lat.shape[0]):
        out[i] = _mpd(lat[i])


# Callees before callers: each is compiled with the ones it calls already swapped in.
_COMPILED = (
    *("_two_product", "_norm", "_hypot", "_mpd", "_weight", "_home", "_find", "_link", "_unlink"),
    *("_start", "_keep", "_nearest", "_farthest", "_recentre", "load", "place", "relink"),
    *("group", "hypot_many", "mpd_many"),
)
_ready: list[bool] = []


def ready() -> None:
    """Swap the functions above for their numba-compiled versions, once per process. numba keeps
    the machine code in its cache (``cache=True``: ``__pycache__`` beside this file, or the user's
    cache directory), so only the first run after an install pays the compile."""
    if _ready:
        return
    import numba  # deferred: numba and LLVM add ~0.15 s and ~65 MiB; only large clusterings need them

    space = globals()
    for name in _COMPILED:
        space[name] = numba.njit(cache=True, nogil=True, error_model="numpy")(space[name])
    _ready.append(True)
