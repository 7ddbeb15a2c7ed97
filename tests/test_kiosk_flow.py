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
from kiosk.ui.layout import guide_lines
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
