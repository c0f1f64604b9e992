"""A residential layer mapped to ``final_demand:households`` on the coarse demo.

Oracle: the shared baseline run without the layer, and the layer's own raster.
Direct final-demand CO2 must go to the cell's own region as consumer and the
households category only, so every foreign number stays as in the baseline.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from helpers.demo_inputs import copy_inputs, demo_config
from helpers.stores import open_store

from pipeline.demo.inventory import DEMO_SECTORS
from pipeline.workflow.run import run_study


@pytest.fixture(scope="module")
def residential_run(shared_results, tmp_path_factory):
    root = tmp_path_factory.mktemp("residential")
    inputs = copy_inputs(shared_results.parent / "inputs", root)
    with rasterio.open(inputs / "inventory" / "services.tif") as src:
        profile, services = src.profile, src.read(1)
    ramp = np.linspace(0.2, 1.0, services.shape[1])[None, :]
    residential = services * ramp  # another pattern, same grid and same regions
    with rasterio.open(inputs / "inventory" / "residential.tif", "w", **profile) as dst:
        dst.write(residential, 1)
    with open(inputs / "inventory_concordance.csv", "a") as f:
        f.write("residential,final_demand:households\n")
    files = {s: f"inventory/{s}.tif" for s in DEMO_SECTORS}
    files["residential"] = "inventory/residential.tif"
    config = demo_config(inputs, output__maps=False, inventory__files=files)
    summary = run_study(config, root / "out", echo=lambda *_: None)
    return root / "out", summary, residential


def test_residential_adds_nothing_to_any_foreign_consumer(residential_run, shared_results):
    out, summary, _ = residential_run
    ds, base = open_store(out / "footprint.zarr"), open_store(shared_results / "footprint.zarr")
    np.testing.assert_allclose(
        ds["foreign_footprint"].values, base["foreign_footprint"].values, rtol=1e-12, atol=0
    )
    foreign = ds["foreign"].values
    np.testing.assert_allclose(
        ds["footprint"].values[foreign], base["footprint"].values[foreign], rtol=1e-12, atol=0
    )
    assert summary["foreign_total_t"] == pytest.approx(
        json.loads((shared_results / "summary.json").read_text())["foreign_total_t"], rel=1e-12
    )
    res = ds["attribution"].sel(sector="residential")
    assert float(res.isel(consumer=foreign).sum()) == 0.0


def test_residential_goes_to_own_region_households(residential_run, shared_results):
    out, summary, residential = residential_run
    ds = open_store(out / "footprint.zarr")
    codes = ds["region_index"].attrs["flag_meanings"].split()
    index = ds["region_index"].values
    on_land = np.where(index >= 0, residential, 0.0)
    assert summary["direct_final_demand_t"] == pytest.approx(on_land.sum(), rel=1e-12)
    assert summary["direct_final_demand_by_category_t"] == pytest.approx(
        {"households": on_land.sum()}, rel=1e-12
    )
    res = ds["attribution"].sel(sector="residential").load()
    regions = set(res["region"].values)
    for n, code in enumerate(codes):
        own = float(residential[index == n].sum())
        if code not in regions:  # a code without MRIO rows emits nothing here
            assert own == 0.0
            continue
        assert float(res.sel(region=code, consumer=code, category="households")) == pytest.approx(
            own, rel=1e-12, abs=1e-9
        )
    assert float(res.sum()) == pytest.approx(on_land.sum(), rel=1e-12)
    base = open_store(shared_results / "footprint.zarr")
    code = codes[int(np.argmax([residential[index == n].sum() for n in range(len(codes))]))]
    gained = ds["footprint"].sel(consumer=code).values - base["footprint"].sel(consumer=code).values
    np.testing.assert_allclose(
        gained, np.where(index == codes.index(code), residential, 0.0), rtol=1e-9, atol=1e-6
    )
    assert list(ds["final_demand_category"].values).count("households") == 1
