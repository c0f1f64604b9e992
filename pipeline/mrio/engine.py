"""Attribution engine: dask maps the Leontief kernels over final-demand blocks.

Layering (as in flox/xESMF): :mod:`pipeline.kernels.leontief` holds the numpy
kernels; :func:`solve_final_demand` factorizes ``I - A`` once on the driver and maps
:func:`~pipeline.kernels.leontief.solve_columns` over blocks of final-demand
columns (on a ``distributed.Client`` if given, else in a plain loop);
:func:`attribution_shares` and :func:`attribute` add xarray labels.

With ``X = (I - A)^-1 Y`` (n x m), the attribution share of row ``r`` to
final-demand column ``k`` is ``S[r, k] = X[r, k] / x[r]``; every row with ``x > 0``
sums to 1 over ``k`` (up to negative inventory change entries) because
``X 1 = (I - A)^-1 Y 1 = x``. The emissions of row ``r`` driven by column ``k``
are ``F[r] S[r, k] = f[r] X[r, k]`` with ``f = F / x``.

The Leontief method is chosen once per table in :mod:`pipeline.mrio.method`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import MRIOError, format_label
from pipeline.kernels.leontief import (
    LeontiefFactor,
    RefinementError,
    factorize,
    intensities,
    row_errors,
    shares,
    solve_columns,
)
from pipeline.mrio.method import MIXED_RCOND_MIN, LeontiefMethod, chosen
from pipeline.mrio.model import MRIO

DIMS = ("region", "sector", "consumer", "category")


#: Final-demand columns are cut into this many blocks unless ``block_columns`` is given.
DEFAULT_BLOCKS = 16


def _blocks(m: int, block_columns: int | None) -> list[slice]:
    """Split ``range(m)`` into consecutive slices of ``block_columns`` (last may be short).

    The default block size depends on ``m`` only (``ceil(m / DEFAULT_BLOCKS)``), never
    on the cluster, so results are bit-identical whatever the number of workers.
    """
    if block_columns is None:
        block_columns = max(1, -(-m // DEFAULT_BLOCKS))
    if block_columns < 1:
        raise MRIOError(f"block_columns must be >= 1, got {block_columns}")
    return [slice(s, min(s + block_columns, m)) for s in range(0, m, block_columns)]


def _identity(value: Any) -> Any:
    """Worker task returning its argument (makes data a recomputable task)."""
    return value


def _solve_block(
    factor: LeontiefFactor, Y_block: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Worker task: solve one block; return its ``rows`` and every row's sum over the block."""
    X = solve_columns(factor, Y_block)
    return X[rows], X.sum(axis=1)


def _factor(mrio: MRIO, method: LeontiefMethod, tol: float) -> LeontiefFactor:
    """Factorize ``I - A``; an ill-conditioned automatic ``"mixed"`` becomes ``"lu"``."""
    fallback = method.automatic and method.name == "mixed"
    needed = MIXED_RCOND_MIN if fallback else 0.0
    factor = factorize(
        mrio.Z, mrio.x, method=method.name, labels=mrio.rows, tol=tol, rcond_needed=needed
    )
    if fallback and factor.rcond < MIXED_RCOND_MIN:
        del factor
        factor = factorize(mrio.Z, mrio.x, method="lu", labels=mrio.rows, tol=tol)
    return factor


def _keep_positions(mrio: MRIO, rows: Iterable[int] | np.ndarray | None) -> np.ndarray:
    """Validated integer row positions (all rows for None)."""
    if rows is None:
        return np.arange(mrio.n)
    keep = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.intp)
    if keep.size and (keep.min() < 0 or keep.max() >= mrio.n):
        raise MRIOError(f"row positions must be in [0, {mrio.n}); got {keep.min()}..{keep.max()}")
    return keep


def _run_blocks(
    factor: LeontiefFactor,
    Y: np.ndarray,
    keep: np.ndarray,
    client: Any | None,
    block_columns: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve every block of columns of ``Y`` (on ``client`` if given).

    Returns ``X[keep]`` and the row sums ``X 1`` of every row (summed over blocks).
    """
    blocks = _blocks(Y.shape[1], block_columns)
    if client is None:
        return _join([_solve_block(factor, Y[:, b], keep) for b in blocks])
    import warnings

    from cluster.waits import gather

    # The factor travels as a task, not scattered data: if the worker holding it
    # dies, the scheduler recomputes it elsewhere instead of waiting for it
    # forever (as ``scatter(broadcast=True)`` did). A fresh key per call.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]arge (object|graph).*")
        f_future = client.submit(_identity, factor, key=f"leontief-factor-{uuid.uuid4().hex}")
        futures = [client.submit(_solve_block, f_future, Y[:, b], keep, pure=False) for b in blocks]
    return _join(gather(client, futures, what="solving the Leontief blocks"))


def _join(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the blocks' kept rows; add up their row sums."""
    kept = np.concatenate([p[0] for p in parts], axis=1)
    return kept, np.sum([p[1] for p in parts], axis=0)


def solve_final_demand(
    mrio: MRIO,
    *,
    rows: Iterable[int] | np.ndarray | None = None,
    client: Any | None = None,
    block_columns: int | None = None,
    method: str | LeontiefMethod = "auto",
    tol: float = 1e-13,
) -> np.ndarray:
    """Return ``X[rows] = ((I - A)^-1 Y)[rows]``, one column per final-demand column.

    ``I - A`` is factorized once on the driver. With a ``distributed.Client`` the
    factor is one task (recomputed if its worker dies) and one task per block of
    final-demand columns returns only the kept rows; without one the blocks run in
    a plain loop (BLAS is already multithreaded).

    Parameters
    ----------
    mrio : MRIO
        A validated table.
    rows : array of int, optional
        Row positions to keep (default all) -- e.g. ``mrio.region_rows("CHN")``.
    client : distributed.Client, optional
        Run the blocks on this cluster.
    block_columns : int, optional
        Final-demand columns per task (default ``ceil(m / DEFAULT_BLOCKS)``, the same
        with or without a client and whatever its size).
    method : {"auto", "lu", "mixed", "iterative"} or LeontiefMethod
        Leontief method; ``"auto"`` follows the rule in the module docstring, a
        :class:`LeontiefMethod` from :func:`choose_method` is used as chosen.
    tol : float
        Relative (column 1-norm) tolerance of ``"mixed"`` and ``"iterative"``.

    Returns
    -------
    ndarray, shape (len(rows), m)
    """
    options = dict(client=client, block_columns=block_columns, method=method, tol=tol)
    return solve_with_row_sums(mrio, rows=rows, **options)[0]


def solve_with_row_sums(
    mrio: MRIO,
    *,
    rows: Iterable[int] | np.ndarray | None = None,
    client: Any | None = None,
    block_columns: int | None = None,
    method: str | LeontiefMethod = "auto",
    tol: float = 1e-13,
    factored: FactoredTable | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solve_final_demand` plus ``X 1`` for *every* row of the table.

    The row sums cost nothing extra (each task solves all rows anyway) and let
    the caller check every producer row, not only the kept ones
    (:func:`row_conservation`).

    Parameters
    ----------
    factored : FactoredTable, optional
        Factorize through it (and keep the factor there for later right-hand
        sides, e.g. scenarios); ``method`` and ``tol`` are then its own.

    Returns
    -------
    X : ndarray, shape (len(rows), m)
    row_sums : ndarray, shape (n,)
        ``((I - A)^-1 Y 1)``, which equals ``x`` for a consistent table.
    """
    table = factored if factored is not None else FactoredTable(mrio, method, tol=tol)
    return table.solve(mrio.Y, rows=rows, client=client, block_columns=block_columns)


class FactoredTable:
    """``I - A`` of one table, factorized once (on first use) for any right-hand sides.

    The attribution solves every final-demand column with it; a scenario then
    solves only the columns it changes with the same factor
    (:mod:`pipeline.mrio.scenarios`), on the same cluster path.

    Parameters
    ----------
    mrio : MRIO
        A validated table.
    method : str or LeontiefMethod
        As in :func:`solve_final_demand`.
    tol : float
        Relative tolerance of ``"mixed"`` and ``"iterative"``.
    """

    def __init__(self, mrio: MRIO, method: str | LeontiefMethod = "auto", *, tol: float = 1e-13):
        self.mrio, self.tol = mrio, tol
        self.method = chosen(mrio, method, tol)
        self._factor: LeontiefFactor | None = None
        self.factorizations = 0

    def release(self) -> None:
        """Drop the factor (it is made again on the next solve)."""
        self._factor = None

    def solve(
        self,
        Y: np.ndarray,
        *,
        rows: Iterable[int] | np.ndarray | None = None,
        client: Any | None = None,
        block_columns: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``X[rows]`` for the columns of ``Y`` and the row sums ``X 1`` of every row.

        Blocks of columns run on ``client`` if given (see :func:`solve_final_demand`).
        An automatic ``"mixed"`` whose refinement stalls is replaced by a float64 LU.
        """
        keep = _keep_positions(self.mrio, rows)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape[1] == 0:
            return np.zeros((keep.size, 0)), np.zeros(self.mrio.n)
        if self._factor is None:
            self._factor = _factor(self.mrio, self.method, self.tol)
            self.factorizations += 1
        try:
            return _run_blocks(self._factor, Y, keep, client, block_columns)
        except RefinementError:
            if not self.method.automatic:
                raise
        self._factor = None  # refinement stalled: fall back to float64 LU
        self._factor = factorize(self.mrio.Z, self.mrio.x, method="lu", labels=self.mrio.rows)
        self.factorizations += 1
        return _run_blocks(self._factor, Y, keep, client, block_columns)


def row_conservation(mrio: MRIO, row_sums: np.ndarray) -> tuple[float, str]:
    """Largest relative gap between a row's attributed emissions and its ``F``.

    Row ``r``'s emissions summed over every final-demand column are
    ``f[r] (X 1)[r]``; they must equal ``F[r]``. The gap is relative to
    ``max(|F[r]|, 1e-12 max|F|)``. A row with ``F > 0`` but no output, or a
    non-finite solve, gives an error of at least 1 (or NaN, which never passes).

    Returns
    -------
    error : float
        The largest relative gap (NaN if any row is not finite).
    row : str
        Label of the worst row.
    """
    F = np.asarray(mrio.F, dtype=np.float64)
    gaps = row_errors(F, intensities(F, mrio.x) * row_sums)
    worst = int(np.argmax(np.where(np.isnan(gaps), np.inf, gaps))) if gaps.size else 0
    error = float(np.nan if np.isnan(gaps).any() else gaps.max(initial=0.0))
    label = format_label(mrio.rows[worst]) if gaps.size else ""
    return error, label


def _labels(mrio: MRIO, keep: np.ndarray) -> tuple[list[str], list[str], list[str], list[str]]:
    """Coordinates of the 4-d result (regions/sectors of the kept rows)."""
    kept = mrio.rows[keep]
    regions = list(dict.fromkeys(kept.get_level_values(0)))
    sectors = list(dict.fromkeys(mrio.rows.get_level_values(1)))
    return regions, sectors, list(mrio.consumers), list(mrio.categories)


def _to_4d(mrio: MRIO, keep: np.ndarray, values: np.ndarray, name: str) -> xr.DataArray:
    """Scatter an (rows, fd columns) matrix into a dense 4-d DataArray (0 fill)."""
    regions, sectors, consumers, categories = _labels(mrio, keep)
    ri = pd.Index(regions).get_indexer(mrio.rows[keep].get_level_values(0))
    si = pd.Index(sectors).get_indexer(mrio.rows[keep].get_level_values(1))
    ci = pd.Index(consumers).get_indexer(mrio.fd_columns.get_level_values(0))
    ki = pd.Index(categories).get_indexer(mrio.fd_columns.get_level_values(1))
    out = np.zeros((len(regions), len(sectors), len(consumers), len(categories)))
    out[ri[:, None], si[:, None], ci[None, :], ki[None, :]] = values
    coords = {"region": regions, "sector": sectors, "consumer": consumers, "category": categories}
    return xr.DataArray(out, dims=DIMS, coords=coords, name=name)


def _solve_kept(
    mrio: MRIO, regions: str | Iterable[str] | None, **options: Any
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Row positions of ``regions``, ``X`` for them and the every-row conservation attrs."""
    keep = mrio.region_rows(regions)
    X, row_sums = solve_with_row_sums(mrio, rows=keep, **options)
    error, worst = row_conservation(mrio, row_sums)
    attrs = {"row_conservation_max_rel_error": error, "row_conservation_worst_row": worst}
    return keep, X, attrs


def attribution_shares(
    mrio: MRIO,
    *,
    regions: str | Iterable[str] | None = None,
    client: Any | None = None,
    method: str | LeontiefMethod = "auto",
    block_columns: int | None = None,
    tol: float = 1e-13,
    factored: FactoredTable | None = None,
) -> xr.DataArray:
    """Share of each producing row's output driven by each final-demand column.

    Parameters
    ----------
    mrio : MRIO
        A validated table.
    regions : str or iterable of str, optional
        Producing regions to keep (default all).
    client, method, block_columns, tol
        See :func:`solve_final_demand`.
    factored : FactoredTable, optional
        Factorize through it and keep the factor there (see :func:`solve_with_row_sums`).

    Returns
    -------
    xarray.DataArray
        Dims ``("region", "sector", "consumer", "category")``, values
        ``S = X / x`` (0 for rows with ``x == 0`` and for label combinations the
        table does not have). Sums to 1 over (consumer, category) for rows with
        ``x > 0``. ``attrs["units"] = "1"``;
        ``attrs["row_conservation_max_rel_error"]`` and
        ``attrs["row_conservation_worst_row"]`` check *every* row of the table,
        kept or not (:func:`row_conservation`).
    """
    options = dict(client=client, method=method, block_columns=block_columns, tol=tol)
    keep, X, checked = _solve_kept(mrio, regions, factored=factored, **options)
    da = _to_4d(mrio, keep, shares(X, mrio.x[keep]), "attribution_share")
    da.attrs.update(units="1", long_name="share of output driven by final demand", **checked)
    return da


def attribute(
    mrio: MRIO,
    *,
    regions: str | Iterable[str] | None = None,
    client: Any | None = None,
    method: str | LeontiefMethod = "auto",
    block_columns: int | None = None,
    tol: float = 1e-13,
    include_final_demand_emissions: bool = False,
) -> xr.DataArray:
    """Production emissions of each row attributed to each final-demand column.

    Parameters
    ----------
    mrio : MRIO
        A validated table.
    regions : str or iterable of str, optional
        Producing regions to keep (default all).
    client, method, block_columns, tol
        See :func:`solve_final_demand`.
    include_final_demand_emissions : bool
        If True, add ``F_Y`` (direct emissions of final demand, e.g. household
        fuel use) to the consuming column's own region: the entry
        ``(region=consumer, sector="final_demand", consumer, category)``. The
        extra sector ``"final_demand"`` is appended to the ``sector`` coordinate
        (only if ``mrio.F_Y`` is not None and the consumer region is kept).

    Returns
    -------
    xarray.DataArray
        Dims ``("region", "sector", "consumer", "category")``, values
        ``f X`` with ``f = F / x``, in ``mrio.unit``. Summed over
        (consumer, category) it gives ``F`` (production-based account); summed over
        (region, sector, category) for one consumer it gives that region's
        consumption-based account without ``F_Y``.
    """
    keep, X, checked = _solve_kept(
        mrio, regions, client=client, method=method, block_columns=block_columns, tol=tol
    )
    f = intensities(mrio.F, mrio.x)[keep]
    da = _to_4d(mrio, keep, f[:, None] * X, "attributed_emissions")
    if include_final_demand_emissions and mrio.F_Y is not None:
        da = _add_final_demand_emissions(mrio, da)
    da.attrs.update(
        units=mrio.unit,
        stressor=mrio.stressor,
        long_name=f"{mrio.stressor} emissions driven by final demand",
        **checked,
    )
    return da


def _add_final_demand_emissions(mrio: MRIO, da: xr.DataArray) -> xr.DataArray:
    """Append sector "final_demand" holding F_Y at (region=consumer, consumer, category)."""
    extra = xr.zeros_like(da.isel(sector=[0])).assign_coords(sector=["final_demand"])
    regions = list(da.region.values)
    consumers = list(da.consumer.values)
    categories = list(da.category.values)
    vals = extra.values
    for (cons, cat), fy in zip(mrio.fd_columns, mrio.F_Y, strict=True):
        if cons in regions:
            vals[regions.index(cons), 0, consumers.index(cons), categories.index(cat)] += fy
    return xr.concat([da, extra], dim="sector")
