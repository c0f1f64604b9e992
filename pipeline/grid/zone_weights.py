"""Each zone's cells and exact coverage fractions on a grid, from exactextract.

The weights are sparse (like xESMF's regridding weights): for every zone, the
cells its polygon touches and the fraction of each cell's area inside it,
computed once by exactextract's ``cell_id`` and ``coverage`` operations. The
grid is given to exactextract as a template raster (:class:`GridTemplate`)
whose windows are views of one zero, so no array of the grid's size is built:
exactextract reads the window of each zone's bounding box only. The weights
then apply to any layer of the grid, chunk by chunk
(:mod:`pipeline.grid.zone_blocks`).

Coverage fractions are planar in the grid's CRS (on a lat/lon grid, fractions
of the cell's degree box) and exactextract stores them in single precision: a
fraction is within 6e-8 (relative) of the exact area ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely.geometry
from exactextract import exact_extract
from exactextract.feature import JSONFeature, JSONFeatureSource
from exactextract.raster import RasterSource
from exactextract.writer import JSONWriter

from pipeline.grid.spec import GridSpec
from pipeline.grid.zones import Zones

#: Share of a zone's area that may lie outside the grid before a warning.
OUTSIDE_TOLERANCE = 1e-6


class GridTemplate(RasterSource):
    """An exactextract raster source of a grid's geometry only (every value 0).

    Parameters
    ----------
    grid : pipeline.grid.spec.GridSpec
        A north-up grid.
    """

    def __init__(self, grid: GridSpec):
        super().__init__()
        t, (ny, nx) = grid.transform, grid.shape
        self._res = (abs(t.a), abs(t.e))
        self._extent = (t.c, t.f + t.e * ny, t.c + t.a * nx, t.f)

    def res(self) -> tuple[float, float]:
        """Cell width and height."""
        return self._res

    def extent(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)``."""
        return self._extent

    def srs_wkt(self) -> None:
        """None: the zones are reprojected to the grid's CRS beforehand."""
        return None

    def nodata_value(self) -> None:
        """None: every cell counts."""
        return None

    def read_window(self, x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
        """A read-only ``(ny, nx)`` view of one zero."""
        return np.broadcast_to(np.zeros(1, dtype=np.uint8), (ny, nx))


class WeightWriter(JSONWriter):
    """An exactextract writer that keeps each zone's cells and fractions, compactly.

    exactextract hands it one zone at a time; its ``cell_id`` (int64) and
    ``coverage`` (float64 holding single-precision values) arrays become int32
    rows and columns and float32 fractions (no loss) at once, so the weights
    take 16 bytes per (zone, cell) and exactextract's arrays live one zone at a time.

    Parameters
    ----------
    nx : int
        Columns of the grid (``cell_id`` is ``row * nx + col``).
    """

    def __init__(self, nx: int):
        super().__init__()
        self.nx = nx
        self.parts: list[tuple[np.ndarray, ...]] = []

    def write(self, feature) -> None:
        """Keep one zone's covered cells (coverage > 0)."""
        found = JSONFeature()
        feature.copy_to(found)
        props = found.feature["properties"]
        ids = np.asarray(props["cell_id"], dtype=np.int64)
        coverage = np.asarray(props["coverage"], dtype=np.float64)
        keep = coverage > 0
        rows, cols = np.divmod(ids[keep], self.nx)
        zone = np.full(rows.size, int(props["zone"]), dtype=np.int32)
        self.parts.append(
            (zone, rows.astype(np.int32), cols.astype(np.int32), coverage[keep].astype(np.float32))
        )


@dataclass(frozen=True)
class ZoneWeights:
    """Sparse zones x cells weights: parallel arrays, one entry per (zone, cell).

    Attributes
    ----------
    n_zones : int
        Number of zones.
    shape : (int, int)
        The grid's ``(ny, nx)``.
    zone, row, col : numpy.ndarray
        int32 zone position and cell of each entry, grouped by zone.
    coverage : numpy.ndarray
        float32 fraction of the cell's area inside the zone, in (0, 1]
        (exactextract's single-precision value, exactly).
    """

    n_zones: int
    shape: tuple[int, int]
    zone: np.ndarray
    row: np.ndarray
    col: np.ndarray
    coverage: np.ndarray

    def per_zone(self, per_row: np.ndarray | None = None) -> np.ndarray:
        """``(n_zones,)`` sums of the coverage, weighted by a per-row value if given.

        With ``per_row`` the ground area of one cell of each row, it is each
        zone's area on the grid.
        """
        weights = np.asarray(self.coverage, dtype=np.float64)
        if per_row is not None:
            weights = weights * per_row[self.row]
        return np.bincount(self.zone, weights=weights, minlength=self.n_zones)


def zone_weights(zones: Zones, grid: GridSpec) -> ZoneWeights:
    """The cells each zone covers and their coverage fractions, from exactextract.

    Parameters
    ----------
    zones : Zones
        In the grid's CRS (:meth:`Zones.to_crs`).
    grid : pipeline.grid.spec.GridSpec
        The grid.

    Returns
    -------
    ZoneWeights
        Cells outside the grid are left out; a zone wholly outside has no entry.
    """
    features = [
        {"type": "Feature", "properties": {"zone": n}, "geometry": shapely.geometry.mapping(g)}
        for n, g in enumerate(zones.geometries)
    ]
    writer = WeightWriter(grid.shape[1])
    exact_extract(
        GridTemplate(grid),
        JSONFeatureSource(features),
        ["cell_id", "coverage"],
        include_cols=["zone"],
        output=writer,
    )
    if not writer.parts:
        none = np.zeros(0, np.int32)
        return ZoneWeights(len(zones.names), grid.shape, none, none, none, none.astype(np.float32))
    zone, rows, cols, coverage = (np.concatenate(c) for c in zip(*writer.parts, strict=True))
    return ZoneWeights(len(zones.names), grid.shape, zone, rows, cols, coverage)


def coverage_warnings(zones: Zones, weights: ZoneWeights, grid: GridSpec) -> list[str]:
    """Sentences on zones wholly or partly outside the grid (their totals count the inside).

    The covered area (coverage times the cell's area in the grid's CRS units)
    is compared with the polygon's planar area in the same units.
    """
    dx, dy = grid.spacing
    covered = weights.per_zone() * dx * dy
    notes = []
    for n, (name, geom) in enumerate(zip(zones.names, zones.geometries, strict=True)):
        where = f"zone {name!r} (feature {n} of {zones.source})"
        if covered[n] <= 0:
            notes.append(f"{where} lies entirely outside the grid; its total is 0 t")
        elif covered[n] < (1 - OUTSIDE_TOLERANCE) * geom.area:
            outside = 1 - covered[n] / geom.area
            notes.append(
                f"{where} lies {outside:.1%} outside the grid; only the part inside is counted"
            )
    return notes
