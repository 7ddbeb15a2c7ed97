"""Queue discipline: which ticket a window calls next, and how many are ahead of a ticket.

The calling order at a window (CONTRACT §3.2):
1. checked-in appointments whose slot has come, then the green channel, then the rest;
2. within a class, the window's services in priority order, or by its call ratios;
3. then issue time (kept across transfers), ties broken by the hall-wide ticket id.
Aging: a ticket that has waited past the bound is never passed by a ticket issued after it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from yichuang.config_model import WindowConfig

from .model import Priority, Ticket

CLASS_APPOINTMENT = 0
CLASS_GREEN = 1
CLASS_NORMAL = 2
CLASSES = (CLASS_APPOINTMENT, CLASS_GREEN, CLASS_NORMAL)


def ticket_class(ticket: Ticket, now: datetime) -> int:
    """An appointment counts as one only once its slot has come; before that it waits as a walk-in."""
    if ticket.priority is Priority.APPOINTMENT and ticket.slot_at is not None and ticket.slot_at <= now:
        return CLASS_APPOINTMENT
    if ticket.priority is Priority.GREEN:
        return CLASS_GREEN
    return CLASS_NORMAL


@dataclass(frozen=True)
class WindowProfile:
    """What the discipline needs to know of a window's configuration."""

    id: str
    services: tuple[str, ...]  # priority order
    cycle: tuple[str, ...] = ()  # expanded call ratios, e.g. A=2,B=1 -> (A, A, B); empty: strict priority

    @classmethod
    def of(cls, window: WindowConfig) -> WindowProfile:
        cycle = tuple(service for service, count in window.ratios for _ in range(count))
        return cls(window.id, window.services, cycle)


class CallOrder:
    """The tickets one window would call, in order, if nothing else changed.

    `queues` maps a service to its waiting tickets sorted by `Ticket.sort_key`; parked tickets
    are not in it. `extra`, if given, is a hypothetical ticket placed in its queue (used to
    estimate the wait of a ticket not issued yet).
    """

    def __init__(
        self,
        profile: WindowProfile,
        cursor: int,
        queues: Mapping[str, Sequence[Ticket]],
        now: datetime,
        aging: timedelta,
        extra: Ticket | None = None,
    ) -> None:
        self.profile = profile
        self.cursor = cursor % len(profile.cycle) if profile.cycle else 0
        self._buckets: dict[tuple[int, str], deque[Ticket]] = {}
        aged: list[Ticket] = []
        for service in profile.services:
            tickets: Iterable[Ticket] = queues.get(service, ())
            if extra is not None and extra.service == service:
                tickets = sorted([*tickets, extra], key=lambda t: t.sort_key)
            for ticket in tickets:
                if ticket.target_window is not None and ticket.target_window != profile.id:
                    continue
                cls = ticket_class(ticket, now)
                self._buckets.setdefault((cls, service), deque()).append(ticket)
                if now - ticket.issued_at >= aging:
                    aged.append(ticket)
        aged.sort(key=lambda t: t.sort_key)
        self._aged = deque(aged)
        self._taken: set[int] = set()

    def _front(self, bucket: deque[Ticket]) -> Ticket | None:
        while bucket and bucket[0].id in self._taken:
            bucket.popleft()
        return bucket[0] if bucket else None

    def _by_class(self) -> tuple[Ticket, int] | None:
        """The next ticket by class and service order, and the ratio cursor after taking it."""
        for cls in CLASSES:
            fronts = {
                service: front
                for service in self.profile.services
                if (bucket := self._buckets.get((cls, service))) and (front := self._front(bucket))
            }
            if not fronts:
                continue
            cycle = self.profile.cycle
            for step in range(len(cycle)):
                position = (self.cursor + step) % len(cycle)
                if cycle[position] in fronts:
                    return fronts[cycle[position]], (position + 1) % len(cycle)
            # services without a ratio (or a strict-priority window): first in priority order
            service = next(s for s in self.profile.services if s in fronts)
            return fronts[service], self.cursor
        return None

    def pick(self) -> Ticket | None:
        """Take the next ticket of this order, advancing the ratio cursor as calling it would."""
        chosen = self._by_class()
        if chosen is None:
            return None
        ticket, cursor = chosen
        aged = self._front(self._aged)
        if aged is not None and aged.sort_key < ticket.sort_key:
            ticket = aged  # aging overrides class and ratio; the cursor stays where it was
        else:
            self.cursor = cursor
        self._taken.add(ticket.id)
        return ticket

    def __iter__(self) -> Iterator[Ticket]:
        while (ticket := self.pick()) is not None:
            yield ticket


def serves(profile: WindowProfile, ticket: Ticket) -> bool:
    """Whether this window may ever call the ticket."""
    if ticket.target_window is not None:
        return ticket.target_window == profile.id
    return ticket.service in profile.services


def tickets_ahead(
    target: Ticket,
    windows: Sequence[tuple[WindowProfile, int]],
    queues: Mapping[str, Sequence[Ticket]],
    now: datetime,
    aging: timedelta,
    extra: bool = False,
) -> set[int]:
    """Ids of the tickets, of any service, that some window serving `target` calls before it.

    `windows` are (profile, ratio cursor) of the windows that count (the open ones).
    Windows with the same services, ratios and cursor share one order, so a hall of two
    hundred identical windows costs one simulation, not two hundred.
    """
    targeted = any(t.target_window is not None for q in queues.values() for t in q)
    ahead: set[int] = set()
    done: set[tuple[object, ...]] = set()
    for profile, cursor in windows:
        if not serves(profile, target):
            continue
        key: tuple[object, ...] = (profile.services, profile.cycle, cursor)
        if targeted or target.target_window is not None:
            key = (*key, profile.id)
        if key in done:
            continue
        done.add(key)
        order = CallOrder(profile, cursor, queues, now, aging, extra=target if extra else None)
        before: list[int] = []
        for ticket in order:
            if ticket.id == target.id:
                ahead.update(before)
                break
            before.append(ticket.id)
    return ahead
