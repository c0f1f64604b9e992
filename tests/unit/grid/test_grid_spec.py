"""The one grid type: a run's grid (from a transform) equals a store's (from centres)."""

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from pipeline.errors import ConfigError
from pipeline.grid.spec import GridSpec
from pipeline.grid.units import cell_area

GRIDS = [
    GridSpec(CRS.from_epsg(4326), Affine(0.5, 0, 70.0, 0, -0.5, 55.0), (60, 80)),
    GridSpec(CRS.from_epsg(3035), Affine(10_000.0, 0, 2.5e6, 0, -10_000.0, 5.5e6), (7, 9)),
]


@pytest.mark.parametrize("grid", GRIDS, ids=["lonlat", "laea"])
def test_store_grid_equals_run_grid(grid):
    stored = GridSpec.from_centres(grid.x, grid.y, grid.crs.to_wkt())
    assert stored == grid
    np.testing.assert_array_equal(stored.x, grid.x)
    np.testing.assert_array_equal(stored.y, grid.y)
    assert stored.spacing == (abs(grid.transform.a), abs(grid.transform.e))


@pytest.mark.parametrize("grid", GRIDS, ids=["lonlat", "laea"])
def test_row_areas_are_the_inventory_cell_area(grid):
    expected = cell_area(grid.crs, grid.transform, grid.y).values / 1e6
    stored = GridSpec.from_centres(grid.x, grid.y, grid.crs)
    np.testing.assert_array_equal(stored.row_areas_km2(), expected)
    np.testing.assert_array_equal(grid.row_areas_km2(), expected)


def test_cells_of_centres_and_outside_points():
    grid = GRIDS[0]
    rows, cols = np.array([0, 5, 59]), np.array([79, 3, 0])
    found_rows, found_cols, inside = grid.cells_of(grid.x[cols], grid.y[rows])
    assert inside.all()
    np.testing.assert_array_equal(found_rows, rows)
    np.testing.assert_array_equal(found_cols, cols)
    _, _, inside = grid.cells_of([69.9, 80.0], [40.0, 55.1])
    assert not inside.any()
    assert grid.cell_of(70.1, 54.9) == (0, 0)
    with pytest.raises(ConfigError, match="outside the grid"):
        grid.cell_of(69.9, 40.0)


def test_one_cell_axis_has_unit_spacing():
    grid = GridSpec.from_centres(np.array([5.0]), np.array([3.0, 2.0]), "EPSG:4326")
    assert grid.spacing == (1.0, 1.0)
    assert grid.shape == (2, 1)
