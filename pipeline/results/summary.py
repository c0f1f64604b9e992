"""Hotspot summary of a finished footprint store: shares, totals, concentration."""

from __future__ import annotations

import json

import dask
import numpy as np
import xarray as xr

from pipeline.attribution.ensemble import FREQUENCY
from pipeline.attribution.region_tables import home_producers
from pipeline.grid import blocks
from pipeline.grid.mapping import store_mapping
from pipeline.grid.threshold_blocks import Holding, cells_holding
from pipeline.results.statistics import as_dask
from pipeline.results.uncertainty_summary import (
    UNCERTAINTY_ATTR,
    format_uncertainty,
    hotspot_robustness,
    land_share_key,
    share_interval,
)


def summarize(
    cube: xr.Dataset,
    *,
    land_mask: xr.DataArray,
    conservation_error: float,
    mrio_conservation_error: float = float("nan"),
    hotspot_share: float = 0.75,
    compute=dask.compute,
) -> dict:
    """Headline numbers of a footprint cube.

    Parameters
    ----------
    cube : xarray.Dataset
        The store's dataset (lazy).
    land_mask : xarray.DataArray
        ``(y, x)`` bool, the cells counted as land (the producer regions).
    conservation_error : float
        Largest relative conservation error found while writing.
    mrio_conservation_error : float
        Largest relative gap between an MRIO row's attributed emissions and its
        ``F``, over every row of the (nested) table.
    hotspot_share : float, keyword-only
        Share of foreign-driven emissions whose land share is reported.

    Returns
    -------
    dict
        The ``summary.json`` content (see README.md, output contract).
    """
    everywhere = cube["attribution"].load()
    home = home_regions(everywhere)
    attribution = everywhere.isel(region=home)
    foreign = attribution["foreign"].values
    totals = _totals(attribution)
    held = _land_shares(cube["foreign_footprint"], land_mask, hotspot_share, compute)
    key = land_share_key(hotspot_share)
    summary = {
        **totals,
        "land_share_for_75pct": held[0.75].land_share,
        "land_share_for_90pct": held[0.9].land_share,
        "land_cells": held[0.75].n_land,
        "abroad_total_t": float(everywhere.isel(region=~home).sum()),
        "abroad_driven_by_domestic_t": float(
            everywhere.isel(region=~home, consumer=~foreign).sum()
        ),
        **_direct_final_demand(attribution),
        "conservation_max_rel_error": conservation_error,
        "mrio_conservation_max_rel_error": mrio_conservation_error,
        "units": "t CO2",
    }
    if key not in summary:
        summary[key] = held[float(hotspot_share)].land_share
    groups = consumer_groups(cube.attrs)
    if groups:
        summary["group_shares"] = _group_shares(totals["consumer_shares"], groups)
    summary["warnings"] = _warnings(attribution, totals["foreign_total_t"])
    if UNCERTAINTY_ATTR in cube.attrs:
        summary["uncertainty"] = _uncertainty(cube, land_mask, held, compute)
    return summary


def _uncertainty(cube: xr.Dataset, land_mask: xr.DataArray, held: dict, compute) -> dict:
    """The store's ``uncertainty`` block, with the robustness of its hotspot cells."""
    block = json.loads(cube.attrs[UNCERTAINTY_ATTR])
    if FREQUENCY in cube:
        counts = cube[FREQUENCY]
        values = as_dask(cube["foreign_footprint"])
        block["hotspot_robustness"] = hotspot_robustness(
            values,
            as_dask(land_mask).rechunk(values.chunks),
            held[float(counts.attrs["hotspot_share"])],
            as_dask(counts),
            int(counts.attrs["realizations"]),
            compute=compute,
        )
    return block


def summarize_store(
    store,
    producer_codes,
    *,
    conservation_error: float,
    mrio_conservation_error: float,
    hotspot_share: float,
    compute=dask.compute,
) -> dict:
    """:func:`summarize` of a written store; land is the study country's producer cells.

    ``producer_codes`` are the raster codes mapped to producer regions.
    """
    opened = xr.open_zarr(store)
    index = opened["region_index"]
    land = index.copy(data=blocks.cells_in(index.data, home_codes(opened, producer_codes)))
    return summarize(
        opened,
        land_mask=land,
        conservation_error=conservation_error,
        mrio_conservation_error=mrio_conservation_error,
        hotspot_share=hotspot_share,
        compute=compute,
    )


#: Store attribute holding ``[groups]`` (JSON: group name -> member consumer codes).
GROUPS_ATTR = "consumer_groups"


def consumer_groups(attrs: dict) -> dict[str, list[str]]:
    """The consumer groups a store was written with (empty if none)."""
    return json.loads(attrs.get(GROUPS_ATTR) or "{}")


def _group_shares(consumer_shares: dict[str, float], groups: dict[str, list[str]]) -> dict:
    """Each group's share of the foreign-driven CO2 (its foreign members'), largest first."""
    shares = {g: sum(consumer_shares.get(c, 0.0) for c in members) for g, members in groups.items()}
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def _land_shares(
    layer: xr.DataArray, land_mask: xr.DataArray, hotspot_share: float, compute
) -> dict[float, Holding]:
    """The exact :class:`Holding` of 75%, 90% and ``hotspot_share``, in one set of passes.

    On Dask with bounded driver memory: histogram passes over the lazy layer
    find each threshold value, and no pass brings the grid into the driver
    (:func:`pipeline.grid.threshold_blocks.cells_holding`).
    """
    shares = [0.75, 0.9, float(hotspot_share)]
    values, land = as_dask(layer), as_dask(land_mask)
    found = cells_holding(values, land.rechunk(values.chunks), shares, compute=compute)
    return {h.share: h for h in found}


def _totals(attribution: xr.DataArray) -> dict:
    """Shares of the home regions' foreign-driven CO2, and the foreign and domestic totals."""
    foreign = attribution["foreign"].values
    foreign_part = attribution.isel(consumer=foreign)
    foreign_total = float(foreign_part.sum())
    return {
        "consumer_shares": _shares(foreign_part, "consumer", foreign_total),
        "sector_shares": _shares(foreign_part, "sector", foreign_total),
        "category_shares": _shares(foreign_part, "category", foreign_total),
        "foreign_total_t": foreign_total,
        "domestic_total_t": float(attribution.isel(consumer=~foreign).sum()),
    }


def home_regions(attribution: xr.DataArray) -> np.ndarray:
    """Bool per producer ``region``: True for the study country's own regions.

    Those are the producer regions that are also domestic consumers (the
    provinces of a nested table, or ``[study] domestic_regions``). On a grid
    that reaches beyond the country (a worldwide inventory) the other
    producers are *abroad*; the headline totals and shares cover the home
    regions only. The same rule limits the stored foreign-driven cubes
    (:func:`pipeline.attribution.region_tables.home_producers`).
    """
    return home_producers(attribution, attribution["foreign"].values)


def home_codes(cube: xr.Dataset, producer_codes=None) -> list[int]:
    """Positions of the raster codes (among ``producer_codes``, default all) of home regions.

    These are the *land* of the summary, the statistics, the maps and the report.

    A store without ``attribution`` (no consumers, e.g. a bare test store)
    counts every producer region as home.
    """
    index = cube["region_index"]
    codes = index.attrs["flag_meanings"].split()
    producers = [str(r) for r in cube["region"].values]
    mapping = store_mapping(index.attrs, codes, producers)
    if "attribution" in cube:
        home = home_regions(cube["attribution"])
    else:
        home = np.ones(len(producers), dtype=bool)
    if producer_codes is None:
        producer_codes = range(len(codes))
    return [int(n) for n in producer_codes if mapping[n] >= 0 and home[mapping[n]]]


def _direct_final_demand(attribution: xr.DataArray) -> dict:
    """Totals of the inventory sectors mapped to ``final_demand:<category>``."""
    if "final_demand_category" in attribution.coords:
        direct = np.array([str(v) for v in attribution["final_demand_category"].values])
    else:
        direct = np.full(attribution.sizes["sector"], "")
    part = attribution.isel(sector=direct != "")
    by_category = part.sum(("region", "sector", "consumer"))
    return {
        "direct_final_demand_t": float(part.sum()),
        "direct_final_demand_by_category_t": {
            str(k): float(v)
            for k, v in zip(by_category["category"].values, by_category.values, strict=True)
            if v != 0
        },
    }


def _warnings(attribution: xr.DataArray, foreign_total: float) -> list[str]:
    """Loud notes on results that are valid but probably not what the study meant."""
    consumers = attribution["consumer"].values
    domestic = [str(c) for c in consumers[~attribution["foreign"].values]]
    if foreign_total > 0:
        return []
    listed = ", ".join(domestic[:8]) + (" ..." if len(domestic) > 8 else "")
    fix = "set [study] country to the mapped country or list [study] domestic_regions"
    if len(domestic) == len(consumers):
        cause = "every consumer region is domestic"
    elif attribution.sizes["region"] == 0:
        cause = "no cell of the grid lies in the study country's regions"
    elif float(attribution.sum()) == 0.0:
        cause = "the inventory's cells in the study country's regions emit 0 t"
        fix = "check that the inventory covers the study country and its sector layers"
    else:
        cause = "no foreign final demand reaches the study country's regions"
    return [f"foreign-driven CO2 is 0 t because {cause} (domestic: {listed or 'none'}); {fix}"]


def _shares(part: xr.DataArray, dim: str, total: float) -> dict[str, float]:
    sums = part.sum([d for d in part.dims if d != dim])
    ordered = sums.sortby(sums, ascending=False)
    return {
        str(k): float(v) / total if total else 0.0
        for k, v in zip(ordered[dim].values, ordered.values, strict=True)
    }


def format_summary(summary: dict, *, top: int = 10) -> str:
    """Plain-text table of a summary for the terminal."""
    lines = [
        f"foreign-driven CO2: {summary['foreign_total_t']:.4g} t   "
        f"domestic-driven: {summary['domestic_total_t']:.4g} t",
        f"land holding 75% of foreign-driven CO2: {summary['land_share_for_75pct']:.2%} "
        f"of {summary['land_cells']} land cells   "
        f"(90%: {summary['land_share_for_90pct']:.2%})",
        f"conservation max relative error: {summary['conservation_max_rel_error']:.2e} "
        f"(cells), {summary.get('mrio_conservation_max_rel_error', float('nan')):.2e} "
        "(every MRIO row)",
    ]
    if summary.get("abroad_total_t", 0.0) > 0:
        lines.insert(
            1,
            f"abroad (mapped cells outside the study country): {summary['abroad_total_t']:.4g} t, "
            f"of which driven by domestic demand: {summary['abroad_driven_by_domestic_t']:.4g} t",
        )
    for title, key in (
        ("consumer", "consumer_shares"),
        ("sector", "sector_shares"),
        ("category", "category_shares"),
    ):
        lines.append(f"\n{'top ' + title:<22}share of foreign-driven CO2")
        for name, share in list(summary[key].items())[:top]:
            lines.append(f"  {name:<20}{share:>8.1%}{share_interval(summary, key, name)}")
    if "uncertainty" in summary:
        lines.append(format_uncertainty(summary["uncertainty"]))
    return "\n".join(lines)


def to_json(summary: dict) -> str:
    """Serialise a summary with stable key order."""
    return json.dumps(summary, indent=2)
