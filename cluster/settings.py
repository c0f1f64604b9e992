"""Check the ``[cluster]`` settings (after CLI overrides) before anything starts.

A bad worker count, memory size or scheduler address is refused here, with the
fix, instead of hanging (``--workers 0``) or failing deep inside distributed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dask.utils import parse_bytes
from distributed.comm import parse_address
from distributed.comm.addressing import parse_host_port

from pipeline.errors import ConfigError

#: Address schemes a ``--scheduler`` may use.
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
#: The scheme of a scheduler in this very process (``LocalCluster(processes=False)``).
INPROC = "inproc"
#: Defaults of a LocalCluster (``[cluster]`` keys).
LOCAL_DEFAULTS = {"n_workers": 2, "threads_per_worker": 1, "memory_limit": "3GiB"}
_FLAGS = {
    "n_workers": "--workers",
    "threads_per_worker": "--threads",
    "memory_limit": "--memory-limit",
}


def checked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with the local defaults filled in, every value checked.

    Raises
    ------
    ConfigError
        Naming the flag / ``[cluster]`` key, the value and the fix.
    """
    out = {**LOCAL_DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
    for key in ("n_workers", "threads_per_worker"):
        out[key] = _positive_int(key, out[key])
    out["memory_limit"] = _memory(out["memory_limit"])
    if out.get("address"):
        out["kind"] = "address"
        out["address"] = check_address(str(out["address"]))
    elif out.get("kind") == "address":
        raise ConfigError(
            "[cluster] kind = 'address' needs [cluster] address (or --scheduler tcp://HOST:PORT)"
        )
    return out


def _where(key: str) -> str:
    return f"{_FLAGS[key]} / [cluster] {key}"


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{_where(key)} = {value!r}: must be a whole number >= 1, e.g. 2")
    return value


def _memory(value: Any) -> str | int:
    """A memory limit distributed accepts: ``"auto"`` or a positive size."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        size = parse_bytes(value) if isinstance(value, str) else int(value)
    except (ValueError, TypeError):
        size = None
    if size is None or size <= 0:
        raise ConfigError(
            f"{_where('memory_limit')} = {value!r}: not a memory size; "
            "use e.g. 3GiB, 1500MB or auto"
        )
    return value


def check_address(address: str) -> str:
    """``address`` if it looks like ``scheme://host:port``; else a ConfigError with the fix.

    An ``inproc://`` address (a scheduler in this process, as the Python API
    may pass) is accepted as it is.
    """
    fix = "use the scheduler's address, e.g. --scheduler tcp://127.0.0.1:8786"
    try:
        scheme, location = parse_address(address)
        if scheme == INPROC and location:
            return address
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--scheduler / [cluster] address {address!r}: {exc}; {fix}") from exc
    if scheme not in SCHEMES or not host or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--scheduler / [cluster] address {address!r} is not a Dask scheduler address "
            f"(scheme one of {list(SCHEMES)}, port 1-65535); {fix}"
        )
    return address
