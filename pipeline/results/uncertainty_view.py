"""Analyst views of a store's Monte Carlo results: one quantile as the layer, robust hotspots.

:func:`at_quantile` gives a :class:`~pipeline.results.api.Results` whose every
layer is the stored per-cell quantile (``Results.layer(..., quantile=Q)``), so
its rankings, hotspots, concentration and maps (``query --quantile Q``) read
that quantile. :func:`robust_hotspot_masks` gives the deterministic hotspot
cells and those among them that are hotspots in at least 90 % of the
realizations (``hotspot_frequency``), lazily.
"""

from __future__ import annotations

import copy
from typing import Any

import xarray as xr

from pipeline.attribution.ensemble import FREQUENCY
from pipeline.results.statistics import as_dask
from pipeline.results.uncertainty_summary import robust_hotspots


def stored_quantiles(results: Any) -> list[float]:
    """The quantile levels stored per cell (empty without ``[uncertainty]``)."""
    if "foreign_footprint_quantiles" not in results.ds:
        return []
    return [float(q) for q in results.ds["quantile"].values]


def realizations(results: Any) -> int:
    """The number of Monte Carlo realizations of the store (0 without)."""
    if FREQUENCY in results.ds:
        return int(results.ds[FREQUENCY].attrs["realizations"])
    return 0


def at_quantile(results: Any, quantile: float) -> Any:
    """A shallow copy of ``results`` whose layers are the stored ``quantile`` per cell.

    Every statistic of the copy (``rank``, ``hotspots``, ``concentration``, the
    maps) reads ``results.layer(..., quantile=quantile)``; ``describe`` names the
    quantile. Selections without stored quantiles (a sector, a category, a
    group, a domestic consumer) raise as ``layer`` does.
    """
    view = copy.copy(results)

    def layer(consumer=None, sector=None, category=None, *, delta=False, quantile=quantile):
        return results.layer(consumer, sector, category, delta=delta, quantile=quantile)

    def describe(consumer=None, sector=None, category=None) -> str:
        return f"{results.describe(consumer, sector, category)} (quantile {quantile:g})"

    view.layer, view.describe = layer, describe
    return view


def robust_hotspot_masks(
    results: Any, share: float | None = None
) -> tuple[xr.DataArray, xr.DataArray, float] | None:
    """The deterministic hotspot cells of ``foreign_footprint`` and the robust ones.

    Parameters
    ----------
    results : Results
    share : float, optional
        The hotspot share; default the one ``hotspot_frequency`` counted (0.75).

    Returns
    -------
    tuple or None
        ``(hotspots, robust, land_share)``: lazy bool ``(y, x)`` masks and the
        hotspots' land share; None when the store has no ``hotspot_frequency``.
    """
    if FREQUENCY not in results.ds:
        return None
    counts = results.ds[FREQUENCY]
    share = float(counts.attrs["hotspot_share"]) if share is None else share
    values, land = as_dask(results.ds["foreign_footprint"]), results.lazy_land
    (held,) = results._holdings(values, [share])
    masks = robust_hotspots(
        values, land, held, as_dask(counts), realizations(results), compute=results._compute
    )
    template = results.ds["foreign_footprint"]
    hotspots, robust = (xr.DataArray(m, dims=template.dims, coords=template.coords) for m in masks)
    return hotspots, robust, held.land_share
