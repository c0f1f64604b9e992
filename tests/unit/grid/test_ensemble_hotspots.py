"""Each realization's hotspot thresholds and the per-cell hotspot counts, against the sort.

The oracle computes every realization's whole layer in memory and takes its
hotspot cells with the in-memory rule (:mod:`pipeline.kernels.concentration`);
the Dask path never holds a realization's grid.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from pipeline.grid.ensemble_blocks import hotspot_frequency, realization_holdings
from pipeline.kernels.cells import apply_region_tables
from pipeline.kernels.concentration import cells_holding_share, densest_first, land_share_holding


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="sync"):
        yield


def _case(seed: int, ties: bool):
    rng = np.random.default_rng(seed)
    shape = (23, 31)
    if ties:  # few distinct values: many tied cells, some taken, some not
        emissions = rng.integers(0, 4, (2, *shape)).astype(float)
        tables = rng.integers(1, 3, (7, 4, 2, 1)).astype(float)
    else:
        emissions = rng.gamma(0.4, 10.0, (2, *shape)) * (rng.random((2, *shape)) < 0.8)
        tables = rng.uniform(0.2, 1.0, (7, 4, 2, 1))
    index = rng.integers(-1, 4, shape)
    land = (index >= 0) & (index != 2)
    return emissions, index, land, tables


def _hot(layer, land, share):
    order = densest_first(layer, np.flatnonzero(land.ravel()))
    k = cells_holding_share(np.cumsum(layer.ravel()[order]), share)
    mask = np.zeros(layer.size, bool)
    mask[order[:k]] = True
    return mask.reshape(layer.shape)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("chunks", [(23, 31), (7, 9), (5, 31)])
def test_land_shares_and_counts_equal_the_in_memory_rule(ties, chunks):
    emissions, index, land, tables = _case(4, ties)
    e = da.from_array(emissions, chunks=(1, *chunks))
    idx = da.from_array(index, chunks=chunks)
    lnd = da.from_array(land, chunks=chunks)
    found = realization_holdings(e, idx, lnd, tables, [0.75, 0.9])
    counts = hotspot_frequency(e, idx, lnd, tables, found).compute()
    expected = np.zeros(index.shape, dtype=np.int64)
    for j, table in enumerate(tables):
        layer = apply_region_tables(emissions, index, table)[0]
        for i, share in enumerate((0.75, 0.9)):
            assert found.holdings[j][i].land_share == land_share_holding(layer[land], share)
        expected += _hot(layer, land, 0.75)
    assert counts.dtype == np.uint16
    np.testing.assert_array_equal(counts, expected)
    assert counts[~land].max() == 0 and 0 < counts.max() <= len(tables)
    if ties:
        assert (found.last_ties >= 0).any()  # some realization takes only some tied cells
