"""Test helper: closed-form geodesic areas, independent of the package."""

from __future__ import annotations

import numpy as np


def exact_row_areas(lat_edges: np.ndarray, width_deg: float) -> np.ndarray:
    """Cell areas on the WGS84 ellipsoid from the closed-form zone area.

    The area between the equator and latitude phi over all longitudes is
    S(phi) = pi b^2 [sin phi / (1 - e^2 sin^2 phi) + ln((1 + e sin phi) / (1 - e sin phi)) / 2e].
    """
    a, f = 6378137.0, 1 / 298.257223563
    b = a * (1 - f)
    e = np.sqrt(f * (2 - f))
    sin = np.sin(np.radians(lat_edges))
    zone = (
        np.pi * b**2 * (sin / (1 - e**2 * sin**2) + np.log((1 + e * sin) / (1 - e * sin)) / (2 * e))
    )
    return np.abs(np.diff(zone)) * width_deg / 360.0


def write_latlon_netcdf(path, grid, flux: np.ndarray, sectors) -> None:
    """Write ``flux[sector, y, x]`` (rows north to south, kg m-2 s-1) as a CF-style
    NetCDF on plain ``lat``/``lon`` with rows south to north, as EDGAR ships them."""
    import xarray as xr

    xr.Dataset(
        {"co2": (("sector", "lat", "lon"), flux[:, ::-1], {"units": "kg m-2 s-1"})},
        coords={"sector": list(sectors), "lat": grid.y[::-1], "lon": grid.x},
    ).to_netcdf(path)
