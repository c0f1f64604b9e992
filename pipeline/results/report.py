"""Offline HTML report of a results directory that can stand beside the paper.

The report is one folder, ``index.html`` plus PNG files linked by relative
paths, with inline CSS and no scripts, fonts or network resources. Its figures
mirror Yang et al. (2020, Nat Commun 11:2237): the foreign-driven total
(Fig. 1a), the three largest foreign consumers (Fig. 1b-d), the two largest
sectors (Fig. 2a-b) and the largest consumer's households against its capital
formation (Fig. 3a-b), each figure on one colour scale
(:mod:`pipeline.results.report_maps`), plus the domestic-driven map and the
concentration curves. Tables give Mt, % and km² with names instead of codes
(:mod:`pipeline.results.report_tables`); the page itself is
:mod:`pipeline.results.report_html`. ``figures.json`` records each panel's
colour scale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import OutputError
from pipeline.results import report_html as page
from pipeline.results import report_tables as tables
from pipeline.results.analytics import CITY_RADIUS_KM
from pipeline.results.api import Results
from pipeline.results.borders import display_borders, raster_outlines
from pipeline.results.maps import safe_slug
from pipeline.results.names import Names, label_text, study_names
from pipeline.results.report_maps import DOMESTIC, Figure, Panel, write_curve, write_maps
from pipeline.results.report_scenarios import scenario_section
from pipeline.results.report_uncertainty import share_interval_column, uncertainty_section
from pipeline.results.urban_areas import polygon_cities, urban_areas

__all__ = ["build_report", "display_borders", "paper_figures", "raster_outlines"]

SECTIONS = [
    ("headline", "Headline"),
    ("fig1", "Fig. 1: foreign consumers"),
    ("fig2", "Fig. 2: sectors"),
    ("fig3", "Fig. 3: households and capital formation"),
    ("domestic", "Domestic-driven CO2"),
    ("concentration", "Concentration"),
    ("provinces", "Provinces"),
    ("shares", "Shares of foreign-driven CO2"),
    ("uncertainty", "Uncertainty"),
    ("cities", "Cities"),
    ("scenarios", "Scenarios"),
    ("methods", "Methods"),
    ("provenance", "Provenance"),
]


def paper_figures(results: Results, names: Names | None = None) -> list[Figure]:
    """The maps of the report, in the order of the paper's figures, then the domestic map."""
    names = names or Names()
    consumers = list(tables.attribution_sums(results, "consumer").index)
    sectors = list(tables.attribution_sums(results, "sector").index)
    figures = [
        Figure("foreign_footprint.png", "Fig. 1a: CO2 driven by all foreign consumers", {}, "fig1")
    ]
    for letter, consumer in zip("bcd", consumers[:3], strict=False):
        caption = f"Fig. 1{letter}: CO2 driven by final demand in {names(consumer)}"
        figures.append(
            Figure(f"consumer_{safe_slug(consumer)}.png", caption, {"consumer": consumer}, "fig1")
        )
    for letter, sector in zip("ab", sectors[:2], strict=False):
        caption = f"Fig. 2{letter}: foreign-driven CO2 of sector {label_text(sector)}"
        figures.append(
            Figure(f"sector_{safe_slug(sector)}.png", caption, {"sector": sector}, "fig2")
        )
    if consumers:
        largest = consumers[0]
        for letter, category in zip("ab", _household_and_capital(results.categories), strict=True):
            if category is not None:
                caption = f"Fig. 3{letter}: CO2 driven by {names(largest)} {label_text(category)}"
                file = f"consumer_{safe_slug(largest)}_{safe_slug(category)}.png"
                figures.append(
                    Figure(file, caption, {"consumer": largest, "category": category}, "fig3")
                )
    country = tables.study_country(results)
    whose = f"in {names(country)}" if country else "in the study country"
    figures.append(
        Figure(
            "domestic_footprint.png",
            f"CO2 driven by final demand {whose}",
            {DOMESTIC: True},
            "domestic",
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
    names = study_names(results.ds.attrs)
    figures = paper_figures(results, names)
    echo(f"[1] maps ({len(figures)})")
    drawn = write_maps(results, out, figures, echo)
    _write_json(out / "figures.json", [_panel_record(p) for p in drawn])
    echo("[2] concentration curve and statistics")
    curve = write_curve(results, out, figures)
    concentration = results.concentration_table()
    echo("[3] scenarios and uncertainty")
    scenarios = scenario_section(results, out, names, echo)
    uncertainty = uncertainty_section(results, out, echo)
    echo("[4] tables and index.html")
    parts = _body(results, names, drawn, curve, concentration, top_cities, scenarios, uncertainty)
    index = out / "index.html"
    try:
        index.write_text(page.page(_title(results), parts), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{index}: cannot write the report ({exc.strerror})") from exc
    return index


def _title(results: Results) -> str:
    return str(results.ds.attrs.get("title", "footprint-map results"))


def _panel_record(panel: Panel) -> dict:
    figure = panel.figure
    return {
        "file": figure.file,
        "caption": figure.caption,
        "figure": figure.group,
        "vmin": panel.vmin,
        "vmax": panel.vmax,
    }


def _write_json(path: Path, value) -> None:
    try:
        path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from exc


def _body(
    results, names, drawn, curve, concentration, top_cities, scenarios, uncertainty
) -> list[str]:
    """The page's sections, in the order of :data:`SECTIONS` (scenarios, uncertainty if any)."""
    parts = [f"<h1>{page.html.escape(_title(results))}</h1>"]
    if "SYNTHETIC" in results.note.upper():
        parts.append(f'<p class="synthetic">{page.html.escape(results.note)}</p>')
    optional = {"scenarios": scenarios, "uncertainty": uncertainty}
    parts.append(page.toc([s for s in SECTIONS if optional.get(s[0], True)]))
    parts.append(page.heading("headline", "Headline"))
    headline = tables.headline(results, names, concentration)
    parts.append(page.table(headline, anchor="headline-table", text=True))
    parts += _map_sections(results, drawn)
    parts += _concentration_section(curve, concentration, names)
    parts += _province_section(results, names)
    parts += _shares_section(results, names)
    parts += uncertainty
    parts += _city_section(results, names, top_cities)
    parts += scenarios
    parts.append(page.heading("methods", "Methods"))
    summary = results.summary()
    errors = (summary["conservation_max_rel_error"], summary.get("mrio_conservation_max_rel_error"))
    parts.append(page.methods(errors))
    parts.append(page.provenance(results.ds.attrs, str(results.directory)))
    return parts


def _map_sections(results: Results, drawn: list[Panel]) -> list[str]:
    borders = (
        "the study's boundaries"
        if results.borders is not None
        else "the outlines of the study's region raster"
    )
    parts = [
        page.paragraph(
            f"Emissions per grid cell in t CO2 (log colour scale) with {borders}, framed on the "
            "land cells (the producer regions). Grey cells lie outside them (no data); white "
            "land cells emit nothing; values below the colour scale take its lightest colour. "
            "The panels of a figure "
            "share one colour scale. Consumer maps include every final-demand category and "
            "sector. Click a map to open it at full size."
        )
    ]
    for anchor, title in SECTIONS[1:5]:
        group = [p for p in drawn if p.figure.group == anchor]
        if not group:
            continue
        parts.append(page.heading(anchor, title))
        if group[0].vmin is not None:
            shared = "these panels share" if len(group) > 1 else "this map has"
            parts.append(
                f'<p class="scale">Colour scale: {shared} one log scale from '
                f"{tables.tonnes_text(group[0].vmin)} to {tables.tonnes_text(group[0].vmax)} "
                "per pixel.</p>"
            )
        parts.append(page.panels([page.figure(p.figure.file, p.figure.caption) for p in group]))
    return parts


def _concentration_section(curve: str, concentration, names: Names) -> list[str]:
    return [
        page.heading("concentration", "Concentration"),
        page.panels(
            [page.figure(curve, "Concentration curves: land share against emissions", wide=True)]
        ),
        page.paragraph(
            "Land holding X %: the smallest share of land cells (producer regions), densest "
            "first, holding X % of the layer's emissions on land (Yang et al. 2020 use 75 %). "
            "Its area at 90 % is the spatial extent of Kanemoto et al. (2016)."
        ),
        page.table(tables.concentration_rows(concentration, names)),
    ]


def _province_section(results: Results, names: Names) -> list[str]:
    rows = tables.province_rows(results, names, tables.producer_areas(results))
    return [
        page.heading("provinces", "Provinces"),
        page.paragraph(
            "The study country's producer regions by foreign-driven CO2: the CO2 emitted "
            "there, split by who drives it (foreign or domestic final demand), its share of "
            "the national foreign-driven total and the largest foreign consumer."
        ),
        page.table(rows, anchor="province-table"),
    ]


def _shares_section(results: Results, names: Names) -> list[str]:
    parts = [
        page.heading(f"shares-{dim}", f"by {dim}", 3)
        + page.table(_share_table(results, dim, names))
        for dim in ("consumer", "sector", "category")
    ]
    if results.groups:
        groups = tables.group_share_rows(results)
        parts.insert(1, page.heading("shares-group", "by consumer group", 3) + page.table(groups))
    return [page.heading("shares", "Shares of foreign-driven CO2"), page.side_by_side(parts)]


def _share_table(results: Results, dim: str, names: Names):
    """The share table of ``dim``, with each share's Monte Carlo interval if there is one."""
    frame = tables.share_rows(results, dim, names)
    codes = list(tables.attribution_sums(results, dim).index)
    column = share_interval_column(results, dim, codes)
    if column is not None:
        frame[column[0]] = column[1]
    return frame


def _city_section(results: Results, names: Names, top: int) -> list[str]:
    parts = [page.heading("cities", "Cities")]
    polygons = polygon_cities(results, top)
    if polygons is not None:  # the study's city polygons replace the discs
        note = str(polygons.attrs.get("note", "the study's city polygons"))
        return parts + [
            page.paragraph(f"Foreign-driven CO2 over {note}."),
            page.table(tables.polygon_city_rows(polygons), anchor="city-table"),
        ]
    table = urban_areas(results, top=top)
    source = str(table.attrs.get("source", ""))
    credit = (
        "City points: GeoNames, geonames.org (CC BY 4.0)."
        if source.endswith("china_cities.csv")
        else f"City points: {source} ([regions] cities)."
    )
    parts.append(
        page.paragraph(
            f"Foreign-driven CO2 within {CITY_RADIUS_KM:g} km (geodesic) of each urban area: "
            "places of one province whose point lies within that distance of a larger place "
            "(e.g. the districts of a city) are merged into it, and the area's cells are the "
            "union of their discs. Urban areas may still overlap, so rows must not be added "
            f"up. {table.attrs.get('note', '')}. {credit}"
        )
    )
    if len(table):
        parts.append(page.table(tables.city_rows(table, names), anchor="city-table"))
    return parts
