"""Zone weights from exactextract and their Dask application, against shapely cell by cell.

The oracle (:func:`helpers.zone_files.coverage_weighted_sum`) intersects every
cell box with the polygon in shapely; it shares no code with the package.
"""

from __future__ import annotations

import time
import tracemalloc

import dask
import dask.array as da
import numpy as np
import pytest
import shapely
from affine import Affine
from helpers.zone_files import coverage_weighted_sum, ring
from pyproj import CRS

from pipeline.errors import GridError
from pipeline.grid.spec import GridSpec
from pipeline.grid.zone_blocks import chunk_pieces, zone_totals
from pipeline.grid.zone_weights import coverage_warnings, zone_weights
from pipeline.grid.zones import Zones
from pipeline.kernels.zonal import zone_sums

ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m"
NY, NX = 60, 70


@pytest.fixture(scope="module", autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def projected_grid() -> GridSpec:
    """25 km cells at Albers-sized coordinates (origin far from 0)."""
    return GridSpec(CRS.from_proj4(ALBERS), Affine(25e3, 0, -2.65e6, 0, -25e3, 5.95e6), (NY, NX))


def latlon_grid() -> GridSpec:
    return GridSpec(CRS.from_epsg(4326), Affine(0.25, 0, 118.0, 0, -0.25, 46.0), (NY, NX))


def layer(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.gamma(0.5, 1e4, (NY, NX)) * (rng.random((NY, NX)) < 0.8)


def totals(grid: GridSpec, geometries, values, chunks=(16, 24)) -> np.ndarray:
    zones = Zones.from_geometries(geometries, grid.crs)
    weights = zone_weights(zones, grid)
    (found,) = dask.compute(zone_totals([da.from_array(values, chunks=chunks)], weights))
    return found[0]


def cell_box(grid: GridSpec, r0: int, r1: int, c0: int, c1: int):
    """The polygon of cells rows r0..r1-1, cols c0..c1-1, edges from the transform."""
    t = grid.transform
    return shapely.box(t.c + c0 * t.a, t.f + r1 * t.e, t.c + c1 * t.a, t.f + r0 * t.e)


@pytest.mark.parametrize("make_grid", [projected_grid, latlon_grid])
def test_a_cell_aligned_polygon_is_the_sum_of_its_cells(make_grid):
    grid, values = make_grid(), layer()
    boxes = {"block": cell_box(grid, 5, 17, 9, 30), "one": cell_box(grid, 40, 41, 60, 61)}
    found = totals(grid, boxes, values)
    np.testing.assert_allclose(found[0], values[5:17, 9:30].sum(), rtol=1e-9)
    np.testing.assert_allclose(found[1], values[40, 60], rtol=1e-9)
    np.testing.assert_allclose(found[2], values.sum(), rtol=1e-12)


@pytest.mark.parametrize("make_grid", [projected_grid, latlon_grid])
def test_a_polygon_cutting_cells_is_the_shapely_weighted_sum(make_grid):
    grid, values = make_grid(), layer(5)
    t = grid.transform
    cx, cy = t.c + 31.3 * t.a, t.f + 27.7 * t.e
    star = ring(cx, cy, 11.4 * t.a, 9.2 * abs(t.e), 301)
    with_hole = cell_box(grid, 2, 20, 40, 66).difference(
        ring(t.c + 52 * t.a, t.f + 11 * t.e, 5.3 * t.a, 4.1 * abs(t.e), 97)
    )
    found = totals(grid, [star, with_hole], values)
    x, y = grid.x, grid.y
    for n, polygon in enumerate([star, with_hole]):
        expected = coverage_weighted_sum(values, x, y, polygon)
        assert found[n] == pytest.approx(expected, rel=1e-6)
        centres = shapely.contains_xy(polygon, *np.meshgrid(x, y))
        assert abs(values[centres].sum() / expected - 1) > 1e-3  # cut cells matter here


def test_the_measured_accuracy_is_far_below_the_tolerance():
    """exactextract keeps fractions in single precision: about 1e-8 here, the bound is 6e-8."""
    grid, values = projected_grid(), layer(11)
    t = grid.transform
    errors = []
    for k in range(12):
        star = ring(
            t.c + (20 + 2.1 * k) * t.a,
            t.f + (15 + 1.7 * k) * t.e,
            8.3 * t.a,
            6.1 * abs(t.e),
            211,
            wobble=0.05 * k,
        )
        found = totals(grid, [star], values)[0]
        expected = coverage_weighted_sum(values, grid.x, grid.y, star)
        errors.append(abs(found / expected - 1))
    assert max(errors) < 6e-8


def test_chunking_does_not_change_the_totals():
    grid, values = projected_grid(), layer(7)
    t = grid.transform
    zones = [
        ring(t.c + 30 * t.a, t.f + 30 * t.e, 20 * t.a, 18 * abs(t.e), 157),
        cell_box(grid, 0, 60, 0, 70),
        ring(t.c + 5 * t.a, t.f + 50 * t.e, 9 * t.a, 9 * abs(t.e), 31),
    ]
    reference = totals(grid, zones, values, chunks=(NY, NX))
    for chunks in [(7, 9), (1, NX), (NY, 1), (13, 70), (59, 3)]:
        np.testing.assert_allclose(totals(grid, zones, values, chunks), reference, rtol=1e-12)


def test_zones_outside_or_partly_outside_get_their_inside_and_a_warning():
    grid, values = projected_grid(), layer()
    t = grid.transform
    geometries = {
        "inside": cell_box(grid, 3, 5, 3, 5),
        "away": shapely.box(-9e6, -9e6, -8e6, -8e6),
        "half": cell_box(grid, -4, 4, 10, 12),  # rows -4..-1 lie north of the grid
    }
    zones = Zones.from_geometries(geometries, grid.crs, source="z.gpkg")
    weights = zone_weights(zones, grid)
    notes = coverage_warnings(zones, weights, grid)
    assert notes == [
        "zone 'away' (feature 1 of z.gpkg) lies entirely outside the grid; its total is 0 t",
        "zone 'half' (feature 2 of z.gpkg) lies 50.0% outside the grid; only the part inside "
        "is counted",
    ]
    found = totals(grid, geometries, values)
    assert found[1] == 0.0
    np.testing.assert_allclose(found[2], values[0:4, 10:12].sum(), rtol=1e-9)
    assert t.a > 0


def test_weights_need_only_the_zones_cells_not_the_grid():
    """A zone of 30 x 30 cells on a grid of 4e10 cells: fast, and a few kB of memory."""
    grid = GridSpec(CRS.from_epsg(3857), Affine(10.0, 0, 0, 0, -10.0, 2e6), (200_000, 200_000))
    zone = shapely.box(1e6 + 3, 1e6 + 3, 1e6 + 303, 1e6 + 303)
    tracemalloc.start()
    start = time.perf_counter()
    weights = zone_weights(Zones.from_geometries([zone], grid.crs), grid)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 5 and peak < 10e6
    assert weights.zone.size == 31 * 31
    assert weights.per_zone()[0] == pytest.approx(900.0, rel=1e-6)
    assert set(np.unique(weights.row)) == set(range(99_969, 100_000))


def test_chunk_pieces_are_local_to_each_chunk():
    grid = projected_grid()
    zone = cell_box(grid, 14, 18, 22, 27)
    weights = zone_weights(Zones.from_geometries([zone], grid.crs), grid)
    pieces = chunk_pieces(((16, 16, 28), (24, 24, 22)), weights)
    assert len(pieces) == 9
    sizes = {ij: piece[0].size for ij, piece in pieces.items() if piece[0].size}
    assert sizes == {(0, 0): 2 * 2, (0, 1): 2 * 3, (1, 0): 2 * 2, (1, 1): 2 * 3}
    _, cell, _ = pieces[(1, 1)]
    assert sorted(cell) == [0, 1, 2, 24, 25, 26]  # rows 16-17, cols 24-26 of a 24-wide chunk


def test_layers_of_another_grid_are_refused():
    grid = projected_grid()
    weights = zone_weights(Zones.from_geometries([cell_box(grid, 0, 2, 0, 2)], grid.crs), grid)
    with pytest.raises(GridError, match="zone weights of a grid of"):
        zone_totals([da.zeros((NY, NX + 1))], weights)


def test_kernel_sums_by_hand():
    values = np.arange(12, dtype=float).reshape(2, 2, 3)  # two layers of 2 x 3
    out = zone_sums(values, np.array([0, 0, 2]), np.array([1, 5, 3]), np.array([0.5, 1.0, 0.25]), 3)
    np.testing.assert_array_equal(out[0], [0.5 * 1 + 5, 0, 0.25 * 3, 15])
    np.testing.assert_array_equal(out[1], [0.5 * 7 + 11, 0, 0.25 * 9, 51])
    empty = zone_sums(values[0], np.zeros(0, int), np.zeros(0, int), np.zeros(0), 2)
    np.testing.assert_array_equal(empty, [[0, 0, 15]])


def test_compact_weights_keep_exactextracts_fractions_exactly():
    """float32 coverage loses nothing: exactextract's fractions are single precision."""
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource

    from pipeline.grid.zone_weights import GridTemplate

    grid = projected_grid()
    t = grid.transform
    star = ring(t.c + 33.3 * t.a, t.f + 29.1 * t.e, 21.7 * t.a, 17.3 * abs(t.e), 997, 0.3)
    weights = zone_weights(Zones.from_geometries([star], grid.crs), grid)
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(star)}
    (found,) = exact_extract(
        GridTemplate(grid), JSONFeatureSource([feature]), ["cell_id", "coverage"]
    )
    assert weights.coverage.dtype == np.float32 and weights.row.dtype == np.int32
    np.testing.assert_array_equal(weights.row * NX + weights.col, found["properties"]["cell_id"])
    np.testing.assert_array_equal(
        weights.coverage.astype(np.float64), found["properties"]["coverage"]
    )
