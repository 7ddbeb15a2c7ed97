"""One interface for every kind of serial line the bridge drives, and the registry of them.

A line is one serial port (a device path or `socket://host:port`) with the devices on it. Each
protocol gets a driver class with this shape; the bridge builds one per line from the
devices' `protocol` (empty = the kind's standard one) and talks to it only through it:

- callers, evaluation pads and LED panels: YC-BUS v1 (`firmware_bridge.serial_bus.SerialBus`);
- the locker's lock boards: Kerong KR-CU16 (`firmware_bridge.lock_board.KerongLine`), whose
  output is `open(device, door)` and whose inputs, door sensors and failed unlocks, come
  through two more callbacks given as options (`on_doors`, `on_unlock_failed`);
- GSM modems: AT commands, 3GPP TS 27.005 (`firmware_bridge.modem.ModemLine`, one modem per
  port), whose output is `send_sms(device, to, text, id)` and whose outcome per text comes
  through an `on_sms` callback given as an option.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from firmware_bridge.codecs.ycbus import KeyEvent
from firmware_bridge.lock_board import KerongLine
from firmware_bridge.modem import ModemLine
from firmware_bridge.serial_bus import SerialBus
from yichuang.config_model import DeviceConfig


class LineDriver(Protocol):
    """What the bridge needs of a line: start, stop, outputs, counters; inputs come by callback."""

    url: str
    by_id: dict[str, Any]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def set_display(self, device_id: str, line: int, text: str) -> None: ...

    def set_lamps(self, device_id: str, lit: bool) -> None: ...

    def counters(self) -> dict[str, int]: ...


PressHandler = Callable[[DeviceConfig, KeyEvent], None]
OnlineHandler = Callable[[DeviceConfig, bool], None]

# protocol name -> driver class; "" is the standard protocol of the kinds below
DRIVERS: dict[str, type[Any]] = {"": SerialBus, "ycbus": SerialBus}
STANDARD = {"caller": "ycbus", "eval_pad": "ycbus", "led_panel": "ycbus"}
# Kerong KR-CU16 boards: also `on_doors` and `on_unlock_failed` callbacks, and `open(device, door)`
DRIVERS["kerong"] = KerongLine
STANDARD["lock_board"] = "kerong"
# GSM modems (AT commands, TS 27.005): also an `on_sms` callback, and `send_sms(device, to, text, id)`
DRIVERS["at"] = ModemLine
STANDARD["modem"] = "at"


class UnsupportedProtocol(ValueError):
    """No driver in this version for a device's protocol; the device is reported, not guessed at."""


def protocol_of(device: DeviceConfig) -> str:
    return device.protocol or STANDARD.get(device.kind, "")


def make_line(
    url: str,
    devices: list[DeviceConfig],
    on_press: PressHandler,
    on_online: OnlineHandler,
    **options: Any,
) -> LineDriver:
    """The driver for one line; every device on a line must speak the same protocol."""
    protocols = {protocol_of(d) for d in devices}
    if len(protocols) != 1:
        raise UnsupportedProtocol(f"line {url} mixes protocols {sorted(protocols)}")
    protocol = protocols.pop()
    driver = DRIVERS.get(protocol)
    if driver is None:
        raise UnsupportedProtocol(f"no driver for protocol {protocol!r} on {url}")
    line: LineDriver = driver(url, devices, on_press, on_online, **options)
    return line
