"""What a kiosk tells technicians over MQTT: info, Home Assistant discovery, telemetry, alarms (pure)."""

from __future__ import annotations

from typing import Any

from firmware_bridge.discovery import VERSION, discovery_topic, origin, unique_id

__all__ = ["alarm_payload", "discovery", "info_payload", "telemetry_payload"]

PAPER_STATES = ("ok", "low", "out", "unknown", "offline", "none")


def info_payload(location: str, printer: str, camera: str) -> dict[str, Any]:
    """`device/{kiosk}/info`: what it is and which printer and camera it drives.

    `printer` and `camera` describe the opened devices (`tcp://10.20.0.31:9100 (network)`),
    empty when there is none.
    """
    return {
        "kind": "kiosk",
        "model": "yichuang-kiosk",
        "version": VERSION,
        "location": location,
        "printer": printer or "none",
        "camera": camera or "none",
    }


def telemetry_payload(
    uptime_s: float, paper: str, server: bool, screen: str, printed: int, print_failures: int
) -> dict[str, Any]:
    """`device/{kiosk}/telemetry`: CONTRACT §3.1's `uptime_s` and `paper`, and the kiosk's own."""
    return {
        "uptime_s": round(uptime_s),
        "paper": paper,
        "server": "online" if server else "offline",
        "screen": screen,
        "printed": printed,
        "print_failures": print_failures,
    }


def alarm_payload(event_id: str, at: str, kind: str, kiosk: str, **extra: Any) -> dict[str, Any]:
    """`event/alarm` from a kiosk: `paper_low`, `paper_out`, `printer_offline`, `print_failed`."""
    return {"event_id": event_id, "at": at, "kind": kind, "device": kiosk, "kiosk": kiosk, **extra}


def discovery(hall: str, kiosk: str, location: str) -> tuple[str, dict[str, Any]]:
    """Home Assistant device discovery for a kiosk: online, paper, server link, a print-test button."""
    status = f"yc/{hall}/device/{kiosk}/status"
    telemetry = f"yc/{hall}/device/{kiosk}/telemetry"
    availability = [{"topic": status}]
    components: dict[str, Any] = {
        "online": {
            "platform": "binary_sensor",
            "name": "Online",
            "unique_id": unique_id(hall, kiosk, "online"),
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "state_topic": status,
            "payload_on": "online",
            "payload_off": "offline",
        },
        "paper": {
            "platform": "sensor",
            "name": "Paper",
            "unique_id": unique_id(hall, kiosk, "paper"),
            "icon": "mdi:paper-roll",
            "device_class": "enum",
            "options": list(PAPER_STATES),
            "state_topic": telemetry,
            "value_template": "{{ value_json.paper }}",
            "availability": availability,
        },
        "server": {
            "platform": "binary_sensor",
            "name": "Server reachable",
            "unique_id": unique_id(hall, kiosk, "server"),
            "device_class": "connectivity",
            "state_topic": telemetry,
            "value_template": "{{ 'ON' if value_json.server == 'online' else 'OFF' }}",
            "availability": availability,
        },
        "print_test": {
            "platform": "button",
            "name": "Print test page",
            "unique_id": unique_id(hall, kiosk, "print_test"),
            "command_topic": f"yc/{hall}/device/{kiosk}/set",
            "payload_press": '{"print_test": true}',
            "availability": availability,
        },
    }
    payload = {
        "device": {
            "identifiers": [f"yc_{hall}_{kiosk}"],
            "name": f"{kiosk} ({location})" if location else kiosk,
            "manufacturer": "Yichuang",
            "model": "yichuang-kiosk",
            "sw_version": VERSION,
        },
        "origin": origin(),
        "components": components,
        "qos": 1,
    }
    return discovery_topic(hall, kiosk), payload
