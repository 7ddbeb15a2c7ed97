"""The command catalogue: names, argument schemas and the domain call each one makes.

MQTT (`yc/{hall}/cmd/…`) and HTTP (`/api/v1/…`) both go through this table, so a command
means the same, and is checked the same way, whichever door it came in by.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from queue_server.domain import errors as e
from queue_server.domain.hall import Hall

PHONE = re.compile(r"^(\+?[0-9]{6,15})$")


class Args(BaseModel):
    """Unknown fields and loose types are refused: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)


class IssueArgs(Args):
    service: str = Field(min_length=1, max_length=64)
    kiosk: str = Field(min_length=1, max_length=64)
    priority: Literal["normal", "green"] = "normal"
    phone: str | None = Field(default=None, max_length=20)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not PHONE.match(value.replace(" ", "")):
            raise ValueError("phone must be 6-15 digits, optionally starting with +")
        return value.replace(" ", "") if value else None


class TokenArgs(Args):
    token: str = Field(min_length=8, max_length=64)


class CheckinArgs(Args):
    code: str = Field(min_length=1, max_length=64)
    kiosk: str = Field(min_length=1, max_length=64)


class AppointmentArgs(Args):
    code: str = Field(min_length=4, max_length=32)
    service: str = Field(min_length=1, max_length=64)
    slot_at: datetime = Field(strict=False)
    phone: str | None = Field(default=None, max_length=20)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return IssueArgs._phone(value)


class CodeArgs(Args):
    code: str = Field(min_length=1, max_length=64)


class CallArgs(Args):
    clerk: str | None = Field(default=None, max_length=32)


class NoArgs(Args):
    pass


class FinishArgs(Args):
    outcome: Literal["done", "accepted", "received", "rejected"] | None = None


class TransferArgs(Args):
    service: str | None = Field(default=None, min_length=1, max_length=64)
    window: str | None = Field(default=None, min_length=1, max_length=64)


class PauseArgs(Args):
    reason: str | None = Field(default=None, max_length=100)


class CallParkedArgs(Args):
    ticket: str = Field(min_length=2, max_length=16)
    clerk: str | None = Field(default=None, max_length=32)


class EvaluateArgs(Args):
    score: int = Field(ge=1, le=5)


class HelpArgs(Args):
    kiosk: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=200)


class HelpResolveArgs(Args):
    request: int = Field(ge=1)
    by: str | None = Field(default=None, max_length=32)


class DepositArgs(Args):
    window: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=6, max_length=20)
    case: str | None = Field(default=None, min_length=1, max_length=64)
    size: Literal["S", "M", "L"] | None = None  # the smallest door that fits; S when absent

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        phone = IssueArgs._phone(value)
        assert phone is not None
        return phone


class PickupArgs(Args):
    code: str = Field(min_length=1, max_length=16)


class WithdrawArgs(Args):
    deposit: int = Field(ge=1)
    window: str = Field(min_length=1, max_length=64)


@dataclass(frozen=True)
class Context:
    """What the adapter passes in besides the arguments: the time, the window, a fresh token."""

    now: datetime
    window: str | None
    new_token: Callable[[], str]
    public_url: str = ""
    locker: str | None = None
    # a fresh random pickup code (six digits), drawn only by the command that needs one
    new_code: Callable[[], str] = lambda: ""
    _token: list[str] = field(default_factory=list)

    @property
    def token(self) -> str:
        """A fresh token for a new ticket, drawn only by the commands that issue one."""
        if not self._token:
            self._token.append(self.new_token())
        return self._token[0]

    def status_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/t/{self.token}"


Handler = Callable[[Hall, Any, Context], dict[str, object]]


@dataclass(frozen=True)
class Spec:
    args: type[Args]
    run: Handler
    window: bool = False  # the topic carries a window id: yc/{hall}/cmd/window/{window}/{action}
    locker: bool = False  # the topic carries a locker id: yc/{hall}/cmd/locker/{locker}/{action}


def _w(ctx: Context) -> str:
    assert ctx.window is not None
    return ctx.window


def _lk(ctx: Context) -> str:
    assert ctx.locker is not None
    return ctx.locker


COMMANDS: dict[str, Spec] = {
    "ticket/issue": Spec(
        IssueArgs,
        lambda h, a, c: {
            **h.issue(a.service, a.kiosk, a.priority, a.phone, c.token, c.now),
            "status_url": c.status_url(),
        },
    ),
    "ticket/cancel": Spec(TokenArgs, lambda h, a, c: h.cancel_ticket(a.token, c.now)),
    "appointment/checkin": Spec(
        CheckinArgs,
        lambda h, a, c: {**h.checkin(a.code, a.kiosk, c.token, c.now), "status_url": c.status_url()},
    ),
    "appointment/create": Spec(
        AppointmentArgs, lambda h, a, c: h.create_appointment(a.code, a.service, a.slot_at, a.phone, c.now)
    ),
    "appointment/cancel": Spec(CodeArgs, lambda h, a, c: h.cancel_appointment(a.code)),
    "window/call_next": Spec(CallArgs, lambda h, a, c: h.call_next(_w(c), a.clerk, c.now), window=True),
    "window/recall": Spec(NoArgs, lambda h, a, c: h.recall(_w(c), c.now), window=True),
    "window/start": Spec(NoArgs, lambda h, a, c: h.start(_w(c), c.now), window=True),
    "window/finish": Spec(FinishArgs, lambda h, a, c: h.finish(_w(c), a.outcome, c.now), window=True),
    "window/no_show": Spec(NoArgs, lambda h, a, c: h.no_show(_w(c), c.now), window=True),
    "window/transfer": Spec(
        TransferArgs, lambda h, a, c: h.transfer(_w(c), a.service, a.window, c.now), window=True
    ),
    "window/park": Spec(NoArgs, lambda h, a, c: h.park(_w(c), c.now), window=True),
    "window/call_parked": Spec(
        CallParkedArgs, lambda h, a, c: h.call_parked(_w(c), a.ticket, a.clerk, c.now), window=True
    ),
    "window/pause": Spec(PauseArgs, lambda h, a, c: h.pause(_w(c), a.reason, c.now), window=True),
    "window/resume": Spec(CallArgs, lambda h, a, c: h.resume(_w(c), a.clerk, c.now), window=True),
    "window/open": Spec(CallArgs, lambda h, a, c: h.open_window(_w(c), a.clerk, c.now), window=True),
    "window/close": Spec(NoArgs, lambda h, a, c: h.close_window(_w(c), c.now), window=True),
    "window/evaluate": Spec(EvaluateArgs, lambda h, a, c: h.evaluate(_w(c), a.score, c.now), window=True),
    "help/request": Spec(HelpArgs, lambda h, a, c: h.help_request(a.kiosk, a.reason, c.now)),
    "help/resolve": Spec(HelpResolveArgs, lambda h, a, c: h.help_resolve(a.request, a.by, c.now)),
    "locker/deposit": Spec(
        DepositArgs,
        lambda h, a, c: h.locker_deposit(_lk(c), a.window, a.phone, a.case, a.size, c.new_code(), c.now),
        locker=True,
    ),
    "locker/pickup": Spec(PickupArgs, lambda h, a, c: h.locker_pickup(_lk(c), a.code, c.now), locker=True),
    "locker/withdraw": Spec(
        WithdrawArgs, lambda h, a, c: h.locker_withdraw(_lk(c), a.deposit, a.window, c.now), locker=True
    ),
}


def parse_args(name: str, raw: dict[str, Any]) -> Args:
    """Validate a command's arguments, turning pydantic's report into one readable `invalid_request`."""
    spec = COMMANDS.get(name)
    if spec is None:
        raise e.DomainError(f"unknown command {name!r}", code="unknown_command")
    try:
        return spec.args.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "payload"
            problems.append(f"{where}: {err['msg']}")
        raise e.InvalidRequest("; ".join(problems)) from None


def run(hall: Hall, name: str, args: Args, ctx: Context) -> dict[str, object]:
    return COMMANDS[name].run(hall, args, ctx)
