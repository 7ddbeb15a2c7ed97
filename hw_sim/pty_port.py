"""Byte pipes a simulator serves and the bridge opens as if it were a real serial port.

`PtyPort` is a pseudo-terminal pair: the bridge opens the slave path (or a stable symlink to
it) with pyserial. `TcpPort` listens on 127.0.0.1 for pyserial's ``socket://host:port``
handler. Neither is thread-safe: one thread (the bus loop) does all I/O, and `read` takes a
`wake_fd` so another thread can interrupt it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import tty
from pathlib import Path
from typing import Protocol

__all__ = ["PtyPort", "SimPort", "TcpPort"]


class SimPort(Protocol):
    """What a `SimBus` needs from its transport."""

    @property
    def url(self) -> str:
        """What the bridge passes to pyserial (`serial_for_url` accepts both forms)."""
        ...

    def read(self, timeout: float, wake_fd: int) -> bytes:
        """Bytes from the master, or b"" after `timeout`, a wake-up or a disconnect."""
        ...

    def write(self, data: bytes) -> None:
        """Bytes to the master; silently lost when nobody is connected, as on a real line."""
        ...

    def unplug(self) -> None:
        """Make the port vanish for the bridge."""
        ...

    def replug(self) -> None:
        """Bring the port back."""
        ...

    def close(self) -> None:
        """Release everything."""
        ...


class PtyPort:
    """A pty pair. With `link`, a symlink that always points at the current slave, so the
    bridge keeps one path across `unplug()`/`replug()` (a new pty gets a new /dev/pts/N)."""

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self._link = Path(link) if link is not None else None
        self._master = -1
        self._slave = -1
        self._path = ""
        self.replug()

    @property
    def url(self) -> str:
        """The symlink if there is one, else the slave's /dev/pts/N."""
        return str(self._link) if self._link is not None else self._path

    @property
    def slave_path(self) -> str:
        """The current /dev/pts/N (empty while unplugged)."""
        return self._path

    def replug(self) -> None:
        """Open a fresh pty pair (a no-op when already plugged)."""
        if self._master >= 0:
            return
        self._master, self._slave = os.openpty()
        # Raw before anyone opens it, or the line discipline would echo our writes back to us.
        tty.setraw(self._slave)
        self._path = os.ttyname(self._slave)
        if self._link is not None:
            tmp = self._link.with_name(self._link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._path)
            tmp.replace(self._link)

    def unplug(self) -> None:
        """Close both ends: the bridge's reads and writes fail, and the symlink disappears."""
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                self._link.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        self._path = ""

    close = unplug

    def read(self, timeout: float, wake_fd: int) -> bytes:
        """See `SimPort.read`."""
        fds = [wake_fd] if self._master < 0 else [self._master, wake_fd]
        ready, _, _ = select.select(fds, [], [], timeout)
        if self._master < 0 or self._master not in ready:
            return b""
        try:
            return os.read(self._master, 4096)
        except OSError as exc:
            # We hold the slave open ourselves, so EIO ("no slave") should not happen; be safe.
            if exc.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes) -> None:
        """See `SimPort.write`."""
        if self._master >= 0:
            os.write(self._master, data)


class TcpPort:
    """A listener on 127.0.0.1 serving one client at a time, re-accepting after a disconnect."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._host = host
        self._port = port
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self.replug()

    @property
    def url(self) -> str:
        """``socket://127.0.0.1:PORT``."""
        return f"socket://{self._host}:{self._port}"

    @property
    def connected(self) -> bool:
        """Whether a client (the bridge) is connected now."""
        return self._client is not None

    def replug(self) -> None:
        """Listen again on the same port (a no-op when already listening)."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, self._port))
        listener.listen(1)
        self._port = listener.getsockname()[1]
        self._listener = listener

    def unplug(self) -> None:
        """Drop the client and stop listening, so a reconnect is refused like a missing device."""
        self._drop_client()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    close = unplug

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def read(self, timeout: float, wake_fd: int) -> bytes:
        """See `SimPort.read`; accepts a client when none is connected."""
        watched: socket.socket | None = self._client or self._listener
        fds: list[int | socket.socket] = [wake_fd] if watched is None else [watched, wake_fd]
        ready, _, _ = select.select(fds, [], [], timeout)
        if watched is None or watched not in ready:
            return b""
        if watched is self._listener:
            client, _ = watched.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._client = client
            return b""
        try:
            data = watched.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._drop_client()
        return data

    def write(self, data: bytes) -> None:
        """See `SimPort.write`."""
        if self._client is None:
            return
        try:
            self._client.sendall(data)
        except OSError:
            self._drop_client()
