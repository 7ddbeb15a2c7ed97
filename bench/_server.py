"""`yichuang server` in a process of its own, as the end-to-end benchmarks measure it.

A separate interpreter, as deployed: the server's GIL, garbage collections and durable
commits are not the load generator's. A bench starts its load only once the retained
`online` is out: the server connects to the broker last, so `online` means its database,
worker, command subscription and HTTP are all up, and no early command is lost or timed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from yichuang.child_process import stop_child
from yichuang.config import load_config
from yichuang.mqtt_client import Message, MqttClient

__all__ = ["ServerProcess", "start_server"]

ROOT = Path(__file__).resolve().parents[1]
_ONLINE_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 20.0  # a clean stop is worth waiting for: the server says `offline`, closes its database
_LOG_TAIL_CHARS = 2000


class ServerProcess:
    """`yichuang server -c CONFIG` with its output in `log_path`. Use `stop()` (or `with`) to end it."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        # The hall and broker the server itself reads, so the wait cannot watch another topic.
        config = load_config(config_path)
        self.hall = config.hall.id
        self.broker = config.broker
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = _ONLINE_TIMEOUT_S) -> None:
        """Start the server and wait for its retained `online`; SystemExit, the server stopped, if none."""
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "yichuang.cli",
                "--log-level",
                "warning",
                "server",
                "-c",
                str(self.config_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            self._wait_online(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_online(self, timeout_s: float) -> None:
        assert self._proc is not None
        online = threading.Event()

        def on_status(message: Message) -> None:
            if message.payload == b"online":
                online.set()

        watcher = MqttClient(
            host=self.broker.host,
            port=self.broker.port,
            client_id="bench-server-status",
            hall=self.hall,
            device=None,
            username=self.broker.username,
            password=self.broker.password,
        )
        watcher.subscribe(f"yc/{self.hall}/device/server/status", on_status)
        watcher.start()
        try:
            deadline = time.monotonic() + timeout_s
            while not online.wait(0.05):
                if self._proc.poll() is not None:
                    raise SystemExit(
                        f"the server exited with {self._proc.returncode} before coming online "
                        f"(log: {self.log_path}):\n{self.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"the server did not come online in {timeout_s:g} s (log: {self.log_path}):\n"
                        f"{self.log_tail()}"
                    )
        finally:
            watcher.stop()

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL if it has not stopped in 20 s)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_child(proc, _STOP_TIMEOUT_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, max_chars: int = _LOG_TAIL_CHARS) -> str:
        """The end of the server's log: the benches delete their work directory on the way out."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-max_chars:]
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server(config_path: Path, log_path: Path, timeout_s: float = _ONLINE_TIMEOUT_S) -> ServerProcess:
    """Start `yichuang server` on `config_path` and return once it is online (see `ServerProcess.start`)."""
    server = ServerProcess(config_path, log_path)
    server.start(timeout_s)
    return server
