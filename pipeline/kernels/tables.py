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


def direct_final_demand(
    m: np.ndarray, category_of_sector: np.ndarray, own_consumer: np.ndarray
) -> np.ndarray:
    """Route direct final-demand inventory sectors to each region's own consumer.

    Parameters
    ----------
    m : numpy.ndarray
        ``(n_regions, n_inventory, n_consumers, n_categories)`` shares from
        :func:`inventory_sector_shares`.
    category_of_sector : numpy.ndarray
        ``(n_inventory,)`` int: the final-demand category a sector's emissions go
        to directly, or -1 for an industry sector (left unchanged).
    own_consumer : numpy.ndarray
        ``(n_regions,)`` int: position of each producer region among the
        consumers, or -1 if it has no final-demand column (its direct sectors
        then get all-zero shares, which the caller must refuse if they emit).

    Returns
    -------
    numpy.ndarray
        A copy of ``m`` whose direct sectors are one-hot at
        ``(own_consumer[r], category_of_sector[s])``.
    """
    out = np.array(m, dtype=np.float64, copy=True)
    for s in np.flatnonzero(category_of_sector >= 0):
        out[:, s] = 0.0
        has = np.flatnonzero(own_consumer >= 0)
        out[has, s, own_consumer[has], category_of_sector[s]] = 1.0
    return out


def split_outputs(
    m: np.ndarray, foreign: np.ndarray, home: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Tables for each output cube from ``M[r, s, c, k]``.

    ``home`` (bool per producer region ``r``, default all) limits the foreign
    cubes to the study country's own producer regions: on a grid that reaches
    abroad, a US cell's CO2 driven by US demand is not foreign-driven.

    Returns
    -------
    dict
        ``by_consumer (r, s, c)`` summed over categories; ``by_category (r, s, k)``
        and ``foreign (r, s)`` summed over foreign consumers (zero outside ``home``).
    """
    by_category = m[:, :, foreign, :].sum(axis=2)
    if home is not None:
        by_category = by_category * np.asarray(home, dtype=bool)[:, None, None]
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
