"""Finished Monte Carlo realizations kept in ``DIR/work/realizations`` for ``--resume``.

Each realization that comes back from a worker is written at once, atomically,
as ``<key>/<index>.npz`` (its region tables, redraws, MRIO row error and MRIO
footprint: what :class:`pipeline.attribution.ensemble.Realization` holds). The
key is a digest of everything a realization depends on: the attribution-ready
table, the concordance, the draw settings (seed, CVs, method, tolerance,
producers) and the run's shares, weights and labels. A run whose key differs
finds nothing and removes the other keys' folders; ``--resume`` with the same
key reuses every finished realization, so an interrupted Monte Carlo run draws
only the missing ones. Without ``--resume`` the realizations are still written,
for a later ``--resume``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from pipeline.attribution.ensemble import Realization
from pipeline.errors import OutputError


def cache_key(*parts: Any) -> str:
    """A digest of the contents of ``parts``: numbers and labels, not object identities.

    Numeric arrays count by dtype, shape and bytes; sparse matrices by their CSR
    parts; labels (text arrays of any string dtype, pandas indexes, xarray
    coordinates) as text; dataclasses field by
    field; attributes and encodings not at all. So a table read back from the
    work cache gives the key of the one computed before, in any process.
    """
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()[:24]


def _feed(digest, value: Any) -> None:
    """Add ``value``'s content to ``digest`` (see :func:`cache_key`)."""
    if sp.issparse(value):
        csr = sp.csr_array(value)
        csr.sort_indices()
        for item in ("sparse", csr.shape, csr.data, csr.indices, csr.indptr):
            _feed(digest, item)
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biufcmM":  # numbers
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, xr.DataArray):
        _feed(digest, [list(value.dims), value.values])
        _feed(digest, {d: value[d].values for d in value.dims if d in value.coords})
    elif isinstance(value, (pd.Index, np.ndarray)):
        _feed(digest, [str(v) for v in np.asarray(value).tolist()])
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _feed(digest, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _feed(digest, [str(key), value[key]])
    elif isinstance(value, (list, tuple)):
        digest.update(f"[{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


class RealizationCache:
    """The finished realizations of one key in ``folder / key``.

    Parameters
    ----------
    folder : Path
        ``DIR/work/realizations``.
    key : str
        :func:`cache_key` of what the realizations depend on.
    """

    def __init__(self, folder: Path, key: str):
        self.folder = Path(folder) / key
        self.key = key
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for other in Path(folder).iterdir():
                if other.is_dir() and other.name != key:
                    shutil.rmtree(other, ignore_errors=True)
        except OSError as exc:
            raise OutputError(
                f"{folder}: cannot keep the Monte Carlo realizations ({exc.strerror}); "
                "free disk space or choose another --out"
            ) from exc

    def load(self, n: int) -> dict[int, Realization]:
        """The finished realizations among ``0 .. n - 1`` (unreadable files are ignored)."""
        found = {}
        for index in range(n):
            path = self.folder / f"{index}.npz"
            if not path.is_file():
                continue
            try:
                with np.load(path) as data:
                    found[index] = Realization(
                        index=index,
                        tables=data["tables"],
                        redraws=int(data["redraws"]),
                        row_error=float(data["row_error"]),
                        mrio_footprint=data["mrio_footprint"],
                    )
            except (OSError, ValueError, KeyError):
                continue
        return found

    def save(self, found: Realization) -> None:
        """Write one realization atomically (a temporary file, then a rename)."""
        path = self.folder / f"{found.index}.npz"
        partial = self.folder / f".{found.index}.{uuid.uuid4().hex}.npz"
        try:
            with open(partial, "wb") as handle:
                np.savez(
                    handle,
                    tables=found.tables,
                    redraws=found.redraws,
                    row_error=found.row_error,
                    mrio_footprint=found.mrio_footprint,
                )
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise OutputError(
                f"{path}: cannot write a finished Monte Carlo realization ({exc.strerror}); "
                "free disk space or choose another --out"
            ) from exc
