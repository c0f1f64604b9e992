"""The statistics never bring a grid-sized array into the driver (4000 x 4000 lazy cells).

Every compute of the statistics goes through one function (``Results._compute``,
``summarize(compute=...)``); the test wraps it and counts the elements of every
array each compute returns. The layer is made lazily by ``dask.array.random``
(a fixed seed gives the same cells on every pass) and never exists whole, so
the in-memory oracle is the land shares of a smaller copy of the same recipe
(tests/unit/results/test_out_of_core_statistics.py checks equality to it).
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from pipeline.grid.threshold_blocks import MAX_GATHER
from pipeline.kernels.concentration import land_share_holding
from pipeline.results.api import Results
from pipeline.results.places import place_attrs
from pipeline.results.summary import summarize

N, CHUNK = 4000, 500
CELLS = N * N
CODES = ["R1", "R2", "R3", "HK"]


def lazy_grid(n: int = N, chunk: int = CHUNK) -> tuple[da.Array, da.Array]:
    """A heavy-tailed lazy layer (the top 1% of cells hold about 75%) and region raster."""
    values = da.random.default_rng(7).lognormal(0.0, 3.0, size=(n, n), chunks=chunk)
    rows = da.arange(n, chunks=chunk)[:, None] * 4 // n
    cols = da.arange(n, chunks=chunk)[None, :] * 4 // n
    index = ((rows * 4 + cols) % 5 - 1).astype(np.int16)  # -1 outside, HK not land
    return values, index


def store(tmp_path, values: da.Array, index: da.Array) -> xr.Dataset:
    n = values.shape[0]
    coords = {"y": 49.995 - 0.01 * np.arange(n), "x": 100.005 + 0.01 * np.arange(n)}
    region_index = xr.DataArray(index, dims=("y", "x"))
    region_index.attrs.update(flag_meanings=" ".join(CODES), producer_of_code=[0, 1, 2, -1])
    consumers = ["A", "R1", "R2", "R3"]
    attribution = xr.DataArray(
        np.ones((3, 1, 4, 1)),
        dims=("region", "sector", "consumer", "category"),
        coords={"region": ["R1", "R2", "R3"], "sector": ["power"], "consumer": consumers},
    )
    ds = xr.Dataset(
        {
            "foreign_footprint": (("y", "x"), values),
            "region_index": region_index,
            "attribution": attribution,
        },
        coords={**coords, "foreign": ("consumer", [True, False, False, False])},
    ).assign_coords(category=["households"])
    cities = tmp_path / "cities.csv"
    pd.DataFrame(
        {
            "geonameid": [1, 2],
            "name": ["North", "South"],
            "lat": [45.0, 15.0],
            "lon": [110.0, 135.0],
            "population": [1, 2],
            "province": ["R1", "R2"],
        }
    ).to_csv(cities, index=False)
    ds.attrs.update(place_attrs(boundaries=None, code_field="code", cities=cities))
    return ds.rio.write_crs("EPSG:4326")


def elements(found) -> int:
    """Elements of every array in a compute's result (tuples, lists, dicts, arrays)."""
    if isinstance(found, np.ndarray):
        return found.size
    if isinstance(found, dict):
        found = list(found.values())
    if isinstance(found, list | tuple):
        return sum(elements(f) for f in found)
    return 1


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The statistics of the large lazy store, and the elements each compute returned."""
    values, index = lazy_grid()
    ds = store(tmp_path_factory.mktemp("bounded"), values, index)
    returned: dict[str, list[int]] = {"summary": [], "results": []}

    def recording(into: str):
        def compute(*args, **kwargs):
            found = dask.compute(*args, **kwargs)
            returned[into].append(elements(found))
            return found

        return compute

    land = ds["region_index"].isin([0, 1, 2])
    summary = summarize(ds, land_mask=land, conservation_error=0.0, compute=recording("summary"))
    res = Results(ds, tmp_path_factory.mktemp("out"))
    res._compute = recording("results")
    res._max_gather = 1 << 16
    found = {
        "summary": summary,
        "hotspots": res.hotspots(share=0.75),
        "cells": res.rank("cell", 10),
        "provinces": res.rank("province", None),
        "cities": res.rank("city", None),
        "curve": res.concentration_curve(points=500),
    }
    return found, returned


def test_no_compute_returns_a_grid(recorded):
    found, returned = recorded
    k = len(found["hotspots"].table)
    assert 0.001 * CELLS < k < 0.05 * CELLS  # a heavy tail: few hotspot cells
    assert len(returned["summary"]) == 2  # no refinement needed: exponents, then the gather
    # the summary gathers the values (and flat indices) of its crossing bins
    assert max(returned["summary"]) <= 2 * 2 * MAX_GATHER
    assert max(returned["summary"]) < CELLS / 10
    # the largest compute of the rest is the hotspot table's own k cells (flat, value, region)
    assert len(returned["results"]) >= 8
    assert max(returned["results"]) <= 3 * k + 4 * N


def test_the_large_results_are_consistent(recorded):
    found, _ = recorded
    summary, hot = found["summary"], found["hotspots"]
    land_cells = CELLS * 9 // 16  # 9 of the 16 tiles hold R1..R3, 3 HK, 4 none
    assert summary["land_cells"] == land_cells
    assert hot.land_share == summary["land_share_for_75pct"] == len(hot.table) / land_cells
    assert hot.table["t_co2"].is_monotonic_decreasing
    cells = found["cells"]  # every cell, not only land: HK and outside too
    assert cells["t_co2"].iloc[0] >= hot.table["t_co2"].iloc[0]
    on_land = cells[cells["region"].isin(["R1", "R2", "R3"])]
    assert on_land["t_co2"].iloc[0] == hot.table["t_co2"].iloc[0]
    provinces = found["provinces"].set_index("province")
    assert provinces["cells"].sum() == land_cells + CELLS * 3 // 16  # and HK
    assert found["cities"]["cells"].min() > 1000  # 25 km discs of 0.01 degree cells
    assert found["curve"]["emission_share"].iloc[-1] == pytest.approx(1.0)


def test_the_same_recipe_in_memory_gives_the_same_land_shares(tmp_path):
    """A 1000 x 1000 copy of the recipe, small enough for the in-memory oracle."""
    values, index = lazy_grid(1000, 250)
    ds = store(tmp_path, values, index)
    summary = summarize(ds, land_mask=ds["region_index"].isin([0, 1, 2]), conservation_error=0.0)
    cells, codes = dask.compute(values, index)
    land = np.isin(codes, [0, 1, 2])
    for share, key in ((0.75, "75pct"), (0.9, "90pct")):
        assert summary[f"land_share_for_{key}"] == land_share_holding(cells[land], share)
