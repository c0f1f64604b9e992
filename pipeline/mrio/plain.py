"""Plain on-disk formats: a global MRIO directory and a subnational table directory.

Plain MRIO format
-----------------
A directory with one file per matrix. Every file is either CSV (``.csv``) or
Parquet (``.parquet``, MultiIndex columns as written by pandas ``to_parquet``);
for each name, ``.csv`` is used if both exist. Labels are strings.

==============  ========  ===========================================  =========================
file            needed    rows (index columns)                         columns (header rows)
==============  ========  ===========================================  =========================
``Z``           yes       ``region``, ``sector``                       ``region``, ``sector``
``Y``           yes       ``region``, ``sector``                       ``region``, ``category``
``F``           yes       ``stressor`` (one row per stressor)          ``region``, ``sector``
``F_Y``         no        ``stressor``                                 ``region``, ``category``
``x``           no        ``region``, ``sector``                       one column ``x``
``units``       no        plain table with columns ``stressor,unit``
==============  ========  ===========================================  =========================

A matrix CSV is what ``DataFrame.to_csv`` writes for MultiIndex rows and columns
and what ``pd.read_csv(path, header=[0, 1], index_col=[0, 1])`` reads::

    region,,CN-BJ,CN-BJ,...
    sector,,agriculture,mining,...
    region,sector,,,...
    CN-BJ,agriculture,12.5,0.3,...

``F.csv`` has the same two header rows and a single index column ``stressor``.
If ``x`` is absent it is computed as ``Z·1 + Y·1``; if present it must agree
with that to ``balance_rtol``. ``units`` defaults to ``t``. Y, F, F_Y and x are
aligned to Z's row order by label; a missing or extra label is an error naming
the file and the label.

Subnational table format
------------------------
A directory with (CSV only) ``Z.csv`` (province, sector) x (province, sector) and
``Y.csv`` (province, sector) x (province, category) of *domestic* flows in the same
2-header/2-index layout (level names ``region``, ``sector`` / ``region``,
``category``); ``exports.csv``, ``imports.csv`` and ``x.csv``, each indexed by
``region,sector`` with one column named ``exports``, ``imports`` and ``x``;
``F.csv`` (index ``stressor``, header rows ``region``, ``sector``); optionally
``F_Y.csv`` (index ``stressor``, header rows ``region``, ``category``) and
``units.csv``. Rows satisfy ``Z·1 + Y·1 + exports = x``. ``imports`` is the
international import of product ``sector`` into province ``region`` and is used
only as shares. Optionally ``exports_by_destination.csv`` (customs data): a plain
table with columns ``region, destination, value`` and optionally ``sector``; see
:mod:`pipeline.mrio.nesting` and the README.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.errors import InputFileError, MRIOError, format_label
from pipeline.mrio.model import (
    FD_NAMES,
    MRIO,
    ROW_NAMES,
    SubnationalTable,
    as_multiindex,
    check_unique,
)
from pipeline.textfiles import check_dir, numeric, read_csv

FORMATS = ("csv", "parquet")


def _find(directory: Path, name: str, *, required: bool = True) -> Path | None:
    """Return ``directory/name.csv`` or ``.parquet``; raise if required and absent."""
    for ext in FORMATS:
        p = directory / f"{name}.{ext}"
        if p.is_file():
            return p
    if required:
        raise InputFileError(
            f"missing {directory / (name + '.csv')} (or .parquet); write it or check the path"
        )
    return None


def _read(path: Path, *, header: int, index: int) -> pd.DataFrame:
    """Read a CSV/Parquet table with ``header`` header rows and ``index`` index columns."""
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            if (
                index == 1
                and df.index.nlevels == 1
                and df.index.name is None
                and "stressor" in df.columns
            ):
                df = df.set_index("stressor")
        else:
            df = _read_csv_table(path, header=header, index=index)
    except (OSError, ValueError, ImportError) as e:
        raise InputFileError(f"cannot read {path}: {type(e).__name__}: {e}".splitlines()[0]) from e
    if df.index.nlevels != index or df.columns.nlevels != header:
        raise InputFileError(
            f"{path}: expected {index} index column(s) and {header} header row(s), got "
            f"{df.index.nlevels} and {df.columns.nlevels}; see the plain format description"
        )
    return df


def _read_csv_table(path: Path, *, header: int, index: int) -> pd.DataFrame:
    """A plain-format CSV, its labels re-read as text (so "01" stays "01", no ".1" suffixes)."""
    layout = f"{header} header row(s) and {index} label column(s), comma-separated"
    hdr = list(range(header)) if header > 1 else 0
    df = read_csv(path, expect=layout, header=hdr, index_col=list(range(index)))
    text = {"header": None, "dtype": str, "keep_default_na": False}
    skip = header + (1 if header > 1 else 0)
    lab = read_csv(path, expect=layout, skiprows=skip, usecols=list(range(index)), **text)
    if len(lab) == len(df):
        names = list(df.index.names)
        df.index = (
            pd.MultiIndex.from_frame(lab, names=names)
            if index > 1
            else pd.Index(lab.iloc[:, 0], name=names[0])
        )
    top = read_csv(path, expect=layout, nrows=header, **text).iloc[:, index:]
    if top.shape[1] == df.shape[1] and df.columns.nlevels == header:
        tuples = list(zip(*(top.iloc[r] for r in range(header)), strict=True))
        df.columns = (
            pd.MultiIndex.from_tuples(tuples, names=df.columns.names)
            if header > 1
            else pd.Index([t[0] for t in tuples], name=df.columns.name)
        )
    return df


def _mi(idx: pd.Index, names: tuple[str, ...], path: Path) -> pd.MultiIndex:
    try:
        return as_multiindex(idx, names)
    except MRIOError as e:
        raise MRIOError(f"{path}: {e}") from e


def _align(
    idx: pd.MultiIndex, target: pd.MultiIndex, path: Path, axis: str, ref: str
) -> np.ndarray:
    """Positions of ``target`` labels in ``idx``; raise naming the first missing/extra label."""
    check_unique(idx, axis, str(path))
    pos = idx.get_indexer(target)
    if (pos < 0).any():
        lab = target[int(np.flatnonzero(pos < 0)[0])]
        raise MRIOError(f"{path}: {axis} label {format_label(lab)} of {ref} is missing; add it")
    extra = idx.difference(target, sort=False)
    if len(extra):
        raise MRIOError(f"{path}: {axis} label {format_label(extra[0])} is not in {ref}; drop it")
    return pos


def _stressor_row(df: pd.DataFrame, stressor: str, path: Path) -> pd.Series:
    df.index = df.index.astype(str)
    if stressor not in df.index:
        raise MRIOError(
            f"{path}: no stressor row {stressor!r}; rows are {', '.join(df.index[:10])}; "
            "pass stressor= one of them"
        )
    return df.loc[stressor]


def _unit(directory: Path, stressor: str) -> str:
    p = _find(directory, "units", required=False)
    if p is None:
        return "t"
    if p.suffix == ".csv":
        df = read_csv(p, expect="header stressor,unit", dtype=str, keep_default_na=False)
    else:
        df = pd.read_parquet(p)
    if not {"stressor", "unit"} <= set(df.columns):
        raise InputFileError(f"{p}: needs columns stressor,unit; got {', '.join(df.columns)}")
    hit = df.loc[df["stressor"].astype(str) == stressor, "unit"]
    return str(hit.iloc[0]) if len(hit) else "t"


def _vector(directory: Path, name: str, rows: pd.MultiIndex, ref: str) -> np.ndarray | None:
    p = _find(directory, name, required=False)
    if p is None:
        return None
    df = _read(p, header=1, index=2)
    if name not in df.columns:
        raise InputFileError(f"{p}: needs a column named {name!r}; got {', '.join(df.columns)}")
    pos = _align(_mi(df.index, ROW_NAMES, p), rows, p, "row", ref)
    return numeric(df[[name]], p)[:, 0][pos]


def _matrices(directory: Path, stressor: str) -> dict[str, object]:
    """Read Z, Y, F, F_Y aligned to Z's row order (shared by both formats)."""
    pz = _find(directory, "Z")
    z = _read(pz, header=2, index=2)
    rows = _mi(z.index, ROW_NAMES, pz)
    check_unique(rows, "row", str(pz))
    zc = _align(_mi(z.columns, ROW_NAMES, pz), rows, pz, "column", f"{pz.name} rows")
    py = _find(directory, "Y")
    y = _read(py, header=2, index=2)
    ypos = _align(_mi(y.index, ROW_NAMES, py), rows, py, "row", f"{pz} rows")
    cols = _mi(y.columns, FD_NAMES, py)
    check_unique(cols, "column", str(py))
    pf = _find(directory, "F")
    f = _stressor_row(_read(pf, header=2, index=1), stressor, pf)
    fpos = _align(_mi(f.index, ROW_NAMES, pf), rows, pf, "column", f"{pz} rows")
    out: dict[str, object] = {
        "rows": rows,
        "fd_columns": cols,
        "Z": numeric(z, pz)[:, zc],
        "Y": numeric(y, py)[ypos],
        "F": numeric(f.to_frame().T, pf)[0][fpos],
        "F_Y": None,
    }
    pfy = _find(directory, "F_Y", required=False)
    if pfy is not None:
        fy = _stressor_row(_read(pfy, header=2, index=1), stressor, pfy)
        pos = _align(_mi(fy.index, FD_NAMES, pfy), cols, pfy, "column", f"{py} columns")
        out["F_Y"] = numeric(fy.to_frame().T, pfy)[0][pos]
    return out


def _check_dir(path: str | Path) -> Path:
    return check_dir(path, what="MRIO directory", fix="check the path", missing="does not exist")


def read_plain(path: str | Path, *, stressor: str = "CO2", balance_rtol: float = 1e-6) -> MRIO:
    """Read and validate a plain-format MRIO directory (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The directory.
    stressor : str
        Row of ``F`` (and ``F_Y``) to load.
    balance_rtol : float
        Relative tolerance of ``x = Z·1 + Y·1``.

    Returns
    -------
    MRIO
    """
    d = _check_dir(path)
    mats = _matrices(d, stressor)
    x = _vector(d, "x", mats["rows"], "Z.csv rows")
    if x is None:
        x = mats["Z"].sum(axis=1) + mats["Y"].sum(axis=1)
    mrio = MRIO(x=x, stressor=stressor, unit=_unit(d, stressor), **mats)
    return mrio.validate(balance_rtol=balance_rtol, source=str(d))


def _write(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path)
    return path


def _common(obj: MRIO | SubnationalTable, d: Path, fmt: str) -> dict[str, Path]:
    Z = obj.Z.toarray() if sp.issparse(obj.Z) else obj.Z
    sidx = pd.Index([obj.stressor], name="stressor")
    out = {
        "Z": _write(pd.DataFrame(Z, index=obj.rows, columns=obj.rows), d / f"Z.{fmt}", fmt),
        "Y": _write(
            pd.DataFrame(obj.Y, index=obj.rows, columns=obj.fd_columns), d / f"Y.{fmt}", fmt
        ),
        "F": _write(
            pd.DataFrame(obj.F[None, :], index=sidx, columns=obj.rows), d / f"F.{fmt}", fmt
        ),
        "x": _write(pd.DataFrame({"x": obj.x}, index=obj.rows), d / f"x.{fmt}", fmt),
    }
    if obj.F_Y is not None:
        out["F_Y"] = _write(
            pd.DataFrame(obj.F_Y[None, :], index=sidx, columns=obj.fd_columns),
            d / f"F_Y.{fmt}",
            fmt,
        )
    units = pd.DataFrame({"stressor": [obj.stressor], "unit": [obj.unit]})
    out["units"] = d / "units.csv"
    units.to_csv(out["units"], index=False)
    return out


def _mkdir(path: str | Path) -> Path:
    d = Path(path)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from pipeline.errors import OutputError

        raise OutputError(f"cannot create directory {d}: {e.strerror}; check permissions") from e
    return d


def write_plain(mrio: MRIO, path: str | Path, *, fmt: str = "csv") -> dict[str, Path]:
    """Write ``mrio`` in the plain format; return the written paths by name.

    Parameters
    ----------
    mrio : MRIO
        The table (``Z`` may be sparse; it is written dense).
    path : str or Path
        Output directory (created).
    fmt : {"csv", "parquet"}
        File format of the matrices (``units`` is always CSV).

    Returns
    -------
    dict of str to Path
    """
    if fmt not in FORMATS:
        raise MRIOError(f"unknown plain format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _common(mrio, _mkdir(path), fmt)


def read_subnational(
    path: str | Path, *, stressor: str = "CO2", balance_rtol: float = 1e-6
) -> SubnationalTable:
    """Read and validate a subnational table directory (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The directory.
    stressor : str
        Row of ``F.csv`` to load.
    balance_rtol : float
        Relative tolerance of ``Z·1 + Y·1 + exports = x``.

    Returns
    -------
    SubnationalTable
    """
    d = _check_dir(path)
    mats = _matrices(d, stressor)
    vecs = {}
    for name in ("exports", "imports", "x"):
        _find(d, name)
        vecs[name] = _vector(d, name, mats["rows"], "Z.csv rows")
    customs = d / "exports_by_destination.csv"
    if customs.is_file():
        vecs["exports_by_destination"] = _read_customs(customs)
    table = SubnationalTable(stressor=stressor, unit=_unit(d, stressor), **mats, **vecs)
    return table.validate(balance_rtol=balance_rtol, source=str(d))


def _read_customs(path: Path) -> pd.DataFrame:
    """Read ``exports_by_destination.csv``: labels as strings, ``value`` as given."""
    labels = {"region": str, "destination": str, "sector": str}
    try:
        return pd.read_csv(path, dtype=labels)
    except (OSError, ValueError) as e:
        raise InputFileError(f"{path}: cannot read it as CSV ({e}); see the README") from e


def write_subnational(table: SubnationalTable, path: str | Path) -> dict[str, Path]:
    """Write ``table`` as CSV files in the subnational format; return the paths.

    Parameters
    ----------
    table : SubnationalTable
    path : str or Path
        Output directory (created).

    Returns
    -------
    dict of str to Path
    """
    d = _mkdir(path)
    out = _common(table, d, "csv")
    for name in ("exports", "imports"):
        p = d / f"{name}.csv"
        pd.DataFrame({name: getattr(table, name)}, index=table.rows).to_csv(p)
        out[name] = p
    if table.exports_by_destination is not None:
        out["exports_by_destination"] = d / "exports_by_destination.csv"
        table.exports_by_destination.to_csv(out["exports_by_destination"], index=False)
    return out
