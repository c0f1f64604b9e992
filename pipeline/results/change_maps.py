"""Maps of a scenario's change (scenario - baseline): diverging colours centred on zero.

Decreases are blue, increases red, no change white; the scale is symmetric,
``vmin = -vmax``, so zero is always its middle. It is linear when the
changes span at most :data:`LINEAR_SPAN` (the largest change against the
smallest one shown), else symmetric-logarithmic
(:class:`matplotlib.colors.SymLogNorm`), linear within the smallest change
shown. Framing, cropping, coarsening, the no-data class, borders and the
furniture are those of every map (:mod:`pipeline.results.maps`).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.colors import Normalize, SymLogNorm

from pipeline.results.map_furniture import class_legend
from pipeline.results.maps import (
    MapImage,
    colour_bar_label,
    finish_map,
    image_extent,
    land_classes,
    map_figure,
    map_image,
    mask_extent,
)

#: Colour map of change maps (blue: decrease, white: none, red: increase).
CHANGE_COLOUR_MAP = "RdBu_r"
#: Largest ratio of the largest to the smallest change shown on a linear scale.
LINEAR_SPAN = 100.0


def change_norm(images: list[MapImage]) -> Normalize | None:
    """One zero-centred colour scale for maps of changes (None if nothing changes).

    ``vmax`` is the largest ``|change|`` of any pixel and ``vmin = -vmax``. The
    smallest change shown is the 1st percentile of the nonzero ``|change|``
    (at least ``vmax * 1e-6``): within :data:`LINEAR_SPAN` of ``vmax`` the
    scale is linear, else symmetric-log, linear below that smallest change.
    """
    sizes = [np.abs(m.values[np.isfinite(m.values) & (m.values != 0)]) for m in images]
    sizes = [s for s in sizes if s.size]
    if not sizes:
        return None
    vmax = max(float(s.max()) for s in sizes)
    small = max(min(float(np.percentile(s, 1)) for s in sizes), vmax * 1e-6)
    if vmax <= LINEAR_SPAN * small:
        return Normalize(-vmax, vmax)
    return SymLogNorm(linthresh=small, linscale=0.5, vmin=-vmax, vmax=vmax, base=10)


def change_ticks(norm: Normalize) -> list[float] | None:
    """Colour-bar ticks of a symmetric-log scale: 0 and at most 4 powers of ten a side.

    None (matplotlib's own) for a linear scale.
    """
    if not isinstance(norm, SymLogNorm):
        return None
    low = int(np.ceil(np.log10(norm.linthresh)))
    high = int(np.floor(np.log10(norm.vmax)))
    decades = list(range(high, low - 1, -1))
    step = max(1, int(np.ceil(len(decades) / 4)))
    tops = [10.0**d for d in decades[::step]]
    return [-t for t in tops] + [0.0] + tops[::-1]


def scale_name(norm: Normalize) -> str:
    """``"symmetric log scale"`` or ``"linear scale"``."""
    return "symmetric log scale" if isinstance(norm, SymLogNorm) else "linear scale"


def draw_change(
    layer: xr.DataArray,
    *,
    title: str,
    borders=None,
    note: str = "",
    frame=None,
    crs=None,
    land: xr.DataArray | None = None,
    norm: Normalize | None = None,
    outline=None,
):
    """A map of one ``(y, x)`` change layer; returns ``(figure, norm drawn or None)``.

    The options are :func:`pipeline.results.maps.draw_layer`'s; ``norm`` is a
    shared scale (:func:`change_norm` over several images), default the layer's own.
    """
    crs = layer.rio.crs if crs is None else crs
    frame = frame or mask_extent(layer != 0) or image_extent(layer)
    image = map_image(layer, frame, land)
    norm = norm or change_norm([image])
    label = "change, " + colour_bar_label(layer, image.factor, scale_name(norm) if norm else "")
    return draw_change_image(
        image,
        title=title,
        bar_label=label,
        borders=borders,
        note=note,
        frame=frame,
        crs=crs,
        norm=norm,
        outline=outline,
    )


def draw_change_image(
    image: MapImage,
    *,
    title: str,
    bar_label: str,
    borders,
    note: str,
    frame,
    crs,
    norm: Normalize | None = None,
    outline=None,
):
    """The figure of a change image (see :func:`draw_change`) and the norm it was drawn with."""
    norm = norm or change_norm([image])
    fig, ax = map_figure(frame, crs)
    values = np.array(image.values, dtype=float)
    classes = land_classes(ax, image, values, blank=values == 0, label="no change")
    if norm is not None:
        cmap = matplotlib.colormaps[CHANGE_COLOUR_MAP].with_extremes(bad=(0, 0, 0, 0))
        shown = ax.imshow(
            np.ma.masked_equal(values, 0.0),
            extent=image.extent,
            norm=norm,
            cmap=cmap,
            interpolation="nearest",
            zorder=1,
        )
        fig.colorbar(shown, ax=ax, shrink=0.8, pad=0.09, label=bar_label, ticks=change_ticks(norm))
    if classes:
        class_legend(ax, classes)
    finish_map(
        fig, ax, title=title, borders=borders, note=note, frame=frame, crs=crs, outline=outline
    )
    return fig, norm
