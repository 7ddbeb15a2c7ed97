"""The bus master for one YC-BUS line: polls its devices, takes their key presses, drives displays.

One thread per line (a serial device path or a `socket://host:port` URL, opened with
pyserial as any serial port). Each turn it first sends any display or lamp change still
owed to a device, then polls the next device. A device that misses `offline_after`
exchanges in a row is offline until it answers again; a port that vanishes is reopened
every second (`firmware_bridge.serial_port`), so unplugging a USB-RS485 adapter and plugging
it back needs no restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridge.codecs import ycbus
from firmware_bridge.codecs.ycbus import CodecError, Frame, FrameParser, FrameType, KeyEvent
from firmware_bridge.serial_port import PORT_ERRORS, REOPEN_S, ManagedPort
from yichuang.config_model import DeviceConfig

log = logging.getLogger(__name__)

KEYLESS = frozenset({"led_panel"})  # nothing to fetch from these: no keys
KEYLESS_POLL_S = 1.0
# a POLL and its IDLE reply: 14 bytes of 10 bits at 115200 baud
POLL_WIRE_S = 14 * 10 / ycbus.BAUDRATE
IDLE_WAIT_S = 0.05


@dataclass
class _Device:
    config: DeviceConfig
    online: bool | None = None  # None: not heard from yet
    misses: int = 0
    wanted: dict[tuple[int, int], tuple[int, bytes]] = field(default_factory=dict)  # (type, line) -> frame
    sent: dict[tuple[int, int], tuple[int, bytes]] = field(default_factory=dict)
    info: ycbus.DeviceInfo | None = None
    polled_at: float = 0.0


@dataclass
class BusStats:
    frames_ok: int = 0
    timeouts: int = 0
    retransmits: int = 0
    presses: int = 0
    duplicates: int = 0
    bad_events: int = 0
    port_errors: int = 0


class SerialBus:
    """Master of one line. Callbacks run on the bus thread and must not block."""

    def __init__(
        self,
        url: str,
        devices: list[DeviceConfig],
        on_press: Callable[[DeviceConfig, KeyEvent], None],
        on_online: Callable[[DeviceConfig, bool], None],
        *,
        reply_timeout_s: float = ycbus.REPLY_TIMEOUT_S,
        retransmits: int = ycbus.MAX_RETRANSMITS,
        offline_after: int = 3,
        min_cycle_s: float | None = None,
    ) -> None:
        self.url = url
        self.devices = {
            d.config.address: d for d in (_Device(c) for c in devices) if d.config.address is not None
        }
        self.by_id = {d.config.id: d for d in self.devices.values()}
        self.on_press = on_press
        self.on_online = on_online
        self.reply_timeout_s = reply_timeout_s
        self.retransmits = retransmits
        self.offline_after = offline_after
        # a cycle takes at least what its polls take on the wire at 115200 baud: a real line
        # cannot go faster, and over a simulator (no wire time) polling faster only burns CPU
        polled = sum(1 for d in self.devices.values() if d.config.kind not in KEYLESS)
        self.min_cycle_s = min_cycle_s if min_cycle_s is not None else polled * POLL_WIRE_S
        self.stats = BusStats()
        self.parser = FrameParser()
        self.dedup = ycbus.EventDeduplicator()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._port = ManagedPort(
            url,
            baudrate=ycbus.BAUDRATE,
            timeout=0.002,
            stats=self.stats,
            on_open=self.parser.reset,
            on_lost=self._all_offline,
            logger=log,
        )
        self._seq = 0
        self._owed_turn = 0
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- outputs (any thread)

    def set_display(self, device_id: str, line: int, text: str) -> None:
        frame = ycbus.set_display(0, 0, line, text)
        self._want(device_id, (FrameType.SET_DISPLAY, line), (frame.type, frame.payload))

    def set_lamps(self, device_id: str, lit: bool) -> None:
        frame = ycbus.set_lamps(0, 0, lit)
        self._want(device_id, (FrameType.SET_LAMPS, 0), (frame.type, frame.payload))

    def _want(self, device_id: str, key: tuple[int, int], value: tuple[int, bytes]) -> None:
        device = self.by_id.get(device_id)
        if device is None:
            return
        with self._lock:
            device.wanted[key] = value
        self._wake.set()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"bus {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._port.close()

    def _run(self) -> None:
        order = sorted(self.devices)
        turn = 0
        cycle_started = time.monotonic()
        cycle_busy = False
        while not self._stop.is_set():
            if not self._port.ensure_open():
                self._stop.wait(REOPEN_S)
                continue
            try:
                # one owed display change, then one poll: key presses never wait behind a
                # burst of display updates, and displays never wait a whole cycle
                busy = self._send_owed()
                if order:
                    device = self.devices[order[turn % len(order)]]
                    turn += 1
                    if device.config.kind not in KEYLESS or self._due(device):
                        self._poll(device)
                        busy = True
                cycle_busy = cycle_busy or busy
                if not order or turn % len(order) == 0:
                    # a real line needs its wire time per cycle; over a simulator there is none, so
                    # the floor keeps polling from eating a core; a cycle with nothing to do
                    # (a line of panels between changes) sleeps until a change is owed
                    floor = self.min_cycle_s if cycle_busy else IDLE_WAIT_S
                    rest = floor - (time.monotonic() - cycle_started)
                    if rest > 0:
                        self._wake.wait(rest)
                        self._wake.clear()
                    cycle_started = time.monotonic()
                    cycle_busy = False
            except PORT_ERRORS as exc:
                self._port.lost(exc)

    def _all_offline(self) -> None:
        for device in self.devices.values():
            self._mark(device, False)

    # ----------------------------------------------------------------- exchanges

    def _send_owed(self) -> bool:
        """Send one display/lamp change a device still lacks (round robin); True if one was sent."""
        devices = list(self.devices.values())
        self._owed_turn = (self._owed_turn + 1) % max(len(devices), 1)
        for device in devices[self._owed_turn :] + devices[: self._owed_turn]:
            if device.online is False:
                continue
            with self._lock:
                owed = [(k, v) for k, v in device.wanted.items() if device.sent.get(k) != v]
            if not owed:
                continue
            key, (ftype, payload) = owed[0]
            reply = self._exchange(
                Frame(device.config.address or 0, self._next_seq(), ftype, payload), device
            )
            if reply is not None and reply.type == FrameType.ACK:
                with self._lock:
                    device.sent[key] = (ftype, payload)
            elif reply is not None and reply.type == FrameType.NAK:
                # the model lacks this output (a caller has no lamps): stop offering it
                with self._lock:
                    device.wanted.pop(key, None)
            return True
        return False

    def _due(self, device: _Device) -> bool:
        """A device without keys is polled only to know it is there, once a second."""
        return time.monotonic() - device.polled_at >= KEYLESS_POLL_S

    def _poll(self, device: _Device) -> None:
        device.polled_at = time.monotonic()
        address = device.config.address or 0
        reply = self._exchange(ycbus.poll(address, self._next_seq()), device)
        if reply is None or reply.type != FrameType.EVENT:
            return
        try:
            event = ycbus.decode_event(reply)
        except CodecError as exc:
            self.stats.bad_events += 1
            log.warning("event=bad_key_event device=%s error=%s", device.config.id, exc)
            self._exchange(ycbus.ack_event(address, self._next_seq(), reply.payload[0]), device)
            return
        if self.dedup.accept(address, event.event_no):
            self.stats.presses += 1
            try:
                self.on_press(device.config, event)
            except Exception:
                log.exception("event=press_handler_failed device=%s", device.config.id)
        else:
            self.stats.duplicates += 1  # the device did not hear our ACK: a retransmission
        self._exchange(ycbus.ack_event(address, self._next_seq(), event.event_no), device)

    def _exchange(self, request: Frame, device: _Device) -> Frame | None:
        """Send, wait for the reply with the same seq; resend the same frame on silence."""
        data = request.encode()
        for attempt in range(1 + self.retransmits):
            if attempt:
                self.stats.retransmits += 1
            self._port.serial.write(data)
            reply = self._port.await_frame(
                self.parser, self.reply_timeout_s, lambda frame: ycbus.is_reply_to(frame, request)
            )
            if reply is not None:
                self.stats.frames_ok += 1
                device.misses = 0
                self._mark(device, True)
                return reply
        self.stats.timeouts += 1
        device.misses += 1
        if device.misses >= self.offline_after:
            self._mark(device, False)
        return None

    def _mark(self, device: _Device, online: bool) -> None:
        if device.online == online:
            return
        if online:
            # back after a gap: it may have rebooted, restarting its event numbers and blanking
            # its display, so forget both and say everything again
            self.dedup.forget(device.config.address or 0)
            with self._lock:
                device.sent.clear()
        device.online = online
        log.info("event=device_%s device=%s", "online" if online else "offline", device.config.id)
        try:
            self.on_online(device.config, online)
        except Exception:
            log.exception("event=online_handler_failed device=%s", device.config.id)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 256
        return self._seq

    @property
    def crc_errors(self) -> int:
        return self.parser.crc_errors

    def counters(self) -> dict[str, int]:
        """For the bridge's telemetry."""
        return {
            "frames_ok": self.stats.frames_ok,
            "crc_errors": self.parser.crc_errors,
            "timeouts": self.stats.timeouts,
            "retransmits": self.stats.retransmits,
            "duplicate_presses": self.stats.duplicates,
            "bad_events": self.stats.bad_events,
            "port_errors": self.stats.port_errors,
        }
