"""CF-1.10 description of a grid: coordinate attributes and a named CRS.

A result store's ``x`` and ``y`` get CF ``standard_name``, ``long_name``,
``units`` (from the CRS's axis unit, UDUNITS spelling) and ``axis``; on a
geographic CRS the dimensions stay ``x``/``y`` but are described as longitude
and latitude. The CRS is written to the ``spatial_ref`` grid-mapping variable
(``grid_mapping_name`` where CF has one, ``crs_wkt``, ``GeoTransform``) with a
human name: the CRS's own, or one made from its projection, parameters and
datum when the source file left it ``unknown``.
"""

from __future__ import annotations

import numbers
import warnings

import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS

#: The CF version the stores follow (the ``Conventions`` attribute).
CONVENTIONS = "CF-1.10"
#: PROJ parameters left out of a made-up CRS name (datum, units and flags).
_NOT_NAMED = {"proj", "datum", "ellps", "units", "no_defs", "type", "towgs84", "wktext"}


def crs_name(crs) -> str:
    """A human name for ``crs``: its own, else its projection, parameters and datum.

    Parameters
    ----------
    crs : pyproj.CRS or any CRS input
        E.g. a rasterio CRS read by rioxarray.

    Returns
    -------
    str
        E.g. ``"WGS 84"``, or ``"Albers Equal Area (lon_0=105 lat_1=25 lat_2=47),
        WGS 84"`` for a CRS whose WKT is named ``unknown``.
    """
    crs = CRS.from_user_input(crs)
    if crs.name and crs.name.lower() not in ("unknown", "undefined", ""):
        return crs.name
    datum = _datum_name(crs)
    if crs.is_geographic:
        return f"longitude/latitude, {datum}"
    method = crs.coordinate_operation.method_name if crs.coordinate_operation else "projected"
    with warnings.catch_warnings():  # a PROJ string loses nothing a name needs
        warnings.simplefilter("ignore", UserWarning)
        proj = crs.to_dict()
    params = " ".join(
        f"{k}={v:.10g}"
        for k, v in proj.items()
        if k not in _NOT_NAMED and isinstance(v, numbers.Real) and not _default(k, v)
    )
    return f"{method} ({params}), {datum}" if params else f"{method}, {datum}"


def _datum_name(crs: CRS) -> str:
    geodetic = crs.geodetic_crs
    if geodetic is not None and geodetic.name.lower() not in ("unknown", ""):
        return geodetic.name
    return crs.ellipsoid.name if crs.ellipsoid is not None else "unknown datum"


def _default(key: str, value: float) -> bool:
    """Whether a PROJ parameter has its default value (left out of names)."""
    return (key in ("x_0", "y_0", "lat_0", "lat_ts") and value == 0) or (key == "k" and value == 1)


def named_crs(crs) -> CRS:
    """``crs`` carrying :func:`crs_name` as its own name (the same CRS otherwise)."""
    crs = CRS.from_user_input(crs)
    name = crs_name(crs)
    if crs.name == name:
        return crs
    definition = crs.to_json_dict()
    definition["name"] = name
    return CRS.from_json_dict(definition)


def coordinate_attrs(crs) -> dict[str, dict[str, str]]:
    """CF attributes of the ``x`` and ``y`` coordinates on ``crs``.

    Returns
    -------
    dict
        ``{"x": {...}, "y": {...}}``, each with ``standard_name``, ``long_name``,
        ``units`` (``m``, ``degrees_east``, ...) and ``axis``.
    """
    out = {}
    for axis in CRS.from_user_input(crs).cs_to_cf():
        attrs = {k: str(axis[k]) for k in ("standard_name", "long_name", "units", "axis")}
        attrs["units"] = attrs["units"].replace("metre", "m")
        out[attrs["axis"].lower()] = attrs
    return out


def describe_grid(ds: xr.Dataset, crs=None) -> xr.Dataset:
    """``ds`` with CF coordinate attributes and a named CRS in ``spatial_ref``.

    Parameters
    ----------
    ds : xarray.Dataset
        Holds equally spaced cell-centre coordinates ``x`` and ``y``.
    crs : optional
        The grid's CRS; by default the one ``ds`` carries (``spatial_ref``).

    Returns
    -------
    xarray.Dataset
        A shallow copy; every variable with ``y`` and ``x`` points to
        ``spatial_ref`` (CF ``grid_mapping``). Nothing is computed.
    """
    crs = crs if crs is not None else ds.rio.crs
    if crs is None:
        raise ValueError("the dataset has no CRS (no spatial_ref); pass `crs`")
    crs = named_crs(crs)
    out = ds.copy().rio.write_crs(crs)
    for name, attrs in coordinate_attrs(crs).items():
        out[name].attrs.update(attrs)
    out = out.rio.write_transform(out.rio.transform(recalc=True))
    out["spatial_ref"].attrs["crs_name"] = crs.name
    for var in out.data_vars.values():
        if {"y", "x"} <= set(var.dims):
            # in attrs, as a store read back has it (rioxarray wrote it to the encoding)
            var.encoding.pop("grid_mapping", None)
            var.attrs["grid_mapping"] = "spatial_ref"
    return out
