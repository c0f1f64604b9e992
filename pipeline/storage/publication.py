"""Where a run's finished result versions are committed: the result repository and a tag.

:func:`publishing_to` sets, for the run inside its block, the repository that
:func:`pipeline.storage.versions.new_version` commits each finished version to
(``DIR/footprint`` by default, or an object-storage location for ``--out
s3://...``) and the tag of the snapshot; :func:`commit` is that commit.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import zarr

from pipeline.storage import repository
from pipeline.storage.locations import Location, parse_location
from pipeline.storage.repository import STORE_NAME


@dataclass(frozen=True)
class Publication:
    """Where a run commits its versions: the result repository, and a tag for the snapshot."""

    repository: Location
    tag: str | None = None
    echo: Callable[[str], None] | None = None


_PUBLICATION: ContextVar[Publication | None] = ContextVar("publication", default=None)


@contextlib.contextmanager
def publishing_to(
    repository_location: Location,
    tag: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Commit the versions published inside the block to ``repository_location`` (tagged).

    ``echo`` gets a line before and after each commit.
    """
    token = _PUBLICATION.set(Publication(repository_location, tag, echo))
    try:
        yield
    finally:
        _PUBLICATION.reset(token)


def publication(out: Path) -> Publication:
    """The block's :class:`Publication` (:func:`publishing_to`), else ``out/footprint``."""
    found = _PUBLICATION.get()
    return found or Publication(parse_location(Path(out) / repository.REPOSITORY))


def commit(out: Path, version: Path) -> str:
    """Commit the finished ``version`` to the result repository (:func:`publication`)."""
    target = publication(out)
    repo = repository.open_repository(target.repository, create=True)
    store = version / STORE_NAME
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attrs = dict(zarr.open_group(store, mode="r").attrs) if store.exists() else {}
    message, metadata = repository.commit_message(attrs)
    echo = target.echo or (lambda _: None)
    echo(f"  committing the result to {target.repository}")
    start = time.perf_counter()
    snapshot = repository.commit_version(repo, version, message=message, metadata=metadata)
    if target.tag is not None:
        repository.tag_snapshot(repo, target.tag, snapshot)
    size = sum(p.stat().st_size for p in version.rglob("*") if p.is_file()) / 1e6
    echo(
        f"  committed snapshot {snapshot}"
        + (f" (tag {target.tag})" if target.tag else "")
        + f": {size:.1f} MB in {time.perf_counter() - start:.1f} s"
    )
    return snapshot
