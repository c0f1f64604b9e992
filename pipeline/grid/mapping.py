"""The one mapping from region-raster codes to MRIO producer regions.

A raster code (a boundary file's region code) maps to the MRIO region of the
same name, else to its ``aliases`` entry, else to ``default_region`` (e.g.
``"ROW"``) if given, else to nothing (-1); a run takes both from ``[regions]``. The run
stores the mapping it used as the ``producer_of_code`` attribute of the
store's ``region_index`` (plain ints: the position of each code in the
store's ``region`` coordinate, -1 for none), and every reader of a store
(results API, ``query``, ``report``, maps) uses :func:`store_mapping`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.errors import ConfigError

#: Attribute of ``region_index`` holding the mapping the run used.
MAPPING_ATTR = "producer_of_code"


def region_mapping(
    codes: Sequence[str],
    regions: Sequence[str],
    aliases: dict[str, str] | None = None,
    default_region: str | None = None,
) -> np.ndarray:
    """Position in ``regions`` of each raster code, or -1.

    Parameters
    ----------
    codes : sequence of str
        Codes of the region raster.
    regions : sequence of str
        MRIO (or stored producer) regions.
    aliases : dict, optional
        Raster code -> region, for codes whose name differs.
    default_region : str, optional
        Region of every code matched neither by name nor by alias.

    Returns
    -------
    numpy.ndarray
        ``(len(codes),)`` int64.

    Raises
    ------
    ConfigError
        If ``default_region`` or an alias target is not in ``regions``.
    """
    aliases = aliases or {}
    regions = [str(r) for r in regions]
    lookup = {r: n for n, r in enumerate(regions)}
    if default_region is not None and default_region not in lookup:
        raise ConfigError(
            f"`default_region` = {default_region!r} is not an MRIO region; use one of {regions}"
        )
    bad = {c: a for c, a in aliases.items() if a not in lookup}
    if bad:
        raise ConfigError(f"`aliases` {bad} name regions the MRIO does not have")
    fallback = lookup[default_region] if default_region is not None else -1
    return np.array(
        [lookup.get(aliases.get(c, c), fallback) for c in codes], dtype=np.int64
    ).reshape(len(codes))


def mapping_attrs(producer_of_code: np.ndarray) -> dict[str, list[int]]:
    """The ``region_index`` attribute recording a mapping (netCDF/zarr-safe ints)."""
    return {MAPPING_ATTR: [int(p) for p in np.asarray(producer_of_code).ravel()]}


def store_mapping(attrs: dict, codes: Sequence[str], producers: Sequence[str]) -> np.ndarray:
    """The mapping a store was built with (``region_index`` attrs), position per code.

    Stores written before the mapping was recorded fall back to matching codes
    to producer regions by name (aliases and ``default_region`` are then lost).
    """
    stored = attrs.get(MAPPING_ATTR)
    if stored is None:
        return region_mapping(codes, producers)
    mapping = np.asarray(stored, dtype=np.int64).reshape(-1)
    if mapping.size != len(codes) or mapping.max(initial=-1) >= len(producers):
        raise ConfigError(
            f"region_index attribute {MAPPING_ATTR} has {mapping.size} entries for "
            f"{len(codes)} codes and {len(producers)} regions; rerun `footprint-map run`"
        )
    return mapping
