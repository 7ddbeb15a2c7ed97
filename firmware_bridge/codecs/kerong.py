"""Kerong KR-CU16 lock control board: the RS-485 protocol of the file locker's locks.

A KR-CU16 drives 16 solenoid locks and reads back, per lock, the hook switch (the lock is
latched: its door is shut) and an optional infrared sensor (something lies in the box). The
host is the only master; a board speaks only when asked. Every frame is

    STX 0x02 | ADDR | CMD | [data] | ETX 0x03 | SUM

where SUM is the sum of every preceding byte (STX included) & 0xFF, and ADDR carries the
board's address (DIP switches, 0-15) in its high nibble and the lock (0-15) in its low nibble.
There is no length byte: the command byte fixes the frame's size.

| CMD | direction | size | meaning |
|---|---|---|---|
| 0x30 | host -> board | 5 | read the status of all 16 locks (lock nibble 0) |
| 0x31 | host -> board | 5 | unlock (pulse) the lock in the low nibble |
| 0x35 | board -> host | 9 | status: hooks 1-8, hooks 9-16, IR 1-8, IR 9-16; answers both |

Bit i of the first hook byte is lock i (channel i+1), bit i of the second lock i+8; a set hook
bit means latched (door shut), a clear one open. The same layout holds for the IR bytes (set:
occupied). Public sources for the bytes: github.com/jin0949/KR-CU16_locker (`src/locker.py`:
status `02 00 30 03 35`, unlock `02 <lock-1> 31 03 SUM`, a 9-byte 0x35 reply whose bytes 3-4
are the hooks, 1 = locked), and the Kerong CU12/CU16 drivers that put the board address in the
high nibble (`(address & 0xF0) | (lock - 1)`) and read bytes 5-6 as the IR sensors.

Pure: no I/O, no clock. docs/hardware.md ("Lock board") is the technicians' version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from firmware_bridge.codecs.framing import HuntingParser
from yichuang.errors import YichuangError

__all__ = [
    "BAUDRATE",
    "ETX",
    "LOCKS",
    "MAX_BOARD",
    "OPEN_CONFIRM_S",
    "POLL_INTERVAL_S",
    "REPLY_TIMEOUT_S",
    "STX",
    "UNLOCK_ATTEMPTS",
    "BoardStatus",
    "Command",
    "Frame",
    "FrameParser",
    "KerongError",
    "address",
    "checksum",
    "decode",
    "decode_status",
    "door_of_lock",
    "lock_of_door",
    "read_status",
    "status_reply",
    "unlock",
]

STX = 0x02
ETX = 0x03
LOCKS = 16  # per board
MAX_BOARD = 15  # the address is one nibble

# Line settings and timing (docs/hardware.md, "Lock board"): the board's factory default is
# 19200 8N1; public drivers give it 100 ms to answer, far more than the ~5 ms of wire a
# command and its 9-byte reply take at 19200.
BAUDRATE = 19200
REPLY_TIMEOUT_S = 0.1
POLL_INTERVAL_S = 0.5
UNLOCK_ATTEMPTS = 3  # an unlock without a reply is sent again, at most this many times in all
OPEN_CONFIRM_S = 2.0  # a door that does not read open this long after its unlock has failed


class Command(IntEnum):
    """The CMD byte of the frames this codec speaks."""

    READ_STATUS = 0x30
    UNLOCK = 0x31
    STATUS = 0x35  # the board's reply to both commands above


# The frame size each command byte implies (there is no length field).
_SIZES: dict[int, int] = {Command.READ_STATUS: 5, Command.UNLOCK: 5, Command.STATUS: 9}
_MIN_SIZE = 5


class KerongError(YichuangError, ValueError):
    """A frame that is not a good Kerong frame, or a value out of range for one."""


def checksum(data: bytes | bytearray) -> int:
    """SUM: the low byte of the sum of `data`."""
    return sum(data) & 0xFF


def address(board: int, lock: int = 0) -> int:
    """The ADDR byte: `board` (0-15) in the high nibble, `lock` (0-15) in the low one."""
    if not 0 <= board <= MAX_BOARD:
        raise KerongError(f"board address {board} outside 0..{MAX_BOARD}")
    if not 0 <= lock < LOCKS:
        raise KerongError(f"lock {lock} outside 0..{LOCKS - 1}")
    return board << 4 | lock


def lock_of_door(door: int) -> int:
    """The lock (0-15) behind a locker door: door N is channel N, lock N-1, on its board."""
    if not 1 <= door <= LOCKS:
        raise KerongError(f"door {door} is not on a {LOCKS}-lock board (1..{LOCKS})")
    return door - 1


def door_of_lock(lock: int) -> int:
    """The locker door (1-16) a lock (0-15) opens."""
    if not 0 <= lock < LOCKS:
        raise KerongError(f"lock {lock} outside 0..{LOCKS - 1}")
    return lock + 1


@dataclass(frozen=True)
class Frame:
    """One frame of either direction; `data` is empty except in a STATUS reply (4 bytes)."""

    addr: int
    command: int
    data: bytes = b""

    @property
    def board(self) -> int:
        return self.addr >> 4

    @property
    def lock(self) -> int:
        return self.addr & 0x0F

    def encode(self) -> bytes:
        if not 0 <= self.addr <= 0xFF or not 0 <= self.command <= 0xFF:
            raise KerongError(f"address {self.addr} or command {self.command} is not a byte")
        body = bytes((STX, self.addr, self.command)) + self.data + bytes((ETX,))
        return body + bytes((checksum(body),))


def read_status(board: int) -> Frame:
    """Ask a board for the hooks and sensors of all its locks."""
    return Frame(address(board), Command.READ_STATUS)


def unlock(board: int, lock: int) -> Frame:
    """Pulse one lock open; the board answers with its status."""
    return Frame(address(board, lock), Command.UNLOCK)


def status_reply(board: int, closed: int, occupied: int = 0, lock: int = 0) -> Frame:
    """A board's STATUS: `closed`/`occupied` are 16-bit masks, bit i = lock i.

    `lock` is the low nibble of the command being answered (a board echoes its ADDR byte).
    """
    for name, mask in (("closed", closed), ("occupied", occupied)):
        if not 0 <= mask <= 0xFFFF:
            raise KerongError(f"{name} mask {mask:#x} is not 16 bits")
    data = bytes((closed & 0xFF, closed >> 8, occupied & 0xFF, occupied >> 8))
    return Frame(address(board, lock), Command.STATUS, data)


@dataclass(frozen=True)
class BoardStatus:
    """What a STATUS reply says: bit i of `closed` set = lock i latched, of `occupied` = IR sees an item."""

    board: int
    closed: int
    occupied: int = 0

    def is_open(self, lock: int) -> bool:
        """The door of `lock` is not latched (open, or pushed to but not shut)."""
        return not self.closed >> lock & 1

    def has_item(self, lock: int) -> bool:
        return bool(self.occupied >> lock & 1)

    def open_locks(self) -> frozenset[int]:
        return frozenset(lock for lock in range(LOCKS) if self.is_open(lock))


def decode_status(frame: Frame) -> BoardStatus:
    """The status a STATUS frame carries (KerongError for any other frame)."""
    if frame.command != Command.STATUS or len(frame.data) != 4:
        raise KerongError(f"not a status reply: command {frame.command:#04x}, {len(frame.data)} data bytes")
    d = frame.data
    return BoardStatus(frame.board, d[0] | d[1] << 8, d[2] | d[3] << 8)


def decode(data: bytes) -> Frame:
    """Exactly one whole frame, checked: STX, a known command, its size, ETX, SUM."""
    if len(data) < _MIN_SIZE:
        raise KerongError(f"a frame is at least {_MIN_SIZE} bytes, got {len(data)}")
    if data[0] != STX:
        raise KerongError(f"frame starts with {data[0]:#04x}, not STX 0x02")
    size = _SIZES.get(data[2])
    if size is None:
        raise KerongError(f"unknown command {data[2]:#04x}")
    if len(data) != size:
        raise KerongError(f"command {data[2]:#04x} frames are {size} bytes, got {len(data)}")
    if data[-2] != ETX:
        raise KerongError(f"byte {size - 2} is {data[-2]:#04x}, not ETX 0x03")
    if checksum(data[:-1]) != data[-1]:
        raise KerongError(f"checksum {data[-1]:#04x}, expected {checksum(data[:-1]):#04x}")
    return Frame(data[1], data[2], bytes(data[3:-2]))


class FrameParser(HuntingParser[Frame]):
    """Incremental receiver for either side of the line: feed it bytes, get good frames.

    It hunts for STX, reads the size off the command byte and checks ETX and SUM; a candidate
    that fails costs one byte (`dropped_bytes`; bad sums also count in `checksum_errors`),
    so noise, truncation and unknown commands never stall it.
    """

    START = STX
    HEADER = 3  # STX, address, command: the command byte gives the size

    def __init__(self) -> None:
        super().__init__()
        self.checksum_errors = 0

    def _size(self, buf: bytearray) -> int | None:
        return _SIZES.get(buf[2])

    def _frame(self, buf: bytearray, size: int) -> Frame | None:
        if buf[size - 2] != ETX:
            return None
        if checksum(buf[: size - 1]) != buf[size - 1]:
            self.checksum_errors += 1
            return None
        return Frame(buf[1], buf[2], bytes(buf[3 : size - 2]))
