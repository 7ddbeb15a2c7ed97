"""Ticket numbers: a prefix letter and at least three digits, per service per hall-local day."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def hall_day(now: datetime, tz: ZoneInfo) -> date:
    """The day whose numbering a ticket issued at `now` belongs to, in the hall's timezone."""
    if now.tzinfo is None:
        raise ValueError("hall_day needs an aware datetime")
    return now.astimezone(tz).date()


def format_number(prefix: str, number: int) -> str:
    """A001 … A999, then A1000: never shortened, never wrapped, so never reused in a day."""
    if number < 1:
        raise ValueError(f"ticket numbers start at 1, got {number}")
    return f"{prefix}{number:03d}"
