"""Cloud-Optimized GeoTIFFs of a store's cubes: one file per cube, one band per label.

GDAL's COG driver only copies a finished dataset, so each cube is first
written band by band and window by window into a tiled, band-interleaved
staging GeoTIFF (one dask chunk per write, on local threads, GDAL's block
cache capped), which the COG driver then copies with overviews. Memory stays
bounded by a few chunks plus one COG tile of every band (GDAL 3.10 writes COGs
pixel-interleaved; the tile edge shrinks with the band count, see
:func:`cog_blocksize`). The staging file is deleted afterwards; expect it to
need about as much disk as the COG.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from rasterio.enums import Resampling
from rasterio.windows import Window

from pipeline.storage.versions import atomic_path

#: The per-cell cubes written, one file each (``<name>.tif``).
COG_CUBES = (
    "foreign_footprint",
    "footprint",
    "footprint_by_sector",
    "footprint_by_category",
    "emissions",
)
#: Tile edges of the staging GeoTIFF, preferred first; chunks are aligned to one.
STAGING_TILES = (256, 128, 64)
#: Largest COG tile over all bands, in bytes (GDAL holds one while copying).
TILE_BUDGET = 128 * 2**20
#: The longest side of the coarsest overview, in cells (about).
OVERVIEW_MIN = 128
#: GDAL's block cache while writing, in MB.
GDAL_CACHE_MB = 256
COG_OPTIONS = {
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "YES",
    "OVERVIEWS": "FORCE_USE_EXISTING",
    "BIGTIFF": "IF_SAFER",
    "NUM_THREADS": "ALL_CPUS",
}


def write_cogs(
    ds: xr.Dataset,
    directory: Path,
    *,
    cubes: Sequence[str] = COG_CUBES,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Write each of ``cubes`` present in ``ds`` as ``directory/<cube>.tif``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in cubes:
        if name in ds:
            written.append(write_cog(ds[name], directory / f"{name}.tif", crs=ds.rio.crs))
            echo(f"  wrote {written[-1]} ({_n_bands(ds[name])} band(s))")
    return written


def _n_bands(var: xr.DataArray) -> int:
    return var.shape[0] if var.ndim == 3 else 1


def write_cog(var: xr.DataArray, path: Path, *, crs) -> Path:
    """Write one ``(y, x)`` or ``(label, y, x)`` cube as a COG.

    Band ``i`` holds label ``i`` of the first dimension; its description is the
    label (the variable's name for a single layer), and its tags name the
    dimension and the units. The file's tags hold ``units`` and ``long_name``.

    Parameters
    ----------
    var : xarray.DataArray
        Lazy cube with cell-centre coordinates ``y`` (descending) and ``x``.
    path : Path
        Output ``.tif``; written to a temporary and moved into place.
    crs : CRS input
        The grid's CRS.
    """
    data = var.data if isinstance(var.data, da.Array) else da.from_array(var.values)
    data, tile = staged(data[None] if var.ndim == 2 else data)
    profile = {
        "driver": "GTiff",
        "width": var.sizes["x"],
        "height": var.sizes["y"],
        "count": data.shape[0],
        "dtype": var.dtype.name,
        "crs": crs,
        "transform": var.rio.transform(recalc=True),
        "tiled": True,
        "blockxsize": tile,
        "blockysize": tile,
        "interleave": "band",
        "compress": "DEFLATE",
        "zlevel": 1,
        "BIGTIFF": "IF_SAFER",
    }
    options = {**COG_OPTIONS, "BLOCKSIZE": cog_blocksize(data.shape[0], var.dtype.itemsize)}
    levels = overview_count(profile["height"], profile["width"])
    factors = [2**level for level in range(1, levels + 1)]
    with atomic_path(path) as tmp:
        staging = tmp.with_name(tmp.name + ".staging.tif")
        try:
            with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
                with rasterio.open(staging, "w", **profile) as dst:
                    _describe(dst, var)
                    da.store(data, _Windows(dst), lock=threading.Lock(), scheduler="threads")
                    # band by band (the staging file is band-interleaved), so GDAL's
                    # cache holds one band's tile row, not every band's
                    dst.build_overviews(factors, Resampling.average)
                rasterio.shutil.copy(staging, tmp, driver="COG", **options)
        finally:
            staging.unlink(missing_ok=True)
    return path


def cog_blocksize(n_bands: int, itemsize: int) -> int:
    """The largest COG tile edge (512, 256 or 128) whose tile over all bands fits the budget."""
    for edge in (512, 256):
        if edge * edge * n_bands * itemsize <= TILE_BUDGET:
            return edge
    return 128


def overview_count(height: int, width: int) -> int:
    """Overview levels, each half the last, until the grid's longer side is at most 128 cells.

    At least one, so that even a coarse grid has an overview (GDAL's own rule
    stops at one tile, which leaves a 100 x 100 grid without any).
    """
    return max(1, math.ceil(math.log2(max(height, width) / OVERVIEW_MIN)))


def staged(data: da.Array) -> tuple[da.Array, int]:
    """``data`` in one-band chunks of whole staging tiles, and the tile edge.

    The tile is the largest of :data:`STAGING_TILES` that divides every
    spatial chunk edge (a dimension of one chunk is whole at any tile), so each
    chunk's write covers whole tiles and no tile is compressed twice. Chunks
    that no such tile divides are rechunked to multiples of the largest.
    """
    edges = [chunks[0] for chunks in data.chunks[1:] if len(chunks) > 1]
    for tile in STAGING_TILES:
        if all(edge % tile == 0 for edge in edges):
            return data.rechunk({0: 1}), tile
    tile = STAGING_TILES[0]
    spatial = [c if len(c) == 1 else -(-c[0] // tile) * tile for c in data.chunks[1:]]
    return data.rechunk((1, *spatial)), tile


class _Windows:
    """A ``da.store`` target: each block is written to its bands and window."""

    def __init__(self, dst):
        self.dst = dst

    def __setitem__(self, key: tuple[slice, slice, slice], block: np.ndarray) -> None:
        bands, rows, cols = key
        window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        indexes = list(range(bands.start + 1, bands.stop + 1))
        self.dst.write(np.asarray(block), indexes=indexes, window=window)


def _describe(dst, var: xr.DataArray) -> None:
    """Band descriptions (the labels) and tags (units, dimension, long_name)."""
    units = str(var.attrs.get("units", ""))
    dst.update_tags(units=units, long_name=str(var.attrs.get("long_name", var.name)))
    if var.ndim == 2:
        dst.set_band_description(1, str(var.name))
        dst.update_tags(1, units=units)
        return
    dim = var.dims[0]
    for band, label in enumerate(var[dim].values, start=1):
        dst.set_band_description(band, str(label))
        dst.update_tags(band, units=units, **{dim: str(label)})
