"""Concentration of emissions over land: pure numpy."""

from __future__ import annotations

import numpy as np


def concentration_curve(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of land against share of emissions, densest cells first.

    Parameters
    ----------
    values : numpy.ndarray
        Emissions of each land cell (any shape; flattened).

    Returns
    -------
    land_share, emission_share : numpy.ndarray
        Both of length ``n + 1`` starting at 0: after the ``j`` densest cells,
        ``land_share[j] = j / n`` and ``emission_share[j]`` is their share.
    """
    flat = np.sort(np.asarray(values, dtype=np.float64).ravel())[::-1]
    total = flat.sum()
    cumulative = np.concatenate([[0.0], np.cumsum(flat)])
    land = np.arange(flat.size + 1) / max(flat.size, 1)
    return land, cumulative / total if total > 0 else np.zeros_like(cumulative)


def land_share_holding(values: np.ndarray, share: float) -> float:
    """Smallest share of land cells that holds ``share`` of the emissions.

    Cells are taken densest first; the result is ``k / n`` for the smallest
    ``k`` whose cells hold at least ``share`` of the total (0 if the total is 0).
    """
    land, emitted = concentration_curve(values)
    if emitted[-1] <= 0:
        return 0.0
    k = int(np.searchsorted(emitted, share * (1 - 1e-12), side="left"))
    return float(land[min(k, land.size - 1)])
