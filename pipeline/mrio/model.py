"""In-memory MRIO and subnational tables and their validation.

An :class:`MRIO` holds one stressor: ``Z`` (n x n intermediate flows), ``Y``
(n x m final demand), ``x`` (n total output), ``F`` (n production emissions) and
optionally ``F_Y`` (m direct final-demand emissions), labelled by ``rows``
(levels ``region``, ``sector``) and ``fd_columns`` (levels ``region``,
``category``). ``Y`` may be negative (inventory change); ``Z``, ``x``, ``F`` may not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.errors import MRIOError, format_label
from pipeline.kernels.leontief import (
    check_column_sums,
    coefficient_column_sums,
    technical_coefficients,
)

ROW_NAMES = ("region", "sector")
FD_NAMES = ("region", "category")
_TINY = np.finfo(np.float64).tiny


def as_multiindex(
    index: pd.Index | Sequence[tuple[Any, ...]], names: Sequence[str]
) -> pd.MultiIndex:
    """Return a 2-level MultiIndex of ``str`` labels with the given level names."""
    tuples = [tuple(str(v) for v in t) for t in index]
    if tuples and any(len(t) != len(names) for t in tuples):
        raise MRIOError(f"labels must have {len(names)} levels {tuple(names)}; got {tuples[0]!r}")
    return (
        pd.MultiIndex.from_tuples(tuples, names=list(names))
        if tuples
        else (pd.MultiIndex.from_arrays([[] for _ in names], names=list(names)))
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Unique values in order of first appearance."""
    return tuple(dict.fromkeys(values))


def _row_sums(a: np.ndarray | sp.spmatrix) -> np.ndarray:
    return np.asarray(a.sum(axis=1), dtype=np.float64).ravel()


# ----------------------------------------------------------------------------- checks
def check_unique(index: pd.Index, what: str, source: str) -> None:
    """Raise MRIOError naming the first duplicated label of ``index``."""
    dup = index[index.duplicated()]
    if len(dup):
        raise MRIOError(
            f"{source}: duplicate {what} label {format_label(dup[0])}; make labels unique"
        )


def check_shape(name: str, a: Any, shape: tuple[int, ...], source: str) -> None:
    """Raise MRIOError if ``a`` does not have ``shape``."""
    if a.shape != shape:
        raise MRIOError(f"{source}: {name} has shape {a.shape}, expected {shape} from the labels")


def check_finite_nonneg(
    name: str,
    a: np.ndarray | sp.spmatrix,
    row_labels: pd.Index,
    col_labels: pd.Index | None,
    source: str,
    *,
    nonneg: bool = True,
) -> None:
    """Raise MRIOError naming the first NaN/inf (or negative) entry of ``a``."""
    if sp.issparse(a):
        coo = sp.coo_array(a)
        vals, r, c = coo.data, coo.row, coo.col
    else:
        arr = np.asarray(a, dtype=np.float64)
        bad = ~np.isfinite(arr) | ((arr < 0) if nonneg else False)
        if not bad.any():
            return
        pos = np.argwhere(bad.reshape(arr.shape[0], -1))[0]
        r, c = np.array([pos[0]]), np.array([pos[1] if arr.ndim == 2 else 0])
        vals = arr.reshape(arr.shape[0], -1)[r, c]
    bad = ~np.isfinite(vals) | ((vals < 0) if nonneg else False)
    if not bad.any():
        return
    k = int(np.flatnonzero(bad)[0])
    where = format_label(row_labels[int(r[k])])
    if col_labels is not None and np.ndim(a) == 2:
        where = f"row {where}, column {format_label(col_labels[int(c[k])])}"
    what = "non-finite" if not np.isfinite(vals[k]) else "negative"
    raise MRIOError(
        f"{source}: {what} value {float(vals[k]):.6g} in {name} at {where}; fix or drop it"
    )


def check_balance(
    x: np.ndarray, uses: np.ndarray, rows: pd.Index, rtol: float, source: str, rhs: str
) -> None:
    """Raise MRIOError naming the worst row where ``x != uses`` beyond ``rtol``."""
    rel = np.abs(x - uses) / np.maximum(np.abs(x), _TINY)
    rel = np.where((x == 0) & (uses == 0), 0.0, rel)
    i = int(np.argmax(rel)) if rel.size else 0
    if rel.size and rel[i] > rtol:
        raise MRIOError(
            f"{source}: unbalanced row {format_label(rows[i])} has x={x[i]:.10g} but "
            f"{rhs}={uses[i]:.10g} (rel. diff {rel[i]:.3g} > {rtol:g}); "
            "fix the table or pass balance_rtol"
        )


def check_emitting_zero_output(x: np.ndarray, F: np.ndarray, rows: pd.Index, source: str) -> None:
    """Raise MRIOError if a row has emissions but zero output."""
    bad = np.flatnonzero((x == 0) & (F > 0))
    if bad.size:
        names = ", ".join(format_label(rows[i]) for i in bad[:5])
        more = f" (+{bad.size - 5} more)" if bad.size > 5 else ""
        raise MRIOError(
            f"{source}: sector with emissions but zero output: {names}{more}; "
            "give it output or move its emissions"
        )


# ----------------------------------------------------------------------------- MRIO
class _Labelled:
    """Label properties shared by tables with ``rows`` and ``fd_columns`` MultiIndexes."""

    rows: pd.MultiIndex
    fd_columns: pd.MultiIndex

    @property
    def regions(self) -> tuple[str, ...]:
        """Producing regions (or provinces), in order of appearance."""
        return _unique(self.rows.get_level_values(0))

    @property
    def sectors(self) -> tuple[str, ...]:
        """Sectors, in order of appearance."""
        return _unique(self.rows.get_level_values(1))

    @property
    def categories(self) -> tuple[str, ...]:
        """Final-demand categories, in order of appearance."""
        return _unique(self.fd_columns.get_level_values(1))


@dataclass(frozen=True)
class MRIO(_Labelled):
    """A multi-regional input-output table with one stressor.

    Attributes
    ----------
    Z : ndarray or scipy sparse matrix, shape (n, n)
        Intermediate flows (row = supplying region-sector).
    Y : ndarray, shape (n, m)
        Final demand; negative entries (inventory change) are allowed.
    x : ndarray, shape (n,)
        Total output.
    F : ndarray, shape (n,)
        Production emissions of the stressor.
    F_Y : ndarray of shape (m,) or None
        Direct emissions of final demand (e.g. household fuel), or None.
    rows : pandas.MultiIndex
        Levels ``("region", "sector")``, length n.
    fd_columns : pandas.MultiIndex
        Levels ``("region", "category")``, length m.
    stressor : str
        Name of the stressor.
    unit : str
        Unit of ``F`` and ``F_Y``.
    """

    Z: np.ndarray | sp.spmatrix
    Y: np.ndarray
    x: np.ndarray
    F: np.ndarray
    F_Y: np.ndarray | None
    rows: pd.MultiIndex
    fd_columns: pd.MultiIndex
    stressor: str = "CO2"
    unit: str = "t"

    @property
    def n(self) -> int:
        """Number of region-sector rows."""
        return len(self.rows)

    @property
    def m(self) -> int:
        """Number of final-demand columns."""
        return len(self.fd_columns)

    @property
    def consumers(self) -> tuple[str, ...]:
        """Final-demand (consuming) regions, in order of appearance."""
        return _unique(self.fd_columns.get_level_values(0))

    @property
    def A(self) -> np.ndarray | sp.csr_array:
        """Technical coefficients ``Z / x`` (0 columns where ``x == 0``)."""
        return technical_coefficients(self.Z, self.x)

    def region_rows(self, regions: str | Iterable[str] | None = None) -> np.ndarray:
        """Return the integer row positions of ``regions`` (all rows for None).

        Parameters
        ----------
        regions : str or iterable of str, optional
            Producing regions to select, in row order.

        Returns
        -------
        ndarray of int
        """
        if regions is None:
            return np.arange(self.n)
        wanted = [regions] if isinstance(regions, str) else [str(r) for r in regions]
        missing = [r for r in wanted if r not in set(self.regions)]
        if missing:
            raise MRIOError(
                f"region {missing[0]!r} is not in the MRIO rows; known regions: "
                f"{', '.join(self.regions[:20])}{' ...' if len(self.regions) > 20 else ''}"
            )
        return np.flatnonzero(self.rows.get_level_values(0).isin(wanted))

    def validate(self, *, balance_rtol: float = 1e-6, source: str = "MRIO") -> MRIO:
        """Check labels, shapes, signs, balance and singularity; return ``self``.

        Parameters
        ----------
        balance_rtol : float
            Relative tolerance of ``x = Z 1 + Y 1``.
        source : str
            Name of the table or directory, used in messages.

        Returns
        -------
        MRIO
            ``self``, for chaining.

        Raises
        ------
        MRIOError
            On the first problem found, naming the label.
        """
        return validate(self, balance_rtol=balance_rtol, source=source)


def validate(mrio: MRIO, *, balance_rtol: float = 1e-6, source: str = "MRIO") -> MRIO:
    """Validate ``mrio`` (see :meth:`MRIO.validate`)."""
    rows, cols = mrio.rows, mrio.fd_columns
    if list(rows.names) != list(ROW_NAMES) or list(cols.names) != list(FD_NAMES):
        raise MRIOError(
            f"{source}: rows must be named {ROW_NAMES} and fd_columns {FD_NAMES}, got "
            f"{tuple(rows.names)} and {tuple(cols.names)}; rename the index levels"
        )
    check_unique(rows, "row", source)
    check_unique(cols, "final-demand column", source)
    n, m = len(rows), len(cols)
    check_shape("Z", mrio.Z, (n, n), source)
    check_shape("Y", mrio.Y, (n, m), source)
    check_shape("x", mrio.x, (n,), source)
    check_shape("F", mrio.F, (n,), source)
    if mrio.F_Y is not None:
        check_shape("F_Y", mrio.F_Y, (m,), source)
        check_finite_nonneg("F_Y", mrio.F_Y, cols, None, source, nonneg=False)
    check_finite_nonneg("Z", mrio.Z, rows, rows, source)
    check_finite_nonneg("Y", mrio.Y, rows, cols, source, nonneg=False)
    check_finite_nonneg("x", mrio.x, rows, None, source)
    check_finite_nonneg("F", mrio.F, rows, None, source)
    check_balance(
        mrio.x, _row_sums(mrio.Z) + _row_sums(mrio.Y), rows, balance_rtol, source, "Z·1+Y·1"
    )
    check_column_sums(coefficient_column_sums(mrio.Z, mrio.x), labels=rows, source=source)
    check_emitting_zero_output(mrio.x, mrio.F, rows, source)
    return mrio


# ----------------------------------------------------------------------------- subnational
@dataclass(frozen=True)
class SubnationalTable(_Labelled):
    """A single-country table split by province (the Chinese provincial MRIO layout).

    ``Z`` and ``Y`` hold domestic flows only; international trade enters as one
    ``exports`` column and one ``imports`` column per province-sector. Rows obey
    ``Z 1 + Y 1 + exports = x``. ``imports[p, i]`` is the international import of
    product ``i`` into province ``p`` and is only used as shares.

    Attributes
    ----------
    Z : ndarray, shape (n, n)
    Y : ndarray, shape (n, m)
    exports : ndarray, shape (n,)
    imports : ndarray, shape (n,)
    x : ndarray, shape (n,)
    F : ndarray, shape (n,)
    rows : pandas.MultiIndex
        Levels ``("region", "sector")`` = (province, sector).
    fd_columns : pandas.MultiIndex
        Levels ``("region", "category")`` = (province, category).
    F_Y : ndarray of shape (m,) or None
        Optional direct final-demand emissions by province and category.
    stressor, unit : str
    exports_by_destination : pandas.DataFrame or None
        Optional customs data: columns ``region, destination, value`` and optionally
        ``sector`` (see :mod:`pipeline.mrio.nesting`); checked when nesting.
    """

    Z: np.ndarray
    Y: np.ndarray
    exports: np.ndarray
    imports: np.ndarray
    x: np.ndarray
    F: np.ndarray
    rows: pd.MultiIndex
    fd_columns: pd.MultiIndex
    F_Y: np.ndarray | None = None
    stressor: str = "CO2"
    unit: str = "t"
    exports_by_destination: pd.DataFrame | None = None

    def validate(
        self, *, balance_rtol: float = 1e-6, source: str = "subnational table"
    ) -> SubnationalTable:
        """Check labels, shapes, signs, ``Z1 + Y1 + exports = x`` and singularity.

        Parameters
        ----------
        balance_rtol : float
            Relative tolerance of the row balance.
        source : str
            Name used in messages.

        Returns
        -------
        SubnationalTable
            ``self``.
        """
        rows, cols = self.rows, self.fd_columns
        check_unique(rows, "row", source)
        check_unique(cols, "final-demand column", source)
        n, m = len(rows), len(cols)
        for name, shape in (
            ("Z", (n, n)),
            ("Y", (n, m)),
            ("exports", (n,)),
            ("imports", (n,)),
            ("x", (n,)),
            ("F", (n,)),
        ):
            check_shape(name, getattr(self, name), shape, source)
        if self.F_Y is not None:
            check_shape("F_Y", self.F_Y, (m,), source)
            check_finite_nonneg("F_Y", self.F_Y, cols, None, source, nonneg=False)
        check_finite_nonneg("Z", self.Z, rows, rows, source)
        check_finite_nonneg("Y", self.Y, rows, cols, source, nonneg=False)
        for name in ("exports", "imports", "x", "F"):
            check_finite_nonneg(name, getattr(self, name), rows, None, source)
        uses = _row_sums(self.Z) + _row_sums(self.Y) + self.exports
        check_balance(self.x, uses, rows, balance_rtol, source, "Z·1+Y·1+exports")
        s = coefficient_column_sums(self.Z, self.x)
        check_column_sums(s, labels=rows, source=source)
        check_emitting_zero_output(self.x, self.F, rows, source)
        return self
