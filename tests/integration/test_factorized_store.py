"""The factorized store: per-consumer cubes computed on read equal stored ones.

Each study runs twice on the same inputs, with the default factorized store and
with ``[output] materialize = ["footprint"]``. ``open_results(DIR).ds`` must
present the same ``footprint`` (names, dims, coordinates, attributes, dtype and,
for every consumer, values to 1e-12 relative), and conservation must hold on the
lazy cube. Two studies: the coarse demo (Albers, nested China) and a Japan/Korea
study on an EPSG:4326 grid with a plain table (``tests/helpers/geographic_study``).
"""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr
from helpers.demo_inputs import build_coarse_demo, demo_config
from helpers.geographic_study import build_study
from helpers.stores import open_store

from pipeline import open_results
from pipeline.errors import ConfigError
from pipeline.storage.versions import resolve_store
from pipeline.workflow.config import load_config
from pipeline.workflow.run import run_study

QUIET = {"echo": lambda *_: None}


def run(config, out, **output):
    config = config.with_overrides(output={"maps": False, **output})
    run_study(config, out, **QUIET)
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("factorized-demo")
    config = demo_config(build_coarse_demo(root))
    return {
        "factorized": run(config, root / "f"),
        "materialized": run(config, root / "m", materialize=["footprint"]),
        "listed": run(config, root / "l", materialize=["USA", "JPN"]),
        "config": config,
    }


@pytest.fixture(scope="module")
def latlon(tmp_path_factory):
    root = tmp_path_factory.mktemp("factorized-latlon")
    out, _ = build_study(root)
    config = load_config(root / "study.toml")
    return {"factorized": out, "materialized": run(config, root / "m", materialize=["footprint"])}


def store_bytes(out) -> int:
    store = resolve_store(out / "footprint.zarr")
    return sum(p.stat().st_size for p in store.rglob("*") if p.is_file())


@pytest.mark.parametrize("study", ["demo", "latlon"])
def test_computed_footprint_equals_the_stored_cube(study, request):
    runs = request.getfixturevalue(study)
    computed = open_results(runs["factorized"]).ds
    stored = open_results(runs["materialized"]).ds
    raw = xr.open_zarr(resolve_store(runs["materialized"] / "footprint.zarr"))
    assert "footprint" not in xr.open_zarr(resolve_store(runs["factorized"] / "footprint.zarr"))
    a, b = computed["footprint"], stored["footprint"]
    assert a.dims == b.dims == raw["footprint"].dims
    assert a.dtype == b.dtype
    assert set(a.coords) == set(b.coords)
    for name in a.coords:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert a.attrs == b.attrs == raw["footprint"].attrs
    for consumer in a["consumer"].values:
        got = a.sel(consumer=consumer).values
        want = b.sel(consumer=consumer).values
        scale = max(np.abs(want).max(), 1e-300)
        assert np.abs(got - want).max() <= 1e-12 * scale, consumer
    assert a.rio.crs == b.rio.crs


@pytest.mark.parametrize("study", ["demo", "latlon"])
def test_conservation_holds_on_the_lazy_cube(study, request):
    ds = open_results(request.getfixturevalue(study)["factorized"]).ds
    per_cell = ds["footprint"].sum("consumer").values
    producers = list(ds["region"].values)
    codes = ds["region_index"].attrs["flag_meanings"].split()
    index = ds["region_index"].values
    mapped = np.isin(index, [n for n, c in enumerate(codes) if c in producers])
    inventory = np.where(mapped, ds["emissions"].sum("sector").values, 0.0)
    assert np.abs(per_cell - inventory).max() <= 1e-9 * inventory.max()
    totals = ds["footprint"].sum(("y", "x")).values
    attributed = ds["attribution"].sum(("region", "sector", "category")).values
    np.testing.assert_allclose(totals, attributed, rtol=1e-9, atol=1e-9 * attributed.max())
    foreign = ds["footprint"].where(ds["foreign"], 0.0).sum("consumer")
    home = ds["foreign_footprint"].values > 0
    np.testing.assert_allclose(foreign.values[home], ds["foreign_footprint"].values[home], 1e-9)


def test_listed_consumers_are_stored_and_read(demo):
    raw = xr.open_zarr(resolve_store(demo["listed"] / "footprint.zarr"))
    assert [str(c) for c in raw["materialized_consumer"].values] == ["USA", "JPN"]
    ds = open_results(demo["listed"]).ds
    full = open_results(demo["materialized"]).ds["footprint"]
    np.testing.assert_array_equal(
        ds["footprint"].sel(consumer="USA").values,
        raw["materialized_footprint"].sel(materialized_consumer="USA").values,
    )
    np.testing.assert_allclose(ds["footprint"].values, full.values, rtol=1e-12, atol=1e-12)


def test_the_factorized_store_is_a_fraction_of_the_materialized(demo):
    """43 consumer layers are not stored (at 50 km metadata weighs; 1 km: bench/scale.py)."""
    factorized, materialized = store_bytes(demo["factorized"]), store_bytes(demo["materialized"])
    cube = sum(
        p.stat().st_size
        for p in (resolve_store(demo["materialized"] / "footprint.zarr") / "footprint").rglob("*")
    )
    assert factorized < 0.6 * materialized
    assert factorized < materialized - 0.9 * cube


def test_selecting_one_consumer_computes_only_its_layer(demo):
    footprint = open_results(demo["factorized"]).ds["footprint"]
    (one,) = dask.optimize(footprint.sel(consumer="USA").data)
    (every,) = dask.optimize(footprint.data)
    n_consumers = footprint.sizes["consumer"]
    assert len(one.__dask_graph__()) * 4 < len(every.__dask_graph__())
    assert n_consumers == 43


def test_an_unknown_materialize_entry_names_the_key(demo, tmp_path):
    config = demo["config"].with_overrides(output={"materialize": ["USAA"]})
    with pytest.raises(ConfigError, match=r"\[output\] materialize names 'USAA' \(did you mean"):
        run_study(config, tmp_path / "bad", **QUIET)


@pytest.mark.parametrize("study", ["demo", "latlon"])
def test_the_stored_emissions_are_the_ingested_chunks_linked(study, request):
    """The write pass links the ingested emissions (not rewritten), described as the store's."""
    out = request.getfixturevalue(study)["factorized"]
    stored = resolve_store(out / "footprint.zarr") / "emissions"
    ingested = out / "work" / "inventory.zarr" / "emissions"
    chunks = [p for p in ingested.rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert chunks
    for chunk in chunks:
        assert (stored / chunk.relative_to(ingested)).stat().st_ino == chunk.stat().st_ino
    opened = open_store(out / "footprint.zarr")
    assert opened["emissions"].attrs["long_name"] == "CO2 emissions per cell (the inventory)"
    assert (
        xr.open_zarr(out / "work" / "inventory.zarr")["emissions"].attrs["long_name"]
        != (opened["emissions"].attrs["long_name"])
    )
    np.testing.assert_array_equal(
        opened["emissions"].values,
        xr.open_zarr(out / "work" / "inventory.zarr")["emissions"].values,
    )
