"""The kiosk's screens as a citizen walks through them (pure flow, no screen, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.catalogue import Catalogue
from kiosk.flow import (
    CheckIn,
    DiscardScans,
    Flow,
    IssueTicket,
    Pickup,
    PrintTicket,
    QueueInfo,
    RequestHelp,
    Say,
    Screen,
    StartScan,
    UploadScans,
    appointment_code,
    mask_phone,
)
from kiosk.texts import ERRORS, TEXTS
from kiosk.ui.layout import Button, Context, Text, guide_lines, layout
from yichuang.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "hall.example.toml"
CONFIG = load_config(EXAMPLE)


class Citizen:
    """Drives a flow the way a person does: one tap a second unless told otherwise."""

    def __init__(self, link: bool = True, paper: str = "ok") -> None:
        self.flow = Flow(Catalogue(CONFIG.services), "kiosk-01", "boot1")
        self.now = 100.0
        self.flow.link(link, self.now)
        self.flow.paper(paper, self.now)
        self.effects: list[object] = []

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.flow.state

    def tap(self, action: str, arg: object = None, after: float = 1.0) -> list[object]:
        self.now += after
        effects = self.flow.tap(action, arg, self.now)
        self.effects += effects
        return list(effects)

    def answer(
        self, ok: bool = True, no: str = "A012", priority: str = "normal", code: str = ""
    ) -> list[object]:
        rid = self.state.pending
        assert rid is not None
        if ok:
            reply = {
                "ok": True,
                "result": {
                    "ticket": {
                        "no": no,
                        "service": self.state.service or "realestate",
                        "priority": priority,
                        "issued_at": "2026-11-23T09:05:00+08:00",
                        "status": "waiting",
                    },
                    "ahead": 3,
                    "ewt_s": 600,
                    "status_url": "http://hall.example/t/tok12345",
                },
            }
        else:
            reply = {"ok": False, "error": {"code": code, "message": code}}
        self.now += 0.2
        effects = self.flow.reply(rid, reply, self.now)
        self.effects += effects
        return list(effects)


def test_pinyin_initials_find_the_service() -> None:
    catalogue = Catalogue(CONFIG.services)
    assert catalogue.search("bdc")[0].name.startswith("不动产")
    assert catalogue.search("gjj")[0].id == "housing_fund"
    assert catalogue.search("BDC") == catalogue.search("bdc")
    assert [s.id for s in catalogue.search("marriage")] == ["marriage"]
    assert catalogue.search("") == []
    assert catalogue.search("qqqqq") == []


def test_services_are_grouped_by_area_in_config_order() -> None:
    catalogue = Catalogue(CONFIG.services)
    assert catalogue.areas[0].name == "不动产"
    assert {s.id for s in catalogue.areas[0].services} >= {"realestate", "mortgage"}
    assert sum(len(a.services) for a in catalogue.areas) == len(CONFIG.services)


def test_citizen_takes_a_ticket_and_it_is_printed() -> None:
    c = Citizen()
    c.tap("take")
    assert c.state.screen == Screen.SERVICES
    c.tap("service", "realestate")
    assert c.state.screen == Screen.SERVICE
    effects = c.tap("issue")
    assert [type(e) for e in effects] == [IssueTicket]
    issue = effects[0]
    assert isinstance(issue, IssueTicket) and issue.service == "realestate" and issue.priority == "normal"
    assert c.state.screen == Screen.ISSUING
    effects = c.answer()
    assert c.state.screen == Screen.TICKET and c.state.ticket is not None
    assert c.state.ticket.no == "A012" and c.state.ticket.ahead == 3
    assert [type(e) for e in effects] == [PrintTicket]
    c.flow.printed(True, c.now)
    assert not c.state.print_failed


def test_double_tap_on_take_issues_one_request() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("service", "realestate")
    first = c.tap("issue")
    second = c.tap("issue", after=0.5)
    third = c.tap("issue", after=0.05)
    assert len(first) == 1 and second == [] and third == []


def test_a_tap_right_after_a_screen_change_belongs_to_the_old_screen() -> None:
    c = Citizen()
    c.tap("take")
    # the second touch of a double tap on 取号 lands where a service button now is
    assert c.tap("service", "realestate", after=0.1) == []
    assert c.state.screen == Screen.SERVICES


def test_no_ticket_is_offered_while_the_server_is_unreachable() -> None:
    c = Citizen(link=False)
    assert not c.state.ticketing
    c.tap("take")
    assert c.state.screen == Screen.HOME
    c.tap("guide")  # the guide is local and stays readable
    assert c.state.screen == Screen.SERVICES
    c.flow.link(True, c.now)
    c.tap("home")
    c.tap("take")
    assert c.state.screen == Screen.SERVICES


def test_server_lost_between_choosing_and_taking_says_so() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("service", "realestate")
    c.flow.link(False, c.now)
    assert c.tap("issue") == []
    assert c.state.screen == Screen.MESSAGE and c.state.message == "link_down"


def test_paper_out_stops_ticketing_but_help_still_works() -> None:
    c = Citizen(paper="out")
    c.tap("take")
    c.tap("green")
    c.tap("checkin")
    assert c.state.screen == Screen.HOME
    effects = c.tap("help")
    assert [type(e) for e in effects] == [RequestHelp]


def test_a_retry_after_no_answer_reuses_the_request_id() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("service", "realestate")
    first = c.tap("issue")[0]
    c.answer(ok=False, code="no_answer")
    assert c.state.screen == Screen.MESSAGE and c.state.message == "no_answer"
    c.tap("back")
    assert c.state.screen == Screen.SERVICE
    again = c.tap("issue")[0]
    assert isinstance(first, IssueTicket) and isinstance(again, IssueTicket)
    assert again.request_id == first.request_id
    c.answer()
    c.flow.printed(True, c.now)
    c.tap("done")
    c.tap("take")
    c.tap("service", "realestate")
    fresh = c.tap("issue")[0]
    assert isinstance(fresh, IssueTicket) and fresh.request_id != first.request_id


def test_a_refusal_is_final_and_the_next_try_is_a_new_request() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("service", "realestate")
    first = c.tap("issue")[0]
    c.answer(ok=False, code="hall_closed")
    c.tap("back")
    again = c.tap("issue")[0]
    assert isinstance(first, IssueTicket) and isinstance(again, IssueTicket)
    assert again.request_id != first.request_id


def test_green_channel_issues_a_green_ticket_and_calls_a_helper() -> None:
    c = Citizen()
    c.tap("green")
    c.tap("service", "social_insurance")
    issue = c.tap("issue")[0]
    assert isinstance(issue, IssueTicket) and issue.priority == "green"
    effects = c.answer(no="B004", priority="green")
    helps = [e for e in effects if isinstance(e, RequestHelp)]
    assert len(helps) == 1 and "B004" in helps[0].reason


def test_phone_for_sms_is_checked_and_masked() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("service", "realestate")
    c.tap("phone")
    for d in "1381234":
        c.tap("digit", d, after=0.5)
    c.tap("phone_ok")
    assert c.state.screen == Screen.PHONE and c.state.phone_error
    for d in "5678":
        c.tap("digit", d, after=0.5)
    c.tap("phone_ok")
    assert c.state.screen == Screen.SERVICE
    issue = c.tap("issue")[0]
    assert isinstance(issue, IssueTicket) and issue.phone == "13812345678"
    assert mask_phone("13812345678") == "138****5678"


def test_idle_kiosk_goes_home_and_forgets_the_citizen() -> None:
    c = Citizen()
    c.tap("language")
    c.tap("elderly")
    c.tap("take")
    c.tap("service", "realestate")
    assert c.state.screen == Screen.SERVICE
    c.now += 119
    c.flow.tick(c.now)
    assert c.state.screen == Screen.SERVICE  # elderly mode waits longer
    c.now += 2
    c.flow.tick(c.now)
    assert c.state.screen == Screen.HOME
    assert c.state.language == "zh" and not c.state.elderly and c.state.service is None


def test_result_screen_stays_longer_when_the_ticket_did_not_print() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("service", "realestate")
    c.tap("issue")
    c.answer()
    c.flow.printed(False, c.now)
    c.now += 30
    c.flow.tick(c.now)
    assert c.state.screen == Screen.TICKET and c.state.print_failed
    c.now += 31
    c.flow.tick(c.now)
    assert c.state.screen == Screen.HOME


def test_wrong_appointment_code_stays_on_the_keypad_with_the_reason() -> None:
    c = Citizen()
    c.tap("checkin")
    for d in "123456":
        c.tap("digit", d, after=0.5)
    effects = c.tap("code_ok")
    assert isinstance(effects[0], CheckIn) and effects[0].code == "123456"
    c.answer(ok=False, code="wrong_code")
    assert c.state.screen == Screen.CHECKIN and c.state.code_error == "wrong_code" and c.state.code == ""


def test_qr_on_the_checkin_screen_checks_in() -> None:
    c = Citizen()
    assert c.flow.qr("YC:APPT:778899", c.now) == []  # not on the check-in screen
    c.tap("checkin")
    effects = c.flow.qr("https://zwfw.example.gov.cn/appt?code=778899&x=1", c.now + 1)
    assert isinstance(effects[0], CheckIn) and effects[0].code == "778899"
    c.answer(priority="appointment")
    assert c.state.screen == Screen.TICKET and c.state.ticket is not None
    assert c.state.ticket.priority == "appointment"


@pytest.mark.parametrize(
    ("text", "code"),
    [("778899", "778899"), ("YC:APPT:A1B2", "A1B2"), ("https://x/a?code=42", "42"), ("not a code!", "")],
)
def test_appointment_code_in_a_qr(text: str, code: str) -> None:
    assert appointment_code(text) == code


def test_elderly_mode_shows_fewer_choices_and_speaks() -> None:
    c = Citizen()
    effects = c.tap("elderly")
    assert any(isinstance(e, Say) for e in effects)
    c.tap("take")
    assert c.state.screen == Screen.AREAS
    assert c.flow.per_page() == 4
    assert c.flow.page_count() == -(-len(c.flow.catalogue.areas) // 4)
    c.tap("area", 1)
    assert c.state.screen == Screen.SERVICES
    assert c.flow.listed_services() == [s.id for s in c.flow.catalogue.areas[1].services]


def test_search_by_letters() -> None:
    c = Citizen()
    c.tap("take")
    c.tap("search")
    for letter in "gjj":
        c.tap("letter", letter, after=0.5)
    assert c.flow.listed_services()[0] == "housing_fund"
    c.tap("backspace")
    assert c.state.query == "gj"


def test_queue_figures_follow_the_server() -> None:
    c = Citizen()
    c.flow.queues({"realestate": QueueInfo(7, 900)})
    assert c.state.queues["realestate"].waiting == 7


def test_every_text_exists_in_both_languages() -> None:
    for key, (zh, en) in {**TEXTS, **ERRORS}.items():
        assert zh.strip() and en.strip(), key
        assert zh != en or key == "language", key


def test_guide_marks_key_and_non_key_materials() -> None:
    service = next(s for s in CONFIG.services if any(not m.key for m in s.materials))
    lines = guide_lines(service, "zh")
    kinds = [k for k, _ in lines]
    assert "key" in kinds and "nonkey" in kinds and "note" in kinds
    assert all("必交" in text for k, text in lines if k == "key")
    english = guide_lines(service, "en")
    assert any("May follow later" in text for _, text in english)


def _with_camera_ticket(camera: bool = True) -> Citizen:
    c = Citizen()
    c.flow.state.camera = camera
    c.tap("take")
    c.tap("service", "realestate")
    c.tap("issue")
    c.answer()
    c.flow.printed(True, c.now)
    return c


def test_documents_are_scanned_after_the_ticket_and_sent_to_the_window() -> None:
    c = _with_camera_ticket()
    effects = c.tap("scan")
    assert any(isinstance(e, StartScan) for e in effects) and c.state.screen == Screen.SCAN
    assert c.tap("send") == []  # nothing captured yet: nothing to send
    c.flow.scan("hold_still", 0, c.now + 0.5)
    c.flow.scan("captured", 1, c.now + 1.0)
    c.tap("tick", 0)
    c.tap("tick", 1)
    c.tap("tick", 1)  # ticked off again
    effects = c.tap("send")
    upload = next(e for e in effects if isinstance(e, UploadScans))
    service = next(s for s in CONFIG.services if s.id == "realestate")
    assert upload.materials == (service.materials[0].name,)
    assert upload.status_url == "http://hall.example/t/tok12345"
    assert c.state.screen == Screen.UPLOADING
    c.now += 1
    c.flow.reply(upload.request_id, {"ok": True, "result": {"pages": 1}}, c.now)
    assert c.state.screen == Screen.TICKET and c.state.scan_sent == 1 and c.state.scan_pages == 0


def test_leaving_the_scan_screen_forgets_the_pages() -> None:
    c = _with_camera_ticket()
    c.tap("scan")
    c.flow.scan("captured", 2, c.now + 0.5)
    effects = c.tap("back")
    assert any(isinstance(e, DiscardScans) for e in effects)
    assert c.state.screen == Screen.TICKET and c.state.scan_pages == 0


def test_a_failed_upload_tells_the_citizen_and_keeps_nothing() -> None:
    c = _with_camera_ticket()
    c.tap("scan")
    c.flow.scan("captured", 1, c.now + 0.5)
    upload = next(e for e in c.tap("send") if isinstance(e, UploadScans))
    effects = c.flow.reply(upload.request_id, {"ok": False, "error": {"code": "upload_failed"}}, c.now + 1)
    assert any(isinstance(e, DiscardScans) for e in effects)
    assert c.state.screen == Screen.MESSAGE and c.state.message == "upload_failed"
    c.tap("back", after=2)
    assert c.state.screen == Screen.TICKET


def test_no_scan_button_without_a_camera() -> None:
    c = _with_camera_ticket(camera=False)
    assert c.tap("scan") == [] and c.state.screen == Screen.TICKET


# -- the file locker: pickup with the SMS code ----------------------------------------------


def _at_locker(link: bool = True, paper: str = "ok") -> Citizen:
    c = Citizen(link=link, paper=paper)
    c.flow.state.locker = True
    return c


def _widgets(c: Citizen, size: tuple[int, int] = (1920, 1080)) -> list[object]:
    context = Context("青浦区政务服务中心", "Qingpu", "kiosk-01", "09:41")
    return list(layout(c.state, c.flow, context, size, lambda text, size, width, bold: [text]))


def _button(c: Citizen, action: str) -> Button | None:
    return next((w for w in _widgets(c) if isinstance(w, Button) and w.action == action), None)


def _type_code(c: Citizen, code: str) -> None:
    for digit in code:
        c.tap("digit", digit, after=0.5)


def _pickup_reply(c: Citizen, reply: dict[str, object]) -> list[object]:
    rid = c.state.pending
    assert rid is not None
    c.now += 0.3
    effects = c.flow.reply(rid, reply, c.now)
    c.effects += effects
    return list(effects)


def _refused(code: str) -> dict[str, object]:
    return {"ok": False, "error": {"code": code, "message": code}}


def test_pickup_is_offered_only_by_a_locker_and_needs_the_server_not_paper() -> None:
    plain = Citizen()
    assert _button(plain, "pickup") is None
    assert plain.tap("pickup") == [] and plain.state.screen == Screen.HOME
    # out of paper: no tickets, but results can still be picked up
    c = _at_locker(paper="out")
    button = _button(c, "pickup")
    assert button is not None and button.enabled and button.label == "取件"
    assert not _button(c, "take").enabled  # type: ignore[union-attr]
    c.tap("pickup")
    assert c.state.screen == Screen.PICKUP
    down = _at_locker(link=False)
    assert not _button(down, "pickup").enabled  # type: ignore[union-attr]
    assert down.tap("pickup") == [] and down.state.screen == Screen.HOME


def test_the_pickup_code_is_typed_shown_in_the_clear_and_only_six_digits_long() -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "12345")
    assert c.tap("pickup_ok") == [] and c.state.screen == Screen.PICKUP  # five digits: not yet
    ok = _button(c, "pickup_ok")
    assert ok is not None and not ok.enabled
    _type_code(c, "67")  # the seventh digit does not fit
    assert c.state.code == "123456"
    assert any(isinstance(w, Text) and w.text == "1 2 3 4 5 6" for w in _widgets(c))
    assert _button(c, "pickup_ok").enabled  # type: ignore[union-attr]
    c.tap("backspace")
    assert c.state.code == "12345"
    c.tap("clear")
    assert c.state.code == ""


def test_confirm_sends_one_pickup_even_under_a_burst_of_taps() -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "246810")
    first = c.tap("pickup_ok")
    burst = [c.tap("pickup_ok", after=0.05) for _ in range(5)] + [c.tap("pickup_ok", after=1.0)]
    assert [type(e) for e in first] == [Pickup]
    assert isinstance(first[0], Pickup) and first[0].code == "246810"
    assert all(effects == [] for effects in burst)
    assert c.state.screen == Screen.PICKING_UP
    assert not [w for w in _widgets(c) if isinstance(w, Button) and w.action not in ("elderly", "language")]
    c.now += 300
    c.flow.tick(c.now)  # waiting for the answer never times out by itself: the app gives up
    assert c.state.screen == Screen.PICKING_UP


def test_the_right_code_shows_the_door_huge_until_the_idle_time_out() -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "246810")
    c.tap("pickup_ok")
    assert _pickup_reply(c, {"ok": True, "result": {"door": 5}}) == []  # spoken in elderly mode only
    assert c.state.screen == Screen.PICKED_UP and c.state.door == 5 and c.state.code == ""
    texts = [w for w in _widgets(c) if isinstance(w, Text)]
    number = next(w for w in texts if w.text == "5")
    assert number.size >= 400 and number.size == max(w.size for w in texts)  # readable from 2 m
    assert any(w.text == "请到 5 号柜门取件" for w in texts)
    c.tap("language")
    assert any(w.text.startswith("Door 5 is open") for w in _widgets(c) if isinstance(w, Text))
    c.now += c.flow.IDLE_S - 1
    c.flow.tick(c.now)
    assert c.state.screen == Screen.PICKED_UP
    c.now += 2
    c.flow.tick(c.now)
    assert c.state.screen == Screen.HOME and c.state.door is None and c.state.language == "zh"


def test_the_door_is_spoken_in_elderly_mode() -> None:
    c = _at_locker()
    c.tap("elderly")
    spoken = c.tap("pickup")
    assert spoken == [Say("请输入短信中的 6 位取件码", "zh")]
    _type_code(c, "246810")
    c.tap("pickup_ok")
    assert _pickup_reply(c, {"ok": True, "result": {"door": 17}}) == [Say("请到 17 号柜门取件", "zh")]


def test_a_wrong_code_clears_the_digits_and_says_to_check_the_sms() -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "111111")
    first = c.tap("pickup_ok")[0]
    _pickup_reply(c, _refused("wrong_code"))
    assert (c.state.screen, c.state.code, c.state.code_error) == (Screen.PICKUP, "", "pickup_wrong_code")
    assert any(isinstance(w, Text) and w.text == "取件码不对，请核对短信" for w in _widgets(c))
    c.tap("digit", "2", after=0.5)
    assert c.state.code_error is None  # the reason goes with the next digit
    c.tap("clear")
    _type_code(c, "111111")
    again = c.tap("pickup_ok")[0]
    # a refusal is an answer: the same code typed again is a new request, counted again
    assert isinstance(first, Pickup) and isinstance(again, Pickup) and again.request_id != first.request_id


def test_a_locked_out_locker_sends_the_citizen_to_staff() -> None:
    c = _at_locker()
    c.tap("elderly")
    c.tap("pickup")
    _type_code(c, "999999")
    c.tap("pickup_ok")
    effects = _pickup_reply(c, _refused("locked_out"))
    assert c.state.screen == Screen.MESSAGE and c.state.message == "pickup_locked_out"
    assert effects == [Say("错误次数过多，请10分钟后再试或联系工作人员", "zh")]
    c.tap("back")
    assert c.state.screen == Screen.HOME


def test_no_answer_keeps_the_code_and_confirming_again_reuses_the_request_id() -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "246810")
    first = c.tap("pickup_ok")[0]
    _pickup_reply(c, _refused("no_answer"))
    assert c.state.screen == Screen.MESSAGE and c.state.message == "pickup_no_answer"
    c.tap("back")
    assert c.state.screen == Screen.PICKUP and c.state.code == "246810"
    again = c.tap("pickup_ok")[0]
    assert isinstance(first, Pickup) and isinstance(again, Pickup)
    assert again.request_id == first.request_id  # the server answers the door it may have opened
    _pickup_reply(c, {"ok": True, "result": {"door": 3}})
    assert c.state.screen == Screen.PICKED_UP and c.state.door == 3
    c.tap("done")
    c.tap("pickup")
    _type_code(c, "246810")
    fresh = c.tap("pickup_ok")[0]
    assert isinstance(fresh, Pickup) and fresh.request_id != first.request_id


def test_a_lost_link_says_so_and_the_retry_is_one_tap_away() -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "246810")
    c.flow.link(False, c.now)
    assert c.tap("pickup_ok") == []  # nothing can be sent
    assert c.state.screen == Screen.MESSAGE and c.state.message == "pickup_link_down"
    c.flow.link(True, c.now)
    c.tap("back")
    first = c.tap("pickup_ok")[0]
    _pickup_reply(c, _refused("link_down"))  # the app found the link gone when it came to send
    assert c.state.message == "pickup_link_down"
    c.tap("back")
    again = c.tap("pickup_ok")[0]
    assert isinstance(first, Pickup) and isinstance(again, Pickup) and again.code == "246810"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (_refused("locker_offline"), "pickup_locker_offline"),
        (_refused("unknown_locker"), "pickup_failed"),
        (_refused("invalid_request"), "pickup_failed"),
        ({"ok": True, "result": {}}, "pickup_failed"),
    ],
)
def test_other_pickup_failures_send_the_citizen_to_staff(reply: dict[str, object], message: str) -> None:
    c = _at_locker()
    c.tap("pickup")
    _type_code(c, "246810")
    c.tap("pickup_ok")
    _pickup_reply(c, reply)
    assert c.state.screen == Screen.MESSAGE and c.state.message == message
    assert message in ERRORS
    c.tap("back")
    assert c.state.screen == Screen.HOME and c.state.code == ""


def test_a_citizen_without_the_sms_calls_staff_from_the_pickup_screen() -> None:
    c = _at_locker()
    c.tap("pickup")
    help_button = _button(c, "help")
    assert help_button is not None and help_button.enabled
    effects = c.tap("help")
    assert [type(e) for e in effects] == [RequestHelp] and c.state.screen == Screen.HELP
