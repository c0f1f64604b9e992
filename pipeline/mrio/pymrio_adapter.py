"""A pymrio ``IOSystem`` as a validated :class:`~pipeline.mrio.model.MRIO`.

pymrio's ``calc_system``/``calc_all`` (which form the dense Leontief inverse) are
never called: ``x`` is read, or computed as ``Z 1 + Y 1``, or solved by LU from
``A`` (GLORIA gives ``A`` only).
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.errors import MRIOError
from pipeline.kernels.leontief import factorize, solve_columns
from pipeline.mrio.model import FD_NAMES, MRIO, ROW_NAMES, as_multiindex


def _find_extension(
    io: Any, stressor: str | tuple[str, ...], extension: str | None
) -> tuple[Any, Any]:
    """Return the pymrio extension holding the ``stressor`` row and the exact row label."""
    exts = list(io.get_extensions(data=True))
    if extension is not None:
        exts = [e for e in exts if e.name == extension or getattr(io, extension, None) is e]
        if not exts:
            raise MRIOError(f"pymrio system has no extension {extension!r}; check the name")
    for ext in exts:
        if ext.F is None:
            continue
        label = resolve_stressor(ext.F.index, stressor)
        if label in ext.F.index:
            return ext, label
    raise MRIOError(
        f"stressor {stressor!r} not found in the F rows of pymrio extension(s) "
        f"{', '.join(e.name for e in exts)}; pass an existing row label (a tuple for MultiIndex F)"
        + _did_you_mean(stressor, [lab for e in exts if e.F is not None for lab in e.F.index])
    )


def _spelled(label: Any) -> str:
    """A row label as a user would type it: ``"a|b"`` for a tuple."""
    return "|".join(map(str, label)) if isinstance(label, tuple) else str(label)


def _did_you_mean(stressor: str | tuple[str, ...], labels: list[Any]) -> str:
    """``"; did you mean ..."`` listing up to three close row labels, or ``""``."""
    spelled = {_spelled(lab).lower(): _spelled(lab) for lab in labels}
    close = difflib.get_close_matches(_spelled(stressor).lower(), list(spelled), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(spelled[c]) for c in close)}?" if close else ""


def resolve_stressor(index: pd.Index, stressor: str | tuple[str, ...]) -> Any:
    """Return the exact row label of ``index`` meant by ``stressor``.

    A tuple or a label of a single-level index is returned as is. For a
    MultiIndex, a string matches the first level or, written ``"a|b"``, the
    leading levels in order; it must select one row. Quotes around a level's name
    are ignored (GLORIA quotes its indicator names).

    Parameters
    ----------
    index : pandas.Index
        Row labels of an extension's ``F``.
    stressor : str or tuple
        What the user asked for.

    Returns
    -------
    str or tuple
    """
    if isinstance(stressor, tuple) or index.nlevels == 1:
        return stressor
    parts = tuple(p.strip() for p in stressor.split("|"))
    hits = [lab for lab in index if _same_name(lab, parts)]
    if len(hits) > 1:
        opts = "; ".join("|".join(map(str, h)) for h in hits[:5])
        raise MRIOError(
            f"stressor {stressor!r} matches {len(hits)} F rows; name more levels as "
            f"'a|b|...', e.g. {opts}"
        )
    return hits[0] if hits else (parts if len(parts) > 1 else stressor)


def _same_name(label: tuple, parts: tuple[str, ...]) -> bool:
    """Whether the leading levels of ``label`` are ``parts``, ignoring enclosing quotes.

    GLORIA's satellite indicators are stored with single quotes
    (``"'co2_excl_short_cycle_org_c_total_EDGAR_consistent'"``).
    """
    return len(label) >= len(parts) and all(
        str(a).strip("'\"") == b.strip("'\"") for a, b in zip(label, parts, strict=False)
    )


def _output(io: Any) -> tuple[pd.DataFrame, pd.Series]:
    """Return ``Z`` and ``x`` of a pymrio system without forming its Leontief inverse.

    ``x`` is ``io.x`` or ``Z 1 + Y 1``. Without ``Z``, ``Z = A diag(x)``, where
    ``x`` is ``io.x`` or, if absent (e.g. GLORIA), solved from ``(I - A) x = Y 1``.
    """
    y = io.Y.reindex(index=(io.Z if io.Z is not None else io.A).index).sum(axis=1)
    if io.Z is not None:
        x = io.x.iloc[:, 0] if io.x is not None else io.Z.sum(axis=1) + y
        return io.Z, x.reindex(io.Z.index)
    if io.A is None:
        raise MRIOError(f"pymrio system {io.name!r} has neither Z nor A; parse a full system")
    A = io.A.reindex(columns=io.A.index)
    if io.x is not None:
        x = io.x.iloc[:, 0].reindex(A.index)
        return A * x.to_numpy()[None, :], x
    fac = factorize(A.to_numpy(np.float64), method="lu", labels=A.index, source=str(io.name))
    x = pd.Series(solve_columns(fac, y.to_numpy(np.float64)), index=A.index)
    return A * x.to_numpy()[None, :], x


def _flows(Z: pd.DataFrame, sparse: bool | None) -> np.ndarray | sp.csr_array:
    """Z as float64 ndarray, or CSR if ``sparse`` (None: if <= 1/3 nonzero)."""
    arr = Z.reindex(columns=Z.index).to_numpy(np.float64)
    if sparse is None:
        sparse = np.count_nonzero(arr) * 3 <= arr.size
    return sp.csr_array(arr) if sparse else arr


def from_pymrio(
    io: Any,
    *,
    stressor: str | tuple[str, ...],
    extension: str | None = None,
    unit: str | None = None,
    balance_rtol: float = 1e-6,
    sparse: bool | None = None,
) -> MRIO:
    """Build a validated :class:`MRIO` from a pymrio ``IOSystem``.

    Parameters
    ----------
    io : pymrio.IOSystem
        Needs ``Y`` and ``Z`` (or ``A``, as GLORIA gives). ``x`` is taken from
        ``io.x`` or computed as ``Z 1 + Y 1`` (from ``A``: solved by LU); pymrio's
        ``calc_system``/``calc_all`` (which form the dense inverse) are never called.
    stressor : str or tuple
        Row label of the extension's ``F`` (a tuple for MultiIndex rows, e.g.
        ``("emission_type1", "air")``; see :func:`resolve_stressor` for strings).
    extension : str, optional
        Extension name; by default all extensions are searched.
    unit : str, optional
        Overrides the unit read from the extension's unit table.
    balance_rtol : float
        Passed to :meth:`MRIO.validate`.
    sparse : bool, optional
        Store ``Z`` as CSR (saves memory and time for the engine); default: if at
        most a third of ``Z`` is nonzero.

    Returns
    -------
    MRIO
    """
    ext, stressor = _find_extension(io, stressor, extension)
    Zdf, x = _output(io)
    rows = as_multiindex(Zdf.index, ROW_NAMES)
    cols = as_multiindex(io.Y.columns, FD_NAMES)
    F = ext.F.loc[[stressor]].reindex(columns=Zdf.index).iloc[0]
    F_Y = None
    if getattr(ext, "F_Y", None) is not None and stressor in ext.F_Y.index:
        F_Y = ext.F_Y.loc[[stressor]].reindex(columns=io.Y.columns).iloc[0].to_numpy(np.float64)
    if unit is None:
        unit = "unknown"
        if getattr(ext, "unit", None) is not None and stressor in ext.unit.index:
            unit = str(ext.unit.loc[[stressor]].iloc[0, 0])
    name = "/".join(stressor) if isinstance(stressor, tuple) else str(stressor)
    mrio = MRIO(
        Z=_flows(Zdf, sparse),
        Y=io.Y.reindex(index=Zdf.index).to_numpy(np.float64),
        x=x.to_numpy(np.float64),
        F=F.to_numpy(np.float64),
        F_Y=F_Y,
        rows=rows,
        fd_columns=cols,
        stressor=name,
        unit=unit,
    )
    return mrio.validate(balance_rtol=balance_rtol, source=f"pymrio system {io.name!r}")
