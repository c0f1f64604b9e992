"""Per-cell kernels: numpy oracle, dask path over uneven chunks, laziness."""

import dask
import dask.array as da
import numpy as np
import pytest
from helpers.lazy import ComputeTriggered, forbid_compute
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.grid import blocks
from pipeline.kernels import cells


def brute_force(emissions, region_index, tables):
    """Per-cell loop: the definition, for tiny inputs only."""
    n_out = tables.shape[2]
    _, ny, nx = emissions.shape
    out = np.zeros((n_out, ny, nx))
    for y in range(ny):
        for x in range(nx):
            r = region_index[y, x]
            if r >= 0:
                out[:, y, x] = emissions[:, y, x] @ tables[r]
    return out


def test_hand_computed_cells():
    # Two sectors, two regions, one output row per consumer (A, B).
    emissions = np.array([[[1.0, 2.0]], [[10.0, 0.0]]])  # (s=2, y=1, x=2)
    region_index = np.array([[0, 1]])
    tables = np.array(
        [
            [[0.5, 0.5], [0.1, 0.9]],  # region 0: sector 0 -> A/B 50/50, sector 1 -> 10/90
            [[1.0, 0.0], [0.0, 1.0]],  # region 1
        ]
    )
    out = cells.apply_region_tables(emissions, region_index, tables)
    # cell 0: A = 1*0.5 + 10*0.1 = 1.5; B = 1*0.5 + 10*0.9 = 9.5
    # cell 1: A = 2*1.0 = 2.0; B = 0
    np.testing.assert_allclose(out[:, 0, :], [[1.5, 2.0], [9.5, 0.0]], rtol=0, atol=1e-15)


def test_outside_cells_get_zero_and_totals_keep_them():
    emissions = np.ones((1, 2, 2))
    region_index = np.array([[0, -1], [-1, 0]])
    tables = np.ones((1, 1, 3))
    assert cells.apply_region_tables(emissions, region_index, tables)[:, 0, 1].sum() == 0
    totals = cells.region_sector_totals(emissions, region_index, 1)
    np.testing.assert_array_equal(totals, [[2.0], [2.0]])


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6)),
    n_regions=st.integers(1, 4),
    n_out=st.integers(1, 5),
)
def test_kernel_matches_per_cell_loop(data, shape, n_regions, n_out):
    floats = st.floats(0, 1e6, allow_nan=False)
    emissions = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    region_index = data.draw(
        hnp.arrays(np.int64, shape[1:], elements=st.integers(-1, n_regions - 1))
    )
    tables = data.draw(
        hnp.arrays(np.float64, (n_regions, shape[0], n_out), elements=st.floats(0, 1))
    )
    got = cells.apply_region_tables(emissions, region_index, tables)
    np.testing.assert_allclose(
        got, brute_force(emissions, region_index, tables), rtol=1e-12, atol=1e-9
    )


@settings(max_examples=30, deadline=None)
@given(data=st.data(), n_regions=st.integers(1, 4))
def test_shares_summing_to_one_conserve_each_cell(data, n_regions):
    shape = (3, 5, 4)
    emissions = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1e3)))
    region_index = data.draw(
        hnp.arrays(np.int64, shape[1:], elements=st.integers(0, n_regions - 1))
    )
    raw = data.draw(hnp.arrays(np.float64, (n_regions, 3, 6), elements=st.floats(0.01, 1)))
    tables = raw / raw.sum(axis=2, keepdims=True)
    out = cells.apply_region_tables(emissions, region_index, tables)
    np.testing.assert_allclose(out.sum(axis=0), emissions.sum(axis=0), rtol=1e-12, atol=1e-9)


@pytest.fixture(scope="module")
def grid_case():
    rng = np.random.default_rng(7)
    emissions = rng.gamma(0.5, 10.0, (4, 53, 71))
    region_index = rng.integers(-1, 6, (53, 71))
    tables = rng.random((6, 4, 9))
    return emissions, region_index, tables


CHUNKINGS = [(53, 71), (10, 17), (7, 70), (1, 71), (20, 1)]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_dask_equals_numpy_for_uneven_chunks(grid_case, chunks):
    emissions, region_index, tables = grid_case
    expected = cells.apply_region_tables(emissions, region_index, tables)
    lazy = blocks.apply_region_tables(
        da.from_array(emissions, chunks=(2, *chunks)),
        da.from_array(region_index, chunks=chunks),
        tables,
    )
    # BLAS may round the last bit differently for different block widths.
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_dask_totals_equal_numpy(grid_case, chunks):
    emissions, region_index, tables = grid_case
    e = da.from_array(emissions, chunks=(4, *chunks))
    r = da.from_array(region_index, chunks=chunks)
    np.testing.assert_allclose(
        blocks.region_sector_totals(e, r, 6).compute(scheduler="sync"),
        cells.region_sector_totals(emissions, region_index, 6),
        rtol=1e-12,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_output_per_task_selects_one_layer(grid_case, dtype):
    emissions, region_index, tables = grid_case
    lazy = blocks.apply_region_tables(
        da.from_array(emissions, chunks=(2, 5, 7)),
        da.from_array(region_index, chunks=(5, 7)),
        tables,
        dtype=dtype,
        out_chunk=1,
    )
    assert lazy.numblocks[0] == tables.shape[2]
    one = lazy[2]
    (culled,) = dask.optimize(one)
    assert len(culled.__dask_graph__()) < len(lazy.__dask_graph__()) / 2
    got = one.compute(scheduler="sync")
    assert got.dtype == np.dtype(dtype)
    expected = cells.apply_region_tables(emissions, region_index, tables)[2]
    np.testing.assert_allclose(got, expected, rtol=1e-13 if dtype == "float64" else 1e-6)


def test_building_the_graph_computes_nothing(grid_case):
    emissions, region_index, tables = grid_case
    with forbid_compute():
        e = da.from_array(emissions, chunks=(4, 10, 10))
        r = da.from_array(region_index, chunks=(10, 10))
        lazy = blocks.apply_region_tables(e, r, tables)
        blocks.region_sector_totals(e, r, 6)
        with pytest.raises(ComputeTriggered):
            lazy.sum().compute()


def test_tables_enter_the_graph_once(grid_case):
    emissions, region_index, tables = grid_case
    lazy = blocks.apply_region_tables(
        da.from_array(emissions, chunks=(4, 10, 10)),
        da.from_array(region_index, chunks=(10, 10)),
        tables,
    )
    graph = dict(lazy.__dask_graph__())
    table_keys = [
        k for k in graph if isinstance(k, tuple) and str(k[0]).startswith("region-tables")
    ]
    assert len(table_keys) == 1


@pytest.mark.parametrize("block", [1, 3, 40])
def test_runs_and_grouped_paths_agree_with_the_loop(block):
    rng = np.random.default_rng(block)
    coarse = rng.integers(-1, 5, (6, 6))
    region_index = np.kron(coarse, np.ones((block, block), dtype=np.int64))[:50, :45]
    emissions = rng.random((3, *region_index.shape))
    tables = rng.random((5, 3, 4))
    expected = brute_force(emissions, region_index, tables)
    got = cells.apply_region_tables(emissions, region_index, tables)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    flat_e, flat_r = emissions.reshape(3, -1), region_index.ravel()
    per_region = np.ascontiguousarray(tables.transpose(0, 2, 1))
    starts = np.flatnonzero(flat_r[1:] != flat_r[:-1]) + 1
    for path in (
        cells._runs(flat_e, flat_r, per_region, starts, np.full((4, flat_r.size), np.nan)),
        cells._grouped(flat_e, flat_r, per_region, np.full((4, flat_r.size), np.nan)),
    ):
        np.testing.assert_allclose(path.reshape(expected.shape), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block", [1, 3, 40])
def test_region_sector_totals_and_scaling_equal_the_cell_loop(block):
    """Run-wise sums (long runs) and bincounts (speckle) both equal adding cell by cell."""
    rng = np.random.default_rng(10 + block)
    coarse = rng.integers(-1, 5, (6, 6))
    region_index = np.kron(coarse, np.ones((block, block), dtype=np.int64))[:50, :45]
    emissions = rng.gamma(0.5, 10.0, (3, *region_index.shape))
    expected = np.zeros((6, 3))
    np.add.at(expected, np.where(region_index < 0, 5, region_index), np.moveaxis(emissions, 0, -1))
    got = cells.region_sector_totals(emissions, region_index, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    factors = rng.random((5, 3))
    scaled = emissions * np.moveaxis(factors[np.where(region_index < 0, 0, region_index)], -1, 0)
    scaled[:, region_index < 0] = 0.0
    np.testing.assert_array_equal(cells.scale_by_region(emissions, region_index, factors), scaled)


def test_float32_tables_give_float32_cells(grid_case):
    emissions, region_index, tables = grid_case
    got = cells.apply_region_tables(
        emissions.astype(np.float32), region_index, tables.astype(np.float32)
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(
        got, cells.apply_region_tables(emissions, region_index, tables), rtol=1e-5
    )


def test_runs_longer_than_a_tile():
    rng = np.random.default_rng(3)
    region_index = np.zeros((40, 90), dtype=np.int64)
    region_index[25:, 60:] = 1  # runs of 3,600 and fewer cells, several tiles long
    emissions = rng.random((2, 40, 90))
    tables = rng.random((2, 2, 3))
    assert region_index.size > 2 * cells.TILE
    np.testing.assert_allclose(
        cells.apply_region_tables(emissions, region_index, tables),
        brute_force(emissions, region_index, tables),
        rtol=1e-12,
    )


def test_out_buffer_is_filled_completely(grid_case):
    emissions, region_index, tables = grid_case
    for index in (region_index, np.kron(region_index[:5, :5], np.ones((11, 15), int))[:53, :71]):
        buffer = np.full((tables.shape[2], *index.shape), np.nan)
        got = cells.apply_region_tables(emissions, index, tables, out=buffer)
        assert got.base is buffer or got is buffer
        np.testing.assert_array_equal(buffer, cells.apply_region_tables(emissions, index, tables))
