"""The hall's rules, written as its procedures, against the pure domain core (no I/O)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from helpers.halls import TZ, Clock, small_hall, with_policy

from queue_server.domain import errors as e
from queue_server.domain.hall import Hall, Snapshot
from queue_server.domain.model import TicketStatus
from yichuang.config_model import Config, OpeningHours, OpeningRule

_tokens = (f"tok{n:08d}" for n in itertools.count())


class Desk:
    """A hall and its clock, with short verbs for the procedures."""

    def __init__(self, config: Config | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.config = config or small_hall()
        self.hall = Hall(self.config, Snapshot(), self.clock())
        for w in ("w01", "w02", "w03", "w09"):
            self.hall.open_window(w, None, self.clock())

    def issue(self, service: str, priority: str = "normal", minutes_later: float = 1) -> dict:
        self.clock.advance(minutes=minutes_later)
        return self.hall.issue(service, "kiosk-01", priority, None, next(_tokens), self.clock())

    def call(self, window: str) -> str:
        return str(self.hall.call_next(window, None, self.clock())["ticket"]["no"])

    def appointment(self, code: str, service: str, slot: datetime) -> None:
        self.hall.create_appointment(code, service, slot, None, self.clock())


def test_numbers_are_prefix_and_three_digits_per_service():
    desk = Desk()
    assert [desk.issue("A")["ticket"]["no"] for _ in range(2)] == ["A001", "A002"]
    assert desk.issue("B")["ticket"]["no"] == "B001"


def test_numbers_go_past_999_without_wrapping():
    desk = Desk()
    desk.hall.counters[("A", desk.hall.day)] = 998
    assert [desk.issue("A", minutes_later=0)["ticket"]["no"] for _ in range(3)] == ["A999", "A1000", "A1001"]


def test_numbering_restarts_at_the_halls_midnight_not_utc():
    clock = Clock(datetime(2026, 11, 23, 23, 50, tzinfo=TZ))
    desk = Desk(clock=clock)
    assert desk.issue("A", minutes_later=0)["ticket"]["no"] == "A001"
    clock.advance(minutes=5)  # 23:55 Beijing = 15:55 UTC: still the same hall day
    assert desk.issue("A", minutes_later=0)["ticket"]["no"] == "A002"
    clock.advance(minutes=10)  # 00:05 next day
    desk.hall.roll_day(clock())
    assert desk.issue("A", minutes_later=0)["ticket"]["no"] == "A001"


def test_rollover_cancels_tickets_left_waiting_from_yesterday():
    desk = Desk()
    left = desk.issue("A")["ticket"]["no"]
    desk.clock.advance(days=1)
    desk.hall.roll_day(desk.clock())
    changes = desk.hall.drain_changes()
    cancelled = [t for t in changes.tickets.values() if t.no == left]
    assert cancelled and cancelled[0].status is TicketStatus.CANCELLED
    assert desk.hall.queue_state("A", desk.clock())["waiting"] == 0


def test_a_ticket_goes_waiting_called_serving_done():
    desk = Desk()
    desk.issue("A")
    assert desk.call("w01") == "A001"
    assert desk.hall.start("w01", desk.clock())["ticket"]["status"] == "serving"
    done = desk.hall.finish("w01", None, desk.clock())["ticket"]
    assert done["status"] == "done"
    assert done["outcome"] == "received"  # 不动产 is 当场收件: the default outcome follows the flow


def test_call_next_finishes_the_current_ticket_first():
    desk = Desk()
    desk.issue("A")
    desk.issue("A")
    desk.call("w01")
    desk.call("w01")
    first = desk.hall.ticket_by_no("A001")
    assert first is not None and first.status is TicketStatus.DONE


def test_call_next_on_an_empty_queue_still_finishes_the_previous_ticket():
    desk = Desk()
    desk.issue("A")
    desk.call("w01")
    with pytest.raises(e.QueueEmpty):
        desk.call("w01")
    assert desk.hall.ticket_by_no("A001").status is TicketStatus.DONE
    assert desk.hall.window_state("w01")["status"] == "idle"


def test_window_calls_its_services_in_priority_order():
    desk = Desk()
    desk.issue("B")
    desk.issue("A")
    assert desk.call("w01") == "A001"  # w01 serves 不动产 first
    assert desk.call("w02") == "B001"


def test_call_ratios_two_of_a_for_one_of_b():
    desk = Desk()
    for _ in range(4):
        desk.issue("A")
        desk.issue("B")
    assert [desk.call("w03") for _ in range(6)] == ["A001", "A002", "B001", "A003", "A004", "B002"]


def test_green_channel_is_called_before_normal():
    desk = Desk()
    desk.issue("A")
    desk.issue("A", priority="green")
    assert desk.call("w01") == "A002"


def test_checked_in_appointment_is_called_before_green_channel():
    desk = Desk()
    desk.appointment("YY2026001", "A", desk.clock() + timedelta(minutes=10))
    desk.issue("A", priority="green")
    desk.clock.advance(minutes=5)
    desk.hall.checkin("YY2026001", "kiosk-01", next(_tokens), desk.clock())
    desk.clock.advance(minutes=6)  # the slot has come
    assert desk.call("w01") == "A002"


def test_appointment_before_its_slot_waits_as_a_walk_in():
    desk = Desk()
    desk.appointment("YY2026002", "A", desk.clock() + timedelta(minutes=50))
    desk.issue("A")
    desk.hall.checkin("YY2026002", "kiosk-01", next(_tokens), desk.clock())
    assert desk.call("w01") == "A001"


def test_aging_stops_later_priority_tickets_passing_a_long_wait():
    desk = Desk(with_policy(small_hall(), aging_minutes=30))
    desk.issue("A")  # 09:01
    desk.issue("A", priority="green", minutes_later=40)  # issued after A001 had waited 40 min
    assert desk.call("w01") == "A001"


def test_before_the_aging_bound_priority_goes_first():
    desk = Desk(with_policy(small_hall(), aging_minutes=30))
    desk.issue("A")
    desk.issue("A", priority="green", minutes_later=10)
    assert desk.call("w01") == "A002"


def test_instant_window_takes_only_its_instant_services():
    desk = Desk()
    desk.issue("A")
    with pytest.raises(e.QueueEmpty):
        desk.call("w09")
    desk.issue("C")
    assert desk.call("w09") == "C001"


def test_ahead_counts_the_tickets_called_first_by_any_window_serving_the_service():
    desk = Desk()
    desk.issue("A")
    desk.issue("B")
    desk.issue("C")
    # A001 goes before (w01, w03); B001 before (w02) — both ahead of a new B; C001 is never ahead
    assert desk.issue("B")["ahead"] == 2
    assert desk.issue("A", priority="green")["ahead"] == 0


def test_ewt_is_null_when_no_open_window_serves_the_service():
    desk = Desk()
    desk.hall.close_window("w09", desk.clock())
    assert desk.issue("C")["ewt_s"] is None
    assert desk.issue("A")["ewt_s"] is not None


def test_ewt_follows_handling_times_and_open_windows():
    desk = Desk()
    for _ in range(4):
        desk.issue("C", minutes_later=0)
    # four instant tickets ahead, 5 min each, one instant window open
    assert desk.issue("C", minutes_later=0)["ewt_s"] == 4 * 5 * 60


def test_recall_counts_and_becomes_no_show_past_the_limit():
    desk = Desk(with_policy(small_hall(), max_recalls=2))
    desk.issue("A")
    desk.call("w01")
    assert desk.hall.recall("w01", desk.clock())["recall_count"] == 1
    assert desk.hall.recall("w01", desk.clock())["recall_count"] == 2
    third = desk.hall.recall("w01", desk.clock())
    assert third["ticket"]["status"] == "no_show"
    with pytest.raises(e.NoTicket):
        desk.hall.recall("w01", desk.clock())


def test_no_show_is_refused_once_service_has_begun():
    desk = Desk()
    desk.issue("A")
    desk.call("w01")
    desk.hall.start("w01", desk.clock())
    with pytest.raises(e.WrongState):
        desk.hall.no_show("w01", desk.clock())


def test_transfer_keeps_the_citizens_place_by_issue_time():
    desk = Desk()
    desk.issue("A")  # 09:01, served first at w01
    desk.issue("B")  # 09:02
    desk.call("w01")
    moved = desk.hall.transfer("w01", "B", None, desk.clock())["ticket"]
    assert moved["status"] == "transferred" and moved["no"] == "A001"
    assert desk.call("w02") == "A001"  # issued 09:01, before B001


def test_transfer_to_a_window_only_that_window_calls_it():
    desk = Desk()
    desk.issue("A")
    desk.call("w01")
    desk.hall.transfer("w01", None, "w03", desk.clock())
    with pytest.raises(e.QueueEmpty):
        desk.call("w01")
    assert desk.call("w03") == "A001"


def test_transfer_to_a_window_that_does_not_serve_the_service_is_refused():
    desk = Desk()
    desk.issue("A")
    desk.call("w01")
    with pytest.raises(e.InvalidTransfer):
        desk.hall.transfer("w01", None, "w09", desk.clock())
    assert desk.hall.window_state("w01")["ticket"] == "A001"


def test_parked_ticket_is_called_back_later_by_its_window():
    desk = Desk()
    desk.issue("A")
    desk.issue("A")
    desk.call("w01")
    desk.hall.park("w01", desk.clock())
    assert desk.hall.window_state("w01")["parked"] == ["A001"]
    assert desk.call("w02") == "A002"  # nobody else calls a parked ticket
    again = desk.hall.call_parked("w01", "A001", None, desk.clock())["ticket"]
    assert again["status"] == "called" and again["window"] == "w01"


def test_paused_window_refuses_call_next_and_resumes():
    desk = Desk()
    desk.issue("A")
    desk.hall.pause("w01", "午休 lunch", desk.clock())
    with pytest.raises(e.WindowPaused):
        desk.call("w01")
    assert desk.hall.window_state("w01")["reason"] == "午休 lunch"
    desk.hall.resume("w01", None, desk.clock())
    assert desk.call("w01") == "A001"


def test_closed_window_refuses_call_next():
    desk = Desk()
    desk.hall.close_window("w01", desk.clock())
    with pytest.raises(e.WindowClosed):
        desk.call("w01")


def test_unknown_service_and_service_without_window_are_refused():
    desk = Desk()
    with pytest.raises(e.UnknownService):
        desk.issue("Z")
    with pytest.raises(e.ServiceUnavailable):
        desk.issue("D")


def test_no_tickets_outside_opening_hours():
    hours = OpeningHours(
        rules=(
            OpeningRule(frozenset(range(5)), datetime(2000, 1, 1, 9).time(), datetime(2000, 1, 1, 17).time()),
        )
    )
    config = small_hall(hours=hours)
    desk = Desk(config, Clock(datetime(2026, 11, 23, 8, 0, tzinfo=TZ)))  # a Monday, before opening
    with pytest.raises(e.HallClosed):
        desk.issue("A", minutes_later=0)
    desk.clock.advance(hours=1, minutes=30)
    assert desk.issue("A", minutes_later=0)["ticket"]["no"] == "A001"


def test_wrong_appointment_codes_lock_the_kiosk_out():
    desk = Desk(with_policy(small_hall(), checkin_max_failures=3))
    for _ in range(3):
        with pytest.raises(e.WrongCode):
            desk.hall.checkin("NOPE1234", "kiosk-01", next(_tokens), desk.clock())
    with pytest.raises(e.LockedOut):
        desk.hall.checkin("NOPE1234", "kiosk-01", next(_tokens), desk.clock())
    desk.clock.advance(minutes=11)
    with pytest.raises(e.WrongCode):
        desk.hall.checkin("NOPE1234", "kiosk-01", next(_tokens), desk.clock())


def test_appointment_cannot_be_checked_in_twice():
    desk = Desk()
    desk.appointment("YY2026003", "B", desk.clock())
    desk.hall.checkin("YY2026003", "kiosk-01", next(_tokens), desk.clock())
    with pytest.raises(e.AppointmentUsed):
        desk.hall.checkin("YY2026003", "kiosk-02", next(_tokens), desk.clock())


def test_evaluation_rates_the_ticket_just_finished_once():
    desk = Desk()
    desk.issue("A")
    desk.hall.call_next("w01", "S1001", desk.clock())
    desk.hall.finish("w01", None, desk.clock())
    rated = desk.hall.evaluate("w01", 5, desk.clock())["evaluation"]
    assert rated["ticket"] == "A001" and rated["clerk"] == "S1001" and rated["score"] == 5
    with pytest.raises(e.AlreadyEvaluated):
        desk.hall.evaluate("w01", 1, desk.clock())


def test_clerk_must_be_a_staff_number_not_a_name():
    desk = Desk()
    with pytest.raises(e.InvalidRequest):
        desk.hall.call_next("w01", "张三", desk.clock())


def test_help_request_pressed_twice_is_one_request():
    desk = Desk()
    first = desk.hall.help_request("kiosk-01", "看不清 cannot read", desk.clock())["request"]
    second = desk.hall.help_request("kiosk-01", None, desk.clock())["request"]
    assert first["id"] == second["id"]
    desk.hall.help_resolve(first["id"], "S2001", desk.clock())
    assert desk.hall.help_request("kiosk-01", None, desk.clock())["request"]["id"] != first["id"]


def test_published_ticket_carries_no_personal_data():
    desk = Desk()
    desk.clock.advance(minutes=1)
    result = desk.hall.issue("A", "kiosk-01", "normal", "13800138000", next(_tokens), desk.clock())
    assert "13800138000" not in repr(result)
    changes = desk.hall.drain_changes()
    assert "13800138000" not in repr(changes.events)
