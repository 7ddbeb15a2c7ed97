"""The GSM modem on a serial port: sends SMS (pickup codes, notices) with AT commands in PDU mode.

One `ModemLine` per modem port (a device path or ``socket://host:port``, opened and reopened
by `firmware_bridge.serial_port` as the RS-485 lines' ports are), one thread. It initialises
the modem (``AT``, ``ATE0``, ``AT+CMEE=1``, ``AT+CMGF=0``), checks registration and signal
(``AT+CREG?``, ``AT+CSQ``) every `check_s` seconds, and sends queued texts one at a time:
each part with ``AT+CMGS=<len>``, the ``> `` prompt, the PDU and Ctrl-Z, then ``+CMGS: <mr>``
and ``OK`` (docs/hardware.md has the whole dialogue; the PDUs come from
`firmware_bridge.codecs.sms_pdu`).

A text gets up to `attempts` tries, `retry_pause_s` apart; a retry resumes at the first part
the network has not taken, with the same concatenation reference, so the phone still joins
them. A message id that was sent in the last 24 hours is not sent again (the server retries a
`set` it has no answer to) but reported sent again. The device is `online` while the modem
answers and is registered on the network.

Phone numbers and texts are personal data and a text carries a pickup code: neither, nor a
PDU (which encodes both), ever goes into a log line or an event. `mask_number` is the only
form a number may take in a log.
"""

from __future__ import annotations

import logging
import queue
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_bridge.codecs.sms_pdu import (
    CMS_NO_NETWORK,
    CmgsResult,
    CmsError,
    PduError,
    SubmitPdu,
    encode_submit,
    parse_creg,
    parse_csq,
    parse_result_line,
)
from firmware_bridge.serial_port import PORT_ERRORS, REOPEN_S, ManagedPort
from yichuang.config_model import DeviceConfig

__all__ = [
    "MAX_PARTS",
    "InvalidSms",
    "ModemLine",
    "SmsOutcome",
    "SmsRequest",
    "mask_number",
    "sms_event",
    "sms_request",
]

log = logging.getLogger(__name__)

BAUDRATE = 115200  # what USB GSM modems (SIM800/SIM7600, Quectel EC2x) ship with or autobaud to
COMMAND_TIMEOUT_S = 2.0
PROMPT_TIMEOUT_S = 5.0
# TS 27.005 leaves it open; modules document up to 60 s for +CMGS while the network answers
SEND_TIMEOUT_S = 60.0
CHECK_S = 30.0
ATTEMPTS = 3
RETRY_PAUSE_S = 10.0
SENT_MEMORY_S = 24 * 3600.0
MAX_PARTS = 5  # a pickup notice is one or two parts; more is a mistake upstream, not a text to send
MAX_ID = 128
CTRL_Z = b"\x1a"
ESC = b"\x1b"

# the stable error words of `sms_failed`
NOT_REGISTERED = "not_registered"
SEND_FAILED = "send_failed"
TIMEOUT = "timeout"
INVALID_REQUEST = "invalid_request"

_PHONE = re.compile(r"\+?[0-9]{5,20}")


def mask_number(number: str) -> str:
    """A number as a log may show it: ``138****5678``, ``+86138****5678`` (the first three and
    last four digits of the subscriber number)."""
    prefix = "+86" if number.startswith("+86") else "+" if number.startswith("+") else ""
    digits = number[len(prefix) :]
    if len(digits) <= 7:
        return prefix + "*" * len(digits)
    return prefix + digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# --- requests and outcomes ------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsRequest:
    """One text to send: `id` is the sender's idempotency key."""

    id: str
    to: str
    text: str


class InvalidSms(ValueError):
    """A `set` whose `sms` cannot be sent; `reason` never quotes the number or the text."""

    def __init__(self, reason: str, request_id: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.id = request_id


def sms_request(command: Any) -> SmsRequest:
    """The request in a modem's `set` payload ``{"sms": {"to", "text", "id"}}`` (CONTRACT §3.5).

    Raises InvalidSms: `to` must be 5-20 digits with an optional leading ``+``, `text`
    non-empty and at most `MAX_PARTS` parts, `id` a non-empty string of at most 128 characters.
    """
    sms = command.get("sms") if isinstance(command, dict) else None
    if not isinstance(sms, dict):
        raise InvalidSms('the payload has no "sms" object', None)
    raw_id = sms.get("id")
    request_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID else None
    if request_id is None or not request_id.isprintable():
        raise InvalidSms(f'"id" must be a string of 1-{MAX_ID} printable characters', None)
    to, text = sms.get("to"), sms.get("text")
    if not isinstance(to, str) or _PHONE.fullmatch(to) is None:
        raise InvalidSms('"to" must be a phone number: 5-20 digits, optionally after +', request_id)
    if not isinstance(text, str) or not text.strip():
        raise InvalidSms('"text" must be a non-empty string', request_id)
    try:
        parts = len(encode_submit(to, text))
    except PduError as exc:
        raise InvalidSms(str(exc), request_id) from None
    if parts > MAX_PARTS:
        raise InvalidSms(f'"text" needs {parts} SMS parts, at most {MAX_PARTS} are sent', request_id)
    return SmsRequest(request_id, to, text)


@dataclass(frozen=True)
class SmsOutcome:
    """What became of one request: sent in `parts` parts, or failed with an `error` word."""

    device: str
    id: str
    ok: bool
    parts: int = 0
    error: str | None = None
    repeat: bool = False  # an id already sent: reported, not sent again


def sms_event(outcome: SmsOutcome, *, event_id: str, at: str) -> tuple[str, dict[str, Any]]:
    """`(type, payload)` of the event: ``sms_sent`` ``{"event_id","at","id","device","parts"}``
    (plus ``"repeat": true`` for an id sent before) or ``sms_failed``
    ``{"event_id","at","id","device","error"}``. Never the number, never the text."""
    payload: dict[str, Any] = {"event_id": event_id, "at": at, "id": outcome.id, "device": outcome.device}
    if outcome.ok:
        payload["parts"] = outcome.parts
        if outcome.repeat:
            payload["repeat"] = True
        return "sms_sent", payload
    payload["error"] = outcome.error or SEND_FAILED
    return "sms_failed", payload


# --- the driver ---------------------------------------------------------------------------------


@dataclass
class ModemStats:
    exchanges: int = 0  # commands answered with a final result
    timeouts: int = 0
    retries: int = 0
    port_errors: int = 0
    sent: int = 0
    failed: int = 0
    repeats: int = 0


@dataclass(frozen=True)
class _Reply:
    ok: bool
    lines: tuple[str, ...]
    error: CmsError | None = None


class _NoAnswer(Exception):
    """The modem said nothing in time."""


class ModemLine:
    """Drives one GSM modem on `url`; the bridge's `LineDriver` shape plus `send_sms`.

    `on_online(device, online)` runs on the modem thread when the modem starts or stops
    answering or loses the network; `on_sms(outcome)` once per request. Callbacks must not block.
    """

    def __init__(
        self,
        url: str,
        devices: list[DeviceConfig],
        on_press: Callable[..., None],
        on_online: Callable[[DeviceConfig, bool], None],
        *,
        on_sms: Callable[[SmsOutcome], None] | None = None,
        command_timeout_s: float = COMMAND_TIMEOUT_S,
        prompt_timeout_s: float = PROMPT_TIMEOUT_S,
        send_timeout_s: float = SEND_TIMEOUT_S,
        check_s: float = CHECK_S,
        attempts: int = ATTEMPTS,
        retry_pause_s: float = RETRY_PAUSE_S,
        baudrate: int = BAUDRATE,
        clock: Callable[[], float] = time.time,
        **_options: Any,  # the RS-485 lines' options (reply_timeout_s …) mean nothing to a modem
    ) -> None:
        if len(devices) != 1:
            from firmware_bridge.line_drivers import UnsupportedProtocol

            raise UnsupportedProtocol(f"{url}: one modem per port, got {len(devices)} devices")
        self.url = url
        self.device = devices[0]
        self.by_id = {self.device.id: self.device}
        self.on_online = on_online
        self.on_sms = on_sms
        self.command_timeout_s = command_timeout_s
        self.prompt_timeout_s = prompt_timeout_s
        self.send_timeout_s = send_timeout_s
        self.check_s = check_s
        self.attempts = attempts
        self.retry_pause_s = retry_pause_s
        self.baudrate = baudrate
        self.clock = clock
        self.stats = ModemStats()
        self.registered: bool | None = None
        self.signal: int | None = None  # RSSI 0-31 from AT+CSQ, None unknown
        self.online: bool | None = None
        self._queue: queue.Queue[SmsRequest | None] = queue.Queue()
        self._sent_ids: dict[str, tuple[float, int]] = {}  # id -> (wall clock sent, parts)
        # a restarted bridge must not reuse the reference of a long text it sent a moment ago
        self._reference = random.randrange(256)
        self._rx = bytearray()
        self._port = ManagedPort(
            url,
            baudrate=baudrate,
            timeout=0.05,
            write_timeout=2,
            stats=self.stats,
            on_open=lambda: self._rx.clear(),  # looked up at each open, should `_rx` ever be rebound
            on_lost=self._unreachable,
            logger=log,
        )
        self._ready = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- outputs (any thread)

    def send_sms(self, device_id: str, to: str, text: str, msg_id: str) -> None:
        """Queue a text; the outcome comes through `on_sms`."""
        if device_id != self.device.id:
            raise KeyError(device_id)
        self._queue.put(SmsRequest(msg_id, to, text))

    def set_display(self, device_id: str, line: int, text: str) -> None:
        """A modem has no display."""

    def set_lamps(self, device_id: str, lit: bool) -> None:
        """A modem has no lamps."""

    @property
    def queued(self) -> int:
        """Texts waiting to be sent."""
        return self._queue.qsize()

    def telemetry(self) -> dict[str, Any]:
        """The modem's fields for its device telemetry."""
        return {
            "signal": self.signal,
            "registered": self.registered,
            "sent": self.stats.sent,
            "failed": self.stats.failed,
            "queued": self.queued,
        }

    def counters(self) -> dict[str, int]:
        """For the bridge's telemetry (the names every line driver reports, and the modem's own)."""
        return {
            "frames_ok": self.stats.exchanges,
            "crc_errors": 0,
            "timeouts": self.stats.timeouts,
            "retransmits": self.stats.retries,
            "duplicate_presses": 0,
            "bad_events": 0,
            "port_errors": self.stats.port_errors,
            "sms_sent": self.stats.sent,
            "sms_failed": self.stats.failed,
            "sms_repeated": self.stats.repeats,
        }

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"modem {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(5)
        self._port.close()
        self._ready = False

    def _run(self) -> None:
        next_check = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_check:
                self._check()
                next_check = time.monotonic() + (self.check_s if self._ready else min(self.check_s, REOPEN_S))
            try:
                request = self._queue.get(timeout=max(0.0, next_check - time.monotonic()))
            except queue.Empty:
                continue
            if request is None:
                continue
            try:
                self._deliver(request)
            except Exception:
                # a bug must not end the thread that every later text waits on; the traceback
                # names no number (requests are never formatted into messages)
                log.exception("event=sms_deliver_crashed device=%s id=%s", self.device.id, request.id)
                self._report(SmsOutcome(self.device.id, request.id, False, error=SEND_FAILED))

    # ----------------------------------------------------------------- port and modem state

    def _unreachable(self) -> None:
        """No modem to talk to (silent, or no port): initialise again next time, state unknown."""
        self._ready = False
        self.registered = self.signal = None
        self._mark(False)

    def _ensure_ready(self) -> bool:
        """Port open and modem initialised (again after any silence: it may have rebooted)."""
        if self._ready:
            return True
        if not self._port.ensure_open():
            self._unreachable()
            return False
        try:
            # a modem fresh from power-up may miss the first AT while it autobauds: ask twice
            if not self._at_ok("AT") and not self._at_ok("AT"):
                raise _NoAnswer
            for command in ("ATE0", "AT+CMEE=1", "AT+CMGF=0"):
                if not self._at_ok(command):
                    log.warning("event=modem_init_refused device=%s command=%s", self.device.id, command)
                    raise _NoAnswer
        except _NoAnswer:
            self._unreachable()
            return False
        except PORT_ERRORS as exc:
            self._port.lost(exc)
            return False
        self._ready = True
        log.info("event=modem_ready device=%s", self.device.id)
        return True

    def _check(self) -> None:
        """Registration and signal; online = answering and registered."""
        if not self._ensure_ready():
            return
        try:
            creg = self._command("AT+CREG?")
            csq = self._command("AT+CSQ")
        except _NoAnswer:
            self._unreachable()
            return
        except PORT_ERRORS as exc:
            self._port.lost(exc)
            return
        stats = [s for s in (parse_creg(line) for line in creg.lines) if s is not None]
        if stats:
            registered = stats[-1] in (1, 5)  # home network or roaming
            if registered != self.registered:
                log.info("event=modem_registration device=%s registered=%s", self.device.id, registered)
            self.registered = registered
        for line in csq.lines:
            if line.startswith("+CSQ"):
                self.signal = parse_csq(line)
        self._mark(bool(self.registered))

    def _mark(self, online: bool) -> None:
        if self.online == online:
            return
        self.online = online
        log.info("event=device_%s device=%s", "online" if online else "offline", self.device.id)
        try:
            self.on_online(self.device, online)
        except Exception:
            log.exception("event=online_handler_failed device=%s", self.device.id)

    # ----------------------------------------------------------------- sending

    def _deliver(self, request: SmsRequest) -> None:
        now = self.clock()
        self._sent_ids = {k: v for k, v in self._sent_ids.items() if now - v[0] < SENT_MEMORY_S}
        earlier = self._sent_ids.get(request.id)
        if earlier is not None:
            self.stats.repeats += 1
            log.info("event=sms_repeat device=%s id=%s parts=%d", self.device.id, request.id, earlier[1])
            self._report(SmsOutcome(self.device.id, request.id, True, parts=earlier[1], repeat=True))
            return
        self._reference = (self._reference + 1) % 256
        try:
            pdus = encode_submit(request.to, request.text, reference=self._reference)
        except PduError as exc:  # the bridge validates first; another caller may not have
            log.warning("event=sms_invalid device=%s id=%s reason=%s", self.device.id, request.id, exc)
            self._report(SmsOutcome(self.device.id, request.id, False, error=INVALID_REQUEST))
            return
        done = 0
        error = TIMEOUT
        for attempt in range(self.attempts):
            if attempt:
                self.stats.retries += 1
                if self._stop.wait(self.retry_pause_s):
                    break
            sent, failure = self._attempt(pdus[done:])
            done += sent
            if failure is None:
                self.stats.sent += 1
                self._sent_ids[request.id] = (self.clock(), len(pdus))
                log.info("event=sms_sent device=%s id=%s parts=%d", self.device.id, request.id, len(pdus))
                self._report(SmsOutcome(self.device.id, request.id, True, parts=len(pdus)))
                return
            error = failure
            log.warning(
                "event=sms_attempt_failed device=%s id=%s attempt=%d error=%s parts_sent=%d/%d to=%s",
                self.device.id,
                request.id,
                attempt + 1,
                error,
                done,
                len(pdus),
                mask_number(request.to),
            )
        self.stats.failed += 1
        log.warning("event=sms_failed device=%s id=%s error=%s", self.device.id, request.id, error)
        self._report(SmsOutcome(self.device.id, request.id, False, error=error))

    def _attempt(self, pdus: list[SubmitPdu]) -> tuple[int, str | None]:
        """Send the parts in order: how many the network took, and the error word that stopped
        the rest (None: all of them went)."""
        if not self._ensure_ready():
            return 0, TIMEOUT
        sent = 0
        try:
            if self.registered is not True:
                self._check()  # it may have come back since the last periodic check
                if self.registered is not True:
                    return 0, NOT_REGISTERED if self._ready else TIMEOUT
            for pdu in pdus:
                error = self._send_part(pdu)
                if error is not None:
                    return sent, error
                sent += 1
        except PORT_ERRORS as exc:
            self._port.lost(exc)
            return sent, TIMEOUT
        return sent, None

    def _send_part(self, pdu: SubmitPdu) -> str | None:
        """One ``AT+CMGS`` exchange; None when the network took the part, else an error word."""
        self._discard_input()
        self._write(f"AT+CMGS={pdu.length}\r".encode())
        deadline = time.monotonic() + self.prompt_timeout_s
        while True:
            line = self._next_line(deadline, prompt=True)
            if line is None:
                # leave the prompt in case it comes late, so the next command is not taken as PDU
                self._write(ESC)
                return self._silent()
            if line == ">":
                break
            refused = self._refusal(line)
            if refused is not None:
                self.stats.exchanges += 1
                return refused
        self._write(pdu.hex.encode() + CTRL_Z)
        deadline = time.monotonic() + self.send_timeout_s
        accepted = False
        while True:
            line = self._next_line(deadline)
            if line is None:
                return self._silent()
            if isinstance(parse_result_line(line), CmgsResult):
                accepted = True
            elif line == "OK":
                self.stats.exchanges += 1
                # OK without +CMGS is not a modem this driver knows: do not claim it was sent
                return None if accepted else SEND_FAILED
            else:
                refused = self._refusal(line)
                if refused is not None:
                    self.stats.exchanges += 1
                    return refused

    def _refusal(self, line: str) -> str | None:
        """The error word for a final result that refuses a send; None for any other line."""
        result = parse_result_line(line)
        if isinstance(result, CmsError):
            if result.code == CMS_NO_NETWORK:
                self.registered = False
                self._mark(False)
                return NOT_REGISTERED
            return SEND_FAILED
        if line in ("ERROR", "NO CARRIER") or line.startswith("+CME ERROR"):
            return SEND_FAILED
        return None

    def _silent(self) -> str:
        self.stats.timeouts += 1
        self._ready = False  # initialise again before the next try: the modem may have rebooted
        return TIMEOUT

    def _report(self, outcome: SmsOutcome) -> None:
        if self.on_sms is None:
            return
        try:
            self.on_sms(outcome)
        except Exception:
            log.exception("event=sms_handler_failed device=%s id=%s", self.device.id, outcome.id)

    # ----------------------------------------------------------------- AT exchanges

    def _at_ok(self, command: str) -> bool:
        try:
            return self._command(command).ok
        except _NoAnswer:
            return False

    def _command(self, command: str) -> _Reply:
        """Send one command line; its information lines and final result (raises _NoAnswer)."""
        self._discard_input()
        self._write(command.encode() + b"\r")
        deadline = time.monotonic() + self.command_timeout_s
        lines: list[str] = []
        while True:
            line = self._next_line(deadline)
            if line is None:
                self.stats.timeouts += 1
                raise _NoAnswer(command)
            if line.upper() == command.upper():
                continue  # the echo, before ATE0 took effect (or after the modem rebooted)
            if line == "OK":
                self.stats.exchanges += 1
                return _Reply(True, tuple(lines))
            result = parse_result_line(line)
            if line == "ERROR" or isinstance(result, CmsError) or line.startswith("+CME ERROR"):
                self.stats.exchanges += 1
                return _Reply(False, tuple(lines), result if isinstance(result, CmsError) else None)
            lines.append(line)

    def _write(self, data: bytes) -> None:
        self._port.serial.write(data)
        self._port.serial.flush()

    def _discard_input(self) -> None:
        """Forget what came before: a late answer to an earlier command, unsolicited codes."""
        # read it away rather than reset_input_buffer(): on a pty that vanished, tcflush raises
        # termios.error, which is no OSError, where a read fails as any lost port does
        while waiting := self._port.serial.in_waiting:
            self._port.serial.read(waiting)
        self._rx.clear()

    def _next_line(self, deadline: float, *, prompt: bool = False) -> str | None:
        """The next non-empty line (``">"`` for the SMS prompt, which has no line end), or None
        at `deadline`."""
        while True:
            for index, byte in enumerate(self._rx):
                if byte in (0x0D, 0x0A):
                    raw = bytes(self._rx[:index])
                    del self._rx[: index + 1]
                    text = raw.decode("ascii", errors="replace").strip()
                    if text:
                        return text
                    break
            else:
                if prompt and self._rx.lstrip().startswith(b">"):
                    self._rx.clear()
                    return ">"
                # stopping: answer "nothing came", so a send in progress ends within one read
                if time.monotonic() >= deadline or self._stop.is_set():
                    return None
                chunk = self._port.serial.read(self._port.serial.in_waiting or 1)
                self._rx += chunk
