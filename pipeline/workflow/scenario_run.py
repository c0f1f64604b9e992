"""Run a study's scenarios against its baseline: one batch of solves, one grid pass each.

Before any cluster starts, :func:`prepare` checks the groups and every
scenario's codes against the opened MRIO and inventory and forms each
scenario's changed final demand. Once the inventory's totals are known,
:func:`check_emissions` refuses emission shocks that match no emissions.

:func:`write_scenarios` then writes ``scenarios/NAME/footprint.zarr`` and
``summary.json`` into the run's new version, beside the baseline, so baseline
and scenarios are published together. Every scenario's changed columns are
solved in one batch with the baseline's factor of ``I - A`` (on the Dask
workers); each scenario then makes one grid pass, the baseline's fused write
pass with the scenario's tables (:mod:`pipeline.attribution.scenario_tables`),
which checks conservation per cell against the scenario's inventory and per
consumer against the scenario's attribution. The store's ``emissions`` and
``region_index`` are hard links to the baseline's, never rewritten.
:func:`run_alone` runs one scenario against an existing baseline
(``footprint-map run CONFIG --scenario NAME``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.attribution.conservation import CONSERVATION_RTOL
from pipeline.attribution.cube import STORE_LAYOUT
from pipeline.attribution.scenario_tables import (
    TABLE_DIMS,
    inputs_from_store,
    scenario_cube,
    scenario_tables,
    stored_totals,
)
from pipeline.errors import ConfigError, ConservationError, OutputError
from pipeline.grid.blocks import region_sector_totals
from pipeline.mrio.scenarios import balance_error, delta_shares, solve_changes
from pipeline.results import summary
from pipeline.results.scenario_summary import delta_summary, format_delta
from pipeline.results.uncertainty_summary import UNCERTAINTY_ATTR
from pipeline.storage.provenance import stage_key
from pipeline.storage.versions import (
    COMPLETE_ATTR,
    KEY_ATTR,
    SCENARIOS,
    STORE_NAME,
    link_copy,
    new_version,
    resolve_store,
    stored_key,
    write_text_atomic,
)
from pipeline.workflow import stages
from pipeline.workflow.scenarios import (
    ResolvedScenario,
    StudyCodes,
    demand_change,
    emission_factors,
    resolve_groups,
    resolve_scenario,
)

#: Baseline attributes a scenario's store does not inherit.
_OWN_ATTRS = {COMPLETE_ATTR, KEY_ATTR, "conservation_max_rel_error", UNCERTAINTY_ATTR}


@dataclass
class ScenarioPlan:
    """The study's groups and scenarios, checked against its MRIO and inventory.

    Attributes
    ----------
    groups : dict
        Group name -> member consumer codes (the nested country expanded).
    scenarios : tuple of ResolvedScenario
    changes : dict
        Scenario name -> its :class:`~pipeline.mrio.scenarios.DemandChange`.
    factors : dict
        Scenario name -> ``(n_producers, n_sectors)`` emission factors
        (:func:`check_emissions`).
    """

    groups: dict[str, tuple[str, ...]]
    scenarios: tuple[ResolvedScenario, ...]
    changes: dict[str, Any]
    factors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The scenarios' names, in config order."""
        return [r.name for r in self.scenarios]

    def store_attrs(self) -> dict[str, str]:
        """Attributes that record the groups in a store (none without groups)."""
        return {summary.GROUPS_ATTR: json.dumps(self.groups)} if self.groups else {}

    def key_extra(self) -> dict[str, Any]:
        """What the groups add to the baseline's ``--resume`` key (nothing without groups)."""
        return {"groups": self.groups} if self.groups else {}


def prepare(config: Any, loaded: Any, sectors: list[str]) -> ScenarioPlan:
    """Check ``[groups]`` and ``[[scenario]]`` against the MRIO and inventory sectors.

    Raises
    ------
    ConfigError
        Naming the group or scenario, the key and the valid codes.
    """
    table, source = loaded.table, str(config.path)
    codes = StudyCodes(
        consumers=tuple(table.consumers),
        regions=tuple(table.regions),
        categories=tuple(table.categories),
        sectors=tuple(sectors),
        country=config.study.country,
        provinces=tuple(loaded.domestic) if config.mrio.layout == "nested" else (),
    )
    groups = resolve_groups(config.groups, codes, source=source)
    resolved = tuple(
        resolve_scenario(s, groups, codes, table, source=source) for s in config.scenarios
    )
    changes = {r.name: demand_change(table, r, source=source) for r in resolved}
    return ScenarioPlan(groups, resolved, changes)


def check_emissions(
    plan: ScenarioPlan,
    producers: list[str],
    sectors: list[str],
    code_totals: np.ndarray,
    producer_of_code: np.ndarray,
    *,
    source: str,
) -> None:
    """Form each scenario's emission factors; refuse a shock on no emissions."""
    totals = np.zeros((len(producers), len(sectors)))
    has = producer_of_code >= 0
    np.add.at(totals, producer_of_code[has], code_totals[has])
    plan.factors = {
        r.name: emission_factors(r, producers, sectors, totals, source=source)
        for r in plan.scenarios
    }


def baseline_key(run: Any) -> str:
    """The ``--resume`` key of the baseline's result store (groups included)."""
    ensemble = run.ensemble.key_extra() if getattr(run, "ensemble", None) else {}
    return run.key("footprint", layout=STORE_LAYOUT, **run.scenarios.key_extra(), **ensemble)


def scenario_key(base_key: str, resolved: ResolvedScenario, groups: dict) -> str:
    """A scenario store's key: the baseline's, the scenario's declaration and the groups."""
    return stage_key(
        stage="scenario", baseline=base_key, scenario=resolved.scenario.declaration(), groups=groups
    )


@dataclass
class ScenarioContext:
    """What writing the scenarios needs from the run.

    Attributes
    ----------
    run : pipeline.workflow.run._Plan
        Config, output directory, keys, ``--resume``, echo and clock.
    table : MRIO
        The attribution-ready table.
    factored : pipeline.mrio.engine.FactoredTable
        The baseline's factor of ``I - A``.
    client, compute
        The cluster and its compute function.
    mrio_error : float
        The baseline's every-row conservation error.
    """

    run: Any
    table: Any
    factored: Any
    client: Any
    compute: Any
    mrio_error: float

    @property
    def plan(self) -> ScenarioPlan:
        """The run's checked scenarios."""
        return self.run.scenarios


def write_scenarios(
    ctx: ScenarioContext,
    version: Path,
    baseline_summary: dict,
    region_totals: np.ndarray,
    *,
    names: list[str] | None = None,
) -> dict[str, dict]:
    """Write (or, with ``--resume``, carry over) the scenarios into ``version``.

    ``version`` already holds the baseline's complete ``footprint.zarr``.

    Returns
    -------
    dict
        Scenario name -> its summary (carried-over scenarios included).
    """
    run, plan = ctx.run, ctx.plan
    base_store = version / STORE_NAME
    keys = {r.name: scenario_key(baseline_key(run), r, plan.groups) for r in plan.scenarios}
    chosen = [r for r in plan.scenarios if names is None or r.name in names]
    results = {}
    todo = []
    for resolved in chosen:
        current = run.out / SCENARIOS / resolved.name
        if run.reusable(current / STORE_NAME, keys[resolved.name], f"scenario {resolved.name!r}"):
            results[resolved.name] = _carry(current, version / SCENARIOS / resolved.name)
        else:
            todo.append(resolved)
    if not todo:
        return results
    changes = [plan.changes[r.name] for r in todo]
    width = sum(c.columns.size for c in changes)
    run.echo(
        f"  scenarios: {width} changed final-demand columns, solved with the baseline's factor"
    )
    solved = solve_changes(ctx.factored, changes, client=ctx.client)
    ds = xr.open_zarr(base_store)
    base = _Baseline(ds, base_store, baseline_summary, inputs_from_store(ds, region_totals))
    for resolved, change, dX in zip(todo, changes, solved, strict=True):
        run.clock.stage(f"scenario {resolved.name}: tables, grid pass, conservation, summary")
        folder = version / SCENARIOS / resolved.name
        folder.mkdir(parents=True)
        one = _Scenario(resolved, change, dX, keys[resolved.name])
        results[resolved.name] = _write_one(ctx, one, base, folder)
    return results


@dataclass(frozen=True)
class _Scenario:
    resolved: ResolvedScenario
    change: Any
    dX: np.ndarray
    key: str


@dataclass(frozen=True)
class _Baseline:
    ds: xr.Dataset
    store: Path
    summary: dict
    inputs: Any


def _tables(ctx: ScenarioContext, one: _Scenario, base: _Baseline) -> tuple[np.ndarray, ...]:
    """The scenario's tables, the baseline's, and the scenario's MRIO balance error (checked)."""
    error, row = balance_error(ctx.table, one.change, one.dX)
    if not error <= CONSERVATION_RTOL:
        raise ConservationError(
            f"conservation failed: scenario {one.resolved.name!r}: MRIO row {row} of the "
            f"scenario's change is out of balance by {error:.3g} (relative) > {CONSERVATION_RTOL:g}"
        )
    labels = [base.ds[d].values for d in ("region", "mrio_sector", "consumer", "category")]
    baseline = np.asarray(base.ds["region_shares"].transpose(*TABLE_DIMS).values, dtype=np.float64)
    tables = scenario_tables(
        baseline,
        base.inputs.weights,
        delta_shares(ctx.table, one.change, one.dX, labels),
        base.inputs.final_demand,
        ctx.plan.factors[one.resolved.name],
    )
    return tables, baseline, error


def _write_one(ctx: ScenarioContext, one: _Scenario, base: _Baseline, folder: Path) -> dict:
    """Store, summary and ``delta`` block of one scenario, in ``folder``."""
    name, config = one.resolved.name, ctx.run.config
    tables, baseline, balance = _tables(ctx, one, base)
    materialize = config.output.materialize or ()
    cube = scenario_cube(base.inputs, tables, baseline, materialize=materialize)
    ds = cube.ds.drop_vars(["emissions", "region_index"])
    ds.attrs = {k: v for k, v in base.ds.attrs.items() if k not in _OWN_ATTRS}
    ds.attrs.update(scenario=name, scenario_declaration=one.resolved.scenario.text())
    ds.attrs.update(ctx.plan.store_attrs())
    store = folder / STORE_NAME
    linked = {n: base.store / n for n in ("emissions", "region_index")}
    conserved = stages.write_checked(
        ds, cube.terms, store, key=one.key, compute=ctx.compute, linked=linked
    )
    result = summary.summarize_store(
        store,
        np.flatnonzero(base.inputs.producer_of_code >= 0),
        conservation_error=conserved,
        mrio_conservation_error=max(ctx.mrio_error, balance),
        hotspot_share=config.output.hotspot_share,
        compute=ctx.compute,
    )
    result["scenario"] = one.resolved.scenario.declaration()
    result["delta"] = delta_summary(base.ds, xr.open_zarr(store), base.summary, result)
    write_text_atomic(folder / "summary.json", summary.to_json(result))
    ctx.run.echo(format_delta(name, result["delta"]))
    return result


def _carry(source: Path, dest: Path) -> dict:
    """Hard-link a complete scenario directory into the new version; return its summary."""
    link_copy(resolve_store(source), dest)
    return json.loads((dest / "summary.json").read_text())


# ------------------------------------------------------------ one scenario alone
def require_baseline(run: Any, name: str) -> None:
    """Refuse ``--scenario NAME`` unless it is declared and the baseline is current.

    Raises
    ------
    ConfigError
        If the config declares no scenario ``name``.
    OutputError
        If ``DIR/footprint.zarr`` is missing, incomplete, or was written from
        other inputs, settings or package version (its ``--resume`` key differs).
    """
    config, out = run.config, run.out
    if name not in run.scenarios.names:
        raise ConfigError(
            f"{config.path}: --scenario {name!r}: no [[scenario]] of that name; "
            f"declared: {run.scenarios.names or 'none'}"
        )
    stored = stored_key(out / STORE_NAME)
    rerun = f"run `footprint-map run {config.path} --out {out}` first (without --scenario)"
    if stored is None:
        raise OutputError(
            f"{out}: no complete baseline result to run scenario {name!r} on; {rerun}"
        )
    if stored != baseline_key(run):
        raise OutputError(
            f"{out / STORE_NAME}: the baseline was written from other inputs, settings or "
            f"package version than {config.path}; {rerun} (--resume reuses what is unchanged)"
        )


def run_alone(ctx: ScenarioContext, name: str) -> dict:
    """Run scenario ``name`` against ``DIR``'s current baseline; publish a new version.

    The new version holds hard links to the current baseline (store, summary,
    maps) and to the other scenarios whose keys still match; the others are
    left out (their declaration or the baseline changed).

    Returns
    -------
    dict
        The scenario's summary (with its ``delta`` block).
    """
    run = ctx.run
    current = Path(os.path.realpath(run.out / STORE_NAME)).parent
    ds = xr.open_zarr(current / STORE_NAME)
    totals = stored_totals(ds)
    if totals is None:  # a store written before the totals were kept with it
        codes = ds["region_index"].attrs["flag_meanings"].split()
        lazy = region_sector_totals(ds["emissions"].data, ds["region_index"].data, len(codes))
        totals = np.asarray(ctx.compute(lazy)[0])[:-1]
    inputs = inputs_from_store(ds, totals)
    check_emissions(
        ctx.plan,
        [str(r) for r in ds["region"].values],
        [str(s) for s in ds["sector"].values],
        inputs.region_totals,
        inputs.producer_of_code,
        source=str(run.config.path),
    )
    with new_version(run.out) as version:
        for item in ("footprint.zarr", "summary.json", "maps"):
            _link(current / item, version / item)
        _carry_others(ctx, current, version, name)
        baseline_summary = json.loads((version / "summary.json").read_text())
        found = write_scenarios(ctx, version, baseline_summary, inputs.region_totals, names=[name])
    run.echo(f"  published {run.out / SCENARIOS / name} with the baseline it was run against")
    return found[name]


def _carry_others(ctx: ScenarioContext, current: Path, version: Path, name: str) -> None:
    """Hard-link the current version's other scenarios whose keys still match."""
    run = ctx.run
    base_key = baseline_key(run)
    for resolved in ctx.plan.scenarios:
        source = current / SCENARIOS / resolved.name
        if resolved.name == name or not source.is_dir():
            continue
        if stored_key(source / STORE_NAME) == scenario_key(base_key, resolved, ctx.plan.groups):
            _carry(source, version / SCENARIOS / resolved.name)
        else:
            run.echo(f"  not carried over: scenario {resolved.name!r} (its declaration changed)")


def _link(source: Path, dest: Path) -> None:
    """Hard-link a file or tree (copy where links are not possible)."""
    if source.is_dir():
        link_copy(source, dest)
    elif source.exists():
        try:
            os.link(source, dest)
        except OSError:
            shutil.copy2(source, dest)
