"""SMS-SUBMIT PDUs (3GPP TS 23.040) for a GSM modem in PDU mode (AT+CMGF=0, 3GPP TS 27.005).

What goes after ``AT+CMGS=<length>`` and the modem's ``> `` prompt is one hex string:

    00 | first octet | TP-MR | TP-DA | TP-PID | TP-DCS | TP-VP | TP-UDL | TP-UD

- ``00``: no SMSC address, the modem uses the SIM's. It is not part of the TPDU, so
  ``<length>`` counts the octets after it.
- first octet: TP-MTI 01 (SMS-SUBMIT), TP-VPF 10 (relative validity present) and TP-UDHI
  (0x40) when the user data starts with a header: 0x11, or 0x51 for a part of a long text.
- TP-MR ``00``: the modem numbers the message itself (and answers ``+CMGS: <mr>``).
- TP-DA: digit count, type of address (0x91 international for ``+86…``, 0x81 for a
  national number), the digits as swapped semi-octets padded with ``F``.
- TP-PID 00; TP-DCS 0x00 (GSM 7-bit default alphabet, 160 characters) when every character
  is in that alphabet, else 0x08 (UCS2, 70 UTF-16 units: Chinese always).
- TP-VP relative: 0xAA = 4 days, so a code sent while the phone is off still arrives.
- A longer text goes as concatenated parts, each with the header ``05 00 03 ref total seq``
  (IEI 0x00, 8-bit reference): 153 septets or 67 UTF-16 units a part.

Also here, for the simulator and the tests: `decode_submit` (what `encode_submit` writes,
plus the other SMS-SUBMIT variants a modem might be handed), `Reassembler` (parts back into
one text) and the parsers of the modem's result lines (``+CMGS: <mr>``, ``+CMS ERROR: <n>``,
``+CREG``, ``+CSQ``). Pure: no I/O, no clock. A PDU carries the number and the text, so
neither it nor its hex belongs in a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from yichuang.errors import YichuangError

__all__ = [
    "CMS_NETWORK_TIMEOUT",
    "CMS_NO_NETWORK",
    "CMS_UNKNOWN",
    "DCS_GSM7",
    "DCS_UCS2",
    "GSM7_PART_SEPTETS",
    "GSM7_SINGLE_SEPTETS",
    "UCS2_PART_UNITS",
    "UCS2_SINGLE_UNITS",
    "VALIDITY_4_DAYS",
    "Alphabet",
    "CmgsResult",
    "CmsError",
    "Concat",
    "PduError",
    "Reassembler",
    "SmsMessage",
    "Submit",
    "SubmitPdu",
    "alphabet_for",
    "decode_address",
    "decode_submit",
    "encode_address",
    "encode_submit",
    "gsm7_decode",
    "gsm7_septets",
    "pack_septets",
    "parse_creg",
    "parse_csq",
    "parse_result_line",
    "unpack_septets",
    "validity_seconds",
]

DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
VALIDITY_4_DAYS = 0xAA  # relative TP-VP: 167 < 0xAA <= 196 -> (0xAA - 166) days

GSM7_SINGLE_SEPTETS = 160
GSM7_PART_SEPTETS = 153  # 160 minus the 7 septets the 6-octet header and its fill bit take
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67  # (140 - 6) / 2

# TS 27.005 §3.2.5 message service failure results that the bridge tells apart
CMS_NO_NETWORK = 331
CMS_NETWORK_TIMEOUT = 332
CMS_UNKNOWN = 500

_FO_SUBMIT = 0x01
_FO_VPF_RELATIVE = 0x10
_FO_VPF_MASK = 0x18
_FO_UDHI = 0x40
_TOA_INTERNATIONAL = 0x91
_TOA_NATIONAL = 0x81  # type "unknown", ISDN plan: what a handset sends for a number typed without +
_IEI_CONCAT_8 = 0x00
_IEI_CONCAT_16 = 0x08
_MAX_DIGITS = 20
_MAX_PARTS = 255

Alphabet = Literal["gsm7", "ucs2"]

# 3GPP TS 23.038 §6.2.1, the default alphabet; 0x1B is the escape to the extension table
_GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_ESC = 0x1B
_GSM7_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D}
_GSM7_EXTENSION |= {"]": 0x3E, "|": 0x40, "€": 0x65}
_GSM7_CODE = {ch: code for code, ch in enumerate(_GSM7_BASIC) if code != _ESC}
_GSM7_EXT_CHAR = {code: ch for ch, code in _GSM7_EXTENSION.items()}


class PduError(YichuangError, ValueError):
    """A number, text or PDU that cannot be encoded or does not decode."""


# --- GSM 7-bit default alphabet --------------------------------------------------------------


def _char_septets(ch: str) -> tuple[int, ...] | None:
    code = _GSM7_CODE.get(ch)
    if code is not None:
        return (code,)
    ext = _GSM7_EXTENSION.get(ch)
    return (_ESC, ext) if ext is not None else None


def gsm7_septets(text: str) -> list[int] | None:
    """The septets of `text` in the default alphabet (extension characters take two), or None
    when some character is not in it."""
    out: list[int] = []
    for ch in text:
        septets = _char_septets(ch)
        if septets is None:
            return None
        out.extend(septets)
    return out


def gsm7_decode(septets: Iterable[int]) -> str:
    """Septets back to text; an unknown extension code reads as its basic character (23.038)."""
    out: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            out.append(_GSM7_EXT_CHAR.get(septet, _GSM7_BASIC[septet]))
            escaped = False
        elif septet == _ESC:
            escaped = True
        else:
            out.append(_GSM7_BASIC[septet])
    return "".join(out)


def pack_septets(septets: Iterable[int], fill_bits: int = 0) -> bytes:
    """Septets packed LSB first into octets, after `fill_bits` zero bits (TS 23.038 §6.1.2.1.1)."""
    out = bytearray()
    acc, nbits = 0, fill_bits
    for septet in septets:
        acc |= (septet & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """`count` septets from `data`, skipping `fill_bits` leading bits."""
    value = int.from_bytes(data, "little")
    needed = fill_bits + 7 * count
    if needed > 8 * len(data):
        raise PduError(f"{count} septets need {(needed + 7) // 8} octets, have {len(data)}")
    return [(value >> (fill_bits + 7 * i)) & 0x7F for i in range(count)]


def alphabet_for(text: str) -> Alphabet:
    """GSM 7-bit when every character is in the default alphabet or its extension, else UCS2."""
    return "gsm7" if gsm7_septets(text) is not None else "ucs2"


# --- addresses ----------------------------------------------------------------------------------


def _digits_of(number: str) -> tuple[str, bool]:
    international = number.startswith("+")
    digits = number[1:] if international else number
    if not digits.isascii() or not digits.isdigit() or not 1 <= len(digits) <= _MAX_DIGITS:
        raise PduError(f"a phone number is 1-{_MAX_DIGITS} digits with an optional leading +")
    return digits, international


def encode_address(number: str) -> bytes:
    """TP-DA: digit count, type of address (0x91 for ``+…``, else 0x81), swapped semi-octets."""
    digits, international = _digits_of(number)
    padded = digits + "F" * (len(digits) % 2)
    semi = bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))
    return bytes((len(digits), _TOA_INTERNATIONAL if international else _TOA_NATIONAL)) + semi


def decode_address(data: bytes, offset: int = 0) -> tuple[str, int]:
    """The number at `offset` (``+`` prefixed when international) and the offset after it."""
    if offset + 2 > len(data):
        raise PduError("address truncated")
    ndigits, toa = data[offset], data[offset + 1]
    if toa & 0x70 == 0x50:
        raise PduError("alphanumeric addresses are not phone numbers")
    end = offset + 2 + (ndigits + 1) // 2
    if end > len(data) or not 1 <= ndigits <= _MAX_DIGITS:
        raise PduError("address truncated or too long")
    swapped = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data[offset + 2 : end])[:ndigits]
    if not swapped.isdigit():
        raise PduError("address has non-digit semi-octets")
    return ("+" if toa & 0x70 == 0x10 else "") + swapped, end


# --- encoding -----------------------------------------------------------------------------------


class SubmitPdu(NamedTuple):
    """One ``AT+CMGS`` worth: the hex after the prompt and the ``<length>`` to announce."""

    hex: str
    length: int  # TPDU octets: everything after the leading "00" (the SMSC field)


def _split(units: list[tuple[int, ...]], single: int, per_part: int) -> list[list[int]]:
    """Characters (as groups of septets or UTF-16 units that must stay together) into parts."""
    if sum(len(u) for u in units) <= single:
        return [[x for u in units for x in u]]
    parts: list[list[int]] = [[]]
    for unit in units:
        if len(parts[-1]) + len(unit) > per_part:
            parts.append([])
        parts[-1].extend(unit)
    return parts


def encode_submit(
    number: str,
    text: str,
    *,
    reference: int = 0,
    validity: int | None = VALIDITY_4_DAYS,
    alphabet: Alphabet | None = None,
) -> list[SubmitPdu]:
    """The SMS-SUBMIT PDUs that carry `text` to `number`, one per part, in order.

    `reference` (0-255) ties the parts of one long text together on the phone, so it should
    change from one long text to the next. `validity` is a relative TP-VP (None: none sent).
    `alphabet` forces one; by default GSM 7-bit when the text fits it, else UCS2.
    """
    if not text:
        raise PduError("an SMS needs some text")
    if not 0 <= reference <= 255:
        raise PduError("the concatenation reference is 0-255")
    if validity is not None and not 0 <= validity <= 255:
        raise PduError("a relative validity period is one octet")
    address = encode_address(number)
    chosen = alphabet or alphabet_for(text)
    if chosen == "gsm7":
        groups: list[tuple[int, ...]] = []
        for ch in text:
            septets = _char_septets(ch)
            if septets is None:
                raise PduError("the text has characters outside the GSM 7-bit alphabet")
            groups.append(septets)
        parts = _split(groups, GSM7_SINGLE_SEPTETS, GSM7_PART_SEPTETS)
        dcs = DCS_GSM7
    else:
        groups = []
        for ch in text:
            raw = ch.encode("utf-16-be")
            # a character beyond the BMP is a surrogate pair: both halves go in the same part
            groups.append(tuple(int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)))
        parts = _split(groups, UCS2_SINGLE_UNITS, UCS2_PART_UNITS)
        dcs = DCS_UCS2
    if len(parts) > _MAX_PARTS:
        raise PduError(f"the text needs {len(parts)} parts, at most {_MAX_PARTS} can be joined")
    first = _FO_SUBMIT | (_FO_VPF_RELATIVE if validity is not None else 0)
    vp = bytes((validity,)) if validity is not None else b""
    out: list[SubmitPdu] = []
    for seq, part in enumerate(parts, start=1):
        header = bytes((5, _IEI_CONCAT_8, 3, reference, len(parts), seq)) if len(parts) > 1 else b""
        if dcs == DCS_GSM7:
            # the header takes whole octets; fill bits bring the first septet to a septet boundary
            header_septets = (len(header) * 8 + 6) // 7
            fill = header_septets * 7 - len(header) * 8
            ud = header + pack_septets(part, fill)
            udl = header_septets + len(part)
        else:
            ud = header + b"".join(unit.to_bytes(2, "big") for unit in part)
            udl = len(ud)
        tpdu = (
            bytes((first | (_FO_UDHI if header else 0), 0x00))
            + address
            + bytes((0x00, dcs))
            + vp
            + bytes((udl,))
            + ud
        )
        out.append(SubmitPdu("00" + tpdu.hex().upper(), len(tpdu)))
    return out


# --- decoding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concat:
    """The concatenation header of one part: which text, how many parts, which one this is."""

    reference: int
    total: int
    seq: int


@dataclass(frozen=True)
class Submit:
    """A decoded SMS-SUBMIT (one part)."""

    number: str
    text: str
    dcs: int
    message_reference: int
    validity: int | None  # the relative TP-VP octet; None when absent (or not relative)
    concat: Concat | None
    length: int  # TPDU octets, what AT+CMGS should have announced


def _alphabet_of(dcs: int) -> str:
    group = dcs & 0xF0
    if group in (0x00, 0x10, 0x20, 0x30):  # general data coding (compression not supported)
        if dcs & 0x20:
            raise PduError("compressed user data is not supported")
        return {0x00: "gsm7", 0x04: "8bit", 0x08: "ucs2"}.get(dcs & 0x0C, "reserved")
    if group == 0xF0:
        return "8bit" if dcs & 0x04 else "gsm7"
    if group in (0xC0, 0xD0):
        return "gsm7"
    if group == 0xE0:
        return "ucs2"
    raise PduError(f"data coding scheme 0x{dcs:02X} is not supported")


def _concat_of(header: bytes) -> Concat | None:
    i = 0
    while i + 2 <= len(header):
        iei, length = header[i], header[i + 1]
        data = header[i + 2 : i + 2 + length]
        if len(data) != length:
            raise PduError("user data header truncated")
        if iei == _IEI_CONCAT_8 and length == 3:
            return Concat(data[0], data[1], data[2])
        if iei == _IEI_CONCAT_16 and length == 4:
            return Concat(int.from_bytes(data[:2], "big"), data[2], data[3])
        i += 2 + length
    return None


def decode_submit(pdu_hex: str, *, with_smsc: bool = True) -> Submit:
    """One SMS-SUBMIT from the hex a modem is given after its prompt (SMSC field first, unless
    `with_smsc` is False: the TPDU alone)."""
    try:
        data = bytes.fromhex(pdu_hex.strip())
    except ValueError:
        raise PduError("a PDU is hex digits") from None
    if with_smsc:
        if not data:
            raise PduError("empty PDU")
        data = data[1 + data[0] :]
    if len(data) < 7:
        raise PduError("PDU too short")
    first = data[0]
    if first & 0x03 != _FO_SUBMIT:
        raise PduError(f"not an SMS-SUBMIT (first octet 0x{first:02X})")
    mr = data[1]
    number, i = decode_address(data, 2)
    if i + 3 > len(data):
        raise PduError("PDU truncated after the address")
    dcs = data[i + 1]
    i += 2
    vpf = first & _FO_VPF_MASK
    validity: int | None = None
    if vpf == _FO_VPF_RELATIVE:
        validity = data[i]
        i += 1
    elif vpf:
        i += 7  # enhanced or absolute: seven octets, not used here
    if i >= len(data):
        raise PduError("PDU truncated before the user data length")
    udl = data[i]
    ud = data[i + 1 :]
    alphabet = _alphabet_of(dcs)
    header = b""
    if first & _FO_UDHI:
        if not ud or 1 + ud[0] > len(ud):
            raise PduError("user data header truncated")
        header = ud[1 : 1 + ud[0]]
    if alphabet == "gsm7":
        expected_octets = (udl * 7 + 7) // 8
        if len(ud) != expected_octets:
            raise PduError(f"{udl} septets are {expected_octets} octets, the PDU has {len(ud)}")
        header_octets = len(header) + 1 if first & _FO_UDHI else 0  # the header and its length octet
        header_septets = (header_octets * 8 + 6) // 7
        fill = header_septets * 7 - header_octets * 8
        count = udl - header_septets
        if count < 0:
            raise PduError("user data length shorter than its header")
        text = gsm7_decode(unpack_septets(ud[header_octets:], count, fill))
    else:
        if len(ud) != udl:
            raise PduError(f"user data length {udl}, the PDU has {len(ud)} octets")
        body = ud[len(header) + 1 :] if first & _FO_UDHI else ud
        if alphabet == "ucs2":
            if len(body) % 2:
                raise PduError("UCS2 user data has an odd number of octets")
            text = body.decode("utf-16-be", errors="replace")
        elif alphabet == "8bit":
            text = body.decode("latin-1")
        else:
            raise PduError(f"data coding scheme 0x{dcs:02X} is reserved")
    return Submit(number, text, dcs, mr, validity, _concat_of(header), len(data))


@dataclass(frozen=True)
class SmsMessage:
    """A whole text as the phone shows it, its parts joined."""

    number: str
    text: str
    parts: int


class Reassembler:
    """Joins the parts of long texts (by number, reference and part count), as a phone does.

    A part heard twice (a retry after a lost result) replaces the first copy.
    """

    def __init__(self) -> None:
        self._partial: dict[tuple[str, int, int], dict[int, str]] = {}

    def add(self, submit: Submit) -> SmsMessage | None:
        """The whole message once its last missing part arrives; None while parts are missing."""
        concat = submit.concat
        if concat is None or concat.total <= 1:
            return SmsMessage(submit.number, submit.text, 1)
        key = (submit.number, concat.reference, concat.total)
        parts = self._partial.setdefault(key, {})
        parts[concat.seq] = submit.text
        if len(parts) < concat.total or set(parts) != set(range(1, concat.total + 1)):
            return None
        del self._partial[key]
        return SmsMessage(submit.number, "".join(parts[n] for n in range(1, concat.total + 1)), concat.total)

    @property
    def pending(self) -> int:
        """Long texts with parts still missing."""
        return len(self._partial)


def validity_seconds(vp: int) -> int:
    """How long a relative TP-VP keeps a message at the SMSC (TS 23.040 §9.2.3.12.1)."""
    if not 0 <= vp <= 255:
        raise PduError("a relative validity period is one octet")
    if vp <= 143:
        return (vp + 1) * 5 * 60
    if vp <= 167:
        return 12 * 3600 + (vp - 143) * 30 * 60
    if vp <= 196:
        return (vp - 166) * 86400
    return (vp - 192) * 7 * 86400


# --- result lines (TS 27.005 / 27.007) ------------------------------------------------------------


@dataclass(frozen=True)
class CmgsResult:
    """``+CMGS: <mr>``: the network took the message; `mr` is its message reference."""

    mr: int


@dataclass(frozen=True)
class CmsError:
    """``+CMS ERROR: <n>`` (numeric with AT+CMEE=1; `code` None for a verbose text)."""

    code: int | None
    text: str = ""


_CMGS = re.compile(r"\+CMGS:\s*(\d{1,3})\b")
_CMS_ERROR = re.compile(r"\+CMS ERROR:\s*(.*)")
_CREG = re.compile(r"\+CREG:\s*(\d+)(?:\s*,\s*(\d+))?")
_CSQ = re.compile(r"\+CSQ:\s*(\d+)\s*,\s*(\d+)")


def parse_result_line(line: str) -> CmgsResult | CmsError | None:
    """``+CMGS: 12`` -> CmgsResult(12); ``+CMS ERROR: 500`` -> CmsError(500); anything else None."""
    line = line.strip()
    if match := _CMGS.match(line):
        return CmgsResult(int(match.group(1)) % 256)
    if match := _CMS_ERROR.fullmatch(line):
        value = match.group(1).strip()
        return CmsError(int(value), "") if value.isdigit() else CmsError(None, value)
    return None


def parse_creg(line: str) -> int | None:
    """The registration status of ``+CREG: <n>,<stat>[,…]`` (or unsolicited ``+CREG: <stat>``):
    0 not searching, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming; None if not one."""
    match = _CREG.match(line.strip())
    if match is None:
        return None
    return int(match.group(2) if match.group(2) is not None else match.group(1))


def parse_csq(line: str) -> int | None:
    """The RSSI of ``+CSQ: <rssi>,<ber>``: 0-31 (-113 to -51 dBm), None when unknown (99)."""
    match = _CSQ.match(line.strip())
    if match is None:
        return None
    rssi = int(match.group(1))
    return rssi if rssi <= 31 else None
