"""Exact "fewest cells holding a share" without sorting every cell: pure numpy.

The rule (:func:`pipeline.kernels.concentration.land_share_holding`): take the
land cells densest first; ``k`` is the smallest count whose sum reaches
``share * (1 - 1e-12)`` of the land total. In memory that is one sort of every
land cell. Here the same ``k`` comes from small histograms that chunks of the
grid compute independently (see :mod:`pipeline.grid.threshold_blocks`):

1. One pass bins every positive land value by its binary exponent (exact, 2,100
   bins) and sums the land total. The bin where the running sum, from the top,
   crosses the target holds the threshold value.
2. While that bin holds more than a budget of cells, a pass splits it into
   linear bins and keeps the crossing one.
3. A last pass gathers the values of that bin; they are sorted in memory and the
   crossing cell gives ``k``, the threshold value and how many cells tied with it
   are taken.

Only positive values can hold the crossing: the sum of the positive values is at
least the land total, so the running sum reaches the target before any zero or
negative cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Slack of the crossing test, as in the in-memory rule.
SLACK = 1e-12
#: Linear bins per refinement pass.
N_BINS = 4096


def exponent_edges() -> np.ndarray:
    """Ascending edges ``0, 2**-1074, ..., 2**1023, inf``: one bin per binary exponent."""
    powers = np.ldexp(1.0, np.arange(-1074, 1024))
    return np.concatenate([[0.0], powers, [np.inf]])


def linear_edges(low: float, high: float, n_bins: int = N_BINS) -> np.ndarray:
    """Ascending edges splitting ``(low, high]`` into at most ``n_bins`` bins.

    Edges are distinct floats; a bin too narrow to split holds a single value.
    """
    edges = np.unique(np.linspace(low, high, n_bins + 1))
    edges[0], edges[-1] = low, high
    return edges


def block_histogram(
    values: np.ndarray, land: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and sums of land values per bin of ``edges``.

    Parameters
    ----------
    values : numpy.ndarray
        A block of the layer.
    land : numpy.ndarray
        Same shape, bool.
    edges : numpy.ndarray
        ``(n + 1,)`` ascending; bin ``j`` is ``(edges[j], edges[j + 1]]``.

    Returns
    -------
    counts, sums : numpy.ndarray
        ``(n + 2,)`` each: slot 0 holds the values ``<= edges[0]``, slot
        ``j + 1`` bin ``j``, slot ``n + 1`` the values above ``edges[-1]``.
    """
    picked = np.asarray(values, dtype=np.float64)[np.asarray(land, dtype=bool)]
    slots = np.searchsorted(edges, picked, side="left")
    n = edges.size + 1
    counts = np.bincount(slots, minlength=n).astype(np.float64)
    sums = np.bincount(slots, weights=picked, minlength=n)
    return counts, sums


@dataclass(frozen=True)
class Bracket:
    """Where the crossing of one share lies after a pass.

    Attributes
    ----------
    low, high : float
        The crossing lies in a value bin ``(low, high]``.
    above_count, above_sum : float
        Count and sum of the land values above ``high``.
    count : float
        Land values inside the bin.
    """

    low: float
    high: float
    above_count: float
    above_sum: float
    count: float


def crossing_bin(
    counts: np.ndarray, sums: np.ndarray, edges: np.ndarray, share: float, total: float
) -> Bracket:
    """The bin of ``edges`` in which the running sum from the top reaches the target.

    ``counts`` and ``sums`` come from :func:`block_histogram`, summed over the
    blocks of the layer; the slot above the last edge is the sum above the bin.
    """
    inner_counts, inner_sums = counts[1:-1][::-1], sums[1:-1][::-1]
    running = (sums[-1] + np.cumsum(inner_sums)) / total
    reached = running >= share * (1 - SLACK)
    hit = int(np.argmax(reached)) if reached.any() else inner_sums.size - 1
    j = edges.size - 2 - hit  # the bin's position in ascending order
    return Bracket(
        low=float(edges[j]),
        high=float(edges[j + 1]),
        above_count=float(counts[-1] + inner_counts[:hit].sum()),
        above_sum=float(sums[-1] + inner_sums[:hit].sum()),
        count=float(inner_counts[hit]),
    )


def can_split(bracket: Bracket) -> bool:
    """Whether the bracket's bin holds more than one float value."""
    return bool(np.nextafter(bracket.low, np.inf) < bracket.high)


def finish(
    bracket_values: np.ndarray, bracket: Bracket, share: float, total: float
) -> tuple[int, float, int, int]:
    """The exact crossing from the gathered values of the bracket.

    Returns
    -------
    k : int
        Cells holding ``share`` (the in-memory rule's count).
    threshold : float
        The value of the ``k``-th densest cell.
    ties_taken, ties_total : int
        Cells of value ``threshold`` among the first ``k``, and on all land.
    """
    ordered = np.sort(np.asarray(bracket_values, dtype=np.float64))[::-1]
    reached = (bracket.above_sum + np.cumsum(ordered)) / total >= share * (1 - SLACK)
    j = int(np.argmax(reached)) if reached.any() else ordered.size - 1
    threshold = float(ordered[j])
    ties_total = int(np.count_nonzero(ordered == threshold))
    ties_taken = int(np.count_nonzero(ordered[: j + 1] == threshold))
    return int(bracket.above_count) + j + 1, threshold, ties_taken, ties_total


def finish_tied(bracket: Bracket, share: float, total: float) -> tuple[int, float, int, int]:
    """:func:`finish` for a bin that holds one value only (every cell in it ties).

    Used when the tied cells are too many to gather; the count of them needed
    is found arithmetically.
    """
    value, count = bracket.high, int(bracket.count)
    goal = share * (1 - SLACK)

    def reached(j: int) -> bool:
        return (bracket.above_sum + (j + 1) * value) / total >= goal

    j = int(np.clip(np.ceil((goal * total - bracket.above_sum) / value) - 1, 0, count - 1))
    while j > 0 and reached(j - 1):
        j -= 1
    while j < count - 1 and not reached(j):
        j += 1
    return int(bracket.above_count) + j + 1, value, j + 1, count


def holding_mask(
    values: np.ndarray,
    land: np.ndarray,
    threshold: float,
    last_tie: int | None,
    flat: np.ndarray,
) -> np.ndarray:
    """The cells of a block among the ``k`` densest land cells of a layer.

    The one rule of a hotspot cell: a land cell above the ``k``-th value
    ``threshold``, or equal to it and, when only some tied cells are taken, at or
    before the last one taken in row-major order.

    Parameters
    ----------
    values, land : numpy.ndarray
        A block of the layer and its bool land mask.
    threshold : float
        The ``k``-th densest value (``inf`` when ``k`` is 0: no cell).
    last_tie : int or None
        Flat index (in the whole layer) of the last tied cell taken; None when
        every tied cell is taken.
    flat : numpy.ndarray
        The flat indices of the block's cells in the whole layer (broadcastable).

    Returns
    -------
    numpy.ndarray
        Bool, the block's shape.
    """
    values = np.asarray(values, dtype=np.float64)
    land = np.asarray(land, dtype=bool)
    if threshold == np.inf:
        return np.zeros(values.shape, dtype=bool)
    tied = values == threshold
    if last_tie is not None:
        tied &= flat <= last_tie
    return land & ((values > threshold) | tied)
