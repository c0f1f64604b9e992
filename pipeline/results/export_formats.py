"""Whole-store exports that GIS and CF tools read: NetCDF4, COGs, a GDAL-readable zarr.

Each export reads the store as :func:`pipeline.results.api.open_results`
presents it (``footprint`` computed on read, CF-1.10 attributes) and writes
chunk by chunk on local threads: no cube is loaded whole.

- ``netcdf``: one CF-1.10 NetCDF4 file of every variable (``footprint``
  included), compressed, chunked as the store; GDAL reads its cubes as
  subdatasets (``NETCDF:"file.nc":footprint``), one band per label.
- ``cog``: one Cloud-Optimized GeoTIFF per cube (:mod:`pipeline.results.cog`).
- ``zarr-gdal``: a zarr v2 copy GDAL 3.4 and later reads: zlib (the codec
  every GDAL build carries), no sharding, no string arrays (labels are
  attributes such as ``consumer_labels``), the CRS also in GDAL's ``_CRS``.
- ``zarr``: a plain zarr v3 store of every variable (``footprint`` included),
  for tools that read zarr but not icechunk (e.g. a snapshot of an object-storage
  result copied to local disk).

Every output is written to a hidden temporary beside it and moved into place
when complete; the result directory's own files are never replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dask
import numcodecs
import numpy as np
import xarray as xr
import zarr

from pipeline.errors import ConfigError, OutputError
from pipeline.results import cog
from pipeline.storage.versions import (
    COMPLETE_ATTR,
    KEY_ATTR,
    atomic_path,
    refuse_run_owned,
)

FORMATS = ("netcdf", "cog", "zarr-gdal", "zarr")
#: Default output, inside the results directory, per format.
DEFAULT_NAMES = {
    "netcdf": "footprint.nc",
    "cog": "footprint-cog",
    "zarr-gdal": "footprint-gdal.zarr",
    "zarr": "footprint-export.zarr",
}
#: Attribute naming the format of an export (and marking a zarr-gdal copy as replaceable).
EXPORT_ATTR = "footprint_map_export"
#: Stored layers of listed consumers; ``footprint`` holds them, so exports leave them out.
_REDUNDANT = ("materialized_footprint", "materialized_consumer")
_NETCDF_COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}


def default_output(directory: Path, fmt: str) -> Path:
    """Where ``export`` writes ``fmt`` without ``--output``: beside ``footprint.zarr``."""
    return Path(directory) / DEFAULT_NAMES[fmt]


def export_store(
    ds: xr.Dataset, fmt: str, output: Path, *, echo: Callable[[str], None] = print
) -> list[Path]:
    """Write the whole store ``ds`` as ``fmt`` to ``output``; return the files written.

    Parameters
    ----------
    ds : xarray.Dataset
        The store as ``open_results(DIR).ds`` presents it (lazy).
    fmt : str
        One of :data:`FORMATS`.
    output : Path
        The NetCDF file, the COG directory, or the zarr store.
    echo : callable
        Progress messages.

    Raises
    ------
    ConfigError
        For an unknown format.
    OutputError
        If ``output`` is refused (see :func:`check_output`).
    OSError
        If it cannot be written (the CLI names the file, the error and the fix).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r} unknown; use one of {', '.join(FORMATS)}")
    output = check_output(Path(output), fmt)
    echo(f"exporting as {fmt} to {output} (dask on local threads)")
    data = export_dataset(ds, fmt)
    if fmt == "netcdf":
        written = [write_netcdf(data, output)]
    elif fmt == "cog":
        written = cog.write_cogs(data, output, echo=echo)
    elif fmt == "zarr":
        written = [write_plain_zarr(data, output)]
    else:
        written = [write_gdal_zarr(data, output)]
    if fmt != "cog":  # the COG writer names each file as it is done
        echo(f"  wrote {written[0]}")
    return written


def check_output(output: Path, fmt: str) -> Path:
    """``output`` if ``fmt`` may be written there.

    Refused: a path inside a results directory's versions or ``work`` cache
    (:func:`~pipeline.storage.versions.run_owned_part`: the results stay as the
    run wrote them); a directory, or a file that is not an earlier NetCDF export,
    for a NetCDF file; a file for a COG directory; an existing zarr store or
    directory that is not an earlier ``zarr-gdal`` export.
    """
    refuse_run_owned(output, DEFAULT_NAMES[fmt])
    if fmt == "netcdf" and output.is_dir():
        raise OutputError(f"--output {output} is a directory; give a file name, e.g. footprint.nc")
    if fmt == "netcdf" and output.exists() and not _netcdf_export(output):
        raise OutputError(
            f"--output {output} exists and is not a NetCDF export of footprint-map; "
            "choose a new path or remove it"
        )
    if fmt == "cog" and output.exists() and not output.is_dir():
        raise OutputError(f"--output {output} is a file; the COGs go into a directory")
    if fmt in ("zarr-gdal", "zarr") and output.exists() and not _earlier_export(output, fmt):
        raise OutputError(
            f"--output {output} exists and is not a {fmt} export of footprint-map; "
            "choose a new path or remove it"
        )
    return output


def _netcdf_export(path: Path) -> bool:
    """Whether ``path`` is a NetCDF file that an earlier ``export`` wrote (and may replace)."""
    import h5netcdf

    try:
        with h5netcdf.File(path, "r") as found:
            return found.attrs.get(EXPORT_ATTR) == "netcdf"
    except (OSError, ValueError):
        return False


def _earlier_export(path: Path, fmt: str) -> bool:
    try:
        return zarr.open_group(path, mode="r").attrs.get(EXPORT_ATTR) == fmt
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError, OSError):
        return False


def export_dataset(ds: xr.Dataset, fmt: str) -> xr.Dataset:
    """``ds`` as exported: no redundant layers, no run marks, the format named."""
    out = ds.drop_vars([v for v in _REDUNDANT if v in ds.variables])
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in (COMPLETE_ATTR, KEY_ATTR)}
    out.attrs[EXPORT_ATTR] = fmt
    return out


# -------------------------------------------------------------------- NetCDF
def write_netcdf(ds: xr.Dataset, path: Path) -> Path:
    """Write ``ds`` as one CF NetCDF4 file, chunk by chunk (dask on local threads).

    Data variables are DEFLATE-compressed with the store's chunks; coordinates
    have no fill value (CF); ``flag_values`` take their variable's type (CF).
    """
    out = ds.copy()
    encoding = {}
    for name, var in out.variables.items():
        var.encoding = {}
        if name in out.coords and var.ndim == 1 and var.dtype.kind == "f":
            encoding[name] = {"_FillValue": None}
        elif name in out.data_vars and var.ndim:
            chunks = tuple(c[0] for c in var.chunks) if var.chunks else var.shape
            encoding[name] = {**_NETCDF_COMPRESSION, "chunksizes": chunks}
        if "flag_values" in var.attrs:
            var.attrs["flag_values"] = np.asarray(var.attrs["flag_values"], dtype=var.dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, dask.config.set(scheduler="threads"):
        out.to_netcdf(tmp, engine="h5netcdf", format="NETCDF4", encoding=encoding)
    return path


# ---------------------------------------------------------------- zarr, zarr-gdal
def write_plain_zarr(ds: xr.Dataset, path: Path) -> Path:
    """Write ``ds`` as a plain zarr v3 store in its chunks (dask on local threads)."""
    out = ds.copy()
    return _write_zarr(out, path, {n: _chunks(v) for n, v in out.variables.items()}, 3, False)


def write_gdal_zarr(ds: xr.Dataset, path: Path) -> Path:
    """Write ``ds`` as a zarr v2 store GDAL reads (see the module docstring)."""
    out = gdal_ready(ds)
    codec = numcodecs.Zlib(level=4)
    encoding = {
        name: {"compressors": (codec,), "filters": None} | _chunks(var)
        for name, var in out.variables.items()
    }
    return _write_zarr(out, path, encoding, 2, True)


def _chunks(var: xr.Variable) -> dict:
    """The zarr ``chunks`` encoding of ``var``'s dask chunks (none for an in-memory variable)."""
    return {"chunks": tuple(c[0] for c in var.chunks)} if var.chunks else {}


def _write_zarr(
    out: xr.Dataset, path: Path, encoding: dict, zarr_format: int, consolidated: bool
) -> Path:
    """Write ``out`` (its variables' encodings dropped) atomically to the zarr store ``path``."""
    for var in out.variables.values():
        var.encoding = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, dask.config.set(scheduler="threads"):
        out.to_zarr(
            tmp, mode="w-", zarr_format=zarr_format, consolidated=consolidated, encoding=encoding
        )
    return path


def gdal_ready(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without string or boolean arrays: label coordinates become attributes.

    A coordinate along a label dimension (``consumer``, ``sector``, ``foreign``,
    ...) becomes the attribute ``<name>_labels`` (strings; booleans as 0/1) of
    every variable along it and of the group. Per-cell variables also get
    GDAL's ``_CRS`` (the WKT), which GDAL reads before CF's ``grid_mapping``.
    """
    spatial = {"x", "y", "spatial_ref"}
    labels = {
        f"{name}_labels": _label_list(coord)
        for name, coord in ds.coords.items()
        if name not in spatial and coord.ndim == 1
    }
    dims = {f"{name}_labels": ds[name].dims[0] for name in ds.coords if f"{name}_labels" in labels}
    out = ds.drop_vars([name for name in ds.coords if f"{name}_labels" in labels]).copy()
    out.attrs.update(labels)
    wkt = ds["spatial_ref"].attrs["crs_wkt"] if "spatial_ref" in ds.variables else None
    for var in out.data_vars.values():
        var.attrs.update({k: v for k, v in labels.items() if dims[k] in var.dims})
        if wkt and {"y", "x"} <= set(var.dims):
            var.attrs["_CRS"] = {"wkt": wkt}
    return out


def _label_list(coord: xr.DataArray) -> list:
    values = np.asarray(coord.values)
    if values.dtype.kind == "b":
        return [int(v) for v in values]
    if values.dtype.kind in "iuf":
        return values.tolist()
    return [str(v) for v in values]
