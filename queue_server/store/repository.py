"""Loading a hall's snapshot and committing its changes, on SQLite or PostgreSQL.

Commits are grouped: the server hands one `Batch` per round of commands, written in a single
transaction, and answers none of those commands before that transaction is durable.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateColumn

from queue_server.domain.hall import Snapshot
from queue_server.domain.lockers import Deposit
from queue_server.domain.model import (
    FINAL_STATES,
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
from yichuang.errors import YichuangError

from . import tables as t

log = logging.getLogger(__name__)


CHECKPOINT_INTERVAL_S = 1.0


class StoreError(YichuangError, RuntimeError):
    """The database cannot be used (unreachable, locked by another server, corrupt)."""


@dataclass
class RequestRecord:
    id: str
    topic: str
    reply: str
    at: datetime


@dataclass
class Batch:
    changes: Changes = field(default_factory=Changes)
    requests: list[RequestRecord] = field(default_factory=list)


def engine_url(url: str) -> str:
    """The contract's database URL as SQLAlchemy wants it (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :]
    return None if path in ("", ":memory:") else Path(path)


class Store:
    """One hall's persistence. Only one server may hold a hall's store at a time."""

    def __init__(self, url: str, hall: str) -> None:
        self.hall = hall
        self.url = engine_url(url)
        self._lock_file: int | None = None
        self._lock_conn: Connection | None = None
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        path = _sqlite_path(self.url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True, future=True)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._insert = sqlite.insert if self.is_sqlite else postgresql.insert
        self._statements: dict[tuple[str, bool], Any] = {}

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Create the tables if needed and take the hall's single-writer lock."""
        try:
            t.metadata.create_all(self.engine)
            self._add_missing_columns()
        except Exception as exc:
            raise StoreError(f"cannot open database {self.engine.url.render_as_string()}: {exc}") from exc
        self._lock()
        if self.is_sqlite and _sqlite_path(self.url) is not None:
            self._checkpointer = threading.Thread(
                target=self._checkpoints, name="sqlite-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _add_missing_columns(self) -> None:
        """Columns a newer version added to an existing table (each nullable or with a server
        default, so the rows already there stay valid): `create_all` makes missing tables,
        not missing columns, and a hall's database outlives many upgrades."""
        inspector = sa_inspect(self.engine)
        with self.engine.begin() as conn:
            for table in t.metadata.sorted_tables:
                if not inspector.has_table(table.name):
                    continue
                present = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name in present:
                        continue
                    ddl = CreateColumn(column).compile(dialect=self.engine.dialect)
                    name = self.engine.dialect.identifier_preparer.quote(table.name)
                    conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {ddl}"))
                    log.info("event=column_added table=%s column=%s", table.name, column.name)

    def _checkpoints(self) -> None:
        """Copy the write-ahead log back into the database once a second, beside the writer."""
        try:
            conn = self.engine.raw_connection()
        except Exception:
            log.exception("event=checkpointer_failed")
            return
        try:
            while not self._closing.wait(CHECKPOINT_INTERVAL_S):
                try:
                    cursor = conn.cursor()
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    cursor.close()
                except Exception as exc:  # a busy database: next second
                    log.warning("event=checkpoint_skipped error=%s", exc)
            cursor = conn.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        except Exception:
            log.exception("event=checkpoint_failed")
        finally:
            conn.close()

    def _lock(self) -> None:
        # Two servers on one hall would each believe their memory is the truth; refuse the second.
        path = _sqlite_path(self.url)
        if self.is_sqlite and path is not None:
            fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StoreError(f"another server holds {path}") from None
            self._lock_file = fd
        elif not self.is_sqlite:
            conn = self.engine.connect()
            key = zlib.crc32(f"yichuang:{self.hall}".encode())
            if not conn.execute(select(func.pg_try_advisory_lock(key))).scalar():
                conn.close()
                raise StoreError(f"another server holds hall {self.hall} in this database")
            conn.commit()
            self._lock_conn = conn

    def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            self._checkpointer.join(10)
            self._checkpointer = None
        if self._lock_conn is not None:
            self._lock_conn.close()
            self._lock_conn = None
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    # ----------------------------------------------------------------- reading

    def load(self, now: datetime, today: date, handling_per_service: int) -> Snapshot:
        """Everything a restarted server needs: today's tickets and any still open, windows, ids."""
        hall = self.hall
        horizon = now - timedelta(days=2)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.tickets).where(
                    t.tickets.c.hall == hall,
                    (t.tickets.c.day >= today) | t.tickets.c.status.not_in([s.value for s in FINAL_STATES]),
                )
            ).mappings()
            tickets = [_ticket(r) for r in rows]
            windows = [
                _window(r) for r in conn.execute(select(t.windows).where(t.windows.c.hall == hall)).mappings()
            ]
            counters = {
                (r["service"], r["day"]): r["last"]
                for r in conn.execute(
                    select(t.counters).where(t.counters.c.hall == hall, t.counters.c.day >= today)
                ).mappings()
            }
            appointments = [
                Appointment(
                    code=r["code"],
                    service=r["service"],
                    slot_at=r["slot_at"],
                    status=r["status"],
                    ticket_id=r["ticket_id"],
                    phone=r["phone"],
                    created_at=r["created_at"],
                )
                for r in conn.execute(
                    select(t.appointments).where(
                        t.appointments.c.hall == hall,
                        (t.appointments.c.status == "booked") | (t.appointments.c.slot_at >= horizon),
                    )
                ).mappings()
            ]
            helps = [
                HelpRequest(
                    id=r["id"],
                    kiosk=r["kiosk"],
                    reason=r["reason"],
                    at=r["at"],
                    status=r["status"],
                    resolved_by=r["resolved_by"],
                    resolved_at=r["resolved_at"],
                )
                for r in conn.execute(
                    select(t.help_requests).where(
                        t.help_requests.c.hall == hall, t.help_requests.c.status == "open"
                    )
                ).mappings()
            ]
            max_ticket = conn.execute(
                select(func.max(t.tickets.c.id)).where(t.tickets.c.hall == hall)
            ).scalar()
            max_eval = conn.execute(
                select(func.max(t.evaluations.c.id)).where(t.evaluations.c.hall == hall)
            ).scalar()
            max_help = conn.execute(
                select(func.max(t.help_requests.c.id)).where(t.help_requests.c.hall == hall)
            ).scalar()
            deposits = [
                _deposit(r)
                for r in conn.execute(
                    select(t.locker_deposits).where(
                        t.locker_deposits.c.hall == hall, t.locker_deposits.c.status == "waiting"
                    )
                ).mappings()
            ]
            max_deposit = conn.execute(
                select(func.max(t.locker_deposits.c.id)).where(t.locker_deposits.c.hall == hall)
            ).scalar()
            handling: list[tuple[str, float]] = []
            recent = conn.execute(
                select(t.tickets.c.service, t.tickets.c.called_at, t.tickets.c.finished_at)
                .where(
                    t.tickets.c.hall == hall,
                    t.tickets.c.status == TicketStatus.DONE.value,
                    t.tickets.c.called_at.is_not(None),
                )
                .order_by(t.tickets.c.finished_at.desc())
                .limit(max(handling_per_service, 1) * 50)
            ).all()
            for service, called_at, finished_at in reversed(recent):
                handling.append((service, (finished_at - called_at).total_seconds()))
        calls = sorted(
            (tk for tk in tickets if tk.called_at is not None and tk.day >= today),
            key=lambda tk: tk.called_at or datetime.min,
            reverse=True,
        )[:10]
        return Snapshot(
            tickets=tickets,
            windows=windows,
            counters=counters,
            appointments=appointments,
            help_requests=helps,
            next_ticket_id=(max_ticket or 0) + 1,
            next_evaluation_id=(max_eval or 0) + 1,
            next_help_id=(max_help or 0) + 1,
            deposits=deposits,
            next_deposit_id=(max_deposit or 0) + 1,
            handling=handling,
            recent_calls=[
                {"ticket": tk.no, "window": tk.window, "at": tk.called_at.isoformat()}
                for tk in calls
                if tk.called_at is not None
            ],
        )

    def replies(self, ids: Iterable[str]) -> dict[str, str]:
        """Stored answers of requests seen before (a retry after a restart still gets its answer)."""
        wanted = list(ids)
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.requests.c.id, t.requests.c.reply).where(
                    t.requests.c.hall == self.hall, t.requests.c.id.in_(wanted)
                )
            ).all()
        return {r[0]: r[1] for r in rows}

    def prune_requests(self, before: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                t.requests.delete().where(t.requests.c.hall == self.hall, t.requests.c.at < before)
            )
        return int(result.rowcount or 0)

    def query(self, statement: Any) -> Sequence[Any]:
        """Read-only queries for the HTTP API (stats, history)."""
        with self.engine.connect() as conn:
            return list(conn.execute(statement).mappings())

    # ----------------------------------------------------------------- writing

    def commit(self, batch: Batch) -> None:
        """Write a whole batch in one transaction; returns only once it is durable."""
        c = batch.changes
        with self.engine.begin() as conn:
            self._upsert(
                conn, t.tickets, ["hall", "id"], [_ticket_row(self.hall, x) for x in c.tickets.values()]
            )
            self._upsert(
                conn, t.windows, ["hall", "id"], [_window_row(self.hall, x) for x in c.windows.values()]
            )
            self._upsert(
                conn,
                t.counters,
                ["hall", "service", "day"],
                [{"hall": self.hall, "service": s, "day": d, "last": n} for (s, d), n in c.counters.items()],
            )
            self._upsert(
                conn,
                t.appointments,
                ["hall", "code"],
                [_appointment_row(self.hall, x) for x in c.appointments.values()],
            )
            self._upsert(
                conn,
                t.help_requests,
                ["hall", "id"],
                [_help_row(self.hall, x) for x in c.help_requests.values()],
            )
            self._upsert(
                conn,
                t.locker_deposits,
                ["hall", "id"],
                [_deposit_row(self.hall, x) for x in c.deposits.values()],
            )
            if c.evaluations:
                conn.execute(t.evaluations.insert(), [_evaluation_row(self.hall, x) for x in c.evaluations])
            self._upsert(
                conn,
                t.requests,
                ["hall", "id"],
                [
                    {"hall": self.hall, "id": r.id, "topic": r.topic, "reply": r.reply, "at": r.at}
                    for r in batch.requests
                ],
                update=False,
            )

    def _upsert(
        self, conn: Connection, table: Any, keys: list[str], rows: list[dict[str, Any]], update: bool = True
    ) -> None:
        if not rows:
            return
        compiled = self._statements.get((table.name, update))
        if compiled is None:
            compiled = self._statements[(table.name, update)] = self._compile_upsert(table, keys, update)
        sql, order, processors = compiled
        if order is None:  # named parameters (psycopg)
            params: list[Any] = [
                {name: (proc(row[name]) if proc else row[name]) for name, proc in processors} for row in rows
            ]
        else:  # positional parameters (sqlite)
            params = [
                tuple(proc(row[name]) if proc else row[name] for name, proc in processors) for row in rows
            ]
        conn.exec_driver_sql(sql, params)

    def _compile_upsert(self, table: Any, keys: list[str], update: bool) -> tuple[str, Any, list[Any]]:
        """The upsert compiled once to the driver's SQL, with each column's value converter.

        SQLAlchemy builds and compiles the statement (dialect, quoting, ON CONFLICT); the rows
        then go straight to the driver's executemany, which skips SQLAlchemy's per-row
        parameter handling: the larger part of a commit's time at a thousand commands a second.
        """
        stmt = self._insert(table)
        if update:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys,
                set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        dialect = self.engine.dialect
        compiled = stmt.compile(dialect=dialect, column_keys=[c.name for c in table.columns])
        names = list(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        columns = names if names is not None else [c.name for c in table.columns]
        processors = [(name, table.c[name].type.bind_processor(dialect)) for name in columns]
        return str(compiled), names, processors


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets HTTP readers run beside the writer; FULL makes each commit survive power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # checkpoints run on the store's own thread (Store._checkpoints), not inside a commit,
    # where copying the log back into the database made one reply in a hundred wait 20 ms
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ticket(r: Any) -> Ticket:
    return Ticket(
        id=r["id"],
        no=r["no"],
        service=r["service"],
        day=r["day"],
        number=r["number"],
        status=TicketStatus(r["status"]),
        priority=Priority(r["priority"]),
        issued_at=r["issued_at"],
        token=r["token"],
        kiosk=r["kiosk"],
        phone=r["phone"],
        appointment=r["appointment"],
        slot_at=r["slot_at"],
        window=r["window"],
        target_window=r["target_window"],
        parked=bool(r["parked"]),
        called_at=r["called_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        recall_count=r["recall_count"],
        clerk=r["clerk"],
        outcome=Outcome(r["outcome"]) if r["outcome"] else None,
        transferred_from=r["transferred_from"],
        evaluated=bool(r["evaluated"]),
    )


def _ticket_row(hall: str, x: Ticket) -> dict[str, Any]:
    return {
        "hall": hall,
        "id": x.id,
        "no": x.no,
        "service": x.service,
        "day": x.day,
        "number": x.number,
        "status": x.status.value,
        "priority": x.priority.value,
        "issued_at": x.issued_at,
        "token": x.token,
        "kiosk": x.kiosk,
        "phone": x.phone,
        "appointment": x.appointment,
        "slot_at": x.slot_at,
        "window": x.window,
        "target_window": x.target_window,
        "parked": x.parked,
        "called_at": x.called_at,
        "started_at": x.started_at,
        "finished_at": x.finished_at,
        "recall_count": x.recall_count,
        "clerk": x.clerk,
        "outcome": x.outcome.value if x.outcome else None,
        "transferred_from": x.transferred_from,
        "evaluated": x.evaluated,
    }


def _window(r: Any) -> Window:
    return Window(
        id=r["id"],
        status=WindowStatus(r["status"]),
        ticket_id=r["ticket_id"],
        clerk=r["clerk"],
        since=r["since"],
        pause_reason=r["pause_reason"],
        ratio_cursor=r["ratio_cursor"],
        last_finished_id=r["last_finished_id"],
    )


def _window_row(hall: str, x: Window) -> dict[str, Any]:
    return {
        "hall": hall,
        "id": x.id,
        "status": x.status.value,
        "ticket_id": x.ticket_id,
        "clerk": x.clerk,
        "since": x.since,
        "pause_reason": x.pause_reason,
        "ratio_cursor": x.ratio_cursor,
        "last_finished_id": x.last_finished_id,
    }


def _appointment_row(hall: str, x: Appointment) -> dict[str, Any]:
    return {
        "hall": hall,
        "code": x.code,
        "service": x.service,
        "slot_at": x.slot_at,
        "status": x.status,
        "ticket_id": x.ticket_id,
        "phone": x.phone,
        "created_at": x.created_at,
    }


def _help_row(hall: str, x: HelpRequest) -> dict[str, Any]:
    return {
        "hall": hall,
        "id": x.id,
        "kiosk": x.kiosk,
        "reason": x.reason,
        "at": x.at,
        "status": x.status,
        "resolved_by": x.resolved_by,
        "resolved_at": x.resolved_at,
    }


def _deposit_row(hall: str, x: Deposit) -> dict[str, Any]:
    return {
        "hall": hall,
        "id": x.id,
        "locker": x.locker,
        "door": x.door,
        "window": x.window,
        "case_no": x.case,
        "phone_masked": x.phone_masked,
        "code_hash": x.code_hash,
        "deposited_at": x.deposited_at,
        "expires_at": x.expires_at,
        "status": x.status,
        "picked_up_at": x.picked_up_at,
        "sms": x.sms,
    }


def _deposit(r: Any) -> Deposit:
    return Deposit(
        id=r["id"],
        locker=r["locker"],
        door=r["door"],
        window=r["window"],
        case=r["case_no"],
        phone_masked=r["phone_masked"],
        code_hash=r["code_hash"],
        deposited_at=r["deposited_at"],
        expires_at=r["expires_at"],
        status=r["status"],
        picked_up_at=r["picked_up_at"],
        sms=r["sms"],
    )


def _evaluation_row(hall: str, x: Evaluation) -> dict[str, Any]:
    return {
        "hall": hall,
        "id": x.id,
        "ticket_id": x.ticket_id,
        "ticket_no": x.ticket_no,
        "window": x.window,
        "clerk": x.clerk,
        "score": x.score,
        "at": x.at,
    }
