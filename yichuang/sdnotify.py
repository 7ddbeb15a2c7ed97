"""systemd's readiness and watchdog notifications (sd_notify), without libsystemd.

The CLI builds a `Notifier` from `$NOTIFY_SOCKET` (and `$WATCHDOG_USEC`); outside
systemd both are unset and every call is a no-op.
"""

from __future__ import annotations

import logging
import socket

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends `READY=1`, `WATCHDOG=1`, `STOPPING=1` and status lines to systemd.

    A failed send is logged and ignored: losing a notification must never take the
    service down (systemd's watchdog will act if it matters).
    """

    def __init__(self, socket_path: str | None, watchdog_usec: str | int | None = None) -> None:
        self.socket_path = socket_path or None
        self._address: str | bytes | None = None
        if self.socket_path is not None:
            if self.socket_path.startswith("@"):
                # Abstract namespace: the kernel's name starts with a NUL byte instead of '@'.
                self._address = b"\0" + self.socket_path[1:].encode()
            else:
                self._address = self.socket_path
        self._watchdog_usec = _parse_usec(watchdog_usec)

    @property
    def enabled(self) -> bool:
        """Whether there is a socket to notify (the process runs under systemd)."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to call `watchdog()`: half of systemd's WatchdogSec, or None when off."""
        if self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2_000_000

    def ready(self) -> bool:
        """Startup finished: the service is up (Type=notify units wait for this)."""
        return self.notify("READY=1")

    def watchdog(self) -> bool:
        """Still alive: must be sent more often than WatchdogSec."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Shutdown has begun."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """A one-line human-readable status shown by `systemctl status`."""
        return self.notify("STATUS=" + text.replace("\n", " "))

    def notify(self, state: str) -> bool:
        """Send one raw notification; True if it was sent, False if off or failed."""
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(state.encode("utf-8"))
        except OSError as exc:
            log.warning("sd_notify failed socket=%s state=%s error=%s", self.socket_path, state, exc)
            return False
        return True

    def __repr__(self) -> str:
        return f"Notifier(socket_path={self.socket_path!r})"


def _parse_usec(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        usec = int(value)
    except ValueError:
        log.warning("sd_notify ignoring invalid WATCHDOG_USEC value=%r", value)
        return None
    return usec if usec > 0 else None
