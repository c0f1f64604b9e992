"""What a scenario changes: the ``delta`` block of its ``summary.json``, and its text.

Every total covers the study country's own producer regions (the home regions
of :func:`pipeline.results.summary.home_regions`), as the baseline summary does:

- ``foreign_total_t``, ``domestic_total_t`` and ``total_t``: the CO2 driven by
  foreign consumers, by domestic ones, and by all;
- ``by_consumer`` (every consumer) and ``by_group`` (each ``[groups]`` entry);
- ``by_sector`` and ``by_category``: the foreign-driven CO2, as the shares of
  the summary;
- ``by_province``: the CO2 of each home producer region (all consumers);
- ``land_share_for_75pct``: the baseline's, the scenario's and the change.

Each entry gives ``baseline_t``, ``scenario_t``, ``change_t`` and
``change_pct`` (``null`` where the baseline is 0); entries are listed by the
size of their change, largest first.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.results.summary import consumer_groups, home_regions


def _change(baseline: float, scenario: float) -> dict[str, float | None]:
    change = scenario - baseline
    return {
        "baseline_t": baseline,
        "scenario_t": scenario,
        "change_t": change,
        "change_pct": 100.0 * change / baseline if baseline else None,
    }


def _by(baseline: xr.DataArray, scenario: xr.DataArray, dim: str) -> dict[str, dict]:
    """:func:`_change` per label of ``dim``, largest change first."""
    others = [d for d in baseline.dims if d != dim]
    before, after = baseline.sum(others).values, scenario.sum(others).values
    labels = [str(v) for v in baseline[dim].values]
    order = np.argsort(-np.abs(after - before), kind="stable")
    return {labels[n]: _change(float(before[n]), float(after[n])) for n in order}


def delta_summary(
    baseline: xr.Dataset, scenario: xr.Dataset, baseline_summary: dict, scenario_summary: dict
) -> dict:
    """The ``delta`` block (module docstring) of ``scenario`` against ``baseline``.

    Parameters
    ----------
    baseline, scenario : xarray.Dataset
        The two stores (their ``attribution`` is read).
    baseline_summary, scenario_summary : dict
        Their summaries (for the land shares).
    """
    everywhere = baseline["attribution"].load()
    home = home_regions(everywhere)
    before = everywhere.isel(region=home)
    after = scenario["attribution"].load().isel(region=home)
    foreign = np.asarray(before["foreign"].values, dtype=bool)
    groups = consumer_groups(scenario.attrs)
    key = "land_share_for_75pct"
    return {
        "foreign_total_t": _change(
            float(before.isel(consumer=foreign).sum()), float(after.isel(consumer=foreign).sum())
        ),
        "domestic_total_t": _change(
            float(before.isel(consumer=~foreign).sum()), float(after.isel(consumer=~foreign).sum())
        ),
        "total_t": _change(float(before.sum()), float(after.sum())),
        "by_consumer": _by(before, after, "consumer"),
        "by_group": {
            name: _change(
                float(before.sel(consumer=members).sum()), float(after.sel(consumer=members).sum())
            )
            for name, members in groups.items()
        },
        "by_sector": _by(before.isel(consumer=foreign), after.isel(consumer=foreign), "sector"),
        "by_category": _by(before.isel(consumer=foreign), after.isel(consumer=foreign), "category"),
        "by_province": _by(before, after, "region"),
        key: {
            "baseline": baseline_summary[key],
            "scenario": scenario_summary[key],
            "change": scenario_summary[key] - baseline_summary[key],
        },
    }


def format_delta(name: str, delta: dict, *, top: int = 5) -> str:
    """A few lines on a scenario's change, for the terminal."""
    total = delta["foreign_total_t"]
    land = delta["land_share_for_75pct"]
    lines = [
        f"scenario {name}: foreign-driven CO2 {total['baseline_t']:.4g} t -> "
        f"{total['scenario_t']:.4g} t ({_signed(total)}); all CO2 {_signed(delta['total_t'])}; "
        f"land holding 75%: {land['baseline']:.2%} -> {land['scenario']:.2%}"
    ]
    for title, key in (("consumer", "by_consumer"), ("province", "by_province")):
        parts = [f"{k} {_signed(v)}" for k, v in list(delta[key].items())[:top]]
        lines.append(f"  largest changes by {title}: " + "; ".join(parts))
    return "\n".join(lines)


def _signed(entry: dict) -> str:
    pct = entry["change_pct"]
    text = f"{entry['change_t']:+.4g} t"
    return text + (f", {pct:+.2f}%" if pct is not None else "")
