"""MQTT control surface of the hall simulator (`yichuang sim`): press keys, inject faults, watch displays.

The simulator process is device `sim` of its hall: it publishes the usual retained
`yc/{hall}/device/sim/status` (`online`/`offline`, `offline` is the last will) and
`yc/{hall}/device/sim/info` (`{"kind": "simulator", "model": "yichuang hw_sim", "version"}`).
Everything else lives under `yc/{hall}/sim/`. `{device}` is the id from `hall.toml` of a
simulated YC-BUS device (kinds `caller`, `eval_pad`, `led_panel`), `{board}` of a simulated
Kerong `lock_board`, `{modem}` of a simulated GSM `modem`; `{index}` is a simulated YC-BUS
RS-485 line, numbered from 0 in the order its `port` first appears among the config's
devices. Payloads are UTF-8 JSON objects; control topics are never retained.

Published by the simulator (retained, QoS 1, unless said otherwise):

- `yc/{hall}/sim/ports`: `{"<config port>": "<sim url>", …}`, e.g.
  `{"/dev/ttyUSB0": "socket://127.0.0.1:40231"}`; the bridge opens the url instead of the port.
- `yc/{hall}/sim/{device}/shows`, whenever it changes:
  `{"lines": ["A012", "等候 3"], "lamps": false, "plugged": true, "pending": 0}`.
- `yc/{hall}/sim/{board}/doors`, whenever it changes:
  `{"open": [5], "jammed": [], "items": [3], "plugged": true}`.
- `yc/{hall}/sim/{modem}/inbox`, NOT retained, one message per text the modem sent (its parts
  joined), as the citizen's phone shows it: `{"to": "138****5678", "text": "…", "parts": 1}`.
- `yc/{hall}/sim/printers`: `{"<kiosk id>": "tcp://127.0.0.1:40233", …}`, the simulated
  ticket printer of each kiosk that has one (its `printer` in the bridge/kiosk config).

Control (to the simulator, not retained):

- `yc/{hall}/sim/{device}/press`: `{"key": "call_next", "arg": 0}`
- `yc/{hall}/sim/{device}/fault`: `{"kind": "garble", "n": 2}`
- `yc/{hall}/sim/{board}/door`: `{"door": 5, "action": "close"}`
- `yc/{hall}/sim/{board}/fault`: `{"kind": "unplug"}`
- `yc/{hall}/sim/{modem}/fault`: `{"kind": "fail", "n": 2}`
- `yc/{hall}/sim/bus/{index}/fault`: `{"kind": "garbage", "hex": "7E 01 FF"}`
- `yc/{hall}/sim/printer/{kiosk}/paper`: `ok`, `low` or `out` (plain text; the JSON forms
  `"out"` and `{"paper": "out"}` are accepted too): the paper roll of that kiosk's printer.
  `out` makes the printer answer `DLE EOT 4` with paper-out and discard print data until
  `ok` or `low` comes.

`shows`: `lines` are the display lines (empty list for an evaluation pad), `lamps` whether the
keys are lit (evaluation pad), `plugged` false while the device is unplugged, `pending` how
many key presses wait for the bridge to fetch and acknowledge them.

`doors` (sorted door numbers, 1–16 as in `[[locker]]`): `open` the doors whose hook reads
open (unlocked by the bridge, or forced), `jammed` the doors whose lock was jammed over `door`,
`items` the boxes whose IR sensor sees something, `plugged` false while the board is unplugged.

`inbox`: `to` is the number masked as the clerk's console shows it (`+86` dropped, first 3
digits, `****`, last 4), `text` the whole text, `parts` how many SMS it took. The text is
published because the simulator is a test tool: a tester or a `make demo` user reads the
pickup code there and plays the citizen at the locker. A real modem never publishes what it
sends, and nothing here logs a number or a text.

`press`: `key` is one of `call_next`, `recall`, `start`, `finish`, `no_show`, `pause_resume`,
`transfer`, `park` (callers) or `score` (evaluation pads), or the key's code as an integer
(docs/hardware.md, "Keys"); `arg` (default 0) is the service digit 1–9 for `transfer` and
the score 1–5 for `score` (5 = 非常满意). The press is queued on the device exactly like a
finger on the key: the bridge fetches it with its next POLL. A 17th press while 16 wait is
lost, as on the real device.

`door`: `door` is a door the board has a lock for (1–16); `action` is what a citizen or a
technician does to it: `close` (push it shut: the lock latches), `open` (forced open without
an unlock: a key or a crowbar), `jam` / `unjam` (a jammed lock takes the unlock pulse but
the door stays shut), `item` / `empty` (put something in the box, or take it out).

Device `fault` kinds: `garble` (`n`, default 1: corrupt one byte in each of the next n
replies), `drop` (`n`, default 1: apply the next n commands but lose their replies),
`delay` (`seconds`, 0 stops it: send every reply that late), `unplug` / `replug` (the
device goes silent / answers again; its state is kept), `reboot` (power cycle: display
blank, lamps dark, unacknowledged presses lost). A lock board takes the same kinds except
`reboot`.

Modem `fault` kinds: `unregistered` / `registered` (lose or regain the network: every send
gets `+CMS ERROR: 331`), `fail` (`n`, default 1, and `code`, default 500: the next n PDUs get
`+CMS ERROR: <code>`), `silent` / `answer` (the modem stops answering anything, or answers
again), `reboot` (power cycle: echo on, half-typed commands and half-joined texts lost),
`signal` (`rssi` 0–31, or 99 for unknown: what `AT+CSQ` reports), `unplug` / `replug` (the
USB modem is pulled out: its port vanishes; plugged back in it powers up afresh).

Line `fault` kinds: `garbage` (`hex`: raw bytes written to the bridge, spaces allowed),
`unplug` / `replug` (the whole port vanishes and comes back: pty closed and its link
removed, or the TCP connection closed and refused), and `garble` / `drop` / `delay` as
above for whichever device replies.

A payload that is not valid JSON, names an unknown device, board, modem, line, key, door,
action or fault, or carries out-of-range values is logged and ignored.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from firmware_bridge.codecs.sms_pdu import CMS_UNKNOWN, SmsMessage
from firmware_bridge.codecs.ycbus import Key
from firmware_bridge.discovery import info_payload
from hw_sim.escpos_printer import PAPER_STATES
from hw_sim.gsm_modem import SimModem
from hw_sim.hall_sim import HallSim
from hw_sim.lock_board import SimLockBoard
from hw_sim.serial_devices import SimBus, SimDevice
from yichuang.config_model import Config
from yichuang.mqtt_client import Message, MqttClient

__all__ = [
    "DEVICE_ID",
    "DOOR_ACTIONS",
    "POLL_S",
    "ControlError",
    "SimControl",
    "doors_payload",
    "inbox_payload",
    "mask_number",
    "shows_payload",
]

log = logging.getLogger(__name__)

DEVICE_ID = "sim"
"""The simulator's own device id (availability topics)."""

POLL_S = 0.05
"""How often the watcher compares what every device shows with what was last published."""

_MAX_N = 10_000
_MAX_DELAY_S = 60.0
_MAX_GARBAGE = 4096

_KEYS: dict[str, Key] = {key.name.lower(): key for key in Key}

DOOR_ACTIONS = ("close", "open", "jam", "unjam", "item", "empty")
"""What `sim/{board}/door` can do to a door."""


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


def doors_payload(board: SimLockBoard, jammed: frozenset[int] = frozenset()) -> dict[str, Any]:
    """The retained `sim/{board}/doors` payload for a board's current state.

    `jammed` is passed in because a `SimLockBoard` does not say which locks are jammed: the
    control surface remembers what it jammed.
    """
    status = board.status()  # one snapshot, so `open` and `items` agree
    return {
        "open": [lock + 1 for lock in range(board.locks) if status.is_open(lock)],
        "jammed": sorted(jammed),
        "items": [lock + 1 for lock in range(board.locks) if status.has_item(lock)],
        "plugged": board.plugged,
    }


def mask_number(number: str) -> str:
    """``138****5678``: `+86` dropped, the first three and last four digits (a mobile number
    reads as on the clerk's console), so the inbox never carries a whole phone number."""
    digits = number.lstrip("+")
    if number.startswith("+86") or (digits.startswith("86") and len(digits) == 13):
        digits = digits[2:]
    if len(digits) < 8:  # first 3 + last 4 would show all of it
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def inbox_payload(message: SmsMessage) -> dict[str, Any]:
    """The `sim/{modem}/inbox` payload for a text the modem sent."""
    return {"to": mask_number(message.number), "text": message.text, "parts": message.parts}


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
    `offline`. On every (re)connect the ports, every device's `shows` and every board's `doors`
    are republished (never an `inbox`: a phone shows a text once).
    """

    def __init__(self, sim: HallSim, client: MqttClient, *, poll_s: float = POLL_S) -> None:
        self.sim = sim
        self.client = client
        self.hall = client.hall
        self.root = f"yc/{self.hall}/sim/"
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._shown: dict[str, dict[str, Any]] = {}  # topic -> payload last published there
        self._jammed: dict[str, frozenset[int]] = {board_id: frozenset() for board_id in sim.lock_boards}
        # texts each modem had sent when we began: only newer ones are a phone's new messages
        self._inboxed: dict[str, int] = {modem_id: len(modem.sent) for modem_id, modem in sim.modems.items()}
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
            self.client.subscribe(f"{self.root}+/door", self._on_door)
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
        """Publish `shows` / `doors` for every device or board whose state differs from what was
        last published, and `inbox` for every text a modem sent since; the count published."""
        published = 0
        with self._lock:
            states = [(f"{self.root}{i}/shows", shows_payload(d)) for i, d in self.sim.devices.items()]
            states += [
                (f"{self.root}{board_id}/doors", doors_payload(board, self._jammed[board_id]))
                for board_id, board in self.sim.lock_boards.items()
            ]
            for topic, payload in states:
                if self._shown.get(topic) == payload:
                    continue
                self.client.publish(topic, payload, retain=True)
                self._shown[topic] = payload
                published += 1
            for modem_id, modem in self.sim.modems.items():
                sent = modem.sent
                for message in sent[self._inboxed.get(modem_id, 0) :]:
                    # not retained: a phone shows each text once; a new subscriber has no old mail
                    self.client.publish(f"{self.root}{modem_id}/inbox", inbox_payload(message))
                    log.info("sim inbox modem=%s parts=%d", modem_id, message.parts)
                    published += 1
                self._inboxed[modem_id] = len(sent)
        return published

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            if not self.client.connected:
                continue  # the connect hook republishes everything on reconnect
            try:
                self.publish_changes()
            except Exception:
                log.exception("sim state publish failed")

    # --- control in -----------------------------------------------------------------------

    def _device(self, message: Message) -> tuple[str, SimDevice]:
        device_id = message.topic[len(self.root) :].split("/", 1)[0]
        try:
            return device_id, self.sim.device(device_id)
        except KeyError:
            raise ControlError(f"no simulated device {device_id!r}") from None

    def _board(self, message: Message) -> tuple[str, SimLockBoard]:
        board_id = message.topic[len(self.root) :].split("/", 1)[0]
        try:
            return board_id, self.sim.lock_board(board_id)
        except KeyError:
            raise ControlError(f"no simulated lock board {board_id!r}") from None

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

    def _on_door(self, message: Message) -> None:
        self._handle("door", message, self._door)

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
        target = message.topic[len(self.root) :].split("/", 1)[0]
        if target in self.sim.lock_boards:
            self._board_fault(message)
            return
        if target in self.sim.modems:
            self._modem_fault(target, self.sim.modem(target), _object(message))
            return
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

    def _door(self, message: Message) -> None:
        board_id, board = self._board(message)
        payload = _object(message)
        door = payload.get("door")
        if isinstance(door, bool) or not isinstance(door, int) or not 1 <= door <= board.locks:
            raise ControlError(f'"door" must be an integer 1..{board.locks}, got {door!r}')
        action = payload.get("action")
        if action == "close":
            board.close(door)
        elif action == "open":
            board.force_open(door)
        elif action in ("jam", "unjam"):
            board.jam(door, action == "jam")
            with self._lock:
                jammed = self._jammed[board_id]
                self._jammed[board_id] = jammed | {door} if action == "jam" else jammed - {door}
        elif action in ("item", "empty"):
            board.put_item(door, action == "item")
        else:
            raise ControlError(f'"action" must be one of {", ".join(DOOR_ACTIONS)}, got {action!r}')
        log.info("sim door board=%s door=%d action=%s", board_id, door, action)

    def _board_fault(self, message: Message) -> None:
        board_id, board = self._board(message)
        payload = _object(message)
        kind = payload.get("kind")
        if kind == "garble":
            board.garble_next(_count(payload))
        elif kind == "drop":
            board.drop_replies(_count(payload))
        elif kind == "delay":
            board.delay_replies(_seconds(payload))
        elif kind == "unplug":
            board.unplug()
        elif kind == "replug":
            board.replug()
        else:
            raise ControlError(f'"kind" must be garble, drop, delay, unplug or replug, got {kind!r}')
        log.info("sim fault board=%s kind=%s", board_id, kind)

    def _modem_fault(self, modem_id: str, modem: SimModem, payload: dict[str, Any]) -> None:
        kind = payload.get("kind")
        if kind in ("unregistered", "registered"):
            modem.set_registered(kind == "registered")
        elif kind == "fail":
            code = payload.get("code", CMS_UNKNOWN)
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 511:
                raise ControlError(f'"code" must be a +CMS ERROR code 0..511, got {code!r}')
            modem.fail_next(_count(payload), code)
        elif kind in ("silent", "answer"):
            modem.set_silent(kind == "silent")
        elif kind == "reboot":
            modem.reboot()
        elif kind == "signal":
            rssi = payload.get("rssi")
            if isinstance(rssi, bool) or not isinstance(rssi, int) or not (0 <= rssi <= 31 or rssi == 99):
                raise ControlError(f'"rssi" must be an integer 0..31 or 99, got {rssi!r}')
            modem.set_signal(rssi)
        elif kind in ("unplug", "replug"):
            line = self.sim.modem_line_of(modem_id)
            if kind == "unplug":
                line.unplug()
            else:
                line.replug()
                # a pty without a stable link comes back at a new /dev/pts/N
                self.client.publish(f"{self.root}ports", self.sim.urls, retain=True)
        else:
            raise ControlError(
                '"kind" must be unregistered, registered, fail, silent, answer, reboot, signal, '
                f"unplug or replug, got {kind!r}"
            )
        log.info("sim fault modem=%s kind=%s", modem_id, kind)

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
