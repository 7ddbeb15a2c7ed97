"""A simulated GSM modem that sends SMS in PDU mode (3GPP TS 27.005), over a pty or ``socket://``.

`SimModem` is the device: it answers AT command lines byte for byte as a modem with
verbose result codes (ATV1) does, decodes what it is asked to send with the same codec the
bridge encodes with (`firmware_bridge.codecs.sms_pdu`), and keeps the texts, parts joined,
for tests. `SimModemLine` serves one modem on a port (`hw_sim.pty_port`), as `SimBus` does
for an RS-485 line.

The dialogue (``\\r\\n`` around every response, results as ATV1 gives them)::

    AT\\r                -> (echo) \\r\\nOK\\r\\n
    ATE0\\r              -> (echo) \\r\\nOK\\r\\n          echo off from here on
    AT+CMEE=1\\r         -> \\r\\nOK\\r\\n                numeric +CMS ERROR codes (0: plain ERROR)
    AT+CMGF=0\\r         -> \\r\\nOK\\r\\n                PDU mode (the only one simulated)
    AT+CSCS?\\r          -> \\r\\n+CSCS: "GSM"\\r\\n\\r\\nOK\\r\\n
    AT+CREG?\\r          -> \\r\\n+CREG: 0,1\\r\\n\\r\\nOK\\r\\n  (0,2 while not registered)
    AT+CSQ\\r            -> \\r\\n+CSQ: 21,99\\r\\n\\r\\nOK\\r\\n
    AT+CMGS=<len>\\r     -> \\r\\n>                       then the PDU hex and Ctrl-Z (0x1A)
    <pdu hex>\\x1a       -> \\r\\n+CMGS: <mr>\\r\\n\\r\\nOK\\r\\n
                           or \\r\\n+CMS ERROR: <n>\\r\\n; ESC (0x1B) instead of Ctrl-Z cancels

Faults: `set_registered(False)` (``AT+CREG?`` answers searching and ``AT+CMGS`` answers
``+CMS ERROR: 331``, no network service, without a prompt), `fail_next(n, code)` (the next
n PDUs are refused with ``+CMS ERROR: 500``), `set_silent(True)` (no answer at all), and on
the line `unplug()`/`replug()`. A PDU whose octet count differs from ``<len>`` or that does
not decode gets ``+CMS ERROR: 304`` (invalid PDU mode parameter), as on a real modem.

Nothing here logs a number or a text: they are personal data even in a simulator's log.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from typing import ClassVar, Self

from firmware_bridge.codecs.sms_pdu import (
    CMS_NO_NETWORK,
    CMS_UNKNOWN,
    PduError,
    Reassembler,
    SmsMessage,
    Submit,
    decode_submit,
)
from hw_sim.pty_port import PtyPort, SimPort, TcpPort
from hw_sim.sim_line import SimLine

__all__ = ["SimModem", "SimModemLine"]

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B
CMS_INVALID_PDU = 304  # TS 27.005 §3.2.5: invalid PDU mode parameter
CMS_NOT_SUPPORTED = 303
_MAX_TPDU = 164  # SMSC field excluded: the longest SMS-SUBMIT TPDU (140 octets of user data)
_CMGS = re.compile(r"AT\+CMGS=(\d{1,3})")


class SimModem:
    """The modem: AT dialogue, what it sent, faults. Thread-safe; transport-free (`receive`)."""

    model: ClassVar[str] = "YC-SIM GSM modem"
    version: ClassVar[str] = "1.0.0"

    def __init__(self, *, registered: bool = True, signal: int = 21) -> None:
        self._cond = threading.Condition()
        self._registered = registered
        self._signal = signal
        self._silent = False
        self._fail: list[int | None] = []  # what the next PDUs get, in order: an error code or None (taken)
        self._sent: list[SmsMessage] = []
        self._submissions: list[Submit] = []
        self._commands: list[str] = []
        self._power_on()

    def _power_on(self) -> None:
        self._echo = True
        self._cmee = 0
        self._cmgf = 0
        self._cscs = "GSM"
        self._mr = 0
        self._buffer = bytearray()
        self._pdu_length: int | None = None  # set between the prompt and Ctrl-Z
        self._reassembler = Reassembler()

    # --- control API (tests, demo) ---------------------------------------------------------------

    @property
    def registered(self) -> bool:
        """Whether the modem is registered on the network."""
        with self._cond:
            return self._registered

    def set_registered(self, registered: bool) -> None:
        """Lose or regain the network: unregistered, every send is ``+CMS ERROR: 331``."""
        with self._cond:
            self._registered = registered
            self._cond.notify_all()

    @property
    def signal(self) -> int:
        """What ``AT+CSQ`` reports as RSSI (0-31, 99 unknown)."""
        with self._cond:
            return self._signal

    def set_signal(self, rssi: int) -> None:
        """Set the RSSI ``AT+CSQ`` answers (0-31, or 99 for unknown)."""
        if not (0 <= rssi <= 31 or rssi == 99):
            raise ValueError("RSSI is 0-31 or 99")
        with self._cond:
            self._signal = rssi

    def fail_next(self, n: int = 1, code: int = CMS_UNKNOWN, *, after: int = 0) -> None:
        """Refuse the next `n` PDUs with ``+CMS ERROR: <code>`` (500: unknown error), once
        `after` more have been taken (to fail the second part of a long text)."""
        with self._cond:
            self._fail.extend([None] * after + [code] * n)

    def set_silent(self, silent: bool) -> None:
        """Stop answering anything (a hung or unpowered modem), or answer again."""
        with self._cond:
            self._silent = silent
            self._buffer.clear()
            self._pdu_length = None

    def reboot(self) -> None:
        """Power cycle: echo on, PDU mode, half-typed input and half-joined texts lost."""
        with self._cond:
            self._power_on()
            self._cond.notify_all()

    @property
    def sent(self) -> tuple[SmsMessage, ...]:
        """Every text the network took, its parts joined, in order of the last part."""
        with self._cond:
            return tuple(self._sent)

    @property
    def submissions(self) -> tuple[Submit, ...]:
        """Every PDU the network took (one per part), decoded."""
        with self._cond:
            return tuple(self._submissions)

    @property
    def commands(self) -> tuple[str, ...]:
        """Every command line heard (PDUs excluded), as typed."""
        with self._cond:
            return tuple(self._commands)

    @property
    def echo(self) -> bool:
        """Whether the modem echoes what it hears (ATE1, the power-on default)."""
        with self._cond:
            return self._echo

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 2.0) -> bool:
        """Block until `predicate(self)` holds (re-checked after every command and send)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    # --- the dialogue --------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Bytes from the host in, the modem's answer out (b"" while it has nothing to say)."""
        with self._cond:
            if self._silent:
                return b""
            out = bytearray()
            for byte in data:
                out += self._byte(byte)
            self._cond.notify_all()
            return bytes(out)

    def _byte(self, byte: int) -> bytes:
        if self._pdu_length is not None:
            return self._pdu_byte(byte)
        if byte == 0x0D:  # S3: the end of a command line
            line = self._buffer.decode("ascii", errors="replace").strip()
            self._buffer.clear()
            echo = (line.encode("ascii", errors="replace") + b"\r") if self._echo else b""
            if not line:
                return echo
            self._commands.append(line)
            return echo + self._command(line)
        if byte == 0x0A and not self._buffer:
            return b""  # the LF of a host that ends lines with CR LF
        if len(self._buffer) < 556:  # a real modem's command line buffer is this order of size
            self._buffer.append(byte)
        return b""

    def _pdu_byte(self, byte: int) -> bytes:
        echo = bytes((byte,)) if self._echo else b""
        if byte == ESC:
            self._pdu_length = None
            self._buffer.clear()
            return echo + b"\r\nOK\r\n"
        if byte != CTRL_Z:
            if len(self._buffer) < 2 * (_MAX_TPDU + 13):
                self._buffer.append(byte)
            return echo
        length, self._pdu_length = self._pdu_length, None
        text = self._buffer.decode("ascii", errors="replace")
        self._buffer.clear()
        return echo + self._submit(length or 0, "".join(text.split()))

    def _submit(self, length: int, pdu_hex: str) -> bytes:
        try:
            submit = decode_submit(pdu_hex)
        except PduError:
            return self._error(CMS_INVALID_PDU)
        if submit.length != length:
            return self._error(CMS_INVALID_PDU)
        if not self._registered:
            return self._error(CMS_NO_NETWORK)
        if self._fail and (code := self._fail.pop(0)) is not None:
            return self._error(code)
        self._mr = (self._mr + 1) % 256
        self._submissions.append(submit)
        whole = self._reassembler.add(submit)
        if whole is not None:
            self._sent.append(whole)
            log.info("sim modem sent an SMS parts=%d", whole.parts)
        return f"\r\n+CMGS: {self._mr}\r\n\r\nOK\r\n".encode()

    def _error(self, code: int) -> bytes:
        return f"\r\n+CMS ERROR: {code}\r\n".encode() if self._cmee else b"\r\nERROR\r\n"

    def _command(self, line: str) -> bytes:
        cmd = line.upper().replace(" ", "")
        if not cmd.startswith("AT"):
            return b"\r\nERROR\r\n"
        if (match := _CMGS.fullmatch(cmd)) is not None:
            length = int(match.group(1))
            if not self._registered:
                return self._error(CMS_NO_NETWORK)
            if not 7 <= length <= _MAX_TPDU:
                return self._error(CMS_INVALID_PDU)
            self._pdu_length = length
            return b"\r\n> "
        info = self._info(cmd, line)
        if info is None:
            return b"\r\nERROR\r\n"
        return b"".join(f"\r\n{text}\r\n".encode() for text in info) + b"\r\nOK\r\n"

    def _info(self, cmd: str, line: str) -> list[str] | None:
        """The information lines of a command that ends in OK; None for ERROR."""
        if cmd == "AT":
            return []
        if cmd in ("ATE0", "ATE1", "ATE"):
            self._echo = cmd == "ATE1"
            return []
        if cmd == "ATI":
            return [self.model, f"Revision: {self.version}"]
        if cmd == "AT+CGMM":
            return [self.model]
        if cmd == "AT+CGMR":
            return [f"Revision: {self.version}"]
        if cmd == "AT+CPIN?":
            return ["+CPIN: READY"]
        if cmd in ("AT+CMEE=0", "AT+CMEE=1", "AT+CMEE=2"):
            self._cmee = min(int(cmd[-1]), 1)  # verbose (2) is answered numerically here
            return []
        if cmd == "AT+CMGF=0":
            self._cmgf = 0
            return []
        if cmd == "AT+CMGF?":
            return [f"+CMGF: {self._cmgf}"]
        if cmd == "AT+CMGF=?":
            return ["+CMGF: (0)"]
        if cmd == "AT+CSCS?":
            return [f'+CSCS: "{self._cscs}"']
        if cmd.startswith('AT+CSCS="') and cmd.endswith('"'):
            self._cscs = line.strip()[9:-1]
            return []
        if cmd == "AT+CREG?":
            return [f"+CREG: 0,{1 if self._registered else 2}"]
        if cmd in ("AT+CREG=0", "AT+CREG=1", "AT+CREG=2"):
            return []
        if cmd == "AT+CSQ":
            return [f"+CSQ: {self._signal},99"]
        return None


class SimModemLine(SimLine):
    """Serves one `SimModem` on a pty pair or a ``socket://`` listener from a daemon thread
    (`hw_sim.sim_line.SimLine`); after `replug()` the modem powers up afresh (echo on)."""

    NAME = "simmodem"

    def __init__(self, port: SimPort, modem: SimModem) -> None:
        super().__init__(port)
        self.modem = modem

    @classmethod
    def pty(cls, modem: SimModem, link: str | os.PathLike[str] | None = None) -> Self:
        """The modem behind a pty (the bridge opens `url`: the slave, or `link` when given)."""
        return cls(PtyPort(link), modem)

    @classmethod
    def tcp(cls, modem: SimModem, port: int = 0) -> Self:
        """The modem behind ``socket://127.0.0.1:PORT`` (`port=0` picks a free one)."""
        return cls(TcpPort(port), modem)

    def _on_data(self, data: bytes) -> None:
        reply = self.modem.receive(data) if data else b""
        if reply:
            self._reply(reply)

    def _reset(self) -> None:
        """A USB modem plugged back in has just powered up."""
        self.modem.reboot()
