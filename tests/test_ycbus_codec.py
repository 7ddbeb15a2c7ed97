"""YC-BUS v1 codec: exact bytes of every frame, round trips, and a parser garbage cannot stall."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.codecs import ycbus
from firmware_bridge.codecs.ycbus import (
    CodecError,
    DeviceInfo,
    DisplayText,
    EventDeduplicator,
    Frame,
    FrameParser,
    FrameType,
    Key,
    KeyEvent,
    NakReason,
    ReplyCache,
)
from yichuang.errors import YichuangError


def _bitwise_crc(data: bytes) -> int:
    """The textbook bit-at-a-time CRC-16/MODBUS, to check the table-driven one against."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


# --- CRC --------------------------------------------------------------------------------------


def test_crc16_modbus_check_value() -> None:
    assert ycbus.crc16_modbus(b"123456789") == 0x4B37


def test_crc16_modbus_matches_the_classic_modbus_read_request() -> None:
    # Modbus RTU "read 10 holding registers from slave 1" is 01 03 00 00 00 0A C5 CD on the wire.
    assert ycbus.crc16_modbus(_hex("01 03 00 00 00 0A")).to_bytes(2, "little") == _hex("C5 CD")


@given(st.binary(max_size=300))
def test_crc16_table_agrees_with_bitwise_reference(data: bytes) -> None:
    assert ycbus.crc16_modbus(data) == _bitwise_crc(data)


# --- Byte-for-byte vectors (the same bytes as docs/hardware.md) --------------------------------

VECTORS: list[tuple[str, Frame, str]] = [
    ("poll", ycbus.poll(1, 0x10), "7E 01 10 01 00 01 8D"),
    ("ack_event", ycbus.ack_event(1, 0x11, 5), "7E 01 11 02 01 05 7C AF"),
    ("caller line 0", ycbus.set_display(1, 0x12, 0, "A012"), "7E 01 12 03 05 00 41 30 31 32 34 96"),
    (
        "caller line 1 (Chinese)",
        ycbus.set_display(1, 0x13, 1, "等候 12"),
        "7E 01 13 03 0A 01 E7 AD 89 E5 80 99 20 31 32 74 AF",
    ),
    (
        "led panel line 0",
        ycbus.set_display(31, 0x14, 0, "A012 请到3号窗口"),
        "7E 1F 14 03 16 00 41 30 31 32 20 E8 AF B7 E5 88 B0 33 E5 8F B7 E7 AA 97 E5 8F A3 C1 7C",
    ),
    (
        "broadcast display",
        ycbus.set_display(0, 0x19, 1, "暂停服务"),
        "7E 00 19 03 0D 01 E6 9A 82 E5 81 9C E6 9C 8D E5 8A A1 3F C1",
    ),
    ("set_lamps", ycbus.set_lamps(21, 0x15, True), "7E 15 15 04 01 01 AC 5E"),
    ("get_info", ycbus.get_info(1, 0x16), "7E 01 16 05 00 E3 4C"),
    ("beep 200 ms", ycbus.beep(1, 0x17, 200), "7E 01 17 06 01 14 FD EA"),
    ("ack", ycbus.ack(1, 0x12), "7E 01 12 80 00 C0 1D"),
    ("idle", ycbus.idle(1, 0x10), "7E 01 10 81 00 60 4D"),
    ("event call next", ycbus.event(1, 0x10, 5, Key.CALL_NEXT), "7E 01 10 82 03 05 01 00 60 9B"),
    ("event transfer to 3", ycbus.event(1, 0x20, 6, Key.TRANSFER, 3), "7E 01 20 82 03 06 07 03 D6 CA"),
    ("event score 5", ycbus.event(21, 0x21, 9, Key.SCORE, 5), "7E 15 21 82 03 09 10 05 3C EB"),
    (
        "info",
        ycbus.info(1, 0x16, "YC-K3 caller", "1.0.0"),
        "7E 01 16 85 12 59 43 2D 4B 33 20 63 61 6C 6C 65 72 00 31 2E 30 2E 30 B5 FF",
    ),
    ("nak unknown type", ycbus.nak(1, 0x18, NakReason.UNKNOWN_TYPE), "7E 01 18 7F 01 02 AE E9"),
]


@pytest.mark.parametrize(("name", "frame", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_every_frame_type_encodes_to_the_documented_bytes(name: str, frame: Frame, wire: str) -> None:
    data = _hex(wire)
    assert frame.encode() == data
    assert _bitwise_crc(data[1:-2]) == int.from_bytes(data[-2:], "little")
    assert Frame.decode(data) == frame
    assert FrameParser().feed(data) == [frame]


def test_decoders_read_the_documented_frames() -> None:
    assert ycbus.decode_event(Frame.decode(_hex("7E 01 20 82 03 06 07 03 D6 CA"))) == KeyEvent(
        6, Key.TRANSFER, 3
    )
    assert ycbus.decode_info(
        Frame.decode(_hex("7E 01 16 85 12 59 43 2D 4B 33 20 63 61 6C 6C 65 72 00 31 2E 30 2E 30 B5 FF"))
    ) == DeviceInfo("YC-K3 caller", "1.0.0")
    assert ycbus.decode_display(ycbus.set_display(1, 1, 1, "等候 12")) == DisplayText(1, "等候 12")
    assert ycbus.decode_lamps(ycbus.set_lamps(21, 1, False)) is False
    assert ycbus.decode_beep(ycbus.beep(1, 1, 205)) == 200
    assert ycbus.decode_ack_event(ycbus.ack_event(1, 1, 255)) == 255
    assert ycbus.decode_nak(ycbus.nak(1, 1, NakReason.BAD_LENGTH)) is NakReason.BAD_LENGTH


def test_unknown_type_is_kept_as_a_number_so_the_device_can_nak_it() -> None:
    frame = FrameParser().feed(Frame(1, 2, 0x42).encode())[0]
    assert frame.type == 0x42 and not isinstance(frame.type, FrameType)


# --- Validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Frame(248, 0, FrameType.POLL),
        lambda: Frame(1, 256, FrameType.POLL),
        lambda: Frame(1, 0, FrameType.BEEP, bytes(201)),
        lambda: ycbus.poll(0, 1),  # a POLL needs a reply: never broadcast
        lambda: ycbus.ack_event(1, 1, 0),  # event_no 0 is never used
        lambda: ycbus.set_display(1, 1, 256, "x"),
        lambda: ycbus.beep(1, 1, 2560),
        lambda: ycbus.event(1, 1, 1, Key.TRANSFER, 0),
        lambda: ycbus.event(1, 1, 1, Key.SCORE, 6),
        lambda: ycbus.event(1, 1, 1, 0x33),
        lambda: ycbus.info(1, 1, "型号", "1.0"),
        lambda: ycbus.info(1, 1, "x" * 17, "1.0"),
        lambda: ycbus.set_display(1, 1, 0, "\ud800"),
    ],
)
def test_out_of_range_values_raise_codec_error(build: object) -> None:
    with pytest.raises(CodecError) as info:
        build()  # type: ignore[operator]
    assert isinstance(info.value, YichuangError) and isinstance(info.value, ValueError)


def test_decoders_say_which_nak_reason_applies() -> None:
    with pytest.raises(CodecError) as too_long:
        ycbus.decode_ack_event(Frame(1, 1, FrameType.ACK_EVENT, b"\x01\x02"))
    assert too_long.value.reason is NakReason.BAD_LENGTH
    with pytest.raises(CodecError) as bad_utf8:
        ycbus.decode_display(Frame(1, 1, FrameType.SET_DISPLAY, b"\x00\xe7\xad"))
    assert bad_utf8.value.reason is NakReason.BAD_PAYLOAD
    with pytest.raises(CodecError) as wrong_type:
        ycbus.decode_event(ycbus.idle(1, 1))
    assert wrong_type.value.reason is NakReason.UNKNOWN_TYPE


def test_long_text_is_cut_at_a_character_boundary() -> None:
    text = "请" * 30  # 90 bytes of 3-byte characters
    frame = ycbus.set_display(1, 1, 0, text)
    assert frame.payload[1:] == ("请" * 21).encode()  # 63 bytes: a 22nd would need 66
    assert ycbus.truncate_utf8("a" * 64) == b"a" * 64
    assert ycbus.truncate_utf8("a" * 63 + "号") == b"a" * 63


@given(st.text(max_size=80))
def test_truncated_text_is_always_a_valid_prefix(text: str) -> None:
    data = ycbus.truncate_utf8(text)
    assert len(data) <= 64
    assert text.startswith(data.decode("utf-8"))


def test_event_numbers_wrap_from_255_to_1() -> None:
    assert ycbus.next_event_no(1) == 2
    assert ycbus.next_event_no(254) == 255
    assert ycbus.next_event_no(255) == 1


# --- Round trips (hypothesis) ------------------------------------------------------------

addrs = st.integers(1, 247)
seqs = st.integers(0, 255)
event_nos = st.integers(1, 255)
plain_keys = st.sampled_from([k for k in Key if k not in (Key.TRANSFER, Key.SCORE)])
key_events = st.one_of(
    st.builds(KeyEvent, event_nos, plain_keys, st.just(0)),
    st.builds(KeyEvent, event_nos, st.just(Key.TRANSFER), st.integers(1, 9)),
    st.builds(KeyEvent, event_nos, st.just(Key.SCORE), st.integers(1, 5)),
)
ascii_text = st.text(st.characters(min_codepoint=1, max_codepoint=127))


def _wire_round_trip(frame: Frame) -> Frame:
    data = frame.encode()
    parsed = FrameParser().feed(data)
    assert parsed == [frame] and Frame.decode(data) == frame
    return parsed[0]


@given(addrs, seqs, key_events)
def test_event_round_trip(addr: int, seq: int, ev: KeyEvent) -> None:
    frame = _wire_round_trip(ycbus.event(addr, seq, ev.event_no, ev.key, ev.arg))
    assert ycbus.decode_event(frame) == ev and (frame.addr, frame.seq) == (addr, seq)


@given(st.integers(0, 247), seqs, st.integers(0, 255), st.text(max_size=70))
def test_set_display_round_trip(addr: int, seq: int, line: int, text: str) -> None:
    shown = ycbus.decode_display(_wire_round_trip(ycbus.set_display(addr, seq, line, text)))
    assert shown.line == line and shown.text == ycbus.truncate_utf8(text).decode("utf-8")


@given(addrs, seqs, ascii_text.filter(lambda s: len(s) <= 16), ascii_text.filter(lambda s: len(s) <= 8))
def test_info_round_trip(addr: int, seq: int, model: str, version: str) -> None:
    frame = _wire_round_trip(ycbus.info(addr, seq, model, version))  # ascii_text has no NUL
    assert ycbus.decode_info(frame) == DeviceInfo(model, version)


@given(addrs, seqs, event_nos, st.booleans(), st.integers(0, 255), st.sampled_from(list(NakReason)))
def test_small_messages_round_trip(
    addr: int, seq: int, event_no: int, lit: bool, tens: int, reason: NakReason
) -> None:
    assert ycbus.decode_ack_event(_wire_round_trip(ycbus.ack_event(addr, seq, event_no))) == event_no
    assert ycbus.decode_lamps(_wire_round_trip(ycbus.set_lamps(addr, seq, lit))) is lit
    assert ycbus.decode_beep(_wire_round_trip(ycbus.beep(addr, seq, tens * 10))) == tens * 10
    assert ycbus.decode_nak(_wire_round_trip(ycbus.nak(addr, seq, reason))) is reason
    for build in (ycbus.poll, ycbus.get_info, ycbus.ack, ycbus.idle):
        frame = _wire_round_trip(build(addr, seq))
        assert frame.payload == b""
        assert ycbus.is_reply_to(ycbus.ack(addr, seq), frame)


frames = st.builds(
    Frame, st.integers(0, 247), seqs, st.sampled_from(list(FrameType)), st.binary(max_size=200)
)


# --- The parser: garbage, chunking, truncation ----------------------------------------------


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=300)
@given(st.binary(max_size=600), st.lists(st.integers(0, 10_000), max_size=20))
def test_garbage_in_any_chunks_never_raises_and_yields_only_frames_it_contains(
    junk: bytes, cuts: list[int]
) -> None:
    parser = FrameParser()
    out: list[Frame] = []
    for chunk in _chunked(junk, cuts):
        out += parser.feed(chunk)
    out += parser.idle()
    assert parser.pending == 0
    for frame in out:
        assert frame.encode() in junk  # never a frame that was not on the line


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.binary(max_size=40).map(lambda b: b.replace(b"\x7e", b"")), frames), max_size=6),
    st.binary(max_size=40),
    st.lists(st.integers(0, 10_000), max_size=30),
)
def test_frames_between_garbage_are_all_found_whatever_the_chunking(
    parts: list[tuple[bytes, Frame]], tail: bytes, cuts: list[int]
) -> None:
    # Garbage without 0x7E can never start a candidate, so every real frame is found intact.
    stream = b"".join(junk + frame.encode() for junk, frame in parts) + tail.replace(b"\x7e", b"")
    parser = FrameParser()
    out: list[Frame] = []
    for chunk in _chunked(stream, cuts):
        out += parser.feed(chunk)
    assert out == [frame for _, frame in parts]
    assert parser.crc_errors == 0


def test_valid_frame_behind_a_fake_header_is_found_when_the_line_goes_quiet() -> None:
    poll = ycbus.poll(3, 9)
    # 0x7E then len=200: the parser must wait for 207 bytes before it can reject it.
    noise = _hex("00 FF 7E 7E 01 02 03 C8 55")
    parser = FrameParser()
    assert parser.feed(noise + poll.encode()) == []
    assert parser.idle() == [poll]
    assert parser.pending == 0
    assert parser.dropped_bytes == len(noise)


def test_valid_frame_surrounded_by_garbage_and_false_starts_is_found() -> None:
    event = ycbus.event(4, 200, 17, Key.NO_SHOW)
    noise_before = _hex("7E 01 02 03 00 00 00") + b"\x7e\xff" + b"hello\x7e"  # bad CRC, bad addr, short
    noise_after = _hex("7E 04 C8")
    parser = FrameParser()
    # The last 0x7E of the noise makes a candidate whose len byte is the event's type (0x82):
    # only the line going quiet can reject it, exactly as on a real bus.
    assert parser.feed(noise_before + event.encode() + noise_after) == []
    assert parser.idle() == [event]
    assert parser.crc_errors >= 1


def test_truncated_frame_completes_on_the_next_read() -> None:
    data = ycbus.set_display(1, 7, 0, "A012 请到3号窗口").encode()
    parser = FrameParser()
    for i in range(len(data) - 1):
        assert parser.feed(data[i : i + 1]) == []
    assert parser.feed(data[-1:]) == [Frame.decode(data)]


def test_truncated_frame_followed_by_a_new_frame_loses_only_the_truncated_one() -> None:
    first = ycbus.set_display(1, 7, 0, "A012").encode()
    second = ycbus.poll(1, 8)
    parser = FrameParser()
    out = parser.feed(first[:6]) + parser.feed(second.encode())
    out += parser.idle()
    assert out == [second]


def test_corrupted_byte_is_a_crc_error_not_a_frame() -> None:
    data = bytearray(ycbus.ack(1, 1).encode())
    data[2] ^= 0x01
    parser = FrameParser()
    assert parser.feed(bytes(data)) + parser.idle() == []
    assert parser.crc_errors == 1


# --- Exactly-once link state ----------------------------------------------------------------


def test_event_retransmitted_after_a_lost_ack_is_not_a_second_press() -> None:
    dedup = EventDeduplicator()
    assert dedup.accept(1, 5) is True
    assert dedup.accept(1, 5) is False  # the ACK_EVENT was lost; ACK again, do not call twice
    assert dedup.accept(2, 5) is True  # another window's caller has its own numbering
    assert dedup.accept(1, 6) is True
    assert dedup.last(1) == 6


def test_event_numbering_wraps_without_losing_presses() -> None:
    dedup = EventDeduplicator()
    n = 250
    for _ in range(600):
        assert dedup.accept(1, n) is True
        n = ycbus.next_event_no(n)


def test_a_rebooted_device_is_forgotten_so_its_event_1_counts() -> None:
    dedup = EventDeduplicator()
    assert dedup.accept(1, 1)
    dedup.forget(1)
    assert dedup.accept(1, 1)


def test_reply_cache_answers_only_an_identical_retransmission() -> None:
    cache = ReplyCache()
    cmd = ycbus.set_display(1, 40, 0, "A012")
    assert cache.get(cmd) is None
    cache.put(cmd, ycbus.ack(1, 40))
    assert cache.get(ycbus.set_display(1, 40, 0, "A012")) == ycbus.ack(1, 40)
    assert cache.get(ycbus.set_display(1, 40, 0, "A013")) is None  # same seq, new content
    assert cache.get(ycbus.set_display(1, 41, 0, "A012")) is None  # new seq
    cache.clear()
    assert cache.get(cmd) is None
