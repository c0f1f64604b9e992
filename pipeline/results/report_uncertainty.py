"""The report's Monte Carlo parts, for results of a run with ``[uncertainty]``.

- :func:`interval_text` and :func:`share_interval_column`: each share's interval
  (the lowest to the highest stored quantile, e.g. 5-95 %) for the share tables;
- :func:`uncertainty_section`: the realizations, a table of the headline
  numbers with their quantiles (foreign- and domestic-driven CO2, the land
  holding 75 % and 90 %), the robustness of the hotspot cells, and the map of
  the robust hotspot cells (hotspot cells of the deterministic result that are
  hotspots in at least 90 % of the realizations,
  :func:`pipeline.results.uncertainty_view.robust_hotspot_masks`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline.results import report_html as page
from pipeline.results.borders import display_borders
from pipeline.results.map_kinds import (
    HOTSPOT_COLOUR,
    WEAK_HOTSPOT_COLOUR,
    draw_mask_classes,
    land_array,
)
from pipeline.results.maps import mask_extent, save_figure
from pipeline.results.report_tables import land_pct, mt, pct
from pipeline.results.uncertainty_view import robust_hotspot_masks

#: The robust-hotspot map's file in the report folder.
ROBUST_MAP = "robust_hotspots.png"


def uncertainty_block(results) -> dict | None:
    """The ``uncertainty`` block of the results' summary, or None."""
    return results.summary().get("uncertainty")


def _level(q: float) -> str:
    return f"{float(q):g}"


def interval_text(stats: dict, levels: list[float], text: Callable[[float], str]) -> str:
    """``"24.7 % – 24.9 %"``: the lowest and highest stored quantile of one statistic."""
    return f"{text(stats[_level(levels[0])])} – {text(stats[_level(levels[-1])])}"


def interval_name(block: dict) -> str:
    """A column name: ``"5–95 % interval (20 realizations)"``."""
    low, high = (100 * float(block["quantiles"][i]) for i in (0, -1))
    return f"{low:g}–{high:g} % interval ({block['realizations']} realizations)"


def share_interval_column(results, dim: str, codes: list[str]) -> tuple[str, list[str]] | None:
    """The share table's interval column for ``codes`` of ``dim``, or None without a block."""
    block = uncertainty_block(results)
    if not block or f"{dim}_shares" not in block:
        return None
    stats = block[f"{dim}_shares"]
    levels = block["quantiles"]
    return interval_name(block), [
        interval_text(stats[c], levels, pct) if c in stats else "n/a" for c in codes
    ]


def uncertainty_section(results, out: Path, echo: Callable[[str], None]) -> list[str]:
    """The report's uncertainty section (empty without an ``uncertainty`` block)."""
    block = uncertainty_block(results)
    if not block:
        return []
    summary = results.summary()
    levels = block["quantiles"]
    parts = [
        page.heading("uncertainty", "Uncertainty"),
        page.paragraph(
            f"{block['realizations']} Monte Carlo realizations (seed {block['seed']}, "
            f"{block['redraws']} tables redrawn): each perturbs the MRIO table and the "
            "inventory's region x sector magnitudes and is solved on its own. The table gives "
            "the deterministic result and the quantiles over the realizations; the share "
            f"tables give each share's {interval_name(block)}."
        ),
        page.table(_headline_rows(summary, block, levels), anchor="uncertainty-table"),
    ]
    robust = block.get("hotspot_robustness")
    if robust is None:
        return parts
    echo("    robust hotspot map")
    caption = (
        f"Robust hotspots: of the {robust['hotspot_cells']:,} cells holding "
        f"{robust['hotspot_share']:.0%} of the foreign-driven CO2, "
        f"{robust['robust_cells']:,} ({pct(robust['robust_share'])}) are hotspot cells in at "
        f"least {robust['min_frequency']:.0%} of the realizations "
        f"({robust['min_realizations']} of {block['realizations']})"
    )
    title = (
        f"Robust hotspots: {robust['hotspot_share']:.0%} hotspot cells in at least "
        f"{robust['min_frequency']:.0%} of {block['realizations']} realizations"
    )
    save_figure(robust_map(results, robust, title=title), out / ROBUST_MAP)
    return parts + [page.panels([page.figure(ROBUST_MAP, caption)])]


def _headline_rows(summary: dict, block: dict, levels: list[float]) -> pd.DataFrame:
    """Deterministic value and quantiles of the totals and land shares."""
    rows = [
        ("Foreign-driven CO2", "foreign_total_t", mt),
        ("Domestic-driven CO2", "domestic_total_t", mt),
        ("Land holding 75 % of foreign-driven CO2", "land_share_for_75pct", land_pct),
        ("Land holding 90 %", "land_share_for_90pct", land_pct),
    ]
    table = {"quantity": [], "deterministic": []}
    table.update({f"quantile {_level(q)}": [] for q in levels})
    for label, key, text in rows:
        if key not in block or key not in summary:
            continue
        table["quantity"].append(label)
        table["deterministic"].append(text(summary[key]))
        for q in levels:
            table[f"quantile {_level(q)}"].append(text(block[key][_level(q)]))
    return pd.DataFrame(table)


def robust_map(results, robust: dict, *, title: str):
    """The map of the hotspot cells, robust ones in a darker colour."""
    hotspots, strong, _ = robust_hotspot_masks(results, robust["hotspot_share"])
    frame = mask_extent(land_array(results))
    weak = f"hotspot cell in fewer than {robust['min_frequency']:.0%} of the realizations"
    classes = [
        (hotspots, WEAK_HOTSPOT_COLOUR, weak),
        (strong, HOTSPOT_COLOUR, f"robust hotspot cell ({robust['robust_cells']:,})"),
    ]
    return draw_mask_classes(
        results,
        classes,
        title=title,
        frame=frame,
        borders=display_borders(results),
        note=results.note,
    )
