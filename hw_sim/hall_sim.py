"""The simulated RS-485 devices of a whole hall, built from its `hall.toml` (`yichuang sim`).

`HallSim` reads a `Config` and puts every YC-BUS device of kind `caller`, `eval_pad` or
`led_panel` on a simulated line: one `SimBus` per distinct `port` of the config, each device
at its configured bus address. The transport is a pty pair (`transport="pty"`, what a USB
adapter looks like to the bridge; with `link_dir` each line also gets a stable symlink
``{link_dir}/ttyYC{index}`` that survives a line unplug/replug) or a ``socket://127.0.0.1:PORT``
listener (`transport="tcp"`, on a free port).

The bridge then runs on the same config with every simulated `port` replaced by the sim's
URL: `rewrite_ports` does that on the TOML text (comments and layout kept, so
`yichuang check-config` line numbers still make sense), `rewritten_config` on a parsed
`Config`.

Every `[[kiosk]]` with a `printer` also gets a simulated network ESC/POS printer
(`hw_sim.escpos_printer.SimPrinter`, on a free TCP port; receipts rendered as PNGs into
`receipts_dir` when given): `printer_urls` maps the kiosk to its ``tcp://127.0.0.1:PORT``,
which `rewrite_printers` / `rewritten_config` put in the kiosk's `printer`.

Every `lock_board` speaking Kerong (`protocol = "kerong"`, or empty: its standard) is a
`hw_sim.lock_board.SimLockBoard` at its address on a `SimLockLine` per port (pty links
``{link_dir}/ttyKR{index}``); its port is in `urls` like the others, `lock_board(id)` gives it.

Every `modem` speaking AT commands (`protocol = "at"`, or empty) is a `hw_sim.gsm_modem.SimModem`
on a `SimModemLine` of its own (pty links ``{link_dir}/ttyGSM{index}``); its port is in `urls`
too, `modem(id)` gives it (the texts it sent, faults).

`run_sim` is the `yichuang sim -c hall.toml` entry point: devices plus the MQTT control
surface of `hw_sim.sim_control`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Self

from hw_sim.escpos_printer import SimPrinter
from hw_sim.gsm_modem import SimModem, SimModemLine
from hw_sim.lock_board import SimLockBoard, SimLockLine
from hw_sim.serial_devices import SimBus, SimCaller, SimDevice, SimEvalPad, SimLedPanel
from yichuang.config_model import Config, DeviceConfig

__all__ = [
    "SIM_KINDS",
    "HallSim",
    "Transport",
    "rewrite_ports",
    "rewrite_printers",
    "rewritten_config",
    "run_sim",
]

log = logging.getLogger(__name__)

Transport = Literal["tcp", "pty"]

SIM_KINDS: Mapping[str, type[SimDevice]] = {
    "caller": SimCaller,
    "eval_pad": SimEvalPad,
    "led_panel": SimLedPanel,
}
"""Device kinds the hall simulator plays, and the simulated model for each."""

# `protocol` values meaning YC-BUS v1 (empty = the kind's standard framing, docs/hardware.md).
_YCBUS_PROTOCOLS = frozenset({"", "ycbus", "yc-bus", "ycbus1", "yc-bus-v1"})


class HallSim:
    """Every simulated YC-BUS line of one hall config.

    Devices exist from construction (so `device()` works at once); the lines and their
    ports exist between `start()` and `stop()` (also a context manager). Thread-safe for
    reads once started.
    """

    def __init__(
        self,
        config: Config,
        transport: Transport = "tcp",
        *,
        link_dir: str | os.PathLike[str] | None = None,
        receipts_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if transport not in ("tcp", "pty"):
            raise ValueError(f'transport must be "tcp" or "pty", got {transport!r}')
        self.config = config
        self.transport: Transport = transport
        self.link_dir = Path(link_dir) if link_dir is not None else None
        self._devices: dict[str, SimDevice] = {}
        self._port_of: dict[str, str] = {}  # device id -> config port
        self._lines: dict[str, list[SimDevice]] = {}  # config port -> devices, in config order
        # Kerong lock boards (`kind = "lock_board"`, `protocol = "kerong"` or empty) get lines of their own
        self._lock_boards: dict[str, SimLockBoard] = {}
        self._lock_lines: dict[str, list[SimLockBoard]] = {}
        self._lock_buses: dict[str, SimLockLine] = {}
        # GSM modems (`kind = "modem"`, `protocol = "at"` or empty): one per port, config port -> modem
        self._modems: dict[str, SimModem] = {}
        self._modem_ports: dict[str, str] = {}  # device id -> config port
        self._modem_lines: dict[str, SimModemLine] = {}  # config port -> running line
        for dev in config.devices:
            if dev.kind == "modem" and dev.port and dev.protocol.lower() in ("", "at"):
                self._add_modem(dev)
                continue
            if dev.kind == "lock_board" and dev.port and dev.protocol.lower() in ("", "kerong"):
                self._add_lock_board(dev)
                continue
            if not _simulated(dev):
                continue
            if dev.address is None:
                raise ValueError(f"device {dev.id!r}: a {dev.kind} needs a bus address")
            try:
                sim = SIM_KINDS[dev.kind](dev.address)
            except ValueError as exc:
                raise ValueError(f"device {dev.id!r}: {exc}") from None
            line = self._lines.setdefault(dev.port, [])
            if any(other.address == sim.address for other in line):
                raise ValueError(f"device {dev.id!r}: address {dev.address} already used on {dev.port}")
            line.append(sim)
            self._devices[dev.id] = sim
            self._port_of[dev.id] = dev.port
        mixed = sorted(set(self._lines) & set(self._lock_lines))
        if mixed:
            raise ValueError(f"ports {mixed} mix YC-BUS and Kerong devices: one protocol per line")
        shared = sorted(set(self._modems) & (set(self._lines) | set(self._lock_lines)))
        if shared:
            raise ValueError(f"ports {shared} have a modem and bus devices: a modem has its port to itself")
        self._buses: dict[str, SimBus] = {}  # config port -> line, index order
        self.receipts_dir = Path(receipts_dir) if receipts_dir is not None else None
        # kiosk id -> its printer; created now (so tests can look), listening from start()
        self._printers: dict[str, SimPrinter] = {
            kiosk.id: SimPrinter(kiosk.id, receipts_dir=self.receipts_dir)
            for kiosk in config.kiosks
            if kiosk.printer
        }
        self._running = False
        self._lock = threading.Lock()

    # --- what is simulated --------------------------------------------------------------

    @property
    def ports(self) -> tuple[str, ...]:
        """The config ports that are simulated, in order of first use; a line's index is its position."""
        return tuple(self._lines)

    @property
    def device_ids(self) -> tuple[str, ...]:
        """The ids of the simulated devices, in config order."""
        return tuple(self._devices)

    @property
    def devices(self) -> dict[str, SimDevice]:
        """Device id -> simulated device (a copy of the mapping)."""
        return dict(self._devices)

    def device(self, device_id: str) -> SimDevice:
        """The simulated device with this config id (KeyError if it is not simulated)."""
        return self._devices[device_id]

    def port_of(self, device_id: str) -> str:
        """The config port of a simulated device (KeyError if it is not simulated)."""
        return self._port_of[device_id]

    @property
    def started(self) -> bool:
        """Whether `start()` ran and `stop()` did not since."""
        with self._lock:
            return self._running

    @property
    def buses(self) -> tuple[SimBus, ...]:
        """The running lines, index order (empty before `start()`)."""
        with self._lock:
            return tuple(self._buses.values())

    def bus(self, index: int) -> SimBus:
        """The running line number `index` (IndexError if none, or not started)."""
        buses = self.buses
        if not 0 <= index < len(buses):
            raise IndexError(f"no simulated line {index} (there are {len(buses)})")
        return buses[index]

    def bus_of(self, device_id: str) -> SimBus:
        """The running line a device is on (KeyError if not simulated, RuntimeError before `start()`)."""
        port = self._port_of[device_id]
        with self._lock:
            bus = self._buses.get(port)
        if bus is None:
            raise RuntimeError("HallSim is not started")
        return bus

    @property
    def urls(self) -> dict[str, str]:
        """Config port -> what the bridge opens instead (empty before `start()`)."""
        with self._lock:
            urls = {port: bus.url for port, bus in self._buses.items()}
            urls |= {port: line.url for port, line in self._lock_buses.items()}
            return urls | {port: line.url for port, line in self._modem_lines.items()}

    @property
    def printers(self) -> dict[str, SimPrinter]:
        """Kiosk id -> its simulated printer (a copy of the mapping)."""
        return dict(self._printers)

    def printer(self, kiosk_id: str) -> SimPrinter:
        """The simulated printer of a kiosk (KeyError if that kiosk has no printer)."""
        return self._printers[kiosk_id]

    @property
    def printer_urls(self) -> dict[str, str]:
        """Kiosk id -> the printer URL its kiosk uses instead (empty before `start()`)."""
        with self._lock:
            if not self._running:
                return {}
            return {kiosk_id: printer.url for kiosk_id, printer in self._printers.items()}

    @property
    def lock_boards(self) -> dict[str, SimLockBoard]:
        """Device id -> simulated Kerong lock board (a copy of the mapping)."""
        return dict(self._lock_boards)

    def lock_board(self, device_id: str) -> SimLockBoard:
        """The simulated lock board with this config id (KeyError if it is not simulated)."""
        return self._lock_boards[device_id]

    def lock_line_of(self, device_id: str) -> SimLockLine:
        """The running line a lock board is on (KeyError if not simulated, RuntimeError before `start()`)."""
        board = self._lock_boards[device_id]
        port = next(port for port, boards in self._lock_lines.items() if board in boards)
        with self._lock:
            line = self._lock_buses.get(port)
        if line is None:
            raise RuntimeError("HallSim is not started")
        return line

    @property
    def modems(self) -> dict[str, SimModem]:
        """Device id -> simulated GSM modem (a copy of the mapping)."""
        return {device_id: self._modems[port] for device_id, port in self._modem_ports.items()}

    def modem(self, device_id: str) -> SimModem:
        """The simulated modem with this config id (KeyError if it is not simulated)."""
        return self._modems[self._modem_ports[device_id]]

    def modem_line_of(self, device_id: str) -> SimModemLine:
        """The running port of a modem (KeyError if not simulated, RuntimeError before `start()`)."""
        port = self._modem_ports[device_id]
        with self._lock:
            line = self._modem_lines.get(port)
        if line is None:
            raise RuntimeError("HallSim is not started")
        return line

    def _add_modem(self, dev: DeviceConfig) -> None:
        if dev.port in self._modems:
            raise ValueError(f"device {dev.id!r}: another modem is already on {dev.port}")
        self._modems[dev.port] = SimModem()
        self._modem_ports[dev.id] = dev.port

    def _add_lock_board(self, dev: DeviceConfig) -> None:
        if dev.address is None:
            raise ValueError(f"device {dev.id!r}: a lock_board needs a bus address")
        try:
            board = SimLockBoard(dev.address)
        except ValueError as exc:
            raise ValueError(f"device {dev.id!r}: {exc}") from None
        line = self._lock_lines.setdefault(dev.port, [])
        if any(other.address == board.address for other in line):
            raise ValueError(f"device {dev.id!r}: address {dev.address} already used on {dev.port}")
        line.append(board)
        self._lock_boards[dev.id] = board

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Open every line's port and serve it in the background (idempotent)."""
        with self._lock:
            if self._running:
                return self
            if self.link_dir is not None and self.transport == "pty":
                self.link_dir.mkdir(parents=True, exist_ok=True)
            try:
                for index, (port, devices) in enumerate(self._lines.items()):
                    if self.transport == "tcp":
                        bus = SimBus.tcp(*devices)
                    else:
                        link = self.link_dir / f"ttyYC{index}" if self.link_dir is not None else None
                        bus = SimBus.pty(*devices, link=link)
                    self._buses[port] = bus
                    bus.start()
                    log.info(
                        "sim line index=%d port=%s url=%s devices=%d", index, port, bus.url, len(devices)
                    )
                for index, (port, boards) in enumerate(self._lock_lines.items()):
                    if self.transport == "tcp":
                        lock_line = SimLockLine.tcp(*boards)
                    else:
                        link = self.link_dir / f"ttyKR{index}" if self.link_dir is not None else None
                        lock_line = SimLockLine.pty(*boards, link=link)
                    self._lock_buses[port] = lock_line
                    lock_line.start()
                    log.info("sim lock line index=%d port=%s url=%s", index, port, lock_line.url)
                for index, (port, modem) in enumerate(self._modems.items()):
                    if self.transport == "tcp":
                        modem_line = SimModemLine.tcp(modem)
                    else:
                        link = self.link_dir / f"ttyGSM{index}" if self.link_dir is not None else None
                        modem_line = SimModemLine.pty(modem, link=link)
                    self._modem_lines[port] = modem_line
                    modem_line.start()
                    log.info("sim modem index=%d port=%s url=%s", index, port, modem_line.url)
                for printer in self._printers.values():
                    printer.start()
            except BaseException:
                self._stop_locked()
                raise
            self._running = True
        return self

    def stop(self) -> None:
        """Stop every line and release its port (pty links removed). Safe to call twice."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        for port, bus in list(self._buses.items()):
            try:
                bus.stop()
            except Exception:
                log.exception("sim line stop failed port=%s", port)
        self._buses.clear()
        for port, lock_line in list(self._lock_buses.items()):
            try:
                lock_line.stop()
            except Exception:
                log.exception("sim lock line stop failed port=%s", port)
        self._lock_buses.clear()
        for port, modem_line in list(self._modem_lines.items()):
            try:
                modem_line.stop()
            except Exception:
                log.exception("sim modem stop failed port=%s", port)
        self._modem_lines.clear()
        for kiosk_id, printer in self._printers.items():
            try:
                printer.stop()
            except Exception:
                log.exception("sim printer stop failed kiosk=%s", kiosk_id)
        self._running = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _simulated(dev: DeviceConfig) -> bool:
    if dev.kind not in SIM_KINDS or not dev.port:
        return False
    if dev.protocol.lower() not in _YCBUS_PROTOCOLS:
        log.warning("sim skips device id=%s protocol=%s (only YC-BUS v1 is simulated)", dev.id, dev.protocol)
        return False
    return True


# --- config rewriting ---------------------------------------------------------------------

# `port = "…"` or `port = '…'` as a key at the start of a line (the way [[device]] tables are
# written), keeping whatever follows (a trailing comment).
_PORT_LINE = re.compile(
    r"""^(?P<key>[ \t]*port[ \t]*=[ \t]*)(?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*')""", re.M
)


def _toml_string(value: str) -> str:
    """A TOML basic string for `value` (JSON string escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def rewrite_ports(config_text: str, urls: Mapping[str, str]) -> str:
    """`config_text` with every `port = "<original>"` whose value is a key of `urls` replaced
    by ``port = "<urls[original]>"``; everything else (layout, comments) stays byte for byte.
    """

    def replace(match: re.Match[str]) -> str:
        literal = match.group("value")
        try:
            value = tomllib.loads(f"v = {literal}")["v"]
        except tomllib.TOMLDecodeError:
            return match.group(0)
        if not isinstance(value, str) or value not in urls:
            return match.group(0)
        return match.group("key") + _toml_string(urls[value])

    return _PORT_LINE.sub(replace, config_text)


# `printer = "…"` as a key at the start of a line, like _PORT_LINE.
_PRINTER_LINE = re.compile(
    r"""^(?P<key>[ \t]*printer[ \t]*=[ \t]*)(?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*')""", re.M
)
_TABLE_LINE = re.compile(r"^[ \t]*\[", re.M)


def rewrite_printers(config_text: str, printer_urls: Mapping[str, str]) -> str:
    """`config_text` with the `printer` of each `[[kiosk]]` whose id is a key of `printer_urls`
    replaced by ``printer = "<printer_urls[id]>"``; everything else stays byte for byte.

    Two kiosks may name the same printer URL, so the kiosk is found by the `id` of the
    table the line is in, not by the value.
    """
    starts = [m.start() for m in _TABLE_LINE.finditer(config_text)]
    bounds = list(zip([0, *starts], [*starts, len(config_text)], strict=True))
    parts: list[str] = []
    for begin, end in bounds:
        table = config_text[begin:end]
        if table.lstrip().startswith("[[kiosk]]"):
            try:
                kiosk_id = tomllib.loads(table)["kiosk"][0].get("id")
            except (tomllib.TOMLDecodeError, KeyError, IndexError, AttributeError):
                kiosk_id = None
            if isinstance(kiosk_id, str) and kiosk_id in printer_urls:
                match = _PRINTER_LINE.search(table)
                if match is not None:
                    value = _toml_string(printer_urls[kiosk_id])
                    table = table[: match.start()] + match.group("key") + value + table[match.end() :]
        parts.append(table)
    return "".join(parts)


def rewritten_config(
    config: Config, urls: Mapping[str, str], printer_urls: Mapping[str, str] | None = None
) -> Config:
    """`config` with each device whose `port` is a key of `urls` moved to `urls[port]`, and
    each kiosk whose id is a key of `printer_urls` printing to `printer_urls[id]`."""
    devices = tuple(
        dataclasses.replace(dev, port=urls[dev.port]) if dev.port in urls else dev for dev in config.devices
    )
    printers = printer_urls or {}
    kiosks = tuple(
        dataclasses.replace(kiosk, printer=printers[kiosk.id]) if kiosk.id in printers else kiosk
        for kiosk in config.kiosks
    )
    return dataclasses.replace(config, devices=devices, kiosks=kiosks)


# --- `yichuang sim` ------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def run_sim(
    config_path: str | os.PathLike[str],
    stop: threading.Event,
    transport: Transport = "pty",
    write_config: Path | None = None,
    *,
    link_dir: Path | None = None,
    mqtt: bool = True,
    mqtt_wait_s: float = 5.0,
    on_ready: Callable[[HallSim], None] | None = None,
    receipts_dir: Path | None = None,
) -> int:
    """Run the simulated devices of a config until `stop` is set; 0 when done, 1 on a bad config.

    Prints each config port and the sim URL that replaces it. With `write_config`, writes
    the config with those URLs (`rewrite_ports`) for `yichuang bridge -c`. With the pty
    transport the lines get stable symlinks in `link_dir` (a temporary directory, removed
    at the end, when not given), so a line unplugged and replugged over MQTT comes back at
    the same path. Kiosk printers are simulated on TCP ports (the written config points
    each kiosk's `printer` there), their receipts saved as PNGs in `receipts_dir` if given.
    When the config's broker is reachable (and `mqtt`), the MQTT control
    surface of `hw_sim.sim_control` runs as device `sim`; otherwise a warning is printed
    and the devices run without it. `on_ready` is called once everything is up (tests,
    sd_notify).
    """
    from yichuang.config import ConfigError, load_config, parse_config

    path = Path(config_path)
    try:
        text = path.read_text(encoding="utf-8")
        config = load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    own_link_dir: Path | None = None
    if transport == "pty" and link_dir is None:
        own_link_dir = link_dir = Path(tempfile.mkdtemp(prefix="yichuang-sim-"))
    sim = HallSim(config, transport, link_dir=link_dir, receipts_dir=receipts_dir)
    control = None
    try:
        sim.start()
        urls = sim.urls
        if not urls:
            print(f"sim: {path} has no caller, eval_pad or led_panel on a port to simulate", flush=True)
        for port, url in urls.items():
            print(f"sim: {port} -> {url}", flush=True)
        for kiosk_id, url in sim.printer_urls.items():
            print(f"sim: printer of {kiosk_id} -> {url}", flush=True)
        if write_config is not None:
            new_text = rewrite_printers(rewrite_ports(text, urls), sim.printer_urls)
            parse_config(new_text, str(write_config))  # never hand the bridge a broken file
            _write_atomically(write_config, new_text)
            print(f"sim: bridge config written to {write_config}", flush=True)
        if mqtt:
            from hw_sim.sim_control import SimControl

            control = SimControl.for_config(sim, config)
            try:
                control.start(wait_s=mqtt_wait_s)
                print(f"sim: MQTT control on yc/{config.hall.id}/sim/# at {config.broker.url}", flush=True)
            except ConnectionError as exc:
                print(f"sim: warning: {exc}; running without MQTT control", file=sys.stderr, flush=True)
                control = None
        if on_ready is not None:
            on_ready(sim)
        stop.wait()
    finally:
        if control is not None:
            control.stop()
        sim.stop()
        if own_link_dir is not None:
            shutil.rmtree(own_link_dir, ignore_errors=True)
        log.info("sim stopped config=%s", path)
    return 0
