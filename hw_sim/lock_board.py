"""Simulated Kerong KR-CU16 lock boards on a simulated RS-485 line (the file locker's locks).

A `SimLockLine` owns one port (a pty pair or a ``socket://`` listener, `hw_sim.pty_port`) and
plays every board on it: it parses the host's frames with the codec the bridge uses
(`firmware_bridge.codecs.kerong`), hands each to the board whose address is in the frame's
high nibble and writes the reply back, faults included. A `SimLockBoard` is a board's 16
locks as a citizen meets them: an unlock pulse lets a door spring open and it reads open until
someone pushes it shut (`close(door)`); a jammed lock takes the pulse and stays shut. Tests
drive it from any thread and read what the host sent (`received`, `unlocks`).

Doors are numbered as on the board's connectors and in `[[locker]]`: door N is lock N-1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import ClassVar, Self

from firmware_bridge.codecs import kerong
from firmware_bridge.codecs.kerong import Command, Frame, FrameParser
from hw_sim.pty_port import PtyPort, SimPort, TcpPort
from hw_sim.sim_line import FramedSimLine, ReplyFaults

__all__ = ["SimLockBoard", "SimLockLine"]


class SimLockBoard:
    """One KR-CU16: `locks` wired locks (1-16), their hooks, IR sensors and faults. Thread-safe.

    Every door starts shut and empty. Channels beyond `locks` have no switch wired and read
    open, as an unconnected input does.
    """

    model: ClassVar[str] = "KR-CU16"

    def __init__(self, address: int, locks: int = kerong.LOCKS) -> None:
        kerong.address(address)  # 0-15, or KerongError (a ValueError)
        if not 1 <= locks <= kerong.LOCKS:
            raise ValueError(f"a KR-CU16 has 1..{kerong.LOCKS} locks, not {locks}")
        self.address = address
        self.locks = locks
        self._cond = threading.Condition()
        self._closed = (1 << locks) - 1  # bit i: lock i latched
        self._occupied = 0
        self._jammed = 0
        self._plugged = True
        self._received: list[Frame] = []
        self._unlocks: list[int] = []
        # any single changed byte changes the sum (x ^ 0xFF - x = 255 - 2x is odd): the first
        # hook byte, inside the frame
        self._faults = ReplyFaults(lambda reply: 3)

    # --- what a citizen or a technician does ------------------------------------------------

    def close(self, door: int) -> None:
        """Push door `door` shut: its lock latches again (the hook reads closed)."""
        lock = self._wired(door)
        with self._cond:
            self._closed |= 1 << lock
            self._cond.notify_all()

    def force_open(self, door: int) -> None:
        """Open a door without an unlock (a key, or a crowbar): the hook reads open."""
        lock = self._wired(door)
        with self._cond:
            self._closed &= ~(1 << lock)
            self._cond.notify_all()

    def jam(self, door: int, jammed: bool = True) -> None:
        """A jammed lock takes its unlock pulse (and the board still answers) but stays shut."""
        lock = self._wired(door)
        with self._cond:
            self._jammed = self._jammed | 1 << lock if jammed else self._jammed & ~(1 << lock)

    def put_item(self, door: int, present: bool = True) -> None:
        """Something lies in the box (its IR sensor sees it), or not."""
        lock = self._wired(door)
        with self._cond:
            self._occupied = self._occupied | 1 << lock if present else self._occupied & ~(1 << lock)

    def _wired(self, door: int) -> int:
        lock = kerong.lock_of_door(door)
        if lock >= self.locks:
            raise ValueError(f"door {door} has no lock on this {self.locks}-lock board")
        return lock

    # --- what the test reads ----------------------------------------------------------------

    def is_open(self, door: int) -> bool:
        """Whether door `door` reads open now."""
        lock = kerong.lock_of_door(door)
        with self._cond:
            return not self._closed >> lock & 1

    @property
    def open_doors(self) -> frozenset[int]:
        """The doors that read open now."""
        with self._cond:
            return frozenset(lock + 1 for lock in range(self.locks) if not self._closed >> lock & 1)

    @property
    def received(self) -> tuple[Frame, ...]:
        """Every good frame heard for this board while plugged in, retransmissions included."""
        with self._cond:
            return tuple(self._received)

    @property
    def unlocks(self) -> tuple[int, ...]:
        """The locks (0-15) pulsed, in order: door N is lock N-1."""
        with self._cond:
            return tuple(self._unlocks)

    def status(self) -> kerong.BoardStatus:
        """What a READ_STATUS would answer now."""
        with self._cond:
            return kerong.BoardStatus(self.address, self._closed, self._occupied)

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 2.0) -> bool:
        """Block until `predicate(self)` holds (re-checked after every frame and every door change)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    # --- faults -----------------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        with self._cond:
            return self._plugged

    def unplug(self) -> None:
        """Power off / cable out: the board hears and answers nothing; doors stay as they are."""
        with self._cond:
            self._plugged = False

    def replug(self) -> None:
        with self._cond:
            self._plugged = True

    def drop_replies(self, n: int = 1) -> None:
        """Carry out the next `n` commands but lose their replies."""
        self._faults.drop_replies(n)

    def garble_next(self, n: int = 1) -> None:
        """Flip one byte in each of the next `n` replies (a checksum error at the host)."""
        self._faults.garble_next(n)

    def delay_replies(self, seconds: float) -> None:
        """Send every reply `seconds` late (0 to stop)."""
        self._faults.delay_replies(seconds)

    # --- the protocol -----------------------------------------------------------------------

    def handle(self, frame: Frame) -> tuple[bytes | None, float]:
        """The bytes to answer `frame` with (None: silence) and how long to hold them back."""
        with self._cond:
            if not self._plugged:
                return None, 0.0
            self._received.append(frame)
            try:
                if frame.command == Command.UNLOCK:
                    self._unlocks.append(frame.lock)
                    if frame.lock < self.locks and not self._jammed >> frame.lock & 1:
                        self._closed &= ~(1 << frame.lock)
                elif frame.command != Command.READ_STATUS:
                    return None, 0.0  # a command this board does not know: no answer
                reply = kerong.status_reply(self.address, self._closed, self._occupied, frame.lock).encode()
                return self._faults.apply(reply)
            finally:
                self._cond.notify_all()


class SimLockLine(FramedSimLine[Frame]):
    """One RS-485 line of lock boards, served from a background thread.

    Build it with `SimLockLine.pty(...)` or `SimLockLine.tcp(...)`, give `url` to the bridge
    and `start()`/`stop()` it (or use it as a context manager). The serving itself, line
    faults included, is `hw_sim.sim_line.FramedSimLine`'s.
    """

    NAME = "simlocks"
    _parser: FrameParser

    def __init__(self, port: SimPort, boards: Iterable[SimLockBoard] = ()) -> None:
        super().__init__(port, FrameParser())
        self._boards: dict[int, SimLockBoard] = {}
        for board in boards:
            self.add(board)

    @classmethod
    def pty(cls, *boards: SimLockBoard, link: str | os.PathLike[str] | None = None) -> Self:
        """A line on a pty pair; the bridge opens `url` (the slave, or `link` when given)."""
        return cls(PtyPort(link), boards)

    @classmethod
    def tcp(cls, *boards: SimLockBoard, port: int = 0) -> Self:
        """A line behind ``socket://127.0.0.1:PORT`` (`port=0` picks a free one)."""
        return cls(TcpPort(port), boards)

    @property
    def boards(self) -> tuple[SimLockBoard, ...]:
        return tuple(self._boards.values())

    def board(self, address: int) -> SimLockBoard:
        """The board at `address` (KeyError if none)."""
        return self._boards[address]

    def add(self, board: SimLockBoard) -> SimLockBoard:
        """Put a board on the line; addresses are unique per line, as on a real bus."""
        if board.address in self._boards:
            raise ValueError(f"address {board.address} already used on this line")
        self._boards[board.address] = board
        return board

    @property
    def checksum_errors(self) -> int:
        """Frames from the host whose SUM was wrong."""
        return self._parser.checksum_errors

    def _dispatch(self, frame: Frame) -> None:
        if frame.command == Command.STATUS:
            return  # another board's reply (or our own echo): not for a board to answer
        board = self._boards.get(frame.board)
        if board is None:
            return
        data, delay = board.handle(frame)
        if data is not None:
            self._reply(data, delay)
