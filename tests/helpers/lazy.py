"""Test helper: fail if building a lazy graph triggers a compute."""

from __future__ import annotations

import contextlib

import dask


class ComputeTriggered(AssertionError):
    """Raised when code that should stay lazy computes something."""


def _refuse(dsk, keys, **kwargs):
    raise ComputeTriggered(f"a lazy step computed {keys!r}")


@contextlib.contextmanager
def forbid_compute():
    """Within the block, any dask compute raises :class:`ComputeTriggered`."""
    with dask.config.set(scheduler=_refuse):
        yield
