"""Sums over small masked windows (city discs) equal numpy, reading only their chunks."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from pipeline.grid.window_blocks import window_sums


@pytest.fixture(autouse=True)
def synchronous():
    """Small arrays: the synchronous scheduler is several times faster than threads."""
    with dask.config.set(scheduler="sync"):
        yield


def windows_of(shape, seed, n=12):
    """Random windows, some across the last column back to the first (an antimeridian)."""
    rng = np.random.default_rng(seed)
    found = []
    for w in range(n):
        r0, c0 = rng.integers(0, shape[0] - 6), rng.integers(0, shape[1])
        rows = np.arange(r0, r0 + rng.integers(1, 7))
        cols = np.sort((c0 + np.arange(rng.integers(1, 9))) % shape[1])
        mask = rng.random((rows.size, cols.size)) < 0.7
        if w == 0:
            mask[:] = False  # a window without cells sums to 0
        found.append((rows, cols, mask))
    return found


def numpy_sums(values, windows):
    return np.array([values[np.ix_(r, c)][m].sum() for r, c, m in windows])


@pytest.mark.parametrize("chunks", [(40, 50), (7, 9), (1, 50)])
def test_sums_and_counts_equal_numpy(chunks):
    rng = np.random.default_rng(2)
    values = rng.gamma(0.5, 10.0, (40, 50))
    land = rng.random((40, 50)) < 0.5
    windows = windows_of(values.shape, 3)
    assert any(np.any(np.diff(c) > 1) for _, c, _ in windows)  # a wrapped window
    got = window_sums(da.from_array(values, chunks=chunks), windows).compute()
    np.testing.assert_allclose(got, numpy_sums(values, windows), rtol=1e-13)
    assert got[0] == 0.0
    counts = window_sums(da.from_array(land, chunks=chunks), windows, total=True).compute()
    np.testing.assert_array_equal(counts[:-1], numpy_sums(land.astype(int), windows))
    assert counts[-1] == land.sum()


def test_only_the_touched_chunks_are_read_unless_the_total_is_asked():
    values = np.arange(100.0 * 100).reshape(100, 100)
    read = []

    def counted(block, block_info=None):
        read.append(tuple(block_info[0]["chunk-location"]))
        return block

    lazy = da.from_array(values, chunks=25).map_blocks(counted, dtype=float)
    window = (np.arange(20, 30), np.arange(60, 63), np.ones((10, 3), bool))
    (got,) = window_sums(lazy, [window]).compute()
    assert got == values[20:30, 60:63].sum()
    assert sorted(read) == [(0, 2), (1, 2)]
    read.clear()
    got = window_sums(lazy, [window], total=True).compute()
    assert len(read) == 16 and got[-1] == values.sum()
    assert window_sums(lazy, []).compute().size == 0
