"""Spatial chunk size from a memory budget."""

from __future__ import annotations

import math

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
        A power of two in ``[MIN_CHUNK, MAX_CHUNK]``: chunks then align with the
        256-cell tiles of most GeoTIFFs, the 512-cell blocks the inventory is read
        in (no misaligned rechunk, which measured twice as slow at 1 km) and the
        1,024-cell burn tiles of the region index.
    """
    bytes_per_cell = 8 * n_sectors + itemsize * n_layers_out
    side = math.isqrt(int(budget_mb * 2**20 / max(bytes_per_cell, 1)))
    side = 1 << max(side, 1).bit_length() - 1
    return int(min(max(side, MIN_CHUNK), MAX_CHUNK))
