"""Atomic zarr and file outputs, and provenance.

A store is written to a hidden temporary directory beside its final path,
checked, stamped complete, and only then renamed into place. A failed or
killed run therefore leaves either the previous complete store or none, never
a partial store under the final name. Leftover temporaries are ignored by
readers and removed by the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dask
import xarray as xr
import zarr

from pipeline.errors import OutputError

COMPLETE_ATTR = "footprint_map_complete"
_PACKAGES = (
    "footprint-map",
    "numpy",
    "scipy",
    "dask",
    "distributed",
    "xarray",
    "zarr",
    "rioxarray",
    "rasterio",
    "pymrio",
    "pandas",
)


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and check that files can be created in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"{path}: output directory is not writable ({exc.strerror}); choose another --out"
        ) from exc
    return path


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success move it to ``final``.

    On an exception the temporary is removed and ``final`` is left untouched.
    """
    final = Path(final)
    for stale in final.parent.glob(f".{final.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink()
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        _replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def _replace(tmp: Path, final: Path) -> None:
    if tmp.is_dir() and final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def write_zarr_atomic(
    ds: xr.Dataset,
    final: Path,
    *,
    also_compute: Mapping[str, Any] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    compute: Callable[..., tuple] = dask.compute,
) -> dict[str, Any]:
    """Write ``ds`` to zarr v3 at ``final`` atomically, computing checks in the same pass.

    Parameters
    ----------
    ds : xarray.Dataset
        Lazy or in-memory dataset.
    final : Path
        Destination store.
    also_compute : mapping, optional
        Lazy values (e.g. conservation sums) computed in the same graph as the
        write, so shared chunks are computed once.
    check : callable, optional
        Called with the computed ``also_compute`` before the store is stamped
        complete and moved into place; it raises to abort the write.
    compute : callable, optional
        ``dask.compute``-like function (e.g. one that shows progress).

    Returns
    -------
    dict
        The computed ``also_compute`` values.
    """
    with atomic_path(final) as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            delayed = ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False, compute=False)
            _, results = compute(delayed, dict(also_compute or {}))
            if check is not None:
                check(results)
            group = zarr.open_group(tmp, mode="r+")
            group.attrs[COMPLETE_ATTR] = True
            zarr.consolidate_metadata(tmp)
    return results


def is_complete(store: Path) -> bool:
    """Whether ``store`` is a zarr store that a run finished writing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(zarr.open_group(store, mode="r").attrs.get(COMPLETE_ATTR, False))
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return False


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def file_checksum(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, or of every file under a directory in name order."""
    digest = hashlib.sha256()
    files: Iterable[Path] = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def provenance(*, config_text: str, inputs: dict[str, Path]) -> dict[str, str]:
    """Attributes recording the config, package versions, time and input checksums."""
    versions = {}
    for name in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config_text,
        "package_versions": json.dumps(versions, sort_keys=True),
        "input_checksums": json.dumps(
            {k: f"sha256:{file_checksum(p)}" for k, p in sorted(inputs.items())}, sort_keys=True
        ),
    }
