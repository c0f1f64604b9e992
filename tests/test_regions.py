"""Region rasterization: the documented rule, small regions, CRS handling."""

import json

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from pipeline.errors import ConfigError, InputFileError
from pipeline.grid.regions import (
    GridSpec,
    Regions,
    grid_covering,
    rasterize_regions,
    read_regions,
    region_cell_counts,
)
from pipeline.resources import data_file

ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"


def square(x0, y0, size):
    return {
        "type": "Polygon",
        "coordinates": [
            [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]
        ],
    }


def unit_grid(n=4):
    return GridSpec(CRS.from_epsg(3857), Affine(1.0, 0, 0, 0, -1.0, n), (n, n))


def test_centre_rule_on_a_hand_drawn_grid():
    # Region A covers x in [0, 2.4): cells 0 and 1 have centres 0.5, 1.5 -> A; cell 2 (2.5) -> B.
    regions = Regions(
        ("A", "B"),
        (
            {"type": "Polygon", "coordinates": [[(0, 0), (2.4, 0), (2.4, 4), (0, 4), (0, 0)]]},
            {"type": "Polygon", "coordinates": [[(2.4, 0), (4, 0), (4, 4), (2.4, 4), (2.4, 0)]]},
        ),
        CRS.from_epsg(3857),
        "t",
    )
    index = rasterize_regions(regions, unit_grid())
    np.testing.assert_array_equal(index, np.tile([0, 0, 1, 1], (4, 1)))


def test_region_without_a_cell_centre_still_gets_a_cell():
    tiny = square(1.1, 1.1, 0.3)  # inside cell (row 2, col 1), misses its centre (1.5, 1.5)
    regions = Regions(("BIG", "TINY"), (square(0, 0, 4), tiny), CRS.from_epsg(3857), "t")
    index = rasterize_regions(regions, unit_grid())
    assert region_cell_counts(index, 2).tolist() == [15, 1]
    assert index[2, 1] == 1


def test_tiny_region_takes_free_touched_cells_first():
    regions = Regions(
        ("LAND", "ISLE"), (square(0, 0, 2), square(3.1, 3.1, 0.2)), CRS.from_epsg(3857), "t"
    )
    index = rasterize_regions(regions, unit_grid())
    assert index[0, 3] == 1 and (index == 1).sum() == 1
    assert (index == -1).sum() == 16 - 4 - 1


@pytest.fixture(scope="module")
def china_10km():
    regions = read_regions(data_file("china_provinces.geojson"))
    grid = grid_covering(regions, crs=ALBERS, resolution=10_000)
    return regions, grid, rasterize_regions(regions, grid)


def test_china_raster_keeps_macau_and_hong_kong(china_10km):
    regions, grid, index = china_10km
    counts = dict(zip(regions.codes, region_cell_counts(index, len(regions.codes)), strict=True))
    assert counts["CN-MO"] >= 1
    assert counts["CN-HK"] >= 5  # ~1,100 km2
    assert all(n > 0 for n in counts.values())
    # Beijing is ~16,400 km2: about 164 cells of 100 km2.
    assert 140 <= counts["CN-BJ"] <= 190
    assert grid.shape == (430, 484)


def test_boundaries_in_another_crs_are_reprojected(tmp_path, china_10km):
    regions, grid, index = china_10km
    projected = regions.to_crs(CRS.from_proj4(ALBERS))
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": CRS.from_proj4(ALBERS).to_wkt()}},
        "features": [
            {"type": "Feature", "properties": {"code": c}, "geometry": g}
            for c, g in zip(projected.codes, projected.geometries, strict=True)
        ],
    }
    path = tmp_path / "albers.geojson"
    path.write_text(json.dumps(doc))
    again = rasterize_regions(read_regions(path), grid)
    assert (again == index).mean() > 0.999


def test_bad_boundary_files(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_regions(tmp_path / "missing.geojson")
    path = tmp_path / "b.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "x"}, "geometry": square(0, 0, 1)}
                ],
            }
        )
    )
    with pytest.raises(ConfigError, match=r"no property 'code'.*\['name'\]"):
        read_regions(path)
