"""The result repository: every published result as one icechunk snapshot of ``DIR/footprint``.

``DIR/footprint`` (a local path or an object-storage prefix, see
:mod:`pipeline.storage.locations`) is an icechunk repository. A run commits its
complete result as **one snapshot on the branch** ``main``:

- the root group holds the baseline store (every variable of ``footprint.zarr``,
  byte for byte, with its attributes) and the run's summary as the attribute
  :data:`SUMMARY_ATTR` (JSON text);
- ``scenarios/NAME`` holds each scenario's store and summary the same way;
- ``maps/NAME`` holds each PNG map as a 1-D ``uint8`` array (attribute ``filename``).

The commit message names the config's SHA-256 and the input checksums
(:func:`commit_message`); the commit metadata holds them as data.
:func:`commit_version` copies a finished, checked result directory into a
writable session: the chunk files are copied by Dask tasks (on the run's
workers), each into its own fork of the session; the driver merges the forks
and commits once. A run killed before that commit leaves no snapshot and no
change on ``main`` (icechunk writes chunks under new names and moves ``main``
only by the commit), so readers always see a complete result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr
import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from pipeline.errors import InputFileError, OutputError
from pipeline.storage.locations import Location

#: The repository's name inside a results directory.
REPOSITORY = "footprint"
#: The footprint store of a result (``DIR/footprint.zarr``, ``scenarios/NAME/footprint.zarr``).
STORE_NAME = "footprint.zarr"
#: The branch every run commits to.
BRANCH = "main"
#: Attribute of a result group holding its ``summary.json`` text.
SUMMARY_ATTR = "footprint_map_summary"
#: Bytes of chunk files one copying task handles (about).
TASK_BYTES = 64 << 20
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _icechunk() -> Any:
    """The icechunk module, its log set to errors only unless ``ICECHUNK_LOG`` says otherwise.

    (Its warnings, e.g. that local storage is not safe for concurrent commits, go
    to stdout; runs hold the output directory's lock.)
    """
    import icechunk

    if "ICECHUNK_LOG" not in os.environ:
        icechunk.set_logs_filter("error")
    return icechunk


def open_repository(location: Location, *, create: bool = False) -> Any:
    """The ``icechunk.Repository`` at ``location`` (created if ``create`` and absent).

    Raises
    ------
    InputFileError
        If there is no repository and ``create`` is False.
    OutputError
        If the storage cannot be reached (one line naming the location).
    """
    ic = _icechunk()
    storage = location.icechunk_storage()
    config = location.repository_config()
    try:
        if create:
            return ic.Repository.open_or_create(storage, config=config)
        if not ic.Repository.exists(storage):
            raise InputFileError(
                f"{location}: no result repository here; run `footprint-map run` (or `demo`) "
                "with this --out first"
            )
        return ic.Repository.open(storage, config=config)
    except ic.IcechunkError as exc:
        raise OutputError(
            f"{location}: cannot open the result repository ({_short(exc)}); {_fix(location)}"
        ) from exc


def _fix(location: Location) -> str:
    """What to check when ``location`` cannot be reached."""
    if location.is_local:
        return "check that the directory is writable"
    endpoint = location.options.endpoint_url or "the provider's default endpoint"
    return (
        f"check that {endpoint} runs and is reachable ([storage] endpoint_url or "
        "AWS_ENDPOINT_URL), the bucket exists and the credentials in AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY may write it"
    )


def _short(exc: BaseException) -> str:
    """The first line of an icechunk error (its message, not the Rust backtrace)."""
    text = str(exc).strip().splitlines()
    lines = [t.strip() for t in text if t.strip() and not t.strip().startswith(("|", "`", "at "))]
    first = lines[0] if lines else type(exc).__name__
    return re.sub(r"^[x×]\s+", "", first)[:300]


def commit_message(store_attrs: dict[str, Any], what: str = "result") -> tuple[str, dict]:
    """The commit message and metadata of a result, from its store's provenance attributes.

    The message holds the SHA-256 of the study config's text and the input
    checksums (``name=sha256:...``); the metadata holds the same as data.
    """
    config = str(store_attrs.get("config", ""))
    digest = hashlib.sha256(config.encode()).hexdigest()
    checksums = json.loads(store_attrs.get("input_checksums") or "{}")
    inputs = " ".join(f"{name}={value}" for name, value in sorted(checksums.items()))
    message = f"footprint-map {what}: config sha256:{digest}; inputs {inputs or 'none'}"
    metadata = {
        "config_sha256": digest,
        "input_checksums": checksums,
        "created": str(store_attrs.get("created", "")),
    }
    return message, metadata


def commit_version(
    repo: Any,
    version: Path,
    *,
    message: str,
    metadata: dict | None = None,
    compute: Callable[..., tuple] = dask.compute,
) -> str:
    """Commit the result directory ``version`` as one snapshot on ``main``; return its id.

    ``version`` holds ``footprint.zarr``, ``summary.json``, ``maps/*.png`` and
    ``scenarios/NAME/{footprint.zarr,summary.json}`` (see the module docstring
    for the layout in the repository). Chunks are copied by Dask tasks through
    ``compute`` (the run's cluster when one is active).
    """
    ic = _icechunk()
    try:
        return _commit(repo, Path(version), message, metadata or {}, compute)
    except ic.ConflictError as exc:
        raise OutputError(
            "another run committed to the result repository while this one ran (one writer at "
            "a time per --out); nothing was published: rerun when it has finished"
        ) from exc
    except ic.IcechunkError as exc:
        raise OutputError(
            f"the result could not be committed ({_short(exc)}); nothing was published and the "
            "previous result is kept; check the storage and rerun"
        ) from exc


def _commit(repo: Any, version: Path, message: str, metadata: dict, compute: Callable) -> str:
    """:func:`commit_version` (icechunk's errors pass through)."""
    session = repo.writable_session(BRANCH)
    fork = session.fork()
    sync(fork.store.delete_dir(""))  # the snapshot holds this result only, nothing carried over
    stores = _stores(version)
    for prefix, store, summary in stores:
        _put_metadata(fork.store, prefix, store, summary)
    _put_maps(fork.store, version / "maps")
    tasks = [
        dask.delayed(_copy_chunks, pure=False)(fork, batch)
        for batch in _batches([(p, s) for p, s, _ in stores])
    ]
    forks = compute(*tasks) if tasks else ()
    session.merge(fork, *forks)
    return session.commit(message, metadata=metadata)


def _stores(version: Path) -> list[tuple[str, Path, str | None]]:
    """(prefix in the repository, store directory, summary text) of each result in ``version``."""
    found = []
    for prefix, folder in [("", version), *_scenario_folders(version)]:
        summary = folder / "summary.json"
        text = summary.read_text() if summary.is_file() else None
        found.append((prefix, folder / STORE_NAME, text))
    return [f for f in found if (f[1] / "zarr.json").is_file()]


def _scenario_folders(version: Path) -> Iterator[tuple[str, Path]]:
    root = version / "scenarios"
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            yield f"scenarios/{folder.name}", folder


def _key(prefix: str, relative: str) -> str:
    return f"{prefix}/{relative}" if prefix else relative


def _set(store: Any, key: str, data: bytes) -> None:
    sync(store.set(key, default_buffer_prototype().buffer.from_bytes(data)))


def _put_metadata(store: Any, prefix: str, root: Path, summary: str | None) -> None:
    """Every ``zarr.json`` of ``root`` under ``prefix`` (parents first), the summary attached."""
    if prefix:
        _ensure_groups(store, prefix.rsplit("/", 1)[0])
    documents = sorted(root.rglob("zarr.json"), key=lambda p: len(p.relative_to(root).parts))
    for path in documents:
        doc = json.loads(path.read_text())
        doc.pop("consolidated_metadata", None)  # icechunk lists nodes itself
        relative = path.relative_to(root).as_posix()
        if relative == "zarr.json" and summary is not None:
            doc.setdefault("attributes", {})[SUMMARY_ATTR] = summary
        _set(store, _key(prefix, relative), json.dumps(doc).encode())


def _ensure_groups(store: Any, path: str) -> None:
    """Plain groups at ``path`` and its parents (e.g. ``scenarios``)."""
    parts = [p for p in path.split("/") if p]
    for n in range(1, len(parts) + 1):
        group = "/".join(parts[:n])
        doc = {"zarr_format": 3, "node_type": "group", "attributes": {}}
        _set(store, f"{group}/zarr.json", json.dumps(doc).encode())


def _put_maps(store: Any, folder: Path) -> None:
    """Each PNG of ``folder`` as a ``uint8`` array ``maps/NAME`` (small: written by the driver)."""
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not pngs:
        return
    group = zarr.open_group(store, path="maps", mode="a")
    for png in pngs:
        data = np.frombuffer(png.read_bytes(), dtype=np.uint8)
        array = group.create_array(png.stem, shape=data.shape, dtype="uint8", chunks=data.shape)
        array[:] = data
        array.attrs.update(filename=png.name, media_type="image/png")


def _batches(stores: list[tuple[str, Path]]) -> Iterator[list[tuple[str, Path]]]:
    """(key, file) pairs of every chunk file, in groups of about :data:`TASK_BYTES`."""
    batch: list[tuple[str, Path]] = []
    size = 0
    for prefix, root in stores:
        for path in sorted(root.rglob("*")):
            if path.name == "zarr.json" or not path.is_file():
                continue
            batch.append((_key(prefix, path.relative_to(root).as_posix()), path))
            size += path.stat().st_size
            if size >= TASK_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def _copy_chunks(fork: Any, batch: list[tuple[str, Path]]) -> Any:
    """Copy chunk files into ``fork``'s store (on a worker); return the fork to merge."""
    for key, path in batch:
        _set(fork.store, key, path.read_bytes())
    return fork


# -------------------------------------------------------------------- readers
def checkout(repo: Any, *, snapshot: str | None = None, tag: str | None = None) -> Any:
    """A read-only session of ``snapshot``, ``tag`` or the tip of ``main``."""
    ic = _icechunk()
    if snapshot is not None and tag is not None:
        raise InputFileError("give a snapshot or a tag, not both")
    try:
        if snapshot is not None:
            return repo.readonly_session(snapshot_id=snapshot)
        if tag is not None:
            return repo.readonly_session(tag=tag)
        return repo.readonly_session(branch=BRANCH)
    except ic.IcechunkError as exc:
        what = f"snapshot {snapshot!r}" if snapshot is not None else f"tag {tag!r}"
        tags = sorted(repo.list_tags())
        raise InputFileError(
            f"no {what} in the result repository ({_short(exc)}); `footprint-map history DIR` "
            f"lists the snapshots; tags: {tags or 'none'}"
        ) from exc


def open_group(session: Any, group: str = "") -> tuple[xr.Dataset, dict]:
    """The dataset of ``group`` (``""``: the baseline) in ``session``, and its summary."""
    try:
        ds = xr.open_zarr(session.store, group=group or None, consolidated=False)
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:
        raise InputFileError(f"no result {group or 'baseline'!r} in this snapshot") from exc
    summary = ds.attrs.pop(SUMMARY_ATTR, None)
    return ds, json.loads(summary) if summary else {}


def scenario_names(session: Any) -> list[str]:
    """The scenarios a snapshot holds."""
    root = zarr.open_group(session.store, mode="r")
    if "scenarios" not in root:
        return []
    return sorted(name for name, _ in root["scenarios"].groups())


def tip(location: Location) -> str | None:
    """The snapshot id at the tip of ``main`` of the repository at ``location`` (None if none)."""
    ic = _icechunk()
    storage = location.icechunk_storage()
    if not ic.Repository.exists(storage):
        return None
    return ic.Repository.open(storage).lookup_branch(BRANCH)


def history(repo: Any) -> list[dict[str, Any]]:
    """The snapshots of ``main``, newest first: id, time, message, metadata and tags."""
    tags: dict[str, list[str]] = {}
    for name in sorted(repo.list_tags()):
        tags.setdefault(repo.lookup_tag(name), []).append(name)
    return [
        {
            "id": info.id,
            "written": info.written_at.isoformat(timespec="seconds"),
            "message": info.message,
            "metadata": dict(info.metadata or {}),
            "tags": tags.get(info.id, []),
        }
        for info in repo.ancestry(branch=BRANCH)
    ]


def check_tag(name: str) -> str:
    """Refuse a tag name that is not 1-100 letters, digits, ``.``, ``_``, ``-``."""
    if not _TAG_RE.match(name):
        raise OutputError(
            f"--tag {name!r}: use 1-100 letters, digits, '.', '_' or '-' (starting with a "
            "letter or digit), e.g. release-2024"
        )
    return name


def tag_snapshot(repo: Any, name: str, snapshot: str) -> None:
    """Tag ``snapshot`` as ``name``; refuse a tag that exists (tags never move)."""
    check_tag(name)
    if name in repo.list_tags():
        raise OutputError(
            f"--tag {name}: the tag exists (snapshot {repo.lookup_tag(name)}); tags never "
            "move: choose another name"
        )
    repo.create_tag(name, snapshot_id=snapshot)
