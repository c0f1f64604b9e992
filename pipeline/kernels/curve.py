"""Exact points of the concentration curve from value histograms: pure numpy.

The concentration curve (:func:`pipeline.kernels.concentration.concentration_curve`)
takes the land cells densest first. For any value ``e``, the cells above ``e``
are exactly the leading cells of that order, so the count and sum of the land
values above ``e`` give an exact point of the curve: ``(count / n, sum / total)``.
A histogram over value edges (summed over spatial chunks) thus gives one exact
point per edge, and the sampled curve needs no sort of the cells.

Between two points the cells' values lie in one bin ``(a, b]``; the curve there
is concave with slopes between ``a`` and ``b`` (scaled), so it departs from the
straight line between the points by at most ``c (b - a) / (4 total)`` for ``c``
cells in the bin. :func:`curve_edges` splits each binary-exponent bin (where
``b <= 2a``) into enough linear bins that this is at most ``1 / (2 points)``.
"""

from __future__ import annotations

import numpy as np

from pipeline.kernels.threshold import N_BINS, linear_edges


def curve_edges(counts: np.ndarray, sums: np.ndarray, edges: np.ndarray, points: int) -> np.ndarray:
    """Ascending value edges at which to sample the curve.

    Parameters
    ----------
    counts, sums : numpy.ndarray
        A land histogram over ``edges`` (:func:`pipeline.kernels.threshold.block_histogram`),
        e.g. over :func:`~pipeline.kernels.threshold.exponent_edges`.
    edges : numpy.ndarray
        Its ascending edges.
    points : int
        About how many points the curve should have; each bin ``j`` holding
        ``c_j`` of ``n`` cells and ``s_j`` of the total ``S`` is split into
        ``ceil(points * max(c_j / n, |s_j| / S))`` linear bins (at most
        :data:`~pipeline.kernels.threshold.N_BINS`).

    Returns
    -------
    numpy.ndarray
        Distinct ascending edges starting at 0; at most ``2 * points`` plus the
        number of occupied bins.
    """
    n = max(float(counts.sum()), 1.0)
    total = float(np.abs(sums).sum()) or 1.0
    found = [np.zeros(1)]
    for j in np.flatnonzero(counts[1:-1] > 0):
        low, high = float(edges[j]), float(edges[j + 1])
        parts = int(np.ceil(points * max(counts[j + 1] / n, abs(sums[j + 1]) / total)))
        if not np.isfinite(high):
            found.append(np.array([low]))
            continue
        found.append(linear_edges(low, high, int(np.clip(parts, 1, N_BINS))))
    return np.unique(np.concatenate(found))


def curve_points(counts: np.ndarray, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact curve points of a land histogram, densest first.

    Parameters
    ----------
    counts, sums : numpy.ndarray
        ``(n_edges + 1,)`` land histogram (slot 0 below the first edge, the last
        slot above the last edge).

    Returns
    -------
    land_share, emission_share : numpy.ndarray
        From ``(0, 0)`` to ``(1, 1)``, one point per edge that has cells above
        it, land share strictly increasing (emission shares are 0 if the land
        total is not positive, as in the in-memory curve).
    """
    taken = np.concatenate([[0.0], np.cumsum(counts[::-1])])
    held = np.concatenate([[0.0], np.cumsum(sums[::-1])])
    keep = np.concatenate([[True], np.diff(taken) > 0])
    taken, held = taken[keep], held[keep]
    n, total = taken[-1], held[-1]
    land = taken / n if n > 0 else taken
    return land, held / total if total > 0 else np.zeros_like(held)
