"""The hall's mutable records: tickets, windows, appointments, evaluations, help requests (locker
deposits live in `lockers`).

Plain dataclasses with no I/O. Times are timezone-aware datetimes passed in by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lockers import Deposit


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"  # waiting again, in the queue it was transferred to
    CANCELLED = "cancelled"


WAITING_STATES = frozenset({TicketStatus.WAITING, TicketStatus.TRANSFERRED})
AT_WINDOW_STATES = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})
FINAL_STATES = frozenset({TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.CANCELLED})


class Priority(StrEnum):
    NORMAL = "normal"
    GREEN = "green"  # 绿色通道: elderly, disabled, pregnant
    APPOINTMENT = "appointment"  # checked-in online/phone appointment


class Outcome(StrEnum):
    DONE = "done"  # 当场办结
    ACCEPTED = "accepted"  # 当场受理
    RECEIVED = "received"  # 当场收件
    REJECTED = "rejected"  # not accepted; the clerk told the citizen why


class WindowStatus(StrEnum):
    CLOSED = "closed"
    IDLE = "idle"
    CALLING = "calling"
    SERVING = "serving"
    PAUSED = "paused"


@dataclass(eq=False)  # identity: a ticket is one citizen's place, whatever its fields say
class Ticket:
    id: int  # hall-wide sequence, the tie-breaker of equal issue times
    no: str  # A012
    service: str
    day: date  # the hall-local day whose numbering it belongs to
    number: int
    status: TicketStatus
    priority: Priority
    issued_at: datetime  # kept across transfers: the citizen keeps their place
    token: str  # secret of the status page /t/{token}
    kiosk: str | None = None
    phone: str | None = None  # personal data: stored, never published
    appointment: str | None = None  # appointment code
    slot_at: datetime | None = None
    window: str | None = None  # the window that called it last
    target_window: str | None = None  # only this window may call it (transfer to a window)
    parked: bool = False  # put on hold by `window`; only that window calls it back
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recall_count: int = 0
    clerk: str | None = None
    outcome: Outcome | None = None
    transferred_from: str | None = None  # service id before the last transfer
    evaluated: bool = False

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.issued_at, self.id)

    def public(self) -> dict[str, object]:
        """The contract's ticket object; never carries personal data."""
        out: dict[str, object] = {
            "no": self.no,
            "service": self.service,
            "status": self.status.value,
            "issued_at": self.issued_at.isoformat(),
            "priority": self.priority.value,
        }
        if self.window is not None:
            out["window"] = self.window
        if self.target_window is not None:
            out["target_window"] = self.target_window
        if self.parked:
            out["parked"] = True
        if self.recall_count:
            out["recall_count"] = self.recall_count
        if self.outcome is not None:
            out["outcome"] = self.outcome.value
        if self.slot_at is not None:
            out["slot_at"] = self.slot_at.isoformat()
        return out


@dataclass
class Window:
    id: str
    status: WindowStatus = WindowStatus.CLOSED
    ticket_id: int | None = None  # the ticket called or being served
    clerk: str | None = None
    since: datetime | None = None
    pause_reason: str | None = None
    ratio_cursor: int = 0  # position in the window's call-ratio cycle
    last_finished_id: int | None = None  # the ticket an evaluation pad rates


@dataclass
class Appointment:
    code: str
    service: str
    slot_at: datetime
    status: str = "booked"  # booked | checked_in | cancelled
    ticket_id: int | None = None
    phone: str | None = None  # personal data: stored, never published
    created_at: datetime | None = None

    def public(self) -> dict[str, object]:
        return {
            "code": self.code,
            "service": self.service,
            "slot_at": self.slot_at.isoformat(),
            "status": self.status,
        }


@dataclass
class Evaluation:
    id: int
    ticket_id: int
    ticket_no: str
    window: str
    clerk: str | None
    score: int
    at: datetime

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ticket": self.ticket_no,
            "window": self.window,
            "clerk": self.clerk,
            "score": self.score,
            "at": self.at.isoformat(),
        }


@dataclass
class HelpRequest:
    id: int
    kiosk: str
    reason: str
    at: datetime
    status: str = "open"  # open | resolved
    resolved_by: str | None = None
    resolved_at: datetime | None = None

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "kiosk": self.kiosk,
            "reason": self.reason,
            "status": self.status,
            "at": self.at.isoformat(),
        }
        if self.resolved_by is not None:
            out["resolved_by"] = self.resolved_by
        if self.resolved_at is not None:
            out["resolved_at"] = self.resolved_at.isoformat()
        return out


@dataclass
class Changes:
    """What a command changed: the store persists it, the adapters publish it."""

    tickets: dict[int, Ticket] = field(default_factory=dict)
    windows: dict[str, Window] = field(default_factory=dict)
    counters: dict[tuple[str, date], int] = field(default_factory=dict)
    appointments: dict[str, Appointment] = field(default_factory=dict)
    evaluations: list[Evaluation] = field(default_factory=list)
    help_requests: dict[int, HelpRequest] = field(default_factory=dict)
    deposits: dict[int, Deposit] = field(default_factory=dict)  # locker deposits
    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    queues: set[str] = field(default_factory=set)  # services whose queue state may have changed
    lockers: set[str] = field(default_factory=set)  # lockers whose state may have changed
    calls_changed: bool = False
    # (device id, payload) for `device/{id}/set`, sent once the change is durable: a door to
    # open, an SMS to send. Never an event: an SMS command carries a phone number and a code.
    device_commands: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def merge(self, other: Changes) -> None:
        self.tickets.update(other.tickets)
        self.windows.update(other.windows)
        self.counters.update(other.counters)
        self.appointments.update(other.appointments)
        self.evaluations.extend(other.evaluations)
        self.help_requests.update(other.help_requests)
        self.deposits.update(other.deposits)
        self.events.extend(other.events)
        self.queues |= other.queues
        self.lockers |= other.lockers
        self.calls_changed = self.calls_changed or other.calls_changed
        self.device_commands.extend(other.device_commands)

    def empty(self) -> bool:
        return not (
            self.tickets
            or self.windows
            or self.counters
            or self.appointments
            or self.evaluations
            or self.help_requests
            or self.deposits
            or self.events
            or self.queues
            or self.lockers
            or self.device_commands
            or self.calls_changed
        )
