"""Zonal statistics of result layers over any polygons, with exact cell coverage.

A mixin of :class:`pipeline.results.api.Results` (kept apart so each module stays
short); it uses the store's grid, layers and recorded places.

A zone's total is ``sum_g coverage[z, g] * layer[g]``: each cell counts with
the fraction of its area inside the polygon, computed once per zones file by
exactextract (:mod:`pipeline.grid.zone_weights`) on the store's grid after the
zones are reprojected to the store's CRS (:mod:`pipeline.grid.zones`). The
weights then apply to every layer chunk by chunk in one Dask pass
(:mod:`pipeline.grid.zone_blocks`), which also sums each layer's total for the
shares. The driver holds the weights (the zones' cells) and one vector per
chunk, never a layer.

With ``[regions] city_polygons``, ``rank(by="city")`` ranks those polygons
this way instead of the discs around city points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, InputFileError
from pipeline.grid.zone_blocks import zone_totals
from pipeline.grid.zone_weights import ZoneWeights, coverage_warnings, zone_weights
from pipeline.grid.zones import Zones, read_zones
from pipeline.results import places

#: The keys of one layer selection.
SELECTION_KEYS = ("consumer", "sector", "category")
#: Name of the layer without a selection (the foreign-driven total).
FOREIGN_LAYER = "foreign"


def layer_label(selection: Mapping[str, str | None]) -> str:
    """A layer's column suffix: its codes joined by ``_`` (``"foreign"`` for none)."""
    parts = [str(selection[k]) for k in SELECTION_KEYS if selection.get(k) is not None]
    return "_".join(parts) or FOREIGN_LAYER


def layer_selections(
    consumer: str | None = None,
    sector: str | None = None,
    category: str | None = None,
    layers: Mapping[str, Mapping] | Sequence[Mapping] | None = None,
) -> dict[str, dict]:
    """The layers of a zonal query by column label: one selection, or ``layers``.

    Raises
    ------
    ConfigError
        If both are given, ``layers`` is empty, a selection has a key other
        than ``consumer``, ``sector``, ``category``, or two labels coincide.
    """
    if layers is None:
        single = {"consumer": consumer, "sector": sector, "category": category}
        return {layer_label(single): single}
    if any(v is not None for v in (consumer, sector, category)):
        raise ConfigError("give either `layers` or consumer/sector/category, not both")
    if isinstance(layers, Mapping):
        items = [(str(name), dict(sel)) for name, sel in layers.items()]
    else:
        items = [(layer_label(sel), dict(sel)) for sel in layers]
    if not items:
        raise ConfigError("`layers` is empty; give at least one selection, e.g. [{}]")
    found: dict[str, dict] = {}
    for name, selection in items:
        unknown = sorted(set(selection) - set(SELECTION_KEYS))
        if unknown:
            raise ConfigError(
                f"layer {name!r} selects by {unknown}; use only {list(SELECTION_KEYS)}"
            )
        if name in found:
            raise ConfigError(f"two layers are named {name!r}; give `layers` as a dict of names")
        found[name] = {k: selection.get(k) for k in SELECTION_KEYS}
    return found


def zonal_table(
    names: Sequence[str],
    labels: Sequence[str],
    totals: np.ndarray,
    area_km2: np.ndarray,
) -> pd.DataFrame:
    """One row per zone: ``zone``, then ``t_co2`` and ``share`` per layer, ``area_km2``.

    Parameters
    ----------
    names : sequence of str
        The zones' names, in file order.
    labels : sequence of str
        The layers' labels; with one layer the columns are ``t_co2`` and
        ``share``, with several ``t_co2_<label>`` and ``share_<label>``.
    totals : numpy.ndarray
        ``(n_layers, n_zones + 1)``: the zone sums and each layer's total
        over all cells (:func:`pipeline.grid.zone_blocks.zone_totals`).
    area_km2 : numpy.ndarray
        Each zone's area on the grid (coverage times cell area).
    """
    frame: dict[str, object] = {"zone": list(names)}
    for n, label in enumerate(labels):
        suffix = "" if len(labels) == 1 else f"_{label}"
        sums, total = totals[n, :-1], float(totals[n, -1])
        frame[f"t_co2{suffix}"] = sums
        frame[f"share{suffix}"] = sums / total if total > 0 else np.zeros_like(sums)
    frame["area_km2"] = np.asarray(area_km2, dtype=np.float64)
    return pd.DataFrame(frame)


class ZonalStatistics:
    """``Results.zonal`` and the city ranking over ``[regions] city_polygons``."""

    def zonal(
        self,
        zones: str | Path | Zones | Mapping | Sequence,
        field: str | None = None,
        consumer: str | None = None,
        sector: str | None = None,
        category: str | None = None,
        layers: Mapping[str, Mapping] | Sequence[Mapping] | None = None,
        *,
        crs=None,
    ) -> pd.DataFrame:
        """Coverage-weighted totals of one or several layers over each zone.

        Parameters
        ----------
        zones : str, Path, Zones, mapping or sequence
            A GeoJSON, Shapefile or GeoPackage file of polygons in any CRS
            (reprojected to the store's); or :class:`~pipeline.grid.zones.Zones`;
            or shapely polygons (``{name: polygon}`` or a list) in ``crs``.
        field : str, optional
            Property naming the zones; default the first text property, else
            the feature's position.
        consumer, sector, category : str, optional
            One layer (:meth:`layer`); none gives the foreign-driven total.
        layers : mapping or sequence, optional
            Several layers instead: selections such as ``[{"consumer": "USA"},
            {"consumer": "JPN", "category": "households"}]`` (labelled
            ``USA``, ``JPN_households``) or ``{label: selection}``.
        crs : optional
            CRS of geometries given in Python; default the store's.

        Returns
        -------
        pandas.DataFrame
            One row per zone, in file order: ``zone``, ``t_co2`` and ``share``
            (of the layer's total over all cells), or ``t_co2_<label>`` and
            ``share_<label>`` per layer, and ``area_km2`` (the zone's area on
            the grid). ``attrs``: ``warnings`` (zones repaired or outside the
            grid, which get 0 t), ``source``, ``layers`` (label: description)
            and ``totals_t`` (label: the layer's total).
        """
        selections = layer_selections(consumer, sector, category, layers)
        found = self._zones_of(zones, field, crs)
        on_grid, weights, notes = self._weights_of(found)
        values = [self._lazy_layer(**sel) for sel in selections.values()]
        (totals,) = self._compute(zone_totals(values, weights))
        totals = np.asarray(totals)
        table = zonal_table(
            on_grid.names, list(selections), totals, weights.per_zone(self.row_area_km2)
        )
        table.attrs.update(
            warnings=notes,
            source=found.source,
            layers={k: self.describe(**sel) for k, sel in selections.items()},
            totals_t={k: float(t) for k, t in zip(selections, totals[:, -1], strict=True)},
        )
        return table

    def _zones_of(self, zones, field: str | None, crs) -> Zones:
        """``zones`` as :class:`Zones` (a file is read, geometries wrapped)."""
        if isinstance(zones, Zones):
            return zones
        if isinstance(zones, str | Path):
            return read_zones(zones, field)
        if field is not None:
            raise ConfigError("`field` names a property of a zones file; name geometries by a dict")
        return Zones.from_geometries(zones, crs if crs is not None else self.grid.crs)

    def _weights_of(self, zones: Zones) -> tuple[Zones, ZoneWeights, list[str]]:
        """The zones on the store's grid, their weights and the warnings about them."""
        on_grid = zones.to_crs(self.grid.crs)
        weights = zone_weights(on_grid, self.grid)
        notes = [*zones.warnings, *coverage_warnings(on_grid, weights, self.grid)]
        return on_grid, weights, notes

    @cached_property
    def city_polygons(self) -> Zones | None:
        """The study's ``[regions] city_polygons``, or None (cities are then discs)."""
        recorded = places.stored_places(self.ds.attrs)["city_polygons"]
        if recorded is None:
            return None
        path = Path(recorded["path"])
        if not path.exists():
            raise InputFileError(
                f"{path}: the study's city polygons (`city_polygons`), recorded by the run, "
                "are missing; restore the file there or rerun the study"
            )
        return read_zones(
            path, recorded["field"], option="`city_polygons`", field_option="`city_polygons`"
        )

    @cached_property
    def _city_weights(self) -> tuple[Zones, ZoneWeights, list[str]]:
        return self._weights_of(self.city_polygons)

    def _city_polygon_table(self, values) -> pd.DataFrame:
        """``rank(by="city")`` over the city polygons: one row per polygon, largest first."""
        on_grid, weights, notes = self._city_weights
        (totals,) = self._compute(zone_totals([values], weights))
        table = zonal_table(
            on_grid.names, ["city"], np.asarray(totals), weights.per_zone(self.row_area_km2)
        )
        table = table.rename(columns={"zone": "city"})
        table = table.sort_values("t_co2", ascending=False, kind="stable").reset_index(drop=True)
        source = self.city_polygons.source
        table.attrs.update(
            note=f"{len(table)} city polygons of {Path(source).name} ([regions] city_polygons); "
            "each cell counts with the share of its area inside the polygon",
            source=source,
            warnings=notes,
        )
        return table
