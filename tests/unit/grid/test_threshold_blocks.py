"""Out-of-core hotspot statistics equal the in-memory sort, cell for cell."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.grid.threshold_blocks import cells_holding, hotspot_mask, top_cells
from pipeline.kernels.concentration import (
    cells_holding_share,
    densest_first,
    land_share_holding,
)

SHARES = (0.5, 0.75, 0.9, 0.999, 1.0)


def in_memory(values, land, share):
    """The in-memory oracle: sort every land cell (kernels.concentration)."""
    order = densest_first(values, np.flatnonzero(land.ravel()))
    k = cells_holding_share(np.cumsum(values.ravel()[order]), share)
    mask = np.zeros(values.size, bool)
    mask[order[:k]] = True
    return k, mask.reshape(values.shape)


def layer(seed, shape=(37, 53), kind="gamma"):
    rng = np.random.default_rng(seed)
    if kind == "gamma":
        values = rng.gamma(0.3, 1e3, shape) * (rng.random(shape) < 0.7)
    elif kind == "ties":
        values = rng.integers(0, 4, shape).astype(float)
    elif kind == "signed":
        values = rng.normal(1.0, 2.0, shape)
    else:  # wide dynamic range: many binary exponents
        values = 10.0 ** rng.uniform(-30, 30, shape)
    land = rng.random(shape) < 0.8
    return values, land


@pytest.mark.parametrize("kind", ["gamma", "ties", "signed", "wide"])
@pytest.mark.parametrize("chunks", [(37, 53), (8, 11), (5, 53)])
@pytest.mark.parametrize("max_gather", [1, 7, 1 << 21])
def test_counts_and_masks_equal_the_sort(kind, chunks, max_gather):
    values, land = layer(3, kind=kind)
    v, m = da.from_array(values, chunks=chunks), da.from_array(land, chunks=chunks)
    found = cells_holding(v, m, SHARES, max_gather=max_gather)
    for share, holding in zip(SHARES, found, strict=True):
        k, mask = in_memory(values, land, share)
        assert holding.k == k, (share, holding)
        assert holding.land_share == land_share_holding(values[land], share)
        assert holding.n_land == land.sum()
        np.testing.assert_array_equal(hotspot_mask(v, m, holding).compute(), mask)


def test_many_tied_cells_beyond_the_gather_budget():
    values = np.full((40, 50), 2.0)
    values[0, :3] = [100.0, 50.0, 25.0]
    land = np.ones_like(values, bool)
    land[5] = False
    v, m = da.from_array(values, chunks=(7, 9)), da.from_array(land, chunks=(7, 9))
    (holding,) = cells_holding(v, m, [0.75], max_gather=10)
    k, mask = in_memory(values, land, 0.75)
    assert (holding.k, holding.threshold) == (k, 2.0)
    assert holding.ties_total == land.sum() - 3
    np.testing.assert_array_equal(hotspot_mask(v, m, holding).compute(), mask)


def test_zero_and_empty_layers():
    zeros = da.zeros((10, 10), chunks=5)
    land = da.ones((10, 10), dtype=bool, chunks=5)
    assert [h.k for h in cells_holding(zeros, land, [0.75])] == [0]
    assert cells_holding(zeros + 1, ~land, [0.75])[0].n_land == 0
    assert not hotspot_mask(zeros, land, cells_holding(zeros, land, [0.75])[0]).any().compute()


def test_nan_is_refused():
    values = np.ones((6, 6))
    values[2, 2] = np.nan
    with pytest.raises(Exception, match="NaN or Inf"):
        cells_holding(da.from_array(values, chunks=3), da.ones((6, 6), bool, chunks=3), [0.5])


def test_bounded_passes_and_no_grid_in_the_driver():
    values, land = layer(5, shape=(200, 300), kind="wide")
    calls = []

    def counting(*args):
        calls.append(args)
        return dask.compute(*args)

    v, m = da.from_array(values, chunks=50), da.from_array(land, chunks=50)
    cells_holding(v, m, SHARES, compute=counting, max_gather=100)
    assert len(calls) <= 6  # exponent pass, at most a few linear passes, one gather


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    ny=st.integers(1, 30),
    nx=st.integers(1, 30),
    cy=st.integers(1, 12),
    cx=st.integers(1, 12),
    share=st.floats(0.01, 1.0),
    gather=st.sampled_from([1, 3, 1000]),
)
def test_hypothesis_chunking_invariance(seed, ny, nx, cy, cx, share, gather):
    rng = np.random.default_rng(seed)
    values = np.round(rng.gamma(0.5, 10.0, (ny, nx)), 1) * (rng.random((ny, nx)) < 0.6)
    land = rng.random((ny, nx)) < 0.9
    v, m = da.from_array(values, chunks=(cy, cx)), da.from_array(land, chunks=(cy, cx))
    (holding,) = cells_holding(v, m, [share], max_gather=gather)
    k, mask = in_memory(values, land, share)
    assert holding.k == k
    np.testing.assert_array_equal(hotspot_mask(v, m, holding).compute(), mask)


@pytest.mark.parametrize("chunks", [(37, 53), (6, 7)])
def test_top_cells_are_the_largest_by_value_then_index(chunks):
    values, land = layer(8, kind="ties")
    flat, vals = top_cells(da.from_array(values, chunks=chunks), 25)
    expected = np.lexsort((np.arange(values.size), -values.ravel()))[:25]
    np.testing.assert_array_equal(flat, expected)
    np.testing.assert_array_equal(vals, values.ravel()[expected])
    on_land, _ = top_cells(
        da.from_array(values, chunks=chunks), 10, land=da.from_array(land, chunks=chunks)
    )
    assert land.ravel()[on_land].all()
