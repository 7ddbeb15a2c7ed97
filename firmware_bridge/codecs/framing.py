"""Hunting for frames in a byte stream, for the framed serial protocols without byte stuffing
(YC-BUS, Kerong): the receiving loop both share, the frame rules each protocol's own.

A serial line delivers bytes in arbitrary chunks, with noise, truncated frames and foreign
traffic between them. The parser keeps a partial frame between chunks; a candidate that turns
out not to be a frame costs one byte (counted in `dropped_bytes`), and the hunt goes on at the
next start byte, so nothing stalls it for long. When the line goes quiet (`idle`) a partial
frame will never complete, and is hunted through at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

__all__ = ["HuntingParser"]

F = TypeVar("F")


class HuntingParser(ABC, Generic[F]):
    """Incremental receiver: `feed` it whatever the port returned, get complete good frames.

    A protocol gives its start byte (`START`), how many bytes it needs to tell a frame's size
    (`HEADER`), the size (`_size`, None: not a frame start) and the frame once all its bytes
    are in (`_frame`, None: its check failed; count it there)."""

    START: ClassVar[int]
    HEADER: ClassVar[int]

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes held back as the start of a frame not yet complete."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[F]:
        """Add received bytes; return the frames they completed, oldest first."""
        self._buf += data
        return self._drain(flush=False)

    def idle(self) -> list[F]:
        """The line went quiet: what is buffered will never complete, so hunt through it.

        Without byte stuffing a fake header (a start byte, then a large size) would otherwise
        hold a real frame behind it until enough later bytes arrive; call this after a gap of
        a few character times with `pending` > 0.
        """
        return self._drain(flush=True)

    def reset(self) -> None:
        """Forget any partial frame (after reopening the port)."""
        self._buf.clear()

    @abstractmethod
    def _size(self, buf: bytearray) -> int | None:
        """The size of the frame starting `buf` (at least `HEADER` bytes), or None."""

    @abstractmethod
    def _frame(self, buf: bytearray, size: int) -> F | None:
        """The frame in `buf[:size]`, or None when it fails the protocol's check."""

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self.dropped_bytes += n

    def _drain(self, flush: bool) -> list[F]:
        out: list[F] = []
        buf = self._buf
        while buf:
            start = buf.find(self.START)
            if start < 0:
                self._drop(len(buf))
                break
            if start:
                self._drop(start)
            if len(buf) < self.HEADER:
                if flush:
                    self._drop(1)
                    continue
                break
            size = self._size(buf)
            if size is None:
                self._drop(1)
                continue
            if len(buf) < size:
                if flush:
                    self._drop(1)
                    continue
                break
            frame = self._frame(buf, size)
            if frame is None:
                self._drop(1)
                continue
            out.append(frame)
            del buf[:size]
        return out
