"""The self-service file locker (自助存取文件柜): results deposited by a window, picked up with
an SMS code, 24 hours a day.

A clerk deposits a finished case's documents: the server picks a free door of the smallest
size that fits, the lock board opens it, and the citizen's phone gets a six-digit pickup code
by SMS. At the locker the citizen types the code; the right one opens that door and frees it.
Pure and single-threaded like the rest of the domain: the caller passes in the time and the
fresh code, and sends the device commands a call leaves in `Changes.device_commands` once the
change is durable.

Why it is built this way:
- The code is never stored or published in clear: only a salted SHA-256 of it is kept (the
  salt is the deposit's own), it goes out once, in the SMS command to the modem, and the
  reply to the clerk carries the door and the expiry, not the code (CONTRACT §3.2).
- The phone number is not stored at all (it only addresses the SMS); the deposit keeps it
  masked, for the clerk's screen.
- Guessing is slowed per locker: after `MAX_WRONG` wrong codes in `WRONG_WINDOW`, the locker
  refuses every code for `LOCKOUT` (`locked_out`); one million codes and a handful of doors
  make a blind guess hopeless at that rate.
- A door is free only when nothing is deposited in it, its sensor says closed and its board
  is online; a door whose board is offline, or which the board does not report (a 24-door
  locker on a 16-lock board), is `fault`, one the sensor reads open is `open`.
- Deposits expire after `HOLD` (the window takes uncollected results back); an expired
  deposit's door stays occupied until a clerk empties it (`withdraw`), because the documents
  are still inside.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from yichuang.config_model import DeviceConfig, LockerConfig

from . import errors as e

SIZES = ("S", "M", "L")
HOLD = timedelta(days=7)
MAX_WRONG = 5
WRONG_WINDOW = timedelta(minutes=10)
LOCKOUT = timedelta(minutes=10)
CODE_DIGITS = 6


class UnknownLocker(e.DomainError):
    code = "unknown_locker"


class LockerFull(e.DomainError):
    code = "locker_full"


class WrongCode(e.DomainError):
    code = "wrong_code"


class LockedOut(e.DomainError):
    code = "locked_out"


class UnknownDeposit(e.DomainError):
    code = "unknown_deposit"


class LockerOffline(e.DomainError):
    code = "locker_offline"


class NoModem(e.DomainError):
    code = "no_modem"


@dataclass
class Deposit:
    id: int
    locker: str
    door: int
    window: str
    case: str | None
    phone_masked: str
    code_hash: str
    deposited_at: datetime
    expires_at: datetime
    status: str = "waiting"  # waiting | picked_up | withdrawn
    picked_up_at: datetime | None = None
    # what the modem reported of the pickup SMS: pending | sent | failed (the clerk must know
    # when a citizen never got the code: take the result back and deposit it again)
    sms: str = "pending"

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "locker": self.locker,
            "door": self.door,
            "window": self.window,
            "phone": self.phone_masked,
            "status": self.status,
            "sms": self.sms,
            "deposited_at": self.deposited_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }
        if self.case is not None:
            out["case"] = self.case
        if self.picked_up_at is not None:
            out["picked_up_at"] = self.picked_up_at.isoformat()
        return out


def code_hash(deposit_id: int, code: str) -> str:
    """The stored form of a pickup code: salted by the deposit, so equal codes differ."""
    return hashlib.sha256(f"yichuang-locker:{deposit_id}:{code}".encode()).hexdigest()


def mask_phone(phone: str) -> str:
    """138****5678: enough for the citizen to recognise their number on a clerk's screen."""
    digits = phone.lstrip("+")
    if digits.startswith("86") and len(digits) == 13:  # +86 138…: the mobile number as people know it
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


@dataclass
class _Sensors:
    """What the lock board last reported: which doors read open, and whether it is online."""

    online: bool = False
    open_doors: frozenset[int] = frozenset()
    # the doors the board reports (None until it has): a door it does not drive cannot open
    doors: frozenset[int] | None = None


@dataclass
class LockerBook:
    """Every locker's doors and deposits."""

    lockers: dict[str, LockerConfig]
    boards: dict[str, DeviceConfig]  # locker id -> its lock board
    modem: DeviceConfig | None
    deposits: dict[int, Deposit] = field(default_factory=dict)  # the waiting ones
    next_id: int = 1
    sensors: dict[str, _Sensors] = field(default_factory=dict)
    wrong: dict[str, deque[datetime]] = field(default_factory=dict)
    locked_until: dict[str, datetime] = field(default_factory=dict)

    def sensor(self, locker_id: str) -> _Sensors:
        return self.sensors.setdefault(locker_id, _Sensors())

    def locker(self, locker_id: str) -> LockerConfig:
        locker = self.lockers.get(locker_id)
        if locker is None:
            raise UnknownLocker(f"no locker {locker_id!r} in this hall")
        return locker

    def occupied(self, locker_id: str) -> dict[int, Deposit]:
        return {d.door: d for d in self.deposits.values() if d.locker == locker_id}

    def door_state(self, locker_id: str, door: int) -> str:
        sensors = self.sensors.get(locker_id, _Sensors())
        if not sensors.online or (sensors.doors is not None and door not in sensors.doors):
            return "fault"
        if door in sensors.open_doors:
            return "open"
        if door in self.occupied(locker_id):
            return "occupied"
        return "free"

    def state(self, locker_id: str) -> dict[str, object]:
        """`state/locker/{locker}` (CONTRACT §3.3)."""
        locker = self.locker(locker_id)
        return {
            "locker": locker_id,
            "doors": [
                {"door": d.door, "size": d.size, "state": self.door_state(locker_id, d.door)}
                for d in locker.doors
            ],
        }

    def choose_door(self, locker_id: str, size: str | None) -> int:
        """The free door of the smallest size that fits (`size` or larger), lowest number first."""
        locker = self.locker(locker_id)
        smallest = SIZES.index(size) if size in SIZES else 0
        free = [
            d
            for d in locker.doors
            if SIZES.index(d.size) >= smallest and self.door_state(locker_id, d.door) == "free"
        ]
        if not free:
            raise LockerFull(f"no free door of size {SIZES[smallest]} or larger in {locker_id}")
        return min(free, key=lambda d: (SIZES.index(d.size), d.door)).door

    def check_not_locked_out(self, locker_id: str, now: datetime) -> None:
        until = self.locked_until.get(locker_id)
        if until is not None and now < until:
            raise LockedOut(f"too many wrong codes: {locker_id} takes codes again at {until.isoformat()}")

    def note_wrong(self, locker_id: str, now: datetime) -> bool:
        """Count a wrong code; True when it locks the locker out."""
        recent = self.wrong.setdefault(locker_id, deque())
        recent.append(now)
        while recent and now - recent[0] > WRONG_WINDOW:
            recent.popleft()
        if len(recent) >= MAX_WRONG:
            self.locked_until[locker_id] = now + LOCKOUT
            recent.clear()
            return True
        return False

    def match(self, locker_id: str, code: str) -> Deposit | None:
        for deposit in self.deposits.values():
            if deposit.locker == locker_id and deposit.code_hash == code_hash(deposit.id, code):
                return deposit
        return None


def sms_text(code: str, door: int, expires_at: datetime, hall_name: str) -> str:
    """The pickup SMS: short enough for one UCS2 part (70 characters) where the hall's name is."""
    until = expires_at.strftime("%m-%d %H:%M")
    return f"【{hall_name}】您的办理结果已存入自助文件柜{door}号门，取件码{code}，请于{until}前凭码领取。"
