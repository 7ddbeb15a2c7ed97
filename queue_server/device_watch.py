"""What the technicians' dashboard knows about the hall's devices, learned from MQTT (CONTRACT §3.1, §3.4).

`DeviceWatch` follows, on the server's own MQTT session,

- `yc/{hall}/device/+/status`    retained `online` / `offline` (plain text),
- `yc/{hall}/device/+/info`      retained `{"kind","model","version","window"?}`,
- `yc/{hall}/device/+/telemetry` `{"uptime_s", "paper"?, "server"?, …}`,
- `yc/{hall}/event/alarm`        `{"event_id","at","kind","device",…}` (kiosk paper alarms, bridge
  `press_dropped`, …),

and keeps one record per device, `{device, kind, status, info, telemetry, status_at, telemetry_at}`,
plus the last `MAX_ALARMS` alarms, newest first. It only remembers: nothing here changes the
hall. Every change is handed to the listeners (the HTTP live stream) as `("device", record)` or
`("alarm", payload)`.

Handlers run on paho's network thread and the HTTP routes read from uvicorn's threads, so all
state sits behind one lock; listeners are called outside it, so a slow one never holds up a read.
Payloads come from any client of the broker: a malformed one is logged and ignored, never
raised into the MQTT client, and keys that could carry personal data are dropped before storing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from yichuang.mqtt_client import Message, MqttClient

log = logging.getLogger(__name__)

MAX_ALARMS = 100
MAX_DEVICES = 1000  # a misbehaving client inventing device ids cannot grow the server without bound
MAX_PAYLOAD = 16 * 1024  # info/telemetry/alarms are a few hundred bytes; anything bigger is junk
MAX_DEVICE_ID = 128
STATUSES = ("online", "offline")
# The contract forbids personal data in topics; a buggy client could still send some, and the
# dashboard must never show or keep it, so these keys are removed at any depth.
PERSONAL_KEYS = frozenset({"phone", "name", "id_number"})
# the order kinds appear on the dashboard: the hall's backbone first, then what hangs off it
KIND_ORDER = (
    "queue_server",
    "bridge",
    "kiosk",
    "display",
    "caller",
    "eval_pad",
    "led_panel",
    "gpio_button",
    "gpio_led",
    "buzzer",
    "lock_board",
    "modem",
    "printer",
    "simulator",
)

Listener = Callable[[str, dict[str, Any]], None]


def scrub(value: Any) -> Any:
    """`value` with every key named like personal data removed, at any depth."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def kind_rank(kind: str | None) -> tuple[int, str]:
    """Sort key of a device kind: the known kinds in `KIND_ORDER`, then others by name, unknown last."""
    if kind in KIND_ORDER:
        return (KIND_ORDER.index(kind), "")
    return (len(KIND_ORDER), kind or "\uffff")


class DeviceWatch:
    """The devices of one hall as MQTT reports them, and its recent alarms."""

    def __init__(self, client: MqttClient, hall: str, clock: Callable[[], datetime]) -> None:
        self.hall = hall
        self.clock = clock
        self.root = f"yc/{hall}/"
        self._lock = threading.Lock()
        self._devices: dict[str, dict[str, Any]] = {}
        self._alarms: deque[dict[str, Any]] = deque(maxlen=MAX_ALARMS)
        self._listeners: list[Listener] = []
        client.subscribe(f"{self.root}device/+/status", self.on_status, qos=1)
        client.subscribe(f"{self.root}device/+/info", self.on_info, qos=1)
        client.subscribe(f"{self.root}device/+/telemetry", self.on_telemetry, qos=0)
        client.subscribe(f"{self.root}event/alarm", self.on_alarm, qos=1)

    # ----------------------------------------------------------------- reads

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(kind, data)` on every change: `("device", record)` or `("alarm", payload)`."""
        with self._lock:
            self._listeners.append(listener)

    def devices(self) -> list[dict[str, Any]]:
        """Every known device, sorted by kind (`KIND_ORDER`) then id; copies, safe to hand out."""
        with self._lock:
            records = [_copy(r) for r in self._devices.values()]
        return sorted(records, key=lambda r: (kind_rank(r["kind"]), r["device"]))

    def device(self, device: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._devices.get(device)
            return _copy(record) if record is not None else None

    def alarms(self) -> list[dict[str, Any]]:
        """The last `MAX_ALARMS` alarms, newest first."""
        with self._lock:
            return [dict(a) for a in self._alarms]

    # ----------------------------------------------------------------- MQTT handlers

    def on_status(self, message: Message) -> None:
        device = self._device_of(message)
        if device is None:
            return
        text = message.text().strip()
        if text == "":
            # an emptied retained status: the device was taken out of the hall
            self._forget_field(device, "status")
            return
        if text not in STATUSES:
            log.warning("event=device_status_ignored device=%s reason=not_online_or_offline", device[:64])
            return
        self._update(device, status=text, status_at=self._now())

    def on_info(self, message: Message) -> None:
        device = self._device_of(message)
        if device is None:
            return
        if not message.payload.strip():
            self._forget_field(device, "info")
            return
        info = self._object(message, "info")
        if info is None:
            return
        self._update(device, info=info)

    def on_telemetry(self, message: Message) -> None:
        device = self._device_of(message)
        if device is None:
            return
        telemetry = self._object(message, "telemetry")
        if telemetry is None:
            return
        self._update(device, telemetry=telemetry, telemetry_at=self._now())

    def on_alarm(self, message: Message) -> None:
        alarm = self._object(message, "alarm")
        if alarm is None:
            return
        if not isinstance(alarm.get("kind"), str) or not alarm["kind"]:
            log.warning("event=alarm_ignored reason=no_kind")
            return
        if not isinstance(alarm.get("at"), str):
            alarm["at"] = self._now()
        event_id = alarm.get("event_id")
        with self._lock:
            # a bridge re-sends an alarm it was not sure got out; one alarm is one line
            if event_id is not None and any(a.get("event_id") == event_id for a in self._alarms):
                return
            self._alarms.appendleft(alarm)
            listeners = list(self._listeners)
        self._notify(listeners, "alarm", dict(alarm))

    # ----------------------------------------------------------------- internals

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _device_of(self, message: Message) -> str | None:
        parts = message.topic.split("/")
        # yc/{hall}/device/{device}/{what}: exactly five levels, so a device id has no slash
        if len(parts) != 5 or not parts[3] or len(parts[3]) > MAX_DEVICE_ID:
            log.warning("event=device_topic_ignored topic=%s", message.topic[:200])
            return None
        return parts[3]

    def _object(self, message: Message, what: str) -> dict[str, Any] | None:
        if len(message.payload) > MAX_PAYLOAD:
            log.warning("event=%s_ignored topic=%s reason=too_large", what, message.topic[:200])
            return None
        try:
            value = json.loads(message.payload)
        except ValueError:
            log.warning("event=%s_ignored topic=%s reason=not_json", what, message.topic[:200])
            return None
        if not isinstance(value, dict):
            log.warning("event=%s_ignored topic=%s reason=not_an_object", what, message.topic[:200])
            return None
        scrubbed: dict[str, Any] = scrub(value)
        return scrubbed

    def _update(self, device: str, **fields: Any) -> None:
        with self._lock:
            record = self._devices.get(device)
            if record is None:
                if len(self._devices) >= MAX_DEVICES:
                    log.warning("event=device_ignored device=%s reason=too_many_devices", device[:64])
                    return
                record = self._devices[device] = {
                    "device": device,
                    "kind": None,
                    "status": None,
                    "info": None,
                    "telemetry": None,
                    "status_at": None,
                    "telemetry_at": None,
                }
            record.update(fields)
            info = record["info"]
            kind = info.get("kind") if isinstance(info, dict) else None
            record["kind"] = kind if isinstance(kind, str) and kind else None
            snapshot = _copy(record)
            listeners = list(self._listeners)
        self._notify(listeners, "device", snapshot)

    def _forget_field(self, device: str, field: str) -> None:
        with self._lock:
            record = self._devices.get(device)
            if record is None:
                return
            record[field] = None
            if field == "info":
                record["kind"] = None
            if record["status"] is None and record["info"] is None:
                # neither retained topic is left: the device is gone from the hall
                del self._devices[device]
                snapshot: dict[str, Any] = {"device": device, "removed": True}
            else:
                snapshot = _copy(record)
            listeners = list(self._listeners)
        self._notify(listeners, "device", snapshot)

    @staticmethod
    def _notify(listeners: list[Listener], kind: str, data: dict[str, Any]) -> None:
        for listener in listeners:
            try:
                listener(kind, data)
            except Exception:  # a broken listener must not stop the MQTT thread or the others
                log.exception("event=device_listener_failed kind=%s", kind)


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    # one level deeper than dict(): info and telemetry are replaced, never mutated, but a
    # caller (a JSON encoder on another thread) must not see the record itself change
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in record.items()}
