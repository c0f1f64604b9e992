"""Emission units: parse a unit string and convert a layer to tonnes CO2 per cell.

Accepted units are a **mass** (case-sensitive: ``mg``, ``g``, ``kg``, ``t``, ``Mg``,
``kt``, ``Gg``, ``Mt``, ``Tg``, ``Gt``, ``Pg``; ``tonne(s)``; see
:data:`TONNES_PER_UNIT`), optionally **per cell**, **per area** (``m-2``,
``km-2``, ``ha-1``) and **per time** (``s-1``, ``d-1``, ``yr-1``/``a-1``/``year-1``).
Exponents may be written ``m-2``, ``m^-2``, ``m**-2`` or as ``/m2``; a ``CO2``
label and spaces are ignored. Examples: ``"kt CO2/cell/yr"``, ``"kg m-2 s-1"``
(EDGAR), ``"kg/m2/s"``, ``"t km-2 yr-1"``, ``"g m-2 yr-1"``.

A mass without time is taken as the annual amount. Fluxes are multiplied by the
cell area (:func:`cell_area`) and per-time rates by the length of a year,
:data:`SECONDS_PER_YEAR` = 365 days of 86,400 s (no leap day).

Cell area: on a geographic (lat/lon) CRS the exact area of each row's cell on the
CRS's ellipsoid (closed-form authalic formula; it depends only on latitude); on a
projected CRS the constant ``|a*e - b*d|`` of the affine transform, in m². The
latter is exact only for **equal-area** projections (Albers, Lambert azimuthal
equal-area, Mollweide, ...); on Web Mercator or UTM it is the map area, not the
ground area, so fluxes on such grids are wrong away from the true-scale line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import xarray as xr
from pyproj import CRS

from pipeline.errors import GridError

#: Seconds in the year used to turn per-second fluxes into annual amounts (365 days).
SECONDS_PER_YEAR = 365 * 86_400

#: Accepted masses (case-sensitive, SI prefixes) and their exact factor to tonnes.
#: ``mg`` is the milligram and ``Mg`` the megagram; ambiguous spellings such as
#: ``ton`` (short or metric?) or ``MT``/``mt`` are refused with this list.
TONNES_PER_UNIT = {
    "mg": 1e-9,
    "g": 1e-6,
    "kg": 1e-3,
    "t": 1.0,
    "tonne": 1.0,
    "tonnes": 1.0,
    "Tonne": 1.0,
    "Tonnes": 1.0,
    "Mg": 1.0,
    "kt": 1e3,
    "Gg": 1e3,
    "Mt": 1e6,
    "Tg": 1e6,
    "Gt": 1e9,
    "Pg": 1e9,
}
_MASS = re.compile(
    r"\s*(" + "|".join(sorted(TONNES_PER_UNIT, key=len, reverse=True)) + r")(?![a-z])"
)
#: Area denominator (``m-2``, ``km-2``, ``ha-1``) in square metres.
AREA_M2 = {"m": 1.0, "km": 1e6, "ha": 1e4}
#: Time unit to its number per year.
PER_YEAR = {
    "s": float(SECONDS_PER_YEAR),
    "sec": float(SECONDS_PER_YEAR),
    "d": 365.0,
    "day": 365.0,
    "yr": 1.0,
    "year": 1.0,
    "a": 1.0,
    "y": 1.0,
}
_NOISE = re.compile(r"\(?co2\)?|\bper\s+")
_TOKEN = re.compile(r"(/)?\s*([a-z]+)\s*(?:\^|\*\*)?\s*([-+]?\d+)?")
ACCEPTED = (
    "a mass per cell (case-sensitive: mg, g, kg, t, Mg, kt, Gg, Mt, Tg, Gt, Pg; "
    "e.g. 'kt CO2/cell/yr') or a flux "
    "(mass m-2|km-2|ha-1 with s-1|d-1|yr-1, e.g. 'kg m-2 s-1', 't km-2 yr-1')"
)


@dataclass(frozen=True)
class Unit:
    """A parsed emission unit.

    Attributes
    ----------
    tonnes : float
        Factor from the unit's mass to tonnes, times the number of its time units
        per year.
    per_m2 : float or None
        Area of the unit's area denominator in m², or None for a mass per cell.
    """

    tonnes: float
    per_m2: float | None = None

    @property
    def is_flux(self) -> bool:
        """Whether values must be multiplied by the cell area."""
        return self.per_m2 is not None


def parse_unit(unit: str, *, source: str) -> Unit:
    """Parse an emission unit string.

    Parameters
    ----------
    unit : str
        E.g. ``"kt CO2/cell/yr"`` or ``"kg m-2 s-1"``.
    source : str
        File named in the error message.

    Returns
    -------
    Unit

    Raises
    ------
    GridError
        Naming ``source`` and the accepted units, if ``unit`` is not understood.
    """
    mass = _MASS.match(unit)
    if mass is None:
        raise _unknown(unit, source)
    tokens = _tokens(_NOISE.sub(" ", unit[mass.end() :].lower()))
    if tokens is None:
        raise _unknown(unit, source)
    factor, per_m2 = TONNES_PER_UNIT[mass.group(1)], None
    seen = set()
    for name, power in tokens:
        kind = _denominator(name, power)
        if kind is None or kind in seen:
            raise _unknown(unit, source)
        seen.add(kind)
        if kind == "area":
            per_m2 = AREA_M2[name]
        elif kind == "time":
            factor *= PER_YEAR[name]
    return Unit(factor, per_m2)


def _tokens(text: str) -> list[tuple[str, int]] | None:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            return None
        slash, name, power = match.groups()
        power = int(power) if power else 1
        tokens.append((name, -power if slash else power))
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
    return tokens


def _denominator(name: str, power: int) -> str | None:
    if name == "cell" and power == -1:
        return "cell"
    if name in AREA_M2 and power == (-1 if name == "ha" else -2):
        return "area"
    if name in PER_YEAR and power == -1:
        return "time"
    return None


def _unknown(unit: str, source: str) -> GridError:
    return GridError(f"{source}: unknown emission unit {unit!r}; use {ACCEPTED}, or set `units`")


def tonnes_factor(unit: str, *, source: str) -> float:
    """Factor converting ``unit`` (mass per cell, e.g. ``"kt CO2/cell/yr"``) to tonnes.

    Raises
    ------
    GridError
        Naming ``source`` and the accepted units, if ``unit`` is not a mass per cell.
    """
    parsed = parse_unit(unit, source=source)
    if parsed.is_flux:
        raise GridError(
            f"{source}: {unit!r} is a flux, not a mass per cell; it needs the cell area "
            "(open the layer with pipeline.grid.inventory.open_inventory)"
        )
    return parsed.tonnes


def cell_area(crs: CRS, transform, y: np.ndarray) -> xr.DataArray:
    """Area in m² of the cells of a regular grid, as a lazy-friendly ``(y,)`` array.

    Parameters
    ----------
    crs : pyproj.CRS
        Grid CRS, geographic or projected.
    transform : affine.Affine
        Grid transform; must not be rotated.
    y : numpy.ndarray
        Cell-centre y coordinates (latitudes on a geographic CRS).

    Returns
    -------
    xarray.DataArray
        Float64 over dimension ``y`` (coordinate ``y``).
    """
    crs = CRS.from_user_input(crs)
    if transform.b != 0 or transform.d != 0:
        raise GridError(f"grid transform {tuple(transform)[:6]} is rotated; cell area unknown")
    y = np.asarray(y, dtype=np.float64)
    if crs.is_geographic:
        area = _geographic_row_area(crs, abs(transform.a), y, abs(transform.e))
    else:
        metres = crs.axis_info[0].unit_conversion_factor
        area = np.full(y.shape, abs(transform.a * transform.e) * metres**2)
    return xr.DataArray(area, dims="y", coords={"y": y}, attrs={"units": "m2"})


def _geographic_row_area(crs: CRS, dlon: float, lat: np.ndarray, dlat: float) -> np.ndarray:
    """Exact ellipsoidal area of lat/lon cells ``dlon`` x ``dlat`` degrees centred on ``lat``."""
    ellipsoid = crs.ellipsoid
    a, b = ellipsoid.semi_major_metre, ellipsoid.semi_minor_metre
    top = np.clip(lat + dlat / 2, -90.0, 90.0)
    bottom = np.clip(lat - dlat / 2, -90.0, 90.0)
    return np.radians(dlon) * np.abs(_zone(top, a, b) - _zone(bottom, a, b))


def _zone(lat: np.ndarray, a: float, b: float) -> np.ndarray:
    """Area between the equator and ``lat`` per radian of longitude (authalic formula)."""
    s = np.sin(np.radians(lat))
    e2 = 1.0 - (b / a) ** 2
    if e2 < 1e-15:
        return a * a * s
    e = np.sqrt(e2)
    return b * b * (s / (2 * (1 - e2 * s * s)) + np.log((1 + e * s) / (1 - e * s)) / (4 * e))
