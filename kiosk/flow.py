"""What the kiosk does when a citizen touches it: screens, their state and the work they ask for.

Pure: the app feeds in events with the time (taps already resolved to actions, replies from
the server, printer and link changes) and carries out the effects this returns (send a
command, print, speak). Nothing here draws or talks to the network, so every path a citizen
can take is tested without a screen.

Two rules keep a ticket from being issued twice (and a locker door from being asked for
twice): a take-ticket or pickup action moves to a screen that has no buttons until the answer
is back, and each intent carries one request id that the app reuses for every retry of it (the
server answers a repeated id with the first answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk.catalogue import Catalogue
from kiosk.texts import ERRORS, error_text, t

__all__ = [
    "CheckIn",
    "DiscardScans",
    "Effect",
    "Flow",
    "IssueTicket",
    "KioskState",
    "Pickup",
    "PrintTicket",
    "QueueInfo",
    "RequestHelp",
    "Say",
    "Screen",
    "ShownTicket",
    "StartScan",
    "UploadScans",
]

PHONE = re.compile(r"^1\d{10}$")
CODE_MAX = 16
PICKUP_DIGITS = 6  # the locker's pickup code, as the SMS gives it


class Screen(StrEnum):
    HOME = "home"
    AREAS = "areas"  # elderly mode: categories first, few per screen
    SERVICES = "services"
    SEARCH = "search"
    SERVICE = "service"
    GUIDE = "guide"
    PHONE = "phone"
    ISSUING = "issuing"
    TICKET = "ticket"
    CHECKIN = "checkin"
    CHECKING_IN = "checking_in"
    HELP = "help"
    MESSAGE = "message"
    SCAN = "scan"  # the document camera, after the ticket: materials captured and sent to the window
    UPLOADING = "uploading"
    PICKUP = "pickup"  # the locker's pickup code on a keypad
    PICKING_UP = "picking_up"
    PICKED_UP = "picked_up"  # the door that opened, large


class Purpose(StrEnum):
    TICKET = "ticket"
    GREEN = "green"
    GUIDE = "guide"


# -- effects: what the app must do -------------------------------------------------------


@dataclass(frozen=True)
class IssueTicket:
    request_id: str
    service: str
    priority: str  # normal | green
    phone: str | None


@dataclass(frozen=True)
class CheckIn:
    request_id: str
    code: str


@dataclass(frozen=True)
class Pickup:
    """Ask the server to open the locker door whose deposit has this pickup code."""

    request_id: str
    code: str


@dataclass(frozen=True)
class RequestHelp:
    request_id: str
    reason: str


@dataclass(frozen=True)
class PrintTicket:
    ticket: ShownTicket


@dataclass(frozen=True)
class StartScan:
    """Turn the document pipeline on (captures go to memory only)."""


@dataclass(frozen=True)
class DiscardScans:
    """Forget every captured page: the citizen left the scan screen without sending."""


@dataclass(frozen=True)
class UploadScans:
    """Send the captured pages to the server, attached to the ticket; then forget them."""

    request_id: str
    status_url: str
    materials: tuple[str, ...]


@dataclass(frozen=True)
class Say:
    """A voice prompt (elderly mode)."""

    text: str
    language: str


Effect = (
    IssueTicket | CheckIn | Pickup | RequestHelp | PrintTicket | Say | StartScan | DiscardScans | UploadScans
)


# -- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueInfo:
    waiting: int
    ewt_s: int | None


@dataclass(frozen=True)
class ShownTicket:
    """An issued ticket as the result screen and the receipt show it."""

    no: str
    service: str
    ahead: int
    ewt_s: int | None
    issued_at: str
    status_url: str
    priority: str
    language: str


@dataclass
class KioskState:
    """Everything the screens are drawn from."""

    screen: Screen = Screen.HOME
    language: str = "zh"
    elderly: bool = False
    purpose: Purpose = Purpose.TICKET
    area: int = 0
    page: int = 0
    query: str = ""
    service: str | None = None
    phone: str = ""
    phone_error: bool = False
    code: str = ""
    code_error: str | None = None
    ticket: ShownTicket | None = None
    printing: bool = False
    print_failed: bool = False
    message: str | None = None  # an error code shown on MESSAGE
    message_back: Screen = Screen.HOME
    pending: str | None = None  # the request id of the command awaited
    link_ok: bool = False
    paper: str = "unknown"  # ok | low | out | unknown (no status from the printer)
    printer: bool = True  # a printer is configured
    camera: bool = False
    locker: bool = False  # the kiosk stands by a file locker and offers pickup
    door: int | None = None  # the locker door opened for this citizen
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    scan_guidance: str = "nothing_found"  # what the document camera tells the citizen now
    scan_pages: int = 0  # pages captured on this visit, not yet sent
    scan_ticked: frozenset[int] = frozenset()  # the materials (by index) the citizen ticked off
    scan_sent: int | None = None  # pages the server took on the last upload
    entered_at: float = 0.0  # when this screen was entered (monotonic seconds)
    touched_at: float = 0.0  # the last touch
    activity_at: float = 0.0  # the last thing that happened without a touch (receipt out, page captured)

    @property
    def ticketing(self) -> bool:
        """Whether a ticket can be issued now: the server is reachable and paper is not out."""
        return self.link_ok and self.paper != "out"


def mask_phone(phone: str) -> str:
    """`13812345678` → `138****5678`: wherever the number is shown it is masked."""
    if len(phone) < 8:
        return phone
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


class Flow:
    """The kiosk's screens as a state machine; `handle_*` return the effects to carry out."""

    TAP_GUARD_S = 0.35  # taps this soon after a screen change belong to the previous screen
    IDLE_S = 60.0
    IDLE_ELDERLY_S = 120.0
    TICKET_SHOWN_S = 20.0
    TICKET_SHOWN_FAILED_S = 60.0  # the number on screen is all the citizen has
    HELP_SHOWN_S = 30.0
    MESSAGE_SHOWN_S = 20.0
    PER_PAGE = 8
    PER_PAGE_ELDERLY = 4

    def __init__(self, catalogue: Catalogue, kiosk: str, boot: str, default_language: str = "zh") -> None:
        self.catalogue = catalogue
        self.kiosk = kiosk
        self.boot = boot
        self.default_language = default_language
        self.state = KioskState(language=default_language)
        self._seq = 0
        # intents whose command went unanswered, by what was asked: asking again for the same
        # thing reuses the id, so the server hands back the ticket it may already have issued
        self._unanswered: dict[tuple[str, ...], tuple[str, float]] = {}
        self._asked: dict[str, tuple[str, ...]] = {}

    # -- helpers ---------------------------------------------------------------------

    UNANSWERED_KEEP_S = 600.0

    def _id(self, what: str) -> str:
        self._seq += 1
        return f"{self.kiosk}-{self.boot}-{what}-{self._seq}"

    def _request_id(self, intent: tuple[str, ...], now: float) -> str:
        earlier = self._unanswered.get(intent)
        rid = earlier[0] if earlier and now - earlier[1] < self.UNANSWERED_KEEP_S else self._id(intent[0])
        self._asked[rid] = intent
        return rid

    def _go(self, screen: Screen, now: float, **changes: Any) -> list[Effect]:
        s = self.state
        s.screen = screen
        s.entered_at = now
        for name, value in changes.items():
            setattr(s, name, value)
        prompt = _PROMPTS.get(screen)
        if s.elderly and prompt:
            return [Say(t(prompt, s.language), s.language)]
        return []

    def per_page(self) -> int:
        return self.PER_PAGE_ELDERLY if self.state.elderly else self.PER_PAGE

    def listed_services(self) -> list[str]:
        """The services of the current list screen (all pages), as ids."""
        s = self.state
        if s.screen == Screen.SEARCH:
            return [x.id for x in self.catalogue.search(s.query)]
        areas = self.catalogue.areas
        if not areas:
            return []
        return [x.id for x in areas[min(s.area, len(areas) - 1)].services]

    def page_count(self) -> int:
        s = self.state
        items = len(self.catalogue.areas) if s.screen == Screen.AREAS else len(self.listed_services())
        return max(1, -(-items // self.per_page()))

    def _reset(self, now: float) -> list[Effect]:
        """Back to the start for the next citizen: nothing of this one's choices survives."""
        s = self.state
        s.language = self.default_language
        s.elderly = False
        s.query = s.code = s.phone = ""
        s.service = None
        s.ticket = None
        s.message = s.code_error = None
        s.door = None
        s.phone_error = s.print_failed = s.printing = False
        s.area = s.page = 0
        effects: list[Effect] = [DiscardScans()] if s.scan_pages else []
        s.scan_pages = 0
        s.scan_ticked = frozenset()
        s.scan_sent = None
        return effects + self._go(Screen.HOME, now)

    # -- inputs ----------------------------------------------------------------------

    def tap(self, action: str, arg: Any, now: float) -> list[Effect]:
        """A touch on a button with this action; ignored right after a screen change."""
        s = self.state
        if now - s.entered_at < self.TAP_GUARD_S:
            return []
        s.touched_at = now
        handler = getattr(self, f"_on_{action}", None)
        if handler is None:
            return []
        result: list[Effect] = handler(arg, now)
        return result

    def tick(self, now: float) -> list[Effect]:
        """Time passes: screens time out back to the start."""
        s = self.state
        since = now - max(s.entered_at, s.touched_at, s.activity_at)
        if s.screen in (Screen.ISSUING, Screen.CHECKING_IN, Screen.PICKING_UP, Screen.UPLOADING) or (
            s.screen == Screen.HELP and s.pending
        ):
            return []  # the answer (or the app's give-up) moves on from these
        if s.screen == Screen.HOME:
            # an idle start screen left in English or large text goes back for the next citizen
            if (s.elderly or s.language != self.default_language) and since >= self.IDLE_S:
                return self._reset(now)
            return []
        if s.screen == Screen.TICKET:
            limit = self.TICKET_SHOWN_FAILED_S if s.print_failed else self.TICKET_SHOWN_S
        elif s.screen == Screen.HELP:
            limit = self.HELP_SHOWN_S
        elif s.screen == Screen.MESSAGE:
            limit = self.MESSAGE_SHOWN_S
        else:
            limit = self.IDLE_ELDERLY_S if s.elderly else self.IDLE_S
        if s.screen == Screen.TICKET and s.printing:
            return []
        return self._reset(now) if since >= limit else []

    def link(self, ok: bool, now: float) -> list[Effect]:
        """The server became reachable or unreachable."""
        self.state.link_ok = ok
        return []

    def paper(self, status: str, now: float) -> list[Effect]:
        self.state.paper = status
        return []

    def queues(self, queues: Mapping[str, QueueInfo]) -> None:
        self.state.queues = dict(queues)

    def reply(self, request_id: str, reply: Mapping[str, Any], now: float) -> list[Effect]:
        """The server's answer (`{"ok", "result"|"error"}`) to the command `request_id`.

        `{"ok": false, "error": {"code": "no_answer"}}` and `link_down` come from the app when it
        gave up; answers to requests no longer awaited are ignored.
        """
        s = self.state
        if request_id != s.pending:
            return []
        s.pending = None
        ok = bool(reply.get("ok"))
        result = reply.get("result") or {}
        code = str((reply.get("error") or {}).get("code") or "invalid_request")
        intent = self._asked.pop(request_id, None)
        if intent is not None:
            if code == "no_answer" and not ok:
                self._unanswered[intent] = (request_id, now)
            else:
                self._unanswered.pop(intent, None)
        if s.screen == Screen.ISSUING:
            if not ok:
                return self._go(Screen.MESSAGE, now, message=code, message_back=Screen.SERVICE)
            return self._issued(result, now)
        if s.screen == Screen.CHECKING_IN:
            if not ok:
                if code == "wrong_code":
                    return self._go(Screen.CHECKIN, now, code="", code_error=code)
                return self._go(Screen.MESSAGE, now, message=code, message_back=Screen.HOME)
            return self._issued(result, now)
        if s.screen == Screen.PICKING_UP:
            return self._picked_up(ok, code, result, now)
        if s.screen == Screen.UPLOADING:
            if not ok:
                s.scan_pages = 0
                failed = self._go(Screen.MESSAGE, now, message="upload_failed", message_back=Screen.TICKET)
                return [DiscardScans(), *failed]
            s.scan_sent = int(result.get("pages") or s.scan_pages)
            s.scan_pages = 0
            s.scan_ticked = frozenset()
            return self._go(Screen.TICKET, now)
        if s.screen == Screen.HELP:
            if not ok:
                return self._go(Screen.MESSAGE, now, message=code, message_back=Screen.HOME)
            effects: list[Effect] = []
            if s.elderly:
                effects.append(Say(t("help_sent", s.language), s.language))
            return effects
        return []

    def printed(self, ok: bool, now: float) -> list[Effect]:
        """The receipt went to the printer, or failed to."""
        s = self.state
        s.printing = False
        s.print_failed = not ok
        s.activity_at = now
        return []

    def scan(self, guidance: str, pages: int, now: float) -> list[Effect]:
        """The document pipeline's guidance for the current frame and the pages captured so far."""
        s = self.state
        if s.screen != Screen.SCAN:
            return []
        if pages > s.scan_pages:
            s.activity_at = now  # a captured page is the citizen at work: no time-out meanwhile
        s.scan_guidance = guidance
        s.scan_pages = pages
        return []

    def qr(self, text: str, now: float) -> list[Effect]:
        """A QR code was read by the camera while the check-in screen is up."""
        if self.state.screen != Screen.CHECKIN:
            return []
        code = appointment_code(text)
        if not code:
            return []
        return self._checkin(code, now)

    # -- results ---------------------------------------------------------------------

    def _issued(self, result: Mapping[str, Any], now: float) -> list[Effect]:
        s = self.state
        ticket = result.get("ticket") or {}
        shown = ShownTicket(
            no=str(ticket.get("no", "")),
            service=str(ticket.get("service", s.service or "")),
            ahead=int(result.get("ahead") or 0),
            ewt_s=result.get("ewt_s"),
            issued_at=str(ticket.get("issued_at", "")),
            status_url=str(result.get("status_url") or ""),
            priority=str(ticket.get("priority", "normal")),
            language=s.language,
        )
        effects = self._go(Screen.TICKET, now, ticket=shown, print_failed=False, printing=s.printer)
        if s.printer:
            effects.append(PrintTicket(shown))
        if shown.priority == "green":
            # the green channel brings a helper to the citizen, not only a better place
            effects.append(RequestHelp(self._id("help"), f"绿色通道 {shown.no}"))
        if s.elderly:
            number = " ".join(shown.no)
            effects.append(Say(f"{t('your_number', s.language)} {number}", s.language))
        return effects

    def _picked_up(self, ok: bool, code: str, result: Mapping[str, Any], now: float) -> list[Effect]:
        s = self.state
        door = result.get("door") if ok else None
        if isinstance(door, int) and not isinstance(door, bool):
            effects = self._go(Screen.PICKED_UP, now, door=door, code="", code_error=None)
            return effects + self._speak(t("pickup_door", s.language, door=door))
        if ok:
            code = "no_door"  # an answer without a door opens nothing the citizen can find: staff
        if code == "wrong_code":
            # the digits go: the citizen types the code afresh from the SMS, not a corrected guess
            self._go(Screen.PICKUP, now, code="", code_error="pickup_wrong_code")
            return self._speak(error_text("pickup_wrong_code", s.language))
        message = f"pickup_{code}" if f"pickup_{code}" in ERRORS else "pickup_failed"
        # after no answer or a lost link the code stays, so 确认 asks again under the same id
        back = Screen.PICKUP if code in ("no_answer", "link_down") else Screen.HOME
        self._go(Screen.MESSAGE, now, message=message, message_back=back)
        return self._speak(error_text(message, s.language))

    def _speak(self, text: str) -> list[Effect]:
        s = self.state
        return [Say(text, s.language)] if s.elderly else []

    # -- taps ------------------------------------------------------------------------

    def _on_home(self, arg: Any, now: float) -> list[Effect]:
        return self._reset(now)

    def _on_language(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        s.language = "en" if s.language == "zh" else "zh"
        if s.ticket is not None:
            s.ticket = ShownTicket(**{**s.ticket.__dict__, "language": s.language})
        return []

    def _on_elderly(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        s.elderly = not s.elderly
        s.page = 0
        if s.screen == Screen.SERVICES and s.elderly:
            return self._go(Screen.AREAS, now)
        if s.screen == Screen.AREAS and not s.elderly:
            return self._go(Screen.SERVICES, now)
        prompt = _PROMPTS.get(s.screen)
        if s.elderly and prompt:
            return [Say(t(prompt, s.language), s.language)]
        return []

    def _start_list(self, purpose: Purpose, now: float) -> list[Effect]:
        screen = Screen.AREAS if self.state.elderly else Screen.SERVICES
        return self._go(screen, now, purpose=purpose, area=0, page=0, query="", service=None, phone="")

    def _on_take(self, arg: Any, now: float) -> list[Effect]:
        if not self.state.ticketing:
            return []
        return self._start_list(Purpose.TICKET, now)

    def _on_green(self, arg: Any, now: float) -> list[Effect]:
        if not self.state.ticketing:
            return []
        return self._start_list(Purpose.GREEN, now)

    def _on_guide(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.screen == Screen.SERVICE and s.service:
            return self._go(Screen.GUIDE, now, page=0)
        return self._start_list(Purpose.GUIDE, now)

    def _on_area(self, arg: Any, now: float) -> list[Effect]:
        index = int(arg)
        if not 0 <= index < len(self.catalogue.areas):
            return []
        return self._go(Screen.SERVICES, now, area=index, page=0)

    def _on_page(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        # a guide's pages depend on the font; its pager disables 'next' on the last one
        last = 1_000 if s.screen == Screen.GUIDE else self.page_count() - 1
        s.page = max(0, min(last, s.page + int(arg)))
        return []

    def _on_search(self, arg: Any, now: float) -> list[Effect]:
        return self._go(Screen.SEARCH, now, query="", page=0)

    def _on_letter(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if len(s.query) < 12 and isinstance(arg, str) and len(arg) == 1 and arg.isalnum():
            s.query += arg.lower()
            s.page = 0
        return []

    def _on_backspace(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.screen == Screen.SEARCH:
            s.query = s.query[:-1]
            s.page = 0
        elif s.screen == Screen.PHONE:
            s.phone = s.phone[:-1]
            s.phone_error = False
        elif s.screen in (Screen.CHECKIN, Screen.PICKUP):
            s.code = s.code[:-1]
        return []

    def _on_clear(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.screen == Screen.SEARCH:
            s.query = ""
        elif s.screen == Screen.PHONE:
            s.phone = ""
            s.phone_error = False
        elif s.screen in (Screen.CHECKIN, Screen.PICKUP):
            s.code = ""
        return []

    def _on_service(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        try:
            self.catalogue.service(str(arg))
        except KeyError:
            return []
        if s.purpose == Purpose.GUIDE:
            return self._go(Screen.GUIDE, now, service=str(arg), page=0)
        return self._go(Screen.SERVICE, now, service=str(arg), phone="")

    def _on_back(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.screen in (Screen.SERVICES, Screen.SEARCH):
            if s.screen == Screen.SERVICES and s.elderly:
                return self._go(Screen.AREAS, now, page=0)
            if s.screen == Screen.SEARCH:
                return self._go(Screen.AREAS if s.elderly else Screen.SERVICES, now, page=0)
            return self._reset(now)
        if s.screen == Screen.AREAS:
            return self._reset(now)
        if s.screen == Screen.GUIDE:
            if s.purpose == Purpose.GUIDE:
                return self._go(Screen.SERVICES, now, page=0)
            return self._go(Screen.SERVICE, now)
        if s.screen == Screen.SERVICE:
            return self._go(Screen.SERVICES, now, page=0)
        if s.screen == Screen.PHONE:
            return self._go(Screen.SERVICE, now, phone="", phone_error=False)
        if s.screen == Screen.SCAN:
            effects = [DiscardScans()] if s.scan_pages else []
            s.scan_pages = 0
            return effects + self._go(Screen.TICKET, now)
        if s.screen == Screen.MESSAGE:
            back = s.message_back if (s.message_back != Screen.SERVICE or s.service) else Screen.HOME
            if back == Screen.TICKET and s.ticket is None:
                back = Screen.HOME
            if back == Screen.HOME:
                return self._reset(now)
            return self._go(back, now, message=None)
        return self._reset(now)

    def _on_take_for_this(self, arg: Any, now: float) -> list[Effect]:
        """From a guide read from the home screen's 办事指南 to taking a ticket for it."""
        s = self.state
        if not s.ticketing or not s.service:
            return []
        return self._go(Screen.SERVICE, now, purpose=Purpose.TICKET, phone="")

    def _on_phone(self, arg: Any, now: float) -> list[Effect]:
        return self._go(Screen.PHONE, now, phone="", phone_error=False)

    def _on_digit(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        digit = str(arg)
        if len(digit) != 1 or not digit.isdigit():
            return []
        if s.screen == Screen.PHONE and len(s.phone) < 11:
            s.phone += digit
            s.phone_error = False
        elif len(s.code) < {Screen.CHECKIN: CODE_MAX, Screen.PICKUP: PICKUP_DIGITS}.get(s.screen, 0):
            s.code += digit
            s.code_error = None
        return []

    def _on_phone_ok(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if not PHONE.match(s.phone):
            s.phone_error = True
            return []
        return self._go(Screen.SERVICE, now)

    def _on_issue(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.service is None or s.pending is not None:
            return []
        if not s.ticketing:
            return self._go(
                Screen.MESSAGE,
                now,
                message="link_down" if not s.link_ok else "paper_out",
                message_back=Screen.HOME,
            )
        priority = "green" if s.purpose == Purpose.GREEN else "normal"
        rid = self._request_id(("issue", s.service, priority, s.phone), now)
        request = IssueTicket(rid, s.service, priority, s.phone or None)
        effects = self._go(Screen.ISSUING, now, pending=request.request_id)
        return [request, *effects]

    def _on_checkin(self, arg: Any, now: float) -> list[Effect]:
        if not self.state.ticketing:
            return []
        return self._go(Screen.CHECKIN, now, code="", code_error=None)

    def _on_code_ok(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if not s.code:
            return []
        return self._checkin(s.code, now)

    def _checkin(self, code: str, now: float) -> list[Effect]:
        s = self.state
        if s.pending is not None:
            return []
        if not s.ticketing:
            return self._go(Screen.MESSAGE, now, message="link_down", message_back=Screen.HOME)
        request = CheckIn(self._request_id(("checkin", code), now), code)
        effects = self._go(Screen.CHECKING_IN, now, pending=request.request_id, code_error=None)
        return [request, *effects]

    def _on_pickup(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        # the locker does not need paper: only the server, which knows the codes
        if not s.locker or not s.link_ok:
            return []
        return self._go(Screen.PICKUP, now, code="", code_error=None)

    def _on_pickup_ok(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.screen != Screen.PICKUP or len(s.code) != PICKUP_DIGITS or s.pending is not None:
            return []
        if not s.link_ok:
            self._go(Screen.MESSAGE, now, message="pickup_link_down", message_back=Screen.PICKUP)
            return self._speak(error_text("pickup_link_down", s.language))
        request = Pickup(self._request_id(("pickup", s.code), now), s.code)
        effects = self._go(Screen.PICKING_UP, now, pending=request.request_id, code_error=None)
        return [request, *effects]

    def _on_help(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.pending is not None:
            return []
        if not s.link_ok:
            return self._go(Screen.MESSAGE, now, message="link_down", message_back=Screen.HOME)
        request = RequestHelp(self._id("help"), "帮办")
        effects = self._go(Screen.HELP, now, pending=request.request_id)
        return [request, *effects]

    def _on_scan(self, arg: Any, now: float) -> list[Effect]:
        """From the result screen to the document camera, to send the materials ahead."""
        s = self.state
        if s.ticket is None or not s.camera or not s.ticket.status_url or s.printing:
            return []
        effects = self._go(Screen.SCAN, now, scan_guidance="nothing_found", scan_pages=0, scan_sent=None)
        return [StartScan(), *effects]

    def _on_tick(self, arg: Any, now: float) -> list[Effect]:
        """Tick a material of the service's list off (or on again)."""
        s = self.state
        index = int(arg)
        s.scan_ticked = s.scan_ticked ^ {index}
        return []

    def _on_send(self, arg: Any, now: float) -> list[Effect]:
        s = self.state
        if s.screen != Screen.SCAN or s.scan_pages == 0 or s.ticket is None or s.pending is not None:
            return []
        service = next((x for x in self.catalogue.services if x.id == s.ticket.service), None)
        names = tuple(
            service.materials[i].name for i in sorted(s.scan_ticked) if service and i < len(service.materials)
        )
        request = UploadScans(self._id("upload"), s.ticket.status_url, names)
        effects = self._go(Screen.UPLOADING, now, pending=request.request_id)
        return [request, *effects]

    def _on_done(self, arg: Any, now: float) -> list[Effect]:
        if self.state.printing:
            return []
        return self._reset(now)


_PROMPTS: dict[Screen, str] = {
    Screen.HOME: "welcome",
    Screen.AREAS: "choose_area",
    Screen.SERVICES: "choose_service",
    Screen.PHONE: "phone_title",
    Screen.CHECKIN: "checkin_title",
    Screen.PICKUP: "pickup_title",
    Screen.HELP: "help_sending",
}

_APPOINTMENT_URL = re.compile(r"[?&](?:code|appointment)=([A-Za-z0-9-]{1,32})")


def appointment_code(text: str) -> str:
    """The appointment code in a scanned QR: a bare code, `YC:APPT:<code>` or a URL `…?code=…`."""
    text = text.strip()
    if match := _APPOINTMENT_URL.search(text):
        return match.group(1)
    if text.upper().startswith("YC:APPT:"):
        text = text[8:]
    return text if re.fullmatch(r"[A-Za-z0-9-]{1,32}", text) else ""
