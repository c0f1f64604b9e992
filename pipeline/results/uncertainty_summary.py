"""The ``uncertainty`` block of ``summary.json``: the headline shares' quantiles.

Computed once by the run from every realization's attribution (small arrays:
producer region x inventory sector x consumer x category), stored as JSON in
the store's :data:`UNCERTAINTY_ATTR` attribute, and copied into the summary
(:func:`pipeline.results.summary.summarize`), so a resumed store keeps it. The
shares follow the deterministic summary's rule: the home regions' CO2 driven by
foreign consumers, as shares of its total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np

from pipeline.attribution.cube import CubeInputs
from pipeline.attribution.region_tables import home_producers
from pipeline.grid.threshold_blocks import Holding, hotspot_mask

#: Store attribute holding the block (JSON).
UNCERTAINTY_ATTR = "uncertainty"
#: A robust hotspot cell is a hotspot cell in at least this share of the realizations.
ROBUST_FREQUENCY = 0.9


def ensemble_summary(
    attribution: np.ndarray,
    inputs: CubeInputs,
    levels: Sequence[float],
    *,
    redraws: int,
    mrio_error: float,
    seed: int,
    mrio_footprint: np.ndarray | None = None,
    land_shares: Mapping[float, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The block from the realizations' attribution ``(n, region, sector, consumer, category)``.

    Every statistic maps a label to ``{"0.05": ..., "0.5": ..., "0.95": ..., "mean": ...,
    "std": ...}`` (the requested quantiles over the realizations, their mean and
    standard deviation). ``consumer_totals_t``: each consumer's CO2 over every mapped cell.
    ``mrio_footprint`` ``(n, consumer)``: the kept rows' MRIO ``F`` driven by each
    consumer (:class:`pipeline.attribution.ensemble.Realization`).
    ``land_shares``: each realization's land share holding a share of its
    foreign-driven CO2 (share -> ``(n,)``), as ``land_share_for_XXpct``.
    """
    foreign = np.asarray(inputs.foreign, dtype=bool)
    home = home_producers(inputs.shares, foreign)
    part = attribution[:, home][:, :, :, foreign]
    total = part.sum(axis=(1, 2, 3, 4))
    scale = np.where(total > 0, total, 1.0)
    labels = {
        "consumer": [str(c) for c in np.asarray(inputs.shares["consumer"].values)[foreign]],
        "sector": [str(s) for s in inputs.emissions["sector"].values],
        "category": [str(k) for k in inputs.shares["category"].values],
    }
    axes = {"consumer": (1, 2, 4), "sector": (1, 3, 4), "category": (1, 2, 3)}
    block: dict[str, Any] = {
        "realizations": int(attribution.shape[0]),
        "seed": int(seed),
        "quantiles": [float(q) for q in levels],
        "redraws": int(redraws),
        "mrio_conservation_max_rel_error": float(mrio_error),
        "foreign_total_t": _stats(total, levels),
        "domestic_total_t": _stats(
            attribution[:, home][:, :, :, ~foreign].sum(axis=(1, 2, 3, 4)), levels
        ),
    }
    for name, axis in axes.items():
        shares = part.sum(axis=axis) / scale[:, None]
        block[f"{name}_shares"] = {
            label: _stats(shares[:, j], levels) for j, label in enumerate(labels[name])
        }
    consumers = [str(c) for c in inputs.shares["consumer"].values]
    totals = attribution.sum(axis=(1, 2, 4))
    block["consumer_totals_t"] = {c: _stats(totals[:, j], levels) for j, c in enumerate(consumers)}
    if mrio_footprint is not None:
        block["mrio_footprint_t"] = {
            c: _stats(mrio_footprint[:, j], levels) for j, c in enumerate(consumers)
        }
    for share, values in (land_shares or {}).items():
        block[land_share_key(share)] = _stats(np.asarray(values, dtype=np.float64), levels)
    return block


def land_share_key(share: float) -> str:
    """``land_share_for_75pct``: the summary's key of a hotspot share."""
    return f"land_share_for_{round(share * 100)}pct"


def robust_count(realizations: int, frequency: float = ROBUST_FREQUENCY) -> int:
    """The fewest realizations that are at least ``frequency`` of ``realizations``."""
    return int(np.ceil(round(frequency * realizations, 9)))


def robust_hotspots(
    values: da.Array,
    land: da.Array,
    holding: Holding,
    counts: da.Array,
    realizations: int,
    *,
    compute=dask.compute,
) -> tuple[da.Array, da.Array]:
    """Lazy masks: the deterministic hotspot cells, and those that are robust.

    Parameters
    ----------
    values, land : dask.array.Array
        ``(y, x)``: the deterministic ``foreign_footprint`` and the land.
    holding : Holding
        Its hotspot cells (the share that ``counts`` was made with).
    counts : dask.array.Array
        ``(y, x)`` the store's ``hotspot_frequency``.
    realizations : int
        The number of realizations counted.

    Returns
    -------
    hotspots, robust : dask.array.Array
        Bool; ``robust`` is a hotspot cell in at least :data:`ROBUST_FREQUENCY`
        of the realizations.
    """
    hotspots = hotspot_mask(values, land, holding, compute=compute)
    return hotspots, hotspots & (counts.rechunk(values.chunks) >= robust_count(realizations))


def hotspot_robustness(
    values: da.Array,
    land: da.Array,
    holding: Holding,
    counts: da.Array,
    realizations: int,
    *,
    compute=dask.compute,
) -> dict[str, Any]:
    """The share of the deterministic hotspot cells that are robust (one pass).

    Arguments as :func:`robust_hotspots`. The share is 0 without hotspot cells.
    """
    hotspots, robust = robust_hotspots(values, land, holding, counts, realizations, compute=compute)
    n_hot, n_robust = (int(n) for n in compute(hotspots.sum(), robust.sum()))
    return {
        "hotspot_share": float(holding.share),
        "min_frequency": ROBUST_FREQUENCY,
        "min_realizations": robust_count(realizations),
        "hotspot_cells": n_hot,
        "robust_cells": n_robust,
        "robust_share": n_robust / n_hot if n_hot else 0.0,
    }


def _stats(values: np.ndarray, levels: Sequence[float]) -> dict[str, float]:
    """The quantiles of ``values`` (keyed by the level's text) and their mean."""
    found = np.quantile(values, np.asarray(levels, dtype=np.float64))
    stats = {_level(q): float(v) for q, v in zip(levels, found, strict=True)}
    stats["mean"] = float(np.mean(values))
    stats["std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return stats


def _level(q: float) -> str:
    """A quantile's key: ``0.05``, ``0.5``, ``0.95``."""
    return f"{float(q):g}"


def share_interval(summary: dict, key: str, name: str) -> str:
    """``"   [p05 .. p95]"`` of a share in a summary with an ``uncertainty`` block, else ``""``."""
    block = summary.get("uncertainty")
    stats = (block or {}).get(key, {}).get(name)
    if not stats:
        return ""
    low, high = (stats[_level(q)] for q in (block["quantiles"][0], block["quantiles"][-1]))
    return f"   [{low:.1%} .. {high:.1%}]"


def format_uncertainty(block: dict) -> str:
    """One line: the realizations, redraws and the foreign-driven total's interval."""
    levels = block["quantiles"]
    total = block["foreign_total_t"]
    low, high = total[_level(levels[0])], total[_level(levels[-1])]
    return (
        f"\nuncertainty: {block['realizations']} realizations ({block['redraws']} redraws), "
        f"foreign-driven CO2 q{levels[0]:g}..q{levels[-1]:g}: {low:.4g} .. {high:.4g} t "
        f"(mean {total['mean']:.4g} t); shares' intervals in brackets"
    )
