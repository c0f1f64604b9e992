"""Graticule, scale bar, axes and CRS note of maps (no store)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from pyproj import CRS, Geod  # noqa: E402

from pipeline.results.map_furniture import (  # noqa: E402
    axis_labels,
    crs_note,
    furnish,
    graticule_step,
    nice_length,
    scale_bar_km,
)

ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m"


def test_axis_labels_follow_the_crs():
    assert axis_labels(CRS.from_epsg(4326)) == ("longitude (°)", "latitude (°)")
    assert axis_labels(CRS.from_proj4(ALBERS)) == ("x (km)", "y (km)")
    assert axis_labels(CRS.from_epsg(2263)) == ("x (ftUS)", "y (ftUS)")
    assert axis_labels(None) == ("x", "y")


def test_crs_note_names_the_crs():
    assert crs_note(CRS.from_epsg(4326)) == "CRS: WGS 84 (EPSG:4326)"
    note = crs_note(CRS.from_proj4(ALBERS))
    assert note.startswith("CRS: Albers Equal Area, World Geodetic System 1984")
    assert "lat_1=25" in note and "lon_0=105" in note


@pytest.mark.parametrize(("span", "step"), [(3.0, 1.0), (12.0, 2.0), (70.0, 10.0), (400.0, 30.0)])
def test_graticule_step(span, step):
    assert graticule_step(span) == step


@pytest.mark.parametrize(("target", "length"), [(222.6, 200.0), (0.7, 0.5), (999.0, 500.0)])
def test_nice_length(target, length):
    assert nice_length(target) == length


def test_scale_bar_is_geodesic():
    length, units = scale_bar_km((0.0, 10.0, -1.0, 1.0), CRS.from_epsg(4326))
    per_degree = Geod(ellps="WGS84").inv(4.0, 0.0, 6.0, 0.0)[2] / 2000.0
    assert length == 200.0
    assert units == pytest.approx(200.0 / per_degree, rel=1e-9)
    # Albers is true to scale on its standard parallels: 1 km per 1000 m there
    length, units = scale_bar_km((-5e5, 5e5, 2.0e6, 4.0e6), CRS.from_proj4(ALBERS))
    assert length == 200.0 and units == pytest.approx(200_000.0, rel=0.02)


def test_projected_map_gets_degree_labels_and_km_ticks():
    fig, ax = plt.subplots()
    frame = (-2.6e6, 2.2e6, 1.9e6, 5.9e6)
    furnish(ax, frame, CRS.from_proj4(ALBERS))
    assert (*ax.get_xlim(), *ax.get_ylim()) == pytest.approx(frame)
    fig.canvas.draw()
    top = [t.get_text() for t in ax.child_axes[0].get_xticklabels()]
    right = [t.get_text() for t in ax.child_axes[1].get_yticklabels()]
    assert "100°E" in top and "120°E" in top and "30°N" in right
    assert ax.xaxis.get_major_formatter()(2_000_000.0, 0) == "2,000"
    assert [t.get_text() for t in ax.texts] == ["500 km"]  # about a fifth of 4,800 km
    plt.close(fig)


def test_geographic_map_has_a_grid_and_true_aspect():
    fig, ax = plt.subplots()
    furnish(ax, (126.0, 145.5, 31.0, 45.5), CRS.from_epsg(4326))
    assert ax.get_aspect() == pytest.approx(1 / np.cos(np.radians(38.25)))
    assert ax.xaxis.get_gridlines()[0].get_visible()
    plt.close(fig)
