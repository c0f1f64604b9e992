"""Zones files: every format and CRS, names, reprojection, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from helpers.zone_files import write_zones
from pyproj import CRS, Transformer

from pipeline.errors import InputFileError
from pipeline.grid.zones import DENSIFY_DEGREES, Zones, read_zones

A = shapely.box(100.0, 30.0, 101.0, 31.0)
B = shapely.Polygon([(102.0, 30.0), (103.5, 30.0), (102.5, 31.5)])


@pytest.mark.parametrize("suffix", [".geojson", ".shp", ".gpkg"])
def test_every_format_reads_the_same_zones(tmp_path, suffix):
    path = write_zones(tmp_path / f"z{suffix}", ["alpha", "beta"], [A, B])
    zones = read_zones(path)
    assert zones.names == ("alpha", "beta")
    assert zones.crs.to_epsg() == 4326
    assert zones.geometries[0].area == pytest.approx(1.0, rel=1e-12)
    assert zones.geometries[1].area == pytest.approx(1.5 * 1.5 / 2, rel=1e-12)
    assert zones.warnings == ()


@pytest.mark.parametrize("suffix", [".geojson", ".shp", ".gpkg"])
def test_a_projected_zones_file_keeps_its_crs(tmp_path, suffix):
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    merc = shapely.transform(A, lambda xy: np.column_stack(to_merc.transform(*xy.T)))
    zones = read_zones(write_zones(tmp_path / f"m{suffix}", ["a"], [merc], crs="EPSG:3857"))
    assert zones.crs.to_epsg() == 3857
    back = zones.to_crs("EPSG:4326").geometries[0]
    assert back.bounds == pytest.approx(A.bounds, abs=1e-9)
    assert back.area == pytest.approx(1.0, rel=1e-9)


def test_names_default_to_first_text_property_else_position(tmp_path):
    path = tmp_path / "z.geojson"
    features = [
        {"type": "Feature", "properties": {"id": n, "label": f"z{n}"}, "geometry": g}
        for n, g in enumerate([shapely.geometry.mapping(A), shapely.geometry.mapping(B)])
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert read_zones(path).names == ("z0", "z1")
    assert read_zones(path, "id").names == ("0", "1")
    for feature in features:
        feature["properties"] = {"id": 7}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert read_zones(path).names == ("0", "1")


def test_unknown_field_suggests_the_closest(tmp_path):
    path = write_zones(tmp_path / "z.gpkg", ["a", "b"], [A, B], field="name")
    with pytest.raises(InputFileError, match=r"z.gpkg.*no property 'nmae' \(--field\); did you"):
        read_zones(path, "nmae", field_option="--field")


def write_features(path, geometries):
    features = [{"type": "Feature", "properties": {"n": "x"}, "geometry": g} for g in geometries]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.mark.parametrize(
    ("geometries", "message"),
    [
        ([], "holds no polygons"),
        ([None], "holds no polygons"),
        ([{"type": "Point", "coordinates": [1, 2]}], "is a Point, not a polygon"),
        ([shapely.geometry.mapping(A), None], "has no geometry; give it a polygon or drop it"),
    ],
)
def test_files_without_polygons_are_refused(tmp_path, geometries, message):
    path = write_features(tmp_path / "bad.geojson", geometries)
    with pytest.raises(InputFileError, match=message) as info:
        read_zones(path, option="--zones")
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_and_unreadable_files_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(InputFileError, match=r"nothing.gpkg: zones file not found; check --zones"):
        read_zones(tmp_path / "nothing.gpkg", option="--zones")
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"\x00not a geopackage" * 20)
    expected = r"junk.gpkg: cannot read the zones.*GeoPackage file of polygons$"
    with pytest.raises(InputFileError, match=expected):
        read_zones(junk, option="--zones")
    text = tmp_path / "text.geojson"
    text.write_text("{not json")
    with pytest.raises(InputFileError, match="text.geojson: not valid JSON"):
        read_zones(text)


def test_a_shapefile_without_prj_is_refused(tmp_path):
    path = write_zones(tmp_path / "z.shp", ["a"], [A])
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputFileError, match=r"z.shp: the zones file has no CRS; add its .prj"):
        read_zones(path, option="--zones")


def test_an_invalid_polygon_is_repaired_with_a_warning():
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    zones = Zones.from_geometries({"bow": bowtie}, "EPSG:3857")
    assert zones.geometries[0].is_valid
    assert zones.geometries[0].area == pytest.approx(2.0)  # two unit triangles
    assert "'bow'" in zones.warnings[0] and "repaired" in zones.warnings[0]


def test_reprojection_densifies_long_edges():
    """A 10-degree parallel is a curve in Albers: the chord would cut 20 km off the zone."""
    albers = CRS.from_proj4("+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m")
    box = shapely.box(100.0, 30.0, 110.0, 40.0)
    moved = Zones.from_geometries([box], "EPSG:4326").to_crs(albers).geometries[0]
    assert len(moved.exterior.coords) >= 4 * 10 / DENSIFY_DEGREES
    to_albers = Transformer.from_crs(4326, albers, always_xy=True)
    fine = shapely.segmentize(box, 0.001)
    truth = shapely.transform(fine, lambda xy: np.column_stack(to_albers.transform(*xy.T)))
    corners = shapely.transform(box, lambda xy: np.column_stack(to_albers.transform(*xy.T)))
    assert abs(corners.area - truth.area) > 1e-3 * truth.area  # the chords are far off
    assert moved.area == pytest.approx(truth.area, rel=1e-6)


def test_a_zone_beyond_the_projection_is_refused():
    ortho = CRS.from_proj4("+proj=ortho +lat_0=30 +lon_0=105 +datum=WGS84")
    far = Zones.from_geometries({"far side": shapely.box(-80, -40, -70, -30)}, 4326, source="f")
    with pytest.raises(InputFileError, match=r"f: zone 'far side' \(feature 0\) cannot be rep"):
        far.to_crs(ortho)
