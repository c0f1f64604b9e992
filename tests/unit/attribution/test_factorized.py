"""Cubes computed on read equal the ones the write pass stores (factorized store)."""

from __future__ import annotations

import dataclasses

import dask
import numpy as np
import pytest
from helpers.small_store import CRSES, cube_inputs

from pipeline.attribution.cube import build_cube
from pipeline.attribution.factorized import with_footprint

FOREIGN_CUBES = ["footprint_by_category", "footprint_by_sector"]


@pytest.fixture(params=sorted(CRSES))
def inputs(request):
    made = cube_inputs(*CRSES[request.param])
    index = made.region_index.values.copy()
    index[0, 0], index[3, 5], index[2, 1] = -1, -1, 1  # cells outside, a speckled region
    # producer A is the home region, B a region abroad (not foreign-driven on the map)
    shares = made.shares.assign_coords(consumer=["A", "C", "USA"])
    return dataclasses.replace(
        made,
        region_index=made.region_index.copy(data=index).chunk({"y": 2, "x": 3}),
        shares=shares,
    )


def test_computed_foreign_cubes_equal_the_stored_ones(inputs):
    stored = build_cube(inputs).ds
    computed = with_footprint(stored.drop_vars(FOREIGN_CUBES))
    for name in FOREIGN_CUBES:
        a, b = dask.compute(stored[name], computed[name])
        assert a.dims == b.dims and a.attrs == b.attrs
        np.testing.assert_allclose(b.values, a.values, rtol=1e-12, atol=0)
    # region B is abroad: its cells hold no foreign-driven CO2, though USA drives some
    b_cells = inputs.region_index.values == 1
    assert computed["footprint_by_sector"].values[:, b_cells].max() == 0.0
    assert stored["foreign_footprint"].values[inputs.region_index.values == 0].min() > 0


def test_a_lean_cube_stores_the_foreign_total_and_extra_layers_only(inputs):
    full = build_cube(inputs)
    extra = np.array([[2.0, 0.5], [3.0, 7.0]])  # (region, sector)
    lean = build_cube(inputs, by_cells=False, extra={"doubled": extra})
    assert not set(FOREIGN_CUBES) & set(lean.ds.data_vars)
    a, b, terms_full, terms_lean = dask.compute(
        full.ds["foreign_footprint"], lean.ds, full.terms, lean.terms
    )
    np.testing.assert_array_equal(b["foreign_footprint"].values, a.values)
    e, idx = inputs.emissions.values, inputs.region_index.values
    expected = np.einsum("syx,yxs->yx", e, extra[np.where(idx < 0, 0, idx)]) * (idx >= 0)
    np.testing.assert_allclose(b["doubled"].values, expected, rtol=1e-14)
    # the same checks of every cell and every consumer; no by-sector or -category cube
    np.testing.assert_array_equal(np.delete(terms_lean, [3, 4]), np.delete(terms_full, [3, 4]))
    assert terms_lean[3] == terms_lean[4] == 0.0
