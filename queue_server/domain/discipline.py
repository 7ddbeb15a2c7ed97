"""Queue discipline: which ticket a window calls next, and how many are ahead of a ticket.

The calling order at a window (CONTRACT §3.2):
1. checked-in appointments whose slot has come, then the green channel, then the rest;
2. within a class, the window's services in priority order, or by its call ratios;
3. then issue time (kept across transfers), ties broken by the hall-wide ticket id.
Aging: a ticket that has waited past the bound is never passed by a ticket issued after it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


@dataclass
class QueueSummary:
    """Counts of one service's queue by class, valid until the next aging or slot boundary.

    Classes and aging are judged at `computed_at`; tickets joining or leaving the queue are
    counted in and out the same way, so the summary stays exact without a rescan.
    """

    counts: dict[int, int]
    aged: dict[int, int]
    targeted: list[Ticket]  # tickets transferred to one window: counted one by one
    computed_at: datetime
    valid_until: datetime
    aging: timedelta

    @classmethod
    def of(cls, queue: Sequence[Ticket], now: datetime, aging: timedelta) -> QueueSummary:
        summary = cls({}, {}, [], now, now + timedelta(days=1), aging)
        for ticket in queue:
            summary.add(ticket)
        return summary

    def _judge(self, ticket: Ticket) -> tuple[int, bool]:
        now = self.computed_at
        aged = now - ticket.issued_at >= self.aging
        if not aged:
            self.valid_until = min(self.valid_until, ticket.issued_at + self.aging)
        if ticket.priority is Priority.APPOINTMENT and ticket.slot_at is not None and ticket.slot_at > now:
            self.valid_until = min(self.valid_until, ticket.slot_at)
        return ticket_class(ticket, now), aged

    def add(self, ticket: Ticket) -> None:
        if ticket.target_window is not None:
            self.targeted.append(ticket)
            return
        k, aged = self._judge(ticket)
        self.counts[k] = self.counts.get(k, 0) + 1
        if aged:
            self.aged[k] = self.aged.get(k, 0) + 1

    def remove(self, ticket: Ticket) -> None:
        if ticket.target_window is not None:
            if ticket in self.targeted:
                self.targeted.remove(ticket)
            return
        k, aged = self._judge(ticket)
        self.counts[k] -= 1
        if aged:
            self.aged[k] -= 1

    def fresh(self, now: datetime) -> bool:
        return self.computed_at <= now < self.valid_until


def newest_ahead(
    service: str,
    cls: int,
    windows: Sequence[tuple[WindowProfile, int]],
    summaries: Callable[[str], QueueSummary],
    now: datetime,
    aging: timedelta,
    exclude_self: bool = False,
) -> dict[str, int] | None:
    """How many tickets of each service are called before a ticket issued now (the newest).

    The same answer as `tickets_ahead` for the newest ticket, without simulating every call:
    a ticket issued now is behind every ticket of a better class, of a higher-ranked service
    of its class, and of its own service; and behind every aged ticket. Within a cell
    (service, class) tickets are called oldest first, so what is ahead in one window is a
    prefix of the cell, and the union over windows is the longest prefix. Only ratio windows
    need a walk, over counts rather than tickets. `exclude_self`: the ticket is already queued.

    None when the shortcut does not hold and the caller must simulate: tickets transferred to
    one window wait in that window's order only, and aged tickets taken out of turn shift a
    ratio window's cycle.
    """
    relevant = [(p, c) for p, c in windows if service in p.services]
    counts: dict[tuple[str, int], int] = {}
    aged: dict[tuple[str, int], int] = {}
    targeted: list[Ticket] = []
    for svc in {s for p, _ in relevant for s in p.services}:
        summary = summaries(svc)
        for k, n in summary.counts.items():
            counts[(svc, k)] = n
        for k, n in summary.aged.items():
            aged[(svc, k)] = n
        targeted.extend(summary.targeted)
    if targeted:
        return None
    if any(p.cycle and any(aged.get((s, k)) for s in p.services for k in CLASSES) for p, _ in relevant):
        return None
    if exclude_self and counts.get((service, cls)):
        counts[(service, cls)] -= 1
    prefix: dict[tuple[str, int], int] = {}
    seen: set[tuple[object, ...]] = set()
    for profile, cursor in relevant:
        signature = (profile.services, profile.cycle, cursor)
        if signature in seen:
            continue
        seen.add(signature)
        taken = _ratio_taken(profile, cursor, service, cls, counts) if profile.cycle else {}
        rank = {s: i for i, s in enumerate(profile.services)}
        for svc in profile.services:
            for k in CLASSES:
                n = counts.get((svc, k), 0)
                if not n:
                    continue
                if k < cls or (k == cls and svc == service):
                    take = n
                elif k == cls and profile.cycle:
                    take = max(taken.get(svc, 0), aged.get((svc, k), 0))
                elif k == cls and rank[svc] < rank[service]:
                    take = n
                else:
                    take = aged.get((svc, k), 0)
                if take > prefix.get((svc, k), 0):
                    prefix[(svc, k)] = take
    ahead: dict[str, int] = {}
    for (svc, _), n in prefix.items():
        ahead[svc] = ahead.get(svc, 0) + n
    return ahead


def _ratio_taken(
    profile: WindowProfile, cursor: int, service: str, cls: int, counts: Mapping[tuple[str, int], int]
) -> dict[str, int]:
    """Tickets of each service of class `cls` a ratio window calls before the newest `service` ticket.

    Better classes are called first and move the cursor as they go; then the class of the
    newest ticket is walked on counts until its own service's turn comes past its queue.
    """
    cycle = profile.cycle
    position = cursor % len(cycle)
    for k in CLASSES:
        if k > cls:
            break
        left = {s: counts.get((s, k), 0) for s in profile.services}
        taken = dict.fromkeys(profile.services, 0)
        while True:
            if k == cls and left[service] == 0:
                # the newest ticket is next in its bucket; the pick happens at its service's next turn
                for step in range(len(cycle)):
                    s = cycle[(position + step) % len(cycle)]
                    if s == service:
                        break
                    if left.get(s, 0) > 0:
                        left[s] -= 1
                        taken[s] += 1
                return taken
            picked = False
            for step in range(len(cycle)):
                at = (position + step) % len(cycle)
                s = cycle[at]
                if left.get(s, 0) > 0:
                    left[s] -= 1
                    taken[s] += 1
                    position = (at + 1) % len(cycle)
                    picked = True
                    break
            if not picked:
                break  # this class is exhausted (its services without a ratio come after the cycle)
    return {}


def first_pick(
    profile: WindowProfile,
    cursor: int,
    queues: Mapping[str, Sequence[Ticket]],
    summaries: Callable[[str], QueueSummary],
    now: datetime,
    aging: timedelta,
) -> tuple[Ticket, int] | None:
    """The ticket `call_next` takes and the ratio cursor after it: `CallOrder(...).pick()`, cheaply.

    Queues are sorted oldest first, so each class's front is the first ticket of that class,
    and the summaries say which classes a queue holds without walking it.
    """

    def eligible(ticket: Ticket) -> bool:
        return ticket.target_window is None or ticket.target_window == profile.id

    oldest_aged: Ticket | None = None
    for svc in profile.services:
        first = next((t for t in queues.get(svc, ()) if eligible(t)), None)
        aged = first is not None and now - first.issued_at >= aging
        if aged and (oldest_aged is None or first.sort_key < oldest_aged.sort_key):  # type: ignore[union-attr]
            oldest_aged = first
    cycle = profile.cycle
    position = cursor % len(cycle) if cycle else 0
    for k in CLASSES:
        present = set()
        for svc in profile.services:
            summary = summaries(svc)
            if summary.counts.get(k, 0) > 0 or any(
                t.target_window == profile.id and ticket_class(t, now) == k for t in summary.targeted
            ):
                present.add(svc)
        if not present:
            continue
        chosen, after = None, position
        for step in range(len(cycle)):
            at = (position + step) % len(cycle)
            if cycle[at] in present:
                chosen, after = cycle[at], (at + 1) % len(cycle)
                break
        if chosen is None:
            chosen = next(s for s in profile.services if s in present)
        candidate = next(t for t in queues[chosen] if eligible(t) and ticket_class(t, now) == k)
        if oldest_aged is not None and oldest_aged.sort_key < candidate.sort_key:
            return oldest_aged, position
        return candidate, after
    return None
