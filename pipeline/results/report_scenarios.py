"""The report's scenario section: each scenario's text, change maps and largest changes.

For each complete scenario of the results directory (``DIR/scenarios/NAME``):

- its declaration, as the study config's ``[[scenario]]`` table would read;
- the headline of its ``delta`` block (``summary.json``);
- two change maps on one zero-centred diverging scale
  (:mod:`pipeline.results.change_maps`): the foreign-driven total, and the
  consumer or ``[groups]`` entry whose CO2 in the study country changes most;
- the largest increases and decreases by province (the ``by_province``
  entries of the delta block: all CO2 emitted there) and by urban area (the
  change of foreign-driven CO2 over the merged city discs of the report's
  city table, :func:`pipeline.results.urban_areas.urban_areas`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.results import report_html as page
from pipeline.results.api import Results, open_results
from pipeline.results.borders import display_borders
from pipeline.results.change_maps import change_norm, draw_change_image, scale_name
from pipeline.results.map_kinds import land_array
from pipeline.results.maps import map_image, mask_extent, safe_slug, save_figure
from pipeline.results.names import Names
from pipeline.results.report_tables import mt, pct, tonnes_text
from pipeline.results.urban_areas import urban_areas
from pipeline.storage.versions import SCENARIOS, STORE_NAME

#: Rows of each table of increases or decreases.
TOP_CHANGES = 10


def scenario_names(results: Results) -> list[str]:
    """The scenarios written beside a baseline (``DIR/scenarios/NAME/footprint.zarr``)."""
    folder = results.directory / SCENARIOS
    if results.scenario is not None or not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / STORE_NAME).exists())


def declaration_text(attrs: dict) -> str:
    """A scenario's declaration (store attribute ``scenario_declaration``) as TOML text."""
    try:
        declared = json.loads(str(attrs.get("scenario_declaration", "{}")))
    except ValueError:
        return ""
    lines = ["[[scenario]]", f"name = {json.dumps(declared.get('name', ''))}"]
    for kind in ("final_demand", "emissions"):
        for shock in declared.get(kind, []):
            lines.append(f"[[scenario.{kind}]]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in shock.items()]
    return "\n".join(lines)


def signed_mt(tonnes: float) -> str:
    """A change with its sign, three significant digits, e.g. ``"+2.55 Mt"``, ``"-73.5 Mt"``."""
    return ("+" if tonnes > 0 else "") + tonnes_text(tonnes)


def change_rows(entries: dict, label: Callable[[str], str], *, rise: bool) -> pd.DataFrame:
    """The largest increases (``rise``) or decreases of a delta block's entries.

    ``entries`` maps a code to ``baseline_t``, ``scenario_t``, ``change_t``
    and ``change_pct`` (:mod:`pipeline.results.scenario_summary`).
    """
    sign = 1.0 if rise else -1.0
    chosen = [(k, v) for k, v in entries.items() if sign * v["change_t"] > 0]
    chosen.sort(key=lambda kv: -abs(kv[1]["change_t"]))
    chosen = chosen[:TOP_CHANGES]
    return pd.DataFrame(
        {
            "region": [label(k) for k, _ in chosen],
            "baseline": [mt(v["baseline_t"]) for _, v in chosen],
            "scenario": [mt(v["scenario_t"]) for _, v in chosen],
            "change": [signed_mt(v["change_t"]) for _, v in chosen],
            "change %": [
                "n/a" if v["change_pct"] is None else f"{v['change_pct']:+.2f} %" for _, v in chosen
            ],
        }
    )


def city_change_rows(table: pd.DataFrame, *, rise: bool) -> pd.DataFrame:
    """The largest increases or decreases of the urban areas' change (signed ``t_co2``)."""
    chosen = table[table["t_co2"] > 0] if rise else table[table["t_co2"] < 0]
    order = np.argsort(-np.abs(chosen["t_co2"].to_numpy()), kind="stable")
    chosen = chosen.iloc[order[:TOP_CHANGES]]
    return pd.DataFrame(
        {
            "urban area": chosen["city"].astype(str).to_numpy(),
            "province": chosen["province"].astype(str).to_numpy(),
            "change of foreign-driven CO2": chosen["t_co2"].map(signed_mt).to_numpy(),
        }
    )


def largest_change(delta: dict) -> str | None:
    """The consumer or group whose CO2 in the study country changes most (None: none does)."""
    entries = {**delta.get("by_consumer", {}), **delta.get("by_group", {})}
    sized = [(abs(v["change_t"]), k) for k, v in entries.items() if v["change_t"]]
    return max(sized)[1] if sized else None


def scenario_section(
    results: Results, out: Path, names: Names, echo: Callable[[str], None]
) -> list[str]:
    """The report's scenario section (empty without scenarios)."""
    found = scenario_names(results)
    if not found:
        return []
    parts = [
        page.heading("scenarios", "Scenarios"),
        page.paragraph(
            "Each scenario changes final demand or emissions and is solved with the baseline's "
            "Leontief factor. Maps show the change, scenario minus baseline, per cell: red "
            "where CO2 rises, blue where it falls, white where nothing changes, on one "
            "zero-centred scale per scenario. Province tables give all CO2 emitted there; "
            "city tables the change of foreign-driven CO2 over the urban areas' discs."
        ),
    ]
    for name in found:
        echo(f"  scenario {name}")
        parts += _one_scenario(open_results(results.directory, scenario=name), out, names)
    return parts


def _one_scenario(scenario: Results, out: Path, names: Names) -> list[str]:
    name = str(scenario.scenario)
    delta = scenario.summary().get("delta", {})
    anchor = f"scenario-{safe_slug(name)}"
    parts = [page.heading(anchor, f"Scenario {name}", 3)]
    parts.append(f"<pre>{page.html.escape(declaration_text(scenario.ds.attrs))}</pre>")
    parts.append(page.table(_headline(delta), text=True))
    parts.append(page.panels(_change_maps(scenario, delta, out, names)))
    label = names.labelled
    for title, rows in (
        ("Largest increases by province", change_rows(delta["by_province"], label, rise=True)),
        ("Largest decreases by province", change_rows(delta["by_province"], label, rise=False)),
    ):
        parts.append(_titled(title, rows, f"{anchor}-{title.lower().replace(' ', '-')}"))
    cities = urban_areas(scenario, delta=True)
    for title, rise in (("Largest increases by city", True), ("Largest decreases by city", False)):
        rows = city_change_rows(cities, rise=rise)
        parts.append(_titled(title, rows, f"{anchor}-{title.lower().replace(' ', '-')}"))
    return parts


def _titled(title: str, rows: pd.DataFrame, anchor: str) -> str:
    if not len(rows):
        return f"<p><strong>{title}</strong>: none.</p>"
    return f"<p><strong>{title}</strong></p>" + page.table(rows, anchor=anchor)


def _headline(delta: dict) -> pd.DataFrame:
    land = delta["land_share_for_75pct"]
    rows = [
        (
            what,
            f"{mt(v['baseline_t'])} → {mt(v['scenario_t'])} ({signed_mt(v['change_t'])}"
            + ("" if v["change_pct"] is None else f", {v['change_pct']:+.2f} %")
            + ")",
        )
        for what, v in (
            ("Foreign-driven CO2", delta["foreign_total_t"]),
            ("Domestic-driven CO2", delta["domestic_total_t"]),
            ("All CO2 emitted in the study country", delta["total_t"]),
        )
    ]
    rows.append(
        (
            "Land holding 75 % of foreign-driven CO2",
            f"{pct(land['baseline'], 2)} → {pct(land['scenario'], 2)}",
        )
    )
    return pd.DataFrame(rows, columns=["quantity", "baseline → scenario (change)"])


def _change_maps(scenario: Results, delta: dict, out: Path, names: Names) -> list[str]:
    """The foreign total's and the largest changer's change maps, on one scale."""
    land = land_array(scenario)
    frame = mask_extent(land)
    modelled = map_image(land.astype(np.uint8), frame).values > 0
    slug = safe_slug(str(scenario.scenario))
    maps = [(f"scenario_{slug}_foreign.png", "all foreign consumers", {})]
    largest = largest_change(delta)
    if largest is not None:
        file = f"scenario_{slug}_{safe_slug(largest)}.png"
        maps.append((file, names(largest), {"consumer": largest}))
    images = [
        replace(map_image(scenario.layer(**selection, delta=True), frame), modelled=modelled)
        for _, _, selection in maps
    ]
    norm = change_norm(images)
    borders, crs = display_borders(scenario), scenario.ds.rio.crs
    figures = []
    for (file, who, _), image in zip(maps, images, strict=True):
        title = f"Change of CO2 driven by {who} in scenario {scenario.scenario}"
        cell = "per cell" if image.factor == 1 else f"per {image.factor}x{image.factor} cells"
        label = f"change, t CO2 {cell}" + (f" ({scale_name(norm)})" if norm else "")
        fig, _ = draw_change_image(
            image, title=title, bar_label=label, borders=borders, note=scenario.note,
            frame=frame, crs=crs, norm=norm,
        )  # fmt: skip
        save_figure(fig, out / file)
        figures.append(page.figure(file, title))
    return figures
