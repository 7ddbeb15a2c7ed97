"""Simulated YC-BUS devices, driven through a real pty and a socket:// port with pyserial."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from firmware_bridge.codecs import ycbus
from firmware_bridge.codecs.ycbus import EventDeduplicator, Frame, FrameParser, FrameType, Key, NakReason
from hw_sim.serial_devices import SimBus, SimCaller, SimEvalPad, SimLedPanel

CALLER, PAD, PANEL = 1, 21, 31
# Generous next to the 20 ms of a real line: a loaded CI machine must not flake.
TIMEOUT = 0.4


class Master:
    """A test-only bus master: what the bridge driver does, in twenty lines."""

    def __init__(self, url: str) -> None:
        # The read timeout doubles as the "line went quiet" gap that lets the parser give up
        # on a dead partial frame.
        self.port = serial.serial_for_url(url, baudrate=ycbus.BAUDRATE, timeout=0.02)
        self.parser = FrameParser()
        self._seq = 0
        self._inbox: list[Frame] = []

    def close(self) -> None:
        self.port.close()

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) % 256
        return self._seq

    def send(self, frame: Frame) -> None:
        self.port.write(frame.encode())

    def recv(self, timeout: float = TIMEOUT) -> Frame | None:
        deadline = time.monotonic() + timeout
        while not self._inbox and time.monotonic() < deadline:
            data = self.port.read(max(1, self.port.in_waiting))
            self._inbox += self.parser.feed(data) if data else self.parser.idle()
        return self._inbox.pop(0) if self._inbox else None

    def request(self, frame: Frame, retries: int = 0, timeout: float = TIMEOUT) -> Frame | None:
        """Send, wait for the reply with this seq, resend the SAME frame on timeout."""
        for _ in range(retries + 1):
            self.send(frame)
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                reply = self.recv(left)
                if reply is not None and ycbus.is_reply_to(reply, frame):
                    return reply
        return None

    def poll(self, addr: int) -> Frame | None:
        return self.request(ycbus.poll(addr, self.next_seq()), retries=2)


@pytest.fixture(params=["pty", "socket"])
def line(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SimBus, Master]]:
    devices = (SimCaller(CALLER), SimEvalPad(PAD), SimLedPanel(PANEL))
    bus = SimBus.pty(*devices, link=tmp_path / "ttyYC0") if request.param == "pty" else SimBus.tcp(*devices)
    with bus:
        master = Master(bus.url)
        try:
            yield bus, master
        finally:
            master.close()


def test_poll_with_nothing_pressed_is_idle(line: tuple[SimBus, Master]) -> None:
    _, master = line
    assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)
    assert master.poll(PANEL) == ycbus.idle(PANEL, master._seq)


def test_every_device_reports_its_model_and_firmware(line: tuple[SimBus, Master]) -> None:
    _, master = line
    models = {
        addr: ycbus.decode_info(master.request(ycbus.get_info(addr, master.next_seq())))  # type: ignore[arg-type]
        for addr in (CALLER, PAD, PANEL)
    }
    assert models[CALLER] == ycbus.DeviceInfo("YC-K3 caller", "1.0.0")
    assert models[PAD] == ycbus.DeviceInfo("YC-E5 eval pad", "1.0.0")
    assert models[PANEL] == ycbus.DeviceInfo("YC-P1 LED panel", "1.0.0")


def test_staff_press_call_next_is_reported_until_acknowledged(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    caller = bus.device(CALLER)
    assert caller.press(Key.CALL_NEXT) == 1
    assert caller.press(Key.TRANSFER, 3) == 2
    reply = master.poll(CALLER)
    assert reply is not None and reply.type is FrameType.EVENT
    assert ycbus.decode_event(reply) == ycbus.KeyEvent(1, Key.CALL_NEXT, 0)
    assert master.poll(CALLER) == ycbus.event(CALLER, master._seq, 1, Key.CALL_NEXT)  # oldest until ACKed
    assert master.request(ycbus.ack_event(CALLER, master.next_seq(), 1)) == ycbus.ack(CALLER, master._seq)
    assert ycbus.decode_event(master.poll(CALLER)) == ycbus.KeyEvent(2, Key.TRANSFER, 3)  # type: ignore[arg-type]
    master.request(ycbus.ack_event(CALLER, master.next_seq(), 2))
    assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)
    assert caller.pending == ()


def test_citizen_score_on_the_evaluation_pad(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    pad = bus.device(PAD)
    assert master.request(ycbus.set_lamps(PAD, master.next_seq(), True)) == ycbus.ack(PAD, master._seq)
    assert pad.lamps is True
    pad.press(Key.SCORE, 5)
    assert ycbus.decode_event(master.poll(PAD)) == ycbus.KeyEvent(1, Key.SCORE, 5)  # type: ignore[arg-type]


def test_lost_ack_event_brings_the_same_event_no_back_and_it_is_not_a_second_press(
    line: tuple[SimBus, Master],
) -> None:
    bus, master = line
    caller = bus.device(CALLER)
    dedup = EventDeduplicator()
    caller.press(Key.CALL_NEXT)
    first = ycbus.decode_event(master.poll(CALLER))  # type: ignore[arg-type]
    assert dedup.accept(CALLER, first.event_no)
    # The ACK_EVENT never reaches the caller (a glitch on the line while it is sent).
    caller.unplug()
    assert master.request(ycbus.ack_event(CALLER, master.next_seq(), first.event_no)) is None
    caller.replug()
    again = ycbus.decode_event(master.poll(CALLER))  # type: ignore[arg-type]
    assert again == first
    assert dedup.accept(CALLER, again.event_no) is False  # a retransmission: ACK again, call once
    master.request(ycbus.ack_event(CALLER, master.next_seq(), again.event_no))
    assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)


def test_chinese_text_reaches_the_caller_and_the_window_panel(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    for addr, line_no, text in [
        (CALLER, 0, "A012"),
        (CALLER, 1, "等候 12"),
        (PANEL, 0, "A012 请到3号窗口"),
        (PANEL, 1, "暂停服务"),
    ]:
        reply = master.request(ycbus.set_display(addr, master.next_seq(), line_no, text))
        assert reply == ycbus.ack(addr, master._seq)
    assert bus.device(CALLER).lines == ("A012", "等候 12")
    assert bus.device(PANEL).text == "A012 请到3号窗口\n暂停服务"


def test_broadcast_reaches_every_display_and_nobody_answers(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    master.send(ycbus.set_display(ycbus.BROADCAST, master.next_seq(), 1, "系统维护"))
    assert bus.device(PANEL).wait_for(lambda d: d.lines[1] == "系统维护")
    assert bus.device(CALLER).wait_for(lambda d: d.lines[1] == "系统维护")
    assert master.recv(timeout=0.1) is None


def test_retransmitted_command_with_the_same_seq_is_not_applied_twice(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    caller = bus.device(CALLER)
    caller.drop_replies(1)  # the caller beeps, but its ACK is lost
    cmd = ycbus.beep(CALLER, master.next_seq(), 200)
    assert master.request(cmd, retries=1) == ycbus.ack(CALLER, cmd.seq)
    assert caller.received.count(cmd) == 2
    assert caller.beeps == (200,)
    # The same bytes with a new seq are a new command.
    assert master.request(ycbus.beep(CALLER, master.next_seq(), 200)) is not None
    assert caller.beeps == (200, 200)


def test_garbled_reply_is_a_crc_error_and_the_retransmit_succeeds(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    bus.device(CALLER).garble_next(1)
    assert master.request(ycbus.poll(CALLER, master.next_seq()), retries=1) == ycbus.idle(CALLER, master._seq)
    assert master.parser.crc_errors == 1


def test_bus_level_faults_hit_whichever_device_answers(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    bus.drop_replies(1)
    bus.garble_next(1)
    assert master.request(ycbus.poll(PANEL, master.next_seq())) is None  # dropped
    assert master.request(ycbus.poll(PAD, master.next_seq())) is None  # garbled
    assert master.parser.crc_errors == 1
    assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)


def test_slow_device_answers_late(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    bus.device(PANEL).delay_replies(0.15)
    started = time.monotonic()
    assert master.request(ycbus.get_info(PANEL, master.next_seq()), timeout=2.0) is not None
    assert time.monotonic() - started >= 0.15
    # A master that gave up early sees a late reply with an old seq: it must ignore it.
    assert master.request(ycbus.poll(PANEL, master.next_seq()), timeout=0.05) is None
    late = master.recv(timeout=1.0)
    assert late == ycbus.idle(PANEL, master._seq)


def test_unplugged_device_is_silent_until_replugged_and_keeps_its_presses(
    line: tuple[SimBus, Master],
) -> None:
    bus, master = line
    caller = bus.device(CALLER)
    caller.unplug()
    caller.press(Key.FINISH)
    assert master.request(ycbus.poll(CALLER, master.next_seq()), retries=1, timeout=0.1) is None
    assert master.poll(PANEL) is not None  # the rest of the line still works
    caller.replug()
    assert ycbus.decode_event(master.poll(CALLER)).key is Key.FINISH  # type: ignore[arg-type]


def test_rebooted_device_restarts_its_event_numbers() -> None:
    caller = SimCaller(CALLER)
    caller.press(Key.CALL_NEXT)
    caller.reboot()
    assert caller.pending == () and caller.lines == ("", "")
    assert caller.press(Key.RECALL) == 1


def test_garbage_on_the_line_does_not_break_the_next_exchange(line: tuple[SimBus, Master]) -> None:
    bus, master = line
    # Junk, then a fake header whose len (200) would swallow the real reply without an idle gap.
    bus.inject_garbage(b"\x00\xff\x7e\x7e\x01\x02\x81\xc8noise")
    assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)
    assert master.parser.dropped_bytes > 0
    # And junk from the master's side of the line must not stall the devices either.
    master.port.write(b"\x7e\x01\x00\x03\xc8\x55\x55")
    assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)
    assert bus.dropped_bytes > 0


def test_commands_a_device_cannot_do_are_nakked(line: tuple[SimBus, Master]) -> None:
    _, master = line

    def reason(frame: Frame) -> NakReason:
        reply = master.request(frame)
        assert reply is not None and reply.type is FrameType.NAK
        return ycbus.decode_nak(reply)

    assert reason(ycbus.set_lamps(CALLER, master.next_seq(), True)) is NakReason.UNKNOWN_TYPE
    assert reason(ycbus.beep(PANEL, master.next_seq(), 100)) is NakReason.UNKNOWN_TYPE
    assert reason(ycbus.set_display(CALLER, master.next_seq(), 2, "x")) is NakReason.BAD_PAYLOAD
    assert reason(Frame(CALLER, master.next_seq(), FrameType.POLL, b"\x00")) is NakReason.BAD_LENGTH
    assert reason(Frame(PAD, master.next_seq(), FrameType.SET_LAMPS, b"\x02")) is NakReason.BAD_PAYLOAD
    assert reason(Frame(PAD, master.next_seq(), 0x42)) is NakReason.UNKNOWN_TYPE


def test_pty_port_vanishes_on_unplug_and_comes_back_on_the_same_link(tmp_path: Path) -> None:
    link = tmp_path / "ttyYC0"
    with SimBus.pty(SimCaller(CALLER), link=link) as bus:
        master = Master(bus.url)
        assert master.poll(CALLER) is not None
        bus.unplug()
        assert not link.exists()
        with pytest.raises(serial.SerialException):
            for _ in range(50):  # the hang-up shows on the next read
                master.port.read(1)
        master.close()
        bus.replug()
        assert os.path.realpath(link).startswith("/dev/pts/")
        master = Master(bus.url)
        try:
            assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)
        finally:
            master.close()


def test_socket_port_refuses_while_unplugged_and_reaccepts_after(tmp_path: Path) -> None:
    with SimBus.tcp(SimCaller(CALLER)) as bus:
        master = Master(bus.url)
        assert master.poll(CALLER) is not None
        bus.unplug()
        with pytest.raises(serial.SerialException):
            for _ in range(50):
                master.port.read(1)
        master.close()
        with pytest.raises(serial.SerialException):
            Master(bus.url)
        bus.replug()
        master = Master(bus.url)
        try:
            assert master.poll(CALLER) == ycbus.idle(CALLER, master._seq)
        finally:
            master.close()
        # A bridge restart: the listener takes the next client.
        master = Master(bus.url)
        try:
            assert master.poll(CALLER) is not None
        finally:
            master.close()


def test_full_event_queue_loses_the_seventeenth_press() -> None:
    caller = SimCaller(CALLER)
    numbers = [caller.press(Key.CALL_NEXT) for _ in range(17)]
    assert numbers[:16] == list(range(1, 17)) and numbers[16] is None
    with pytest.raises(ValueError):
        SimLedPanel(PANEL).press(Key.CALL_NEXT)
    with pytest.raises(ycbus.CodecError):
        SimEvalPad(PAD).press(Key.SCORE, 6)
