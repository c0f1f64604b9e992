"""The report's tables, with numbers as a paper prints them: Mt, %, km², names.

Every table here is a :class:`pandas.DataFrame` of strings, ready for HTML: no
scientific notation (``3,574.0 Mt``, ``5.20 %``, ``487,500 km²``), names
instead of codes (:mod:`pipeline.results.names`).
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd

from pipeline.results.names import Names, label_text
from pipeline.results.summary import home_regions


def mt(tonnes: float) -> str:
    """Tonnes as ``"3,574.0 Mt"`` (``kt`` or ``t`` below 0.1 Mt)."""
    tonnes = float(tonnes)
    if abs(tonnes) >= 1e5:
        return f"{tonnes / 1e6:,.1f} Mt"
    if abs(tonnes) >= 100:
        return f"{tonnes / 1e3:,.1f} kt"
    return f"{tonnes:,.1f} t"


def tonnes_text(tonnes: float) -> str:
    """Tonnes with three significant digits in t, kt or Mt, e.g. ``"1.2 kt"``, ``"110 Mt"``."""
    tonnes = float(tonnes)
    for unit, size in (("Mt", 1e6), ("kt", 1e3), ("t", 1.0)):
        if abs(tonnes) >= size or unit == "t":
            value = tonnes / size
            digits = max(0, 2 - int(math.floor(math.log10(abs(value))))) if value else 0
            return f"{value:,.{digits}f} {unit}"
    return f"{tonnes} t"  # unreachable


def pct(share: float, decimals: int | None = None) -> str:
    """A share as ``"24.8 %"`` (default: two decimals below 10 %, two digits below 0.01 %)."""
    value = 100.0 * float(share)
    if value == 0:
        return "0 %"
    if abs(value) < 0.01:  # two significant digits, never 1e-05
        return f"{value:.{min(12, 1 - math.floor(math.log10(abs(value))))}f} %"
    if decimals is None:
        decimals = 2 if abs(value) < 10 else 1
    return f"{value:.{decimals}f} %"


def land_pct(share: float) -> str:
    """A share of land cells, always with two decimals (``"5.20 %"``, ``"10.80 %"``)."""
    return pct(share, 2)


def km2(area: float) -> str:
    """An area as ``"487,500 km²"`` (one decimal below 100 km²)."""
    area = float(area)
    return f"{area:,.1f} km²" if area < 100 else f"{area:,.0f} km²"


def digits_agreeing(error: float) -> int:
    """How many significant digits two numbers share, given their relative difference."""
    return int(min(16, math.floor(-math.log10(max(float(error), 1e-16)))))


def study_country(results) -> str | None:
    """``[study] country`` of the store's recorded config, if any."""
    try:
        config = tomllib.loads(str(results.ds.attrs.get("config", "")))
    except tomllib.TOMLDecodeError:
        return None
    return config.get("study", {}).get("country")


def attribution_sums(results, dim: str, foreign: bool = True) -> pd.Series:
    """The study country's CO2 driven by foreign (or domestic) consumers, by ``dim``."""
    a = results.ds["attribution"]
    chosen = results.foreign if foreign else ~results.foreign
    a = a.isel(consumer=np.flatnonzero(chosen), region=home_regions(a))
    sums = a.sum([d for d in a.dims if d != dim]).to_series()
    sums.index = sums.index.astype(str)
    return sums.sort_values(ascending=False)


def headline(results, names: Names, concentration: pd.DataFrame) -> pd.DataFrame:
    """The headline table: totals in Mt and %, land shares in % and km², the checks."""
    summary = results.summary()
    foreign, domestic = summary["foreign_total_t"], summary["domestic_total_t"]
    whole = foreign + domestic
    country = study_country(results)
    where = f"emitted in {names(country)}" if country else "emitted in the study country"
    total = concentration.iloc[0]
    consumers = attribution_sums(results, "consumer")
    sectors = attribution_sums(results, "sector")
    top = ", ".join(f"{names(c)} {pct(v / foreign)}" for c, v in consumers.head(3).items())
    errors = (summary["conservation_max_rel_error"], summary.get("mrio_conservation_max_rel_error"))
    rows = [
        ("Foreign-driven CO2", f"{mt(foreign)} ({pct(foreign / whole)} of the CO2 {where})"),
        ("Domestic-driven CO2", f"{mt(domestic)} ({pct(domestic / whole)})"),
        ("Largest foreign consumers", top),
        ("Largest sector of foreign-driven CO2", _largest(sectors, foreign)),
        (
            "Land holding 75 % of foreign-driven CO2",
            f"{land_pct(total['land_share_75pct'])} of the land ({km2(total['area_km2_75pct'])})",
        ),
        (
            "Land holding 90 % (spatial extent)",
            f"{land_pct(total['land_share_90pct'])} of the land ({km2(total['area_km2_90pct'])})",
        ),
        ("Land (cells of producer regions)", land_text(results, summary)),
        ("Grid", grid_description(results)),
        ("Conservation check", _conservation(errors)),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"])


def _largest(sectors: pd.Series, foreign: float) -> str:
    if not len(sectors):
        return "n/a"
    return f"{label_text(sectors.index[0])} {pct(sectors.iloc[0] / foreign)}"


def _conservation(errors) -> str:
    cells, rows = errors
    worst = max(e for e in errors if e is not None)
    what = "cell sums and every MRIO row agree" if rows is not None else "cell sums agree"
    return f"passed: the {what} with the inventory to {digits_agreeing(worst)} digits"


def land_text(results, summary: dict) -> str:
    """``"3,749 cells, 9,372,500 km²"``."""
    cells = int(summary.get("land_cells", int(results.land.sum())))
    area = float(np.asarray(results.land.sum(axis=1), dtype=float) @ results.row_area_km2)
    return f"{cells:,} cells, {km2(area)}"


def grid_description(results) -> str:
    """The grid's size and ground cell area, e.g. ``"40 x 60 cells of 0.5° x 0.5° (...)"``."""
    ny, nx = results.ds.sizes["y"], results.ds.sizes["x"]
    areas = results.row_area_km2
    if results.grid.geographic:
        dx, dy = results.grid.spacing
        land_rows = areas[results.land.any(axis=1)] if results.land.any() else areas
        low, high = float(land_rows.min()), float(land_rows.max())
        span = f"{low:,.1f} to {high:,.1f} km² on land, by latitude"
        return f"{ny:,} x {nx:,} cells of {dx:g}° x {dy:g}° ({span})"
    return f"{ny:,} x {nx:,} cells of {km2(float(areas[0]))}"


def concentration_rows(table: pd.DataFrame, names: Names) -> pd.DataFrame:
    """:meth:`Results.concentration_table` with names, Mt, % of land and km²."""
    layer = [
        "all foreign consumers"
        if kind == "total"
        else (names(code) if kind == "consumer" else f"sector {label_text(code)}")
        for kind, code in zip(table["kind"], table["code"], strict=True)
    ]
    return pd.DataFrame(
        {
            "foreign-driven CO2 of": layer,
            "on land": table["total_t"].map(mt),
            "land holding 75 %": table["land_share_75pct"].map(land_pct),
            "its area (75 %)": table["area_km2_75pct"].map(km2),
            "land holding 90 %": table["land_share_90pct"].map(land_pct),
            "its area (90 %, spatial extent)": table["area_km2_90pct"].map(km2),
        }
    )


def share_rows(results, dim: str, names: Names) -> pd.DataFrame:
    """Foreign-driven CO2 by consumer, sector or category: name, Mt and share."""
    sums = attribution_sums(results, dim)
    total = float(sums.sum()) or 1.0
    label = names.labelled if dim == "consumer" else label_text
    return pd.DataFrame(
        {
            dim: [label(code) for code in sums.index],
            "foreign-driven CO2": sums.map(mt).to_numpy(),
            "share": (sums / total).map(pct).to_numpy(),
        }
    )


def group_share_rows(results) -> pd.DataFrame:
    """Foreign-driven CO2 of each consumer group (``[groups]``): members, Mt and share.

    A group's CO2 is its members' sum (a domestic member adds its domestic-driven CO2).
    """
    sums = attribution_sums(results, "consumer")
    domestic = attribution_sums(results, "consumer", foreign=False)
    everyone = pd.concat([sums, domestic])
    total = float(sums.sum()) or 1.0
    groups = {g: float(everyone.reindex(m).fillna(0).sum()) for g, m in results.groups.items()}
    return pd.DataFrame(
        {
            "group": list(groups),
            "members": [", ".join(results.groups[g]) for g in groups],
            "CO2": [mt(v) for v in groups.values()],
            "share of foreign-driven": [pct(v / total) for v in groups.values()],
        }
    )


def province_rows(results, names: Names, areas: pd.Series) -> pd.DataFrame:
    """One row per producer region of the study country, by foreign-driven CO2.

    ``areas`` holds each producer region's land area in km² (by code).
    """
    a = results.ds["attribution"]
    a = a.isel(region=home_regions(a)).sum(["sector", "category"]).to_pandas()
    a.index, a.columns = a.index.astype(str), a.columns.astype(str)
    foreign_codes = [c for c, f in zip(results.consumers, results.foreign, strict=True) if f]
    foreign = a[foreign_codes].sum(axis=1)
    everyone = a.sum(axis=1)
    largest = a[foreign_codes].idxmax(axis=1)
    national = float(foreign.sum()) or 1.0
    order = foreign.sort_values(ascending=False, kind="stable").index
    area = areas.reindex(order).fillna(0.0)
    return pd.DataFrame(
        {
            "province": [names.labelled(c) for c in order],
            "CO2 emitted": everyone[order].map(mt).to_numpy(),
            "foreign-driven": foreign[order].map(mt).to_numpy(),
            "domestic-driven": (everyone - foreign)[order].map(mt).to_numpy(),
            "foreign share of its CO2": (foreign / everyone.where(everyone > 0))[order]
            .fillna(0.0)
            .map(pct)
            .to_numpy(),
            "share of national foreign-driven": (foreign[order] / national).map(pct).to_numpy(),
            "largest foreign consumer": [names(largest[c]) for c in order],
            "land area": area.map(km2).to_numpy(),
            "foreign-driven per km²": [
                f"{foreign[c] / area[c]:,.0f} t" if area[c] > 0 else "n/a" for c in order
            ],
        }
    )


def producer_areas(results) -> pd.Series:
    """Land area (km²) of each producer region, from the per-code province ranking."""
    table = results.rank("province", None).set_index("province")["area_km2"]
    owner = dict(zip(results.codes, results.producer_of_code, strict=True))
    areas = pd.Series(0.0, index=results.producers)
    for code, area in table.items():
        position = owner.get(str(code), -1)
        if position >= 0:
            areas.iloc[position] += float(area)
    return areas


def city_rows(table: pd.DataFrame, names: Names) -> pd.DataFrame:
    """The urban areas (:func:`pipeline.results.urban_areas.urban_areas`) for the report."""
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(table) + 1),
            "urban area": table["city"].astype(str).to_numpy(),
            "province": [names(p) for p in table["province"]],
            "population": table["population"].map(lambda v: f"{int(v):,}").to_numpy(),
            "places merged": [
                merged_text(n, also) for n, also in zip(table["places"], table["also"], strict=True)
            ],
            "foreign-driven CO2": table["t_co2"].map(mt).to_numpy(),
            "share": table["share"].map(pct).to_numpy(),
        }
    )


def merged_text(places: int, also: str, most: int = 3) -> str:
    """``"19 (with Puxi, Pudong, Minhang and 15 more)"``, or ``"1"``."""
    if places <= 1:
        return "1"
    others = [name.strip() for name in str(also).split(",") if name.strip()]
    shown = ", ".join(others[:most])
    rest = len(others) - most
    return f"{places} (with {shown}" + (f" and {rest} more)" if rest > 0 else ")")


def polygon_city_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The city polygons' ranking (``city``, ``t_co2``, ``share``, ``area_km2``) for the report."""
    rows = {"rank": np.arange(1, len(table) + 1), "city": table["city"].astype(str).to_numpy()}
    rows["foreign-driven CO2"] = table["t_co2"].map(mt).to_numpy()
    rows["share"] = table["share"].map(pct).to_numpy()
    if "area_km2" in table:
        rows["area"] = table["area_km2"].map(km2).to_numpy()
    return pd.DataFrame(rows)
