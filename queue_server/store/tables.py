"""The database schema (SQLAlchemy Core), the same for SQLite and PostgreSQL.

Every table carries the hall id, so one PostgreSQL database can hold many halls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC ISO 8601 text: sortable and identical on both databases."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = MetaData()

tickets = Table(
    "tickets",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("no", String(16), nullable=False),
    Column("service", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("issued_at", AwareDateTime, nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("kiosk", String(64)),
    Column("phone", String(32)),
    Column("appointment", String(32)),
    Column("slot_at", AwareDateTime),
    Column("window", String(64)),
    Column("target_window", String(64)),
    Column("parked", Boolean, nullable=False, default=False),
    Column("called_at", AwareDateTime),
    Column("started_at", AwareDateTime),
    Column("finished_at", AwareDateTime),
    Column("recall_count", Integer, nullable=False, default=0),
    Column("clerk", String(32)),
    Column("outcome", String(16)),
    Column("transferred_from", String(64)),
    Column("evaluated", Boolean, nullable=False, default=False),
    # the store's own guard that no number is ever handed out twice in a day
    UniqueConstraint("hall", "day", "no", name="uq_ticket_number"),
)

windows = Table(
    "windows",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("ticket_id", Integer),
    Column("clerk", String(32)),
    Column("since", AwareDateTime),
    Column("pause_reason", String(100)),
    Column("ratio_cursor", Integer, nullable=False, default=0),
    Column("last_finished_id", Integer),
)

counters = Table(
    "counters",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last", Integer, nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("slot_at", AwareDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ticket_id", Integer),
    Column("phone", String(32)),
    Column("created_at", AwareDateTime),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("ticket_id", Integer, nullable=False),
    Column("ticket_no", String(16), nullable=False),
    Column("window", String(64), nullable=False),
    Column("clerk", String(32)),
    Column("score", Integer, nullable=False),
    Column("at", AwareDateTime, nullable=False),
)

help_requests = Table(
    "help_requests",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kiosk", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", AwareDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("resolved_by", String(32)),
    Column("resolved_at", AwareDateTime),
)

# Results deposited in the file locker. Neither the pickup code (only its salted hash) nor the
# phone number (only masked) is kept.
locker_deposits = Table(
    "locker_deposits",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("locker", String(64), nullable=False),
    Column("door", Integer, nullable=False),
    Column("window", String(64), nullable=False),
    Column("case_no", String(64)),
    Column("phone_masked", String(24), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("deposited_at", AwareDateTime, nullable=False),
    Column("expires_at", AwareDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("picked_up_at", AwareDateTime),
    Column("sms", String(8), nullable=False, server_default="pending"),
)

# Answers to commands by request id: a retried command gets its first answer back.
requests = Table(
    "requests",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("reply", Text, nullable=False),
    Column("at", AwareDateTime, nullable=False),
)


# Scanned documents (JPEG pages, PDF batches) a citizen attached to a ticket at a kiosk or a
# window's document camera. Written by the HTTP API directly, not through the hall's worker:
# they are not queue state, and megabytes must not sit in the command path. A repeated upload
# of the same bytes for the same ticket is the same attachment.
attachments = Table(
    "attachments",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("ticket_id", Integer, nullable=False),
    Column("ticket_no", String(16), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("mime", String(32), nullable=False),
    Column("material", String(64)),
    Column("size", Integer, nullable=False),
    Column("created_at", AwareDateTime, nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("hall", "ticket_id", "sha256", name="attachments_once"),
)
