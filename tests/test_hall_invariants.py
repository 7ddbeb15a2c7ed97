"""Random days in the hall (hypothesis): whatever clerks and citizens do, the books stay straight."""

from __future__ import annotations

import contextlib
import itertools

from helpers.halls import Clock, small_hall
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from queue_server.domain import errors as e
from queue_server.domain.discipline import QueueSummary, tickets_ahead
from queue_server.domain.hall import Hall, Snapshot
from queue_server.domain.model import AT_WINDOW_STATES, WAITING_STATES

WINDOWS = ["w01", "w02", "w03", "w09"]
SERVICES = ["A", "B", "C"]


class HallDay(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.hall = Hall(small_hall(), Snapshot(), self.clock())
        self.tokens = (f"tok{n:08d}" for n in itertools.count())
        for window in WINDOWS:
            self.hall.open_window(window, None, self.clock())

    def _try(self, action) -> None:
        with contextlib.suppress(e.DomainError):
            action()
        self.hall.drain_changes()

    @rule(service=st.sampled_from(SERVICES), green=st.booleans(), minutes=st.integers(0, 20))
    def issue(self, service, green, minutes):
        self.clock.advance(minutes=minutes)
        result = self.hall.issue(service, "kiosk-01", "green" if green else "normal", None, next(self.tokens),
                                 self.clock())
        ticket = self.hall.ticket_by_no(result["ticket"]["no"])
        # the fast answer for a new ticket is the simulation's answer
        exact = tickets_ahead(ticket, self.hall._all_profiles() if not self.hall._open else
                              self.hall._open_profiles(), self.hall.queues, self.clock(), self.hall.aging)
        assert result["ahead"] == len(exact)
        self.hall.drain_changes()

    @rule(window=st.sampled_from(WINDOWS))
    def call_next(self, window):
        self._try(lambda: self.hall.call_next(window, None, self.clock()))

    @rule(window=st.sampled_from(WINDOWS), action=st.sampled_from(["recall", "start", "no_show", "park"]))
    def act(self, window, action):
        self._try(lambda: getattr(self.hall, action)(window, self.clock()))

    @rule(window=st.sampled_from(WINDOWS), outcome=st.sampled_from([None, "done", "rejected"]))
    def finish(self, window, outcome):
        self._try(lambda: self.hall.finish(window, outcome, self.clock()))

    @rule(window=st.sampled_from(WINDOWS), service=st.sampled_from([*SERVICES, None]),
          to_window=st.sampled_from([*WINDOWS, None]))
    def transfer(self, window, service, to_window):
        self._try(lambda: self.hall.transfer(window, service, to_window, self.clock()))

    @rule(window=st.sampled_from(WINDOWS))
    def call_parked(self, window):
        parked = self.hall.parked[window]
        if parked:
            self._try(lambda: self.hall.call_parked(window, parked[0].no, None, self.clock()))

    @rule(window=st.sampled_from(WINDOWS))
    def pause_or_resume(self, window):
        if self.hall.windows[window].status.value == "paused":
            self._try(lambda: self.hall.resume(window, None, self.clock()))
        else:
            self._try(lambda: self.hall.pause(window, "break", self.clock()))

    @invariant()
    def every_ticket_is_in_exactly_one_place(self):
        places: dict[int, str] = {}
        for service, queue in self.hall.queues.items():
            assert queue == sorted(queue, key=lambda t: t.sort_key)
            for ticket in queue:
                assert ticket.status in WAITING_STATES and not ticket.parked and ticket.service == service
                assert ticket.id not in places
                places[ticket.id] = f"queue {service}"
        for window, parked in self.hall.parked.items():
            for ticket in parked:
                assert ticket.parked and ticket.id not in places
                places[ticket.id] = f"parked {window}"
        for window in self.hall.windows.values():
            if window.ticket_id is not None:
                ticket = self.hall.tickets[window.ticket_id]
                assert ticket.status in AT_WINDOW_STATES and ticket.id not in places
                places[ticket.id] = f"window {window.id}"
        for ticket in self.hall.tickets.values():
            if ticket.status in WAITING_STATES or ticket.status in AT_WINDOW_STATES:
                assert ticket.id in places, f"{ticket.no} ({ticket.status}) is nowhere"

    @invariant()
    def numbers_are_unique(self):
        numbers = [t.no for t in self.hall.tickets.values()]
        assert len(numbers) == len(set(numbers))

    @invariant()
    def kept_summaries_match_a_fresh_count(self):
        for service, summary in self.hall._summaries.items():
            fresh = QueueSummary.of(self.hall.queues[service], summary.computed_at, self.hall.aging)
            for kept, counted in ((summary.counts, fresh.counts), (summary.aged, fresh.aged)):
                assert {k: v for k, v in kept.items() if v} == {k: v for k, v in counted.items() if v}
            assert sorted(t.id for t in summary.targeted) == sorted(t.id for t in fresh.targeted)


HallDay.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_hall_day = HallDay.TestCase
