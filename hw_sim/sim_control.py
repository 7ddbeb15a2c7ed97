"""MQTT control surface of the hall simulator (`yichuang sim`): press keys, inject faults, watch displays.

The simulator process is device `sim` of its hall: it publishes the usual retained
`yc/{hall}/device/sim/status` (`online`/`offline`, `offline` is the last will) and
`yc/{hall}/device/sim/info` (`{"kind": "simulator", "model": "yichuang hw_sim", "version"}`).
Everything else lives under `yc/{hall}/sim/`. `{device}` is a device id from `hall.toml`
(only simulated devices: kinds `caller`, `eval_pad`, `led_panel`); `{index}` is a simulated
RS-485 line, numbered from 0 in the order its `port` first appears among the config's
devices. Payloads are UTF-8 JSON objects; control topics are never retained.

Published by the simulator (retained, QoS 1):

- `yc/{hall}/sim/ports`: `{"<config port>": "<sim url>", …}`, e.g.
  `{"/dev/ttyUSB0": "socket://127.0.0.1:40231"}`; the bridge opens the url instead of the port.
- `yc/{hall}/sim/{device}/shows`, whenever it changes:
  `{"lines": ["A012", "等候 3"], "lamps": false, "plugged": true, "pending": 0}`.
- `yc/{hall}/sim/printers`: `{"<kiosk id>": "tcp://127.0.0.1:40233", …}`, the simulated
  ticket printer of each kiosk that has one (its `printer` in the bridge/kiosk config).

Control (to the simulator, not retained):

- `yc/{hall}/sim/{device}/press`: `{"key": "call_next", "arg": 0}`
- `yc/{hall}/sim/{device}/fault`: `{"kind": "garble", "n": 2}`
- `yc/{hall}/sim/bus/{index}/fault`: `{"kind": "garbage", "hex": "7E 01 FF"}`
- `yc/{hall}/sim/printer/{kiosk}/paper`: `ok`, `low` or `out` (plain text; the JSON forms
  `"out"` and `{"paper": "out"}` are accepted too): the paper roll of that kiosk's printer.
  `out` makes the printer answer `DLE EOT 4` with paper-out and discard print data until
  `ok` or `low` comes.

`shows`: `lines` are the display lines (empty list for an evaluation pad), `lamps` whether the
keys are lit (evaluation pad), `plugged` false while the device is unplugged, `pending` how
many key presses wait for the bridge to fetch and acknowledge them.

`press`: `key` is one of `call_next`, `recall`, `start`, `finish`, `no_show`, `pause_resume`,
`transfer`, `park` (callers) or `score` (evaluation pads), or the key's code as an integer
(docs/hardware.md, "Keys"); `arg` (default 0) is the service digit 1–9 for `transfer` and
the score 1–5 for `score` (5 = 非常满意). The press is queued on the device exactly like a
finger on the key: the bridge fetches it with its next POLL. A 17th press while 16 wait is
lost, as on the real device.

Device `fault` kinds: `garble` (`n`, default 1: corrupt one byte in each of the next n
replies), `drop` (`n`, default 1: apply the next n commands but lose their replies),
`delay` (`seconds`, 0 stops it: send every reply that late), `unplug` / `replug` (the
device goes silent / answers again; its state is kept), `reboot` (power cycle: display
blank, lamps dark, unacknowledged presses lost).

Line `fault` kinds: `garbage` (`hex`: raw bytes written to the bridge, spaces allowed),
`unplug` / `replug` (the whole port vanishes and comes back: pty closed and its link
removed, or the TCP connection closed and refused), and `garble` / `drop` / `delay` as
above for whichever device replies.

A payload that is not valid JSON, names an unknown device, line, key or fault, or carries
out-of-range values is logged and ignored.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from firmware_bridge.codecs.ycbus import Key
from firmware_bridge.discovery import info_payload
from hw_sim.escpos_printer import PAPER_STATES
from hw_sim.hall_sim import HallSim
from hw_sim.serial_devices import SimBus, SimDevice
from yichuang.config_model import Config
from yichuang.mqtt_client import Message, MqttClient

__all__ = ["DEVICE_ID", "POLL_S", "ControlError", "SimControl", "shows_payload"]

log = logging.getLogger(__name__)

DEVICE_ID = "sim"
"""The simulator's own device id (availability topics)."""

POLL_S = 0.05
"""How often the watcher compares what every device shows with what was last published."""

_MAX_N = 10_000
_MAX_DELAY_S = 60.0
_MAX_GARBAGE = 4096

_KEYS: dict[str, Key] = {key.name.lower(): key for key in Key}


class ControlError(ValueError):
    """A control message that cannot be carried out (logged, never raised to paho)."""


def shows_payload(device: SimDevice) -> dict[str, Any]:
    """The retained `sim/{device}/shows` payload for a device's current state."""
    return {
        "lines": list(device.lines),
        "lamps": device.lamps,
        "plugged": device.plugged,
        "pending": len(device.pending),
    }


def _count(payload: dict[str, Any]) -> int:
    n = payload.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_N:
        raise ControlError(f'"n" must be an integer 1..{_MAX_N}, got {n!r}')
    return n


def _seconds(payload: dict[str, Any]) -> float:
    seconds = payload.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= _MAX_DELAY_S:
        raise ControlError(f'"seconds" must be a number 0..{_MAX_DELAY_S:g}, got {seconds!r}')
    return float(seconds)


def _key(value: Any) -> Key:
    if isinstance(value, str) and value.strip().lower() in _KEYS:
        return _KEYS[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Key(value)
        except ValueError:
            pass
    raise ControlError(f'"key" must be one of {", ".join(_KEYS)} or a key code, got {value!r}')


def _object(message: Message) -> dict[str, Any]:
    try:
        payload = message.json()
    except ValueError as exc:
        raise ControlError(f"payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ControlError(f"payload must be a JSON object, got {type(payload).__name__}")
    return payload


class SimControl:
    """Serves the `yc/{hall}/sim/…` topics for a `HallSim` over an `MqttClient`.

    The client (built by `for_config`, or given, not yet started) should have device `sim`.
    `start()` subscribes, connects and starts the watcher; `stop()` ends both and publishes
    `offline`. On every (re)connect the ports and every device's `shows` are republished.
    """

    def __init__(self, sim: HallSim, client: MqttClient, *, poll_s: float = POLL_S) -> None:
        self.sim = sim
        self.client = client
        self.hall = client.hall
        self.root = f"yc/{self.hall}/sim/"
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._shown: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = False

    @classmethod
    def for_config(cls, sim: HallSim, config: Config, *, client_id: str | None = None) -> SimControl:
        """A control surface with its own MQTT client to the config's broker, as device `sim`."""
        broker = config.broker
        client = MqttClient(
            host=broker.host,
            port=broker.port,
            client_id=client_id or f"yc-{config.hall.id}-sim-{os.getpid()}",
            hall=config.hall.id,
            device=DEVICE_ID,
            username=broker.username,
            password=broker.password,
        )
        return cls(sim, client)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, wait_s: float = 10.0) -> None:
        """Subscribe, connect (ConnectionError when the broker is unreachable) and start watching."""
        if not self._subscribed:
            self.client.subscribe(f"{self.root}bus/+/fault", self._on_bus_fault)
            self.client.subscribe(f"{self.root}+/press", self._on_press)
            self.client.subscribe(f"{self.root}+/fault", self._on_device_fault)
            self.client.subscribe(f"{self.root}printer/+/paper", self._on_printer_paper)
            self.client.add_connect_hook(self._republish)
            self._subscribed = True
        self.client.start(wait_s)
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="sim-control watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, publish `offline` and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.client.stop()

    # --- state out ------------------------------------------------------------------------

    def _republish(self) -> None:
        """Connect hook: everything the simulator owns, as if the broker kept nothing."""
        self.client.publish(
            f"yc/{self.hall}/device/{DEVICE_ID}/info",
            info_payload("simulator", "yichuang hw_sim"),
            retain=True,
        )
        self.client.publish(f"{self.root}ports", self.sim.urls, retain=True)
        self.client.publish(f"{self.root}printers", self.sim.printer_urls, retain=True)
        with self._lock:
            self._shown.clear()
        self.publish_changes()

    def publish_changes(self) -> int:
        """Publish `shows` for every device whose state differs from what was last published."""
        published = 0
        with self._lock:
            for device_id, device in self.sim.devices.items():
                payload = shows_payload(device)
                if self._shown.get(device_id) == payload:
                    continue
                self.client.publish(f"{self.root}{device_id}/shows", payload, retain=True)
                self._shown[device_id] = payload
                published += 1
        return published

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            if not self.client.connected:
                continue  # the connect hook republishes everything on reconnect
            try:
                self.publish_changes()
            except Exception:
                log.exception("sim shows publish failed")

    # --- control in -----------------------------------------------------------------------

    def _device(self, message: Message) -> tuple[str, SimDevice]:
        device_id = message.topic[len(self.root) :].split("/", 1)[0]
        try:
            return device_id, self.sim.device(device_id)
        except KeyError:
            raise ControlError(f"no simulated device {device_id!r}") from None

    def _bus(self, message: Message) -> tuple[str, SimBus]:
        index = message.topic[len(self.root) :].split("/")[1]
        try:
            return index, self.sim.bus(int(index))
        except (ValueError, IndexError):
            raise ControlError(f"no simulated line {index!r}") from None

    def _handle(self, what: str, message: Message, action: Any) -> None:
        try:
            action(message)
        except ControlError as exc:
            log.warning("sim control ignored topic=%s what=%s error=%s", message.topic, what, exc)
        except (ValueError, OSError, TimeoutError) as exc:
            log.warning("sim control failed topic=%s what=%s error=%s", message.topic, what, exc)

    def _on_press(self, message: Message) -> None:
        self._handle("press", message, self._press)

    def _on_device_fault(self, message: Message) -> None:
        self._handle("fault", message, self._device_fault)

    def _on_bus_fault(self, message: Message) -> None:
        self._handle("bus fault", message, self._bus_fault)

    def _on_printer_paper(self, message: Message) -> None:
        self._handle("printer paper", message, self._printer_paper)

    def _printer_paper(self, message: Message) -> None:
        kiosk_id = message.topic[len(self.root) :].split("/")[1]
        try:
            printer = self.sim.printer(kiosk_id)
        except KeyError:
            raise ControlError(f"no simulated printer for kiosk {kiosk_id!r}") from None
        text = message.text().strip()
        state: Any = text
        if text[:1] in ('"', "{"):
            state = _object(message).get("paper") if text[0] == "{" else message.json()
        if state not in PAPER_STATES:
            raise ControlError(f"paper must be one of {', '.join(PAPER_STATES)}, got {text!r}")
        printer.set_paper(state)

    def _press(self, message: Message) -> None:
        device_id, device = self._device(message)
        payload = _object(message)
        key = _key(payload.get("key"))
        arg = payload.get("arg", 0)
        if isinstance(arg, bool) or not isinstance(arg, int):
            raise ControlError(f'"arg" must be an integer, got {arg!r}')
        try:
            event_no = device.press(key, arg)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        if event_no is None:
            log.warning("sim press lost device=%s key=%s (16 presses already waiting)", device_id, key.name)
        else:
            log.info("sim press device=%s key=%s arg=%d event_no=%d", device_id, key.name, arg, event_no)

    def _device_fault(self, message: Message) -> None:
        device_id, device = self._device(message)
        payload = _object(message)
        kind = payload.get("kind")
        if kind == "garble":
            device.garble_next(_count(payload))
        elif kind == "drop":
            device.drop_replies(_count(payload))
        elif kind == "delay":
            device.delay_replies(_seconds(payload))
        elif kind == "unplug":
            device.unplug()
        elif kind == "replug":
            device.replug()
        elif kind == "reboot":
            device.reboot()
        else:
            raise ControlError(f'"kind" must be garble, drop, delay, unplug, replug or reboot, got {kind!r}')
        log.info("sim fault device=%s kind=%s", device_id, kind)

    def _bus_fault(self, message: Message) -> None:
        index, bus = self._bus(message)
        payload = _object(message)
        kind = payload.get("kind")
        if kind == "garbage":
            raw = payload.get("hex")
            try:
                data = bytes.fromhex(raw) if isinstance(raw, str) else b""
            except ValueError:
                data = b""
            if not 1 <= len(data) <= _MAX_GARBAGE:
                raise ControlError(f'"hex" must be 1..{_MAX_GARBAGE} bytes in hex, got {raw!r}')
            bus.inject_garbage(data)
        elif kind == "unplug":
            bus.unplug()
        elif kind == "replug":
            bus.replug()
            self.client.publish(f"{self.root}ports", self.sim.urls, retain=True)
        elif kind == "garble":
            bus.garble_next(_count(payload))
        elif kind == "drop":
            bus.drop_replies(_count(payload))
        elif kind == "delay":
            bus.delay_replies(_seconds(payload))
        else:
            raise ControlError(f'"kind" must be garbage, unplug, replug, garble, drop or delay, got {kind!r}')
        log.info("sim fault line=%s kind=%s", index, kind)
