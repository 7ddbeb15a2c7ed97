"""The ticket's ESC/POS bytes, the paper status byte, and the parser the simulated printer uses.

Byte for byte: what python-escpos produces for a ticket is what a Chinese 80 mm printer
expects (GB18030 in Chinese mode, native QR, cut); the parser reads it back, in any
chunking, and survives garbage.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from escpos.printer import Dummy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.codecs.escpos import (
    PAPER_STATUS_REQUEST,
    Align,
    Bold,
    CharSize,
    Cut,
    EscPosParser,
    Feed,
    Init,
    KanjiMode,
    LineFeed,
    Op,
    PaperStatus,
    PrintMode,
    QrErrorLevel,
    QrModel,
    QrModuleSize,
    QrPrint,
    QrStore,
    StatusRequest,
    Text,
    Unknown,
    decode_paper_status,
    paper_status_byte,
    parse,
    status_reply,
)
from kiosk.receipt import QR_MODULE_SIZE, TicketReceipt, receipt_bytes, wait_minutes

CST = timezone(timedelta(hours=8))
HALL = "青浦区政务服务中心"
URL = "http://10.20.0.5:8080/t/Xk3v9QpLm2Rt"


def ticket(**changes: object) -> TicketReceipt:
    fields: dict[str, object] = {
        "hall_name": HALL,
        "number": "A012",
        "service_name": "不动产登记",
        "ahead": 3,
        "ewt_s": 900,
        "issued_at": datetime(2026, 11, 22, 9, 5, tzinfo=CST),
        "status_url": URL,
    }
    fields.update(changes)
    return TicketReceipt(**fields)  # type: ignore[arg-type]


def cjk_line(text: str) -> bytes:
    """A Chinese line as the printer receives it: FS &, GB18030, LF, FS ."""
    return b"\x1c&" + text.encode("gb18030") + b"\n\x1c."


# --- the ticket's bytes -------------------------------------------------------------------


def test_a_ticket_starts_with_init_and_ends_with_a_partial_cut_after_a_feed() -> None:
    data = receipt_bytes(ticket())
    assert data.startswith(b"\x1b@")  # ESC @: whatever the last job left, modes are reset
    assert data.endswith(b"\x1bd\x06\x1dV\x01")  # ESC d 6 past the cutter, GS V 1 partial cut


def test_the_hall_name_is_centred_bold_gb18030_in_chinese_mode() -> None:
    data = receipt_bytes(ticket())
    assert data.startswith(b"\x1b@\x1bE\x01\x1ba\x01" + cjk_line(HALL))
    assert (
        "青浦区".encode("gb18030") == b"\xc7\xe0\xc6\xd6\xc7\xf8"
    )  # not UTF-8: what the printer's font is indexed by


def test_the_number_is_printed_eight_times_size_then_size_is_reset() -> None:
    data = receipt_bytes(ticket(number="B1000"))
    assert b"\x1d!\x77\x1bE\x01B1000\n\x1bE\x00\x1d!\x11" in data  # GS ! 0x77, bold, then 2x for the service


def test_the_qr_is_the_printers_own_gs_k_with_the_status_url() -> None:
    data = receipt_bytes(ticket())
    store = b"\x1d(k" + (len(URL) + 3).to_bytes(2, "little") + b"1P0" + URL.encode()
    assert (
        b"\x1d(k\x04\x001A2\x00"  # model 2
        + b"\x1d(k\x03\x001C"
        + bytes((QR_MODULE_SIZE,))  # module size in dots
        + b"\x1d(k\x03\x001E1"  # error correction M
        + store
        + b"\x1d(k\x03\x001Q0"  # print
    ) in data


def test_waiting_count_wait_time_and_issue_time_in_chinese() -> None:
    data = receipt_bytes(ticket())
    for line in ("前面还有 3 人", "预计等候约 15 分钟", "取号时间 2026-11-22 09:05", "扫码查看排队进度"):
        assert cjk_line(line) in data
    assert cjk_line("请留意叫号，过号请重新取号。") + cjk_line("本票据不含个人信息。") in data


def test_the_wait_line_is_left_out_when_unknown_and_never_says_zero_minutes() -> None:
    assert "预计等候".encode("gb18030") not in receipt_bytes(ticket(ewt_s=None))
    assert cjk_line("预计等候约 1 分钟") in receipt_bytes(ticket(ewt_s=0))
    assert [wait_minutes(s) for s in (0, 1, 60, 61, 900)] == [1, 1, 1, 2, 15]


def test_green_channel_and_appointment_are_marked() -> None:
    assert cjk_line("【绿色通道】") in receipt_bytes(ticket(priority="green"))
    assert cjk_line("【预约】") in receipt_bytes(ticket(appointment=True))
    both = receipt_bytes(ticket(priority="green", appointment=True, language="en"))
    assert b"[Priority lane / Appointment]\n" in both
    assert "绿色通道".encode("gb18030") not in receipt_bytes(ticket())


def test_an_english_ticket_keeps_the_chinese_hall_name_and_prints_english_plainly() -> None:
    data = receipt_bytes(ticket(language="en", service_name="Real estate registration"))
    assert cjk_line(HALL) in data
    assert b"Queue ticket\n" in data
    assert b"3 waiting ahead of you\n" in data
    assert b"Estimated wait: about 15 min\n" in data
    assert b"Issued 2026-11-22 09:05\n" in data
    assert b"This ticket holds no personal data.\n" in data
    assert data.count(b"\x1c&") == 1  # Chinese mode for the hall name only


def test_a_ticket_refuses_what_would_print_wrong() -> None:
    with pytest.raises(ValueError, match="aware"):
        ticket(issued_at=datetime(2026, 11, 22, 9, 5))
    with pytest.raises(ValueError, match="language"):
        ticket(language="fr")
    with pytest.raises(ValueError, match="priority"):
        ticket(priority="vip")


def test_the_parser_reads_a_ticket_back_op_by_op() -> None:
    ops = parse(receipt_bytes(ticket()))
    assert ops[:7] == [
        Init(),
        Bold(True),
        Align(1),
        KanjiMode(True),
        Text(HALL.encode("gb18030")),
        LineFeed(),
        KanjiMode(False),
    ]
    assert ops[-2:] == [Feed(6), Cut(partial=True)]
    i = ops.index(QrStore(URL.encode()))
    assert ops[i - 3 : i + 2] == [
        QrModel(2),
        QrModuleSize(QR_MODULE_SIZE),
        QrErrorLevel("M"),
        QrStore(URL.encode()),
        QrPrint(),
    ]
    assert CharSize(8, 8) in ops
    assert not any(isinstance(op, Unknown) and op.head[:2] != b"\x1bt" for op in ops)  # only ESC t


# --- the paper status byte ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (b"\x12", PaperStatus.OK),
        (b"\x1e", PaperStatus.LOW),  # near-end bits 2+3
        (b"\x72", PaperStatus.OUT),  # end bits 5+6
        (b"\x7e", PaperStatus.OUT),  # both, what a printer whose roll ran out sends
        (b"\x16", PaperStatus.OK),  # one near-end bit alone: python-escpos says adequate too
        (b"\x1e\x12", PaperStatus.OK),  # the last byte is the newest answer
        (b"", PaperStatus.UNKNOWN),  # no answer
        (b"\x00", PaperStatus.UNKNOWN),  # fixed bits missing: not a status byte
        (b"\x60", PaperStatus.UNKNOWN),
    ],
)
def test_paper_status_decode_table(reply: bytes, status: PaperStatus) -> None:
    assert decode_paper_status(reply) is status


class _Answering(Dummy):
    """python-escpos's own printer class, with one status byte to read back."""

    def __init__(self, reply: bytes) -> None:
        super().__init__()
        self.reply = reply

    def _read(self) -> bytes:
        return self.reply


def test_paper_status_reads_every_status_byte_as_python_escpos_does() -> None:
    escpos_meaning = {2: PaperStatus.OK, 1: PaperStatus.LOW, 0: PaperStatus.OUT}
    for byte in range(256):
        if byte & 0x12 != 0x12:
            continue  # not a status byte: python-escpos guesses "no paper", we say unknown
        printer = _Answering(bytes((byte,)))
        assert decode_paper_status(bytes((byte,))) is escpos_meaning[printer.paper_status()], hex(byte)
        assert printer.output == PAPER_STATUS_REQUEST == b"\x10\x04\x04"


def test_the_printer_side_status_bytes() -> None:
    assert [paper_status_byte(PaperStatus(s)) for s in ("ok", "low", "out")] == [0x12, 0x1E, 0x7E]
    for s in ("ok", "low", "out"):
        assert decode_paper_status(paper_status_byte(PaperStatus(s))) is PaperStatus(s)
    with pytest.raises(ValueError):
        paper_status_byte(PaperStatus.UNKNOWN)
    assert status_reply(1, PaperStatus.OK) == b"\x12"
    assert status_reply(1, PaperStatus.OUT) == b"\x1a"  # offline while out of paper
    assert status_reply(2, PaperStatus.OUT) == b"\x32"  # stopped by paper end
    assert status_reply(3, PaperStatus.LOW) == b"\x12"
    assert status_reply(4, PaperStatus.LOW) == b"\x1e"
    assert status_reply(5, PaperStatus.OK) == b""


# --- the parser -----------------------------------------------------------------------------


def test_commands_with_counted_bodies_are_skipped_whole() -> None:
    raster = b"\x1dv0\x00\x02\x00\x02\x00" + b"\x1b@\x1dV"  # 2 bytes x 2 rows that look like commands
    pdf417 = b"\x1d(k\x05\x000P0AB"  # GS ( k cn 48: PDF417, not a QR
    bitimage = b"\x1b*\x00\x03\x00\x1b\x1b\x1b"
    ops = parse(raster + pdf417 + bitimage + b"ok\n")
    assert ops == [
        Unknown(b"\x1dv0\x00\x02\x00\x02\x00", 12),
        Unknown(b"\x1d(k\x05\x000P0", 10),
        Unknown(b"\x1b*\x00\x03\x00", 8),
        Text(b"ok"),
        LineFeed(),
    ]


def test_status_requests_modes_and_unknown_commands() -> None:
    ops = parse(b"\x10\x04\x04\x10\x04\x01\x1b!\x38\x1b\x7fX\x1dV\x42\x05\x10\x04\x09\r")
    assert ops == [
        StatusRequest(4),
        StatusRequest(1),
        PrintMode(0x38),
        Unknown(b"\x1b\x7f", 2),  # unknown ESC command: prefix and command byte
        Text(b"X"),
        Cut(partial=True, feed=5),
        Unknown(b"\x10\x04\x09", 3),  # DLE EOT with an invalid n
        Unknown(b"\r", 1),
    ]
    mode = PrintMode(0x38)
    assert (mode.bold, mode.width, mode.height, mode.font_b) == (True, 2, 2, False)


def test_a_command_split_across_chunks_is_read_once_complete() -> None:
    parser = EscPosParser()
    assert parser.feed(b"\x10") == []
    assert parser.feed(b"\x04") == []
    assert not parser.at_boundary
    assert parser.feed(b"\x04\x1d(k\x03") == [StatusRequest(4)]
    assert parser.feed(b"\x001C\x08") == [QrModuleSize(8)]
    assert parser.feed(b"abc") == []  # a text run may go on
    assert parser.at_boundary
    assert parser.feed(b"d\n") == [Text(b"abcd"), LineFeed()]
    assert parser.feed(b"\x1d") == []
    assert parser.flush() == [Unknown(b"\x1d", 1)]  # cut short by the end of the stream


def test_feed_spans_gives_each_ops_end_in_the_stream() -> None:
    parser = EscPosParser()
    spans = parser.feed_spans(b"\x1b@ab\n\x1dV\x01")
    assert spans == [(Init(), 2), (Text(b"ab"), 4), (LineFeed(), 5), (Cut(partial=True), 8)]
    assert parser.feed_spans(b"\x1dv0\x00\x01\x00\x03\x00xx") == [
        (Unknown(b"\x1dv0\x00\x01\x00\x03\x00", 11), 19)
    ]
    assert parser.offset == 18


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0, max_value=600), max_size=12))
def test_garbage_in_any_chunks_never_raises_and_chunking_never_changes_the_ops(
    data: bytes, cuts: list[int]
) -> None:
    whole = parse(data)
    parser = EscPosParser()
    ops: list[Op] = []
    for chunk in chunked(data, cuts):
        ops += parser.feed(chunk)
    assert ops + parser.flush() == whole


_NO_COMMANDS = st.binary(max_size=300).map(lambda b: bytes(x for x in b if x not in (0x10, 0x1B, 0x1C, 0x1D)))


@settings(max_examples=200)
@given(_NO_COMMANDS, st.lists(st.integers(min_value=0, max_value=800), max_size=8))
def test_a_ticket_after_line_noise_still_parses(noise: bytes, cuts: list[int]) -> None:
    ticket_ops = parse(receipt_bytes(ticket()))
    ops = parse(chunked(noise + receipt_bytes(ticket()), cuts))
    assert ops[-len(ticket_ops) :] == ticket_ops


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_a_ticket_after_garbage_parses_at_a_boundary_or_after_a_reset(garbage: bytes) -> None:
    data = receipt_bytes(ticket())
    ticket_ops = parse(data)
    parser = EscPosParser()
    parser.feed(garbage)
    if not parser.at_boundary:
        parser.reset()  # what a new connection does in the simulated printer
    ops = parser.feed(data) + parser.flush()
    assert ops[-len(ticket_ops) :] == ticket_ops
