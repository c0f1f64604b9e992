"""Region index rasters from boundary polygons or from a region raster.

Sources: GeoJSON (built in), Shapefile and GeoPackage (through ``pyogrio``), or
a list of boundary files **layered** in order. A raster of integer region ids
follows the same rule in raster form (:mod:`pipeline.grid.region_raster`).

Rasterization rule (documented in README.md):

1. Polygons are reprojected to the grid's CRS.
2. **Centre rule.** A cell belongs to the region whose polygon contains the cell
   centre (``rasterio.features.rasterize`` with ``all_touched=False``). Where
   polygons overlap, the later feature in the file wins; with layered files, the
   later file wins (e.g. world countries, then Chinese provinces on top).
3. **Small regions never vanish.** A region that contains no cell centre (Macau
   at 10 km) first takes the unclaimed cells its polygon touches; if it touches
   none, it takes the cell that contains its representative point, even from a
   neighbour of its own layer (never from a region of a later layer).
4. **Superseded regions may vanish.** With layered files, a region of which at
   least half the area lies under later layers (``CHN`` under the provinces)
   keeps only the cell centres it still wins, possibly none; step 3 does not
   apply to it. Slivers where simplified outlines of two layers disagree can
   leave it a few border cells: map its code with ``[regions] aliases``.
5. Cells outside every polygon get ``-1``. Features whose code is empty (null)
   are skipped with a warning, so their cells count as outside.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio.features
import shapely
import shapely.geometry
from affine import Affine
from pyproj import CRS
from rasterio.warp import transform_geom

from pipeline.errors import ConfigError, InputFileError
from pipeline.grid.boundaries import read_geojson, read_ogr
from pipeline.grid.spec import GridSpec
from pipeline.textfiles import check_file

log = logging.getLogger(__name__)

OUTSIDE = -1


@dataclass(frozen=True)
class Regions:
    """Boundary polygons with their codes, in EPSG:4326 or any CRS."""

    codes: tuple[str, ...]
    geometries: tuple[dict, ...]
    crs: CRS
    source: str
    layers: tuple[int, ...] = ()

    def to_crs(self, crs: CRS) -> Regions:
        """Return the polygons reprojected to ``crs``."""
        if CRS.from_user_input(crs) == self.crs:
            return self
        src, dst = self.crs.to_wkt(), CRS.from_user_input(crs).to_wkt()
        geoms = tuple(transform_geom(src, dst, g) for g in self.geometries)
        return replace(self, geometries=geoms, crs=CRS.from_user_input(crs))

    def layer_of(self, n: int) -> int:
        """Layer (boundary file position) of region ``n``; 0 for a single file."""
        return self.layers[n] if self.layers else 0


def read_regions(
    path: str | Path | Sequence[str | Path],
    *,
    code_field: str | Sequence[str] = "code",
    layer: str | int | None = None,
) -> Regions:
    """Read region polygons from GeoJSON, Shapefile or GeoPackage, or layered files.

    Parameters
    ----------
    path : str or Path, or sequence of them
        GeoJSON FeatureCollection (a legacy ``crs`` member is honoured, otherwise
        EPSG:4326 as RFC 7946 requires), or any OGR vector file (``.shp``,
        ``.gpkg``, ...; needs ``pyogrio``). A sequence is layered in order: later
        files win where they overlap (see :func:`combine_regions`).
    code_field : str or sequence of str, keyword-only
        Feature property holding the region code; one per file when layered.
    layer : str or int, optional
        Layer of a multi-layer file (GeoPackage); the first by default.

    Returns
    -------
    Regions
    """
    if not isinstance(path, str | Path):
        paths = list(path)
        fields = [code_field] * len(paths) if isinstance(code_field, str) else list(code_field)
        if len(fields) != len(paths):
            raise ConfigError(
                f"{len(paths)} boundary files but {len(fields)} code fields; "
                "give `code_field` as one name or one per boundary file"
            )
        parts = [read_regions(p, code_field=f) for p, f in zip(paths, fields, strict=True)]
        return combine_regions(*parts)
    if not isinstance(code_field, str):
        raise ConfigError("`code_field` is a list but `boundaries` is one file")
    path = check_file(path, what="boundary file", fix="check `boundaries`")
    if path.suffix.lower() in (".geojson", ".json"):
        properties, geoms, crs = read_geojson(path)
    else:
        properties, geoms, crs = read_ogr(path, layer)
    return _build_regions(path, properties, geoms, crs, code_field)


def _build_regions(
    path: Path, properties: list[dict], geoms: list[dict], crs: CRS, code_field: str
) -> Regions:
    codes, kept, skipped = [], [], 0
    for n, (props, geom) in enumerate(zip(properties, geoms, strict=True)):
        if code_field not in props:
            raise ConfigError(
                f"{path}: feature {n} has no property {code_field!r}; "
                f"set `code_field` to one of {sorted(props)}"
            )
        code = props[code_field]
        if geom is None and code is not None and str(code).strip():
            raise InputFileError(
                f"{path}: feature {n} ({code_field} {str(code)!r}) has no geometry (null); "
                "give it its polygon or drop the feature"
            )
        if code is None or str(code).strip() == "":
            skipped += 1
            continue
        codes.append(str(code))
        kept.append(geom)
    if skipped:
        log.warning("%s: skipped %d features with an empty %r", path, skipped, code_field)
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise InputFileError(f"{path}: duplicate region codes {dupes}; dissolve them into one")
    return Regions(tuple(codes), tuple(kept), crs, str(path))


def combine_regions(*parts: Regions) -> Regions:
    """Layer region sets: later sets win where they overlap; codes must stay unique.

    Parameters
    ----------
    *parts : Regions
        In layering order, e.g. world countries then Chinese provinces.

    Returns
    -------
    Regions
        In the CRS of the first part, with :attr:`Regions.layers` set.
    """
    if not parts:
        raise ConfigError("no boundary files; list them under `boundaries`")
    crs = parts[0].crs
    projected = [part.to_crs(crs) for part in parts]
    codes = [c for part in projected for c in part.codes]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        where = {c: [p.source for p in parts if c in p.codes] for c in dupes[:5]}
        raise InputFileError(
            f"region codes {dupes} appear in several boundary files ({where}); "
            "rename them or drop them from one file so each code is unique"
        )
    return Regions(
        tuple(codes),
        tuple(g for part in projected for g in part.geometries),
        crs,
        " + ".join(part.source for part in parts),
        tuple(k for k, part in enumerate(projected) for _ in part.codes),
    )


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

    See Also
    --------
    pipeline.grid.region_blocks.rasterize_regions_lazy : the same, chunk by chunk.
    """
    projected = regions.to_crs(grid.crs)
    index = burn_window(projected, grid, (slice(0, grid.shape[0]), slice(0, grid.shape[1])))
    claimants = claimant_regions(projected, region_cell_counts(index, len(regions.codes)) > 0)
    for rows, cols, code in small_region_claims(projected, grid, claimants, lambda w: index[w]):
        index[rows, cols] = code
    return index


def burn_regions(
    projected: Regions, transform: Affine, shape: tuple[int, int], subset: Sequence[int] = ()
) -> np.ndarray:
    """Centre-rule raster of the (already projected) regions on one window.

    Parameters
    ----------
    projected : Regions
        Regions in the grid's CRS.
    transform : affine.Affine
        Transform of the window's upper-left corner.
    shape : tuple of int
        ``(rows, cols)`` of the window.
    subset : sequence of int, optional
        Positions of the regions to burn, in order (default all); the others
        cannot reach the window.
    """
    order = subset if len(subset) else range(len(projected.codes))
    shapes = [(projected.geometries[i], i) for i in order]
    if not shapes or 0 in shape:
        return np.full(shape, OUTSIDE, dtype="int16")
    return rasterio.features.rasterize(
        shapes, out_shape=shape, transform=transform, fill=OUTSIDE, all_touched=False, dtype="int16"
    )


Window = tuple[slice, slice]

#: Edge of the fixed tiles, aligned to the grid origin, in which polygons are burnt.
#: GDAL computes a polygon's crossings relative to the raster's origin, so a cell
#: whose centre lies exactly on a boundary could fall either way in windows with
#: different origins; burning every cell from the origin of its fixed tile makes
#: the index the same for any chunking. On grids of up to one tile a side it is
#: also the same as one whole-grid burn; on larger grids such boundary-centre
#: cells may fall differently than in a whole-grid burn.
BURN_TILE = 1024


def burn_window(
    projected: Regions, grid: GridSpec, window: Window, subset: Sequence[int] = ()
) -> np.ndarray:
    """Centre-rule raster of ``window`` of ``grid``, burnt tile by fixed tile.

    Parameters
    ----------
    projected : Regions
        Regions in the grid's CRS.
    grid : GridSpec
    window : (slice, slice)
        Rows and columns of the grid to return.
    subset : sequence of int, optional
        Regions that can reach the window (default all), in order.
    """
    rows, cols = window
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype="int16")
    for tr in range(rows.start - rows.start % BURN_TILE, rows.stop, BURN_TILE):
        for tc in range(cols.start - cols.start % BURN_TILE, cols.stop, BURN_TILE):
            r0, r1 = max(tr, rows.start), min(tr + BURN_TILE, rows.stop)
            c0, c1 = max(tc, cols.start), min(tc + BURN_TILE, cols.stop)
            origin = grid.transform @ Affine.translation(tc, tr)
            tile = burn_regions(projected, origin, (r1 - tr, c1 - tc), subset)
            out[r0 - rows.start : r1 - rows.start, c0 - cols.start : c1 - cols.start] = tile[
                r0 - tr :, c0 - tc :
            ]
    return out


def claimant_regions(projected: Regions, present: np.ndarray) -> list[int]:
    """Regions that won no cell centre and may claim cells (rule 3, not rule 4).

    Parameters
    ----------
    projected : Regions
        Regions in the grid's CRS.
    present : ndarray of bool
        Whether each region won at least one cell centre.
    """
    covers: dict[int, object] = {}
    return [int(n) for n in np.flatnonzero(~present) if not _superseded(projected, int(n), covers)]


def small_region_claims(
    projected: Regions,
    grid: GridSpec,
    claimants: Sequence[int],
    read: Callable[[Window], np.ndarray],
) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Cells claimed by the ``claimants`` (rule 3), one region at a time.

    Parameters
    ----------
    projected : Regions
        Regions in the grid's CRS.
    grid : GridSpec
    claimants : sequence of int
        From :func:`claimant_regions`.
    read : callable
        ``read((rows, cols))`` returns that window of the current index; the
        caller applies each yielded claim before the next one is computed. Only
        windows inside a claimant's :func:`geometry_window` are read.

    Yields
    ------
    (rows, cols, code)
        Grid cells given to region ``code``.
    """
    layers = np.array([projected.layer_of(n) for n in range(len(projected.codes))], dtype=np.int64)
    for n in claimants:
        claim = _claim_cells(projected.geometries[n], grid, read, layers > layers[n])
        if claim is not None:
            yield (*claim, n)


def _superseded(regions: Regions, n: int, covers: dict) -> bool:
    """Whether at least half of region ``n`` lies under regions of later layers."""
    layer = regions.layer_of(n)
    if layer == max(regions.layers, default=0):
        return False
    if layer not in covers:
        later = [
            shapely.make_valid(shapely.geometry.shape(g))
            for i, g in enumerate(regions.geometries)
            if regions.layer_of(i) > layer
        ]
        covers[layer] = shapely.union_all(later)
    own = shapely.make_valid(shapely.geometry.shape(regions.geometries[n]))
    return own.area > 0 and own.intersection(covers[layer]).area >= 0.5 * own.area


def _claim_cells(
    geometry: dict, grid: GridSpec, read: Callable[[Window], np.ndarray], later: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Free cells the polygon touches, else the cell of its representative point."""
    window = geometry_window(geometry, grid)
    if window is not None:
        (r, c) = window
        touched = rasterio.features.rasterize(
            [(geometry, 1)],
            out_shape=(r.stop - r.start, c.stop - c.start),
            transform=grid.transform @ Affine.translation(c.start, r.start),
            fill=0,
            all_touched=True,
            dtype="uint8",
        ).astype(bool)
        rows, cols = np.nonzero(touched & (read(window) == OUTSIDE))
        if rows.size:
            return rows + r.start, cols + c.start
    point = shapely.geometry.shape(geometry).representative_point()
    col, row = ~grid.transform @ (point.x, point.y)
    row, col = int(np.floor(row)), int(np.floor(col))
    if 0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]:
        owner = int(read((slice(row, row + 1), slice(col, col + 1)))[0, 0])
        if owner == OUTSIDE or not later[owner]:
            return np.array([row]), np.array([col])
    return None


def geometry_window(geometry: dict, grid: GridSpec) -> Window | None:
    """Rows and columns of ``grid`` that the geometry's bounding box reaches (plus one).

    ``None`` if the box misses the grid.
    """
    minx, miny, maxx, maxy = shapely.bounds(shapely.geometry.shape(geometry))
    if not np.isfinite([minx, miny, maxx, maxy]).all():  # an empty geometry
        return None
    inverse = ~grid.transform
    xs, ys = zip(*(inverse @ (x, y) for x in (minx, maxx) for y in (miny, maxy)), strict=True)
    c0, c1 = max(int(np.floor(min(xs))) - 1, 0), min(int(np.ceil(max(xs))) + 1, grid.shape[1])
    r0, r1 = max(int(np.floor(min(ys))) - 1, 0), min(int(np.ceil(max(ys))) + 1, grid.shape[0])
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)


def region_cell_counts(index: np.ndarray, n_regions: int) -> np.ndarray:
    """Number of cells of each region in ``index`` (``-1`` cells are ignored)."""
    return np.bincount(index[index >= 0].ravel(), minlength=n_regions)
