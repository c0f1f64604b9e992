"""One writer per output directory: the ``DIR/.lock`` file.

:func:`output_lock` holds ``DIR/.lock`` (pid, host, start time; created with
``O_EXCL``) for the run; a second run fails naming the holder. A lock whose
process is gone on this host is taken over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import OutputError

LOCK = ".lock"


def pid_alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` runs on this host (and started at ``started``, if given)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _read_lock(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _lock_alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell from here
    return pid_alive(int(holder.get("pid", -1)), holder.get("started_at"))


_HELD: dict[Path, int] = {}


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[Path]:
    """Hold ``out/.lock`` while the block runs; re-entrant within one process.

    Raises
    ------
    OutputError
        If another live run holds the lock (naming its pid, host and start).
    """
    path = Path(os.path.realpath(out)) / LOCK
    if path in _HELD:
        _HELD[path] += 1
        try:
            yield path
        finally:
            _HELD[path] -= 1
        return
    mine = _take_lock(path)
    _HELD[path] = 1
    try:
        yield path
    finally:
        del _HELD[path]
        if _read_lock(path) == mine:
            path.unlink(missing_ok=True)


def _take_lock(path: Path) -> dict:
    import psutil

    mine = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": psutil.Process().create_time(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    for _ in range(50):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if holder is None:  # being written right now, or an empty leftover
                if time.time() - _mtime(path) > 10:
                    _break_lock(path, None)
                time.sleep(0.1)
                continue
            if _lock_alive(holder):
                raise OutputError(_locked_message(path, holder)) from None
            _break_lock(path, holder)
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(mine, fh)
        return mine
    raise OutputError(f"{path}: could not take the output lock; delete it if no run is writing")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _break_lock(path: Path, holder: dict | None) -> None:
    """Remove a stale lock, unless another process replaced it meanwhile."""
    guard = path.with_name(LOCK + ".break")
    try:
        fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        if time.time() - _mtime(guard) > 10:
            guard.unlink(missing_ok=True)
        return
    os.close(fd)
    try:
        if _read_lock(path) == holder:
            path.unlink(missing_ok=True)
    finally:
        guard.unlink(missing_ok=True)


def _locked_message(path: Path, holder: dict) -> str:
    where = f"pid {holder.get('pid')} on host {holder.get('host')}"
    elsewhere = holder.get("host") != socket.gethostname()
    return (
        f"{path.parent}: another footprint-map run ({where}, started {holder.get('started')}) "
        "is writing this output directory; wait for it to finish or choose another --out"
        + (f" (if that run is gone, delete {path})" if elsewhere else "")
    )
