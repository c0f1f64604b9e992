"""Spatial chunk size from a memory budget."""

from __future__ import annotations

import math

#: Chunk edges are multiples of this (GeoTIFF tiles are usually 256 or 512).
CHUNK_MULTIPLE = 64
MIN_CHUNK = 128
MAX_CHUNK = 4096


def chunk_side(*, n_layers_out: int, n_sectors: int, itemsize: int, budget_mb: float) -> int:
    """Edge of square spatial chunks whose per-task arrays fit ``budget_mb``.

    One task holds the chunk's sector emissions (float64) and its per-cell
    outputs (``n_layers_out`` layers of ``itemsize`` bytes; the run counts them
    with :func:`pipeline.attribution.cube.cell_layers`), so a chunk of
    ``side`` x ``side`` cells needs about
    ``side**2 * (8 * n_sectors + itemsize * n_layers_out)`` bytes.

    Returns
    -------
    int
        A multiple of :data:`CHUNK_MULTIPLE` in ``[MIN_CHUNK, MAX_CHUNK]``.
    """
    bytes_per_cell = 8 * n_sectors + itemsize * n_layers_out
    side = math.isqrt(int(budget_mb * 2**20 / max(bytes_per_cell, 1)))
    side = side // CHUNK_MULTIPLE * CHUNK_MULTIPLE
    return int(min(max(side, MIN_CHUNK), MAX_CHUNK))
