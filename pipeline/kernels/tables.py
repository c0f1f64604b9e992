"""Region tables that the per-cell kernel applies: pure numpy, no I/O."""

from __future__ import annotations

import numpy as np


def inventory_sector_shares(weights: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Consumer shares of one tonne of each inventory sector in each region.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(n_regions, n_inventory, n_mrio)`` weights ``w[r, s, i]`` of MRIO
        sector ``i`` within inventory sector ``s``.
    shares : numpy.ndarray
        ``(n_regions, n_mrio, n_consumers, n_categories)`` attribution shares
        ``X[(r, i), (c, k)] / x[(r, i)]``.

    Returns
    -------
    numpy.ndarray
        ``M[r, s, c, k] = sum_i w[r, s, i] * shares[r, i, c, k]``.
    """
    return np.einsum("rsi,rick->rsck", weights, shares, optimize=True)


def split_outputs(m: np.ndarray, foreign: np.ndarray) -> dict[str, np.ndarray]:
    """Tables for each output cube from ``M[r, s, c, k]``.

    Returns
    -------
    dict
        ``by_consumer (r, s, c)`` summed over categories; ``by_category (r, s, k)``
        and ``foreign (r, s)`` summed over foreign consumers.
    """
    by_category = m[:, :, foreign, :].sum(axis=2)
    return {
        "by_consumer": m.sum(axis=3),
        "by_category": by_category,
        "foreign": by_category.sum(axis=2),
    }


def rows_for_codes(table: np.ndarray, code_rows: np.ndarray) -> np.ndarray:
    """Re-index ``table``'s first axis by ``code_rows``; rows of ``-1`` become zeros."""
    out = np.zeros((code_rows.size, *table.shape[1:]), dtype=table.dtype)
    has = code_rows >= 0
    out[has] = table[code_rows[has]]
    return out
