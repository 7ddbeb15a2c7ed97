"""SMS-SUBMIT PDUs (3GPP TS 23.040) byte for byte: published examples, long texts, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.codecs.sms_pdu import (
    CmgsResult,
    CmsError,
    Concat,
    PduError,
    Reassembler,
    SmsMessage,
    decode_address,
    decode_submit,
    encode_address,
    encode_submit,
    gsm7_decode,
    gsm7_septets,
    pack_septets,
    parse_creg,
    parse_csq,
    parse_result_line,
    unpack_septets,
    validity_seconds,
)

# A 2-part pickup notice: 71 UTF-16 units, one more than a single SMS carries
PICKUP = (
    "【青浦区政务服务中心】您的办件结果已放入一楼12号窗口旁的自助文件柜，"
    "取件码 482913，请于7日内凭取件码取件。如有疑问请咨询12号窗口。"
)


# --- published examples -------------------------------------------------------------------------


def test_the_classic_hellohello_example_byte_for_byte() -> None:
    # dreamfabric.com / turbocontrol.com "SMS messages and the PDU format": SMS-SUBMIT of
    # "hellohello" to +46708251358, GSM 7-bit, relative validity AA (4 days)
    [part] = encode_submit("+46708251358", "hellohello")
    assert part.hex == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert part.length == 23  # AT+CMGS=23: the octets after the SMSC field "00"


def test_a_published_chinese_ucs2_example_byte_for_byte() -> None:
    # the common example of PDU mode with Chinese (工作愉快！ to +8613602433649, TP-VP 00)
    [part] = encode_submit("+8613602433649", "工作愉快！", validity=0x00)
    assert part.hex == "0011000D91683106423346F90008000A5DE54F5C61095FEBFF01"
    assert part.length == 25


def test_a_published_national_number_example_without_validity() -> None:
    # Neoway N11 AT manual, appendix A.1: "hello" in UCS2 to 13421839693 (type 81), first octet 01
    [part] = encode_submit("13421839693", "hello", validity=None, alphabet="ucs2")
    assert part.hex == "0001000B813124819396F300080A00680065006C006C006F"
    assert part.length == 23


LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris "
    "nisi ut aliquip ex ea commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit "
    "esse cillum doloe eu fugiat nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt "
    "in culpa qui officia deserunt mollit anim id est laborum"
)
# python-gsmmodem's test_pdu.py (encodeSmsSubmit_concatenated): 3 parts, GSM 7-bit, 8-bit reference 0.
# Its first octet 45 also sets TP-RD (reject duplicates, 0x04), which Yichuang does not: 41 here.
LOREM_PDUS = (
    "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB"
    "637A995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD"
    "74509D0E6287C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3"
    "E1360B14AFA7DD",
    "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5"
    "E939C89D9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEB"
    "F23288FC66BFE5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB"
    "20F29BFD2E83CA",
    "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5"
    "A079DA4D07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3"
    "A0B7D99C1EA7C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
)


def test_a_published_concatenated_gsm7_text_byte_for_byte() -> None:
    parts = encode_submit("+15125551234", LOREM, reference=0, validity=None)
    assert [p.hex for p in parts] == ["0041" + published[4:] for published in LOREM_PDUS]
    assert [p.length for p in parts] == [153, 153, 136]
    joined = Reassembler()
    assert joined.add(decode_submit(LOREM_PDUS[0])) is None
    assert joined.add(decode_submit(LOREM_PDUS[2])) is None  # parts may arrive in any order
    assert joined.add(decode_submit(LOREM_PDUS[1])) == SmsMessage("+15125551234", LOREM, 3)


def test_gsm7_packing_matches_published_vectors() -> None:
    # Device::Gsm (Perl) t/20pdu.t and python-gsmmodem test_pdu.py
    septets = gsm7_septets("The quick fox jumps over the lazy dog")
    assert septets is not None and len(septets) == 0x25
    assert pack_septets(septets).hex().upper() == (
        "54741914AFA7C76B90F98D07A9EB6DF81CF4B697E5203ABA0C6287F57910F97D06"
    )
    assert gsm7_septets("[{abc}]~") == [27, 60, 27, 40, 97, 98, 99, 27, 41, 27, 62, 27, 61]
    assert pack_septets(gsm7_septets("[{abc}]~") or []) == bytes.fromhex("1BDE0615168F37A98D6FD303")
    assert gsm7_decode(unpack_septets(bytes([225, 13, 111, 227, 219, 160, 54, 169, 77, 25]), 11)) == "a[]{}€"
    assert gsm7_septets("取件码") is None


def test_addresses_international_and_national() -> None:
    assert encode_address("+393289287791").hex().upper() == "0C91932398827719"
    assert encode_address("3289287791").hex().upper() == "0A812398827719"  # national: type 81
    assert encode_address("+39347101010").hex().upper() == "0B919343171010F0"  # odd: F filler
    assert encode_address("+8613812345678").hex().upper() == "0D91683118325476F8"
    assert encode_address("13812345678").hex().upper() == "0B813118325476F8"
    assert decode_address(bytes.fromhex("0D91683118325476F8")) == ("+8613812345678", 9)
    assert decode_address(bytes.fromhex("0B813118325476F8")) == ("13812345678", 8)
    for bad in ("", "+", "138 1234 5678", "+86-138", "１３８", "1" * 21, "abc"):
        with pytest.raises(PduError):
            encode_address(bad)


# --- Yichuang's own texts ----------------------------------------------------------------------


def test_a_short_chinese_notice_is_one_ucs2_part_to_an_international_number() -> None:
    [part] = encode_submit("+8613812345678", "取件码 482913")
    # docs/hardware.md's worked example
    assert part.hex == "0011000D91683118325476F80008AA1453D64EF678010020003400380032003900310033"
    assert part.length == 35
    tpdu = bytes.fromhex(part.hex)[1:]
    assert part.hex.startswith("00")
    assert tpdu[0] == 0x11  # SMS-SUBMIT, relative validity, no header
    assert tpdu[1] == 0x00  # TP-MR: the modem numbers it
    assert tpdu[2:11].hex().upper() == "0D91683118325476F8"
    assert tpdu[11:14] == bytes((0x00, 0x08, 0xAA))  # PID, DCS UCS2, 4 days
    assert tpdu[14] == 2 * len("取件码 482913")
    assert tpdu[15:] == "取件码 482913".encode("utf-16-be")
    assert part.length == len(tpdu)
    assert decode_submit(part.hex).text == "取件码 482913"


def test_an_ascii_text_goes_gsm7_to_a_national_number() -> None:
    [part] = encode_submit("13812345678", "Code 482913, window 12")
    tpdu = bytes.fromhex(part.hex)[1:]
    assert tpdu[2:10].hex().upper() == "0B813118325476F8"
    assert tpdu[10:12] == bytes((0x00, 0x00))  # PID, DCS GSM 7-bit
    assert tpdu[13] == len("Code 482913, window 12")  # UDL in septets
    decoded = decode_submit(part.hex)
    assert (decoded.number, decoded.text, decoded.dcs) == ("13812345678", "Code 482913, window 12", 0x00)


def test_a_three_part_chinese_text_carries_the_concatenation_header() -> None:
    text = "请携带身份证原件到一楼综合窗口办理。" * 8 + "谢谢"  # 146 characters: 67 + 67 + 12
    parts = encode_submit("+8613812345678", text, reference=0x2A)
    assert len(parts) == 3
    for seq, part in enumerate(parts, start=1):
        tpdu = bytes.fromhex(part.hex)[1:]
        assert tpdu[0] == 0x51  # SMS-SUBMIT, relative validity, TP-UDHI
        udl, ud = tpdu[14], tpdu[15:]
        assert ud[:6] == bytes((0x05, 0x00, 0x03, 0x2A, 0x03, seq))  # IEI 00, 8-bit ref, 3 parts, #seq
        assert udl == len(ud) == part.length - 15
        assert decode_submit(part.hex).concat == Concat(0x2A, 3, seq)
    assert [bytes.fromhex(p.hex)[15] for p in parts] == [6 + 134, 6 + 134, 6 + 24]
    assert [decode_submit(p.hex).text for p in parts] == [text[:67], text[67:134], text[134:]]
    joined = Reassembler()
    assert [joined.add(decode_submit(p.hex)) for p in parts][-1] == SmsMessage("+8613812345678", text, 3)
    assert joined.pending == 0


def test_the_pickup_notice_is_two_parts() -> None:
    parts = encode_submit("13812345678", PICKUP)
    assert len(parts) == 2
    joined = Reassembler()
    assert [joined.add(decode_submit(p.hex)) for p in parts] == [None, SmsMessage("13812345678", PICKUP, 2)]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # two septets each: 160
        ("€" * 81, 2),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
    ],
)
def test_single_and_multipart_limits(text: str, parts: int) -> None:
    assert len(encode_submit("+8613812345678", text)) == parts


def test_an_escape_pair_or_a_surrogate_pair_is_never_split_between_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the euro sign would straddle septets 153/154
    parts = encode_submit("13812345678", text)
    assert [decode_submit(p.hex).text for p in parts] == ["a" * 152, "€" + "b" * 10]
    emoji = "中" * 66 + "😀" + "中" * 5  # 73 UTF-16 units; the pair would straddle units 67/68
    parts = encode_submit("13812345678", emoji)
    assert [decode_submit(p.hex).text for p in parts] == ["中" * 66, "😀" + "中" * 5]


def test_bad_input_is_refused() -> None:
    with pytest.raises(PduError):
        encode_submit("13812345678", "")
    with pytest.raises(PduError):
        encode_submit("13812345678", "取件码", alphabet="gsm7")
    with pytest.raises(PduError):
        encode_submit("13812345678", "x", reference=256)
    with pytest.raises(PduError):
        encode_submit("not a number", "x")
    with pytest.raises(PduError):
        encode_submit("13812345678", "中" * (67 * 255 + 1))


def test_the_decoder_refuses_what_is_not_a_good_submit() -> None:
    good = encode_submit("13812345678", "hello")[0].hex
    with pytest.raises(PduError):
        decode_submit(good[:-2])  # one octet short of its UDL
    with pytest.raises(PduError):
        decode_submit(good + "00")  # one octet too many
    with pytest.raises(PduError):
        decode_submit("zz" + good[2:])
    with pytest.raises(PduError):
        decode_submit("0004" + good[4:])  # an SMS-DELIVER first octet
    # a PDU with the SMSC given: python-gsmmodem's decode test (TP-MR 0D, 3 days)
    submit = decode_submit("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701")
    assert (submit.number, submit.text, submit.message_reference) == ("+31628870634", "www.diafaan.com", 13)
    assert submit.validity is not None and validity_seconds(submit.validity) == 3 * 86400


@settings(max_examples=200, deadline=None)
@given(
    number=st.from_regex(r"\+?[0-9]{5,20}", fullmatch=True),
    text=st.text(min_size=1, max_size=400),
    reference=st.integers(0, 255),
)
def test_decoding_what_was_encoded_gives_the_text_back(number: str, text: str, reference: int) -> None:
    parts = encode_submit(number, text, reference=reference)
    joined = Reassembler()
    results = [joined.add(decoded) for decoded in (decode_submit(p.hex) for p in parts)]
    assert results[-1] == SmsMessage(number, text, len(parts))
    assert all(r is None for r in results[:-1])
    for part in parts:
        assert part.length == len(bytes.fromhex(part.hex)) - 1 <= 164


# --- result lines ---------------------------------------------------------------------------------


def test_result_lines() -> None:
    assert parse_result_line("+CMGS: 12") == CmgsResult(12)
    assert parse_result_line("  +CMGS: 255\r") == CmgsResult(255)
    assert parse_result_line("+CMS ERROR: 500") == CmsError(500)
    assert parse_result_line("+CMS ERROR: 331") == CmsError(331)
    assert parse_result_line("+CMS ERROR: no network service") == CmsError(None, "no network service")
    assert parse_result_line("OK") is None
    assert parse_result_line("+CSQ: 21,99") is None
    assert parse_creg("+CREG: 0,1") == 1
    assert parse_creg('+CREG: 2,5,"1A2B","00C3"') == 5
    assert parse_creg("+CREG: 2") == 2  # unsolicited form
    assert parse_creg("OK") is None
    assert parse_csq("+CSQ: 21,99") == 21
    assert parse_csq("+CSQ: 99,99") is None
    assert validity_seconds(0xAA) == 4 * 86400
    assert validity_seconds(0x00) == 5 * 60
    assert validity_seconds(0xA7) == 24 * 3600
    assert validity_seconds(0xFF) == 63 * 7 * 86400
