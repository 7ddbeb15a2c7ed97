"""Domain errors. Each carries the stable snake_case code that goes on the wire."""

from __future__ import annotations

from yichuang.errors import YichuangError


class DomainError(YichuangError):
    """A command that the hall's rules refuse. Nothing was changed."""

    code = "invalid_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class InvalidRequest(DomainError, ValueError):
    code = "invalid_request"


class UnknownService(DomainError, KeyError):
    code = "unknown_service"


class UnknownWindow(DomainError, KeyError):
    code = "unknown_window"


class UnknownTicket(DomainError, KeyError):
    code = "unknown_ticket"


class UnknownRequest(DomainError, KeyError):
    code = "unknown_request"


class WindowPaused(DomainError):
    code = "window_paused"


class WindowClosed(DomainError):
    code = "window_closed"


class QueueEmpty(DomainError):
    code = "queue_empty"


class NoTicket(DomainError):
    code = "no_ticket"


class HallClosed(DomainError):
    code = "hall_closed"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"


class WrongState(DomainError):
    """The ticket or window is not in a state that allows the command."""

    code = "wrong_state"


class WrongCode(DomainError):
    code = "wrong_code"


class LockedOut(DomainError):
    code = "locked_out"


class AppointmentNotDue(DomainError):
    code = "appointment_not_due"


class AppointmentExpired(DomainError):
    code = "appointment_expired"


class AppointmentUsed(DomainError):
    code = "appointment_used"


class DuplicateAppointment(DomainError):
    code = "duplicate_appointment"


class AlreadyEvaluated(DomainError):
    code = "already_evaluated"


class InvalidTransfer(DomainError):
    code = "invalid_transfer"
