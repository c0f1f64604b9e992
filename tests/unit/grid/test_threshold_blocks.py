"""Out-of-core hotspot statistics equal the in-memory sort, cell for cell."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.grid.threshold_blocks import (
    cells_holding,
    concentration_points,
    hotspot_mask,
    ranked_cells,
    top_cells,
)
from pipeline.kernels.concentration import (
    cells_holding_share,
    concentration_curve,
    densest_first,
    land_share_holding,
)

SHARES = (0.5, 0.75, 0.9, 0.999, 1.0)


@pytest.fixture(autouse=True)
def synchronous():
    """Small arrays: the synchronous scheduler is several times faster than threads."""
    with dask.config.set(scheduler="sync"):
        yield


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


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


def lazy(values, land, chunks):
    return da.from_array(values, chunks=chunks), da.from_array(land, chunks=chunks)


@pytest.mark.parametrize("kind", ["gamma", "ties", "wide"])
@pytest.mark.parametrize(("chunks", "max_gather"), [((37, 53), 1 << 21), ((8, 11), 1), ((5, 7), 9)])
def test_rows_of_the_cells_and_the_last_tie_equal_the_sort(kind, chunks, max_gather):
    values, land = layer(11, kind=kind)
    v, m = lazy(values, land, chunks)
    for share, holding in zip(
        SHARES, cells_holding(v, m, SHARES, max_gather=max_gather), strict=True
    ):
        k, mask = in_memory(values, land, share)
        np.testing.assert_array_equal(holding.rows, mask.sum(axis=1))
        np.testing.assert_array_equal(holding.land_rows, land.sum(axis=1))
        tied = mask & (values == holding.threshold)
        if holding.last_tie is not None:
            assert holding.ties_taken < holding.ties_total
            assert holding.last_tie == np.flatnonzero(tied.ravel())[-1]


def test_rows_of_ties_counted_without_gathering():
    values = np.full((30, 40), 3.0)
    values[7, 5] = 500.0
    land = np.ones_like(values, bool)
    land[:, 0] = False
    v, m = lazy(values, land, (4, 9))
    (holding,) = cells_holding(v, m, [0.5], max_gather=10)
    k, mask = in_memory(values, land, 0.5)
    assert holding.k == k and holding.last_tie is None  # ties too many to gather
    assert 0 < holding.ties_taken < holding.ties_total
    np.testing.assert_array_equal(holding.rows, mask.sum(axis=1))
    np.testing.assert_array_equal(hotspot_mask(v, m, holding).compute(), mask)


@pytest.mark.parametrize("chunks", [(37, 53), (6, 7)])
def test_ranked_cells_of_the_hotspot_mask_are_the_hotspots_in_order(chunks):
    values, land = layer(4, kind="ties")
    labels = np.arange(values.size, dtype=np.int32).reshape(values.shape) % 7 - 1
    v, m = lazy(values, land, chunks)
    (holding,) = cells_holding(v, m, [0.6])
    order = densest_first(values, np.flatnonzero(land.ravel()))[: holding.k]
    found = ranked_cells(
        v, holding.k, land=hotspot_mask(v, m, holding), labels=da.from_array(labels, chunks=chunks)
    )
    np.testing.assert_array_equal(found.flat, order)
    np.testing.assert_array_equal(found.values, values.ravel()[order])
    np.testing.assert_array_equal(found.labels, labels.ravel()[order])
    assert found.total == pytest.approx(values.sum(), rel=1e-13)


def test_a_mask_of_the_layer_does_not_compute_the_layer_twice():
    values, land = layer(6, kind="gamma")
    calls = []

    def counted(block):
        calls.append(block.shape)
        return block

    v = da.from_array(values, chunks=(10, 20)).map_blocks(counted, dtype=float)
    m = da.from_array(land, chunks=(10, 20))
    (holding,) = cells_holding(v, m, [0.75])
    mask = hotspot_mask(v, m, holding)
    calls.clear()
    found = ranked_cells(v, holding.k, land=mask)
    assert len(calls) == v.npartitions == 12
    assert found.flat.size == holding.k


@pytest.mark.parametrize("kind", ["gamma", "ties", "wide", "signed"])
@pytest.mark.parametrize("points", [20, 2000])
def test_curve_points_lie_on_the_in_memory_curve(kind, points):
    values, land = layer(9, shape=(60, 70), kind=kind)
    v, m = lazy(values, land, (13, 17))
    share_land, share_emitted = concentration_points(v, m, points)
    full_land, full_emitted = concentration_curve(values[land])
    rows = np.rint(share_land * land.sum()).astype(int)
    np.testing.assert_allclose(share_land, full_land[rows], rtol=0, atol=1e-15)
    np.testing.assert_allclose(share_emitted, full_emitted[rows], rtol=1e-12, atol=1e-12)
    assert (rows[0], rows[-1]) == (0, land.sum()) and np.all(np.diff(rows) > 0)
    if kind != "signed":  # the bound holds where every value is positive
        between = np.interp(full_land, share_land, share_emitted)
        assert np.abs(between - full_emitted).max() <= 1 / (2 * points)
    if kind == "ties":  # four values: the exact points are the corners of the curve
        assert len(rows) == 5


def test_curve_points_bound_the_sample_size_and_an_empty_land():
    values, land = layer(10, shape=(200, 300), kind="wide")
    v, m = lazy(values, land, 50)
    share_land, _ = concentration_points(v, m, 100)
    assert 100 <= len(share_land) <= 2 * 100 + 2100
    empty = concentration_points(v, da.zeros_like(m), 100)
    np.testing.assert_array_equal(np.concatenate(empty), [0.0, 0.0])
