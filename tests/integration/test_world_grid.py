"""A worldwide lat/lon inventory with the nested country's provinces inside it (reduced size).

The grid is 1 degree instead of EDGAR's 0.1 degree. The regions are the world's
countries with China's provinces layered on top; the MRIO is the demo's nested
table (31 provinces + 12 foreign regions), so foreign cells map to their MRIO
region or, for every other country, to ROW.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.geodesy import exact_row_areas, write_latlon_netcdf
from helpers.stores import open_store
from pyproj import CRS

from pipeline.demo.inventory import DEMO_SECTORS, demo_concordance
from pipeline.demo.mrio import make_demo_tables, write_demo_tables
from pipeline.grid.regions import grid_covering, rasterize_regions, read_regions
from pipeline.grid.units import SECONDS_PER_YEAR
from pipeline.resources import data_file
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study

STUDY = """
[study]
name = "world 1 degree (synthetic)"
country = "CHN"
[mrio]
global = "mrio/global"
subnational = "mrio/provincial"
sector_concordance = "mrio/sector_concordance.csv"
[inventory]
files = "inventory.nc"
chunks = 64
[regions]
boundaries = ["world_countries.geojson", "china_provinces.geojson"]
code_field = ["iso3", "code"]
aliases = { "CN-HK" = "HKG" }
default_region = "ROW"
[concordance]
file = "inventory_concordance.csv"
[output]
maps = false
"""


@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    write_demo_tables(make_demo_tables(), root / "mrio")
    for name in ("world_countries.geojson", "china_provinces.geojson"):
        (root / name).write_bytes(data_file(name).read_bytes())
    demo_concordance().to_csv(root / "inventory_concordance.csv", index=False)
    regions = read_regions(
        [root / "world_countries.geojson", root / "china_provinces.geojson"],
        code_field=["iso3", "code"],
    )
    grid = grid_covering(regions, crs=CRS.from_epsg(4326), resolution=1.0)
    index = rasterize_regions(regions, grid)
    rng = np.random.default_rng(1)
    flux = rng.gamma(0.5, 1e-10, (len(DEMO_SECTORS), *grid.shape)) * (index >= 0)
    write_latlon_netcdf(root / "inventory.nc", grid, flux, DEMO_SECTORS)
    (root / "study.toml").write_text(STUDY)
    config = load_config(root / "study.toml")
    summary = run_study(config, root / "out", connect=None, echo=lambda *_: None)
    lat_edges = grid.transform.f + np.arange(grid.shape[0] + 1) * grid.transform.e
    tonnes = flux * exact_row_areas(lat_edges, 1.0)[None, :, None] * SECONDS_PER_YEAR / 1000
    return root, summary, tonnes, index, regions


def test_world_store_holds_provinces_and_foreign_producers(world_run):
    root, summary, tonnes, index, regions = world_run
    ds = open_store(root / "out" / "footprint.zarr")
    producers = set(ds["region"].values)
    assert {"CN-GD", "CN-XJ", "USA", "JPN", "ROW", "HKG"} <= producers
    assert ds.rio.crs == CRS.from_epsg(4326)
    assert summary["conservation_max_rel_error"] < 1e-9


def test_world_totals_equal_flux_times_exact_area(world_run):
    root, summary, tonnes, index, _ = world_run
    ds = open_store(root / "out" / "footprint.zarr")
    np.testing.assert_allclose(ds["emissions"].values, tonnes, rtol=1e-9)
    total = summary["foreign_total_t"] + summary["domestic_total_t"] + summary["abroad_total_t"]
    assert total == pytest.approx(tonnes.sum(), rel=1e-9)
    per_cell = ds["footprint"].sum("consumer").values
    np.testing.assert_allclose(per_cell, tonnes.sum(axis=0), rtol=1e-9, atol=1e-6)


def test_us_cells_are_driven_mostly_by_us_demand(world_run):
    root, _, _, index, regions = world_run
    ds = open_store(root / "out" / "footprint.zarr")
    usa = index == regions.codes.index("USA")
    by_consumer = ds["footprint"].values[:, usa].sum(axis=1)
    consumers = list(ds["consumer"].values)
    assert consumers[int(np.argmax(by_consumer))] == "USA"
