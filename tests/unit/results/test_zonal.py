"""``Results.zonal`` and the city ranking over polygons, on small hand-made lazy stores.

References are numpy sums over cell blocks and shapely intersections cell by
cell (:func:`helpers.zone_files.coverage_weighted_sum`), on a projected and a
lat/lon grid.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from helpers.zone_files import coverage_weighted_sum, ring, write_zones
from pyproj import Transformer

from pipeline.errors import ConfigError, InputFileError
from pipeline.results.api import Results
from pipeline.results.places import place_attrs

NY, NX = 40, 50
CONSUMERS = ["A", "B", "HOME"]


@pytest.fixture(scope="module", autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def coords(crs: str) -> dict:
    if crs == "EPSG:4326":
        return {"x": 120.125 + 0.25 * np.arange(NX), "y": 39.875 - 0.25 * np.arange(NY)}
    return {"x": 1.0e6 + 20e3 * (np.arange(NX) + 0.5), "y": 4.0e6 - 20e3 * (np.arange(NY) + 0.5)}


def make_results(tmp_path, crs: str, chunks=(15, 20), attrs: dict | None = None):
    """A lazy store holding three consumer layers; returns it and the numpy layers."""
    rng = np.random.default_rng(8)
    stack = rng.gamma(0.4, 1e3, (3, NY, NX))
    foreign = stack[:2].sum(axis=0)

    def lazy(values, dims):
        return xr.DataArray(
            da.from_array(values, chunks=(1,) * (values.ndim - 2) + chunks), dims=dims
        )

    ds = xr.Dataset(
        {
            "foreign_footprint": lazy(foreign, ("y", "x")),
            "footprint": lazy(stack, ("consumer", "y", "x")),
        },
        coords={
            **coords(crs),
            "consumer": CONSUMERS,
            "foreign": ("consumer", [True, True, False]),
            "sector": ["power"],
            "category": ["households"],
            "region": ["HOME"],
        },
    ).rio.write_crs(crs)
    ds.attrs.update(attrs or {})
    return Results(ds, tmp_path), {"A": stack[0], "B": stack[1], "foreign": foreign}


@pytest.fixture(scope="module", params=["EPSG:3857", "EPSG:4326"])
def store(request, tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("zonal"), request.param)


def block(res, r0, r1, c0, c1):
    """The polygon of cells rows r0..r1-1, cols c0..c1-1, edges from the store's centres."""
    x, y = res.ds["x"].values, res.ds["y"].values
    dx, dy = x[1] - x[0], y[0] - y[1]
    return shapely.box(x[c0] - dx / 2, y[r1 - 1] - dy / 2, x[c1 - 1] + dx / 2, y[r0] + dy / 2)


def test_one_layer_gives_t_co2_share_and_area(store, tmp_path):
    res, layers = store
    zones = {"north": block(res, 0, 10, 5, 25), "cell": block(res, 30, 31, 40, 41)}
    path = write_zones(tmp_path / "z.gpkg", list(zones), list(zones.values()), crs=res.grid.crs)
    table = res.zonal(path, consumer="A")
    assert list(table.columns) == ["zone", "t_co2", "share", "area_km2"]
    assert list(table["zone"]) == ["north", "cell"]
    a = layers["A"]
    expected = [a[0:10, 5:25].sum(), a[30, 40]]
    np.testing.assert_allclose(table["t_co2"], expected, rtol=1e-9)
    np.testing.assert_allclose(table["share"], np.array(expected) / a.sum(), rtol=1e-9)
    areas = res.row_area_km2
    np.testing.assert_allclose(table["area_km2"], [20 * areas[0:10].sum(), areas[30]], rtol=1e-9)
    assert table.attrs["totals_t"] == {"A": pytest.approx(a.sum(), rel=1e-12)}
    assert table.attrs["warnings"] == []


def test_several_layers_get_suffixed_columns(store):
    res, layers = store
    zone = ring(*block(res, 5, 30, 5, 40).centroid.coords[0], 6e4, 5e4, 181)
    if res.grid.geographic:
        zone = ring(*block(res, 5, 30, 5, 40).centroid.coords[0], 2.5, 2.0, 181)
    table = res.zonal({"z": zone}, layers=[{"consumer": "A"}, {"consumer": "B"}, {}])
    assert list(table.columns) == [
        "zone",
        "t_co2_A",
        "share_A",
        "t_co2_B",
        "share_B",
        "t_co2_foreign",
        "share_foreign",
        "area_km2",
    ]
    x, y = res.ds["x"].values, res.ds["y"].values
    for label in ("A", "B", "foreign"):
        expected = coverage_weighted_sum(layers[label], x, y, zone)
        assert table[f"t_co2_{label}"][0] == pytest.approx(expected, rel=1e-6)
        share = expected / layers[label].sum()
        assert table[f"share_{label}"][0] == pytest.approx(share, rel=1e-6)
    named = res.zonal([zone], layers={"usa": {"consumer": "A"}, "all": {}})
    assert list(named.columns) == [
        "zone",
        "t_co2_usa",
        "share_usa",
        "t_co2_all",
        "share_all",
        "area_km2",
    ]
    assert named["zone"][0] == "0"
    assert named["t_co2_usa"][0] == table["t_co2_A"][0]


def test_zones_in_another_crs_are_reprojected(tmp_path):
    res, layers = make_results(tmp_path, "EPSG:3857")
    to_lonlat = Transformer.from_crs(3857, 4326, always_xy=True)
    zone = ring(1.5e6, 3.6e6, 1.5e5, 1.2e5, 240)  # edges of about 4 km: no densifying
    lonlat = shapely.transform(zone, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
    table = res.zonal({"z": lonlat}, consumer="B", crs="EPSG:4326")
    expected = coverage_weighted_sum(layers["B"], res.ds["x"].values, res.ds["y"].values, zone)
    assert table["t_co2"][0] == pytest.approx(expected, rel=1e-6)


def test_chunking_does_not_change_zonal_totals(tmp_path):
    zones = None
    found = []
    for chunks in [(40, 50), (7, 9), (1, 50), (13, 4)]:
        res, _ = make_results(tmp_path, "EPSG:4326", chunks=chunks)
        zones = zones or {
            "star": ring(126.0, 35.0, 3.1, 2.3, 211),
            "box": block(res, 3, 33, 2, 48),
        }
        table = res.zonal(zones, layers=[{"consumer": "A"}, {}])
        found.append(table[["t_co2_A", "share_A", "t_co2_foreign", "share_foreign"]].to_numpy())
    for other in found[1:]:
        np.testing.assert_allclose(other, found[0], rtol=1e-12)


def test_bad_selections_are_refused(store):
    res, _ = store
    zone = [block(res, 0, 2, 0, 2)]
    with pytest.raises(ConfigError, match="either `layers` or consumer"):
        res.zonal(zone, consumer="A", layers=[{}])
    with pytest.raises(ConfigError, match=r"selects by \['region'\]"):
        res.zonal(zone, layers=[{"region": "X"}])
    with pytest.raises(ConfigError, match="two layers are named 'A'"):
        res.zonal(zone, layers=[{"consumer": "A"}, {"consumer": "A"}])
    with pytest.raises(ConfigError, match="unknown consumer 'AA'; did you mean A"):
        res.zonal(zone, consumer="AA")
    with pytest.raises(ConfigError, match="`field` names a property"):
        res.zonal(zone, field="name")


def test_a_zone_outside_the_grid_gets_zero_and_a_warning(store):
    res, layers = store
    far = (
        shapely.box(-1e7, -1e7, -9e6, -9e6) if not res.grid.geographic else shapely.box(0, 0, 1, 1)
    )
    table = res.zonal({"far": far, "in": block(res, 1, 3, 1, 3)})
    assert table["t_co2"][0] == 0.0 and table["share"][0] == 0.0
    assert table["t_co2"][1] == pytest.approx(layers["foreign"][1:3, 1:3].sum(), rel=1e-9)
    assert len(table.attrs["warnings"]) == 1
    assert (
        "zone 'far' (feature 0 of zones) lies entirely outside the grid"
        in (table.attrs["warnings"][0])
    )


def test_rank_by_city_uses_the_city_polygons(tmp_path):
    res, _ = make_results(tmp_path, "EPSG:3857")
    boxes = {"small": block(res, 0, 2, 0, 2), "big": block(res, 10, 30, 10, 40)}
    path = write_zones(
        tmp_path / "cities.geojson",
        list(boxes),
        list(boxes.values()),
        crs="EPSG:3857",
        field="city_name",
    )
    attrs = place_attrs(
        boundaries=None, code_field="code", cities=None, city_polygons=(path, "city_name")
    )
    res, layers = make_results(tmp_path, "EPSG:3857", attrs=attrs)
    table = res.rank(by="city", top=5, consumer="B")
    assert list(table["city"]) == ["big", "small"]
    b = layers["B"]
    np.testing.assert_allclose(
        table["t_co2"], [b[10:30, 10:40].sum(), b[0:2, 0:2].sum()], rtol=1e-9
    )
    np.testing.assert_allclose(table["share"], table["t_co2"] / b.sum(), rtol=1e-12)
    assert "2 city polygons of cities.geojson" in table.attrs["note"]


def test_recorded_city_polygons_must_still_exist(tmp_path):
    res, _ = make_results(tmp_path, "EPSG:3857")
    path = write_zones(tmp_path / "gone.geojson", ["a"], [block(res, 0, 2, 0, 2)], crs="EPSG:3857")
    attrs = place_attrs(boundaries=None, code_field="code", cities=None, city_polygons=(path, None))
    path.unlink()
    res, _ = make_results(tmp_path, "EPSG:3857", attrs=attrs)
    with pytest.raises(InputFileError, match="gone.geojson: the study's city polygons"):
        res.rank(by="city")


def test_place_attrs_refuse_bad_city_polygons(tmp_path):
    path = write_zones(tmp_path / "c.gpkg", ["a"], [shapely.box(0, 0, 1, 1)], field="name")
    with pytest.raises(InputFileError, match=r"no property 'nam' \(`city_polygons`\); did you"):
        place_attrs(boundaries=None, code_field="code", cities=None, city_polygons=(path, "nam"))
