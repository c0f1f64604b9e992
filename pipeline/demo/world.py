"""The demo's foreign regions: today's 12, or the rest of the world split into N.

**All numbers here are synthetic.** With ``N = 12`` (the default) the foreign
regions are :data:`~pipeline.demo.parameters.FOREIGN` with their parameters
unchanged. With ``12 < N <= 189`` the 11 named countries keep theirs and the
rest of the world (``ROW``) is split: the ``N - 12`` largest further countries
of ``data/world_countries.geojson`` by geodesic area become regions of their
own, and a residual ``ROW`` keeps every country not chosen, so the world stays
complete. ``ROW``'s final demand, CO2 and target share of China's export-driven
CO2 are divided in proportion to the square root of each country's area; the
parts keep ``ROW``'s China-sourcing level, and their home-sourcing share falls
with their size (small economies import more).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely.geometry
from pyproj import Geod

from pipeline.demo.parameters import (
    COUNTRY,
    FOREIGN,
    FOREIGN_CO2,
    FOREIGN_FD,
    HOME_SHARE,
    TARGET_CONSUMER,
)
from pipeline.errors import ConfigError
from pipeline.grid.boundaries import read_geojson
from pipeline.resources import data_file

#: Number of foreign regions of today's demo (11 named countries and ``ROW``).
DEFAULT_FOREIGN = len(FOREIGN)
#: Largest ``--foreign``: 31 provinces + 189 foreign regions, about Eora's size.
MAX_FOREIGN = 189
#: Codes of ``world_countries.geojson`` without a permanent population: never a region.
UNINHABITED = ("ATA", "ATF", "HMD", "SGS", "IOT", "UMI")
RESIDUAL = FOREIGN[-1]  # "ROW"


@dataclass(frozen=True)
class ForeignRegions:
    """The foreign regions of the demo and their synthetic parameters.

    Attributes
    ----------
    codes : tuple of str
        ISO3 codes, ``"ROW"`` last.
    fd, co2 : numpy.ndarray
        Final demand (synthetic million USD) and CO2 (t) of each region.
    target : numpy.ndarray
        Target share of China's export-driven CO2 by foreign consumer.
    home : numpy.ndarray
        Share of a region's tradable purchases bought in the region itself.
    chi0 : numpy.ndarray
        Starting China-sourcing level of the calibration.
    """

    codes: tuple[str, ...]
    fd: np.ndarray
    co2: np.ndarray
    target: np.ndarray
    home: np.ndarray
    chi0: np.ndarray


def parse_foreign(value: int | str) -> int:
    """The number of foreign regions from ``--foreign``, checked.

    Raises
    ------
    ConfigError
        Not a whole number from :data:`DEFAULT_FOREIGN` to :data:`MAX_FOREIGN`.
    """
    fix = f"give a whole number from {DEFAULT_FOREIGN} to {MAX_FOREIGN}"
    try:
        n = int(str(value).strip())
    except ValueError as exc:
        raise ConfigError(f"--foreign {value!r}: {fix}") from exc
    if not DEFAULT_FOREIGN <= n <= MAX_FOREIGN:
        raise ConfigError(
            f"--foreign {n}: {fix} (the 11 named countries and ROW are always regions; "
            f"{MAX_FOREIGN} is the largest)"
        )
    return n


def foreign_regions(n: int = DEFAULT_FOREIGN) -> ForeignRegions:
    """The demo's ``n`` foreign regions (see the module docstring).

    Parameters
    ----------
    n : int
        From :data:`DEFAULT_FOREIGN` (today's demo, unchanged) to :data:`MAX_FOREIGN`.

    Returns
    -------
    ForeignRegions
    """
    n = parse_foreign(n)
    chi0 = np.clip(0.06 * TARGET_CONSUMER / TARGET_CONSUMER.mean(), 0.005, 0.5)
    if n == DEFAULT_FOREIGN:
        return ForeignRegions(FOREIGN, FOREIGN_FD, FOREIGN_CO2, TARGET_CONSUMER, HOME_SHARE, chi0)
    codes, weights = world_candidates()
    share = np.append(weights[: n - DEFAULT_FOREIGN], weights[n - DEFAULT_FOREIGN :].sum())
    share = share / weights.sum()
    named = slice(0, DEFAULT_FOREIGN - 1)
    fd = np.concatenate([FOREIGN_FD[named], FOREIGN_FD[-1] * share])
    return ForeignRegions(
        codes=(*FOREIGN[named], *codes[: n - DEFAULT_FOREIGN], RESIDUAL),
        fd=fd,
        co2=np.concatenate([FOREIGN_CO2[named], FOREIGN_CO2[-1] * share]),
        target=np.concatenate([TARGET_CONSUMER[named], TARGET_CONSUMER[-1] * share]),
        home=np.concatenate([HOME_SHARE[named], _home_share(fd[named.stop :])]),
        chi0=np.concatenate([chi0[named], np.full(share.size, chi0[-1])]),
    )


def _home_share(fd: np.ndarray) -> np.ndarray:
    """Home-sourcing share growing with final demand: 0.6 at 1e3, ROW's 0.97 from 10^6.7."""
    return np.clip(0.6 + 0.1 * np.log10(fd / 1e3), 0.6, HOME_SHARE[-1])


@lru_cache(maxsize=1)
def world_candidates() -> tuple[tuple[str, ...], np.ndarray]:
    """Countries that may split off ``ROW``, largest first, and their weights.

    Every ISO3 code of ``data/world_countries.geojson`` except China, the 11
    named countries, :data:`UNINHABITED` and codes that are not ISO3 (Kosovo's
    ``-99``, nulls); ordered by geodesic area on WGS84, descending, the code
    breaking ties. The weight is the square root of the area in km².
    """
    properties, geometries, _ = read_geojson(data_file("world_countries.geojson"))
    skip = {COUNTRY, *FOREIGN, *UNINHABITED}
    geod = Geod(ellps="WGS84")
    found = []
    for props, geometry in zip(properties, geometries, strict=True):
        code = props.get("iso3")
        if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or code in skip:
            continue
        area, _ = geod.geometry_area_perimeter(shapely.geometry.shape(geometry))
        found.append((-abs(area) / 1e6, code))
    found.sort()
    return tuple(c for _, c in found), np.sqrt([-a for a, _ in found])
