"""Dask cluster set-up for footprint-map.

Three kinds, chosen by the ``[cluster]`` config section or CLI flags:

``local`` (default)
    A ``distributed.LocalCluster`` of worker processes on this machine.
``address``
    Attach to a running scheduler, e.g. ``tcp://10.0.0.5:8786``
    (``--scheduler ADDRESS``).
``jobqueue``
    An HPC batch cluster through dask-jobqueue (optional extra
    ``footprint-map[jobqueue]``); ``[cluster.jobqueue]`` holds ``system``
    (``slurm`` or ``pbs``), ``jobs`` and the keyword arguments of the
    dask-jobqueue cluster class (``cores``, ``memory``, ``queue``, ``walltime``...).

The settings are checked before anything starts (:mod:`cluster.settings`). A
LocalCluster's scheduler, workers and dashboard listen on 127.0.0.1 only.
Waits on the cluster are bounded (:mod:`cluster.waits`).

:func:`connect` is the one place a Dask client is made: ``run`` and ``demo``
use it directly, ``query`` and ``report`` through :func:`compute_context`
(local threads unless ``--scheduler`` is given). :func:`progress_compute` is
the ``dask.compute`` of a run, with a progress bar on a terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dask
from dask.base import unpack_collections
from distributed import Client, LocalCluster, progress

from cluster.settings import check_address, checked_settings
from cluster.waits import ClusterError, bounded_get, gather
from pipeline.errors import ConfigError

__all__ = [
    "ClusterError",
    "check_address",
    "checked_settings",
    "compute_context",
    "connect",
    "gather",
    "progress_compute",
]
#: Interface every LocalCluster process listens on.
LOCAL_HOST = "127.0.0.1"
log = logging.getLogger("footprint_map.cluster")


@contextlib.contextmanager
def connect(settings: Mapping[str, Any], *, echo=print) -> Iterator[Client]:
    """Start or attach to the configured cluster and yield a connected client.

    Parameters
    ----------
    settings : mapping
        The ``[cluster]`` settings by key (a checked
        :class:`pipeline.workflow.config.ClusterSettings` as
        :func:`pipeline.workflow.config.toml_items`), or a part of them.
    echo : callable, keyword-only
        Where to report which cluster is used and its dashboard link.

    Raises
    ------
    ConfigError
        If a setting is out of range (checked before anything starts).
    """
    settings = checked_settings(settings)
    kind = settings.get("kind", "local")
    with contextlib.ExitStack() as stack:
        if kind == "address":
            client = stack.enter_context(_attach(settings["address"]))
            description = f"existing scheduler at {settings['address']}"
        elif kind == "jobqueue":
            cluster = stack.enter_context(_jobqueue_cluster(settings.get("jobqueue") or {}))
            client = stack.enter_context(Client(cluster))
            description = f"dask-jobqueue {type(cluster).__name__}"
        else:
            cluster = stack.enter_context(_local_cluster(settings))
            client = stack.enter_context(Client(cluster))
            description = (
                f"LocalCluster on {LOCAL_HOST}, {settings['n_workers']} workers x "
                f"{settings['threads_per_worker']} threads, {settings['memory_limit']} each"
            )
        echo(f"cluster: {description}; dask dashboard: {client.dashboard_link}")
        # every dask.compute / .values of the run waits with bounds (cluster.waits)
        stack.enter_context(dask.config.set(scheduler=bounded_get(client)))
        yield client


def progress_compute(client: Client | None, *, show_progress: bool) -> Callable[..., tuple]:
    """A ``dask.compute`` for a run: on ``client`` with a progress bar when asked.

    Without a client, or without ``show_progress``, it is ``dask.compute`` (which
    :func:`connect` routes through the bounded waits).
    """
    if client is None or not show_progress:
        return dask.compute

    def compute(*args):
        collections, repack = unpack_collections(*args, traverse=True)
        futures = client.compute(collections)
        progress(futures)
        print(file=sys.stderr)
        return repack(gather(client, futures, what="computing on the Dask cluster"))

    return compute


@contextlib.contextmanager
def compute_context(address: str | None, *, echo: Callable[[str], None]) -> Iterator[None]:
    """Where ``query`` and ``report`` compute: the scheduler at ``address``, else local threads.

    With ``address`` the client comes from :func:`connect` (its dashboard link
    goes to ``echo``); without, dask's threads compute, with a progress bar
    when stderr is a terminal.
    """
    if address:
        with connect({"kind": "address", "address": address}, echo=echo):
            yield
        return
    if sys.stderr.isatty():
        from dask.diagnostics import ProgressBar

        with ProgressBar(minimum=2.0, out=sys.stderr):
            yield
        return
    yield


def _local_cluster(settings: Mapping[str, Any]) -> LocalCluster:
    """A LocalCluster whose scheduler, workers and dashboard bind 127.0.0.1 only."""
    return LocalCluster(
        n_workers=settings["n_workers"],
        threads_per_worker=settings["threads_per_worker"],
        memory_limit=settings["memory_limit"],
        processes=True,
        host=LOCAL_HOST,
        dashboard_address=f"{LOCAL_HOST}:0",
        worker_dashboard_address=None,
        silence_logs=logging.ERROR,
    )


def _attach(address: str) -> Client:
    try:
        return Client(address, timeout="20s")
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {address} ({exc}); "
            "check --scheduler / [cluster] address and that the scheduler is running"
        ) from exc


def _jobqueue_cluster(options: Mapping[str, Any]):
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise ConfigError(
            "[cluster] kind = 'jobqueue' needs dask-jobqueue; "
            "install it with pip install 'footprint-map[jobqueue]'"
        ) from exc
    options = dict(options)
    system = options.pop("system", "slurm").lower()
    jobs = int(options.pop("jobs", 1))
    classes = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
    if system not in classes:
        raise ConfigError(f"[cluster.jobqueue] system = {system!r}; choose one of {list(classes)}")
    cluster = classes[system](**options)
    cluster.scale(jobs=jobs)
    return cluster
