"""The write pass over chunks equals one whole-grid kernel call, each chunk computed once."""

from __future__ import annotations

import tempfile
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from helpers.write_tables import grid, tables

import pipeline.grid.write_blocks as write_blocks
from pipeline.kernels.write_pass import TERMS, write_chunk


@pytest.mark.parametrize("chunks", [(9, 13), (4, 5), (1, 13)])
def test_chunking_invariance(chunks):
    e, idx = grid()
    t = tables()
    layers, terms = write_blocks.write_layers(
        da.from_array(e, chunks=(1, *chunks)), da.from_array(idx, chunks=chunks), t
    )
    whole_layers, whole_terms = write_chunk(e, idx, t, np.dtype("float64"))
    got_layers, got_terms = dask.compute(layers, terms)
    np.testing.assert_allclose(got_layers, whole_layers, rtol=1e-14)  # BLAS tiles differ
    n = len(TERMS)
    # the error terms are rounding noise (a few ulps of cells of ~100 t); the totals agree
    np.testing.assert_allclose(got_terms[:n], whole_terms[:n], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got_terms[n:], whole_terms[n:], rtol=1e-13)
    assert got_terms[0] < 1e-12 and got_terms[1] < 1e-14
    assert got_terms.shape == (len(TERMS) + t.by_consumer.shape[2],)


def test_write_and_check_run_each_chunk_once(monkeypatch):
    calls = []
    original = write_blocks.write_chunk

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(write_blocks, "write_chunk", counting)
    e, idx = grid()
    layers, terms = write_blocks.write_layers(
        da.from_array(e, chunks=(1, 4, 5)), da.from_array(idx, chunks=(4, 5)), tables()
    )
    ds = xr.Dataset({"a": (("q", "y", "x"), layers[:2]), "b": (("y", "x"), layers[2])})
    store = Path(tempfile.mkdtemp()) / "s.zarr"
    write = ds.to_zarr(store, compute=False, zarr_format=3, consolidated=False)
    dask.compute(write, terms, scheduler="threads")
    assert len(calls) == int(np.prod(layers.numblocks))
