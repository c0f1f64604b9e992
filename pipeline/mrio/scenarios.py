"""Final-demand scenarios of an MRIO: the columns of ``Y`` they change, and their solve.

A :class:`DemandShock` scales what some consumers buy from some origins, in one
or all final-demand categories, by a factor; with ``divert_to``, the demand it
removes (or adds) goes to (or comes from) other origins instead, product by
product, in proportion to what each consumer's column buys of that product
from each of them. Each column's total final demand is then kept.

Intensities ``f = F / x`` and the technical coefficients stay those of the
baseline, so the scenario's output is ``X' = X + L dY`` with ``L = (I - A)^-1``
and ``dY = Y' - Y`` nonzero only in the changed columns: the engine's factor of
``I - A`` (:class:`pipeline.mrio.engine.FactoredTable`) solves just those.
Because ``dY`` is formed as ``Y' - Y``, a factor of 1 gives ``dY = 0`` exactly,
and factors 0 and 0.5 give exactly ``-Y`` and ``-Y / 2`` on the shocked entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, format_label
from pipeline.kernels.leontief import inverse_output, shares
from pipeline.mrio.model import MRIO


@dataclass(frozen=True)
class DemandShock:
    """Scale what ``consumers`` buy from ``origins`` in ``categories`` by ``factor``.

    Attributes
    ----------
    consumers, origins, categories : tuple of str
        Final-demand regions, producing regions and categories of the table.
    factor : float
        ``>= 0``; 1 changes nothing.
    divert_to : tuple of str
        Producing regions that take over the removed demand (none: it is lost).
    """

    consumers: tuple[str, ...]
    origins: tuple[str, ...]
    categories: tuple[str, ...]
    factor: float
    divert_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemandChange:
    """The changed final-demand columns of a scenario.

    Attributes
    ----------
    columns : numpy.ndarray
        Positions in ``fd_columns`` of the columns whose ``Y`` changed.
    delta : numpy.ndarray
        ``(n, len(columns))``: ``Y' - Y`` of those columns.
    """

    columns: np.ndarray
    delta: np.ndarray


def apply_shock(mrio: MRIO, Y: np.ndarray, shock: DemandShock) -> None:
    """Apply ``shock`` to the final demand ``Y`` (``(n, m)``, changed in place).

    Raises
    ------
    ConfigError
        If the consumers buy nothing from the origins in those categories (the
        shock matches nothing), if a diverted product has no producer among
        ``divert_to``, or if diverting would turn a purchase negative.
    """
    rows = np.flatnonzero(mrio.rows.get_level_values(0).isin(shock.origins))
    fd = mrio.fd_columns
    cols = np.flatnonzero(
        fd.get_level_values(0).isin(shock.consumers) & fd.get_level_values(1).isin(shock.categories)
    )
    block = Y[np.ix_(rows, cols)]
    if not np.any(block != 0):
        raise ConfigError(
            f"consumer(s) {list(shock.consumers)} buy nothing from {list(shock.origins)} in "
            f"categories {list(shock.categories)}, so the shock changes nothing; check "
            "consumer, products_of and category"
        )
    Y[np.ix_(rows, cols)] = shock.factor * block
    if shock.divert_to:
        _divert(mrio, Y, rows, cols, block - Y[np.ix_(rows, cols)], shock.divert_to)


def _divert(
    mrio: MRIO,
    Y: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    removed: np.ndarray,
    divert_to: Sequence[str],
) -> None:
    """Add each product's ``removed`` demand (per column) to the ``divert_to`` rows."""
    sector = mrio.rows.get_level_values(1)
    targets = mrio.rows.get_level_values(0).isin(divert_to)
    for product in dict.fromkeys(sector[rows]):
        amount = removed[np.asarray(sector[rows] == product)].sum(axis=0)
        if not np.any(amount):
            continue
        to = np.flatnonzero(targets & (sector == product))
        if to.size == 0:
            raise ConfigError(
                f"divert_to {list(divert_to)} has no producer of {product!r}, so the demand "
                "removed for it has nowhere to go; add an origin that produces it"
            )
        weights = _diversion_weights(mrio, Y, to, cols)
        before = Y[np.ix_(to, cols)]
        after = before + weights * amount[None, :]
        if np.any((after < 0) & (before >= 0)):
            raise ConfigError(
                f"diverting makes purchases of {product!r} from {list(divert_to)} negative "
                "(the factor takes more than they sell); use a smaller factor"
            )
        Y[np.ix_(to, cols)] = after


def _diversion_weights(mrio: MRIO, Y: np.ndarray, to: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``(len(to), len(cols))`` shares of each target row per column; columns sum to 1.

    In proportion to the column's purchases from each target (positive parts);
    a column that buys none uses its consumer's purchases over the shocked
    columns, and if that consumer buys none either, the targets' output ``x``.
    """
    bought = np.maximum(Y[np.ix_(to, cols)], 0.0)
    consumer = np.asarray(mrio.fd_columns.get_level_values(0)[cols])
    weights = bought.copy()
    for n in np.flatnonzero(bought.sum(axis=0) <= 0):
        same = bought[:, consumer == consumer[n]].sum(axis=1)
        weights[:, n] = same if same.sum() > 0 else np.maximum(mrio.x[to], 0.0)
    total = weights.sum(axis=0)
    if np.any(total <= 0):
        raise ConfigError(
            f"no divert_to origin produces {format_label(mrio.rows[to[0]][1])} at all "
            "(zero output); choose origins that produce it"
        )
    return weights / total[None, :]


def change_of(mrio: MRIO, shocked: np.ndarray) -> DemandChange:
    """The columns where ``shocked`` differs from ``mrio.Y`` and ``shocked - Y`` there."""
    delta = shocked - np.asarray(mrio.Y, dtype=np.float64)
    columns = np.flatnonzero(np.any(delta != 0, axis=0))
    return DemandChange(columns=columns, delta=delta[:, columns])


def final_demand_change(mrio: MRIO, shocks: Sequence[DemandShock]) -> DemandChange:
    """Apply ``shocks`` in order to a copy of ``Y``; return the change (see :func:`apply_shock`)."""
    shocked = np.array(mrio.Y, dtype=np.float64, copy=True)
    for shock in shocks:
        apply_shock(mrio, shocked, shock)
    return change_of(mrio, shocked)


def solve_changes(
    factored: Any, changes: Sequence[DemandChange], *, client: Any | None = None
) -> list[np.ndarray]:
    """``dX = L dY`` of every change, in one batch of right-hand sides, all rows.

    Parameters
    ----------
    factored : pipeline.mrio.engine.FactoredTable
        The baseline's factor (made on first use if the baseline did not need it).
    changes : sequence of DemandChange
    client : distributed.Client, optional
        Solve on its workers (the engine's column blocks).

    Returns
    -------
    list of numpy.ndarray
        ``(n, len(change.columns))`` per change.
    """
    widths = [c.columns.size for c in changes]
    if not sum(widths):
        return [np.zeros((factored.mrio.n, 0)) for _ in changes]
    solved, _ = factored.solve(np.hstack([c.delta for c in changes]), client=client)
    return np.split(solved, np.cumsum(widths)[:-1], axis=1)


def balance_error(mrio: MRIO, change: DemandChange, dX: np.ndarray) -> tuple[float, str]:
    """Largest relative imbalance of a row of the scenario's change, and that row.

    The change of output ``dx = dX 1`` must satisfy ``dx = A dx + dY 1`` on every
    row (the Leontief balance of the change), relative to the scenario's output
    ``max(|x + dx|, 1e-12 max|x + dx|)``. NaN anywhere gives NaN.
    """
    x = np.asarray(mrio.x, dtype=np.float64)
    dx = dX.sum(axis=1)
    inputs = np.asarray(mrio.Z @ (dx * inverse_output(x))).ravel()
    gap = np.abs(dx - inputs - change.delta.sum(axis=1))
    scale = np.abs(x + dx)
    scale = np.maximum(scale, 1e-12 * scale.max(initial=0.0))
    positive = scale > 0
    rel = np.where(positive, gap / np.where(positive, scale, 1.0), np.where(gap > 0, np.inf, 0.0))
    if np.isnan(rel).any():
        return float("nan"), ""
    worst = int(np.argmax(rel)) if rel.size else 0
    return float(rel.max(initial=0.0)), format_label(mrio.rows[worst]) if rel.size else ""


def delta_shares(
    mrio: MRIO, change: DemandChange, dX: np.ndarray, labels: Sequence[Sequence[str]]
) -> np.ndarray:
    """``dX / x`` laid out as ``(region, sector, consumer, category)`` of ``labels``.

    ``labels`` are the producer regions, MRIO sectors, consumers and categories
    of the result (e.g. a store's); rows and columns the table lacks, and the
    unchanged columns, are 0.
    """
    regions, sectors, consumers, categories = ([str(v) for v in level] for level in labels)
    out = np.zeros((len(regions), len(sectors), len(consumers), len(categories)))
    if change.columns.size == 0:
        return out
    wanted = pd.MultiIndex.from_product([regions, sectors])
    rows = mrio.rows.get_indexer(wanted)
    has = rows >= 0
    values = np.zeros((wanted.size, change.columns.size))
    values[has] = shares(dX[rows[has]], mrio.x[rows[has]])
    fd = mrio.fd_columns[change.columns]
    ci = pd.Index(consumers).get_indexer(fd.get_level_values(0))
    ki = pd.Index(categories).get_indexer(fd.get_level_values(1))
    flat = out.reshape(wanted.size, len(consumers), len(categories))
    flat[:, ci, ki] = values
    return out
