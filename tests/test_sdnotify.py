"""sd_notify: what systemd receives on its notification socket."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from yichuang.sdnotify import Notifier


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def test_ready_watchdog_and_stopping_reach_systemd(systemd_socket: tuple[str, socket.socket]) -> None:
    path, sock = systemd_socket
    notifier = Notifier(path)

    assert notifier.enabled
    assert notifier.ready()
    assert notifier.watchdog()
    assert notifier.status("serving 3 windows\nok")
    assert notifier.stopping()

    received = [sock.recv(4096) for _ in range(4)]
    assert received == [b"READY=1", b"WATCHDOG=1", b"STATUS=serving 3 windows ok", b"STOPPING=1"]


def test_abstract_socket_name_starting_with_at() -> None:
    name = f"yichuang-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2)

        assert Notifier("@" + name).ready()

        assert sock.recv(4096) == b"READY=1"


def test_without_a_socket_every_call_is_a_no_op() -> None:
    for notifier in (Notifier(None), Notifier("")):
        assert not notifier.enabled
        assert notifier.ready() is False
        assert notifier.watchdog() is False
        assert notifier.stopping() is False


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))

    assert notifier.watchdog() is False
    assert "sd_notify failed" in caplog.text


def test_watchdog_interval_is_half_of_watchdog_sec() -> None:
    assert Notifier("/run/x", watchdog_usec="30000000").watchdog_interval_s == 15.0
    assert Notifier("/run/x", watchdog_usec=None).watchdog_interval_s is None
    assert Notifier("/run/x", watchdog_usec="0").watchdog_interval_s is None
    assert Notifier("/run/x", watchdog_usec="junk").watchdog_interval_s is None
