"""The ``[uncertainty]`` ensemble of a run: realizations on the workers, one grid pass.

:func:`prepare` checks ``[uncertainty]`` against the inventory's sectors before
any cluster starts. When the run writes its store, :func:`ensemble_store_parts`
draws the realizations, spread over the Dask workers (each factorizes its own
table and returns only the kept rows' region tables,
:func:`pipeline.attribution.ensemble.realize`), checks every realization's MRIO
rows, and returns the quantile variables (written in the same pass as the
deterministic cubes) and the ``uncertainty`` block of ``summary.json`` (kept in
the store's attributes, so ``--resume`` reuses it with the store). Every
finished realization is kept in ``DIR/work/realizations``
(:mod:`pipeline.workflow.realization_cache`), so ``--resume`` after an
interrupted run draws only the missing ones.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.attribution.conservation import CONSERVATION_RTOL
from pipeline.attribution.cube import CubeInputs
from pipeline.attribution.ensemble import (
    FREQUENCY,
    HOTSPOT_SHARE,
    EnsembleSpec,
    Realization,
    attribution_stack,
    ensemble_hotspots,
    ensemble_variables,
    realize,
    shipped_inputs,
)
from pipeline.errors import ConfigError, ConservationError
from pipeline.results.uncertainty_summary import UNCERTAINTY_ATTR, ensemble_summary
from pipeline.workflow.config import StudyConfig, toml_items
from pipeline.workflow.realization_cache import RealizationCache, cache_key


@dataclass
class EnsemblePlan:
    """A run's checked ``[uncertainty]``: what to draw, and from what.

    Attributes
    ----------
    config : StudyConfig
    inventory_cv : numpy.ndarray
        ``(n_inventory_sectors,)`` coefficient of variation per sector.
    table, concordance
        The attribution-ready MRIO and the sector concordance (set by the run).
    work : Path or None
        The run's ``work`` folder, which keeps finished realizations (None: not kept).
    resume : bool
        Reuse the finished realizations kept there (``--resume``).
    """

    config: StudyConfig
    inventory_cv: np.ndarray
    table: Any = None
    concordance: Any = None
    work: Path | None = None
    resume: bool = False

    @property
    def n(self) -> int:
        """The number of realizations."""
        return self.config.uncertainty.realizations

    def key_extra(self) -> dict[str, Any]:
        """What the ensemble adds to the store's ``--resume`` key."""
        return {"uncertainty": toml_items(self.config.uncertainty)}


def prepare(
    config: StudyConfig, sectors: list[str], *, work: Path | None = None, resume: bool = False
) -> EnsemblePlan | None:
    """The ensemble plan, or None for a deterministic run.

    ``work`` keeps the finished realizations; ``resume`` reuses those kept.

    Raises
    ------
    ConfigError
        If ``[uncertainty] inventory_cv`` names a sector the inventory lacks.
    """
    settings = config.uncertainty
    if not settings.enabled:
        return None
    if isinstance(settings.inventory_cv, dict):
        unknown = [s for s in settings.inventory_cv if s not in sectors]
        if unknown:
            raise ConfigError(
                f"{config.path}: [uncertainty] inventory_cv names {unknown[0]!r}, which is no "
                f"inventory sector; use some of {sectors}"
            )
    cv = np.array([settings.inventory_cv_of(s) for s in sectors], dtype=np.float64)
    return EnsemblePlan(config, cv, work=work, resume=resume)


def ensemble_store_parts(
    plan: EnsemblePlan, inputs: CubeInputs, *, client: Any, echo
) -> tuple[dict, dict[str, str]]:
    """Draw the realizations; the store's variables and its ``uncertainty`` attribute.

    Raises
    ------
    ConservationError
        If a realization's MRIO rows do not conserve their ``F``.
    """
    settings = plan.config.uncertainty
    producers = tuple(str(r) for r in inputs.shares["region"].values)
    spec = EnsembleSpec(
        seed=settings.seed,
        mrio_cv=settings.mrio_cv,
        inventory_cv=plan.inventory_cv,
        method=plan.config.mrio.method,
        balance_rtol=plan.config.mrio.balance_rtol,
        producers=producers,
    )
    echo(
        f"  uncertainty: {plan.n} realizations (seed {settings.seed}, mrio_cv "
        f"{settings.mrio_cv:g}), each its own factorization"
    )
    found = _realizations(plan, spec, shipped_inputs(inputs), client=client, echo=echo)
    row_error = max(r.row_error for r in found)
    if not row_error <= CONSERVATION_RTOL:
        raise ConservationError(
            f"conservation failed: a Monte Carlo realization's MRIO rows miss their F by "
            f"{row_error:.3g} (relative) > {CONSERVATION_RTOL:g}; lower [uncertainty] mrio_cv"
        )
    stack = np.stack([r.tables for r in found])
    variables = ensemble_variables(stack, inputs, settings.levels)
    shares = list(dict.fromkeys([HOTSPOT_SHARE, 0.9, plan.config.output.hotspot_share]))
    land_shares, variables[FREQUENCY] = ensemble_hotspots(
        stack, inputs, shares, done=_progress(plan.n, "hotspot thresholds", echo)
    )
    block = ensemble_summary(
        attribution_stack(stack, inputs),
        inputs,
        settings.levels,
        redraws=sum(r.redraws for r in found),
        mrio_error=row_error,
        seed=settings.seed,
        mrio_footprint=np.stack([r.mrio_footprint for r in found]),
        land_shares=land_shares,
    )
    echo(f"  uncertainty: {block['redraws']} redraws; max MRIO row error {row_error:.2e}")
    return variables, {UNCERTAINTY_ATTR: json.dumps(block)}


def _realizations(plan, spec, inputs, *, client, echo) -> list[Realization]:
    """Every realization, in index order (on ``client``'s workers if given).

    Finished ones are kept as they arrive; with ``plan.resume`` those already
    kept for the same key are reused and only the others are drawn.
    """
    cache, found = None, {}
    if plan.work is not None:
        # a realization solves its own shares: the run's count by their labels only
        parts = {f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs)}
        parts["shares"] = {d: inputs.shares[d].values for d in inputs.shares.dims}
        key = cache_key(plan.table, plan.concordance, spec, parts)
        cache = RealizationCache(plan.work / "realizations", key)
        if plan.resume:
            found = cache.load(plan.n)
            echo(f"  resume: reusing {len(found)} of {plan.n} finished realizations")

    def finished(realization: Realization) -> None:
        if cache is not None:
            cache.save(realization)
        found[realization.index] = realization
        echo(f"  realization {len(found)}/{plan.n} done")

    todo = [index for index in range(plan.n) if index not in found]
    options = {"table": plan.table, "concordance": plan.concordance, "spec": spec}
    if client is None:
        for index in todo:
            finished(realize(index, inputs=inputs, **options))
    elif todo:
        _on_workers(client, todo, options, inputs, finished)
    return [found[index] for index in range(plan.n)]


def _on_workers(client, todo: list[int], options: dict, inputs, finished) -> None:
    """Draw realizations ``todo`` on the workers; ``finished(realization)`` as each arrives."""
    import distributed

    from cluster.waits import gather

    tag = uuid.uuid4().hex
    table = client.submit(_identity, options.pop("table"), key=f"ensemble-table-{tag}")
    futures = client.map(
        realize,
        todo,
        key=[f"realization-{index}-{tag}" for index in todo],
        table=table,
        inputs=inputs,
        **options,
    )
    for future in distributed.as_completed(futures):
        (realization,) = gather(client, [future], what="drawing the Monte Carlo realizations")
        finished(realization)


def _progress(n: int, what: str, echo):
    """A callback echoing ``what`` done for about every tenth of ``n`` realizations."""
    step = max(1, n // 10)

    def done(count: int) -> None:
        if count % step == 0 or count == n:
            echo(f"  {what}: {count}/{n} realizations")

    return done


def _identity(value: Any) -> Any:
    """Worker task returning its argument (the table, recomputable if a worker dies)."""
    return value
