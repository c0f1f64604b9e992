"""Dask layer of the result write: one task per spatial chunk, two outputs.

:func:`write_layers` maps :func:`pipeline.kernels.write_pass.write_chunk` over
the spatial chunks. Each task returns the chunk's stored layers *and* its
conservation terms; the two lazy arrays returned here select from the same
tasks, so computing the write and the check together runs each chunk's kernel
once and reads each inventory chunk once.
"""

from __future__ import annotations

import hashlib
import pickle

import dask
import dask.array as da
import numpy as np

from pipeline.kernels.write_pass import TERMS, WriteTables, write_chunk


def write_layers(
    emissions: da.Array, region_index: da.Array, tables: WriteTables, *, dtype=np.float64
) -> tuple[da.Array, da.Array]:
    """Lazy stored layers and conservation terms (summed over chunks; maxima for errors).

    Returns
    -------
    layers : dask.array.Array
        ``(n_stored + n_sectors, ny, nx)`` (see :func:`write_chunk`).
    terms : dask.array.Array
        ``(len(TERMS) + n_consumers,)``: the largest errors over chunks, the summed
        inventory total and per-consumer totals.
    """
    dtype = np.dtype(dtype)
    emissions = emissions.rechunk({0: -1})
    n_layers = tables.stored.shape[2] + emissions.shape[0]
    n_terms = len(TERMS) + tables.by_consumer.shape[2]
    packed = da.blockwise(
        _packed_chunk,
        "yx",
        emissions,
        "syx",
        region_index,
        "yx",
        shared_tables(tables),
        None,
        concatenate=True,
        dtype=object,
        meta=np.empty((0, 0), dtype=object),
        dt=dtype,
    )
    layers = packed.map_blocks(
        _layers_of,
        new_axis=0,
        chunks=((n_layers,), *emissions.chunks[1:]),
        dtype=dtype,
        meta=np.empty((0, 0, 0), dtype=dtype),
    )
    per_chunk = packed.map_blocks(
        _terms_of,
        new_axis=2,
        chunks=(*[(1,) * len(c) for c in emissions.chunks[1:]], (n_terms,)),
        dtype=np.float64,
        meta=np.empty((0, 0, 0)),
    )
    return layers, _reduce_terms(per_chunk)


def shared_tables(tables):
    """The tables as one delayed object named by their content: shipped once per worker."""
    digest = hashlib.sha1(pickle.dumps(tables), usedforsecurity=False).hexdigest()
    return dask.delayed(tables, name=f"write-tables-{digest}", traverse=False)


def _packed_chunk(e, idx, tables, dt):
    return [write_chunk(e, idx, tables, dt)]


def _layers_of(packed) -> np.ndarray:
    return packed[0][0]


def _terms_of(packed) -> np.ndarray:
    return packed[0][1][None, None, :]


def _reduce_terms(per_chunk: da.Array) -> da.Array:
    """Maxima of the error terms, sums of the totals (NaN propagates)."""
    n_max = 2
    maxima = per_chunk[:, :, :n_max].max(axis=(0, 1))
    sums = per_chunk[:, :, n_max:3].sum(axis=(0, 1))
    more = per_chunk[:, :, 3:5].max(axis=(0, 1))
    totals = per_chunk[:, :, len(TERMS) :].sum(axis=(0, 1))
    return da.concatenate([maxima, sums, more, totals])
