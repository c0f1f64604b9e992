"""Region rasterization: the documented rule, small regions, CRS handling."""

import json

import numpy as np
import pytest
from affine import Affine
from helpers.region_shapes import ALBERS, square, unit_grid
from pyproj import CRS

from pipeline.errors import ConfigError, GridError, InputFileError
from pipeline.grid.region_raster import region_index_from_raster
from pipeline.grid.regions import (
    Regions,
    grid_covering,
    rasterize_regions,
    read_regions,
    region_cell_counts,
)
from pipeline.grid.spec import GridSpec
from pipeline.resources import data_file


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


def write_vector(path, codes, geoms, crs="EPSG:4326", field="code"):
    pyogrio = pytest.importorskip("pyogrio")
    import shapely

    wkb = np.array([shapely.to_wkb(shapely.geometry.shape(g)) for g in geoms], dtype=object)
    pyogrio.raw.write(
        path, wkb, [np.array(codes, dtype=object)], [field], geometry_type="Polygon", crs=crs
    )
    return path


@pytest.mark.parametrize("suffix", [".shp", ".gpkg"])
def test_shapefile_and_geopackage(tmp_path, suffix):
    path = write_vector(tmp_path / f"r{suffix}", ["A", "B"], [square(0, 0, 2), square(2, 0, 2)])
    regions = read_regions(path)
    assert regions.codes == ("A", "B") and regions.crs.to_epsg() == 4326
    index = rasterize_regions(
        regions, GridSpec(CRS.from_epsg(4326), Affine(1, 0, 0, 0, -1, 2), (2, 4))
    )
    np.testing.assert_array_equal(index, [[0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ConfigError, match=r"no property 'iso'.*\['code'\]"):
        read_regions(path, code_field="iso")


@pytest.fixture(scope="module")
def world_half_degree():
    world = data_file("world_countries.geojson")
    layered = read_regions(
        [world, data_file("china_provinces.geojson")], code_field=["iso3", "code"]
    )
    grid = grid_covering(layered, crs="EPSG:4326", resolution=0.5)
    return layered, grid, rasterize_regions(layered, grid)


def test_world_latlon_grid_with_layered_provinces(world_half_degree):
    regions, grid, index = world_half_degree
    assert grid.shape == (348, 720) and tuple(grid.transform)[:6] == (0.5, 0, -180, 0, -0.5, 84)
    counts = dict(zip(regions.codes, region_cell_counts(index, len(regions.codes)), strict=True))
    # Germany ~357,000 km2 over 0.5 deg cells of ~1,950 km2 at 51 N
    assert 170 <= counts["DEU"] <= 205
    assert 250 <= counts["FRA"] <= 300  # incl. Corsica, French Guiana
    assert counts["LUX"] >= 1 and counts["SGP"] >= 1  # small-region rule
    assert counts["CN-MO"] >= 1 and counts["CN-HK"] >= 1
    # China (~9.6 M km2) is now provinces; CHN keeps only border slivers, HKG/MAC/TWN none
    assert counts["CHN"] <= 20 and counts["HKG"] == counts["MAC"] == counts["TWN"] == 0
    provinces = sum(n for c, n in counts.items() if c.startswith("CN-"))
    assert 3500 <= provinces <= 4100
    assert regions.layers[regions.codes.index("CN-BJ")] == 1


def test_layered_files_need_unique_codes(tmp_path):
    a = write_vector(tmp_path / "a.gpkg", ["A", "B"], [square(0, 0, 1), square(1, 0, 1)])
    b = write_vector(tmp_path / "b.gpkg", ["B"], [square(1, 0, 1)])
    with pytest.raises(InputFileError, match=r"codes \['B'\] appear in several boundary files"):
        read_regions([a, b])
    with pytest.raises(ConfigError, match="2 boundary files but 3 code fields"):
        read_regions([a, b], code_field=["code"] * 3)


def test_region_raster_with_code_table(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    ids = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [30, -1, 20, 20], [10, 10, 20, 20]])
    path = tmp_path / "ids.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=4, count=1, dtype="int32",
        crs="EPSG:3857", transform=from_origin(0, 4, 1, 1), nodata=-1,
    ) as dst:  # fmt: skip
        dst.write(ids[None].astype("int32"))
    (tmp_path / "codes.csv").write_text("id,code\n20,EAST\n10,WEST\n30,ISLE\n40,NONE\n")
    coarse = GridSpec(CRS.from_epsg(3857), Affine(2, 0, 0, 0, -2, 4), (2, 2))
    index, codes = region_index_from_raster(path, coarse, codes_csv=tmp_path / "codes.csv")
    assert codes == ("EAST", "WEST", "ISLE", "NONE")
    # nearest takes the pixel at each coarse centre; ISLE (one pixel) keeps its cell
    assert index.tolist() == [[1, 0], [2, 0]]
    same, _ = region_index_from_raster(path, unit_grid(), codes_csv=tmp_path / "codes.csv")
    assert same.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [2, -1, 0, 0], [1, 1, 0, 0]]
    (tmp_path / "short.csv").write_text("id,code\n10,WEST\n20,EAST\n")
    with pytest.raises(GridError, match=r"ids\.tif: region ids \[30\] are not in .*short\.csv"):
        region_index_from_raster(path, coarse, codes_csv=tmp_path / "short.csv")


def _collection(*features, **members):
    return {"type": "FeatureCollection", **members, "features": list(features)}


def _feature(code, geometry):
    return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([_feature("A", square(0, 0, 1))], r"is a list, not a GeoJSON FeatureCollection"),
        ({"type": "Feature"}, r"an object without a features list"),
        (_collection("A"), r"feature 0 is a string, not a GeoJSON Feature object"),
        (_collection(_feature("A", None)), r"feature 0 \(code 'A'\) has no geometry"),
        (
            _collection(_feature("A", {"type": "Polygon", "coordinates": [[["a", "b"]]]})),
            r"feature 0 has an invalid geometry",
        ),
        (
            _collection(_feature("A", square(0, 0, 1)), crs={"properties": {"name": "EPSG:0"}}),
            r"crs member names 'EPSG:0', which is not a known CRS",
        ),
        (_collection(_feature("A", square(0, 0, 1)), crs="EPSG:4326"), r"crs member .* no CRS"),
    ],
)
def test_malformed_geojson_is_an_input_error(tmp_path, doc, message):
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputFileError, match=r"b\.geojson: .*" + message):
        read_regions(path)


def test_geojson_text_problems(tmp_path):
    path = tmp_path / "b.geojson"
    doc = json.dumps(_collection(_feature("\u00c5", square(0, 0, 1))), ensure_ascii=False)
    path.write_bytes(doc.encode("latin-1"))
    with pytest.raises(InputFileError, match=r"b\.geojson: line 1 is not UTF-8"):
        read_regions(path)
    path.write_bytes(b"\xef\xbb\xbf" + doc.replace("\n", "\r\n").encode())  # BOM: fine
    assert read_regions(path).codes == ("\u00c5",)
    path.unlink()
    path.symlink_to(path.name)
    with pytest.raises(InputFileError, match="symbolic link loop"):
        read_regions(path)
