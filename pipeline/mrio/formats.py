"""Loading a global MRIO in any supported format: :func:`load_global`.

=============  ===============================  =============================================
``format``     ``path``                         ``stressor`` (row of the extension's ``F``)
=============  ===============================  =============================================
``plain``      directory of CSV/Parquet files   row of ``F`` (see :mod:`pipeline.mrio.plain`),
               or a NetCDF file / a directory   e.g. ``"CO2"``
               holding ``mrio.nc``
``exiobase3``  the EXIOBASE 3 zip archive or    e.g. ``"CO2 - combustion - air"`` (extension
               its extracted folder             ``satellite`` / ``air_emissions``)
``eora26``     an ``Eora26_YYYY_bp.zip`` file   ``"stressor|source"`` of ``labels_Q.txt``
               or a folder (give ``year``)      without the unit, e.g. ``"CO2|Total"``; a
                                                name alone works if it has one source
``oecd``       an ``ICIO20xx_YYYY.csv`` file    factor input row: ``"VA"`` (value added) or
               or a folder (give ``year``)      ``"TLS"``; the ICIO has no emissions
``gloria``     the folder holding one release   ``"Sat_indicator|Sat_head_indicator"`` of
               (give ``year``; see GLORIA       the ReadMe's ``Satellites`` sheet, GLORIA's
               below)                           quotes optional, e.g.
                                                ``"ch4_total_EDGAR_consistent"``; the
                                                indicator alone works if unique
=============  ===============================  =============================================

Every pymrio format goes through ``pymrio.parse_<format>`` then
:func:`~pipeline.mrio.pymrio_adapter.from_pymrio` (pymrio's ``calc_all`` is never called).

GLORIA
------
``pymrio.parse_gloria`` (release ``version``, default 59, basic prices) reads
three entries of the folder given as ``path``: ``GLORIA_MRIOs_59_YYYY.zip`` (T, Y,
V results), ``GLORIA_SatelliteAccounts_059_YYYY.zip`` (TQ, YQ results) -- or
extracted folders of those names -- and ``GLORIA_ReadMe_059.xlsx`` (labels); for
``version=57`` read 57 and 057 in those names. It turns the supply-use tables into
a product-by-product system (industry technology) with ``A`` and ``Y`` only, so
``x`` is solved from ``(I - A) x = Y 1``; regions with an all-zero ``T`` are
dropped. The satellite rows (extension ``Q``) are labelled
``(Sat_indicator, Sat_head_indicator)``, e.g.
``("'co2_excl_short_cycle_org_c_total_EDGAR_consistent'", "Emissions (EDGAR)")``:
GLORIA's indicator names carry single quotes, which a ``stressor`` may leave out.

NetCDF plain format
-------------------
One file ``mrio.nc`` with dimensions ``row`` (n), ``fd`` (m), ``stressor``;
coordinates ``row_region``, ``row_sector`` (on ``row``), ``fd_region``,
``fd_category`` (on ``fd``), ``stressor`` and ``unit`` (on ``stressor``); variables
``Z (row, col)`` where ``col`` is a second dimension of length n in row order,
``Y (row, fd)``, ``F (stressor, row)``, optional ``F_Y (stressor, fd)`` and ``x (row)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from pipeline.errors import InputFileError, MRIOError
from pipeline.mrio.model import FD_NAMES, MRIO, ROW_NAMES
from pipeline.mrio.plain import read_plain
from pipeline.mrio.pymrio_adapter import from_pymrio
from pipeline.textfiles import check_exists

GLOBAL_FORMATS = ("plain", "exiobase3", "eora26", "oecd", "gloria")
#: GLORIA release read when ``version`` is not given (pymrio's default).
GLORIA_VERSION = 59
NETCDF_NAME = "mrio.nc"


def write_netcdf(mrio: MRIO, path: str | Path) -> Path:
    """Write ``mrio`` as one NetCDF file (layout in the module docstring).

    Parameters
    ----------
    mrio : MRIO
    path : str or Path
        A ``.nc`` file, or a directory (created) that gets ``mrio.nc``.

    Returns
    -------
    Path
        The written file.
    """
    p = Path(path)
    if p.suffix != ".nc":
        p.mkdir(parents=True, exist_ok=True)
        p = p / NETCDF_NAME
    Z = mrio.Z.toarray() if sp.issparse(mrio.Z) else np.asarray(mrio.Z)
    data = {
        "Z": (("row", "col"), Z),
        "Y": (("row", "fd"), np.asarray(mrio.Y)),
        "F": (("stressor", "row"), mrio.F[None, :]),
        "x": (("row",), mrio.x),
    }
    if mrio.F_Y is not None:
        data["F_Y"] = (("stressor", "fd"), mrio.F_Y[None, :])
    coords = {
        "row_region": ("row", list(mrio.rows.get_level_values(0))),
        "row_sector": ("row", list(mrio.rows.get_level_values(1))),
        "fd_region": ("fd", list(mrio.fd_columns.get_level_values(0))),
        "fd_category": ("fd", list(mrio.fd_columns.get_level_values(1))),
        "stressor": ("stressor", [mrio.stressor]),
        "unit": ("stressor", [mrio.unit]),
    }
    xr.Dataset(data, coords=coords).to_netcdf(p)
    return p


def read_netcdf(path: str | Path, *, stressor: str = "CO2", balance_rtol: float = 1e-6) -> MRIO:
    """Read and validate a NetCDF MRIO written by :func:`write_netcdf`.

    Parameters
    ----------
    path : str or Path
        The ``.nc`` file or a directory holding ``mrio.nc``.
    stressor : str
        Which ``stressor`` to load.
    balance_rtol : float
        Relative tolerance of ``x = Z·1 + Y·1``.

    Returns
    -------
    MRIO
    """
    p = Path(path)
    p = p / NETCDF_NAME if p.is_dir() else p
    try:
        with xr.open_dataset(p) as ds:
            ds = ds.load()
    except (OSError, ValueError) as e:
        raise InputFileError(f"cannot read {p}: {type(e).__name__}: {e}".splitlines()[0]) from e
    for var in ("Z", "Y", "F", "row_region", "row_sector", "fd_region", "fd_category"):
        if var not in ds.variables:
            raise InputFileError(f"{p}: missing variable {var!r}; see the NetCDF plain layout")
    names = [str(s) for s in ds["stressor"].values]
    if stressor not in names:
        raise MRIOError(f"{p}: no stressor {stressor!r}; stressors are {', '.join(names[:10])}")
    k = names.index(stressor)
    rows = _index(ds, "row_region", "row_sector", ROW_NAMES)
    cols = _index(ds, "fd_region", "fd_category", FD_NAMES)
    Z, Y = ds["Z"].values, ds["Y"].values
    x = ds["x"].values if "x" in ds else Z.sum(axis=1) + Y.sum(axis=1)
    mrio = MRIO(
        Z=Z,
        Y=Y,
        x=x,
        F=ds["F"].values[k],
        F_Y=ds["F_Y"].values[k] if "F_Y" in ds else None,
        rows=rows,
        fd_columns=cols,
        stressor=stressor,
        unit=str(ds["unit"].values[k]) if "unit" in ds.coords else "t",
    )
    return mrio.validate(balance_rtol=balance_rtol, source=str(p))


def _index(ds: xr.Dataset, a: str, b: str, names: tuple[str, str]) -> pd.MultiIndex:
    """A 2-level string MultiIndex from two coordinate variables."""
    arrays = [[str(v) for v in ds[a].values], [str(v) for v in ds[b].values]]
    return pd.MultiIndex.from_arrays(arrays, names=list(names))


def _parse_pymrio(path: Path, fmt: str, year: int | None, version: int | None) -> Any:
    """Run ``pymrio.parse_<fmt>``; wrap its errors with the path and a fix."""
    import pymrio

    kwargs: dict[str, Any] = {}
    if fmt in ("eora26", "oecd") and year is not None:
        kwargs["year"] = year
    if version is not None and fmt != "gloria":
        raise MRIOError(f"{path}: version= applies to format 'gloria' only, not {fmt!r}")
    if fmt == "gloria":
        if year is None:
            raise MRIOError(f"{path}: format 'gloria' needs year=; pass the table's year")
        kwargs.update(year=year, version=version or GLORIA_VERSION)
    try:
        return getattr(pymrio, f"parse_{fmt}")(path, **kwargs)
    except Exception as e:  # pymrio raises many types (ParserError, KeyError, ...)
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        hint = _gloria_hint(path, year, version or GLORIA_VERSION) if fmt == "gloria" else ""
        raise InputFileError(
            f"{path}: pymrio.parse_{fmt} failed ({msg}); check that the path holds a "
            f"{fmt} table (and year= for a folder){hint}"
        ) from e


def _gloria_hint(path: Path, year: int | None, version: int) -> str:
    """Which GLORIA files ``year`` needs and which ``GLORIA_*`` entries ``path`` has.

    pymrio picks its files with ``glob(...)[0]``, so a wrong year or folder
    surfaces as ``IndexError: list index out of range``.
    """
    found = sorted(q.name for q in path.glob("GLORIA_*")) if path.is_dir() else []
    return (
        f"; year={year} of release {version} needs GLORIA_MRIOs_{version}_{year}[.zip], "
        f"GLORIA_SatelliteAccounts_0{version}_{year}[.zip] and GLORIA_ReadMe_0{version}.xlsx "
        f"in that folder (pass version= for another release), found: "
        f"{', '.join(found) or 'no GLORIA_* entries'}"
    )


def load_global(
    path: str | Path,
    *,
    format: str,
    stressor: str | tuple[str, ...],
    year: int | None = None,
    version: int | None = None,
    extension: str | None = None,
    balance_rtol: float = 1e-6,
) -> MRIO:
    """Load and validate a global MRIO from ``path`` in ``format``.

    Parameters
    ----------
    path : str or Path
        File or folder, as in the module docstring's table.
    format : {"plain", "exiobase3", "eora26", "oecd", "gloria"}
        Source format.
    stressor : str or tuple
        Stressor row to load (per-format names in the module docstring).
    year : int, optional
        Year to pick when ``path`` is a folder (Eora26, OECD) or for GLORIA.
    version : int, optional
        GLORIA release (pymrio's ``version``; default 59). GLORIA only.
    extension : str, optional
        pymrio extension holding ``stressor`` (default: search all).
    balance_rtol : float
        Relative tolerance of the row balance ``x = Z·1 + Y·1``.

    Returns
    -------
    MRIO
    """
    if format not in GLOBAL_FORMATS:
        raise MRIOError(f"unknown MRIO format {format!r}; use one of {', '.join(GLOBAL_FORMATS)}")
    p = Path(path)
    check_exists(p, what="MRIO source", fix="check the path")
    if format == "plain":
        if version is not None:
            raise MRIOError(f"{p}: version= applies to format 'gloria' only, not 'plain'")
        if not isinstance(stressor, str):
            raise MRIOError(f"{p}: plain format stressor must be a string, got {stressor!r}")
        if p.suffix == ".nc" or (p / NETCDF_NAME).is_file():
            return read_netcdf(p, stressor=stressor, balance_rtol=balance_rtol)
        return read_plain(p, stressor=stressor, balance_rtol=balance_rtol)
    io = _parse_pymrio(p, format, year, version)
    return from_pymrio(io, stressor=stressor, extension=extension, balance_rtol=balance_rtol)
