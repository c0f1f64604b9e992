"""Where a run writes: ``--out`` as a local directory or an object-storage URL.

A local ``--out DIR`` is the run's working directory (``DIR/work``, the staged
version, the checkout links) and holds the result repository ``DIR/footprint``.
An object-storage ``--out s3://bucket/prefix`` holds the result repository at
``s3://bucket/prefix/footprint``; the run works in a local directory keyed by
the URL (:func:`work_directory`), which keeps its ``--resume`` cache between
runs. The Dask workers must reach that directory (same host or a shared
filesystem); they read the staged result from it when it is committed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import OutputError
from pipeline.storage import repository
from pipeline.storage.locations import Location, StorageOptions, parse_location

#: Environment variable naming the parent of the working directories of object-storage runs.
WORK_ENV = "FOOTPRINT_MAP_WORK_DIR"


@dataclass(frozen=True)
class RunOutput:
    """A run's output.

    Attributes
    ----------
    location : Location
        ``--out`` as given (a path or URL).
    local : Path
        The run's local working directory (``--out`` itself when it is local).
    repository : Location
        The result repository, ``--out``/footprint.
    """

    location: Location
    local: Path
    repository: Location


def run_output(
    out: str | Path, options: StorageOptions | None = None, env: Mapping[str, str] | None = None
) -> RunOutput:
    """The :class:`RunOutput` of ``--out`` (options: ``[storage]`` over the environment)."""
    location = parse_location(out, options, env=env)
    local = location.local_path if location.is_local else work_directory(location, env)
    return RunOutput(location, local, location.child(repository.REPOSITORY))


def work_directory(location: Location, env: Mapping[str, str] | None = None) -> Path:
    """The local working directory of an object-storage ``--out``.

    ``$FOOTPRINT_MAP_WORK_DIR/<scheme>/<bucket>/<prefix>``, by default under
    ``$XDG_CACHE_HOME/footprint-map`` (``~/.cache/footprint-map``).
    """
    env = os.environ if env is None else env
    base = env.get(WORK_ENV) or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "footprint-map"
    )
    return Path(base, location.scheme, location.bucket, *location.path.split("/"))


def prepare_repository(output: RunOutput, tag: str | None) -> None:
    """Open (or create) the result repository before the run starts, and check ``--tag``.

    An unreachable location or refused credentials, a bad tag or one the
    repository has, fail here with one line, before any work is done.
    """
    if tag is not None:
        repository.check_tag(tag)
    repo = repository.open_repository(output.repository, create=True)
    if tag is not None and tag in repo.list_tags():
        raise OutputError(
            f"--tag {tag}: {output.repository} already has this tag (snapshot "
            f"{repo.lookup_tag(tag)}); tags never move: choose another name"
        )
