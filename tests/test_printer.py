"""The kiosk's ticket printer against the simulated network printer, over real sockets.

Printer URLs, the file backend, printing a ticket and reading it back off the simulated
paper, paper low/out, a printer switched off and on again, and the hall simulator's
printers with their MQTT paper control.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers.mqtt_probe import MqttProbe
from PIL import Image

from hw_sim.escpos_printer import SimPrinter
from hw_sim.hall_sim import HallSim, rewrite_printers, rewritten_config
from hw_sim.sim_control import SimControl
from kiosk.printer import PaperStatus, PrinterError, TicketPrinter, open_printer
from kiosk.receipt import TicketReceipt, receipt_bytes
from yichuang.broker_process import BrokerProcess
from yichuang.config import load_config, parse_config
from yichuang.config_model import BrokerConfig, Config

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "hall.example.toml"
CST = timezone(timedelta(hours=8))
URL = "http://10.20.0.5:8080/t/Xk3v9QpLm2Rt"
TIMEOUT = 0.5


def ticket(number: str = "A012") -> TicketReceipt:
    return TicketReceipt(
        hall_name="青浦区政务服务中心",
        number=number,
        service_name="不动产登记",
        ahead=3,
        ewt_s=900,
        issued_at=datetime(2026, 11, 22, 9, 5, tzinfo=CST),
        status_url=URL,
    )


@pytest.fixture
def sim_printer(tmp_path: Path) -> Iterator[SimPrinter]:
    with SimPrinter("kiosk-01", receipts_dir=tmp_path / "receipts") as printer:
        yield printer


@pytest.fixture
def kiosk_printer(sim_printer: SimPrinter) -> Iterator[TicketPrinter]:
    printer = open_printer(sim_printer.url, timeout=TIMEOUT)
    assert printer is not None
    with printer:
        yield printer


# --- URLs -----------------------------------------------------------------------------------


def test_an_empty_printer_url_means_no_printer() -> None:
    assert open_printer("") is None
    assert open_printer("  ") is None


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("usb://0416:5011", "usb://0416:5011 (usb)"),
        ("usb://04B8:0E15?in_ep=0x81&out_ep=0x03", "usb://04b8:0e15 (usb)"),
        ("serial:///dev/ttyUSB0", "serial:///dev/ttyUSB0?baudrate=9600 (serial)"),
        ("serial:///dev/serial/by-id/usb-1a86_USB_Serial-if00?baudrate=19200",
         "serial:///dev/serial/by-id/usb-1a86_USB_Serial-if00?baudrate=19200 (serial)"),
        ("tcp://10.20.0.31:9100", "tcp://10.20.0.31:9100 (network)"),
        ("tcp://printer-kiosk-02.hall.lan", "tcp://printer-kiosk-02.hall.lan:9100 (network)"),
        ("file:///tmp/tickets.bin", "file:///tmp/tickets.bin (file)"),
    ],
)  # fmt: skip
def test_printer_urls_of_the_four_backends(url: str, described: str) -> None:
    printer = open_printer(url)  # nothing is opened yet: the printer may still be off
    assert printer is not None
    assert printer.describe() == described


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("lpt://1", "scheme must be"),
        ("/dev/usb/lp0", "no scheme"),
        ("usb://0416", "usb://VID:PID"),
        ("usb://zz16:5011", "hex"),
        ("usb://0416:5011?in_ep=0x01", "in_ep must be"),
        ("usb://0416:5011?speed=fast", "unknown option"),
        ("serial://dev/ttyUSB0", "three slashes"),
        ("serial:///dev/ttyUSB0?baudrate=12345", "baudrate must be one of"),
        ("serial:///dev/ttyUSB0?baudrate=fast", "must be a number"),
        ("serial:///dev/ttyUSB0?parity=E", "unknown option"),
        ("tcp://", "tcp://host:port"),
        ("tcp://10.0.0.5:printer", "bad port"),
        ("tcp://10.0.0.5:9100/queue", "tcp://host:port"),
        ("file://tickets.bin", "file:///absolute/path"),
    ],
)
def test_bad_printer_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        open_printer(url)
    assert repr(url) in str(info.value) or message == "no scheme"


# --- file backend ---------------------------------------------------------------------------


def test_the_file_backend_appends_the_exact_bytes_and_cannot_read_the_paper(tmp_path: Path) -> None:
    path = tmp_path / "tickets.bin"
    path.write_bytes(b"earlier\n")
    printer = open_printer(f"file://{path}")
    assert printer is not None
    first, second = receipt_bytes(ticket("A012")), receipt_bytes(ticket("A013"))
    printer.print_bytes(first)
    printer.print_bytes(second)
    assert path.read_bytes() == b"earlier\n" + first + second
    assert printer.paper() is PaperStatus.UNKNOWN
    printer.close()


def test_a_file_printer_that_cannot_be_written_raises_printer_error(tmp_path: Path) -> None:
    printer = open_printer(f"file://{tmp_path}/no/such/dir/tickets.bin")
    assert printer is not None
    with pytest.raises(PrinterError, match="cannot open") as info:
        printer.print_bytes(b"x")
    assert isinstance(info.value, OSError)


# --- network backend against the simulated printer -------------------------------------------


def test_a_printed_ticket_comes_out_of_the_simulated_printer(
    sim_printer: SimPrinter, kiosk_printer: TicketPrinter
) -> None:
    data = receipt_bytes(ticket("A012"))
    kiosk_printer.print_bytes(data)
    (receipt,) = sim_printer.wait_for_receipts(1)
    assert receipt.raw == data  # every byte arrived, cut exactly at GS V
    assert receipt.cut == "partial"
    assert "A012" in receipt.lines
    assert "前面还有 3 人" in receipt.lines
    assert receipt.qr_texts == (URL,)
    assert receipt.png_path is not None and receipt.png_path.exists()
    with Image.open(receipt.png_path) as png:
        assert png.width == 576


def test_a_serial_printer_on_a_tty_prints_and_reports_paper(sim_printer: SimPrinter) -> None:
    # python-escpos's Serial backend on a real tty (a pty pair): the RS-232 / USB-serial wiring
    device = sim_printer.attach_serial()
    printer = open_printer(f"serial://{device}?baudrate=19200", timeout=TIMEOUT)
    assert printer is not None
    with printer:
        assert printer.paper() is PaperStatus.OK
        data = receipt_bytes(ticket("A021"))
        printer.print_bytes(data)
        (receipt,) = sim_printer.wait_for_receipts(1)
        assert receipt.raw == data and "A021" in receipt.lines
        sim_printer.set_paper("low")
        assert printer.paper() is PaperStatus.LOW


def test_two_tickets_in_one_connection_are_two_receipts(
    sim_printer: SimPrinter, kiosk_printer: TicketPrinter
) -> None:
    kiosk_printer.print_bytes(receipt_bytes(ticket("A012")) + receipt_bytes(ticket("A013")))
    first, second = sim_printer.wait_for_receipts(2)
    assert ("A012" in first.lines, "A013" in second.lines) == (True, True)
    assert first.png_path != second.png_path
    assert sim_printer.connections == 1


def test_paper_status_ok_low_out(sim_printer: SimPrinter, kiosk_printer: TicketPrinter) -> None:
    assert kiosk_printer.paper() is PaperStatus.OK
    sim_printer.set_paper("low")
    assert kiosk_printer.paper() is PaperStatus.LOW
    sim_printer.set_paper("out")
    assert kiosk_printer.paper() is PaperStatus.OUT
    sim_printer.set_paper("ok")
    assert kiosk_printer.paper() is PaperStatus.OK
    assert sim_printer.status_requests == 4
    with pytest.raises(ValueError, match="paper must be"):
        sim_printer.set_paper("empty")


def test_a_printer_out_of_paper_discards_the_ticket_until_paper_is_back(
    sim_printer: SimPrinter, kiosk_printer: TicketPrinter
) -> None:
    sim_printer.set_paper("out")
    lost = receipt_bytes(ticket("A012"))
    kiosk_printer.print_bytes(lost)  # the bytes are taken: only the status tells
    assert kiosk_printer.paper() is PaperStatus.OUT
    deadline = time.monotonic() + 2
    while sim_printer.discarded_bytes < len(lost) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim_printer.discarded_bytes == len(lost)
    assert sim_printer.printed == 0
    sim_printer.set_paper("ok")
    kiosk_printer.print_bytes(receipt_bytes(ticket("A013")))
    (receipt,) = sim_printer.wait_for_receipts(1)
    assert "A013" in receipt.lines and "A012" not in receipt.lines


def test_a_printer_switched_off_fails_the_job_at_once_and_works_again_when_back(
    sim_printer: SimPrinter, kiosk_printer: TicketPrinter
) -> None:
    kiosk_printer.print_bytes(receipt_bytes(ticket("A012")))
    sim_printer.wait_for_receipts(1)
    sim_printer.stop()
    started = time.monotonic()
    with pytest.raises(PrinterError, match="cannot open"):
        kiosk_printer.print_bytes(receipt_bytes(ticket("A013")))  # not silently lost in a dead socket
    assert kiosk_printer.paper() is PaperStatus.UNKNOWN
    assert time.monotonic() - started < 2 * TIMEOUT
    sim_printer.start()  # same port: the kiosk's config still points there
    kiosk_printer.print_bytes(receipt_bytes(ticket("A014")))  # reconnects by itself
    receipts = sim_printer.wait_for_receipts(2)
    assert "A014" in receipts[-1].lines
    assert kiosk_printer.paper() is PaperStatus.OK


def test_a_printer_that_never_answers_the_status_query_is_unknown_not_a_hang() -> None:
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(1)  # accepts (in the kernel) and never says a word
        printer = open_printer(f"tcp://127.0.0.1:{mute.getsockname()[1]}", timeout=0.3)
        assert printer is not None
        started = time.monotonic()
        assert printer.paper() is PaperStatus.UNKNOWN
        assert 0.25 < time.monotonic() - started < 1.5
        printer.close()


def test_garbage_and_a_half_sent_job_do_not_stop_the_printer(
    sim_printer: SimPrinter, kiosk_printer: TicketPrinter
) -> None:
    for junk in (
        b"\x1dv0\x00\xff\xff\xff\xff",
        b"\x1b",
        bytes(range(256)),
        receipt_bytes(ticket("A011"))[:200],
    ):
        with socket.create_connection(("127.0.0.1", sim_printer.port), timeout=1) as raw:
            raw.sendall(junk)
    kiosk_printer.print_bytes(receipt_bytes(ticket("A012")))
    receipt = sim_printer.wait_for_receipts(1)[-1]
    assert "A012" in receipt.lines
    assert receipt.qr_texts[-1] == URL


def test_real_time_status_bytes_on_the_wire(sim_printer: SimPrinter) -> None:
    with socket.create_connection(("127.0.0.1", sim_printer.port), timeout=1) as raw:
        raw.sendall(b"\x10\x04\x01\x10\x04\x04")
        assert _read(raw, 2) == b"\x12\x12"
        sim_printer.set_paper("out")
        raw.sendall(b"\x10\x04\x01\x10\x04\x02\x10\x04\x04")
        assert _read(raw, 3) == b"\x1a\x32\x7e"  # offline, stopped by paper end, paper end


def _read(sock: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


# --- the hall simulator ---------------------------------------------------------------------


@pytest.fixture
def example() -> Config:
    return load_config(EXAMPLE)


def test_the_hall_simulator_gives_every_kiosk_with_a_printer_a_printer(
    example: Config, tmp_path: Path
) -> None:
    with HallSim(example, "tcp", receipts_dir=tmp_path) as sim:
        urls = sim.printer_urls
        assert set(urls) == {"kiosk-01", "kiosk-02"}
        assert all(url.startswith("tcp://127.0.0.1:") for url in urls.values())
        config = rewritten_config(example, sim.urls, urls)
        assert {k.id: k.printer for k in config.kiosks} == urls
        text = rewrite_printers(EXAMPLE.read_text(encoding="utf-8"), urls)
        assert {k.id: k.printer for k in parse_config(text, "sim.toml").kiosks} == urls
        printer = open_printer(urls["kiosk-02"], timeout=TIMEOUT)
        assert printer is not None
        with printer:
            printer.print_bytes(receipt_bytes(ticket("C007")))
            (receipt,) = sim.printer("kiosk-02").wait_for_receipts(1)
        assert receipt.png_path == tmp_path / "kiosk-02-00001.png"
        assert receipt.png_path.exists()
    assert sim.printer_urls == {}


def test_paper_faults_over_mqtt(example: Config, broker: BrokerProcess, mqtt_probe: MqttProbe) -> None:
    hall = f"prt-{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(
        example, hall=dataclasses.replace(example.hall, id=hall), broker=BrokerConfig(url=broker.url)
    )
    sim = HallSim(config, "tcp").start()
    control = SimControl.for_config(sim, config, client_id=f"sim-{hall}")
    try:
        mqtt_probe.subscribe(f"yc/{hall}/sim/#")
        control.start(wait_s=5)
        published = mqtt_probe.wait_for(f"yc/{hall}/sim/printers")
        assert json.loads(published.payload) == sim.printer_urls
        printer = open_printer(sim.printer_urls["kiosk-01"], timeout=TIMEOUT)
        assert printer is not None
        with printer:
            for payload, expected in (
                (b"out", PaperStatus.OUT),
                (b'{"paper": "low"}', PaperStatus.LOW),
                (b"bogus", PaperStatus.LOW),  # ignored
                (b'"ok"', PaperStatus.OK),
            ):
                mqtt_probe.publish(f"yc/{hall}/sim/printer/kiosk-01/paper", payload)
                deadline = time.monotonic() + 3
                while printer.paper() is not expected and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert printer.paper() is expected, payload
            mqtt_probe.publish(f"yc/{hall}/sim/printer/kiosk-99/paper", b"out")  # no such kiosk: ignored
            time.sleep(0.1)
            assert sim.printer("kiosk-01").paper == "ok"
    finally:
        control.stop()
        sim.stop()
