"""The hall: every rule of tickets, windows, appointments, evaluations, help requests and the
file locker (its own rules in `lockers`).

Pure and single-threaded: the caller passes the time, ids and tokens in, runs one command at
a time, and persists and publishes the `Changes` each command leaves in `hall.changes`.
A command that raises a `DomainError` has changed nothing: each validates before it mutates.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from yichuang.config_model import Config, Flow, WindowConfig

from . import errors as e
from .discipline import QueueSummary, WindowProfile, first_pick, newest_ahead, ticket_class, tickets_ahead
from .estimate import HandlingTimes, estimate_wait_s
from .hours import is_open
from .lockers import (
    HOLD,
    Deposit,
    LockerBook,
    LockerOffline,
    NoModem,
    UnknownDeposit,
    WrongCode,
    code_hash,
    mask_phone,
    sms_text,
)
from .model import (
    AT_WINDOW_STATES,
    FINAL_STATES,
    WAITING_STATES,
    Appointment,
    Changes,
    Evaluation,
    HelpRequest,
    Outcome,
    Priority,
    Ticket,
    TicketStatus,
    Window,
    WindowStatus,
)
from .numbering import format_number, hall_day

STAFF_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")  # staff numbers (工号), never names
KIOSK_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CODE = re.compile(r"^[A-Za-z0-9-]{4,32}$")
RECENT_CALLS = 10

DEFAULT_OUTCOME = {
    Flow.FINISH_ON_SPOT: Outcome.DONE,
    Flow.ACCEPT_ON_SPOT: Outcome.ACCEPTED,
    Flow.RECEIVE_ONLY: Outcome.RECEIVED,
}


@dataclass
class Snapshot:
    """What a hall is rebuilt from after a restart (read from the store)."""

    tickets: list[Ticket] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    counters: dict[tuple[str, date], int] = field(default_factory=dict)
    appointments: list[Appointment] = field(default_factory=list)
    help_requests: list[HelpRequest] = field(default_factory=list)
    next_ticket_id: int = 1
    next_evaluation_id: int = 1
    next_help_id: int = 1
    handling: list[tuple[str, float]] = field(default_factory=list)  # oldest first
    recent_calls: list[dict[str, object]] = field(default_factory=list)  # newest first
    deposits: list[Deposit] = field(default_factory=list)  # the waiting ones
    next_deposit_id: int = 1


class Hall:
    """The in-memory state of one hall and the rules that change it."""

    def __init__(self, config: Config, snapshot: Snapshot, now: datetime) -> None:
        self.config = config
        self.tz = ZoneInfo(config.hall.timezone)
        self.policy = config.hall.queue
        self.aging = timedelta(minutes=self.policy.aging_minutes)
        self.services = {s.id: s for s in config.services}
        self.window_configs: dict[str, WindowConfig] = {w.id: w for w in config.windows}
        self.profiles = {w.id: WindowProfile.of(w) for w in config.windows}
        self.serving_windows = {
            s.id: tuple(w.id for w in config.windows if s.id in w.services) for s in config.services
        }
        self.windows: dict[str, Window] = {w.id: Window(w.id) for w in config.windows}
        for window in snapshot.windows:
            if window.id in self.windows:
                self.windows[window.id] = window
        self.tickets: dict[int, Ticket] = {}
        self.by_token: dict[str, Ticket] = {}
        self.by_no: dict[tuple[date, str], Ticket] = {}
        self.queues: dict[str, list[Ticket]] = {s: [] for s in self.services}
        self.parked: dict[str, list[Ticket]] = {w: [] for w in self.windows}
        self.counters = dict(snapshot.counters)
        self.appointments = {a.code: a for a in snapshot.appointments}
        self.help_requests = {h.id: h for h in snapshot.help_requests}
        self.next_ticket_id = snapshot.next_ticket_id
        self.next_evaluation_id = snapshot.next_evaluation_id
        self.next_help_id = snapshot.next_help_id
        self.times = HandlingTimes({s.id: s.minutes * 60 for s in config.services}, self.policy.ewt_history)
        for service, seconds in snapshot.handling:
            self.times.record(service, seconds)
        self.recent_calls: deque[dict[str, object]] = deque(
            (
                {**call, "label": self._label(str(call.get("window")))}
                for call in snapshot.recent_calls[:RECENT_CALLS]
            ),
            RECENT_CALLS,
        )
        self.last_called: dict[str, str] = {}
        self.checkin_failures: dict[str, deque[datetime]] = {}
        self.day = hall_day(now, self.tz)
        self.lockers = LockerBook(
            lockers={lk.id: lk for lk in config.lockers},
            boards={d.locker: d for d in config.devices if d.kind == "lock_board" and d.locker},
            modem=next((d for d in config.devices if d.kind == "modem"), None),
            deposits={d.id: d for d in snapshot.deposits},
            next_id=snapshot.next_deposit_id,
        )
        self.changes = Changes()
        # open windows' (profile, ratio cursor), kept in step by _touch_window
        self._open: dict[str, tuple[WindowProfile, int]] = {
            w.id: (self.profiles[w.id], w.ratio_cursor) for w in self.windows.values() if self._is_open(w)
        }
        self._summaries: dict[str, QueueSummary] = {}
        self._groups: list[tuple[WindowProfile, int]] | None = None
        self._free_at: dict[str, float] = {}
        self._rolled = False  # the first roll after loading sweeps whatever the store handed over
        for ticket in snapshot.tickets:
            self._index(ticket)
            key = (ticket.service, ticket.day)
            self.counters[key] = max(self.counters.get(key, 0), ticket.number)
            self.next_ticket_id = max(self.next_ticket_id, ticket.id + 1)
            if ticket.called_at is not None and ticket.day == self.day:
                previous = self.tickets.get(self._last_called_id(ticket.service))
                if previous is None or (previous.called_at or now) <= ticket.called_at:
                    self.last_called[ticket.service] = ticket.no
        for window in self.windows.values():
            self._touch_window(window)
        self.changes = Changes()  # loading is not a change
        self.roll_day(now)

    # ----------------------------------------------------------------- bookkeeping

    def _label(self, window_id: str) -> str:
        config = self.window_configs.get(window_id)
        return config.label if config else window_id

    def _last_called_id(self, service: str) -> int:
        no = self.last_called.get(service)
        ticket = self.by_no.get((self.day, no)) if no else None
        return ticket.id if ticket else -1

    def _index(self, ticket: Ticket) -> None:
        self.tickets[ticket.id] = ticket
        self.by_token[ticket.token] = ticket
        self.by_no[(ticket.day, ticket.no)] = ticket
        if ticket.status in WAITING_STATES:
            if ticket.parked and ticket.window in self.parked:
                self.parked[ticket.window].append(ticket)
            elif ticket.service in self.queues:
                self._enqueue(ticket)

    def _dequeue(self, ticket: Ticket) -> None:
        queue = self.queues.get(ticket.service)
        if queue is None:
            return
        at = bisect.bisect_left(queue, ticket.sort_key, key=lambda t: t.sort_key)
        if at < len(queue) and queue[at] is ticket:
            del queue[at]
            if (summary := self._summaries.get(ticket.service)) is not None:
                summary.remove(ticket)
            self.changes.queues.add(ticket.service)

    def _enqueue(self, ticket: Ticket) -> None:
        bisect.insort(self.queues[ticket.service], ticket, key=lambda t: t.sort_key)
        if (summary := self._summaries.get(ticket.service)) is not None:
            summary.add(ticket)
        self.changes.queues.add(ticket.service)

    def _touch_ticket(self, ticket: Ticket) -> None:
        self.changes.tickets[ticket.id] = ticket

    def _touch_window(self, window: Window) -> None:
        # when the window's current citizen is expected to be done, as a plain number: the wait
        # estimate sums these over dozens of windows for every ticket issued
        current = self.tickets.get(window.ticket_id) if window.ticket_id is not None else None
        if current is not None and current.called_at is not None:
            self._free_at[window.id] = current.called_at.timestamp() + self.times.typical(current.service)
        else:
            self._free_at.pop(window.id, None)
        before = self._open.get(window.id)
        if self._is_open(window):
            self._open[window.id] = (self.profiles[window.id], window.ratio_cursor)
        else:
            self._open.pop(window.id, None)
        if self._open.get(window.id) != before:
            self._groups = None
        self.changes.windows[window.id] = window
        # a window's state changes the waits of every service it serves
        self.changes.queues.update(self.window_configs[window.id].services)

    def _event(self, kind: str, now: datetime, **payload: object) -> None:
        self.changes.events.append((kind, {"at": now.isoformat(), **payload}))

    def drain_changes(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        return changes

    def _window(self, window_id: str) -> tuple[Window, WindowConfig]:
        window = self.windows.get(window_id)
        if window is None:
            raise e.UnknownWindow(f"no window {window_id!r} in this hall")
        return window, self.window_configs[window_id]

    def _current(self, window: Window) -> Ticket:
        ticket = self.tickets.get(window.ticket_id) if window.ticket_id is not None else None
        if ticket is None or ticket.status not in AT_WINDOW_STATES:
            raise e.NoTicket(f"window {window.id} has no current ticket")
        return ticket

    def _set_window(self, window: Window, status: WindowStatus, now: datetime) -> None:
        if window.status is not status:
            window.since = now
        window.status = status
        self._touch_window(window)

    def _check_staff(self, clerk: str | None) -> None:
        if clerk is not None and not STAFF_ID.match(clerk):
            raise e.InvalidRequest("clerk must be a staff number (letters, digits, - _ .), not a name")

    def _check_kiosk(self, kiosk: str) -> None:
        if not KIOSK_ID.match(kiosk):
            raise e.InvalidRequest("kiosk must be a device id (letters, digits, - _ .)")

    # ----------------------------------------------------------------- day rollover

    def roll_day(self, now: datetime) -> None:
        """At the hall's midnight, tickets of past days still open are cancelled and forgotten.

        Numbering restarts per day through the (service, day) counters; the previous day's
        numbers stay in the store, so none is ever handed out twice on one day.
        """
        today = hall_day(now, self.tz)
        if today < self.day:
            return  # the clock stepped back; never renumber a day that has begun
        if today == self.day and self._rolled:
            return
        self._rolled = True
        self.day = today
        stale = [t for t in self.tickets.values() if t.day < today]
        if not stale:
            return
        for ticket in stale:
            if ticket.status not in FINAL_STATES:
                self._dequeue(ticket)
                ticket.status = TicketStatus.CANCELLED
                ticket.parked = False
                ticket.finished_at = ticket.finished_at or now
                self._touch_ticket(ticket)
            del self.tickets[ticket.id]
            self.by_token.pop(ticket.token, None)
            self.by_no.pop((ticket.day, ticket.no), None)
        for window in self.windows.values():
            self.parked[window.id] = [t for t in self.parked[window.id] if t.day >= today]
            if window.ticket_id is not None and window.ticket_id not in self.tickets:
                window.ticket_id = None
                window.last_finished_id = None
                if self._is_open(window):  # a paused or closed window stays so
                    self._set_window(window, WindowStatus.IDLE, now)
                self._touch_window(window)
            elif window.last_finished_id is not None and window.last_finished_id not in self.tickets:
                window.last_finished_id = None
                self._touch_window(window)
        self.last_called.clear()
        self.recent_calls.clear()
        self.changes.calls_changed = True
        self.changes.queues.update(self.services)
        self.checkin_failures.clear()

    # ----------------------------------------------------------------- tickets

    def _new_ticket(
        self,
        service_id: str,
        priority: Priority,
        token: str,
        now: datetime,
        kiosk: str | None,
        phone: str | None,
    ) -> Ticket:
        service = self.services[service_id]
        key = (service_id, self.day)
        number = self.counters.get(key, 0) + 1
        ticket = Ticket(
            id=self.next_ticket_id,
            no=format_number(service.prefix, number),
            service=service_id,
            day=self.day,
            number=number,
            status=TicketStatus.WAITING,
            priority=priority,
            issued_at=now,
            token=token,
            kiosk=kiosk,
            phone=phone,
        )
        if token in self.by_token:
            raise e.InvalidRequest("ticket token already in use")
        self.next_ticket_id += 1
        self.counters[key] = number
        self.changes.counters[key] = number
        return ticket

    def _check_issuable(self, service_id: str, now: datetime) -> None:
        if service_id not in self.services:
            raise e.UnknownService(f"no service {service_id!r} in this hall")
        if not any(service_id in w.services for w in self.window_configs.values()):
            raise e.ServiceUnavailable(f"no window of this hall serves {service_id!r}")
        if not is_open(self.config.hall.opening_hours, now, self.tz, self.policy.stop_issuing_minutes):
            raise e.HallClosed("the hall is closed; tickets are issued during opening hours")

    def issue(
        self, service: str, kiosk: str, priority: str, phone: str | None, token: str, now: datetime
    ) -> dict[str, object]:
        """A citizen takes a ticket at a kiosk."""
        self._check_kiosk(kiosk)
        if priority not in (Priority.NORMAL, Priority.GREEN):
            raise e.InvalidRequest("priority must be 'normal' or 'green'")
        self._check_issuable(service, now)
        ticket = self._new_ticket(service, Priority(priority), token, now, kiosk, phone)
        self._index(ticket)
        self._touch_ticket(ticket)
        self.changes.queues.add(service)
        placement = self.placement(ticket, now)
        self._event(
            "ticket_issued",
            now,
            ticket=ticket.no,
            service=service,
            priority=ticket.priority.value,
            kiosk=kiosk,
            ahead=placement["ahead"],
        )
        return {"ticket": ticket.public(), **placement}

    def cancel_ticket(self, token: str, now: datetime) -> dict[str, object]:
        """The citizen gives up their place (from the status page)."""
        ticket = self.by_token.get(token)
        if ticket is None:
            raise e.UnknownTicket("no ticket with this token")
        if ticket.status not in WAITING_STATES:
            raise e.WrongState(f"ticket {ticket.no} is {ticket.status.value} and cannot be cancelled")
        self._dequeue(ticket)
        if ticket.parked and ticket.window:
            self.parked[ticket.window].remove(ticket)
            ticket.parked = False
        ticket.status = TicketStatus.CANCELLED
        ticket.finished_at = now
        self._touch_ticket(ticket)
        self._event("ticket_cancelled", now, ticket=ticket.no, service=ticket.service)
        return {"ticket": ticket.public()}

    def _summary(self, service: str, now: datetime) -> QueueSummary:
        summary = self._summaries.get(service)
        if summary is None or not summary.fresh(now):
            summary = QueueSummary.of(self.queues.get(service, ()), now, self.aging)
            self._summaries[service] = summary
        return summary

    @staticmethod
    def _is_open(window: Window) -> bool:
        return window.status not in (WindowStatus.CLOSED, WindowStatus.PAUSED)

    def _open_profiles(self) -> list[tuple[WindowProfile, int]]:
        return list(self._open.values())

    def _all_profiles(self) -> list[tuple[WindowProfile, int]]:
        return [(self.profiles[w.id], w.ratio_cursor) for w in self.windows.values()]

    def _open_groups(self) -> list[tuple[WindowProfile, int]]:
        """One open window per (services, ratios, cursor): they all call in the same order."""
        if self._groups is None:
            groups: dict[tuple[object, ...], tuple[WindowProfile, int]] = {}
            for profile, cursor in self._open.values():
                groups.setdefault((profile.services, profile.cycle, cursor), (profile, cursor))
            self._groups = list(groups.values())
        return self._groups

    def placement(self, ticket: Ticket, now: datetime, hypothetical: bool = False) -> dict[str, object]:
        """`ahead` and `ewt_s` of a waiting ticket (or of one that would be issued now)."""
        if ticket.parked:
            return {"ahead": 0, "ewt_s": None}
        # with every window closed, `ahead` still counts by the order the windows would call in
        everyone = not self._open
        per_service: dict[str, int] | None = None
        if hypothetical or (ticket.issued_at >= now and ticket.target_window is None):
            per_service = newest_ahead(
                ticket.service,
                ticket_class(ticket, now),
                self._all_profiles() if everyone else self._open_groups(),
                lambda svc: self._summary(svc, now),
                now,
                self.aging,
                exclude_self=not hypothetical,
            )
        if per_service is None:
            per_service = {}
            counted = self._all_profiles() if everyone else self._open_profiles()
            for ticket_id in tickets_ahead(ticket, counted, self.queues, now, self.aging, extra=hypothetical):
                other = self.tickets[ticket_id].service
                per_service[other] = per_service.get(other, 0) + 1
        serving = (
            self.serving_windows.get(ticket.service, ())
            if ticket.target_window is None
            else (ticket.target_window,)
        )
        clock = now.timestamp()
        open_count = 0
        busy = 0.0
        for window_id in serving:
            if window_id in self._open:
                open_count += 1
                free = self._free_at.get(window_id)
                if free is not None and free > clock:
                    busy += free - clock
        ewt = estimate_wait_s(per_service, (busy,), open_count, self.times)
        return {"ahead": sum(per_service.values()), "ewt_s": ewt}

    def queue_state(self, service_id: str, now: datetime) -> dict[str, object]:
        """The retained `state/queue/{service}`: waiting count and the wait of a ticket taken now."""
        service = self.services[service_id]
        probe = Ticket(
            id=self.next_ticket_id + 10**9,
            no="",
            service=service_id,
            day=self.day,
            number=0,
            status=TicketStatus.WAITING,
            priority=Priority.NORMAL,
            issued_at=now,
            token="",
        )
        placement = self.placement(probe, now, hypothetical=True)
        return {
            "service": service_id,
            "name": service.name,
            "name_en": service.name_en,
            "waiting": len(self.queues[service_id]),
            # whole half-minutes: a display shows minutes, and a second-by-second drift would
            # republish every queue's retained state every second
            "ewt_s": _half_minutes(placement["ewt_s"]),
            "last_called": self.last_called.get(service_id),
        }

    # ----------------------------------------------------------------- appointments

    def create_appointment(
        self, code: str, service: str, slot_at: datetime, phone: str | None, now: datetime
    ) -> dict[str, object]:
        """An appointment booked online or by phone, pushed in by the booking platform."""
        if not CODE.match(code):
            raise e.InvalidRequest("appointment code must be 4-32 letters, digits or '-'")
        if service not in self.services:
            raise e.UnknownService(f"no service {service!r} in this hall")
        if slot_at.tzinfo is None:
            raise e.InvalidRequest("slot_at needs a UTC offset")
        if code in self.appointments:
            raise e.DuplicateAppointment(f"appointment {code} already exists")
        appointment = Appointment(code=code, service=service, slot_at=slot_at, phone=phone, created_at=now)
        self.appointments[code] = appointment
        self.changes.appointments[code] = appointment
        return {"appointment": appointment.public()}

    def cancel_appointment(self, code: str) -> dict[str, object]:
        appointment = self.appointments.get(code)
        if appointment is None:
            raise e.WrongCode("no appointment with this code")
        if appointment.status != "booked":
            raise e.AppointmentUsed(f"appointment is {appointment.status}")
        appointment.status = "cancelled"
        self.changes.appointments[code] = appointment
        return {"appointment": appointment.public()}

    def _locked_out(self, kiosk: str, now: datetime) -> bool:
        failures = self.checkin_failures.get(kiosk)
        if not failures:
            return False
        horizon = now - timedelta(minutes=self.policy.checkin_lockout_minutes)
        while failures and failures[0] < horizon:
            failures.popleft()
        return len(failures) >= self.policy.checkin_max_failures

    def checkin(self, code: str, kiosk: str, token: str, now: datetime) -> dict[str, object]:
        """A citizen with an appointment checks in at a kiosk and gets an appointment ticket.

        Wrong codes are counted per kiosk; after too many the kiosk is locked out for a while,
        so that nobody can guess codes and take other people's appointments.
        """
        self._check_kiosk(kiosk)
        if self._locked_out(kiosk, now):
            raise e.LockedOut("too many wrong codes; ask the staff at the help desk")
        appointment = self.appointments.get(code.strip().upper()) or self.appointments.get(code.strip())
        if appointment is None or appointment.status == "cancelled":
            # the failure count lives in memory only, so it survives no restart; a lockout is
            # a brake on guessing, not a record
            self.checkin_failures.setdefault(kiosk, deque()).append(now)
            raise e.WrongCode("no appointment with this code")
        if appointment.status == "checked_in":
            raise e.AppointmentUsed("this appointment has already been checked in")
        if now < appointment.slot_at - timedelta(minutes=self.policy.appointment_early_minutes):
            raise e.AppointmentNotDue(
                f"check-in opens {self.policy.appointment_early_minutes} minutes before "
                f"{appointment.slot_at.astimezone(self.tz):%H:%M}"
            )
        if now > appointment.slot_at + timedelta(minutes=self.policy.appointment_late_minutes):
            raise e.AppointmentExpired("the appointment's time has passed; please take a normal ticket")
        self._check_issuable(appointment.service, now)
        ticket = self._new_ticket(
            appointment.service, Priority.APPOINTMENT, token, now, kiosk, appointment.phone
        )
        ticket.appointment = appointment.code
        ticket.slot_at = appointment.slot_at
        self._index(ticket)
        self._touch_ticket(ticket)
        appointment.status = "checked_in"
        appointment.ticket_id = ticket.id
        self.changes.appointments[appointment.code] = appointment
        self.changes.queues.add(ticket.service)
        placement = self.placement(ticket, now)
        self._event(
            "ticket_issued",
            now,
            ticket=ticket.no,
            service=ticket.service,
            priority=ticket.priority.value,
            kiosk=kiosk,
            ahead=placement["ahead"],
        )
        return {"ticket": ticket.public(), **placement}

    # ----------------------------------------------------------------- windows

    def _finish(self, window: Window, ticket: Ticket, outcome: Outcome, now: datetime) -> None:
        ticket.status = TicketStatus.DONE
        ticket.outcome = outcome
        ticket.finished_at = now
        if ticket.called_at is not None:
            self.times.record(ticket.service, (now - ticket.called_at).total_seconds())
        window.ticket_id = None
        window.last_finished_id = ticket.id
        self._touch_ticket(ticket)
        self._event(
            "ticket_finished",
            now,
            ticket=ticket.no,
            service=ticket.service,
            window=window.id,
            outcome=outcome.value,
        )

    def _call(self, window: Window, ticket: Ticket, clerk: str | None, now: datetime) -> None:
        config = self.window_configs[window.id]
        ticket.status = TicketStatus.CALLED
        ticket.window = window.id
        ticket.target_window = None
        ticket.parked = False
        ticket.called_at = now
        ticket.recall_count = 0
        ticket.clerk = clerk or window.clerk
        window.ticket_id = ticket.id
        self._set_window(window, WindowStatus.CALLING, now)
        window.since = now
        self._touch_ticket(ticket)
        self.last_called[ticket.service] = ticket.no
        self.changes.queues.add(ticket.service)
        call: dict[str, object] = {
            "ticket": ticket.no,
            "window": window.id,
            "label": config.label,
            "at": now.isoformat(),
        }
        self.recent_calls.appendleft(call)
        self.changes.calls_changed = True
        self._event(
            "ticket_called",
            now,
            ticket=ticket.no,
            service=ticket.service,
            window=window.id,
            label=config.label,
            label_en=config.label_en,
            priority=ticket.priority.value,
        )

    def _ready_to_call(self, window_id: str, clerk: str | None) -> Window:
        """The window, if it may call someone now (open, not paused, a valid staff number)."""
        window, _ = self._window(window_id)
        self._check_staff(clerk)
        if window.status is WindowStatus.PAUSED:
            raise e.WindowPaused(f"window {window_id} is paused; resume it first")
        if window.status is WindowStatus.CLOSED:
            raise e.WindowClosed(f"window {window_id} is closed; open it first")
        return window

    @staticmethod
    def _sign_in(window: Window, clerk: str | None) -> None:
        if clerk is not None:
            window.clerk = clerk

    def _finish_current(self, window: Window, now: datetime) -> None:
        """One button is the whole workflow on a simple caller: calling finishes the current citizen."""
        current = self.tickets.get(window.ticket_id) if window.ticket_id is not None else None
        if current is not None and current.status in AT_WINDOW_STATES:
            self._finish(window, current, DEFAULT_OUTCOME[self.services[current.service].flow], now)

    def call_next(self, window_id: str, clerk: str | None, now: datetime) -> dict[str, object]:
        """The clerk presses call-next: the current ticket (if any) is done, the next is called."""
        window = self._ready_to_call(window_id, clerk)
        self._sign_in(window, clerk)
        self._finish_current(window, now)
        pick = first_pick(
            self.profiles[window_id],
            window.ratio_cursor,
            self.queues,
            lambda svc: self._summary(svc, now),
            now,
            self.aging,
        )
        if pick is None:
            self._set_window(window, WindowStatus.IDLE, now)
            self._touch_window(window)
            raise e.QueueEmpty(f"no ticket waiting for window {window_id}")
        ticket, window.ratio_cursor = pick
        self._dequeue(ticket)
        self._call(window, ticket, clerk, now)
        return {"ticket": ticket.public()}

    def recall(self, window_id: str, now: datetime) -> dict[str, object]:
        """Call the current ticket again; past the hall's limit it becomes a no-show."""
        window, config = self._window(window_id)
        ticket = self._current(window)
        if ticket.status is not TicketStatus.CALLED:
            raise e.WrongState(f"ticket {ticket.no} is already being served")
        if ticket.recall_count >= self.policy.max_recalls:
            self._no_show(window, ticket, now)
            return {"ticket": ticket.public(), "recall_count": ticket.recall_count}
        ticket.recall_count += 1
        self._touch_ticket(ticket)
        self._touch_window(window)
        self._event(
            "ticket_recalled",
            now,
            ticket=ticket.no,
            service=ticket.service,
            window=window.id,
            label=config.label,
            label_en=config.label_en,
            recall_count=ticket.recall_count,
        )
        return {"ticket": ticket.public(), "recall_count": ticket.recall_count}

    def start(self, window_id: str, now: datetime) -> dict[str, object]:
        """The citizen has arrived at the window: service begins."""
        window, _ = self._window(window_id)
        ticket = self._current(window)
        if ticket.status is TicketStatus.SERVING:
            raise e.WrongState(f"ticket {ticket.no} is already being served")
        ticket.status = TicketStatus.SERVING
        ticket.started_at = now
        self._touch_ticket(ticket)
        if window.status is not WindowStatus.PAUSED:
            self._set_window(window, WindowStatus.SERVING, now)
        self._event("ticket_started", now, ticket=ticket.no, service=ticket.service, window=window.id)
        return {"ticket": ticket.public()}

    def finish(self, window_id: str, outcome: str | None, now: datetime) -> dict[str, object]:
        window, _ = self._window(window_id)
        ticket = self._current(window)
        if outcome is None:
            chosen = DEFAULT_OUTCOME[self.services[ticket.service].flow]
        else:
            try:
                chosen = Outcome(outcome)
            except ValueError:
                raise e.InvalidRequest("outcome must be done, accepted, received or rejected") from None
        self._finish(window, ticket, chosen, now)
        if window.status is not WindowStatus.PAUSED:
            self._set_window(window, WindowStatus.IDLE, now)
        self._touch_window(window)
        return {"ticket": ticket.public()}

    def _no_show(self, window: Window, ticket: Ticket, now: datetime) -> None:
        ticket.status = TicketStatus.NO_SHOW
        ticket.finished_at = now
        window.ticket_id = None
        self._touch_ticket(ticket)
        if window.status is not WindowStatus.PAUSED:
            self._set_window(window, WindowStatus.IDLE, now)
        self._touch_window(window)
        self._event(
            "ticket_no_show",
            now,
            ticket=ticket.no,
            service=ticket.service,
            window=window.id,
            recall_count=ticket.recall_count,
        )

    def no_show(self, window_id: str, now: datetime) -> dict[str, object]:
        window, _ = self._window(window_id)
        ticket = self._current(window)
        if ticket.status is TicketStatus.SERVING:
            raise e.WrongState(f"ticket {ticket.no} is being served; finish it instead")
        self._no_show(window, ticket, now)
        return {"ticket": ticket.public()}

    def transfer(
        self, window_id: str, service: str | None, target: str | None, now: datetime
    ) -> dict[str, object]:
        """Send the current citizen to another service or window; they keep their place."""
        window, _ = self._window(window_id)
        ticket = self._current(window)
        if service is None and target is None:
            raise e.InvalidRequest("transfer needs a service or a window")
        new_service = service or ticket.service
        if new_service not in self.services:
            raise e.UnknownService(f"no service {new_service!r} in this hall")
        if target is not None:
            if target not in self.windows:
                raise e.UnknownWindow(f"no window {target!r} in this hall")
            if target == window_id:
                raise e.InvalidTransfer("a ticket cannot be transferred to its own window")
            if new_service not in self.window_configs[target].services:
                raise e.InvalidTransfer(f"window {target} does not serve {new_service}")
        elif new_service == ticket.service:
            raise e.InvalidTransfer(f"ticket {ticket.no} is already for {new_service}")
        elif not any(new_service in w.services for w in self.window_configs.values()):
            raise e.ServiceUnavailable(f"no window of this hall serves {new_service!r}")
        old_service = ticket.service
        ticket.transferred_from = old_service
        ticket.service = new_service
        ticket.target_window = target
        ticket.status = TicketStatus.TRANSFERRED
        ticket.recall_count = 0
        window.ticket_id = None
        self._enqueue(ticket)
        self.changes.queues.add(old_service)
        self._touch_ticket(ticket)
        if window.status is not WindowStatus.PAUSED:
            self._set_window(window, WindowStatus.IDLE, now)
        self._touch_window(window)
        self._event(
            "ticket_transferred",
            now,
            ticket=ticket.no,
            from_service=old_service,
            service=new_service,
            window=window.id,
            to_window=target,
        )
        return {"ticket": ticket.public()}

    def park(self, window_id: str, now: datetime) -> dict[str, object]:
        """Put the current citizen on hold (e.g. gone to copy a document); call them back later."""
        window, _ = self._window(window_id)
        ticket = self._current(window)
        ticket.status = TicketStatus.WAITING
        ticket.parked = True
        window.ticket_id = None
        self.parked[window_id].append(ticket)
        self._touch_ticket(ticket)
        if window.status is not WindowStatus.PAUSED:
            self._set_window(window, WindowStatus.IDLE, now)
        self._touch_window(window)
        self._event("ticket_parked", now, ticket=ticket.no, service=ticket.service, window=window_id)
        return {"ticket": ticket.public()}

    def call_parked(
        self, window_id: str, ticket_no: str, clerk: str | None, now: datetime
    ) -> dict[str, object]:
        """Call back a ticket this window put on hold; the current one, if any, is done."""
        window = self._ready_to_call(window_id, clerk)
        ticket = next((t for t in self.parked[window_id] if t.no == ticket_no), None)
        if ticket is None:
            raise e.UnknownTicket(f"window {window_id} holds no ticket {ticket_no}")
        self._sign_in(window, clerk)
        self._finish_current(window, now)
        self.parked[window_id].remove(ticket)
        self._call(window, ticket, clerk, now)
        return {"ticket": ticket.public()}

    def pause(self, window_id: str, reason: str | None, now: datetime) -> dict[str, object]:
        window, _ = self._window(window_id)
        if window.status is WindowStatus.CLOSED:
            raise e.WindowClosed(f"window {window_id} is closed")
        if window.status is WindowStatus.PAUSED:
            raise e.WindowPaused(f"window {window_id} is already paused")
        window.pause_reason = (reason or "").strip()[:100] or None
        self._set_window(window, WindowStatus.PAUSED, now)
        self._event("window_paused", now, window=window_id, reason=window.pause_reason)
        return {"window": self.window_state(window_id)}

    def resume(self, window_id: str, clerk: str | None, now: datetime) -> dict[str, object]:
        """Resume after a pause; on a closed window this opens it (one key on a simple caller)."""
        window, _ = self._window(window_id)
        self._check_staff(clerk)
        if window.status not in (WindowStatus.PAUSED, WindowStatus.CLOSED):
            raise e.WrongState(f"window {window_id} is not paused")
        if clerk is not None:
            window.clerk = clerk
        window.pause_reason = None
        self._set_window(window, self._working_status(window), now)
        self._event("window_resumed", now, window=window_id)
        return {"window": self.window_state(window_id)}

    def _working_status(self, window: Window) -> WindowStatus:
        current = self.tickets.get(window.ticket_id) if window.ticket_id is not None else None
        if current is None or current.status not in AT_WINDOW_STATES:
            return WindowStatus.IDLE
        return WindowStatus.SERVING if current.status is TicketStatus.SERVING else WindowStatus.CALLING

    def open_window(self, window_id: str, clerk: str | None, now: datetime) -> dict[str, object]:
        window, _ = self._window(window_id)
        self._check_staff(clerk)
        if window.status is not WindowStatus.CLOSED:
            raise e.WrongState(f"window {window_id} is already open")
        window.clerk = clerk
        self._set_window(window, WindowStatus.IDLE, now)
        self._event("window_opened", now, window=window_id)
        return {"window": self.window_state(window_id)}

    def close_window(self, window_id: str, now: datetime) -> dict[str, object]:
        """Close a window; tickets it held on hold go back to their queue, keeping their place."""
        window, _ = self._window(window_id)
        if window.status is WindowStatus.CLOSED:
            raise e.WindowClosed(f"window {window_id} is already closed")
        if (
            window.ticket_id is not None
            and self.tickets.get(window.ticket_id) is not None
            and self.tickets[window.ticket_id].status in AT_WINDOW_STATES
        ):
            raise e.WrongState(f"window {window_id} still has a ticket; finish it first")
        for ticket in self.parked[window_id]:
            ticket.parked = False
            self._enqueue(ticket)
            self._touch_ticket(ticket)
        self.parked[window_id] = []
        window.clerk = None
        window.pause_reason = None
        self._set_window(window, WindowStatus.CLOSED, now)
        self._event("window_closed", now, window=window_id)
        return {"window": self.window_state(window_id)}

    def window_state(self, window_id: str) -> dict[str, object]:
        """The retained `state/window/{window}`."""
        window = self.windows[window_id]
        config = self.window_configs[window_id]
        current = self.tickets.get(window.ticket_id) if window.ticket_id is not None else None
        out: dict[str, object] = {
            "window": window_id,
            "label": config.label,
            "label_en": config.label_en,
            "kind": config.kind.value,
            "status": window.status.value,
            "ticket": current.no if current else None,
            "service": current.service if current else None,
            "since": window.since.isoformat() if window.since else None,
            "recall_count": current.recall_count if current else 0,
            "parked": [t.no for t in self.parked[window_id]],
        }
        if window.pause_reason:
            out["reason"] = window.pause_reason
        return out

    def calls_state(self) -> dict[str, object]:
        return {"recent": list(self.recent_calls)}

    # ----------------------------------------------------------------- evaluations and help

    def evaluate(self, window_id: str, score: int, now: datetime) -> dict[str, object]:
        """The citizen rates the service just finished at this window (5 = 非常满意)."""
        window, _ = self._window(window_id)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise e.InvalidRequest("score must be an integer from 1 to 5")
        ticket_id = window.last_finished_id
        if ticket_id is None and window.ticket_id is not None:
            ticket_id = window.ticket_id  # rating while still at the window counts for that ticket
        ticket = self.tickets.get(ticket_id) if ticket_id is not None else None
        if ticket is None:
            raise e.NoTicket(f"window {window_id} has served no ticket to rate")
        if ticket.evaluated:
            raise e.AlreadyEvaluated(f"ticket {ticket.no} has already been rated")
        evaluation = Evaluation(
            self.next_evaluation_id, ticket.id, ticket.no, window_id, ticket.clerk, score, now
        )
        self.next_evaluation_id += 1
        ticket.evaluated = True
        self._touch_ticket(ticket)
        self.changes.evaluations.append(evaluation)
        self._event("evaluation", now, ticket=ticket.no, window=window_id, score=score)
        return {"evaluation": evaluation.public()}

    def help_request(self, kiosk: str, reason: str | None, now: datetime) -> dict[str, object]:
        """A citizen at a kiosk asks for a helper (帮办); shown on consoles and the dashboard."""
        self._check_kiosk(kiosk)
        text = (reason or "").strip()[:200]
        for existing in self.help_requests.values():
            # a second press while the first is still open is the same request
            if existing.kiosk == kiosk and existing.status == "open":
                return {"request": existing.public()}
        request = HelpRequest(self.next_help_id, kiosk, text, now)
        self.next_help_id += 1
        self.help_requests[request.id] = request
        self.changes.help_requests[request.id] = request
        self._event("help_requested", now, request=request.id, kiosk=kiosk, reason=text)
        return {"request": request.public()}

    def help_resolve(self, request_id: int, by: str | None, now: datetime) -> dict[str, object]:
        self._check_staff(by)
        request = self.help_requests.get(request_id)
        if request is None:
            raise e.UnknownRequest(f"no help request {request_id}")
        if request.status != "open":
            raise e.WrongState(f"help request {request_id} is already resolved")
        request.status = "resolved"
        request.resolved_by = by
        request.resolved_at = now
        self.changes.help_requests[request.id] = request
        self._event("help_resolved", now, request=request.id, kiosk=request.kiosk)
        return {"request": request.public()}

    def open_help_requests(self) -> list[dict[str, object]]:
        return [h.public() for h in self.help_requests.values() if h.status == "open"]

    # ----------------------------------------------------------------- the file locker

    def locker_deposit(
        self,
        locker_id: str,
        window_id: str,
        phone: str,
        case: str | None,
        size: str | None,
        code: str,
        now: datetime,
    ) -> dict[str, object]:
        """A window deposits a result: a free door opens for the clerk and the citizen gets the
        pickup code by SMS. `code` is a fresh random code drawn by the caller."""
        book = self.lockers
        book.locker(locker_id)
        self._window(window_id)
        board = book.boards.get(locker_id)
        if board is None:
            raise LockerOffline(f"no lock board drives {locker_id}")
        if book.modem is None:
            raise NoModem("no modem to send the pickup code")
        door = book.choose_door(locker_id, size)
        deposit = Deposit(
            id=book.next_id,
            locker=locker_id,
            door=door,
            window=window_id,
            case=case,
            phone_masked=mask_phone(phone),
            code_hash=code_hash(book.next_id, code),
            deposited_at=now,
            expires_at=now + HOLD,
        )
        book.next_id += 1
        book.deposits[deposit.id] = deposit
        self.changes.deposits[deposit.id] = deposit
        self.changes.lockers.add(locker_id)
        sms = sms_text(code, door, deposit.expires_at.astimezone(self.tz), self.config.hall.name)
        self.changes.device_commands.append((board.id, {"open": door}))
        # the id is stable per deposit: a modem asked twice sends once
        sms_id = f"{self.config.hall.id}-deposit-{deposit.id}"
        message = {"to": phone, "text": sms, "id": sms_id}
        self.changes.device_commands.append((book.modem.id, {"sms": message}))
        self._event(
            "locker_deposited", now, locker=locker_id, door=door, window=window_id, deposit=deposit.id
        )
        return {"door": door, "expires_at": deposit.expires_at.isoformat(), "deposit": deposit.id}

    def locker_pickup(self, locker_id: str, code: str, now: datetime) -> dict[str, object]:
        """A citizen types the pickup code at the locker: the right one opens its door.

        A wrong code is counted even though the command fails: that count (in memory only,
        like check-in failures) is what locks a guesser out."""
        book = self.lockers
        book.locker(locker_id)
        book.check_not_locked_out(locker_id, now)
        deposit = book.match(locker_id, code.strip())
        if deposit is None:
            if book.note_wrong(locker_id, now):
                alarm: dict[str, object] = {
                    "at": now.isoformat(),
                    "kind": "locker_locked_out",
                    "device": locker_id,
                }
                self.changes.events.append(("alarm", alarm))
            raise WrongCode("no deposit in this locker has that code")
        board = book.boards.get(locker_id)
        if board is None:
            raise LockerOffline(f"no lock board drives {locker_id}")
        self._close_deposit(deposit, "picked_up", now)
        self.changes.device_commands.append((board.id, {"open": deposit.door}))
        self._event("locker_picked_up", now, locker=locker_id, door=deposit.door, deposit=deposit.id)
        return {"door": deposit.door}

    def locker_withdraw(
        self, locker_id: str, deposit_id: int, window_id: str, now: datetime
    ) -> dict[str, object]:
        """A clerk takes an uncollected (or mistaken) deposit back: its door opens, it is freed."""
        book = self.lockers
        book.locker(locker_id)
        self._window(window_id)
        deposit = book.deposits.get(deposit_id)
        if deposit is None or deposit.locker != locker_id:
            raise UnknownDeposit(f"no waiting deposit {deposit_id} in {locker_id}")
        board = book.boards.get(locker_id)
        if board is None:
            raise LockerOffline(f"no lock board drives {locker_id}")
        self._close_deposit(deposit, "withdrawn", now)
        self.changes.device_commands.append((board.id, {"open": deposit.door}))
        self._event("locker_withdrawn", now, locker=locker_id, door=deposit.door, deposit=deposit.id)
        return {"door": deposit.door, "deposit": deposit.public()}

    def _close_deposit(self, deposit: Deposit, status: str, now: datetime) -> None:
        deposit.status = status
        deposit.picked_up_at = now
        del self.lockers.deposits[deposit.id]
        self.changes.deposits[deposit.id] = deposit
        self.changes.lockers.add(deposit.locker)

    def locker_sensed(
        self,
        board_id: str,
        online: bool | None,
        open_doors: Iterable[int] | None,
        doors: Iterable[int] | None = None,
    ) -> None:
        """What a lock board reports (its availability, its door sensors): not a command, not
        stored; it only changes what `state/locker/{locker}` says."""
        locker_id = next((lk for lk, b in self.lockers.boards.items() if b.id == board_id), None)
        if locker_id is None:
            return
        sensors = self.lockers.sensor(locker_id)
        before = (sensors.online, sensors.open_doors, sensors.doors)
        if online is not None:
            sensors.online = online
        if open_doors is not None:
            sensors.open_doors = frozenset(open_doors)
        if doors is not None:
            sensors.doors = frozenset(doors)
        if (sensors.online, sensors.open_doors, sensors.doors) != before:
            self.changes.lockers.add(locker_id)

    def locker_sms_result(self, sms_id: str, sent: bool, now: datetime) -> None:
        """The modem's report on a pickup SMS (`event/sms_sent` or `sms_failed`, id
        `{hall}-deposit-{n}`): kept on the waiting deposit, for the clerk's screen. A later
        `sent` (a retry that got through) overrides a `failed`."""
        prefix = f"{self.config.hall.id}-deposit-"
        if not sms_id.startswith(prefix) or not sms_id[len(prefix) :].isdigit():
            return
        deposit = self.lockers.deposits.get(int(sms_id[len(prefix) :]))
        status = "sent" if sent else "failed"
        if deposit is None or deposit.sms == status or (deposit.sms == "sent" and not sent):
            return
        deposit.sms = status
        self.changes.deposits[deposit.id] = deposit
        self._event(
            "locker_sms", now, locker=deposit.locker, door=deposit.door, deposit=deposit.id, sms=status
        )

    def locker_state(self, locker_id: str) -> dict[str, object]:
        return self.lockers.state(locker_id)

    def waiting_deposits(self, locker_id: str | None = None) -> list[dict[str, object]]:
        return [
            d.public()
            for d in sorted(self.lockers.deposits.values(), key=lambda d: d.id)
            if locker_id is None or d.locker == locker_id
        ]

    # ----------------------------------------------------------------- queries

    def ticket_by_token(self, token: str) -> Ticket | None:
        return self.by_token.get(token)

    def ticket_by_no(self, no: str) -> Ticket | None:
        return self.by_no.get((self.day, no))

    def waiting(self) -> Iterable[Ticket]:
        for queue in self.queues.values():
            yield from queue


def _half_minutes(seconds: object) -> int | None:
    if not isinstance(seconds, int):
        return None
    return -(-seconds // 30) * 30
