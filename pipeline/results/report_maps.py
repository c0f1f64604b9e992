"""The report's figures: map panels sharing one colour scale per figure, and the curves.

Each figure of the paper (Fig. 1a-d, 2a-b, 3a-b) is drawn as panels with one log
colour scale (:func:`pipeline.results.maps.log_limits` over all its panels), so
its panels compare; the scale actually drawn is returned with each
:class:`Panel`. Cells outside the producer regions are the no-data class.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from pipeline.grid import blocks  # noqa: E402
from pipeline.kernels.tables import rows_for_codes  # noqa: E402
from pipeline.results.borders import display_borders  # noqa: E402
from pipeline.results.map_kinds import land_array  # noqa: E402
from pipeline.results.maps import (  # noqa: E402
    colour_bar_label,
    draw_image,
    log_limits,
    map_image,
    mask_extent,
    save_figure,
)
from pipeline.results.summary import home_regions  # noqa: E402

#: About how many exact points of each concentration curve the report plots.
CURVE_POINTS = 2000
DOMESTIC = "domestic"


@dataclass(frozen=True)
class Figure:
    """One map panel of the report.

    Attributes
    ----------
    file : str
        PNG file name.
    caption : str
        E.g. ``"Fig. 1b: CO2 driven by final demand in Japan"``.
    selection : dict
        The layer (:meth:`Results.layer` arguments), or ``{"domestic": True}``.
    group : str
        The figure the panel belongs to (panels of a group share a colour scale).
    """

    file: str
    caption: str
    selection: dict = field(default_factory=dict)
    group: str = ""

    @property
    def title(self) -> str:
        """The caption without its figure number."""
        return self.caption.split(": ", 1)[-1]


@dataclass(frozen=True)
class Panel:
    """A drawn panel: its figure, and the colour scale (``vmin``, ``vmax``) it was drawn with."""

    figure: Figure
    vmin: float | None
    vmax: float | None


def domestic_layer(results) -> xr.DataArray:
    """Lazy ``(y, x)`` CO2 driven by the study country's own consumers, on its cells.

    Per cell ``sum_s e[s] * sum_{c domestic, k} M[r, s, c, k]`` over the home
    regions, as the foreign total is over the foreign consumers.
    """
    shares = results.shares[:, :, ~results.foreign, :].sum(axis=(2, 3))
    shares = shares * home_regions(results.ds["attribution"])[:, None]
    tables = rows_for_codes(shares[:, :, None], results.producer_of_code)
    template = results.ds["foreign_footprint"]
    data = blocks.apply_region_tables(
        results.ds["emissions"].data, results.ds["region_index"].data, tables, dtype=template.dtype
    )[0]
    layer = xr.DataArray(data, dims=template.dims, coords=template.coords, name="footprint")
    layer.attrs = {"units": "t CO2", "long_name": "CO2 driven by domestic final demand"}
    return layer


def figure_layer(results, figure: Figure) -> xr.DataArray:
    """The lazy layer a figure shows."""
    if figure.selection.get(DOMESTIC):
        return domestic_layer(results)
    return results.layer(**figure.selection)


def write_maps(
    results, out: Path, figures: list[Figure], echo: Callable[[str], None]
) -> list[Panel]:
    """Draw every figure's panels with one colour scale per group; return the panels drawn."""
    borders, land = display_borders(results), land_array(results)
    frame = mask_extent(land)
    modelled = map_image(land.astype(np.uint8), frame).values > 0
    crs, panels, n = results.ds.rio.crs, [], 0
    for _, members in itertools.groupby(figures, key=lambda f: f.group):
        members = list(members)
        layers = [figure_layer(results, f) for f in members]
        images = [replace(map_image(layer, frame), modelled=modelled) for layer in layers]
        limits = log_limits(images)
        for figure, layer, image in zip(members, layers, images, strict=True):
            n += 1
            echo(f"  map {n}/{len(figures)}: {figure.file}")
            fig = draw_image(
                image,
                title=figure.title,
                borders=borders,
                note=results.note,
                bar_label=colour_bar_label(layer, image.factor),
                frame=frame,
                crs=crs,
                limits=limits,
            )
            norm = drawn_norm(fig)
            panels.append(Panel(figure, *((norm.vmin, norm.vmax) if norm else (None, None))))
            save_figure(fig, out / figure.file)
    return panels


def drawn_norm(fig) -> LogNorm | None:
    """The log colour scale the map's data image was drawn with (None if it has none)."""
    norms = [image.norm for image in fig.axes[0].images if isinstance(image.norm, LogNorm)]
    return norms[0] if norms else None


def write_curve(results, out: Path, figures: list[Figure]) -> str:
    """Write :func:`draw_curve` as ``concentration_curve.png``; return the file name."""
    save_figure(draw_curve(results, figures), out / "concentration_curve.png")
    return "concentration_curve.png"


def draw_curve(results, figures: list[Figure]) -> plt.Figure:
    """Concentration curves of the mapped layers, exact sampled points on a log land axis.

    The x axis is logarithmic from the first cell's land share to 100 %, so the
    densest few per cent, where hotspots lie, are as legible as the rest (no
    linear/log seam); the points are :meth:`Results.concentration_curve`'s.
    """
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    smallest = 1.0
    for figure in [f for f in figures if not f.selection.get(DOMESTIC)][:6]:
        curve = results.concentration_curve(**figure.selection, points=CURVE_POINTS)
        curve = curve[curve["land_share"] > 0]
        smallest = min(smallest, float(curve["land_share"].min()))
        label = figure.title.replace("CO2 driven by ", "").replace("final demand in ", "")
        ax.plot(curve["land_share"], curve["emission_share"], label=label, linewidth=1.3)
    for share in (0.75, 0.9):
        ax.axhline(share, color="0.6", linestyle=":", linewidth=0.8)
        ax.annotate(
            f"{share:.0%}",
            (1.0, share),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color="0.4",
            annotation_clip=False,
        )
    ax.set_xscale("log")
    ax.set_xlim(smallest, 1.0)
    ax.set_ylim(0, 1.01)
    percent = FuncFormatter(lambda v, _: f"{100 * v:.10g} %")
    ax.xaxis.set_major_formatter(percent)
    ax.yaxis.set_major_formatter(percent)
    ax.set_xlabel("share of land cells, densest first (log scale)")
    ax.set_ylabel("share of the layer's emissions on land")
    ax.set_title("Concentration of foreign-driven CO2 over land")
    ax.grid(True, which="major", color="0.9", linewidth=0.6)
    ax.legend(fontsize=7, loc="upper left")
    if results.note:
        fig.text(0.01, -0.04, results.note, fontsize=7, color="0.35")
    return fig
