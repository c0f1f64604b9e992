"""Region index rasters from boundary polygons.

Rasterization rule (documented in README.md):

1. Polygons are reprojected to the grid's CRS.
2. **Centre rule.** A cell belongs to the region whose polygon contains the cell
   centre (``rasterio.features.rasterize`` with ``all_touched=False``). Where
   polygons overlap, the later feature in the file wins.
3. **Small regions never vanish.** A region that contains no cell centre (Macau
   at 10 km) first takes the unclaimed cells its polygon touches; if it touches
   none, it takes the cell that contains its representative point, even from a
   neighbour.
4. Cells outside every polygon get ``-1``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio.features
import shapely.geometry
from affine import Affine
from pyproj import CRS
from rasterio.warp import transform_geom

from pipeline.errors import ConfigError, InputFileError

OUTSIDE = -1


@dataclass(frozen=True)
class GridSpec:
    """A regular grid: CRS, affine transform of the upper-left corner and shape.

    Parameters
    ----------
    crs : pyproj.CRS
        Coordinate reference system of the grid.
    transform : affine.Affine
        Maps (col, row) to (x, y) of the upper-left cell corner, rows going south.
    shape : tuple of int
        ``(ny, nx)``.
    """

    crs: CRS
    transform: Affine
    shape: tuple[int, int]

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x coordinates."""
        cols = np.arange(self.shape[1]) + 0.5
        return self.transform.c + cols * self.transform.a

    @property
    def y(self) -> np.ndarray:
        """Cell-centre y coordinates."""
        rows = np.arange(self.shape[0]) + 0.5
        return self.transform.f + rows * self.transform.e


@dataclass(frozen=True)
class Regions:
    """Boundary polygons with their codes, in EPSG:4326 or any CRS."""

    codes: tuple[str, ...]
    geometries: tuple[dict, ...]
    crs: CRS
    source: str

    def to_crs(self, crs: CRS) -> Regions:
        """Return the polygons reprojected to ``crs``."""
        if CRS.from_user_input(crs) == self.crs:
            return self
        src, dst = self.crs.to_wkt(), CRS.from_user_input(crs).to_wkt()
        geoms = tuple(transform_geom(src, dst, g) for g in self.geometries)
        return Regions(self.codes, geoms, CRS.from_user_input(crs), self.source)


def read_regions(path: str | Path, *, code_field: str = "code") -> Regions:
    """Read region polygons from a GeoJSON file.

    Parameters
    ----------
    path : str or Path
        GeoJSON FeatureCollection. A ``crs`` member (legacy GeoJSON) is honoured;
        otherwise EPSG:4326 is assumed, as RFC 7946 requires.
    code_field : str, keyword-only
        Feature property holding the region code.

    Returns
    -------
    Regions
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: boundary file not found; check [regions] boundaries")
    try:
        doc = json.loads(path.read_text())
        features = doc["features"]
    except (ValueError, KeyError) as exc:
        raise InputFileError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from exc
    codes, geoms = [], []
    for n, feat in enumerate(features):
        props = feat.get("properties") or {}
        if code_field not in props:
            raise ConfigError(
                f"{path}: feature {n} has no property {code_field!r}; "
                f"set [regions] code_field to one of {sorted(props)}"
            )
        codes.append(str(props[code_field]))
        geoms.append(feat["geometry"])
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise InputFileError(f"{path}: duplicate region codes {dupes}; dissolve them into one")
    crs_name = (doc.get("crs") or {}).get("properties", {}).get("name", "EPSG:4326")
    return Regions(tuple(codes), tuple(geoms), CRS.from_user_input(crs_name), str(path))


def grid_covering(regions: Regions, *, crs: CRS | str, resolution: float) -> GridSpec:
    """Return the grid of square cells of ``resolution`` covering ``regions`` in ``crs``.

    The grid's edges are snapped to multiples of the resolution, so grids of
    different extents but the same resolution align.
    """
    projected = regions.to_crs(CRS.from_user_input(crs))
    bounds = np.array([shapely.geometry.shape(g).bounds for g in projected.geometries])
    xmin = np.floor(bounds[:, 0].min() / resolution) * resolution
    ymin = np.floor(bounds[:, 1].min() / resolution) * resolution
    xmax = np.ceil(bounds[:, 2].max() / resolution) * resolution
    ymax = np.ceil(bounds[:, 3].max() / resolution) * resolution
    shape = (round((ymax - ymin) / resolution), round((xmax - xmin) / resolution))
    transform = Affine(resolution, 0.0, xmin, 0.0, -resolution, ymax)
    return GridSpec(CRS.from_user_input(crs), transform, shape)


def rasterize_regions(regions: Regions, grid: GridSpec) -> np.ndarray:
    """Rasterize ``regions`` onto ``grid`` by the module's documented rule.

    Returns
    -------
    numpy.ndarray
        ``int16`` array of shape ``grid.shape``: the position of each cell's region
        in ``regions.codes``, or ``-1`` outside every region.
    """
    projected = regions.to_crs(grid.crs)
    shapes = [(g, i) for i, g in enumerate(projected.geometries)]
    index = rasterio.features.rasterize(
        shapes,
        out_shape=grid.shape,
        transform=grid.transform,
        fill=OUTSIDE,
        all_touched=False,
        dtype="int16",
    )
    present = np.zeros(len(regions.codes), dtype=bool)
    present[np.unique(index[index >= 0])] = True
    for missing in np.flatnonzero(~present):
        _claim_cells_for_small_region(index, projected.geometries[missing], int(missing), grid)
    return index


def _claim_cells_for_small_region(
    index: np.ndarray, geometry: dict, code: int, grid: GridSpec
) -> None:
    touched = rasterio.features.rasterize(
        [(geometry, 1)],
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)
    free = touched & (index == OUTSIDE)
    if free.any():
        index[free] = code
        return
    point = shapely.geometry.shape(geometry).representative_point()
    col, row = ~grid.transform @ (point.x, point.y)
    row, col = int(np.floor(row)), int(np.floor(col))
    if 0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]:
        index[row, col] = code


def region_cell_counts(index: np.ndarray, n_regions: int) -> np.ndarray:
    """Number of cells of each region in ``index`` (``-1`` cells are ignored)."""
    return np.bincount(index[index >= 0].ravel(), minlength=n_regions)


def select_codes(codes: Sequence[str], wanted: Sequence[str]) -> np.ndarray:
    """Positions of ``wanted`` in ``codes``; raise naming unknown codes."""
    lookup = {c: i for i, c in enumerate(codes)}
    unknown = [w for w in wanted if w not in lookup]
    if unknown:
        raise ConfigError(f"unknown region codes {unknown}; known codes are {list(codes)}")
    return np.array([lookup[w] for w in wanted], dtype=np.int64)
