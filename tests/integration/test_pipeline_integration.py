"""End to end on the coarse demo with a real LocalCluster; independent cross-checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
import zarr
from helpers.demo_inputs import build_coarse_demo, copy_inputs, demo_config
from helpers.stores import open_store

import cluster
from pipeline.demo.inventory import DEMO_SECTORS
from pipeline.mrio import attribute
from pipeline.storage.versions import is_complete
from pipeline.workflow.run import run_study
from pipeline.workflow.stages import load_mrio

LOCAL = {"kind": "local", "n_workers": 2, "threads_per_worker": 1, "memory_limit": "2GiB"}


@pytest.fixture(scope="module")
def demo_inputs(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def cluster_run(demo_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("run-cluster")
    config = demo_config(demo_inputs, output__maps=True)
    summary = run_study(
        config,
        out,
        connect=lambda: cluster.connect(LOCAL, echo=lambda *_: None),
        echo=lambda *_: None,
    )
    return config, out, summary


def read_inventory(inputs):
    layers = {}
    for sector in DEMO_SECTORS:
        with rasterio.open(inputs / "inventory" / f"{sector}.tif") as src:
            layers[sector] = src.read(1)
    return layers


def test_outputs_exist_and_open_with_plain_xarray(cluster_run):
    _, out, summary = cluster_run
    store = out / "footprint.zarr"
    assert is_complete(store)
    plain = xr.open_zarr(store)  # the factorized store: footprint is computed on read
    assert "footprint" not in plain and "region_shares" in plain and "foreign_footprint" in plain
    ds = open_store(store)
    assert ds.rio.crs is not None and ds["footprint"].rio.crs == ds.rio.crs
    assert ds["footprint"].attrs["units"] == "t"
    assert set(ds["footprint"].dims) == {"consumer", "y", "x"}
    assert ds["foreign"].sel(consumer="USA") and not ds["foreign"].sel(consumer="CN-BJ")
    for key in ("created", "config", "package_versions", "input_checksums"):
        assert ds.attrs[key]
    by_sector = zarr.open_array(os.path.realpath(store / "footprint_by_sector"), mode="r")
    assert by_sector.chunks[0] == 1 and by_sector.shards[0] == ds.sizes["sector"]
    assert json.loads((out / "summary.json").read_text()) == summary
    assert {p.name for p in (out / "maps").glob("*.png")} >= {
        "foreign_footprint.png",
        "consumer_USA.png",
    }


def test_cells_add_up_to_the_inventory_read_independently(cluster_run, demo_inputs):
    _, out, summary = cluster_run
    ds = open_store(out / "footprint.zarr")
    inventory = sum(read_inventory(demo_inputs).values())
    per_cell = ds["footprint"].sum("consumer").values
    index = ds["region_index"].values
    mainland = (index >= 0) & (index < 31)  # provinces come first in the boundary file
    np.testing.assert_allclose(per_cell[mainland], inventory[mainland], rtol=1e-9, atol=1e-6)
    total = summary["foreign_total_t"] + summary["domestic_total_t"]
    assert total == pytest.approx(inventory.sum(), rel=1e-9)
    assert summary["conservation_max_rel_error"] < 1e-9


def test_attribution_equals_the_mrio_engine(cluster_run):
    config, out, _ = cluster_run
    ds = open_store(out / "footprint.zarr")
    nested = load_mrio(config.mrio, config.study, config.paths).table
    provinces = list(ds["region"].values)
    # The demo's grid totals equal F, so sector weights by F reproduce f * X exactly.
    expected = attribute(nested, regions=provinces).sum("sector")
    got = ds["attribution"].sum("sector").load()
    np.testing.assert_allclose(
        got.values,
        expected.sel(region=provinces).transpose(*got.dims).values,
        rtol=1e-9,
        atol=1e-9 * float(expected.max()),
    )


def test_summary_numbers_from_the_store(cluster_run):
    _, out, summary = cluster_run
    ds = open_store(out / "footprint.zarr")
    foreign = ds["footprint"].isel(consumer=ds["foreign"].values).sum(("x", "y")).load()
    shares = (foreign / foreign.sum()).to_series()
    for consumer, share in summary["consumer_shares"].items():
        assert share == pytest.approx(shares[consumer], rel=1e-9)
    assert list(summary["consumer_shares"])[:3] == ["USA", "HKG", "JPN"]
    assert max(summary["sector_shares"], key=summary["sector_shares"].get) == "power"
    index = ds["region_index"].values
    land = (index >= 0) & (index < 31)
    values = np.sort(ds["foreign_footprint"].values[land])[::-1]
    k = np.searchsorted(np.cumsum(values), 0.75 * values.sum()) + 1
    assert summary["land_share_for_75pct"] == pytest.approx(k / values.size, abs=1.5 / values.size)
    assert sum(summary["category_shares"].values()) == pytest.approx(1.0, rel=1e-12)


def test_result_does_not_depend_on_chunks_or_scheduler(cluster_run, demo_inputs, tmp_path):
    _, out, _ = cluster_run
    config = demo_config(demo_inputs, inventory__chunks=17, output__maps=False)
    run_study(config, tmp_path, connect=None, echo=lambda *_: None)
    a = open_store(out / "footprint.zarr")
    b = open_store(tmp_path / "footprint.zarr")
    assert b["footprint"].data.chunksize[1:] == (17, 17)
    for name in ("footprint", "footprint_by_sector", "footprint_by_category", "attribution"):
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=1e-12, atol=0)


def test_float32_cubes_conserve_and_match_float64(cluster_run, demo_inputs, tmp_path):
    _, out, summary = cluster_run
    config = demo_config(demo_inputs, output__dtype="float32", output__maps=False)
    result = run_study(config, tmp_path, connect=None, echo=lambda *_: None)
    a = open_store(out / "footprint.zarr")
    b = open_store(tmp_path / "footprint.zarr")
    assert b["footprint"].dtype == np.float32 and b["attribution"].dtype == np.float64
    assert result["conservation_max_rel_error"] < 1e-6
    np.testing.assert_allclose(b["footprint"].values, a["footprint"].values, rtol=1e-5, atol=1e-3)
    assert result["foreign_total_t"] == pytest.approx(summary["foreign_total_t"], rel=1e-12)


def test_outside_emissions_assigned_to_a_named_region(cluster_run, demo_inputs, tmp_path):
    """Drop Sichuan's polygon: its cells fall outside; outside = "CN-SC" puts them back."""
    _, out, _ = cluster_run
    inputs = copy_inputs(demo_inputs, tmp_path)
    path = inputs / "boundaries" / "china_provinces.geojson"
    doc = json.loads(path.read_text())
    sichuan = next(f for f in doc["features"] if f["properties"]["code"] == "CN-SC")
    sichuan["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [0.01, 0], [0, 0.01], [0, 0]]],
    }
    path.write_text(json.dumps(doc))
    config = demo_config(inputs, regions__outside="CN-SC", output__maps=False)
    run_study(config, tmp_path / "out", connect=None, echo=lambda *_: None)
    a = open_store(out / "footprint.zarr")
    b = open_store(tmp_path / "out" / "footprint.zarr")
    np.testing.assert_allclose(
        b["attribution"].sel(region="CN-SC").values,
        a["attribution"].sel(region="CN-SC").values,
        rtol=1e-9,
    )
    np.testing.assert_allclose(b["footprint"].values, a["footprint"].values, rtol=1e-9, atol=1e-6)
