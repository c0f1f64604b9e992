"""CF description of a grid: named CRS, x/y attributes from the CRS's axes, grid mapping."""

from __future__ import annotations

import cf_units
import cf_xarray  # noqa: F401  (registers the .cf accessor)
import numpy as np
import pytest
import xarray as xr
from affine import Affine
from pyproj import CRS

from pipeline.grid.cf import coordinate_attrs, crs_name, describe_grid, named_crs

#: The demo's Albers grid as an inventory file without a CRS name gives it.
UNNAMED_ALBERS = (
    'PROJCS["unknown",GEOGCS["unknown",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,'
    '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
    'PROJECTION["Albers_Conic_Equal_Area"],PARAMETER["latitude_of_center",0],'
    'PARAMETER["longitude_of_center",105],PARAMETER["standard_parallel_1",25],'
    'PARAMETER["standard_parallel_2",47],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["metre",1]]'
)


def grid(*, dx=1000.0, x0=-2000.0, y0=5000.0, shape=(3, 4)) -> xr.Dataset:
    """A north-up dataset: one (y, x) layer, one (sector, y, x) cube, one table."""
    x = x0 + dx * (np.arange(shape[1]) + 0.5)
    y = y0 - dx * (np.arange(shape[0]) + 0.5)
    return xr.Dataset(
        {
            "layer": (("y", "x"), np.ones(shape)),
            "cube": (("sector", "y", "x"), np.ones((2, *shape))),
            "table": (("sector",), np.arange(2.0)),
        },
        coords={"y": y, "x": x, "sector": ["a", "b"]},
    )


def test_a_named_crs_keeps_its_name():
    assert crs_name("EPSG:4326") == "WGS 84"
    assert crs_name("EPSG:3035") == "ETRS89-extended / LAEA Europe"


def test_an_unknown_crs_is_named_by_its_projection_parameters_and_datum():
    name = crs_name(UNNAMED_ALBERS)
    assert name == "Albers Equal Area (lon_0=105 lat_1=25 lat_2=47), WGS 84"
    laea = "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80"
    assert crs_name(laea) == (
        "Lambert Azimuthal Equal Area (lat_0=52 lon_0=10 x_0=4321000 y_0=3210000), GRS 1980"
    )
    assert crs_name("+proj=longlat +ellps=GRS80") == "longitude/latitude, GRS 1980"


def test_naming_a_crs_changes_only_its_name():
    named = named_crs(UNNAMED_ALBERS)
    assert named == CRS.from_wkt(UNNAMED_ALBERS)
    assert named.name == crs_name(UNNAMED_ALBERS)
    assert named.to_wkt().startswith('PROJCRS["Albers Equal Area (lon_0=105')
    assert named_crs("EPSG:4326") == CRS.from_epsg(4326)


@pytest.mark.parametrize(
    ("crs", "x", "y", "metres_per_unit"),
    [
        ("EPSG:3857", "projection_x_coordinate", "projection_y_coordinate", 1.0),
        (UNNAMED_ALBERS, "projection_x_coordinate", "projection_y_coordinate", 1.0),
        ("EPSG:2263", "projection_x_coordinate", "projection_y_coordinate", 0.3048006096),
        ("EPSG:4326", "longitude", "latitude", None),
    ],
)
def test_coordinate_attributes_follow_the_crs_axes(crs, x, y, metres_per_unit):
    attrs = coordinate_attrs(crs)
    assert (attrs["x"]["standard_name"], attrs["y"]["standard_name"]) == (x, y)
    assert (attrs["x"]["axis"], attrs["y"]["axis"]) == ("X", "Y")
    for axis in attrs.values():
        unit = cf_units.Unit(axis["units"])  # UDUNITS parses every one
        if metres_per_unit is not None:
            assert unit.convert(1.0, "m") == pytest.approx(metres_per_unit, rel=1e-9)
    if metres_per_unit is None:
        assert (attrs["x"]["units"], attrs["y"]["units"]) == ("degrees_east", "degrees_north")
    elif metres_per_unit == 1.0:
        assert attrs["x"]["units"] == attrs["y"]["units"] == "m"


def test_describe_grid_writes_a_named_grid_mapping_and_cf_axes():
    ds = describe_grid(grid(), UNNAMED_ALBERS)
    ref = ds["spatial_ref"].attrs
    assert ref["grid_mapping_name"] == "albers_conical_equal_area"
    assert ref["crs_name"] == CRS.from_wkt(ref["crs_wkt"]).name == crs_name(UNNAMED_ALBERS)
    assert ref["standard_parallel"] == (25.0, 47.0)
    gdal_order = [float(v) for v in ref["GeoTransform"].split()]
    assert gdal_order == [-2000.0, 1000.0, 0.0, 5000.0, 0.0, -1000.0]
    assert ds.cf.axes == {"X": ["x"], "Y": ["y"]}
    assert ds["layer"].attrs["grid_mapping"] == ds["cube"].attrs["grid_mapping"] == "spatial_ref"
    assert "grid_mapping" not in ds["table"].attrs
    assert "grid_mapping" not in ds["layer"].encoding  # once, in attrs, as a store read back
    assert ds.rio.crs == CRS.from_wkt(UNNAMED_ALBERS)


def test_geographic_grid_keeps_x_y_but_says_longitude_latitude():
    ds = describe_grid(grid(dx=0.25, x0=118.0, y0=46.0), "EPSG:4326")
    assert ds["x"].attrs["standard_name"] == "longitude"
    assert ds["y"].attrs["units"] == "degrees_north"
    assert ds.cf["longitude"].name == "x" and ds.cf["latitude"].name == "y"
    assert ds["spatial_ref"].attrs["grid_mapping_name"] == "latitude_longitude"
    assert ds.rio.transform() == Affine(0.25, 0.0, 118.0, 0.0, -0.25, 46.0)


def test_a_crs_without_a_cf_grid_mapping_still_has_wkt_and_a_name():
    ds = describe_grid(
        grid().rio.write_crs("ESRI:54030")
    )  # its own CRS  # Robinson: CF has no grid_mapping_name for it
    ref = ds["spatial_ref"].attrs
    assert "grid_mapping_name" not in ref
    assert CRS.from_wkt(ref["crs_wkt"]) == CRS("ESRI:54030")
    assert ref["crs_name"] == "World_Robinson"
