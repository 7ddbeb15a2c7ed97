"""Scanned documents attached to tickets: stored in the hall's database, kept for a limited time.

A scan is a citizen's personal document (ID card, certificates), so the server keeps it only
as long as the case needs it at the window (`KEEP_DAYS`) and hands it out only to whoever
holds the ticket's token or serves that ticket at a window (the HTTP API enforces that).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from . import tables as t

__all__ = ["KEEP_DAYS", "MAX_BYTES", "MIME_TYPES", "Attachment", "AttachmentStore", "sniff_mime"]

KEEP_DAYS = 30
MAX_BYTES = 20 * 1024 * 1024  # a 20-page PDF at 200 dpi, with room to spare
MIME_TYPES = ("image/jpeg", "image/png", "application/pdf")


def sniff_mime(data: bytes) -> str | None:
    """The type the bytes really are (JPEG, PNG or PDF), whatever the client claimed; None otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@dataclass(frozen=True)
class Attachment:
    """What is known of an attachment besides its bytes."""

    id: str
    ticket: str
    mime: str
    material: str | None
    size: int
    sha256: str
    created_at: datetime

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ticket": self.ticket,
            "mime": self.mime,
            "material": self.material,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": self.created_at.isoformat(),
        }


_META = (
    t.attachments.c.id,
    t.attachments.c.ticket_no,
    t.attachments.c.mime,
    t.attachments.c.material,
    t.attachments.c.size,
    t.attachments.c.sha256,
    t.attachments.c.created_at,
)


def _attachment(row: object) -> Attachment:
    r = row._mapping  # type: ignore[attr-defined]
    return Attachment(
        r["id"], r["ticket_no"], r["mime"], r["material"], r["size"], r["sha256"], r["created_at"]
    )


class AttachmentStore:
    """The `attachments` table of one hall (the table is created with the others)."""

    def __init__(self, engine: Engine, hall: str) -> None:
        self.engine = engine
        self.hall = hall

    def add(
        self, ticket_id: int, ticket_no: str, data: bytes, mime: str, material: str | None, now: datetime
    ) -> tuple[Attachment, bool]:
        """Store the bytes for a ticket: `(attachment, created)`; the same bytes again are stored once."""
        digest = hashlib.sha256(data).hexdigest()
        existing = self._find(ticket_id, digest)
        if existing is not None:
            return existing, False
        attachment = Attachment(uuid.uuid4().hex, ticket_no, mime, material, len(data), digest, now)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.attachments.insert().values(
                        hall=self.hall,
                        id=attachment.id,
                        ticket_id=ticket_id,
                        ticket_no=ticket_no,
                        sha256=digest,
                        mime=mime,
                        material=material,
                        size=len(data),
                        created_at=now,
                        data=data,
                    )
                )
        except IntegrityError:
            # the same upload, retried while the first was being written
            again = self._find(ticket_id, digest)
            if again is None:
                raise
            return again, False
        return attachment, True

    def _find(self, ticket_id: int, digest: str) -> Attachment | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_META).where(
                    t.attachments.c.hall == self.hall,
                    t.attachments.c.ticket_id == ticket_id,
                    t.attachments.c.sha256 == digest,
                )
            ).first()
        return _attachment(row) if row is not None else None

    def of_ticket(self, ticket_id: int) -> list[Attachment]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_META)
                .where(t.attachments.c.hall == self.hall, t.attachments.c.ticket_id == ticket_id)
                .order_by(t.attachments.c.created_at)
            ).all()
        return [_attachment(r) for r in rows]

    def get(self, ticket_id: int, attachment_id: str) -> tuple[Attachment, bytes] | None:
        """One attachment of that ticket with its bytes (another ticket's id finds nothing)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_META, t.attachments.c.data).where(
                    t.attachments.c.hall == self.hall,
                    t.attachments.c.ticket_id == ticket_id,
                    t.attachments.c.id == attachment_id,
                )
            ).first()
        if row is None:
            return None
        return _attachment(row), bytes(row._mapping["data"])

    def prune(self, now: datetime, keep_days: int = KEEP_DAYS) -> int:
        """Delete what is older than `keep_days`: personal documents are not kept for ever."""
        with self.engine.begin() as conn:
            result = conn.execute(
                t.attachments.delete().where(
                    t.attachments.c.hall == self.hall,
                    t.attachments.c.created_at < now - timedelta(days=keep_days),
                )
            )
        return int(result.rowcount or 0)
