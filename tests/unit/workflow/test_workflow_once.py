"""One copy of each idea in the workflow: the inventory opened once, the chunk budget on the
cube's real layer count, and the Leontief method chosen once (no cluster)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import dask
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

from pipeline.attribution.cube import CubeInputs, build_cube, cell_layers
from pipeline.grid.chunks import chunk_side
from pipeline.mrio import engine
from pipeline.mrio import method as leontief_method
from pipeline.mrio.engine import FactoredTable
from pipeline.workflow import run, stages
from pipeline.workflow.config import (
    InputPaths,
    InventorySettings,
    MrioSettings,
    OutputSettings,
    RegionSettings,
)

SHAPE = (150, 200)


@pytest.fixture
def inputs(tmp_path):
    """A one-band GeoTIFF on a 0.1° lat/lon grid and one polygon over it."""
    profile = dict(driver="GTiff", width=SHAPE[1], height=SHAPE[0], count=1, dtype="float64",
                   crs="EPSG:4326", transform=from_origin(100.0, 40.0, 0.1, 0.1))  # fmt: skip
    with rasterio.open(tmp_path / "power.tif", "w", **profile) as dst:
        dst.write(np.ones((1, *SHAPE)))
    ring = [[100, 25], [120, 25], [120, 40], [100, 40], [100, 25]]
    feature = {"type": "Feature", "properties": {"code": "A"},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    (tmp_path / "b.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    return InputPaths(tmp_path, tmp_path / "study.toml")


@pytest.fixture
def opened(monkeypatch):
    """Count the calls of the inventory reader the workflow uses."""
    calls = []
    reader = stages.grid_inventory.open_inventory

    def counting(*args, **kwargs):
        calls.append(kwargs["chunks"])
        return reader(*args, **kwargs)

    monkeypatch.setattr(stages.grid_inventory, "open_inventory", counting)
    return calls


REGIONS = RegionSettings(boundaries="b.geojson")
INVENTORY = InventorySettings(files={"power": "power.tif"}, units="t")


def test_the_inventory_is_opened_once_in_the_budget_chunks(inputs, opened):
    sides = []

    def side(n_sectors):
        sides.append(n_sectors)
        return 64

    layers = stages.open_study_inventory(INVENTORY, REGIONS, inputs, side=side)
    assert opened == [stages.DEFAULT_CHUNK] and sides == [1]
    assert layers.emissions.data.chunksize == (1, 64, 64)
    assert float(layers.emissions.sum()) == SHAPE[0] * SHAPE[1]
    assert layers.regions.codes == ("A",) and set(layers.sources) == {"inventory_power",
                                                                      "boundaries"}  # fmt: skip


def test_configured_chunks_win_over_the_budget(inputs, opened):
    configured = InventorySettings(files={"power": "power.tif"}, units="t", chunks=32)
    layers = stages.open_study_inventory(configured, REGIONS, inputs, side=lambda n: 64)
    assert opened == [32] and layers.emissions.data.chunksize == (1, 32, 32)
    plain = stages.open_study_inventory(INVENTORY, REGIONS, inputs)
    assert plain.emissions.data.chunksize == (1, *SHAPE)  # one 512-cell chunk holds it all


def small_cube_inputs(n_consumers=3, n_categories=2, n_sectors=2) -> CubeInputs:
    consumers = ["A", "B", "USA", "JPN"][:n_consumers]
    shares = np.full((2, 1, n_consumers, n_categories), 1.0 / (n_consumers * n_categories))
    e = xr.DataArray(np.ones((n_sectors, 4, 4)), dims=("sector", "y", "x"),
                     coords={"sector": [f"s{i}" for i in range(n_sectors)],
                             "y": np.arange(4.0), "x": np.arange(4.0)}).chunk(2)  # fmt: skip
    index = xr.DataArray(np.repeat([[0, 0, 1, 1]], 4, axis=0), dims=("y", "x")).chunk(2)
    return CubeInputs(
        emissions=e.rio.write_crs("EPSG:3857"),
        region_index=index,
        region_codes=("A", "B"),
        producer_of_code=np.array([0, 1]),
        shares=xr.DataArray(
            shares,
            dims=("region", "mrio_sector", "consumer", "category"),
            coords={
                "region": ["A", "B"],
                "mrio_sector": ["m"],
                "consumer": consumers,
                "category": [f"k{i}" for i in range(n_categories)],
            },  # fmt: skip
        ),
        weights=np.ones((2, n_sectors, 1)),
        region_totals=np.full((2, n_sectors), 8.0),
        foreign=np.array([c not in ("A", "B") for c in consumers]),
    )


@pytest.mark.parametrize(
    ("consumers", "categories", "sectors", "materialize", "n_materialized"),
    [(3, 2, 2, (), 0), (4, 1, 3, ("USA",), 1), (4, 2, 1, ("footprint",), 4)],
)
def test_cell_layers_counts_the_per_cell_layers_of_the_cube(
    consumers, categories, sectors, materialize, n_materialized
):
    ds = build_cube(small_cube_inputs(consumers, categories, sectors), materialize=materialize).ds
    per_cell = [v for v in ds.data_vars if {"y", "x"} <= set(ds[v].dims) and v != "emissions"]
    per_cell.remove("region_index")
    layers = sum(int(np.prod(ds[v].shape[:-2], dtype=int)) for v in per_cell)
    assert layers == cell_layers(
        n_categories=categories, n_materialized=n_materialized, n_sectors=sectors
    )


def test_the_budget_side_uses_the_cube_layer_count():
    table = SimpleNamespace(consumers=["A", "B", "C"], categories=["k1", "k2"])
    output = OutputSettings(dtype="float32", chunk_memory_mb=16.0)
    expected = chunk_side(n_layers_out=2 + 1 + 7, n_sectors=7, itemsize=4, budget_mb=16.0)
    assert stages.budget_side(table, output, 7) == expected
    stored = OutputSettings(dtype="float32", chunk_memory_mb=16.0, materialize=["B", "C"])
    expected = chunk_side(n_layers_out=2 + 1 + 2 + 7, n_sectors=7, itemsize=4, budget_mb=16.0)
    assert stages.budget_side(table, stored, 7) == expected


def test_the_leontief_method_is_chosen_once_per_run(demo_tables, tmp_path, monkeypatch):
    chosen = []
    choose = leontief_method.choose_method

    def counting(*args, **kwargs):
        chosen.append(args[1])
        return choose(*args, **kwargs)

    monkeypatch.setattr(leontief_method, "choose_method", counting)
    lines: list[str] = []
    plan = SimpleNamespace(
        out=tmp_path,
        config=SimpleNamespace(mrio=MrioSettings(global_="g", method="auto")),
        key=lambda stage, **extra: "key",
        reusable=lambda *args: False,
        echo=lines.append,
        scenarios=SimpleNamespace(changes={}),
    )
    (tmp_path / "work").mkdir()
    loaded = SimpleNamespace(table=demo_tables.global_mrio)
    factored = FactoredTable(loaded.table, plan.config.mrio.method)
    shares = run._shares(plan, loaded, ["CHN"], factored, client=None, compute=dask.compute)
    assert chosen == ["auto"]
    assert "Leontief solve: float64 LU" in lines[0]
    expected = engine.attribution_shares(demo_tables.global_mrio, regions=["CHN"], method="lu")
    np.testing.assert_array_equal(shares.values, expected.values)


def test_a_chosen_method_is_used_as_chosen(demo_tables, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("chosen again")

    monkeypatch.setattr(leontief_method, "choose_method", refuse)
    method = leontief_method.LeontiefMethod("lu", automatic=False)
    shares = engine.attribution_shares(demo_tables.global_mrio, regions=["CHN"], method=method)
    assert shares.sizes["region"] == 1


def test_the_ingest_reads_each_inventory_block_once(inputs, tmp_path, monkeypatch):
    from collections import Counter

    from pipeline.grid import inventory_checks

    reads = Counter()
    original = inventory_checks.GuardedRaster.__getitem__

    def counting(self, key):
        reads[str(key)] += 1
        return original(self, key)

    monkeypatch.setattr(inventory_checks.GuardedRaster, "__getitem__", counting)
    layers = stages.open_study_inventory(INVENTORY, REGIONS, inputs, side=lambda n: 64)
    grid = stages.ingest_grid(layers, tmp_path / "work", compute=dask.compute)
    assert reads and set(reads.values()) == {1}  # read in 512-cell blocks, then rechunked
    totals = stages.region_totals(grid)  # computed by the writing tasks, stored with the ingest
    assert totals[0, 0] == float(SHAPE[0] * SHAPE[1]) and set(reads.values()) == {1}
    assert xr.open_zarr(grid.store).attrs[stages.TOTALS_ATTR] == totals.tolist()
    np.testing.assert_allclose(stages.computed_region_totals(grid), totals, rtol=1e-12)
