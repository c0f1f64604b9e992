"""The Python API (pipeline.results.api) against values computed independently with numpy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from pyproj import Geod, Transformer

from pipeline import open_results
from pipeline.errors import ConfigError, InputFileError


@pytest.fixture(scope="module")
def out(shared_results):
    return shared_results


@pytest.fixture(scope="module")
def res(out):
    return open_results(out)


@pytest.fixture(scope="module")
def raw(out):
    """The store loaded with plain xarray/numpy, independent of pipeline.results."""
    ds = xr.open_zarr(out / "footprint.zarr").load()
    codes = ds["region_index"].attrs["flag_meanings"].split()
    regions = [str(r) for r in ds["region"].values]
    producer = np.array([regions.index(c) if c in regions else -1 for c in codes])
    idx = ds["region_index"].values
    land = (idx >= 0) & (producer[np.clip(idx, 0, None)] >= 0)
    a = ds["attribution"].transpose("region", "sector", "consumer", "category").values
    tot = a.sum(axis=(2, 3), keepdims=True)
    m = np.divide(a, tot, out=np.zeros_like(a), where=tot > 0)
    found = {"ds": ds, "codes": codes, "producer": producer, "land": land, "m": m, "idx": idx}
    # The factorized store computes footprint on read; the oracle computes it here.
    consumers = [str(c) for c in ds["consumer"].values]
    categories = [str(k) for k in ds["category"].values]
    layers = np.stack([per_cell(found, [c], categories) for c in consumers])
    ds["footprint"] = xr.DataArray(
        layers, dims=("consumer", "y", "x"), coords={"consumer": ds["consumer"]}
    )
    return found


def per_cell(raw, consumers, categories, sectors=None):
    """Independent per-cell layer: sum_s e[s] * M[r(cell), s, c, k]."""
    ds, m = raw["ds"], raw["m"]
    e = ds["emissions"].values
    ci = [list(ds["consumer"].values).index(c) for c in consumers]
    ki = [list(ds["category"].values).index(k) for k in categories]
    table = m[:, :, ci][:, :, :, ki].sum(axis=(2, 3))  # (region, sector)
    if sectors is not None:
        keep = np.isin(ds["sector"].values, sectors)
        table = table * keep
    out = np.zeros(e.shape[1:])
    idx = raw["idx"]
    for code, p in enumerate(raw["producer"]):
        if p < 0:
            continue
        cells = idx == code
        out[cells] = (table[p][:, None] * e[:, cells]).sum(axis=0)
    return out


def top_k(values, share):
    flat = np.sort(values)[::-1]
    cum = np.cumsum(flat) / flat.sum()
    return int(np.argmax(cum >= share * (1 - 1e-12))) + 1


def test_open_errors(tmp_path, out):
    with pytest.raises(InputFileError, match="run `footprint-map run`"):
        open_results(tmp_path / "nowhere")
    zarr.open_group(tmp_path / "half" / "footprint.zarr", mode="w")
    with pytest.raises(InputFileError, match="incomplete"):
        open_results(tmp_path / "half")
    assert open_results(out / "footprint.zarr").directory == out


def test_stored_layers(res, raw):
    ds = raw["ds"]
    np.testing.assert_array_equal(res.layer().values, ds["foreign_footprint"].values)
    np.testing.assert_allclose(
        res.layer(consumer="USA").values, ds["footprint"].sel(consumer="USA").values, rtol=1e-12
    )
    np.testing.assert_array_equal(
        res.layer(sector="power").values, ds["footprint_by_sector"].sel(sector="power").values
    )
    assert res.layer().rio.crs == ds.rio.crs
    assert res.layer(consumer="USA").attrs["units"] == "t"


def test_computed_layers_match_numpy_and_stored_cubes(res, raw):
    ds = raw["ds"]
    cats = [str(k) for k in ds["category"].values]
    usa_hh = res.layer(consumer="USA", category="households").values
    np.testing.assert_allclose(usa_hh, per_cell(raw, ["USA"], ["households"]), rtol=1e-10)
    total = sum(res.layer(consumer="USA", category=k).values for k in cats)
    np.testing.assert_allclose(total, ds["footprint"].sel(consumer="USA").values, rtol=1e-9)
    by_sector = sum(res.layer(sector="power", category=k).values for k in cats)
    np.testing.assert_allclose(
        by_sector, ds["footprint_by_sector"].sel(sector="power").values, rtol=1e-9
    )
    one = res.layer(consumer="JPN", sector="cement").values
    np.testing.assert_allclose(one, per_cell(raw, ["JPN"], cats, ["cement"]), rtol=1e-10)


def test_hotspots_match_numpy(res, raw, out):
    values = raw["ds"]["foreign_footprint"].values
    land_values = values[raw["land"]]
    k = top_k(land_values, 0.75)
    hot = res.hotspots()
    assert int(hot.mask.sum()) == k == len(hot.table)
    threshold = np.sort(land_values)[::-1][k - 1]
    assert (values[hot.mask.values] >= threshold).all()
    assert hot.land_share == pytest.approx(k / land_values.size)
    summary = json.loads((out / "summary.json").read_text())
    assert hot.land_share == pytest.approx(summary["land_share_for_75pct"])
    assert hot.table["t_co2"].is_monotonic_decreasing
    rows, cols = hot.table["row"].to_numpy(), hot.table["col"].to_numpy()
    np.testing.assert_array_equal(hot.table["t_co2"].to_numpy(), values[rows, cols])
    assert (hot.table["region"] != "").all()


def test_concentration_and_spatial_extent(res, raw, out):
    ds = raw["ds"]
    transform = ds.rio.transform()
    cell_km2 = abs(transform.a * transform.e) / 1e6
    usa = ds["footprint"].sel(consumer="USA").values[raw["land"]]
    stats = res.concentration(consumer="USA", share=0.9)
    k = top_k(usa, 0.9)
    assert stats["cells"] == k
    assert stats["area_km2"] == pytest.approx(k * cell_km2)
    assert stats["land_share"] == pytest.approx(k / usa.size)
    assert stats["total_t"] == pytest.approx(usa.sum())
    summary = json.loads((out / "summary.json").read_text())
    assert res.concentration(share=0.9)["land_share"] == pytest.approx(
        summary["land_share_for_90pct"]
    )
    table = res.concentration_table()
    assert list(table["kind"]).count("sector") == ds.sizes["sector"]
    usa_row = table[table["code"] == "USA"].iloc[0]
    assert usa_row["area_km2_90pct"] == pytest.approx(k * cell_km2)


def test_concentration_curve(res, raw):
    values = raw["ds"]["footprint_by_sector"].sel(sector="power").values[raw["land"]]
    curve = res.concentration_curve(sector="power")
    assert len(curve) == values.size + 1
    expected = np.concatenate([[0], np.cumsum(np.sort(values)[::-1])]) / values.sum()
    np.testing.assert_allclose(curve["emission_share"], expected)
    assert curve["land_share"].iloc[-1] == 1.0


def test_rank_cells_and_provinces(res, raw):
    values = raw["ds"]["footprint"].sel(consumer="JPN").values
    cells = res.rank("cell", 5, consumer="JPN")
    np.testing.assert_allclose(cells["t_co2"], np.sort(values.ravel())[::-1][:5])
    provinces = res.rank("province", None, consumer="JPN")
    idx = raw["idx"]
    for code in ("CN-GD", "CN-BJ", "CN-XZ"):
        expected = values[idx == raw["codes"].index(code)].sum()
        got = provinces.set_index("province").loc[code, "t_co2"]
        assert got == pytest.approx(expected)
    assert provinces["t_co2"].sum() == pytest.approx(values[idx >= 0].sum())


def geodesic_disc(ds, lon: float, lat: float, radius_m: float) -> np.ndarray:
    """Cell centres of the Albers grid within ``radius_m`` of (lon, lat) on WGS84."""
    xx, yy = np.meshgrid(ds["x"].values, ds["y"].values)
    clon, clat = Transformer.from_crs(ds.rio.crs, "EPSG:4326", always_xy=True).transform(xx, yy)
    _, _, distance = Geod(ellps="WGS84").inv(
        np.full(xx.shape, lon), np.full(xx.shape, lat), clon, clat
    )
    return distance <= radius_m


def test_rank_cities_disc_rule(res, raw):
    ds = raw["ds"]
    values = ds["foreign_footprint"].values
    cities = res.rank("city", None, radius_km=60)
    disc = geodesic_disc(ds, 116.39723, 39.9075, 60_000.0)  # Beijing
    beijing = cities[cities["city"] == "Beijing"].iloc[0]
    assert beijing["cells"] == disc.sum() > 0
    assert beijing["t_co2"] == pytest.approx(values[disc].sum())
    assert cities["t_co2"].is_monotonic_decreasing
    # shipped list, China study: Taiwan's and Hong Kong's cities have no producer land
    assert not {"Taipei", "Kaohsiung", "Hong Kong", "Kowloon"} & set(cities["city"])
    assert {"Shanghai", "Chongqing", "Kashgar", "Lhasa"} <= set(cities["city"])
    assert f"{len(cities)} of the 731 cities of china_cities.csv" in cities.attrs["note"]


def test_areas_on_the_albers_grid_are_the_constant_cell_area(res, raw):
    ds, land = raw["ds"], raw["land"]
    transform = ds.rio.transform()
    cell_km2 = abs(transform.a * transform.e) / 1e6
    assert cell_km2 == 2500.0
    np.testing.assert_array_equal(res.row_area_km2, np.full(ds.sizes["y"], 2500.0))
    assert res.concentration()["land_area_km2"] == pytest.approx(land.sum() * 2500.0)
    provinces = res.rank("province", None).set_index("province")
    gd = raw["idx"] == raw["codes"].index("CN-GD")
    assert provinces.loc["CN-GD", "area_km2"] == pytest.approx(gd.sum() * 2500.0)


def test_albers_maps_have_km_axes_and_land_frame(res, raw):
    from pipeline.results.maps import draw_layer
    from pipeline.results.report import display_borders

    ds, land = raw["ds"], raw["land"]
    borders = display_borders(res)
    assert len(borders.codes) == 34 and "CN-TW" in borders.codes
    fig = draw_layer(res.layer(consumer="USA"), title="USA", borders=borders)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x (km)", "y (km)")
    positive = ds["footprint"].sel(consumer="USA").values > 0
    x = ds["x"].values[positive.any(axis=0)]
    y = ds["y"].values[positive.any(axis=1)]
    expected = (x.min() - 25e3, x.max() + 25e3, y.min() - 25e3, y.max() + 25e3)
    assert (*ax.get_xlim(), *ax.get_ylim()) == pytest.approx(expected)
    assert land[positive].all()


def test_drivers_region_is_attribution(res, raw):
    ds = raw["ds"]
    frame = res.drivers(region="CN-GD")
    a = ds["attribution"].sel(region="CN-GD")
    got = frame.set_index(["consumer", "category", "sector"])["t_co2"]
    for c, k, s in [("USA", "households", "power"), ("CN-GD", "government", "cement")]:
        assert got[(c, k, s)] == pytest.approx(float(a.sel(consumer=c, category=k, sector=s)))
    assert frame["share"].sum() == pytest.approx(1.0)
    by = res.drivers(region="CN-GD", by="consumer").set_index("consumer")["t_co2"]
    assert by["USA"] == pytest.approx(float(a.sel(consumer="USA").sum()))


def test_drivers_cell_agrees_with_footprint(res, raw):
    ds = raw["ds"]
    values = ds["foreign_footprint"].values
    row, col = np.unravel_index(np.argmax(values), values.shape)
    x, y = float(ds["x"][col]), float(ds["y"][row])
    frame = res.drivers(cell=(x + 100.0, y - 100.0))
    per_consumer = frame.groupby("consumer")["t_co2"].sum()
    expected = ds["footprint"].isel(y=row, x=col).to_series()
    expected.index = expected.index.astype(str)
    np.testing.assert_allclose(per_consumer[expected.index], expected, rtol=1e-9)
    lon, lat = Transformer.from_crs(ds.rio.crs, "EPSG:4326", always_xy=True).transform(x, y)
    again = res.drivers(cell=(lon, lat), crs="EPSG:4326")
    assert again["t_co2"].sum() == pytest.approx(frame["t_co2"].sum())


def test_drivers_bbox_and_city(res, raw):
    ds = raw["ds"]
    x, y = ds["x"].values, ds["y"].values
    bbox = (x[40], y[60], x[60], y[40])
    frame = res.drivers(bbox=bbox, by=["consumer"])
    box = ds["footprint"].isel(y=slice(40, 61), x=slice(40, 61)).sum(("y", "x")).to_series()
    box.index = box.index.astype(str)
    got = frame.set_index("consumer")["t_co2"]
    np.testing.assert_allclose(got[box.index], box, rtol=1e-9)
    city = res.drivers(city="Beijing", radius_km=60)
    disc = geodesic_disc(ds, 116.39723, 39.9075, 60_000.0)
    expected = ds["footprint"].values[:, disc].sum()
    assert city["t_co2"].sum() == pytest.approx(expected)


def test_drivers_needs_one_place(res):
    with pytest.raises(ConfigError, match="exactly one"):
        res.drivers()
    with pytest.raises(ConfigError, match="exactly one"):
        res.drivers(region="CN-GD", city="Beijing")
    with pytest.raises(ConfigError, match="no MRIO rows"):
        res.drivers(region="CN-HK")
    with pytest.raises(ConfigError, match="ambiguous"):
        res.drivers(city="Suzhou")
    assert isinstance(res.drivers(city="Suzhou, CN-JS"), pd.DataFrame)


@pytest.mark.parametrize(
    ("kwargs", "close"),
    [
        ({"consumer": "UAS"}, "USA"),
        ({"sector": "powr"}, "power"),
        ({"category": "household"}, "households"),
        ({"consumer": "usa"}, "USA"),
    ],
)
def test_unknown_codes_are_one_line_with_close_matches(res, kwargs, close):
    with pytest.raises(ConfigError) as info:
        res.layer(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert f"did you mean {close}" in message or f"did you mean {close}," in message
    assert "valid" in message


def test_bad_arguments(res):
    with pytest.raises(ConfigError, match="share"):
        res.hotspots(share=1.5)
    with pytest.raises(ConfigError, match="cell, city, province"):
        res.rank(by="county")
    with pytest.raises(ConfigError, match="outside the grid"):
        res.drivers(cell=(1e9, 1e9))
