"""Kerong KR-CU16 codec: the exact bytes of every frame, round trips, and garbage that never stalls it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codecs import kerong
from firmware_bridge.codecs.kerong import BoardStatus, Command, Frame, FrameParser, KerongError
from yichuang.errors import YichuangError


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


# --- Byte-for-byte vectors (the same bytes as docs/hardware.md) --------------------------------

VECTORS = [
    # the two frames public KR-CU16 drivers send verbatim (board 0)
    ("read status, board 0", kerong.read_status(0), "02 00 30 03 35"),
    ("unlock lock 0 (door 1), board 0", kerong.unlock(0, 0), "02 00 31 03 36"),
    ("read status, board 1", kerong.read_status(1), "02 10 30 03 45"),
    ("unlock lock 4 (door 5), board 1", kerong.unlock(1, 4), "02 14 31 03 4A"),
    ("unlock lock 15 (door 16), board 15", kerong.unlock(15, 15), "02 FF 31 03 35"),
    ("status, board 1: all shut, all empty", kerong.status_reply(1, 0xFFFF), "02 10 35 FF FF 00 00 03 48"),
    (
        "status, board 1, answering the unlock of door 5: door 5 open",
        kerong.status_reply(1, 0xFFEF, lock=4),
        "02 14 35 EF FF 00 00 03 3C",
    ),
    (
        "status, board 0: doors 1 and 9 open, an item in door 2",
        kerong.status_reply(0, 0xFEFE, occupied=0x0002),
        "02 00 35 FE FE 02 00 03 38",
    ),
]


@pytest.mark.parametrize(("what", "frame", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_frames_are_exactly_the_documented_bytes(what: str, frame: Frame, wire: str) -> None:
    assert frame.encode() == _hex(wire), what
    assert kerong.decode(_hex(wire)) == frame


def test_sum_is_the_low_byte_of_every_preceding_byte() -> None:
    data = _hex("02 14 35 EF FF 00 00 03")
    assert kerong.checksum(data) == (0x02 + 0x14 + 0x35 + 0xEF + 0xFF + 0x03) % 256 == 0x3C


def test_a_status_reply_reads_per_lock_hooks_and_sensors() -> None:
    status = kerong.decode_status(kerong.decode(_hex("02 00 35 FE FE 02 00 03 38")))
    assert status == BoardStatus(board=0, closed=0xFEFE, occupied=0x0002)
    assert status.open_locks() == {0, 8}  # doors 1 and 9
    assert status.is_open(0) and not status.is_open(1) and status.is_open(8)
    assert status.has_item(1) and not status.has_item(0)


def test_the_board_and_lock_share_the_address_byte() -> None:
    frame = kerong.decode(_hex("02 14 31 03 4A"))
    assert (frame.board, frame.lock, frame.command) == (1, 4, Command.UNLOCK)


def test_door_n_is_lock_n_minus_1() -> None:
    assert [kerong.lock_of_door(d) for d in (1, 5, 16)] == [0, 4, 15]
    assert [kerong.door_of_lock(lock) for lock in (0, 4, 15)] == [1, 5, 16]
    for bad in (0, 17, -1):
        with pytest.raises(KerongError, match="door"):
            kerong.lock_of_door(bad)
    with pytest.raises(KerongError):
        kerong.door_of_lock(16)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kerong.read_status(16), "board address 16 outside 0..15"),
        (lambda: kerong.unlock(-1, 0), "board address -1"),
        (lambda: kerong.unlock(0, 16), "lock 16 outside 0..15"),
        (lambda: kerong.status_reply(0, 0x1_0000), "closed mask"),
        (lambda: kerong.status_reply(0, 0, occupied=-1), "occupied mask"),
        (lambda: Frame(0x100, Command.UNLOCK).encode(), "not a byte"),
    ],
)
def test_values_out_of_range_are_refused(call, message: str) -> None:
    with pytest.raises(KerongError, match=message):
        call()


# --- Decoding a whole frame: every way it can be wrong --------------------------------------------

BAD_FRAMES = [
    ("", "at least 5 bytes"),
    ("02 00 30 03", "at least 5 bytes"),
    ("03 00 30 03 36", "not STX"),
    ("02 00 99 03 9E", "unknown command 0x99"),
    ("02 00 33 03 38", "unknown command 0x33"),  # unlock-all exists on the board; we never send it
    ("02 00 30 03 35 00", "frames are 5 bytes, got 6"),
    ("02 10 35 FF FF 00 00 03", "frames are 9 bytes, got 8"),
    ("02 00 30 04 36", "not ETX"),
    ("02 00 30 03 36", "checksum 0x36, expected 0x35"),
    ("02 10 35 FF FF 00 00 03 47", "checksum 0x47, expected 0x48"),
]


@pytest.mark.parametrize(("wire", "message"), BAD_FRAMES, ids=[b[1] for b in BAD_FRAMES])
def test_a_bad_frame_is_refused_with_a_clear_reason(wire: str, message: str) -> None:
    with pytest.raises(KerongError, match=message) as caught:
        kerong.decode(_hex(wire))
    assert isinstance(caught.value, YichuangError) and isinstance(caught.value, ValueError)


def test_only_a_status_frame_decodes_as_a_status() -> None:
    with pytest.raises(KerongError, match="not a status reply"):
        kerong.decode_status(kerong.unlock(0, 1))
    with pytest.raises(KerongError, match="3 data bytes"):
        kerong.decode_status(Frame(0, Command.STATUS, b"\xff\xff\x00"))


# --- Round trips (hypothesis) ------------------------------------------------------------------

boards = st.integers(0, kerong.MAX_BOARD)
locks = st.integers(0, kerong.LOCKS - 1)
masks = st.integers(0, 0xFFFF)


@given(boards, locks)
def test_unlock_round_trips(board: int, lock: int) -> None:
    frame = kerong.decode(kerong.unlock(board, lock).encode())
    assert (frame.board, frame.lock, frame.command) == (board, lock, Command.UNLOCK)


@given(boards, masks, masks, locks)
def test_status_round_trips(board: int, closed: int, occupied: int, lock: int) -> None:
    wire = kerong.status_reply(board, closed, occupied, lock).encode()
    assert len(wire) == 9
    assert kerong.decode_status(kerong.decode(wire)) == BoardStatus(board, closed, occupied)


# --- The incremental parser ---------------------------------------------------------------------


def test_the_parser_splits_back_to_back_frames_and_waits_for_the_rest() -> None:
    parser = FrameParser()
    wire = kerong.read_status(1).encode() + kerong.status_reply(1, 0xFFEF).encode()
    assert parser.feed(wire[:7]) == [kerong.read_status(1)]
    assert parser.pending == 2
    assert parser.feed(wire[7:]) == [kerong.status_reply(1, 0xFFEF)]
    assert parser.pending == 0


def test_the_parser_drops_a_bad_sum_and_finds_the_next_frame() -> None:
    parser = FrameParser()
    bad = bytearray(kerong.status_reply(0, 0xFFFF).encode())
    bad[4] ^= 0xFF
    good = kerong.unlock(2, 3).encode()
    assert parser.feed(bytes(bad) + good) == [kerong.unlock(2, 3)]
    assert parser.checksum_errors == 1


def test_a_stray_header_does_not_hide_a_frame_once_the_line_is_quiet() -> None:
    parser = FrameParser()
    # STX then 0x35: the parser waits for 9 bytes, which a short frame after it cannot fill
    assert parser.feed(_hex("02 00 35") + kerong.read_status(0).encode()[:4]) == []
    parser.reset()
    assert parser.feed(_hex("02 00 35") + kerong.read_status(0).encode()) == []
    assert parser.idle() == [kerong.read_status(0)]
    assert parser.pending == 0


@given(st.binary(max_size=400))
def test_garbage_never_crashes_the_parser_and_is_eventually_flushed(junk: bytes) -> None:
    parser = FrameParser()
    for frame in parser.feed(junk) + parser.idle():
        # whatever it does return is a well-formed frame that encodes to real bytes
        assert kerong.decode(frame.encode()) == frame
    assert parser.pending == 0


@given(
    st.binary(max_size=60), st.binary(max_size=60), boards, masks, st.lists(st.integers(1, 9), max_size=12)
)
def test_a_frame_between_garbage_is_found_whatever_the_chunking(
    before: bytes, after: bytes, board: int, closed: int, cuts: list[int]
) -> None:
    frame = kerong.status_reply(board, closed)
    # garbage that contains no STX cannot start a false frame that swallows ours
    wire = before.replace(b"\x02", b"") + frame.encode() + after
    parser = FrameParser()
    got: list[Frame] = []
    rest = wire
    for cut in cuts:
        got += parser.feed(rest[:cut])
        rest = rest[cut:]
    got += parser.feed(rest) + parser.idle()
    assert frame in got


@given(st.binary(min_size=1, max_size=9))
def test_decode_of_any_bytes_is_a_frame_or_a_kerong_error(data: bytes) -> None:
    try:
        frame = kerong.decode(data)
    except KerongError:
        return
    assert frame.encode() == data
