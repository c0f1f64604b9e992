"""Run a configured study end to end: MRIO -> shares -> grid -> cubes -> summary."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

import numpy as np
import xarray as xr
from distributed import Client

from cluster import progress_compute
from pipeline import __version__
from pipeline.attribution import conservation
from pipeline.attribution import cube as cube_mod
from pipeline.attribution.concordance import read_concordance, table_weights
from pipeline.attribution.factorized import with_footprint
from pipeline.attribution.scenario_tables import totals_attr
from pipeline.mrio import attribution_shares
from pipeline.mrio.engine import FactoredTable
from pipeline.results import maps, summary
from pipeline.storage.lock import output_lock
from pipeline.storage.provenance import input_checksums, provenance, stage_key
from pipeline.storage.publication import publishing_to
from pipeline.storage.versions import (
    STORE_NAME,
    check_outside_inputs,
    clean_output,
    ensure_writable_dir,
    link_copy,
    new_version,
    resolve_store,
    stored_key,
    write_text_atomic,
    write_zarr_atomic,
)
from pipeline.workflow import scenario_run, stages, uncertainty_run
from pipeline.workflow.config import OutputSettings, StudyConfig, toml_items
from pipeline.workflow.keys import naming_keys
from pipeline.workflow.outputs import prepare_repository, run_output

SYNTHETIC_NOTE = "SYNTHETIC demo data: economic and emission numbers are made up."


def run_study(
    config: StudyConfig,
    out: Path,
    *,
    connect: Callable[[], ContextManager[Client]] | None = None,
    echo: Callable[[str], None] = print,
    show_progress: bool = False,
    note: str = "",
    resume: bool = False,
    scenario: str | None = None,
    tag: str | None = None,
) -> dict:
    """Run ``config``: write and commit ``footprint.zarr``, ``summary.json``, maps, scenarios.

    Inputs are checked before any cluster starts; every ``[[scenario]]`` is
    published with the baseline in ``out/scenarios/NAME/`` (:mod:`.scenario_run`).

    Parameters
    ----------
    config : StudyConfig
    out : Path or str
        Output directory or object-storage URL (:mod:`.outputs`); committed to ``footprint``.
    connect : callable, optional
        A context manager of a ``distributed.Client`` (:func:`cluster.connect`), or None.
    echo, show_progress : callable, bool
        Progress messages; a progress bar for the Dask computations.
    note : str
        Free text stored in the store's attributes and on the maps.
    resume : bool
        Reuse stages whose key (input checksums, config, version) matches.
    scenario : str, optional
        Run only this scenario, against the baseline in ``out`` (of the same key).
    tag : str, optional
        Tag the result's snapshot (e.g. a data release); refused if the tag exists.

    Returns
    -------
    dict
        The summary written to ``out/summary.json`` (the scenario's with ``scenario``).

    Raises
    ------
    OutputError
        If ``out/.lock`` is held, ``out`` is inside an input or ``out/.versions`` is a link.
    """
    output = run_output(out, config.storage_options())
    out = ensure_writable_dir(output.local)
    prepare_repository(output, tag)
    with naming_keys(), output_lock(out), publishing_to(output.repository, tag, echo):
        clean_output(out)
        return _run_locked(
            config,
            out,
            connect=connect,
            echo=echo,
            show_progress=show_progress,
            note=note,
            resume=resume,
            scenario=scenario,
        )


def _input_dirs(config: StudyConfig, sources: dict[str, Path]) -> list[Path]:
    """Directories ``--out`` may not lie in: ``--inputs`` / ``[study] inputs``, directory inputs."""
    dirs = [Path(p) for p in sources.values() if Path(p).is_dir()]
    if config.path is None or config.inputs != config.path.parent:
        dirs.append(config.inputs)
    return dirs


def _run_locked(config, out, *, connect, echo, show_progress, note, resume, scenario) -> dict:
    """:func:`run_study` once ``out`` is locked and cleaned."""
    clock = _Clock(echo)
    clock.stage("MRIO: load and check" + (" and nest" if config.mrio.layout == "nested" else ""))
    loaded = stages.load_mrio(config.mrio, config.study, config.paths)
    if loaded.report is not None:
        report = loaded.report
        echo(
            f"  nested {len(loaded.domestic)} subnational regions; RAS iterations "
            f"{report.iterations}, max relative cell adjustment {report.max_rel_adjustment:.2e}, "
            f"export scaling {report.export_scaling_min:.4f}..{report.export_scaling_max:.4f}, "
            f"subnational / global total output {report.output_ratio:.4f}"
        )
    layers = stages.open_study_inventory(
        config.inventory,
        config.regions,
        config.paths,
        side=functools.partial(stages.budget_side, loaded.table, config.output),
    )
    echo(f"  inventory: {dict(layers.emissions.sizes)}, chunks {layers.emissions.data.chunksize}")
    concordance = read_concordance(
        _concordance_path(config),
        inventory_sectors=list(layers.emissions["sector"].values),
        mrio_sectors=list(loaded.table.sectors),
        categories=list(loaded.table.categories),
    )
    sources = {**loaded.sources, **layers.sources, "concordance": _concordance_path(config)}
    check_outside_inputs(out, _input_dirs(config, sources))
    plan = _Plan(config, out, input_checksums(sources), layers, resume=resume, echo=echo)
    plan.clock = clock
    sectors = [str(s) for s in layers.emissions["sector"].values]
    plan.scenarios = scenario_run.prepare(config, loaded, sectors)
    plan.ensemble = uncertainty_run.prepare(config, sectors, work=out / "work", resume=resume)
    if scenario is not None:
        scenario_run.require_baseline(plan, scenario)
    with connect() if connect is not None else contextlib.nullcontext() as client:
        compute = progress_compute(client, show_progress=show_progress)
        if scenario is not None:
            return _run_scenario(plan, loaded, scenario, client=client, compute=compute)
        return _run_on_cluster(
            plan,
            loaded,
            layers,
            concordance,
            client=client,
            compute=compute,
            clock=clock,
            note=note,
        )


#: Settings that do not change a stage's output (input contents are keyed by checksum).
_NOT_IN_KEYS = {("output", "maps"), ("study", "inputs")}
#: Stage -> (prefixes of the input names, config sections) its ``--resume`` key covers;
#: never ``[cluster]``, which only runs the stages.
STAGE_KEYS = {
    "ingest": (("inventory_", "boundaries", "region_"), ("inventory", "regions")),
    "shares": (("mrio_",), ("mrio",)),
    "footprint": (("",), ("study", "mrio", "inventory", "regions", "concordance", "output")),
}


class _Plan:
    """Stage keys for ``--resume``: input checksums, config and package version."""

    def __init__(self, config, out, checksums, layers, *, resume, echo):
        self.config, self.out, self.checksums = config, out, checksums
        self.resume, self.echo = resume, echo
        self.chunks = layers.emissions.data.chunksize[1:]
        self.clock: _Clock | None = None  # set by run_study
        self.scenarios: scenario_run.ScenarioPlan | None = None  # set by run_study
        self.ensemble: uncertainty_run.EnsemblePlan | None = None  # set by run_study
        self.client = None  # set on the cluster

    def key(
        self,
        stage: str,
        *,
        inputs: tuple[str, ...] | None = None,
        sections: tuple[str, ...] | None = None,
        **extra,
    ) -> str:
        """The key of ``stage`` (inputs and sections default to :data:`STAGE_KEYS`)."""
        inputs = STAGE_KEYS[stage][0] if inputs is None else inputs
        sections = STAGE_KEYS[stage][1] if sections is None else sections
        picked = {k: v for k, v in self.checksums.items() if k.startswith(inputs)}
        config = {
            name: {
                k: v
                for k, v in toml_items(getattr(self.config, name)).items()
                if (name, k) not in _NOT_IN_KEYS
            }
            for name in sections
        }
        return stage_key(
            stage=stage,
            version=__version__,
            inputs=picked,
            config=config,
            chunks=self.chunks,
            **extra,
        )

    def reusable(self, store: Path, key: str, what: str) -> bool:
        if self.resume and stored_key(store) == key:
            self.echo(f"  resume: reusing {what} ({store.name}, inputs and config unchanged)")
            return True
        return False


def _run_on_cluster(plan, loaded, layers, concordance, *, client, compute, clock, note) -> dict:
    config, out = plan.config, plan.out
    clock.stage("grid: ingest inventory and rasterize regions")
    work = ensure_writable_dir(out / "work")
    key = plan.key("ingest")
    if plan.reusable(work / "inventory.zarr", key, "the ingested inventory"):
        grid = stages.open_ingested(layers, work)
    else:
        grid = stages.ingest_grid(layers, work, compute=compute, key=key)
    totals = stages.region_totals(grid, compute=compute)
    grid, totals, producer_of_code, producers = stages.map_producers(
        config.regions, list(loaded.table.regions), grid, totals, compute=compute
    )
    sectors = [str(s) for s in grid.emissions["sector"].values]
    scenario_run.check_emissions(
        plan.scenarios, producers, sectors, totals[:-1], producer_of_code, source=str(config.path)
    )

    clock.stage(f"MRIO: attribution shares for {len(producers)} producer regions")
    factored = FactoredTable(loaded.table, config.mrio.method)
    shares = _shares(plan, loaded, producers, factored, client=client, compute=compute)
    mrio_error = conservation.check_row_conservation(shares.attrs)
    plan.echo(f"  every MRIO row conserves its F (max relative error {mrio_error:.2e})")
    shares = shares.sel(region=producers, mrio_sector=list(concordance.mrio_sectors))
    weights = table_weights(concordance, loaded.table, producers)
    domestic = set(loaded.domestic)
    foreign = np.array([c not in domestic for c in shares["consumer"].values])

    plan.client = client
    if plan.ensemble is not None:
        plan.ensemble.table, plan.ensemble.concordance = loaded.table, concordance
    clock.stage("grid: per-cell attribution, conservation check and zarr write")
    inputs = cube_mod.CubeInputs(
        emissions=grid.emissions,
        region_index=grid.region_index,
        region_codes=grid.region_codes,
        producer_of_code=producer_of_code,
        shares=shares,
        weights=weights,
        region_totals=totals[:-1],
        foreign=foreign,
        dtype=np.dtype(config.output.dtype),
        final_demand=concordance.final_demand_index([str(c) for c in shares["category"].values]),
    )
    producer_codes = np.flatnonzero(producer_of_code >= 0)
    context = scenario_run.ScenarioContext(
        plan, loaded.table, factored, client, compute, mrio_error
    )
    scenarios = functools.partial(scenario_run.write_scenarios, context, region_totals=totals[:-1])
    result = _commit(
        plan, inputs, producer_codes, grid, mrio_error, compute=compute, note=note, then=scenarios
    )
    clock.done()
    return result


def _run_scenario(plan, loaded, name, *, client, compute) -> dict:
    """``--scenario NAME``: one scenario against the baseline already in ``plan.out``."""
    plan.clock.stage(f"scenario {name}: against the baseline in {plan.out}")
    baseline = json.loads((plan.out / "summary.json").read_text())
    factored = FactoredTable(loaded.table, plan.config.mrio.method)
    mrio_error = float(baseline.get("mrio_conservation_max_rel_error", 0.0))
    context = scenario_run.ScenarioContext(
        plan, loaded.table, factored, client, compute, mrio_error
    )
    result = scenario_run.run_alone(context, name)
    plan.clock.done()
    return result


def _commit(plan, inputs, producer_codes, grid, mrio_error, *, compute, note, then=None) -> dict:
    """Write the cubes, summary, maps and (``then``) scenarios into a new version; publish."""
    config, out = plan.config, plan.out
    key = scenario_run.baseline_key(plan)
    with new_version(out) as version:
        store = version / STORE_NAME
        if plan.reusable(out / STORE_NAME, key, "the footprint cubes"):
            link_copy(resolve_store(out / STORE_NAME), store)
            error = float(xr.open_zarr(store).attrs["conservation_max_rel_error"])
        else:
            # the cube's emissions are the ingested ones: their chunks are linked, not rewritten
            ingested = {"emissions": grid.store / "emissions"}
            error = _write_cube(plan, inputs, store, ingested, key=key, compute=compute, note=note)
        plan.clock.stage("summary and maps")
        result = _summarize(config.output, store, producer_codes, (error, mrio_error), compute)
        write_text_atomic(version / "summary.json", summary.to_json(result))
        if config.output.maps:
            opened = with_footprint(xr.open_zarr(store))
            maps.standard_maps(opened, result, version / "maps", borders=grid.borders, note=note)
        if then is not None:
            then(version, result)
    scenarios = " and scenarios/" if plan.scenarios.names else ""
    plan.echo(f"  published {out / STORE_NAME}, summary.json and maps/{scenarios} together")
    return result


def _shares(plan, loaded, producers, factored, *, client, compute) -> xr.DataArray:
    """Attribution shares of the producer regions, cached in ``work/shares.zarr``.

    ``factored`` keeps the factor of ``I - A`` for the scenarios.
    """
    store = plan.out / "work" / "shares.zarr"
    key = plan.key("shares", producers=producers, checks="every row")
    if plan.reusable(store, key, "the MRIO attribution shares"):
        return xr.open_zarr(store)["shares"].load()
    method = factored.method
    plan.echo(
        f"  Leontief solve: {method.description}, n = {loaded.table.n:,} rows, "
        f"{loaded.table.Y.shape[1]:,} final-demand columns"
    )
    shares = attribution_shares(
        loaded.table, regions=producers, client=client, method=method, factored=factored
    ).rename(sector="mrio_sector")
    if not any(c.columns.size for c in plan.scenarios.changes.values()):
        factored.release()  # no scenario solves anything: free the factor now
    labelled = shares.assign_coords(
        {d: cube_mod.text_labels(shares[d].values) for d in shares.dims}
    )
    write_zarr_atomic(labelled.to_dataset(name="shares"), store, compute=compute, key=key)
    return shares


def _write_cube(plan, inputs, store, ingested, *, key, compute, note) -> float:
    """Build, check and write the factorized store to ``store`` (inside a new version)."""
    config, echo = plan.config, plan.echo
    cube = cube_mod.build_cube(inputs, materialize=config.output.materialize or ())
    ds = cube.ds
    ds.attrs.update(provenance(config_text=config.raw_text, checksums=plan.checksums))
    ds.attrs.update(title=f"footprint-map: {config.study.name}", note=note)
    ds.attrs.update(stages.study_places(config.regions, config.paths))  # for reports
    ds.attrs.update(plan.scenarios.store_attrs())
    ds.attrs.update(totals_attr(inputs.region_totals))  # for `run --scenario`
    if plan.ensemble is not None:
        found, attrs = uncertainty_run.ensemble_store_parts(
            plan.ensemble, inputs, client=plan.client, echo=echo
        )
        ds = ds.assign_coords(found.pop("coords")).assign(found)
        ds.attrs.update(attrs)
    n_chunks = int(np.prod(ds["foreign_footprint"].data.numblocks))
    echo(f"  task graph: {len(ds.__dask_graph__())} tasks over {n_chunks} spatial chunks")
    error = stages.write_checked(ds, cube.terms, store, key=key, compute=compute, linked=ingested)
    echo(f"  wrote {store} (conservation max relative error {error:.2e})")
    return error


def _summarize(output: OutputSettings, store, producer_codes, errors, compute) -> dict:
    """The summary of the written ``store`` (the study country's land, ``[output]``'s share)."""
    return summary.summarize_store(
        store,
        producer_codes,
        conservation_error=errors[0],
        mrio_conservation_error=errors[1],
        hotspot_share=output.hotspot_share,
        compute=compute,
    )


def _concordance_path(config: StudyConfig) -> Path:
    return config.input_path(config.concordance.file)


class _Clock:
    def __init__(self, echo):
        self.echo, self.start, self.n = echo, time.perf_counter(), 0

    def stage(self, text: str) -> None:
        self.n += 1
        self.echo(f"[{self.n}] {text}  (t={time.perf_counter() - self.start:.1f}s)")

    def done(self) -> None:
        self.echo(f"done in {time.perf_counter() - self.start:.1f}s")
