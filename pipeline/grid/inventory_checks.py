"""Checks on inventory values as they are read: corrupt blocks, infinities, overflow.

Both run inside the Dask tasks that read the inventory (so nothing reads the
grid twice) and raise the project's errors, which Dask hands back to the
client unchanged:

* :class:`GuardedRaster` reads raster windows for :func:`dask.array.from_array`;
  a block that GDAL cannot decode (a corrupt tile of a valid GeoTIFF) is an
  :class:`~pipeline.errors.InputFileError` naming the file and the block.
* :func:`checked_tonnes` passes a converted block through unless a cell is
  infinite in the file, or finite in the file but not after the unit
  conversion, or so large that a sum over the grid would overflow float64: a
  :class:`~pipeline.errors.GridError` naming the file, sector, row and column;
  so is a NaN or negative cell (naming its block, how many, and the first).
  The checks run in the task that reads the block: the ingest reads each block once.
"""

from __future__ import annotations

import os
from pathlib import Path

import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
from rasterio.windows import Window

from pipeline.errors import GridError, InputFileError


class GuardedRaster:
    """Array-like ``(band, y, x)`` view of a raster file that reads windows on demand."""

    def __init__(self, path: Path, shape: tuple[int, int, int], dtype: np.dtype):
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self.ndim = 3
        stat = os.stat(self.path)
        self._stamp = (stat.st_size, stat.st_mtime_ns)

    def __dask_tokenize__(self):
        return ("GuardedRaster", str(self.path), self.shape, str(self.dtype), self._stamp)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (3 - len(key))
        drop = tuple(n for n, k in enumerate(key) if isinstance(k, int | np.integer))
        spans = [slice(int(k), int(k) + 1) if n in drop else k for n, k in enumerate(key)]
        (b0, b1, _), (r0, r1, _), (c0, c1, _) = (
            k.indices(n) for k, n in zip(spans, self.shape, strict=True)
        )
        window = Window(c0, r0, c1 - c0, r1 - r0)
        try:
            with rasterio.open(self.path) as src:
                block = src.read(indexes=list(range(b0 + 1, b1 + 1)), window=window)
        except rasterio.errors.RasterioError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            return block.squeeze(axis=drop) if drop else block
        # raised outside the except block: no rasterio exception as context, which
        # Dask could not send back to the client
        raise InputFileError(
            f"{self.path}: cannot read the block at rows {r0}..{r1 - 1}, columns "
            f"{c0}..{c1 - 1} ({reason}); the file is damaged: re-export or download it "
            "again (gdalinfo -checksum finds bad tiles)"
        )


def guarded_array(path: Path, shape: tuple[int, int, int], dtype, chunks: int) -> da.Array:
    """A lazy ``(band, y, x)`` dask array of ``path`` read through :class:`GuardedRaster`."""
    source = GuardedRaster(path, shape, dtype)
    return da.from_array(
        source, chunks=(1, chunks, chunks), meta=np.empty((0, 0, 0), dtype=source.dtype)
    )


def _tonnes_block(block, *, tonnes, rows, path, sector, unit, limit, block_info=None):
    """``block`` in tonnes (``* tonnes``, then ``* rows`` per row for fluxes), checked."""
    (r0, r1), (c0, _) = block_info[0]["array-location"]
    with np.errstate(over="ignore", invalid="ignore"):
        after = block * tonnes
        if rows is not None:
            after = after * rows[r0:r1, None]
    bad = ~(np.abs(after) <= limit) & ~np.isnan(block)
    if not bad.any():
        _refuse_nan_or_negative(after, path=path, sector=sector, origin=(r0, c0))
        return after
    i, j = (int(v[0]) for v in np.nonzero(bad))
    where = f"row {r0 + i}, column {c0 + j}"
    if np.isinf(block[i, j]):
        raise GridError(
            f"{path}: {int(np.isinf(block).sum())} cells of sector {sector!r} in the block "
            f"from {where} are infinite; set them to the nodata value or fix the inventory"
        )
    raise GridError(
        f"{path}: the cell of sector {sector!r} at {where} ({block[i, j]:g} {unit} = "
        f"{after[i, j]:g} t) overflows float64 in tonnes or in the grid's sums; check "
        f"`units` ({unit!r}) and the cell values"
    )


def _refuse_nan_or_negative(block: np.ndarray, *, path, sector, origin) -> None:
    """Raise naming the file, sector and block if a cell is NaN or negative.

    Checked in the task that reads the block, so the ingest reads each block once.
    """
    for bad, what in ((np.isnan(block), "NaN"), (block < 0, "negative")):
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            raise GridError(
                f"{path}: {int(bad.sum())} cells of sector {sector!r} in the block from row "
                f"{origin[0]}, column {origin[1]} are {what} (the first at row {origin[0] + i}, "
                f"column {origin[1] + j}); set them to the nodata value or fix the inventory"
            )


def checked_tonnes(
    values: da.Array, *, tonnes: float, rows: np.ndarray | None, path, sector, unit
) -> da.Array:
    """``values * tonnes [* rows[:, None]]``, checked block by block (see the module docstring).

    A cell above ``float64 max / (1024 * cells)`` is refused too: with all cells
    below it, no sum over the grid, its sectors and consumers can overflow.
    """
    limit = np.finfo(np.float64).max / (1024.0 * max(values.size, 1))
    return da.map_blocks(
        _tonnes_block,
        values,
        tonnes=float(tonnes),
        rows=None if rows is None else np.asarray(rows, dtype=np.float64),
        path=str(path),
        sector=str(sector),
        unit=str(unit),
        limit=limit,
        dtype=np.float64,
        meta=np.empty((0, 0), dtype=np.float64),
    )
