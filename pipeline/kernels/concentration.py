"""Concentration of emissions over land: pure numpy."""

from __future__ import annotations

import numpy as np


def densest_first(
    values: np.ndarray, cells: np.ndarray | None = None, *, top: int | None = None
) -> np.ndarray:
    """Flat indices of cells, largest value first, ties in cell (row-major) order.

    The one ordering of hotspots and cell rankings.

    Parameters
    ----------
    values : numpy.ndarray
        Layer of any shape (flattened).
    cells : numpy.ndarray, optional
        Increasing flat indices of the cells to order (e.g. the land cells);
        default every cell.
    top : int, optional
        Return only the first ``top`` (the same as the head of the whole
        order); default all.

    Returns
    -------
    numpy.ndarray
        Flat indices into ``values``.

    Notes
    -----
    Peak memory is about 24 bytes per ordered cell on top of ``values``; with
    ``top``, 16 bytes per cell plus the sort of the cells at least as large as
    the ``top``-th largest.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    index = None if cells is None else np.asarray(cells, dtype=np.int64)
    chosen = flat if index is None else flat[index]
    if top is not None and top < chosen.size:
        negated = -chosen
        negated.partition(top - 1)
        keep = np.flatnonzero(~(chosen < -negated[top - 1]))  # NaN sort last, as in full
        del negated
        index = keep if index is None else index[keep]
        chosen = chosen[keep]
    elif index is None:
        index = np.arange(chosen.size)
    return index[np.argsort(-chosen, kind="stable")[:top]]


def cells_holding_share(cumulative: np.ndarray, share: float) -> int:
    """Smallest number of leading cells whose running sum holds ``share`` of the total.

    Parameters
    ----------
    cumulative : numpy.ndarray
        Running sum of the cells' values, densest first (:func:`densest_first`).
    share : float
        In ``(0, 1]``; a relative tolerance of 1e-12 absorbs round-off.

    Returns
    -------
    int
        0 if the total (the last running sum) is not positive.
    """
    total = cumulative[-1] if cumulative.size else 0.0
    if total <= 0:
        return 0
    k = int(np.searchsorted(cumulative / total, share * (1 - 1e-12), side="left")) + 1
    return min(k, cumulative.size)


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
