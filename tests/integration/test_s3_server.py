"""The tests' S3 server (``helpers.s3_server``): loopback only, every port given, stopped by pid."""

from __future__ import annotations

import os
import socket
import urllib.request

import psutil
from helpers.s3_server import PORT_FLAGS, S3Server, weed_binary


def _listening(pid: int) -> set[tuple[str, int]]:
    conns = psutil.Process(pid).net_connections(kind="inet")
    return {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}


def test_server_listens_on_its_given_ports_on_loopback_only(s3_server):
    listening = _listening(s3_server.proc.pid)
    assert {ip for ip, _ in listening} == {"127.0.0.1"}
    assert {port for _, port in listening} == set(s3_server.ports.values())
    assert len(s3_server.ports) == len(PORT_FLAGS) == 8
    remote = [
        c.raddr
        for c in psutil.Process(s3_server.proc.pid).net_connections(kind="inet")
        if c.raddr and c.raddr.ip != "127.0.0.1"
    ]
    assert remote == [], f"the S3 server connected outside: {remote}"
    assert "-master.telemetry=false" in s3_server.command()


def test_bucket_per_test_holds_an_object(s3_server, s3_bucket):
    url = f"{s3_server.endpoint}/{s3_bucket}/a/b.txt"
    put = urllib.request.Request(url, data=b"12345", method="PUT")
    with urllib.request.urlopen(put, timeout=10) as reply:
        assert reply.status == 200
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.read() == b"12345"
    assert os.environ["AWS_ENDPOINT_URL"] == s3_server.endpoint


def test_one_server_holds_a_bucket_per_test_for_a_whole_suite(s3_server):
    names = [s3_server.create_bucket() for _ in range(12)]  # each written to once
    assert len(set(names)) == 12


def test_stop_ends_the_process_and_frees_its_ports(tmp_path):
    server = S3Server(tmp_path / "s3", weed_binary()).start()
    pid, port = server.proc.pid, server.ports["s3.port"]
    server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        sock.bind(("127.0.0.1", port))  # nobody listens any more
