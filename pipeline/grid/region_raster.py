"""Region index from a raster of integer region ids and an ``id,code`` table.

The rule of :mod:`pipeline.grid.regions` in raster form: each grid cell takes the
id of the source pixel at its centre (nearest neighbour; ``resampling="mode"``
takes the most frequent id instead, for sources much finer than the grid);
source nodata and ids ``< 0`` are outside; a region that gets no cell takes the
cell containing the mean position of its source pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject

from pipeline.errors import ConfigError, GridError, InputFileError
from pipeline.grid.regions import OUTSIDE
from pipeline.grid.spec import GridSpec


def region_index_from_raster(
    path: str | Path,
    grid: GridSpec,
    *,
    codes_csv: str | Path,
    resampling: str = "nearest",
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Bring a raster of integer region ids onto ``grid`` by the module's rule.

    Parameters
    ----------
    path : str or Path
        Single-band integer raster (GeoTIFF) with a CRS; nodata and ids < 0 are
        outside every region.
    grid : GridSpec
        Target (inventory) grid.
    codes_csv : str or Path, keyword-only
        CSV with columns ``id,code``: the region code of each id.
    resampling : {"nearest", "mode"}, keyword-only
        Id at the cell centre, or the most frequent id in the cell.

    Returns
    -------
    index : numpy.ndarray
        ``int16`` of ``grid.shape``: position in ``codes``, or ``-1``.
    codes : tuple of str
        Region codes in the CSV's order.
    """
    path = Path(path)
    ids, codes = _read_id_table(Path(codes_csv))
    if resampling not in ("nearest", "mode"):
        raise ConfigError(f"resampling {resampling!r} for {path}; use 'nearest' or 'mode'")
    if not path.is_file():
        raise InputFileError(f"{path}: region raster not found; check `raster`")
    with rasterio.open(path) as src:
        if src.crs is None:
            raise GridError(f"{path}: region raster has no CRS; write one (gdal_edit.py -a_srs)")
        lookup, centroids = _scan_ids(src, ids, path, codes_csv)
        warped = np.full(grid.shape, -1, dtype=np.int64)
        reproject(
            rasterio.band(src, 1),
            warped,
            dst_transform=grid.transform,
            dst_crs=grid.crs.to_wkt(),
            dst_nodata=-1,
            resampling=Resampling[resampling],
        )
        src_crs, src_transform = src.crs, src.transform
    index = np.where(warped >= 0, lookup.get_positions(warped), OUTSIDE).astype(np.int16)
    _claim_cells_for_raster_regions(index, centroids, src_crs, src_transform, grid)
    return index, codes


class _IdLookup:
    def __init__(self, ids: np.ndarray):
        self.ids = ids
        self.order = np.argsort(ids)

    def get_positions(self, values: np.ndarray) -> np.ndarray:
        sorted_ids = self.ids[self.order]
        pos = np.clip(np.searchsorted(sorted_ids, values), 0, len(sorted_ids) - 1)
        found = sorted_ids[pos] == values
        return np.where(found, self.order[pos], OUTSIDE)


def _read_id_table(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    import pandas as pd

    if not path.is_file():
        raise InputFileError(f"{path}: region code table not found; check `raster_codes`")
    table = pd.read_csv(path, dtype={"code": str})
    if not {"id", "code"} <= set(table.columns):
        raise InputFileError(f"{path}: needs columns id,code; it has {list(table.columns)}")
    for column in ("id", "code"):
        dupes = sorted(set(table[column][table[column].duplicated()].astype(str)))
        if dupes:
            raise InputFileError(f"{path}: duplicate {column}s {dupes}; keep one row each")
    return table["id"].to_numpy(np.int64), tuple(table["code"].astype(str))


def _scan_ids(src, ids: np.ndarray, path: Path, codes_csv) -> tuple[_IdLookup, dict]:
    """Check every id has a code; mean pixel position (col, row) of each id, by blocks."""
    lookup, sums = _IdLookup(ids), {}
    for _, window in src.block_windows(1):
        block = src.read(1, window=window).astype(np.int64)
        valid = block >= 0 if src.nodata is None else (block >= 0) & (block != src.nodata)
        rows, cols = np.nonzero(valid)
        values = block[rows, cols]
        for value in np.unique(values):
            sel = values == value
            s = sums.setdefault(int(value), np.zeros(3))
            col_sum = (cols[sel] + window.col_off + 0.5).sum()
            s += (sel.sum(), col_sum, (rows[sel] + window.row_off + 0.5).sum())
    unknown = sorted(v for v in sums if lookup.get_positions(np.array([v]))[0] < 0)
    if unknown:
        raise GridError(f"{path}: region ids {unknown[:10]} are not in {codes_csv}; add them")
    centroids = {int(lookup.get_positions(np.array([v]))[0]): s[1:] / s[0] for v, s in sums.items()}
    return lookup, centroids


def _claim_cells_for_raster_regions(
    index: np.ndarray, centroids: dict, src_crs, src_transform: Affine, grid: GridSpec
) -> None:
    present = set(np.unique(index[index >= 0]).tolist())
    for code, (col, row) in sorted(centroids.items()):
        if code in present:
            continue
        x, y = src_transform @ (col, row)
        (gx,), (gy,) = rasterio.warp.transform(src_crs, grid.crs.to_wkt(), [x], [y])
        gcol, grow = ~grid.transform @ (gx, gy)
        grow, gcol = int(np.floor(grow)), int(np.floor(gcol))
        if 0 <= grow < grid.shape[0] and 0 <= gcol < grid.shape[1]:
            index[grow, gcol] = code
