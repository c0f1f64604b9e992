"""The demo inventory, row strip by row strip: memory bounded at any resolution.

A sector's layer is ``raw * scale[region] + uniform[region]``, where ``raw`` is
a few weighted points (plants, or city populations smoothed by a Gaussian
kernel) and the per-region ``scale`` and ``uniform`` make each province's cells
add up to its total (see :mod:`pipeline.demo.inventory`). Nothing here holds an
array of the grid's size except the caller's ``int16`` region index:

1. :func:`region_sums` makes a first pass over the strips for the per-region
   sums of ``raw``;
2. :func:`layer_strips` makes a second pass, yielding the finished strips;
3. :func:`write_strips` writes them into a GeoTIFF, window by window.

The values equal a whole-grid computation bit for bit: the Gaussian filter is
separable and each strip filters a window reaching ``radius = int(3 sigma +
0.5)`` rows beyond it (the filter's own truncation, ``mode="constant"``), and
the per-region sums carry from strip to strip in the order ``np.bincount``
adds a whole grid's cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS as RioCRS
from rasterio.windows import Window
from scipy.ndimage import gaussian_filter1d

from pipeline.errors import OutputError
from pipeline.grid.spec import GridSpec

#: Gaussian kernels are cut at this many standard deviations.
TRUNCATE = 3.0
#: GeoTIFF tile edge; strips of a multiple of it write whole tiles.
TILE = 256
#: Cells of one strip (float64: 32 MB), rounded to whole tile rows.
STRIP_CELLS = 2**22


@dataclass(frozen=True)
class RawSource:
    """A sector's raw weights: points in grid cells, optionally Gaussian-smoothed.

    Attributes
    ----------
    rows, cols : numpy.ndarray
        Cells of the points (inside the grid), in the order they are added.
    weights : numpy.ndarray
        Weight of each point; points in one cell add up.
    sigma : float
        Standard deviation of the Gaussian kernel in cells; 0 for bare points.
    """

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    sigma: float = 0.0

    @property
    def halo(self) -> int:
        """Rows beyond a strip that reach into it through the kernel."""
        return int(TRUNCATE * self.sigma + 0.5) if self.sigma > 0 else 0


def strip_rows(shape: tuple[int, int]) -> int:
    """Rows per strip for a grid of ``shape``: whole tile rows, about ``STRIP_CELLS``."""
    return max(TILE, STRIP_CELLS // max(shape[1], 1) // TILE * TILE)


def strips(ny: int, rows: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the strips of ``rows`` rows covering ``ny`` rows."""
    if rows < 1:
        raise ValueError(f"strip height must be at least 1 row, not {rows}")
    return [(r0, min(r0 + rows, ny)) for r0 in range(0, ny, rows)]


def raw_strip(source: RawSource, shape: tuple[int, int], r0: int, r1: int) -> np.ndarray:
    """Rows ``r0:r1`` of the raw layer, ``(r1 - r0, nx)`` float64.

    Smoothing filters the rows ``r0 - halo : r1 + halo`` down each column that
    holds a point (the others stay 0), then the strip's non-empty rows across,
    within ``halo`` columns of the outermost points.
    """
    ny, nx = shape
    w0, w1 = max(r0 - source.halo, 0), min(r1 + source.halo, ny)
    near = (source.rows >= w0) & (source.rows < w1)
    out = np.zeros((r1 - r0, nx))
    if not near.any():
        return out
    if source.sigma == 0:
        np.add.at(out, (source.rows[near] - r0, source.cols[near]), source.weights[near])
        return out
    cols, local = np.unique(source.cols[near], return_inverse=True)
    window = np.zeros((w1 - w0, cols.size))
    np.add.at(window, (source.rows[near] - w0, local), source.weights[near])
    down = _smooth(window, source.sigma, axis=0)[r0 - w0 : r1 - w0]
    out[:, cols] = down
    busy = np.flatnonzero(down.any(axis=1))
    span = slice(max(int(cols[0]) - source.halo, 0), min(int(cols[-1]) + source.halo + 1, nx))
    if busy.size:  # beyond the span every cell is 0 and stays 0
        out[busy, span] = _smooth(out[busy, span], source.sigma, axis=1)
    return out


def _smooth(values: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    """One axis of ``scipy.ndimage.gaussian_filter(mode="constant", truncate=3)``."""
    return gaussian_filter1d(values, sigma, axis=axis, mode="constant", truncate=TRUNCATE)


def _bins(index: np.ndarray, n: int) -> np.ndarray:
    """Flat bin of each cell: its region, or ``n`` outside every region."""
    return np.where(index < 0, n, index).ravel()


def cell_counts(index: np.ndarray, n: int, rows: int) -> np.ndarray:
    """Cells of each of the ``n`` regions and, last, outside (int64), strip by strip."""
    counts = np.zeros(n + 1, dtype=np.int64)
    for r0, r1 in strips(index.shape[0], rows):
        counts += np.bincount(_bins(index[r0:r1], n), minlength=n + 1)
    return counts


def region_sums(source: RawSource, index: np.ndarray, n: int, rows: int) -> np.ndarray:
    """Sum of the raw layer over each region's cells (``n + 1`` bins, outside last).

    Equal bit for bit to ``np.bincount`` over the whole grid: each strip's
    ``bincount`` starts from the sums so far, so every bin adds its cells in
    the same order.
    """
    sums = np.zeros(n + 1)
    carry = np.arange(n + 1)
    for r0, r1 in strips(index.shape[0], rows):
        raw = raw_strip(source, index.shape, r0, r1)
        sums = np.bincount(
            np.concatenate([carry, _bins(index[r0:r1], n)]),
            weights=np.concatenate([sums, raw.ravel()]),
            minlength=n + 1,
        )
    return sums


def layer_strips(
    source: RawSource, index: np.ndarray, scale: np.ndarray, uniform: np.ndarray, rows: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(r0, strip)`` of ``raw * scale[region] + uniform[region]``, top to bottom.

    ``scale`` and ``uniform`` have ``n + 1`` entries, the last (outside) 0.
    """
    n = scale.size - 1
    for r0, r1 in strips(index.shape[0], rows):
        bins = _bins(index[r0:r1], n)
        raw = raw_strip(source, index.shape, r0, r1)
        yield r0, (raw.ravel() * scale[bins] + uniform[bins]).reshape(raw.shape)


def write_strips(
    path: Path,
    parts: Iterable[tuple[int, np.ndarray]],
    grid: GridSpec,
    *,
    tags: dict[str, str],
    band_tags: dict[str, str],
) -> Path:
    """Write ``(r0, strip)`` parts into one float64 GeoTIFF, window by window.

    Tiled 256 x 256, DEFLATE with the floating-point predictor, no nodata: the
    file :func:`pipeline.results.exports.write_geotiff` writes from a whole
    array (the same bytes at 10 km and 1 km), without holding one. GDAL's block
    cache is capped at 64 MB while writing.
    """
    ny, nx = grid.shape
    profile = dict(
        driver="GTiff",
        width=nx,
        height=ny,
        count=1,
        dtype="float64",
        crs=RioCRS.from_wkt(grid.crs.to_wkt()),
        transform=grid.transform,
        nodata=None,
        tiled=True,
        blockxsize=TILE,
        blockysize=TILE,
        compress="DEFLATE",
        predictor=3,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.Env(GDAL_CACHEMAX=64 * 2**20), rasterio.open(path, "w", **profile) as dst:
            dst.update_tags(**tags)
            dst.update_tags(1, **band_tags)
            for r0, values in parts:
                dst.write(values, 1, window=Window(0, r0, nx, values.shape[0]))
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write the GeoTIFF ({exc}); choose another --out"
        ) from exc
    return path
