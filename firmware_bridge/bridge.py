"""`yichuang bridge`: the hall's window devices on MQTT.

Key presses from callers and evaluation pads become the contract's window commands, sent
through the durable press queue (never lost, never doubled); callers' small displays, LED
panels and evaluation pad lamps follow the retained `state/window/…` topics and the
`ticket_finished` / `evaluation` events. The locker's lock boards open a door on
`device/{board}/set {"open": N}` and report their doors as the retained `device/{board}/state`;
an unlock that fails is an `event/alarm`. A GSM modem texts `device/{modem}/set {"sms": …}`
and answers each with `event/sms_sent` or `event/sms_failed` (never the number or the text).
Every device has its own availability, info and Home Assistant discovery, all said again on
every reconnect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from firmware_bridge import discovery
from firmware_bridge.codecs import kerong
from firmware_bridge.codecs.ycbus import Key, KeyEvent
from firmware_bridge.key_commands import EvalPadLamp, KeyRejected, caller_display, command_for_key, panel_text
from firmware_bridge.line_drivers import UnsupportedProtocol, make_line
from firmware_bridge.modem import INVALID_REQUEST, InvalidSms, ModemLine, SmsOutcome, sms_event, sms_request
from firmware_bridge.press_queue import Press, PressQueue
from yichuang.config_model import Config, DeviceConfig
from yichuang.mqtt_client import Message, MqttClient
from yichuang.rpc import CommandClient

log = logging.getLogger(__name__)

SERIAL_KINDS = ("caller", "eval_pad", "led_panel", "lock_board", "modem")
GPIO_KINDS = ("gpio_button", "gpio_led", "buzzer")
MODELS = {
    "caller": "YC-K3 caller",
    "eval_pad": "YC-E5 eval pad",
    "led_panel": "YC-P1 LED panel",
    "lock_board": "Kerong KR-CU16",
    "modem": "GSM modem (AT, 3GPP TS 27.005)",
}
TELEMETRY_S = 10.0
WAITING_REFRESH_S = 1.0


class Bridge:
    """One bridge process: the serial lines and devices that the config gives `bridge_id`."""

    def __init__(
        self,
        config: Config,
        bridge_id: str,
        state_dir: Path,
        *,
        client_id: str | None = None,
        max_age_s: float = 120.0,
        reply_timeout_s: float = 0.05,
        gpio: str = "native",
        telemetry_s: float = TELEMETRY_S,
    ) -> None:
        self.config = config
        self.id = bridge_id
        self.hall = config.hall.id
        self.root = f"yc/{self.hall}/"
        self.devices = [d for d in config.devices if d.kind in SERIAL_KINDS and d.bridge in (None, bridge_id)]
        self.gpio_devices = [
            d for d in config.devices if d.kind in GPIO_KINDS and d.bridge in (None, bridge_id)
        ]
        self.gpio_kind = gpio
        self.telemetry_s = telemetry_s
        self._gpio: list[Any] = []
        self._status_leds: list[tuple[str, Any]] = []  # (window, StatusLed)
        self._buzzers: list[tuple[str | None, Any]] = []  # (window or None for the help desk, Buzzer)
        self.windows = {w.id: w for w in config.windows}
        self.states: dict[str, dict[str, Any]] = {}
        self.waiting: dict[str, int] = {}
        self.lamps = {d.id: EvalPadLamp(d.window or "") for d in self.devices if d.kind == "eval_pad"}
        self.online: dict[str, bool] = {}
        self.shown: dict[str, tuple[str, ...]] = {}  # what each display was last told to show
        self._gpio_of: dict[str, list[Any]] = defaultdict(list)  # device id -> its gpiozero wrappers
        self.lock_boards = {d.id: d for d in self.devices if d.kind == "lock_board"}
        self.lockers = {lk.id: lk for lk in config.lockers}
        self.doors: dict[str, dict[int, bool]] = {}  # lock board -> its locker's doors -> open
        self.door_states: dict[str, dict[str, Any]] = {}  # lock board -> its retained `state`, as published
        for board in self.lock_boards.values():
            locker = self.lockers.get(board.locker or "")
            beyond = [d.door for d in locker.doors if d.door > kerong.LOCKS] if locker else []
            if beyond:  # one board has 16 locks: these doors cannot be opened (docs/hardware.md)
                log.warning(
                    "event=doors_without_lock device=%s locker=%s doors=%s", board.id, board.locker, beyond
                )
        self.tz = ZoneInfo(config.hall.timezone)
        self.started = time.monotonic()
        broker = config.broker
        self.client = MqttClient(
            host=broker.host,
            port=broker.port,
            client_id=client_id or f"yc-{self.hall}-{bridge_id}",
            hall=self.hall,
            device=bridge_id,
            username=broker.username,
            password=broker.password,
        )
        self.rpc = CommandClient(self.client, self.hall, bridge_id)
        self.presses = PressQueue(
            self.rpc, hall=self.hall, bridge=bridge_id, state_dir=state_dir, max_age_s=max_age_s
        )
        lines: dict[str, list[DeviceConfig]] = defaultdict(list)
        for device in self.devices:
            lines[device.port].append(device)
        self.buses: list[Any] = []
        for port, devs in lines.items():
            try:
                self.buses.append(
                    make_line(
                        port,
                        devs,
                        self._on_press,
                        self._on_online,
                        reply_timeout_s=reply_timeout_s,
                        **self._lock_callbacks(devs),
                        **self._modem_callbacks(devs),
                    )
                )
            except UnsupportedProtocol as exc:
                log.error("event=line_not_driven port=%s error=%s", port, exc)
        self.bus_of = {device_id: bus for bus in self.buses for device_id in bus.by_id}
        self._stop = threading.Event()
        self._waiting_changed = threading.Event()
        self._telemetry: threading.Thread | None = None
        self.client.subscribe(f"{self.root}state/window/+", self._on_window_state)
        self.client.subscribe(f"{self.root}state/queue/+", self._on_queue_state)
        for kind in ("ticket_finished", "ticket_called", "evaluation", "help_requested"):
            self.client.subscribe(f"{self.root}event/{kind}", self._on_event)
        self.client.subscribe(f"{self.root}device/+/set", self._on_set)
        self.client.add_connect_hook(self._republish)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._start_gpio()
        self.client.start()
        self.presses.start()
        for bus in self.buses:
            bus.start()
        self._telemetry = threading.Thread(target=self._telemetry_loop, name="telemetry", daemon=True)
        self._telemetry.start()
        threading.Thread(target=self._refresher, name="waiting-counts", daemon=True).start()
        log.info(
            "event=bridge_started bridge=%s devices=%d lines=%d", self.id, len(self.devices), len(self.buses)
        )

    def stop(self) -> None:
        """Stop polling, send what is queued, say every device is offline, disconnect."""
        self._stop.set()
        for bus in self.buses:
            bus.stop()
        for device in self._gpio:
            device.close()
        self.presses.stop(timeout=5)
        for device in self.devices:
            self.client.publish(discovery.status_topic(self.hall, device.id), "offline", retain=True)
        self.client.stop()

    def _republish(self) -> None:
        topic, payload = discovery.bridge_discovery(self.hall, self.id)
        self.client.publish(topic, payload, retain=True)
        self.client.publish(
            f"{self.root}device/{self.id}/info",
            discovery.info_payload("bridge", "yichuang bridge"),
            retain=True,
        )
        for device in [*self.devices, *self.gpio_devices]:
            label = self.windows[device.window].label if device.window in self.windows else None
            topic, payload = discovery.device_discovery(self.hall, self.id, device, window_label=label)
            self.client.publish(topic, payload, retain=True)
            self.client.publish(
                f"{self.root}device/{device.id}/info",
                discovery.info_payload(device.kind, MODELS.get(device.kind, "gpio"), window=device.window),
                retain=True,
            )
            online = self.online.get(device.id, False)
            self.client.publish(
                discovery.status_topic(self.hall, device.id), "online" if online else "offline", retain=True
            )
            if device.id in self.door_states:
                self.client.publish(
                    f"{self.root}device/{device.id}/state", self.door_states[device.id], retain=True
                )

    def _start_gpio(self) -> None:
        """Wired buttons, status LEDs and buzzers on the Pi's own pins (gpiozero)."""
        if not self.gpio_devices:
            return
        from firmware_bridge import gpio_devices as g

        factory = g.make_pin_factory(self.gpio_kind)
        for device in self.gpio_devices:
            pins = dict(device.pins)
            if device.kind == "gpio_button" and "button" in pins:
                if device.window:
                    button: Any = g.WiredCallButton(
                        pins["button"], partial(self._wired_call, device), pin_factory=factory
                    )
                else:
                    button = g.HelpButton(
                        pins["button"], partial(self._help_pressed, device), pin_factory=factory
                    )
                self._gpio.append(button)
                self._gpio_of[device.id].append(button)
            if "led" in pins and device.window:
                led = g.StatusLed(pins["led"], pin_factory=factory)
                self._gpio.append(led)
                self._gpio_of[device.id].append(led)
                self._status_leds.append((device.window, led))
            if device.kind == "buzzer" and "buzzer" in pins:
                buzzer = g.Buzzer(pins["buzzer"], pin_factory=factory)
                self._gpio.append(buzzer)
                self._buzzers.append((device.window, buzzer))
            self.online[device.id] = True

    def _wired_call(self, device: DeviceConfig) -> None:
        """The wired button of a window without a keypad: one button is call-next."""
        self._on_press(device, KeyEvent(0, Key.CALL_NEXT, 0))

    def _help_pressed(self, device: DeviceConfig) -> None:
        self.presses.put(
            Press(
                device=device.id,
                key=0,
                arg=0,
                path="help/request",
                args={"kiosk": device.id, "reason": "帮办按钮 help button"},
            )
        )

    # ----------------------------------------------------------------- devices -> MQTT

    def _on_online(self, device: DeviceConfig, online: bool) -> None:
        self.online[device.id] = online
        self.client.publish(
            discovery.status_topic(self.hall, device.id), "online" if online else "offline", retain=True
        )
        if online:
            self._refresh_device(device)

    def _on_press(self, device: DeviceConfig, event: KeyEvent) -> None:
        window = self.windows.get(device.window or "")
        if window is None:
            log.warning("event=press_without_window device=%s", device.id)
            return
        command = command_for_key(
            window, int(event.key), event.arg, self.states.get(window.id), self.config.services
        )
        if isinstance(command, KeyRejected):
            log.warning("event=press_rejected device=%s reason=%s", device.id, command.reason)
            return
        if device.id in self.lamps:
            self.lamps[device.id].on_score_pressed(time.time())
            self._show_lamps(device)
        path, args = command
        self.presses.put(
            Press(device=device.id, key=int(event.key), arg=event.arg, path=path, args=args, window=window.id)
        )

    # ----------------------------------------------------------------- MQTT -> devices

    def _on_window_state(self, message: Message) -> None:
        state = _json(message)
        if state is None or "window" not in state:
            return
        self.states[state["window"]] = state
        for window, led in self._status_leds:
            if window == state["window"]:
                led.show(state)
        for device in self.devices:
            if device.window == state["window"]:
                if device.id in self.lamps:
                    self.lamps[device.id].on_state(state, time.time())
                self._refresh_device(device)

    def _on_queue_state(self, message: Message) -> None:
        state = _json(message)
        if state is None or "service" not in state:
            return
        self.waiting[state["service"]] = int(state.get("waiting") or 0)
        # waiting counts change with every ticket anywhere in the hall: the callers' count line
        # is refreshed once a second (_refresher), not once per ticket on a shared line
        self._waiting_changed.set()

    def _on_event(self, message: Message) -> None:
        event = _json(message)
        if event is None:
            return
        kind = message.topic.rsplit("/", 1)[-1]
        for window, buzzer in self._buzzers:
            # the help desk's buzzer sounds for help requests, a window's for its own calls
            if (window is None and kind == "help_requested") or (
                window is not None and kind == "ticket_called" and event.get("window") == window
            ):
                buzzer.beep(2 if window is None else 1)
        for device_id, lamp in self.lamps.items():
            if lamp.on_event(kind, event, time.time()):
                device = next(d for d in self.devices if d.id == device_id)
                self._show_lamps(device)

    def _on_set(self, message: Message) -> None:
        device_id = message.topic.split("/")[-2]
        bus = self.bus_of.get(device_id)
        command = _json(message)
        if isinstance(bus, ModemLine):
            self._send_sms(device_id, bus, command)
            return
        if bus is None or command is None:
            return
        if device_id in self.lock_boards:
            self._open_door(self.lock_boards[device_id], bus, command)
            return
        if isinstance(command.get("text"), str):
            bus.set_display(device_id, 1, command["text"])

    def _refresh_device(self, device: DeviceConfig) -> None:
        bus = self.bus_of.get(device.id)
        window = self.windows.get(device.window or "")
        if bus is None or window is None:
            return
        state = self.states.get(window.id)
        if device.kind == "led_panel":
            lines = panel_text(state, window.label)
        elif device.kind == "caller":
            lines = caller_display(state, sum(self.waiting.get(s, 0) for s in window.services))
        else:
            self._show_lamps(device)
            return
        self.shown[device.id] = lines
        for number, text in enumerate(lines):
            bus.set_display(device.id, number, text)

    def _show_lamps(self, device: DeviceConfig) -> None:
        bus = self.bus_of.get(device.id)
        if bus is not None:
            bus.set_lamps(device.id, self.lamps[device.id].is_lit(time.time()))

    def _device_fields(self, device: DeviceConfig) -> dict[str, Any]:
        """The kind-specific part of a device's telemetry (what its discovery sensors read)."""
        fields: dict[str, Any] = {"online": self.online.get(device.id, False)}
        if device.kind == "led_panel":
            fields["text"] = " ".join(line for line in self.shown.get(device.id, ()) if line)
        elif device.kind == "eval_pad" and device.id in self.lamps:
            fields["lamp"] = self.lamps[device.id].is_lit(time.time())
        elif device.kind == "lock_board" and device.id in self.doors:
            fields["doors_open"] = sum(self.doors[device.id].values())
        elif device.kind == "modem" and isinstance(modem := self.bus_of.get(device.id), ModemLine):
            fields.update(modem.telemetry())
        for part in self._gpio_of.get(device.id, ()):
            if hasattr(part, "presses"):
                fields["presses"] = part.presses
            if hasattr(part, "mode"):
                fields["mode"] = part.mode
        return fields

    def _refresher(self) -> None:
        while not self._stop.wait(WAITING_REFRESH_S):
            if self._waiting_changed.is_set():
                self._waiting_changed.clear()
                for device in self.devices:
                    if device.kind == "caller":
                        self._refresh_device(device)

    # ----------------------------------------------------------------- lock boards

    def _lock_callbacks(self, devices: list[DeviceConfig]) -> dict[str, Any]:
        """The extra callbacks of a line of lock boards (door sensors, failed unlocks)."""
        if not any(d.kind == "lock_board" for d in devices):
            return {}
        return {"on_doors": self._on_doors, "on_unlock_failed": self._on_unlock_failed}

    def _locker_doors(self, board: DeviceConfig) -> list[int]:
        """The doors of the board's `[[locker]]` that it drives: door N is lock N-1, up to 16."""
        locker = self.lockers.get(board.locker or "")
        return [d.door for d in locker.doors if d.door <= kerong.LOCKS] if locker else []

    def _open_door(self, board: DeviceConfig, bus: Any, command: dict[str, Any]) -> None:
        """`device/{board}/set {"open": door}` (CONTRACT §3.5); anything else changes nothing."""
        door = command.get("open")
        # bool is an int to Python, but `{"open": true}` names no door
        if isinstance(door, bool) or not isinstance(door, int) or door not in self._locker_doors(board):
            log.warning("event=open_ignored device=%s locker=%s open=%r", board.id, board.locker, door)
            return
        log.info("event=open_door device=%s locker=%s door=%d", board.id, board.locker, door)
        bus.open(board.id, door)

    def _on_doors(self, board: DeviceConfig, doors: dict[int, bool]) -> None:
        """A board read its door sensors anew: say the locker's doors, retained (the server owns
        `state/locker/…` and builds it from this)."""
        mine = {door: doors[door] for door in self._locker_doors(board) if door in doors}
        self.doors[board.id] = mine
        state = {
            "locker": board.locker,
            "doors": [{"door": door, "open": is_open} for door, is_open in sorted(mine.items())],
            "at": datetime.now(self.tz).isoformat(timespec="seconds"),
        }
        self.door_states[board.id] = state
        self.client.publish(f"{self.root}device/{board.id}/state", state, retain=True)

    def _on_unlock_failed(self, board: DeviceConfig, door: int, reason: str) -> None:
        """An unlock got no answer, or the door did not read open: `event/alarm` `lock_failed`."""
        now = time.time()
        alarm = {
            "event_id": f"{self.id}-{board.id}-{int(now * 1000)}-lock-{door}",
            "at": datetime.fromtimestamp(now, self.tz).isoformat(timespec="seconds"),
            "kind": "lock_failed",
            "device": board.id,
            "bridge": self.id,
            "locker": board.locker,
            "door": door,
            "reason": reason,
        }
        self.client.publish(f"{self.root}event/alarm", alarm, qos=1)

    # ----------------------------------------------------------------- modems

    def _modem_callbacks(self, devices: list[DeviceConfig]) -> dict[str, Any]:
        """The extra callback of a modem's line: what became of each text."""
        if not any(d.kind == "modem" for d in devices):
            return {}
        return {"on_sms": self._on_sms_done}

    def _send_sms(self, device_id: str, modem: ModemLine, command: dict[str, Any] | None) -> None:
        """`device/{modem}/set {"sms": {"to", "text", "id"}}` (CONTRACT §3.5): queue the text, or
        say at once why not (`sms_failed` `invalid_request`). The number and the text are
        personal data (the text carries a pickup code): never logged, never in an event."""
        try:
            request = sms_request(command)
        except InvalidSms as exc:
            log.warning("event=sms_invalid device=%s id=%s reason=%s", device_id, exc.id, exc.reason)
            if exc.id is not None:
                self._on_sms_done(SmsOutcome(device_id, exc.id, False, error=INVALID_REQUEST))
            return
        log.info("event=sms_queued device=%s id=%s", device_id, request.id)
        modem.send_sms(device_id, request.to, request.text, request.id)

    def _on_sms_done(self, outcome: SmsOutcome) -> None:
        """`event/sms_sent` or `event/sms_failed` for one request (on the modem's thread)."""
        kind, payload = sms_event(
            outcome,
            event_id=f"{self.id}-{outcome.device}-{time.time_ns()}-sms",
            at=datetime.now(self.tz).isoformat(timespec="seconds"),
        )
        self.client.publish(f"{self.root}event/{kind}", payload, qos=1)

    # ----------------------------------------------------------------- telemetry

    def _telemetry_loop(self) -> None:
        while not self._stop.wait(self.telemetry_s):
            stats = self.presses.stats()
            payload = discovery.bridge_telemetry(
                time.monotonic() - self.started,
                frames_ok=sum(b.counters()["frames_ok"] for b in self.buses),
                crc_errors=sum(b.counters()["crc_errors"] for b in self.buses),
                presses_queued=stats.queued,
                presses_dropped=stats.dropped,
                devices_online=sum(1 for v in self.online.values() if v),
                extra={
                    name: sum(b.counters()[name] for b in self.buses)
                    for name in ("timeouts", "retransmits", "duplicate_presses", "bad_events", "port_errors")
                },
            )
            self.client.publish(f"{self.root}device/{self.id}/telemetry", payload, qos=0)
            uptime = time.monotonic() - self.started
            for device in [*self.devices, *self.gpio_devices]:
                self.client.publish(
                    f"{self.root}device/{device.id}/telemetry",
                    discovery.telemetry_payload(uptime, **self._device_fields(device)),
                    qos=0,
                )
            for device in self.devices:  # lamps expire by time, not by message
                if device.id in self.lamps:
                    self._show_lamps(device)


def _json(message: Message) -> dict[str, Any] | None:
    try:
        value = orjson.loads(message.payload)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
