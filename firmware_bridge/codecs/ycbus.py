"""YC-BUS v1: the framing of caller keypads, evaluation pads and LED panels on RS-485.

Frame: ``0x7E | addr | seq | type | len | payload[len] | crc_lo | crc_hi`` with a
CRC-16/MODBUS over ``addr..payload``. There is no byte stuffing: a receiver hunts for 0x7E,
checks the length and the CRC, and on a bad candidate drops ONE byte and hunts again.
Everything here is pure (no I/O, no clock); docs/hardware.md is the technicians' version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from firmware_bridge.codecs.framing import HuntingParser
from yichuang.errors import YichuangError

__all__ = [
    "BAUDRATE",
    "BROADCAST",
    "MAX_PAYLOAD",
    "MAX_RETRANSMITS",
    "MAX_TEXT_BYTES",
    "POLL_INTERVAL_S",
    "REPLY_TIMEOUT_S",
    "SOF",
    "CodecError",
    "DeviceInfo",
    "DisplayText",
    "EventDeduplicator",
    "Frame",
    "FrameParser",
    "FrameType",
    "Key",
    "KeyEvent",
    "NakReason",
    "ReplyCache",
    "ack",
    "ack_event",
    "beep",
    "crc16_modbus",
    "decode_ack_event",
    "decode_beep",
    "decode_display",
    "decode_event",
    "decode_info",
    "decode_lamps",
    "decode_nak",
    "event",
    "get_info",
    "idle",
    "info",
    "is_reply_to",
    "nak",
    "next_event_no",
    "poll",
    "set_display",
    "set_lamps",
    "truncate_utf8",
]

SOF = 0x7E
BROADCAST = 0
MAX_ADDR = 247
MAX_PAYLOAD = 200
MAX_TEXT_BYTES = 64
MAX_MODEL = 16
MAX_VERSION = 8
_HEADER = 5  # SOF addr seq type len
_OVERHEAD = _HEADER + 2

# Timing the bridge should use on a real line (docs/hardware.md, "Timing").
BAUDRATE = 115200
REPLY_TIMEOUT_S = 0.020
MAX_RETRANSMITS = 2
POLL_INTERVAL_S = 0.100


class CodecError(YichuangError, ValueError):
    """A value out of range, or a frame whose payload does not decode.

    `reason` is what a device answers in its NAK when the frame came off the bus.
    """

    def __init__(self, message: str, reason: NakReason | None = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else NakReason.BAD_PAYLOAD


class FrameType(IntEnum):
    """The `type` byte: master->device below 0x7F, device->master 0x7F and above."""

    POLL = 0x01
    ACK_EVENT = 0x02
    SET_DISPLAY = 0x03
    SET_LAMPS = 0x04
    GET_INFO = 0x05
    BEEP = 0x06
    NAK = 0x7F
    ACK = 0x80
    IDLE = 0x81
    EVENT = 0x82
    INFO = 0x85


REPLY_TYPES = frozenset({FrameType.NAK, FrameType.ACK, FrameType.IDLE, FrameType.EVENT, FrameType.INFO})


class Key(IntEnum):
    """Key codes carried in EVENT frames."""

    CALL_NEXT = 0x01
    RECALL = 0x02
    START = 0x03
    FINISH = 0x04
    NO_SHOW = 0x05
    PAUSE_RESUME = 0x06
    TRANSFER = 0x07  # arg = service digit 1-9
    PARK = 0x08
    SCORE = 0x10  # arg = 1-5, 5 = 非常满意


class NakReason(IntEnum):
    """The payload byte of a NAK."""

    BAD_LENGTH = 1
    UNKNOWN_TYPE = 2
    BAD_PAYLOAD = 3


@dataclass(frozen=True)
class KeyEvent:
    """One key press as queued by a device: `event_no` 1-255, `arg` 0 unless the key takes one."""

    event_no: int
    key: Key
    arg: int = 0


@dataclass(frozen=True)
class DeviceInfo:
    """The reply to GET_INFO."""

    model: str
    version: str


@dataclass(frozen=True)
class DisplayText:
    """The content of a SET_DISPLAY: which line and its text."""

    line: int
    text: str


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_CRC_TABLE = _table()


def crc16_modbus(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS (reflected poly 0xA001, init 0xFFFF): b"123456789" -> 0x4B37."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def _check(name: str, value: int, low: int, high: int, reason: NakReason = NakReason.BAD_PAYLOAD) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise CodecError(f"{name}={value!r} outside {low}..{high}", reason)
    return value


@dataclass(frozen=True)
class Frame:
    """One YC-BUS frame. `type` is a `FrameType` when known, else the raw int (devices NAK it)."""

    addr: int
    seq: int
    type: int
    payload: bytes = b""

    def __post_init__(self) -> None:
        _check("addr", self.addr, 0, MAX_ADDR)
        _check("seq", self.seq, 0, 255)
        _check("type", self.type, 0, 255)
        if len(self.payload) > MAX_PAYLOAD:
            raise CodecError(f"payload of {len(self.payload)} bytes > {MAX_PAYLOAD}", NakReason.BAD_LENGTH)
        # Normalise so that frames compare equal however they were built, and repr reads well.
        object.__setattr__(self, "payload", bytes(self.payload))
        if self.type in FrameType._value2member_map_:
            object.__setattr__(self, "type", FrameType(self.type))

    def encode(self) -> bytes:
        """The bytes on the wire, SOF and CRC included."""
        body = bytes((self.addr, self.seq, self.type, len(self.payload))) + self.payload
        return bytes((SOF,)) + body + crc16_modbus(body).to_bytes(2, "little")

    @classmethod
    def decode(cls, data: bytes) -> Frame:
        """Exactly one frame, nothing before or after it; CodecError otherwise."""
        if len(data) < _OVERHEAD or data[0] != SOF or len(data) != _OVERHEAD + data[4]:
            raise CodecError(f"not one frame: {data.hex(' ')}", NakReason.BAD_LENGTH)
        if crc16_modbus(data[1:-2]) != int.from_bytes(data[-2:], "little"):
            raise CodecError(f"bad CRC: {data.hex(' ')}")
        return cls(data[1], data[2], data[3], data[_HEADER:-2])


class FrameParser(HuntingParser[Frame]):
    """Incremental receiver: feed it whatever the port returned, get complete good frames.

    It keeps a partial frame between calls. A candidate with len > 200, an address above
    247 or a bad CRC costs one byte (counted in `dropped_bytes`, CRC failures also in
    `crc_errors`), so garbage, truncation and foreign traffic never stall it for long.
    """

    START = SOF
    HEADER = _HEADER

    def __init__(self) -> None:
        super().__init__()
        self.crc_errors = 0
        self.frames = 0

    def _size(self, buf: bytearray) -> int | None:
        if buf[4] > MAX_PAYLOAD or buf[1] > MAX_ADDR:
            return None
        return _OVERHEAD + buf[4]

    def _frame(self, buf: bytearray, size: int) -> Frame | None:
        if crc16_modbus(buf[1 : size - 2]) != buf[size - 2] | buf[size - 1] << 8:
            self.crc_errors += 1
            return None
        self.frames += 1
        return Frame(buf[1], buf[2], buf[3], bytes(buf[_HEADER : size - 2]))


# --- Master -> device ---------------------------------------------------------------------


def _unicast(addr: int) -> int:
    return _check("addr (a command that needs a reply)", addr, 1, MAX_ADDR)


def poll(addr: int, seq: int) -> Frame:
    """POLL: "anything pressed?" Answered by EVENT (oldest unacknowledged) or IDLE."""
    return Frame(_unicast(addr), seq, FrameType.POLL)


def ack_event(addr: int, seq: int, event_no: int) -> Frame:
    """ACK_EVENT: the master has taken `event_no`; the device drops it from its queue."""
    return Frame(_unicast(addr), seq, FrameType.ACK_EVENT, bytes((_check("event_no", event_no, 1, 255),)))


def truncate_utf8(text: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """UTF-8 of `text`, cut to at most `limit` bytes without splitting a character."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CodecError(f"text is not encodable as UTF-8: {exc}") from exc
    if len(data) <= limit:
        return data
    # "ignore" only drops the trailing partial sequence: the input was valid UTF-8.
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")


def set_display(addr: int, seq: int, line: int, text: str) -> Frame:
    """SET_DISPLAY: show `text` (UTF-8, truncated to 64 bytes) on display line `line`."""
    return Frame(
        addr, seq, FrameType.SET_DISPLAY, bytes((_check("line", line, 0, 255),)) + truncate_utf8(text)
    )


def set_lamps(addr: int, seq: int, lit: bool) -> Frame:
    """SET_LAMPS: evaluation pad keys lit (asking for a score) or dark."""
    return Frame(addr, seq, FrameType.SET_LAMPS, b"\x01" if lit else b"\x00")


def get_info(addr: int, seq: int) -> Frame:
    """GET_INFO: answered by INFO (model, firmware version)."""
    return Frame(_unicast(addr), seq, FrameType.GET_INFO)


def beep(addr: int, seq: int, ms: int) -> Frame:
    """BEEP for `ms` milliseconds (0-2550), sent in 10 ms units rounded down."""
    return Frame(addr, seq, FrameType.BEEP, bytes((_check("ms", ms, 0, 2550) // 10,)))


# --- Device -> master ---------------------------------------------------------------------


def ack(addr: int, seq: int) -> Frame:
    """ACK: the command was applied."""
    return Frame(_unicast(addr), seq, FrameType.ACK)


def idle(addr: int, seq: int) -> Frame:
    """IDLE: reply to POLL when no event is pending."""
    return Frame(_unicast(addr), seq, FrameType.IDLE)


def _check_arg(key: Key, arg: int) -> int:
    if key is Key.TRANSFER:
        return _check("TRANSFER arg (service digit)", arg, 1, 9)
    if key is Key.SCORE:
        return _check("SCORE arg", arg, 1, 5)
    return _check("arg", arg, 0, 255)


def _key(value: int) -> Key:
    try:
        return Key(value)
    except ValueError:
        raise CodecError(f"unknown key 0x{value:02x}") from None


def event(addr: int, seq: int, event_no: int, key: int, arg: int = 0) -> Frame:
    """EVENT: a key press, the oldest one not yet acknowledged."""
    k = _key(key)
    body = bytes((_check("event_no", event_no, 1, 255), k, _check_arg(k, arg)))
    return Frame(_unicast(addr), seq, FrameType.EVENT, body)


def _ascii(name: str, text: str, limit: int) -> bytes:
    if not text.isascii() or "\x00" in text or len(text) > limit:
        raise CodecError(f"{name} {text!r} must be ASCII without NUL, at most {limit} characters")
    return text.encode("ascii")


def info(addr: int, seq: int, model: str, version: str) -> Frame:
    """INFO: model (ASCII ≤ 16), 0x00, firmware version (ASCII ≤ 8)."""
    payload = _ascii("model", model, MAX_MODEL) + b"\x00" + _ascii("version", version, MAX_VERSION)
    return Frame(_unicast(addr), seq, FrameType.INFO, payload)


def nak(addr: int, seq: int, reason: NakReason) -> Frame:
    """NAK: the command was refused for `reason`."""
    return Frame(_unicast(addr), seq, FrameType.NAK, bytes((NakReason(reason),)))


def next_event_no(event_no: int) -> int:
    """The event number after `event_no`: 1..255, wrapping 255 -> 1 (0 is never used)."""
    return event_no % 255 + 1


def is_reply_to(reply: Frame, request: Frame) -> bool:
    """Whether `reply` answers `request`: same address and seq, a device->master type."""
    return reply.addr == request.addr and reply.seq == request.seq and reply.type in REPLY_TYPES


# --- Decoders: CodecError.reason is what a device NAKs with --------------------------------


def _expect(frame: Frame, kind: FrameType, sizes: range) -> bytes:
    if frame.type != kind:
        raise CodecError(f"expected {kind.name}, got type 0x{frame.type:02x}", NakReason.UNKNOWN_TYPE)
    if len(frame.payload) not in sizes:
        raise CodecError(f"{kind.name} payload of {len(frame.payload)} bytes", NakReason.BAD_LENGTH)
    return frame.payload


def decode_ack_event(frame: Frame) -> int:
    """The event_no an ACK_EVENT acknowledges."""
    return _check("event_no", _expect(frame, FrameType.ACK_EVENT, range(1, 2))[0], 1, 255)


def decode_display(frame: Frame) -> DisplayText:
    """Line and text of a SET_DISPLAY."""
    payload = _expect(frame, FrameType.SET_DISPLAY, range(1, MAX_TEXT_BYTES + 2))
    try:
        text = payload[1:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"display text is not UTF-8: {exc}") from exc
    return DisplayText(payload[0], text)


def decode_lamps(frame: Frame) -> bool:
    """Whether a SET_LAMPS lights the keys."""
    return bool(_check("lamps", _expect(frame, FrameType.SET_LAMPS, range(1, 2))[0], 0, 1))


def decode_beep(frame: Frame) -> int:
    """Duration of a BEEP in milliseconds."""
    return _expect(frame, FrameType.BEEP, range(1, 2))[0] * 10


def decode_event(frame: Frame) -> KeyEvent:
    """The key press in an EVENT. On CodecError the bridge can still ACK `frame.payload[0]`."""
    event_no, key, arg = _expect(frame, FrameType.EVENT, range(3, 4))
    k = _key(key)
    return KeyEvent(_check("event_no", event_no, 1, 255), k, _check_arg(k, arg))


def decode_info(frame: Frame) -> DeviceInfo:
    """Model and firmware version from an INFO."""
    payload = _expect(frame, FrameType.INFO, range(1, MAX_MODEL + MAX_VERSION + 2))
    model, sep, version = payload.partition(b"\x00")
    if not sep or len(model) > MAX_MODEL or len(version) > MAX_VERSION or b"\x00" in version:
        raise CodecError(f"malformed INFO payload {payload.hex(' ')}")
    if not model.isascii() or not version.isascii():
        raise CodecError("INFO model and version must be ASCII")
    return DeviceInfo(model.decode("ascii"), version.decode("ascii"))


def decode_nak(frame: Frame) -> NakReason:
    """Why the device refused a command."""
    reason = _expect(frame, FrameType.NAK, range(1, 2))[0]
    try:
        return NakReason(reason)
    except ValueError:
        raise CodecError(f"unknown NAK reason {reason}") from None


# --- Link-layer state shared by master and device -----------------------------------------


class EventDeduplicator:
    """Master side: exactly-once key presses over a lossy line.

    A device resends its oldest unacknowledged event until ACK_EVENT reaches it, so the only
    repeat the master can see is the event it accepted last from that address.
    """

    def __init__(self) -> None:
        self._last: dict[int, int] = {}

    def accept(self, addr: int, event_no: int) -> bool:
        """True for a new press (now remembered), False for a retransmission (ACK it again)."""
        if self._last.get(addr) == event_no:
            return False
        self._last[addr] = event_no
        return True

    def last(self, addr: int) -> int | None:
        """The event_no accepted last from `addr`, if any."""
        return self._last.get(addr)

    def forget(self, addr: int) -> None:
        """Drop the memory for `addr`: call it when the device was offline or rebooted, whose
        numbering restarts at 1 and would otherwise look like a retransmission."""
        self._last.pop(addr, None)


class ReplyCache:
    """Device side: a retransmitted command (same seq, identical bytes) gets the same reply
    without being applied twice. Only the last unicast command is remembered."""

    def __init__(self) -> None:
        self._request: bytes | None = None
        self._reply: Frame | None = None

    def get(self, request: Frame) -> Frame | None:
        """The cached reply if `request` repeats the previous command byte for byte."""
        if self._request is not None and request.encode() == self._request:
            return self._reply
        return None

    def put(self, request: Frame, reply: Frame) -> None:
        """Remember `reply` as the answer to `request`."""
        self._request = request.encode()
        self._reply = reply

    def clear(self) -> None:
        """Forget everything (device reboot)."""
        self._request = None
        self._reply = None
