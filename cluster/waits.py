"""Bounded waits on a Dask cluster: every wait ends, with a one-line error if it must.

A plain ``client.gather`` waits forever if the scheduler disappears or every
worker is gone. :func:`gather` polls the futures and, between polls, asks the
scheduler (with a timeout) how many workers it has. It raises
:class:`ClusterError` if

- the connection to the scheduler is lost (or the scheduler does not answer
  within :data:`RPC_TIMEOUT` seconds),
- the cluster has had no worker for :data:`NO_WORKER_TIMEOUT` seconds, or
- the futures are not done after ``timeout`` seconds (if given).

A worker lost while others remain is not an error: the scheduler recomputes
its tasks elsewhere (``distributed.scheduler.allowed-failures`` times).
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Sequence
from typing import Any

import distributed

from pipeline.errors import FootprintError

#: Seconds between checks of the cluster while waiting.
POLL = 2.0
#: Seconds the scheduler has to answer a check.
RPC_TIMEOUT = float(os.environ.get("FOOTPRINT_MAP_RPC_TIMEOUT", 30))
#: Seconds a wait tolerates a cluster without workers.
NO_WORKER_TIMEOUT = float(os.environ.get("FOOTPRINT_MAP_NO_WORKER_TIMEOUT", 120))


class ClusterError(FootprintError):
    """The Dask cluster was lost, has no workers, or did not finish in time."""


def lost_scheduler(client: Any, what: str, detail: str = "") -> ClusterError:
    """The error for a lost scheduler connection while doing ``what``."""
    address = getattr(getattr(client, "scheduler", None), "address", None) or "the scheduler"
    return ClusterError(
        f"lost the connection to the Dask scheduler at {address} while {what}"
        + (f" ({detail})" if detail else "")
        + "; check that the scheduler is running, then rerun "
        "(add --resume to reuse finished stages)"
    )


def n_workers(client: Any, what: str) -> int:
    """How many workers the scheduler has now (bounded by :data:`RPC_TIMEOUT`)."""
    if client.status not in ("running", "connecting"):
        raise lost_scheduler(client, what, f"client status {client.status!r}")
    try:
        return len(client.sync(client.scheduler.ncores, callback_timeout=RPC_TIMEOUT))
    except (OSError, TimeoutError, concurrent.futures.CancelledError) as exc:
        raise lost_scheduler(client, what, type(exc).__name__) from exc


def gather(
    client: Any, futures: Sequence[Any], *, what: str, timeout: float | None = None
) -> list[Any]:
    """``client.gather(futures)``, but never waiting forever (see module docstring)."""
    start = time.monotonic()
    idle_since: float | None = None
    while True:
        try:
            distributed.wait(futures, timeout=POLL)
            break
        except TimeoutError:
            pass
        except concurrent.futures.CancelledError as exc:
            raise lost_scheduler(client, what, "its tasks were cancelled") from exc
        now = time.monotonic()
        if timeout is not None and now - start > timeout:
            raise ClusterError(
                f"{what} did not finish within {timeout:g} s; "
                "check the Dask dashboard for stuck tasks or add workers"
            )
        if n_workers(client, what):
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since > NO_WORKER_TIMEOUT:
            raise ClusterError(
                f"the Dask cluster has had no workers for {NO_WORKER_TIMEOUT:g} s while {what}; "
                "start workers (dask worker SCHEDULER_ADDRESS) or use a LocalCluster"
            )
    try:
        return client.gather(list(futures))
    except concurrent.futures.CancelledError as exc:
        raise lost_scheduler(client, what, "its tasks were cancelled") from exc


def bounded_get(client: Any, what: str = "computing on the Dask cluster"):
    """A dask scheduler ``get`` running on ``client`` with the bounded :func:`gather`.

    Set it with ``dask.config.set(scheduler=bounded_get(client))`` so every
    ``dask.compute`` / ``.values`` of a run has the same bounds.
    """
    from distributed import futures_of

    def get(dsk, keys, **kwargs):
        futures = client.get(dsk, keys, sync=False, **kwargs)
        gather(client, futures_of(futures), what=what)
        return client.gather(futures)

    return get
