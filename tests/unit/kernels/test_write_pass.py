"""The fused write kernel: stored layers and conservation terms of one chunk."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.write_tables import K, grid, tables

from pipeline.kernels import write_pass
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


@pytest.mark.parametrize("strip", [1, 13, 40, 1 << 22])
def test_strips_do_not_change_the_terms(monkeypatch, strip):
    e, idx = grid(shape=(17, 8))
    baseline = write_chunk(e, idx, tables(), np.dtype("float64"))[1]
    monkeypatch.setattr(write_pass, "STRIP_VALUES", strip)
    np.testing.assert_allclose(write_chunk(e, idx, tables(), np.dtype("float64"))[1], baseline)


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
