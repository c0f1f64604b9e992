"""End-to-end study 1: a worldwide EDGAR-layout inventory with a plain global table.

Unlike the demo: a geographic grid (EPSG:4326, 2 degrees, longitudes 0-360,
rows south to north), one EDGAR-style NetCDF per sector in kg m-2 s-1 (float32
``fluxes``), a plain-format MRIO of 7 regions x 4 sectors with a zero-output
sector and two stressors, no nesting, India as the study country, a residential
layer mapped to household final demand, and every country outside the MRIO
mapped to ``ROW`` by ``default_region``.

Every number is checked against :mod:`helpers.study_tables`, a dense numpy oracle that
shares no code with the package.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import xarray as xr
from helpers.geodesy import exact_row_areas
from helpers.stores import open_store
from helpers.study_tables import oracle_footprint, random_plain_table
from shapely.geometry import shape

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.resources import data_file

REGIONS = ["AUS", "BRA", "DEU", "IND", "NGA", "USA", "ROW"]
SECTORS = ["electricity", "manufacturing", "transport", "services"]
CATEGORIES = ["households", "government", "investment"]
EDGAR = ["ENE", "IND", "TRO", "RCO"]
RESOLUTION = 2.0
SECONDS_PER_YEAR = 365 * 86400
CONCORDANCE = """inventory_sector,mrio_sector
ENE,electricity
IND,manufacturing
IND,services
TRO,transport
RCO,final_demand:households
"""
STUDY = """
[study]
name = "EDGAR-layout world, plain table (synthetic)"
country = "IND"
[mrio]
global_format = "plain"
global = "mrio"
stressor = "CO2"
[inventory]
chunks = 32
[inventory.files]
ENE = "edgar/v8.0_CO2_2022_ENE_flx.nc"
IND = "edgar/v8.0_CO2_2022_IND_flx.nc"
TRO = "edgar/v8.0_CO2_2022_TRO_flx.nc"
RCO = "edgar/v8.0_CO2_2022_RCO_flx.nc"
[regions]
boundaries = "world_countries.geojson"
code_field = "iso3"
default_region = "ROW"
outside = "ROW"   # two unnamed polygons of the shipped file (empty iso3) are skipped
[concordance]
file = "concordance.csv"
[output]
maps = true
[cluster]
kind = "local"
n_workers = 1
threads_per_worker = 2
"""


def centre_regions(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Region position of every cell centre by point-in-polygon (later features win)."""
    features = json.loads(data_file("world_countries.geojson").read_text())["features"]
    lon2, lat2 = np.meshgrid(lon, lat)
    found = np.full(lon2.shape, -1)
    for feature in features:
        code = feature["properties"]["iso3"]  # empty codes: outside, hence ROW too
        inside = shapely.contains_xy(shape(feature["geometry"]), lon2, lat2)
        found[inside] = REGIONS.index(code) if code in REGIONS else REGIONS.index("ROW")
    return found


def write_edgar(folder, lon360, lat_south_north, flux):
    folder.mkdir()
    for s, name in enumerate(EDGAR):
        xr.Dataset(
            {"fluxes": (("lat", "lon"), flux[s], {"units": "kg m-2 s-1", "long_name": name})},
            coords={
                "lat": ("lat", lat_south_north, {"units": "degrees_north"}),
                "lon": ("lon", lon360, {"units": "degrees_east"}),
            },
        ).to_netcdf(folder / f"v8.0_CO2_2022_{name}_flx.nc")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("edgar")
    table = random_plain_table(
        REGIONS, SECTORS, CATEGORIES, seed=7, zero_rows=(("NGA", "services"),)
    )
    table.write(root / "mrio")
    world = data_file("world_countries.geojson").read_bytes()
    (root / "world_countries.geojson").write_bytes(world)
    (root / "concordance.csv").write_text(CONCORDANCE)
    (root / "study.toml").write_text(STUDY)
    lon360 = np.arange(RESOLUTION / 2, 360, RESOLUTION)
    lat = np.arange(-90 + RESOLUTION / 2, 90, RESOLUTION)
    lon = np.where(lon360 > 180, lon360 - 360, lon360)
    regions_sn = centre_regions(lon, lat)
    rng = np.random.default_rng(3)
    flux = (rng.gamma(0.4, 2e-9, (len(EDGAR), *regions_sn.shape)) * (regions_sn >= 0)).astype(
        np.float32
    )
    write_edgar(root / "edgar", lon360, lat, flux)
    code = main(["run", str(root / "study.toml"), "--out", str(root / "out")])
    assert code == 0
    # Oracle on the stored layout: rows north to south, longitudes -180..180.
    order = np.argsort(lon)
    north_first = slice(None, None, -1)
    tonnes_sn = flux.astype(np.float64) * SECONDS_PER_YEAR / 1000
    lat_edges = np.arange(-90, 90 + RESOLUTION, RESOLUTION)
    tonnes_sn *= exact_row_areas(lat_edges, RESOLUTION)[None, :, None]
    tonnes = tonnes_sn[:, north_first][:, :, order]
    cell_region = regions_sn[north_first][:, order]
    return {"root": root, "out": root / "out", "table": table, "tonnes": tonnes,
            "cell_region": cell_region}  # fmt: skip


@pytest.fixture(scope="module")
def ds(study):
    return open_store(study["out"] / "footprint.zarr").load()


@pytest.fixture(scope="module")
def oracle(study, ds):
    """``footprint[(c, k), y, x]`` by numpy, on the run's region raster."""
    table = study["table"]
    codes = ds["region_index"].attrs["flag_meanings"].split()
    mapped = np.array([REGIONS.index(c) if c in REGIONS else REGIONS.index("ROW") for c in codes])
    idx = ds["region_index"].values
    cell_region = np.where(idx >= 0, mapped[np.clip(idx, 0, None)], -1)
    direct = {EDGAR.index("RCO"): CATEGORIES.index("households")}
    values = oracle_footprint(table, CONCORDANCE, EDGAR, study["tonnes"], cell_region, direct)
    return values, cell_region


def test_region_raster_follows_cell_centres(study, oracle):
    """The run's raster agrees with an independent point-in-polygon test on emitting cells."""
    _, cell_region = oracle
    emitting = study["tonnes"].sum(axis=0) > 0
    agree = cell_region[emitting] == study["cell_region"][emitting]
    assert emitting.sum() > 3000
    assert agree.mean() > 0.995  # the rest: cells claimed by regions too small for a centre


def test_inventory_is_flux_times_geodesic_area(study, ds):
    np.testing.assert_allclose(ds["emissions"].values, study["tonnes"], rtol=1e-6)
    assert float(ds["y"][0]) == pytest.approx(89.0) and float(ds["x"][0]) == pytest.approx(-179.0)


def test_every_cell_matches_the_numpy_oracle(ds, oracle):
    values, _ = oracle
    stored = ds["footprint"].transpose("consumer", "y", "x").values
    expected = values.sum(axis=1)
    consumers = [str(c) for c in ds["consumer"].values]
    assert consumers == REGIONS
    scale = expected.max()
    np.testing.assert_allclose(stored, expected, rtol=1e-7, atol=1e-9 * scale)


def test_summary_totals_and_households(study, ds, oracle):
    values, _ = oracle
    summary = json.loads((study["out"] / "summary.json").read_text())
    home = REGIONS.index("IND")
    india = oracle[1] == home
    foreign = sum(values[c][:, india].sum() for c in range(len(REGIONS)) if c != home)
    assert summary["foreign_total_t"] == pytest.approx(foreign, rel=1e-7)
    assert summary["domestic_total_t"] == pytest.approx(values[home][:, india].sum(), rel=1e-7)
    rco = study["tonnes"][EDGAR.index("RCO")]
    assert summary["direct_final_demand_t"] == pytest.approx(rco[india].sum(), rel=1e-7)
    abroad = values[:, :, ~india & (oracle[1] >= 0)]
    assert summary["abroad_total_t"] == pytest.approx(abroad.sum(), rel=1e-7)
    assert summary["abroad_driven_by_domestic_t"] == pytest.approx(abroad[home].sum(), rel=1e-7)
    assert summary["land_cells"] == int((india & (oracle[1] >= 0)).sum())
    assert summary["conservation_max_rel_error"] < 1e-9
    assert summary["mrio_conservation_max_rel_error"] < 1e-9
    assert not summary["warnings"]


def test_residential_layer_reaches_only_its_own_consumer(ds, oracle):
    """RCO in India adds nothing foreign; elsewhere it goes to the cell region's consumer."""
    _, cell_region = oracle
    india = cell_region == REGIONS.index("IND")
    by_sector = ds["footprint_by_sector"].sel(sector="RCO").values
    assert np.abs(by_sector[india]).max() == 0.0
    rco = ds["attribution"].sel(sector="RCO")
    for region in REGIONS:
        own = float(rco.sel(region=region, consumer=region, category="households"))
        assert own > 0
        assert float(rco.sel(region=region).sum()) == pytest.approx(own, rel=1e-12)


def test_results_api_layers(study, oracle):
    values, cell_region = oracle
    res = open_results(study["out"])
    usa = REGIONS.index("USA")
    layer = res.layer(consumer="USA", category="government").values
    india = cell_region == REGIONS.index("IND")
    expected = values[usa, CATEGORIES.index("government")]
    np.testing.assert_allclose(layer[india], expected[india], rtol=1e-7, atol=1e-12)
    drivers = res.drivers(region="IND", by="consumer").set_index("consumer")["t_co2"]
    for c, code in enumerate(REGIONS):
        assert drivers.get(code, 0.0) == pytest.approx(values[c][:, india].sum(), rel=1e-7)


def test_query_geotiff_export_is_geographic_and_exact(study, oracle, tmp_path):
    values, _ = oracle
    target = tmp_path / "usa.tif"
    code = main(["query", str(study["out"]), "--consumer", "USA", "--format", "geotiff",
                 "--output", str(target)])  # fmt: skip
    assert code == 0
    with rasterio.open(target) as src:
        assert src.crs.to_epsg() == 4326
        assert src.transform.a == pytest.approx(RESOLUTION)
        assert (src.bounds.left, src.bounds.top) == pytest.approx((-180.0, 90.0))
        data = src.read(1)
    expected = values[REGIONS.index("USA")].sum(axis=0)
    np.testing.assert_allclose(data, expected, rtol=1e-6, atol=1e-9 * expected.max())


def test_query_by_province_ranks_mrio_regions(study, oracle, capsys):
    values, cell_region = oracle
    code = main(["query", str(study["out"]), "--consumer", "DEU", "--by", "province",
                 "--format", "csv", "--top", "3"])  # fmt: skip
    assert code == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(frame) == 3
    layer = values[REGIONS.index("DEU")].sum(axis=0)
    assert frame["t_co2"].sum() <= layer.sum() * (1 + 1e-9)
    assert frame["t_co2"].is_monotonic_decreasing


def test_report_and_run_maps_are_written(study, tmp_path):
    code = main(["report", str(study["out"]), "--output", str(tmp_path / "report")])
    assert code == 0
    html = (tmp_path / "report" / "index.html").read_text()
    assert "IND" in html
    assert sorted(p.name for p in (study["out"] / "maps").glob("*.png"))


def test_cell_areas_are_geodesic_per_row(study):
    res = open_results(study["out"])
    lat_edges = np.arange(90, -90 - RESOLUTION, -RESOLUTION)  # north to south, as stored
    expected = exact_row_areas(lat_edges, RESOLUTION) / 1e6
    np.testing.assert_allclose(res.row_area_km2, expected, rtol=1e-9)
    assert expected.sum() * 360 / RESOLUTION == pytest.approx(510.0656e6, rel=1e-5)  # Earth


def test_foreign_cubes_cover_the_study_country_only(study, ds, oracle):
    """Abroad, CO2 for the cell region's own demand is not 'foreign-driven'."""
    _, cell_region = oracle
    india = cell_region == REGIONS.index("IND")
    foreign = ds["foreign_footprint"].values
    assert np.abs(foreign[~india]).max() == 0.0
    summary = json.loads((study["out"] / "summary.json").read_text())
    assert foreign.sum() == pytest.approx(summary["foreign_total_t"], rel=1e-9)
    by_category = ds["footprint_by_category"].sum(("y", "x"))
    shares = by_category / by_category.sum()
    for k, share in summary["category_shares"].items():
        assert float(shares.sel(category=k)) == pytest.approx(share, rel=1e-9, abs=1e-15)


def test_weights_on_a_zero_output_sector_are_refused_by_name(study, tmp_path, capsys):
    """NGA has no services output: fixing IND -> services would attribute NGA's CO2 to nobody."""
    import shutil

    root = shutil.copytree(
        study["out"].parent, tmp_path / "copy", ignore=shutil.ignore_patterns("out")
    )
    (root / "concordance.csv").write_text(
        "inventory_sector,mrio_sector,weight\nENE,electricity,1\nIND,services,1\n"
        "TRO,transport,1\nRCO,final_demand:households,\n"
    )
    code = main(["run", str(root / "study.toml"), "--out", str(root / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "'IND' emits in region 'NGA'" in err[0] and "(services)" in err[0]
