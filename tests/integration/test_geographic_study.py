"""Results API, maps, ``query`` and ``report`` on an EPSG:4326 study (Japan/Korea, 0.25 degree).

Every reference is computed here without the pipeline's geometry: cell areas
with ``pyproj.Geod.polygon_area_perimeter`` on each cell polygon (edges along
parallels densified), city discs with ``pyproj.Geod.inv`` from the city to
every cell centre of the grid.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import shapely.geometry
import xarray as xr
from helpers.geographic_study import CITIES, IN_RANGE, RESOLUTION, build_study
from helpers.stores import open_store
from pyproj import CRS, Geod

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.errors import ConfigError
from pipeline.results.api import Results
from pipeline.results.maps import axis_labels, draw_layer
from pipeline.results.report import build_report, display_borders

WGS84 = Geod(ellps="WGS84")
RADIUS_KM = 60.0


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("geographic"))


@pytest.fixture(scope="module")
def res(study):
    return open_results(study[0])


@pytest.fixture(scope="module")
def raw(study):
    """The store with plain xarray, and the land cells from the stored raster."""
    ds = open_store(study[0] / "footprint.zarr").load()
    codes = ds["region_index"].attrs["flag_meanings"].split()
    land_codes = [codes.index("JPN")]  # the study country's land; Korea is abroad
    return {"ds": ds, "codes": codes, "land": np.isin(ds["region_index"].values, land_codes)}


def geodesic_cell_area_km2(lon: float, lat: float, half: float = RESOLUTION / 2) -> float:
    """Area of the cell centred on (lon, lat): a geodesic polygon, parallels densified."""
    s, n = np.linspace(-half, half, 9), 9
    lons = np.concatenate([lon + s, np.full(n, lon + half), lon - s, np.full(n, lon - half)])
    lats = np.concatenate([np.full(n, lat - half), lat + s, np.full(n, lat + half), lat - s])
    area, _ = WGS84.polygon_area_perimeter(lons, lats)
    return abs(area) / 1e6


@pytest.fixture(scope="module")
def cell_km2(raw):
    """``(ny, nx)`` geodesic area of every cell."""
    ds = raw["ds"]
    per_row = [geodesic_cell_area_km2(float(ds["x"][0]), float(lat)) for lat in ds["y"].values]
    return np.broadcast_to(np.asarray(per_row)[:, None], raw["land"].shape)


def geodesic_disc(ds: xr.Dataset, lon: float, lat: float, radius_km: float) -> np.ndarray:
    """``(ny, nx)`` bool: cell centres within ``radius_km`` of (lon, lat) on WGS84."""
    xx, yy = np.meshgrid(ds["x"].values, ds["y"].values)
    _, _, distance = WGS84.inv(np.full(xx.shape, lon), np.full(xx.shape, lat), xx, yy)
    return distance <= radius_km * 1000.0


def city(name: str) -> pd.Series:
    return CITIES.set_index("name").loc[name]


# ------------------------------------------------------------------ areas
def test_land_area_is_the_geodesic_area_of_the_land_cells(res, raw, cell_km2):
    expected = float(cell_km2[raw["land"]].sum())
    stats = res.concentration(share=0.9)
    assert stats["land_cells"] == int(raw["land"].sum()) == 1101
    assert stats["land_area_km2"] == pytest.approx(expected, rel=5e-3)
    assert stats["land_area_km2"] == pytest.approx(expected, rel=1e-5)  # the rule is exact
    provinces = res.rank("province", None).set_index("province")
    index = raw["ds"]["region_index"].values
    for code in ("JPN", "KOR", "XXX"):
        cells = index == raw["codes"].index(code)
        assert provinces.loc[code, "area_km2"] == pytest.approx(cell_km2[cells].sum(), rel=1e-5)


def test_one_land_for_the_summary_the_statistics_and_the_report(study, res, raw, tmp_path):
    """Korea is mapped but abroad: no land of the headline, the API, the query or the report."""
    summary = json.loads((study[0] / "summary.json").read_text())
    stats = res.concentration(share=0.75)
    assert summary["land_cells"] == stats["land_cells"] == int(raw["land"].sum()) == 1101
    assert stats["land_share"] == summary["land_share_for_75pct"]
    korea = raw["ds"]["footprint"].sel(consumer="KOR").values
    row = res.concentration_table(consumers=["KOR"]).set_index("code").loc["KOR"]
    assert row["total_t"] == pytest.approx(korea[raw["land"]].sum(), rel=1e-12)
    assert row["total_t"] < 0.05 * korea.sum()  # Korea's own CO2 in Korea is not counted
    text = build_report(res, tmp_path / "report").read_text()
    headline = text.split('id="headline-table"')[1].split("</table>")[0]
    assert f"{100 * summary['land_share_for_75pct']:.2f} % of the land" in headline


def test_hotspot_area_and_spatial_extent_sum_each_cells_area(res, raw, cell_km2):
    ds = raw["ds"]
    values = ds["foreign_footprint"].values
    land = raw["land"]
    order = np.argsort(-values[land], kind="stable")
    cumulative = np.cumsum(values[land][order]) / values[land].sum()
    k = int(np.argmax(cumulative >= 0.9 * (1 - 1e-12))) + 1
    expected = float(cell_km2[land][order[:k]].sum())
    assert res.concentration(share=0.9)["area_km2"] == pytest.approx(expected, rel=1e-5)
    hot = res.hotspots(share=0.9)
    assert int(hot.mask.sum()) == k
    assert hot.area_km2 == pytest.approx(expected, rel=1e-5)
    row = res.concentration_table(consumers=[]).iloc[0]
    assert row["area_km2_90pct"] == pytest.approx(expected, rel=1e-5)
    # a 0.25 degree cell at 30-46 N is 480-670 km², not 0.0625 "m²"
    assert 480 < hot.area_km2 / k < 670


# ----------------------------------------------------------------- cities
def test_city_total_is_the_sum_within_its_geodesic_radius(res, raw):
    ds = raw["ds"]
    values = ds["foreign_footprint"].values
    table = res.rank("city", None, radius_km=RADIUS_KM).set_index("city")
    for name in ("Tokyo", "Osaka", "Sapporo"):
        point = city(name)
        disc = geodesic_disc(ds, point["lon"], point["lat"], RADIUS_KM)
        assert 10 < disc.sum() < 40  # a 60 km disc, not the whole grid
        assert table.loc[name, "cells"] == disc.sum()
        assert table.loc[name, "t_co2"] == pytest.approx(values[disc].sum(), rel=1e-12)
    tokyo = city("Tokyo")
    disc = geodesic_disc(ds, tokyo["lon"], tokyo["lat"], RADIUS_KM)
    drivers = res.drivers(city="Tokyo", radius_km=RADIUS_KM, by="consumer")
    expected = ds["footprint"].values[:, disc].sum()
    assert drivers["t_co2"].sum() == pytest.approx(expected, rel=1e-9)


def test_only_the_study_cities_in_range_are_ranked(res, raw):
    table = res.rank("city", None)
    assert set(table["city"]) == IN_RANGE
    assert "4 of the 8 cities of cities.csv lie on" in table.attrs["note"]
    with pytest.raises(ConfigError, match="no land cell centre within 25 km"):
        res.drivers(city="Shanghai")
    with pytest.raises(ConfigError, match="unknown city 'Beijing'"):
        res.drivers(city="Beijing")


def test_shipped_list_ranks_no_far_away_city_and_says_so(res, raw):
    ds = res.ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "study_places"}
    shipped = Results(ds, res.directory)
    assert len(shipped.cities) == 731  # the list covers Shanghai, Qingdao, Dalian in the grid
    inside = shipped.cities[shipped.cities["lon"].between(118, 146)]
    assert inside["lat"].between(30, 46).sum() > 20
    table = shipped.rank("city", None)
    assert len(table) == 0
    outlines = display_borders(shipped)  # no recorded boundary files: the raster's outlines
    assert set(outlines.codes) == {"JPN", "KOR", "XXX"}
    xxx = [g for c, g in zip(outlines.codes, outlines.geometries, strict=True) if c == "XXX"]
    area = sum(shapely.geometry.shape(g).area for g in xxx)
    cells = (raw["ds"]["region_index"].values == raw["codes"].index("XXX")).sum()
    assert area == pytest.approx(cells * RESOLUTION**2)
    note = table.attrs["note"]
    assert "no city of china_cities.csv lies on the study's land or within 25 km" in note
    assert "[regions] cities" in note


# ------------------------------------------------------------------- maps
def land_frame(raw) -> tuple[float, float, float, float]:
    ds, land = raw["ds"], raw["land"]
    x, y = ds["x"].values[land.any(axis=0)], ds["y"].values[land.any(axis=1)]
    half = RESOLUTION / 2
    return x.min() - half, x.max() + half, y.min() - half, y.max() + half


def test_axis_labels_follow_the_crs():
    assert axis_labels(CRS.from_epsg(4326)) == ("longitude (°)", "latitude (°)")
    albers = "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m"
    assert axis_labels(CRS.from_proj4(albers)) == ("x (km)", "y (km)")  # ticks in km
    assert axis_labels(CRS.from_epsg(2263)) == ("x (ftUS)", "y (ftUS)")


def test_report_maps_are_framed_on_land_with_lonlat_axes(res, raw):
    borders = display_borders(res)
    assert borders.codes == ("JPN", "KOR", "XXX")  # the study's own, not China's provinces
    west = min(shapely.geometry.shape(g).bounds[0] for g in borders.geometries)
    assert west == pytest.approx(118.0)
    frame = land_frame(raw)
    assert frame == pytest.approx((129.5, 145.5, 31.0, 45.5))  # Japan: Korea is abroad
    fig = draw_layer(res.layer(), title="t", borders=borders)  # > 0 on every land cell
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("longitude (°)", "latitude (°)")
    assert (*ax.get_xlim(), *ax.get_ylim()) == pytest.approx(frame)


def test_run_maps_exist(study):
    maps = sorted(p.name for p in (study[0] / "maps").glob("*.png"))
    assert "foreign_footprint.png" in maps and len(maps) == 6


# ---------------------------------------------------------- query, report
def test_query_province_areas_and_city_ranking(capsys, study, raw, cell_km2):
    out = str(study[0])
    assert main(["query", out, "--by", "province", "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("province")
    jpn = raw["ds"]["region_index"].values == raw["codes"].index("JPN")
    assert frame.loc["JPN", "area_km2"] == pytest.approx(cell_km2[jpn].sum(), rel=1e-5)
    argv = ["query", out, "--by", "city", "--radius-km", "60", "--top", "20", "--format", "json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    records = {r["city"]: r for r in json.loads(captured.out)}
    assert set(records) == IN_RANGE
    assert "4 of the 8 cities" in captured.err
    osaka = city("Osaka")
    disc = geodesic_disc(raw["ds"], osaka["lon"], osaka["lat"], RADIUS_KM)
    expected = raw["ds"]["foreign_footprint"].values[disc].sum()
    assert records["Osaka"]["t_co2"] == pytest.approx(expected, rel=1e-9)


def test_query_cell_and_concentration_line(capsys, study, raw, cell_km2):
    out = str(study[0])
    assert main(["query", out, "--cell", "139.69,35.69", "--group", "consumer"]) == 0
    capsys.readouterr()
    ds = raw["ds"]
    row = int(np.floor((46.0 - 35.69) / RESOLUTION))
    col = int(np.floor((139.69 - 118.0) / RESOLUTION))
    argv = ["query", out, "--cell", "139.69,35.69", "--top", "10000", "--format", "csv"]
    assert main(argv) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = ds["footprint"].isel(y=row, x=col).values.sum()
    assert expected > 0
    assert frame["t_co2"].sum() == pytest.approx(expected, rel=1e-9)
    assert main(["query", out]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    extent = float(header.split("90% on ")[1].split(" km²")[0])
    stats = open_results(study[0]).concentration(share=0.9)
    assert extent == pytest.approx(stats["area_km2"], rel=1e-3)  # 4 significant digits


def test_report_on_the_geographic_study(study, raw, tmp_path):
    res = open_results(study[0])
    index = build_report(res, tmp_path / "report")
    text = index.read_text()
    land_lats = raw["ds"]["y"].values[raw["land"].any(axis=1)]
    areas = [geodesic_cell_area_km2(118.125, lat) for lat in (land_lats.max(), land_lats.min())]
    assert f"64 x 112 cells of 0.25° x 0.25° ({areas[0]:.4g} to {areas[1]:.4g} km²" in text
    assert "with the study&#x27;s boundaries" in text or "with the study's boundaries" in text
    for name in IN_RANGE:
        assert f"<td>{name}</td>" in text
    assert "Shanghai" not in text and "Paris" not in text
    assert "cities.csv ([regions] cities)" in text
    headline = text.split('id="headline-table"')[1].split("</table>")[0]
    assert "Mt (" in headline and "emitted in Japan" in headline
    assert not re.search(r"\d[eE][+-]?\d", headline)
    panels = json.loads((index.parent / "figures.json").read_text())
    for group in ("fig1", "fig2", "fig3"):
        limits = {(p["vmin"], p["vmax"]) for p in panels if p["figure"] == group}
        assert len(limits) == 1
    fig1 = [p for p in panels if p["figure"] == "fig1"]
    top = max(float(raw["ds"]["footprint"].sel(consumer=c).max()) for c in ("USA", "DEU", "ROW"))
    assert fig1[0]["vmax"] == pytest.approx(max(top, float(raw["ds"]["foreign_footprint"].max())))


def test_run_maps_are_framed_on_the_land_not_the_boundary_file(study, raw):
    from pipeline.results.maps import land_mask, mask_extent

    cube = open_store(study[0] / "footprint.zarr")
    assert mask_extent(land_mask(cube)) == pytest.approx(land_frame(raw))
