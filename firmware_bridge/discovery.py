"""Home Assistant discovery, info and telemetry payloads of a bridge and its devices (pure).

CONTRACT §3.1: every device behind a bridge gets device-based MQTT discovery on
`homeassistant/device/yc_{hall}_{device}/config` (the `yc_{hall}_` prefix, as the server
uses, keeps two halls on one Home Assistant apart), with `via_device` the bridge and both
availability topics (bridge and device) in mode `all`: a device behind a dead bridge is
unavailable even though its own last `online` is still retained.

Entities only read topics the hall publishes anyway (retained `state/window/…`, the
device's `status` and `telemetry`), so discovery adds no topic and no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yichuang.config_model import DeviceConfig

__all__ = [
    "VERSION",
    "bridge_discovery",
    "bridge_telemetry",
    "device_discovery",
    "discovery_topic",
    "info_payload",
    "origin",
    "status_topic",
    "telemetry_payload",
    "unique_id",
]

VERSION = "0.1.0"
MANUFACTURER = "Yichuang"
WINDOW_STATUSES = ("closed", "idle", "calling", "serving", "paused")


def status_topic(hall: str, device: str) -> str:
    """`yc/{hall}/device/{device}/status` (retained `online`/`offline`)."""
    return f"yc/{hall}/device/{device}/status"


def _telemetry_topic(hall: str, device: str) -> str:
    return f"yc/{hall}/device/{device}/telemetry"


def discovery_topic(hall: str, device: str) -> str:
    """Where a device's discovery payload goes (retained)."""
    return f"homeassistant/device/{_ha_device_id(hall, device)}/config"


def unique_id(hall: str, device: str, component: str) -> str:
    """`yc_{hall}_{device}_{component}`: stable across restarts, unique across halls."""
    return f"yc_{hall}_{device}_{component}"


def origin(version: str = VERSION) -> dict[str, str]:
    """The `origin` block Home Assistant logs with every discovered entity."""
    return {"name": "yichuang", "sw_version": version}


def _ha_device_id(hall: str, device: str) -> str:
    return f"yc_{hall}_{device}"


def _online_component(hall: str, device: str, bridge_status: str) -> dict[str, Any]:
    # Availability of this one entity is the bridge's alone: it exists precisely to show
    # the device as disconnected (off) while the bridge is up, not as "unavailable".
    return {
        "platform": "binary_sensor",
        "name": "Online",
        "unique_id": unique_id(hall, device, "online"),
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "state_topic": status_topic(hall, device),
        "payload_on": "online",
        "payload_off": "offline",
        "availability": [{"topic": bridge_status}],
        "availability_mode": "all",
    }


def _telemetry_sensor(
    hall: str, device: str, component: str, name: str, template: str, **extra: Any
) -> dict[str, Any]:
    return {
        "platform": "sensor",
        "name": name,
        "unique_id": unique_id(hall, device, component),
        "state_topic": _telemetry_topic(hall, device),
        "value_template": template,
        **extra,
    }


def device_discovery(
    hall: str,
    bridge: str,
    device: DeviceConfig,
    *,
    window_label: str | None = None,
    version: str = VERSION,
) -> tuple[str, dict[str, Any]]:
    """The retained discovery `(topic, payload)` of one device behind `bridge`.

    By kind: `caller` (current ticket and window status from `state/window/{window}`),
    `eval_pad` (the rating lamp), `led_panel` (the text shown), `gpio_button` (presses),
    `gpio_led` (lamp), `lock_board` (doors open), `modem` (signal, SMS sent and failed); every
    kind has the `online` connectivity sensor.
    """
    did = device.id
    bridge_status = status_topic(hall, bridge)
    components: dict[str, Any] = {"online": _online_component(hall, did, bridge_status)}
    window_topic = f"yc/{hall}/state/window/{device.window}" if device.window else None
    if device.kind == "caller" and window_topic is not None:
        components["ticket"] = {
            "platform": "sensor",
            "name": "Current ticket",
            "unique_id": unique_id(hall, did, "ticket"),
            "icon": "mdi:ticket-confirmation",
            "state_topic": window_topic,
            "value_template": "{{ value_json.ticket or 'none' }}",
        }
        components["window_status"] = {
            "platform": "sensor",
            "name": "Window status",
            "unique_id": unique_id(hall, did, "window_status"),
            "device_class": "enum",
            "options": list(WINDOW_STATUSES),
            "state_topic": window_topic,
            "value_template": "{{ value_json.status }}",
        }
    elif device.kind == "eval_pad":
        components["lamp"] = {
            "platform": "binary_sensor",
            "name": "Rating lamp",
            "unique_id": unique_id(hall, did, "lamp"),
            "icon": "mdi:star-face",
            "state_topic": _telemetry_topic(hall, did),
            "value_template": "{{ 'ON' if value_json.lamp else 'OFF' }}",
        }
    elif device.kind == "led_panel":
        components["text"] = _telemetry_sensor(
            hall, did, "text", "Text shown", "{{ value_json.text }}", icon="mdi:led-strip"
        )
    elif device.kind == "gpio_button":
        components["presses"] = _telemetry_sensor(
            hall, did, "presses", "Presses", "{{ value_json.presses }}", state_class="total_increasing"
        )
    elif device.kind == "lock_board":
        # from the retained door state rather than telemetry: it changes the moment a door does
        components["doors_open"] = {
            "platform": "sensor",
            "name": "Doors open",
            "unique_id": unique_id(hall, did, "doors_open"),
            "icon": "mdi:locker",
            "state_class": "measurement",
            "state_topic": f"yc/{hall}/device/{did}/state",
            "value_template": "{{ value_json.doors | selectattr('open') | list | count }}",
        }
    elif device.kind == "modem":
        components["signal"] = _telemetry_sensor(
            hall, did, "signal", "Signal (CSQ)", "{{ value_json.signal }}", icon="mdi:signal"
        )
        components["sms_sent"] = _telemetry_sensor(
            hall, did, "sms_sent", "SMS sent", "{{ value_json.sent }}", state_class="total_increasing"
        )
        components["sms_failed"] = _telemetry_sensor(
            hall, did, "sms_failed", "SMS failed", "{{ value_json.failed }}", state_class="total_increasing"
        )
    elif device.kind == "gpio_led":
        components["lamp"] = {
            "platform": "binary_sensor",
            "name": "Lamp",
            "unique_id": unique_id(hall, did, "lamp"),
            "state_topic": _telemetry_topic(hall, did),
            "value_template": "{{ 'OFF' if value_json.mode == 'off' else 'ON' }}",
        }
    name = f"{window_label} {device.kind}" if window_label else f"{device.id} ({device.kind})"
    ha_device: dict[str, Any] = {
        "identifiers": [_ha_device_id(hall, did)],
        "name": name,
        "manufacturer": MANUFACTURER,
        "model": f"{device.kind}/{device.protocol}" if device.protocol else device.kind,
        "sw_version": version,
        "via_device": _ha_device_id(hall, bridge),
    }
    if window_label:
        ha_device["suggested_area"] = window_label
    payload = {
        "device": ha_device,
        "origin": origin(version),
        "availability": [{"topic": bridge_status}, {"topic": status_topic(hall, did)}],
        "availability_mode": "all",
        "components": components,
        "qos": 1,
    }
    return discovery_topic(hall, did), payload


_BRIDGE_SENSORS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("uptime", "Uptime", "uptime_s", {"unit_of_measurement": "s", "device_class": "duration"}),
    ("frames_ok", "Frames OK", "frames_ok", {"state_class": "total_increasing"}),
    ("crc_errors", "CRC errors", "crc_errors", {"state_class": "total_increasing"}),
    ("presses_queued", "Presses queued", "presses_queued", {"state_class": "measurement"}),
    ("presses_dropped", "Presses dropped", "presses_dropped", {"state_class": "total_increasing"}),
)


def bridge_discovery(hall: str, bridge: str, *, version: str = VERSION) -> tuple[str, dict[str, Any]]:
    """The bridge's own discovery `(topic, payload)`: sensors read from its telemetry."""
    components: dict[str, Any] = {}
    for component, name, field, extra in _BRIDGE_SENSORS:
        components[component] = _telemetry_sensor(
            hall,
            bridge,
            component,
            name,
            f"{{{{ value_json.{field} }}}}",
            entity_category="diagnostic",
            **extra,
        )
    payload = {
        "device": {
            "identifiers": [_ha_device_id(hall, bridge)],
            "name": f"{bridge} firmware bridge",
            "manufacturer": MANUFACTURER,
            "model": "firmware_bridge",
            "sw_version": version,
        },
        "origin": origin(version),
        "availability": [{"topic": status_topic(hall, bridge)}],
        "availability_mode": "all",
        "components": components,
        "qos": 1,
    }
    return discovery_topic(hall, bridge), payload


def info_payload(kind: str, model: str, version: str = VERSION, window: str | None = None) -> dict[str, Any]:
    """The retained `device/{device}/info`: `{"kind","model","version","window"?}`."""
    info: dict[str, Any] = {"kind": kind, "model": model, "version": version}
    if window is not None:
        info["window"] = window
    return info


_SCALARS = (str, int, float, bool, type(None))


def telemetry_payload(uptime_s: float, **fields: Any) -> dict[str, Any]:
    """`device/{device}/telemetry`: `{"uptime_s", …kind-specific}` (uptime in whole seconds).

    Kind-specific fields are JSON scalars (`"paper": "ok"`, `"lamp": true`, `"text": "…"`);
    anything else is refused so a telemetry call can never leak an object graph.
    """
    for name, value in fields.items():
        if not isinstance(value, _SCALARS):
            raise TypeError(f"telemetry field {name!r} must be a JSON scalar, not {type(value).__name__}")
    return {"uptime_s": max(0, int(uptime_s)), **fields}


def bridge_telemetry(
    uptime_s: float,
    *,
    frames_ok: int,
    crc_errors: int,
    presses_queued: int,
    presses_dropped: int = 0,
    devices_online: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The bridge's telemetry, with the fields its discovery sensors read."""
    fields: dict[str, Any] = {
        "frames_ok": frames_ok,
        "crc_errors": crc_errors,
        "presses_queued": presses_queued,
        "presses_dropped": presses_dropped,
    }
    if devices_online is not None:
        fields["devices_online"] = devices_online
    fields.update(extra or {})
    return telemetry_payload(uptime_s, **fields)
