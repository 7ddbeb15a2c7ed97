"""The simulated GSM modem byte for byte, and the bridge's modem driver against it over real ports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from firmware_bridge.codecs.sms_pdu import SmsMessage, encode_submit
from firmware_bridge.line_drivers import DRIVERS, STANDARD, UnsupportedProtocol, make_line
from firmware_bridge.modem import ModemLine, SmsOutcome, mask_number
from hw_sim.gsm_modem import SimModem, SimModemLine
from hw_sim.hall_sim import HallSim
from yichuang.config import load_config
from yichuang.config_model import DeviceConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "hall.example.toml"
HELLO = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"  # "hellohello" to +46708251358
# docs/hardware.md's worked example: "取件码 482913" to +8613812345678, 35 octets
CODE_PDU = "0011000D91683118325476F80008AA1453D64EF678010020003400380032003900310033"


class Terminal:
    """A host on the modem's port, as a technician's terminal program would be."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, baudrate=115200, timeout=0.05)

    def send(self, data: bytes, expect: bytes | None = None, timeout: float = 2.0) -> bytes:
        """Write, then read until `expect` has come (or, without it, until 0.2 s of silence)."""
        self.port.write(data)
        got = b""
        deadline = time.monotonic() + timeout
        quiet_until = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            chunk = self.port.read(256)
            if chunk:
                got += chunk
                quiet_until = time.monotonic() + 0.2
                if expect is not None and got == expect:
                    return got
            elif expect is None and time.monotonic() >= quiet_until:
                break
        return got

    def close(self) -> None:
        self.port.close()


@pytest.fixture(params=["pty", "tcp"])
def modem(request: pytest.FixtureRequest) -> Iterator[tuple[SimModem, SimModemLine]]:
    sim = SimModem()
    line = SimModemLine.pty(sim) if request.param == "pty" else SimModemLine.tcp(sim)
    with line:
        yield sim, line


def test_the_dialogue_byte_for_byte(modem: tuple[SimModem, SimModemLine]) -> None:
    sim, line = modem
    term = Terminal(line.url)
    try:
        exchanges = [
            (b"AT\r", b"AT\r\r\nOK\r\n"),  # echo is on at power-up
            (b"ATE0\r", b"ATE0\r\r\nOK\r\n"),  # still echoed: it was on when heard
            (b"AT\r", b"\r\nOK\r\n"),
            (b"AT+CMEE=1\r", b"\r\nOK\r\n"),
            (b"AT+CMGF=0\r", b"\r\nOK\r\n"),
            (b"AT+CMGF?\r", b"\r\n+CMGF: 0\r\n\r\nOK\r\n"),
            (b"AT+CSCS?\r", b'\r\n+CSCS: "GSM"\r\n\r\nOK\r\n'),
            (b"AT+CREG?\r", b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
            (b"AT+CSQ\r", b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n"),
            (b"AT+CMGS=35\r", b"\r\n> "),
            (CODE_PDU.encode() + b"\x1a", b"\r\n+CMGS: 1\r\n\r\nOK\r\n"),
            (b"AT+CMGS=23\r", b"\r\n> "),
            (HELLO.encode() + b"\x1a", b"\r\n+CMGS: 2\r\n\r\nOK\r\n"),
            (b"AT+CMGS=23\r", b"\r\n> "),
            (b"\x1b", b"\r\nOK\r\n"),  # ESC at the prompt: nothing sent
            (b"AT+CMGS=22\r", b"\r\n> "),
            (HELLO.encode() + b"\x1a", b"\r\n+CMS ERROR: 304\r\n"),  # 23 octets announced as 22
            (b"AT+CMGS=23\r", b"\r\n> "),
            (b"00110\x1a", b"\r\n+CMS ERROR: 304\r\n"),  # not a PDU
            (b"AT+NONSENSE\r", b"\r\nERROR\r\n"),
            (b"AT+CMEE=0\r", b"\r\nOK\r\n"),
            (b"AT+CMGS=23\r", b"\r\n> "),
            (HELLO.encode() + b"\x1a", b"\r\n+CMGS: 3\r\n\r\nOK\r\n"),
        ]
        for command, answer in exchanges:
            assert term.send(command, answer) == answer, command
    finally:
        term.close()
    hello = SmsMessage("+46708251358", "hellohello", 1)
    assert sim.sent == (SmsMessage("+8613812345678", "取件码 482913", 1), hello, hello)
    assert sim.commands[:3] == ("AT", "ATE0", "AT")


def test_a_long_chinese_text_is_joined_from_its_parts(modem: tuple[SimModem, SimModemLine]) -> None:
    sim, line = modem
    text = "您的办件结果已放入自助文件柜，取件码 482913。" * 4  # 104 characters: 2 parts
    parts = encode_submit("+8613812345678", text, reference=7)
    term = Terminal(line.url)
    try:
        term.send(b"ATE0\r", b"ATE0\r\r\nOK\r\n")
        for mr, part in enumerate(parts, start=1):
            assert term.send(f"AT+CMGS={part.length}\r".encode(), b"\r\n> ") == b"\r\n> "
            expected = f"\r\n+CMGS: {mr}\r\n\r\nOK\r\n".encode()
            assert term.send(part.hex.encode() + b"\x1a", expected) == expected
    finally:
        term.close()
    assert sim.sent == (SmsMessage("+8613812345678", text, 2),)
    assert [s.concat.seq for s in sim.submissions if s.concat] == [1, 2]


def test_faults_not_registered_failed_sends_and_silence(modem: tuple[SimModem, SimModemLine]) -> None:
    sim, line = modem
    term = Terminal(line.url)
    try:
        term.send(b"ATE0\r", b"ATE0\r\r\nOK\r\n")
        term.send(b"AT+CMEE=1\r", b"\r\nOK\r\n")
        sim.set_registered(False)
        assert term.send(b"AT+CREG?\r", b"\r\n+CREG: 0,2\r\n\r\nOK\r\n") == b"\r\n+CREG: 0,2\r\n\r\nOK\r\n"
        # no network: refused at once, no prompt
        assert term.send(b"AT+CMGS=23\r", b"\r\n+CMS ERROR: 331\r\n") == b"\r\n+CMS ERROR: 331\r\n"
        sim.set_registered(True)
        sim.fail_next(2)
        for _ in range(2):
            term.send(b"AT+CMGS=23\r", b"\r\n> ")
            assert (
                term.send(HELLO.encode() + b"\x1a", b"\r\n+CMS ERROR: 500\r\n") == b"\r\n+CMS ERROR: 500\r\n"
            )
        term.send(b"AT+CMGS=23\r", b"\r\n> ")
        assert (
            term.send(HELLO.encode() + b"\x1a", b"\r\n+CMGS: 1\r\n\r\nOK\r\n")
            == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
        )
        sim.set_silent(True)
        assert term.send(b"AT\r") == b""
        sim.set_silent(False)
        assert term.send(b"AT\r", b"\r\nOK\r\n") == b"\r\nOK\r\n"
    finally:
        term.close()
    assert len(sim.sent) == 1


def test_the_example_hall_simulates_its_modem(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    with HallSim(config, "pty", link_dir=tmp_path) as sim:
        assert sim.urls["/dev/ttyUSB3"] == str(tmp_path / "ttyGSM0")
        assert sim.modem("modem-01").registered
        term = Terminal(sim.urls["/dev/ttyUSB3"])
        try:
            assert term.send(b"AT+CSQ\r", b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n").endswith(b"OK\r\n")
        finally:
            term.close()
        assert sim.modem_line_of("modem-01").url == sim.urls["/dev/ttyUSB3"]
    assert not (tmp_path / "ttyGSM0").exists()


# --- the driver ---------------------------------------------------------------------------------


class Driven:
    """A `ModemLine` on a simulated modem, recording what it reports."""

    def __init__(self, sim: SimModem, url: str, **options: Any) -> None:
        self.online: list[bool] = []
        self.outcomes: list[SmsOutcome] = []
        self._cond = threading.Condition()
        device = DeviceConfig(id="modem-01", kind="modem", port=url, bridge="bridge-01")
        settings: dict[str, Any] = {
            "check_s": 0.2,
            "retry_pause_s": 0.05,
            "command_timeout_s": 0.5,
            "prompt_timeout_s": 0.5,
            "send_timeout_s": 1.0,
        }
        self.line = make_line(
            url, [device], self._press, self._online, reply_timeout_s=0.05, **settings | options
        )
        assert isinstance(self.line, ModemLine)
        self.line.on_sms = self._outcome
        self.sim = sim

    def _press(self, *_: object) -> None:
        raise AssertionError("a modem has no keys")

    def _online(self, _device: DeviceConfig, online: bool) -> None:
        with self._cond:
            self.online.append(online)
            self._cond.notify_all()

    def _outcome(self, outcome: SmsOutcome) -> None:
        with self._cond:
            self.outcomes.append(outcome)
            self._cond.notify_all()

    def wait(self, predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
        with self._cond:
            return self._cond.wait_for(predicate, timeout)


@pytest.fixture
def driven(modem: tuple[SimModem, SimModemLine]) -> Iterator[Driven]:
    sim, line = modem
    wiring = Driven(sim, line.url)
    wiring.line.start()
    try:
        yield wiring
    finally:
        wiring.line.stop()


def test_the_modem_protocol_is_registered() -> None:
    assert STANDARD["modem"] == "at" and DRIVERS["at"] is ModemLine
    devices = [DeviceConfig(id=f"m{i}", kind="modem", port="socket://127.0.0.1:9") for i in range(2)]
    with pytest.raises(UnsupportedProtocol):
        make_line("socket://127.0.0.1:9", devices, print, print)


def test_the_driver_initialises_the_modem_and_sends_a_two_part_text(driven: Driven) -> None:
    assert driven.wait(lambda: driven.online == [True])
    text = "您的办件结果已放入自助文件柜，取件码 482913，请于7日内取件。" * 3  # 2 parts
    driven.line.send_sms("modem-01", "+8613812345678", text, "sms-1")
    assert driven.wait(lambda: len(driven.outcomes) == 1)
    assert driven.outcomes == [SmsOutcome("modem-01", "sms-1", True, parts=2)]
    assert driven.sim.sent == (SmsMessage("+8613812345678", text, 2),)
    assert driven.sim.commands[:4] == ("AT", "ATE0", "AT+CMEE=1", "AT+CMGF=0")
    assert not driven.sim.echo
    assert driven.line.telemetry() == {
        "signal": 21,
        "registered": True,
        "sent": 1,
        "failed": 0,
        "queued": 0,
    }


def test_a_text_that_cannot_be_encoded_fails_at_once_and_the_next_still_goes(driven: Driven) -> None:
    driven.line.send_sms("modem-01", "138-1234-5678", "code", "sms-bad")  # the bridge validates first
    driven.line.send_sms("modem-01", "13812345678", "code", "sms-good")
    assert driven.wait(lambda: len(driven.outcomes) == 2)
    assert driven.outcomes[0] == SmsOutcome("modem-01", "sms-bad", False, error="invalid_request")
    assert driven.outcomes[1].ok and len(driven.sim.sent) == 1


def test_a_retry_resumes_at_the_part_that_failed(driven: Driven) -> None:
    assert driven.wait(lambda: driven.online == [True])
    text = "取件码 482913。" * 12  # 132 characters: 2 parts
    driven.sim.fail_next(1, after=1)  # the first part goes, the second is refused once
    driven.line.send_sms("modem-01", "13812345678", text, "sms-2")
    assert driven.wait(lambda: len(driven.outcomes) == 1)
    assert driven.outcomes[0].ok and driven.outcomes[0].parts == 2
    assert [s.concat.seq for s in driven.sim.submissions if s.concat] == [1, 2]  # part 1 not sent twice
    assert driven.sim.sent == (SmsMessage("13812345678", text, 2),)
    assert driven.line.counters()["retransmits"] == 1


def test_three_refusals_fail_the_text_and_an_id_is_sent_once(driven: Driven) -> None:
    assert driven.wait(lambda: driven.online == [True])
    driven.sim.fail_next(3)
    driven.line.send_sms("modem-01", "13812345678", "code 1", "sms-3")
    assert driven.wait(lambda: len(driven.outcomes) == 1)
    assert driven.outcomes[0] == SmsOutcome("modem-01", "sms-3", False, error="send_failed")
    assert driven.sim.sent == ()
    driven.line.send_sms("modem-01", "13812345678", "code 1", "sms-3")  # a failed id may be tried again
    driven.line.send_sms("modem-01", "13812345678", "code 1", "sms-3")  # a sent one is not
    assert driven.wait(lambda: len(driven.outcomes) == 3)
    assert driven.outcomes[1:] == [
        SmsOutcome("modem-01", "sms-3", True, parts=1),
        SmsOutcome("modem-01", "sms-3", True, parts=1, repeat=True),
    ]
    assert len(driven.sim.submissions) == 1
    assert driven.line.counters()["sms_repeated"] == 1


def test_an_unregistered_modem_is_offline_and_its_texts_fail_not_registered(driven: Driven) -> None:
    assert driven.wait(lambda: driven.online == [True])
    driven.sim.set_registered(False)
    assert driven.wait(lambda: driven.online == [True, False])
    assert driven.line.registered is False
    driven.line.send_sms("modem-01", "13812345678", "code 2", "sms-4")
    assert driven.wait(lambda: len(driven.outcomes) == 1)
    assert driven.outcomes[0].error == "not_registered"
    driven.sim.set_registered(True)
    assert driven.wait(lambda: driven.online == [True, False, True])


def test_a_silent_modem_goes_offline_times_out_and_is_initialised_again(driven: Driven) -> None:
    assert driven.wait(lambda: driven.online == [True])
    driven.sim.set_silent(True)
    assert driven.wait(lambda: driven.online == [True, False])
    assert driven.line.registered is None and driven.line.signal is None
    driven.line.send_sms("modem-01", "13812345678", "code 3", "sms-5")
    assert driven.wait(lambda: len(driven.outcomes) == 1)
    assert driven.outcomes[0].error == "timeout"
    driven.sim.reboot()  # it comes back with echo on: the driver must set it up again
    driven.sim.set_silent(False)
    assert driven.wait(lambda: driven.online == [True, False, True])
    assert not driven.sim.echo
    driven.line.send_sms("modem-01", "13812345678", "code 3", "sms-5")
    assert driven.wait(lambda: len(driven.outcomes) == 2)
    assert driven.outcomes[1].ok


def test_a_modem_that_rebooted_unnoticed_still_sends(driven: Driven) -> None:
    assert driven.wait(lambda: driven.online == [True])
    driven.sim.reboot()  # echo back on, and nobody told the driver
    driven.line.send_sms("modem-01", "+8613812345678", "取件码 482913", "sms-6")
    assert driven.wait(lambda: len(driven.outcomes) == 1)
    assert driven.outcomes[0].ok
    assert driven.sim.sent == (SmsMessage("+8613812345678", "取件码 482913", 1),)


def test_an_unplugged_port_is_reopened(modem: tuple[SimModem, SimModemLine]) -> None:
    sim, line = modem
    wiring = Driven(sim, line.url)
    wiring.line.start()
    try:
        assert wiring.wait(lambda: wiring.online == [True])
        line.unplug()
        assert wiring.wait(lambda: wiring.online == [True, False])
        line.replug()
        assert wiring.wait(lambda: wiring.online == [True, False, True], timeout=8)
        wiring.line.send_sms("modem-01", "13812345678", "back", "sms-7")
        assert wiring.wait(lambda: len(wiring.outcomes) == 1)
        assert wiring.outcomes[0].ok
    finally:
        wiring.line.stop()


def test_sent_ids_are_remembered_for_24_hours() -> None:
    sim = SimModem()
    now = [1_800_000_000.0]
    with SimModemLine.tcp(sim) as line:
        wiring = Driven(sim, line.url, clock=lambda: now[0])
        wiring.line.start()
        try:
            wiring.line.send_sms("modem-01", "13812345678", "code", "sms-8")
            assert wiring.wait(lambda: len(wiring.outcomes) == 1)
            now[0] += 24 * 3600 - 1
            wiring.line.send_sms("modem-01", "13812345678", "code", "sms-8")
            assert wiring.wait(lambda: len(wiring.outcomes) == 2)
            assert wiring.outcomes[1].repeat
            now[0] += 2
            wiring.line.send_sms("modem-01", "13812345678", "code", "sms-8")
            assert wiring.wait(lambda: len(wiring.outcomes) == 3)
            assert not wiring.outcomes[2].repeat
            assert len(sim.sent) == 2
        finally:
            wiring.line.stop()


def test_mask_number() -> None:
    assert mask_number("13812345678") == "138****5678"
    assert mask_number("+8613812345678") == "+86138****5678"
    assert mask_number("+4915112345678") == "+491******5678"
    assert mask_number("12345") == "*****"
