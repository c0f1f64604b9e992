"""What a map needs besides its data: axes in the CRS, graticule, scale bar, CRS note, legend.

- **Axes** follow the CRS: ``longitude (°)`` / ``latitude (°)`` on a geographic
  grid (aspect true at the frame's middle latitude); on a projected grid in
  metres, ``x (km)`` / ``y (km)`` (ticks in km of the CRS, no ``1e6`` offset);
  other units keep the CRS's unit (e.g. ``x (ftUS)``).
- **Graticule**: meridians and parallels every 1, 2, 5, 10, 15, 20 or 30
  degrees (3 to 8 lines across the frame), drawn faintly; on a projected grid
  they are curves, labelled in degrees on the top and right axes.
- **Scale bar**: a round length (1, 2 or 5 x 10^n km) about a fifth of the
  frame's width, measured as geodesic distance on the CRS's ellipsoid along
  the frame's middle row, in the lower right corner.
- **CRS note**: the CRS's name (and EPSG code), or for an unnamed projection
  its method, datum and parameters.
"""

from __future__ import annotations

import warnings

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from pyproj import CRS, Transformer

#: Short names of CRS axis units in axis labels.
UNIT_SYMBOLS = {"metre": "m", "kilometre": "km", "foot": "ft", "US survey foot": "ftUS"}
#: Colour of cells outside the producer regions (the no-data class).
NODATA_COLOUR = "#d9d9d9"
GRATICULE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0)
_QUIET = {"color": "0.55", "linewidth": 0.35, "linestyle": (0, (3, 3)), "zorder": 2}


def axis_labels(crs) -> tuple[str, str]:
    """Labels of the x and y axes from the CRS's axis info.

    ``("longitude (°)", "latitude (°)")`` on a geographic CRS, e.g.
    ``("x (km)", "y (km)")`` on a projected one in metres (the ticks are then
    drawn in km, :func:`frame_axes`), ``("x (ftUS)", "y (ftUS)")`` in US feet;
    ``("x", "y")`` without a CRS.
    """
    if crs is None:
        return "x", "y"
    crs = CRS.from_user_input(crs)
    labels = {}
    for axis in crs.axis_info:
        which = "x" if axis.direction.lower() in ("east", "west") else "y"
        if crs.is_geographic:
            name = "longitude" if which == "x" else "latitude"
            labels[which] = f"{name} (°)"
        else:
            unit = UNIT_SYMBOLS.get(axis.unit_name, axis.unit_name)
            labels[which] = f"{which} ({'km' if unit == 'm' else unit})"
    return labels.get("x", "x"), labels.get("y", "y")


def frame_axes(ax, frame: tuple[float, float, float, float], crs) -> None:
    """Limits, CRS axis labels, km ticks on a metre CRS and a true aspect."""
    xmin, xmax, ymin, ymax = frame
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    xlabel, ylabel = axis_labels(crs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if crs is None:
        return
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        middle = np.clip((ymin + ymax) / 2, -80.0, 80.0)
        ax.set_aspect(1.0 / np.cos(np.radians(middle)))
        return
    ax.set_aspect("equal")
    if xlabel.endswith("(km)"):
        km = FuncFormatter(lambda value, _: f"{value / 1000:,.0f}")
        ax.xaxis.set_major_formatter(km)
        ax.yaxis.set_major_formatter(km)


def crs_note(crs) -> str:
    """One line naming the CRS, e.g. ``"CRS: WGS 84 (EPSG:4326)"``."""
    if crs is None:
        return "CRS: none recorded"
    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    if crs.name and crs.name.lower() != "unknown":
        return f"CRS: {crs.name}" + (f" (EPSG:{epsg})" if epsg else "")
    operation = crs.coordinate_operation
    method = operation.method_name if operation is not None else "projection"
    skip = {"proj", "datum", "ellps", "units", "no_defs", "type", "towgs84", "x_0", "y_0"}
    with warnings.catch_warnings():  # PROJ strings lose details; enough for a note
        warnings.simplefilter("ignore", UserWarning)
        items = crs.to_dict().items()
    params = ", ".join(f"{k}={v}" for k, v in items if k not in skip)
    datum = crs.datum.name if crs.datum is not None else ""
    return f"CRS: {method}, {datum}" + (f" ({params})" if params else "")


def _lonlat_box(frame, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes along the frame's edges (finite points only)."""
    xmin, xmax, ymin, ymax = frame
    t = np.linspace(0.0, 1.0, 60)
    xs = np.concatenate([xmin + (xmax - xmin) * t, np.full(60, xmax), xmin + (xmax - xmin) * t])
    ys = np.concatenate([np.full(60, ymin), ymin + (ymax - ymin) * t, np.full(60, ymax)])
    xs = np.concatenate([xs, np.full(60, xmin), xmin + (xmax - xmin) * t[::7]])
    ys = np.concatenate([ys, ymin + (ymax - ymin) * t, np.full(t[::7].size, (ymin + ymax) / 2)])
    to_lonlat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = (np.asarray(v, dtype=float) for v in to_lonlat.transform(xs, ys))
    ok = np.isfinite(lon) & np.isfinite(lat)
    return lon[ok], lat[ok]


def graticule_step(span_degrees: float) -> float:
    """The step of :data:`GRATICULE_STEPS` giving 3 to 8 lines across ``span_degrees``."""
    for step in GRATICULE_STEPS:
        if span_degrees / step <= 8:
            return step
    return GRATICULE_STEPS[-1]


def _degrees(value: float, positive: str, negative: str) -> str:
    hemisphere = positive if value > 0 else negative if value < 0 else ""
    return f"{abs(value):g}°{hemisphere}"


def draw_graticule(ax, frame: tuple[float, float, float, float], crs) -> None:
    """Meridians and parallels over the frame (see the module); nothing without a CRS."""
    if crs is None:
        return
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        ax.grid(True, **_QUIET)
        return
    lon, lat = _lonlat_box(frame, crs)
    if not lon.size:
        return
    step = graticule_step(max(np.ptp(lon), np.ptp(lat)))
    dense_lat = np.linspace(max(lat.min() - step, -89.0), min(lat.max() + step, 89.0), 181)
    dense_lon = np.linspace(lon.min() - step, lon.max() + step, 181)
    to_crs = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    xmin, xmax, ymin, ymax = frame
    top, right = [], []
    for meridian in np.arange(np.ceil(lon.min() / step), np.floor(lon.max() / step) + 1) * step:
        x, y = to_crs.transform(np.full(dense_lat.size, meridian), dense_lat)
        ax.plot(x, y, **_QUIET)
        top += _crossings(np.asarray(x), np.asarray(y), ymax, (xmin, xmax), meridian)
    for parallel in np.arange(np.ceil(lat.min() / step), np.floor(lat.max() / step) + 1) * step:
        x, y = to_crs.transform(dense_lon, np.full(dense_lon.size, parallel))
        ax.plot(x, y, **_QUIET)
        right += _crossings(np.asarray(y), np.asarray(x), xmax, (ymin, ymax), parallel)
    _edge_labels(ax, top, right)


def _crossings(along, across, edge: float, span: tuple[float, float], degrees: float) -> list:
    """Where a graticule line crosses the line ``across == edge`` within ``span``."""
    found = []
    side = np.sign(across - edge)
    for i in np.flatnonzero(side[:-1] * side[1:] < 0):
        t = (edge - across[i]) / (across[i + 1] - across[i])
        position = along[i] + t * (along[i + 1] - along[i])
        if span[0] <= position <= span[1]:
            found.append((float(position), degrees))
    return found


def _edge_labels(ax, top: list, right: list) -> None:
    """Degree labels of the meridians on the top axis and the parallels on the right one."""
    same = (lambda v: v, lambda v: v)
    if top:
        axis = ax.secondary_xaxis("top", functions=same)
        axis.set_xticks([p for p, _ in top], [_degrees(d, "E", "W") for _, d in top])
        axis.tick_params(labelsize=7, colors="0.35", length=2)
    if right:
        axis = ax.secondary_yaxis("right", functions=same)
        axis.set_yticks([p for p, _ in right], [_degrees(d, "N", "S") for _, d in right])
        axis.tick_params(labelsize=7, colors="0.35", length=2)


def nice_length(target: float) -> float:
    """The largest of 1, 2 or 5 x 10^n not above ``target`` (> 0)."""
    power = 10.0 ** np.floor(np.log10(target))
    return float(max(m for m in (1.0, 2.0, 5.0) if m * power <= target) * power)


def scale_bar_km(frame: tuple[float, float, float, float], crs) -> tuple[float, float]:
    """``(length_km, length_in_crs_units)`` of the scale bar of a frame (see the module)."""
    crs = CRS.from_user_input(crs)
    xmin, xmax, ymin, ymax = frame
    middle_y, middle_x, half = (ymin + ymax) / 2, (xmin + xmax) / 2, (xmax - xmin) / 10
    xs = np.array([middle_x - half, middle_x + half])
    if crs.is_geographic:
        lon, lat = xs, np.full(2, middle_y)
    else:
        to_lonlat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        lon, lat = to_lonlat.transform(xs, np.full(2, middle_y))
    _, _, metres = crs.get_geod().inv(lon[0], lat[0], lon[1], lat[1])
    km_per_unit = metres / 1000.0 / (2 * half)
    length = nice_length((xmax - xmin) * km_per_unit / 5)
    return length, length / km_per_unit


def draw_scale_bar(ax, frame: tuple[float, float, float, float], crs) -> None:
    """A scale bar in the lower right corner (nothing without a CRS)."""
    if crs is None:
        return
    km, units = scale_bar_km(frame, crs)
    xmin, xmax, ymin, ymax = frame
    x1, y0 = xmax - 0.04 * (xmax - xmin), ymin + 0.05 * (ymax - ymin)
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 2}
    ax.plot([x1 - units, x1], [y0, y0], color="black", linewidth=3, solid_capstyle="butt", zorder=5)
    label = f"{km:,.0f} km" if km >= 1 else f"{km:g} km"
    ax.text(
        x1 - units / 2,
        y0 + 0.015 * (ymax - ymin),
        label,
        ha="center",
        va="bottom",
        fontsize=7,
        bbox=box,
        zorder=5,
    )


def class_legend(ax, classes: list[tuple[str, str]], *, loc: str = "lower left") -> None:
    """A legend of colour classes ``[(colour, label), ...]``."""
    handles = [Patch(facecolor=c, edgecolor="0.5", linewidth=0.5, label=t) for c, t in classes]
    ax.legend(handles=handles, loc=loc, fontsize=7, framealpha=0.85)


def furnish(ax, frame, crs) -> None:
    """Axes, graticule and scale bar of a map (see the module)."""
    frame_axes(ax, frame, crs)
    draw_graticule(ax, frame, crs)
    draw_scale_bar(ax, frame, crs)
    ax.set_xlim(frame[0], frame[1])
    ax.set_ylim(frame[2], frame[3])
