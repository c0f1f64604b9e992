"""Offline HTML report of a results directory: maps, concentration, tables, provenance.

The report is one folder, ``index.html`` plus PNG files linked by relative
paths, with inline CSS and no scripts, fonts or network resources. Its figures
mirror Yang et al. (2020, Nat Commun 11:2237): the foreign-driven total
(Fig. 1a), the three largest foreign consumers (Fig. 1b-d), the two largest
sectors (Fig. 2a-b) and the largest consumer's households against its capital
formation (Fig. 3a-b), plus the concentration curve.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.errors import OutputError  # noqa: E402
from pipeline.results.analytics import CITY_RADIUS_KM  # noqa: E402
from pipeline.results.api import Results  # noqa: E402
from pipeline.results.borders import display_borders, raster_outlines  # noqa: E402,F401
from pipeline.results.maps import mask_extent, plot_layer, safe_slug  # noqa: E402
from pipeline.results.summary import home_regions  # noqa: E402

#: About how many exact points of each concentration curve the report plots.
CURVE_POINTS = 2000


@dataclass(frozen=True)
class Figure:
    """One map of the report: file name, caption and the selection it shows."""

    file: str
    caption: str
    selection: dict


def foreign_shares(results: Results, dim: str) -> pd.Series:
    """Shares of foreign-driven CO2 by ``dim`` (from ``attribution``), largest first.

    As in ``summary.json``: the CO2 of the study country's own regions only.
    """
    a = results.ds["attribution"]
    a = a.isel(consumer=np.flatnonzero(results.foreign), region=home_regions(a))
    sums = a.sum([d for d in a.dims if d != dim]).to_series()
    sums.index = sums.index.astype(str)
    total = float(sums.sum())
    return (sums / total if total else sums * 0).sort_values(ascending=False)


def paper_figures(results: Results) -> list[Figure]:
    """The maps of the report, in the order of the paper's figures."""
    consumers = list(foreign_shares(results, "consumer").index)
    sectors = list(foreign_shares(results, "sector").index)
    figures = [Figure("foreign_footprint.png", "Fig. 1a: CO2 driven by all foreign consumers", {})]
    for letter, consumer in zip("bcd", consumers[:3], strict=False):
        figures.append(
            Figure(
                f"consumer_{safe_slug(consumer)}.png",
                f"Fig. 1{letter}: CO2 driven by final demand in {consumer}",
                {"consumer": consumer},
            )
        )
    for letter, sector in zip("ab", sectors[:2], strict=False):
        figures.append(
            Figure(
                f"sector_{safe_slug(sector)}.png",
                f"Fig. 2{letter}: foreign-driven CO2 of sector {sector}",
                {"sector": sector},
            )
        )
    if consumers:
        largest = consumers[0]
        for letter, category in zip("ab", _household_and_capital(results.categories), strict=True):
            if category is not None:
                figures.append(
                    Figure(
                        f"consumer_{safe_slug(largest)}_{safe_slug(category)}.png",
                        f"Fig. 3{letter}: CO2 driven by {largest} {category.replace('_', ' ')}",
                        {"consumer": largest, "category": category},
                    )
                )
    return figures


#: Words that name the paper's Fig. 3 categories in the usual MRIO spellings
#: (``households``, EXIOBASE's "Final consumption expenditure by households",
#: ``capital_formation``, "Gross fixed capital formation", ``GFCF``, ``investment``).
_FIG3_WORDS = (("household",), ("capital", "gfcf", "investment"))


def _household_and_capital(categories: list[str]) -> list[str | None]:
    """The final-demand categories of households and of capital formation, if any."""
    found = []
    for words in _FIG3_WORDS:
        hits = [c for c in categories if any(w in c.lower() for w in words)]
        found.append(hits[0] if hits else None)
    return found


def write_maps(results: Results, out: Path, figures: list[Figure], echo) -> None:
    """Render each figure's layer with the study's borders, framed on its land cells."""
    borders = display_borders(results)
    land = results.ds["foreign_footprint"].copy(data=results.land)
    frame = mask_extent(land)
    for n, figure in enumerate(figures, start=1):
        echo(f"  map {n}/{len(figures)}: {figure.file}")
        plot_layer(
            results.layer(**figure.selection),
            out / figure.file,
            title=figure.caption.split(": ", 1)[-1],
            borders=borders,
            note=results.note,
            frame=frame,
            crs=results.ds.rio.crs,
        )


def write_curve(results: Results, out: Path, figures: list[Figure]) -> str:
    """Plot the concentration curves of the mapped layers; return the file name."""
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    for figure in figures[:6]:
        curve = results.concentration_curve(**figure.selection, points=CURVE_POINTS)
        label = figure.caption.split(": ", 1)[-1].replace("CO2 driven by ", "")
        ax.plot(curve["land_share"], curve["emission_share"], label=label, linewidth=1.2)
    for share in (0.75, 0.9):
        ax.axhline(share, color="0.6", linestyle=":", linewidth=0.8)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("share of land cells, densest first (symlog scale)")
    ax.set_ylabel("share of emissions on land")
    ax.set_title("Concentration of emissions over land")
    ax.legend(fontsize=7, loc="lower right")
    if results.note:
        fig.text(0.01, -0.04, results.note, fontsize=7, color="0.35")
    fig.savefig(out / "concentration_curve.png", bbox_inches="tight")
    plt.close(fig)
    return "concentration_curve.png"


def build_report(
    results: Results,
    out: Path,
    *,
    echo: Callable[[str], None] = lambda *_: None,
    top_cities: int = 10,
) -> Path:
    """Write the offline report to ``out`` and return ``out/index.html``.

    Parameters
    ----------
    results : Results
        An opened results directory.
    out : Path
        Report folder (created; files in it are overwritten).
    echo : callable
        Progress messages.
    top_cities : int
        Rows of the city table.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the report folder ({exc.strerror})") from exc
    figures = paper_figures(results)
    echo(f"[1] maps ({len(figures)})")
    write_maps(results, out, figures, echo)
    echo("[2] concentration curve and statistics")
    curve = write_curve(results, out, figures)
    concentration = results.concentration_table()
    echo("[3] tables and index.html")
    cities = results.rank(by="city", top=top_cities)
    page = render_html(results, figures, curve, concentration, cities)
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def render_html(results, figures, curve, concentration, cities) -> str:
    """The report's HTML text (self-contained apart from the relative PNG links)."""
    title = html.escape(str(results.ds.attrs.get("title", "footprint-map results")))
    parts = [_HEAD.format(title=title), f"<h1>{title}</h1>"]
    if "SYNTHETIC" in results.note.upper():
        parts.append(f'<p class="synthetic">{html.escape(results.note)}</p>')
    parts.append(_headline(results))
    parts.append("<h2>Maps</h2>")
    borders = (
        "the study's boundaries"
        if results.borders is not None
        else "the outlines of the study's region raster"
    )
    parts.append(
        f"<p>Emissions per grid cell in t CO2 (log colour scale), with {borders}, framed on "
        "the land cells. Consumer maps include every category and sector.</p>"
    )
    parts += [_img(f.file, f.caption) for f in figures]
    parts.append("<h2>Concentration</h2>")
    parts.append(_img(curve, "Concentration curves: share of land against share of emissions"))
    parts.append(
        "<p>land_share_XXpct: the smallest share of land cells (producer provinces) holding "
        "XX% of the layer's emissions on land (Yang et al. 2020 use 75%). area_km2_XXpct: "
        "their area, the spatial extent of Kanemoto et al. (2016) at 90%.</p>"
    )
    parts.append(_table(concentration))
    parts.append("<h2>Shares of foreign-driven CO2</h2>")
    for dim in ("consumer", "sector", "category"):
        shares = foreign_shares(results, dim).rename("share").rename_axis(dim).reset_index()
        parts.append(f"<h3>by {dim}</h3>" + _table(shares))
    parts.append(f"<h2>Top cities (foreign-driven CO2 within {CITY_RADIUS_KM:g} km)</h2>")
    parts.append(
        "<p>Sum over cells whose centre lies within the geodesic radius of the city point; "
        "discs of neighbouring places overlap, so city rows must not be added up. "
        f"{html.escape(cities.attrs.get('note', ''))}. {_city_credit(cities)}</p>"
    )
    if len(cities):
        parts.append(_table(cities.drop(columns=["geonameid"], errors="ignore")))
    parts.append(_provenance(results))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _headline(results: Results) -> str:
    summary = results.summary()
    rows = {
        "foreign-driven CO2 (t)": summary.get("foreign_total_t"),
        "domestic-driven CO2 (t)": summary.get("domestic_total_t"),
        "land share holding 75% of foreign-driven CO2": summary.get("land_share_for_75pct"),
        "land share holding 90%": summary.get("land_share_for_90pct"),
        "conservation max relative error": summary.get("conservation_max_rel_error"),
        "grid": grid_description(results),
    }
    frame = pd.DataFrame({"quantity": list(rows), "value": [_fmt(v) for v in rows.values()]})
    return _table(frame)


def grid_description(results: Results) -> str:
    """The grid's size and ground cell area, e.g. ``"40 x 60 cells of 0.5° x 0.5° (...)"``."""
    ny, nx = results.ds.sizes["y"], results.ds.sizes["x"]
    areas = results.row_area_km2
    if results.grid.geographic:
        dx, dy = results.grid.spacing
        land_rows = areas[results.land.any(axis=1)] if results.land.any() else areas
        return (
            f"{ny} x {nx} cells of {dx:g}° x {dy:g}° "
            f"({land_rows.min():.4g} to {land_rows.max():.4g} km² on land, by latitude)"
        )
    return f"{ny} x {nx} cells of {float(areas[0]):.4g} km²"


def _city_credit(cities: pd.DataFrame) -> str:
    source = str(cities.attrs.get("source", ""))
    if source.endswith("china_cities.csv"):
        return "City points: GeoNames, geonames.org (CC BY 4.0)."
    return f"City points: {html.escape(source)} ([regions] cities)."


def _provenance(results: Results) -> str:
    attrs = results.ds.attrs
    items = [("results directory", str(results.directory))]
    for key in ("created", "title", "note"):
        if key in attrs:
            items.append((key, str(attrs[key])))
    for key in ("package_versions", "input_checksums"):
        if key in attrs:
            items.append((key, _pretty_json(attrs[key])))
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td><pre>{html.escape(v)}</pre></td></tr>" for k, v in items
    )
    config = html.escape(str(attrs.get("config", "")))
    return (
        f'<h2>Provenance</h2><table class="prov">{rows}</table>'
        f"<h3>study config</h3><pre>{config}</pre>"
    )


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=1, sort_keys=True)
    except ValueError:
        return text


def _img(file: str, caption: str) -> str:
    src, text = html.escape(file), html.escape(caption)
    return f'<figure><img src="{src}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=_fmt, border=0, classes="data")


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       color: #222; }}
h1 {{ font-size: 1.5em; }}
.synthetic {{ background: #fff3cd; border: 1px solid #e0c060; padding: .5em; }}
figure {{ display: inline-block; width: 48%; margin: .5em 0; vertical-align: top; }}
figure img {{ width: 100%; height: auto; border: 1px solid #ddd; }}
figcaption {{ font-size: .85em; color: #444; }}
table.data {{ border-collapse: collapse; margin: .5em 0 1em; font-size: .85em; }}
table.data th, table.data td {{ border-bottom: 1px solid #ddd; padding: 2px 8px;
       text-align: right; }}
table.prov th {{ text-align: left; vertical-align: top; padding-right: 1em; }}
pre {{ font-size: .75em; white-space: pre-wrap; margin: 0; }}
</style></head><body>"""
