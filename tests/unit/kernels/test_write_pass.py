"""The fused write kernel: stored layers and conservation terms of one chunk."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers.write_tables import K, grid, tables

from pipeline.kernels.cells import apply_region_tables
from pipeline.kernels.write_pass import TERMS, write_chunk


def test_layers_are_the_tables_applied_cell_by_cell():
    t = tables()
    e, idx = grid()
    layers, terms = write_chunk(e, idx, t, np.dtype("float64"))
    safe = np.where(idx < 0, 0, idx)
    inside = (idx >= 0)[None]
    expected_stored = np.einsum("syx,yxsq->qyx", e, t.stored[safe]) * inside
    expected_sector = e * np.moveaxis(t.foreign[safe], -1, 0) * inside
    np.testing.assert_allclose(layers[: K + 1], expected_stored, rtol=1e-14)
    np.testing.assert_allclose(layers[K + 1 :], expected_sector, rtol=1e-14)
    per_consumer = np.einsum("syx,yxsc->c", e, t.by_consumer[safe] * inside[0][..., None, None])
    np.testing.assert_allclose(terms[len(TERMS) :], per_consumer, rtol=1e-13)
    producer_cells = np.isin(idx, [0, 1, 3])
    assert terms[2] == pytest.approx(e.sum(axis=0)[producer_cells].sum(), rel=1e-14)
    assert terms[0] < 1e-12 and terms[1] < 1e-14  # consumers add up to every cell
    assert terms[3] < 1e-12 and terms[4] < 1e-12


def test_a_table_that_loses_one_percent_shows_in_every_cell_term():
    e, idx = grid()
    _, terms = write_chunk(e, idx, tables(conserving=False), np.dtype("float64"))
    assert terms[1] == pytest.approx(0.01, rel=1e-9)


def test_a_stored_foreign_layer_off_by_one_percent_fails_every_cell():
    t = tables()
    wrong = t.stored.copy()
    wrong[:, :, K] *= 1.01
    e, idx = grid()
    _, terms = write_chunk(e, idx, dataclasses.replace(t, stored=wrong), np.dtype("float64"))
    foreign = np.einsum("syx,yxs->yx", e, t.foreign[np.where(idx < 0, 0, idx)])
    held = e.sum(axis=0)
    inside = np.isin(idx, [0, 1, 3])
    assert terms[1] == pytest.approx((0.01 * foreign / held)[inside].max(), rel=1e-9)


def test_consumer_totals_are_the_sums_of_their_layers_for_any_region_map():
    rng = np.random.default_rng(3)
    e = rng.gamma(0.5, 10.0, (3, 31, 7))
    idx = np.repeat(rng.integers(-1, 4, (31, 1)), 7, axis=1)  # long runs and speckle
    idx[::3] = rng.integers(-1, 4, (11, 7))
    t = tables()
    _, terms = write_chunk(e, idx, t, np.dtype("float64"))
    layers = apply_region_tables(e, idx, t.by_consumer)
    np.testing.assert_allclose(terms[len(TERMS) :], layers.sum(axis=(1, 2)), rtol=1e-13)


def test_without_the_by_sector_cube_only_the_stored_layers_are_returned():
    t = tables()
    e, idx = grid()
    full, terms = write_chunk(e, idx, t, np.dtype("float64"))
    alone, alone_terms = write_chunk(
        e, idx, dataclasses.replace(t, by_sector=False), np.dtype("float64")
    )
    np.testing.assert_array_equal(alone, full[: K + 1])
    assert alone_terms[3] == 0.0
    np.testing.assert_array_equal(np.delete(alone_terms, 3), np.delete(terms, 3))


def test_nan_emissions_make_the_terms_nan():
    e, idx = grid()
    idx[3, 4] = 0
    e[1, 3, 4] = np.nan
    terms = write_chunk(e, idx, tables(), np.dtype("float64"))[1]
    assert np.isnan(terms[0]) and np.isnan(terms[1])


def test_float32_layers():
    e, idx = grid()
    layers, _ = write_chunk(e, idx, tables(), np.dtype("float32"))
    assert layers.dtype == np.float32
