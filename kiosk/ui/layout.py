"""Where everything goes on each kiosk screen, as plain data (pure: no pygame).

`layout()` turns the flow's state into a list of widgets in drawing order. The renderer draws
exactly this list and touches are hit-tested against the same list, so what a test finds
here is what a citizen sees and can press. Sizes derive from the screen's resolution and
grow in elderly mode; nothing is a fixed pixel count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.flow import PICKUP_DIGITS, Flow, KioskState, Purpose, Screen, mask_phone
from kiosk.texts import TEXTS, error_text, minutes_text, t
from yichuang.config_model import ServiceConfig

__all__ = [
    "Box",
    "Button",
    "Context",
    "Preview",
    "Qr",
    "Rect",
    "Spinner",
    "Text",
    "Widget",
    "hit",
    "layout",
]

Rect = tuple[int, int, int, int]  # x, y, width, height
Wrap = Callable[[str, int, int, bool], list[str]]


@dataclass(frozen=True)
class Button:
    rect: Rect
    action: str
    label: str
    arg: Any = None
    sub: str = ""  # a second, smaller line (waiting count, a hint)
    style: str = "normal"  # normal | primary | green | help | locker | ghost | tab | key | nav
    size: int = 32
    enabled: bool = True
    selected: bool = False


@dataclass(frozen=True)
class Text:
    rect: Rect
    text: str
    size: int
    colour: str = "fg"  # fg | muted | error | accent | white | green
    bold: bool = False
    align: str = "left"  # left | center | right
    blink: bool = False


@dataclass(frozen=True)
class Box:
    rect: Rect
    style: str = "card"  # card | field | error | warn | go | header | footer


@dataclass(frozen=True)
class Qr:
    rect: Rect
    data: str


@dataclass(frozen=True)
class Preview:
    """Where the live camera picture goes (check-in, scanning); `outline`: draw the page found."""

    rect: Rect
    outline: bool = False


@dataclass(frozen=True)
class Spinner:
    rect: Rect


Widget = Button | Text | Box | Qr | Preview | Spinner


@dataclass(frozen=True)
class Context:
    """What the screens show besides the flow's state."""

    hall_name: str
    hall_name_en: str
    kiosk: str
    clock: str  # HH:MM, passed in so that layout stays pure


def hit(widgets: Sequence[Widget], x: int, y: int) -> Button | None:
    """The enabled button under a touch at (x, y), topmost first."""
    for widget in reversed(widgets):
        if isinstance(widget, Button) and widget.enabled:
            bx, by, bw, bh = widget.rect
            if bx <= x < bx + bw and by <= y < by + bh:
                return widget
    return None


def _grid(rect: Rect, count: int, cols: int, rows: int, gap: int) -> list[Rect]:
    x, y, w, h = rect
    cw = (w - gap * (cols - 1)) // cols
    ch = (h - gap * (rows - 1)) // rows
    return [(x + (i % cols) * (cw + gap), y + (i // cols) * (ch + gap), cw, ch) for i in range(count)]


class _Page:
    """Sizes for one screen resolution and mode."""

    def __init__(self, size: tuple[int, int], elderly: bool) -> None:
        self.w, self.h = size
        self.u = min(self.w, self.h) / 1080
        self.scale = 1.3 if elderly else 1.0
        self.gap = max(8, int(20 * self.u))
        self.margin = max(12, int(36 * self.u))
        self.header_h = int(110 * self.u)
        self.footer_h = int(64 * self.u)
        self.nav_h = int(120 * self.u * (1.1 if elderly else 1.0))
        self.portrait = self.h > self.w

    def px(self, v: float) -> int:
        return max(1, int(v * self.u))

    def font(self, v: float) -> int:
        return max(12, int(v * self.u * self.scale))

    @property
    def body(self) -> Rect:
        top = self.header_h + self.gap
        return (self.margin, top, self.w - 2 * self.margin, self.h - top - self.footer_h - self.gap)

    def body_above_nav(self) -> Rect:
        x, y, w, h = self.body
        return (x, y, w, h - self.nav_h - self.gap)

    def nav(self) -> Rect:
        x, y, w, h = self.body
        return (x, y + h - self.nav_h, w, self.nav_h)


def layout(
    state: KioskState, flow: Flow, context: Context, size: tuple[int, int], wrap: Wrap, now: float = 0.0
) -> list[Widget]:
    """The widgets of the current screen, in drawing order."""
    p = _Page(size, state.elderly)
    out: list[Widget] = []
    _header(out, p, state, context)
    builder = _SCREENS[state.screen]
    builder(out, p, state, flow, wrap)
    _footer(out, p, state, context)
    return out


# -- frame -------------------------------------------------------------------------------


def _header(out: list[Widget], p: _Page, s: KioskState, c: Context) -> None:
    lang = s.language
    out.append(Box((0, 0, p.w, p.header_h), "header"))
    title = c.hall_name if lang == "zh" else (c.hall_name_en or c.hall_name)
    bw = p.px(200) if not p.portrait else p.px(180)
    bh = p.header_h - 2 * p.px(18)
    by = p.px(18)
    clock_w = p.px(140)
    out.append(
        Text((p.margin, 0, p.w - 2 * bw - clock_w - 3 * p.margin, p.header_h), title, p.px(44), "white", True)
    )
    out.append(
        Text(
            (p.w - 2 * bw - clock_w - 2 * p.margin, 0, clock_w, p.header_h),
            c.clock,
            p.px(40),
            "white",
            align="center",
        )
    )
    out.append(
        Button(
            (p.w - 2 * bw - p.margin - p.gap // 2, by, bw, bh),
            "elderly",
            t("elderly_off" if s.elderly else "elderly_on", lang),
            style="ghost",
            size=p.px(32),
        )
    )
    out.append(
        Button(
            (p.w - bw - p.margin + p.gap // 2, by, bw - p.gap // 2, bh),
            "language",
            t("language", lang),
            style="ghost",
            size=p.px(32),
        )
    )


def _footer(out: list[Widget], p: _Page, s: KioskState, c: Context) -> None:
    lang = s.language
    y = p.h - p.footer_h
    out.append(Box((0, y, p.w, p.footer_h), "footer"))
    out.append(Text((p.margin, y, p.w // 2, p.footer_h), c.kiosk, p.px(24), "muted"))
    if not s.link_ok or s.paper == "out":
        note, colour = t("unavailable_short", lang), "error"
    elif s.paper == "low":
        note, colour = t("paper_low", lang), "accent"
    elif s.paper == "offline":
        note, colour = t("printer_offline", lang), "error"
    else:
        note, colour = "", "muted"
    if note:
        out.append(
            Text((p.w // 2, y, p.w // 2 - p.margin, p.footer_h), note, p.px(26), colour, True, "right")
        )


def _nav(out: list[Widget], p: _Page, s: KioskState, back: bool = True, home: bool = True) -> Rect:
    """Back and home at the bottom left, where every screen has them; returns the free part."""
    x, y, w, h = p.nav()
    bw = p.px(260 if s.elderly else 220)
    cursor = x
    if back:
        out.append(Button((cursor, y, bw, h), "back", t("back", s.language), style="nav", size=p.font(34)))
        cursor += bw + p.gap
    if home:
        out.append(Button((cursor, y, bw, h), "home", t("home", s.language), style="nav", size=p.font(34)))
        cursor += bw + p.gap
    return (cursor, y, x + w - cursor, h)


def _done_button(p: _Page, lang: str, enabled: bool = True) -> Button:
    """完成 / Done at the right of the bottom bar: the end of a visit (ticket taken, door opened)."""
    nx, ny, nw, nh = p.nav()
    return Button(
        (nx + nw - p.px(360), ny, p.px(360), nh),
        "done",
        t("done", lang),
        style="primary",
        size=p.font(44),
        enabled=enabled,
    )


def _pager(out: list[Widget], p: _Page, s: KioskState, rect: Rect, page: int, pages: int) -> None:
    if pages <= 1:
        return
    x, y, w, h = rect
    bw = p.px(220)
    lang = s.language
    out.append(
        Button(
            (x + w - 2 * bw - p.gap, y, bw, h),
            "page",
            t("prev", lang),
            arg=-1,
            style="nav",
            size=p.font(32),
            enabled=page > 0,
        )
    )
    out.append(
        Button(
            (x + w - bw, y, bw, h),
            "page",
            t("next", lang),
            arg=1,
            style="nav",
            size=p.font(32),
            enabled=page < pages - 1,
        )
    )
    out.append(
        Text((x, y, w - 2 * bw - 2 * p.gap, h), f"{page + 1} / {pages}", p.font(30), "muted", align="right")
    )


def _name(service: ServiceConfig, lang: str) -> str:
    return service.name_en if lang == "en" and service.name_en else service.name


def _wait_line(s: KioskState, service: ServiceConfig) -> str:
    info = s.queues.get(service.id)
    if info is None:
        return ""
    lang = s.language
    if info.ewt_s is None:
        return f"{t('waiting_n', lang, n=info.waiting)} · {t('wait_unknown', lang)}"
    return (
        f"{t('waiting_n', lang, n=info.waiting)} · {t('wait_about', lang, m=minutes_text(info.ewt_s, lang))}"
    )


# -- screens -----------------------------------------------------------------------------


def _home(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body
    banner_h = p.px(110)
    if not s.link_ok or s.paper == "out":
        out.append(Box((x, y, w, banner_h), "error"))
        out.append(
            Text(
                (x + p.gap, y, w - 2 * p.gap, banner_h),
                t("unavailable" if not s.link_ok else "paper_out", lang),
                p.font(34),
                "white",
                True,
                "center",
            )
        )
    else:
        out.append(Text((x, y, w, banner_h), t("welcome", lang), p.font(48), "fg", True, "center"))
    top = y + banner_h + p.gap
    area = (x, top, w, y + h - top)
    ok = s.ticketing
    tiles = [
        ("take", "primary", ok),
        ("checkin", "normal", ok),
        ("guide", "normal", True),
        ("help", "help", s.link_ok),
        ("green", "green", ok),
    ]
    if s.locker:
        # needs the server but no paper: results can be picked up while ticketing is paused
        tiles.insert(1, ("pickup", "locker", s.link_ok))
    if p.portrait:
        rects = _grid(area, len(tiles), 1, len(tiles), p.gap)
    else:
        ax, ay, aw, ah = area
        big_w = (aw - p.gap) * 2 // 5
        if s.locker:
            # pickup shares the large column with 取号 so the four small tiles stay as they are
            take_h = (ah - p.gap) * 3 // 5
            rects = [(ax, ay, big_w, take_h), (ax, ay + take_h + p.gap, big_w, ah - take_h - p.gap)]
        else:
            rects = [(ax, ay, big_w, ah)]
        rects += _grid((ax + big_w + p.gap, ay, aw - big_w - p.gap, ah), 4, 2, 2, p.gap)
    for (action, style, enabled), rect in zip(tiles, rects, strict=True):
        size = p.font({"take": 80, "pickup": 64}.get(action, 52) if not p.portrait else 52)
        out.append(
            Button(
                rect,
                action,
                t(action, lang),
                sub=t(f"{action}_sub", lang),
                style=style,
                size=size,
                enabled=enabled,
            )
        )


def _areas(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body_above_nav()
    title_h = p.px(90)
    out.append(Text((x, y, w, title_h), t("choose_area", lang), p.font(44), "fg", True))
    areas = flow.catalogue.areas
    per = flow.per_page()
    pages = max(1, -(-len(areas) // per))
    page = min(s.page, pages - 1)
    shown = areas[page * per : (page + 1) * per]
    grid = (x, y + title_h, w, h - title_h)
    cols = 1 if p.portrait else 2
    rects = _grid(grid, per, cols, -(-per // cols), p.gap)
    for i, (area, rect) in enumerate(zip(shown, rects, strict=False)):
        label = area.name_en if lang == "en" else area.name
        out.append(Button(rect, "area", label, arg=page * per + i, size=p.font(52)))
    free = _nav(out, p, s)
    _search_button(out, p, s, free)
    _pager(out, p, s, free, page, pages)


def _search_button(out: list[Widget], p: _Page, s: KioskState, free: Rect) -> None:
    x, y, _w, h = free
    out.append(Button((x, y, p.px(260), h), "search", t("search", s.language), style="nav", size=p.font(34)))


def _service_buttons(
    out: list[Widget], p: _Page, s: KioskState, services: Sequence[ServiceConfig], rect: Rect, per: int
) -> None:
    cols = 1 if (p.portrait or s.elderly) else 2
    rows = -(-per // cols)
    for service, r in zip(services, _grid(rect, per, cols, rows, p.gap), strict=False):
        sub = _wait_line(s, service) if s.purpose != Purpose.GUIDE else ""
        out.append(
            Button(
                r,
                "service",
                _name(service, s.language),
                arg=service.id,
                sub=sub,
                style="green" if s.purpose == Purpose.GREEN else "normal",
                size=p.font(40),
            )
        )


def _title_for_list(s: KioskState) -> str:
    if s.purpose == Purpose.GUIDE:
        return t("choose_service_guide", s.language)
    if s.purpose == Purpose.GREEN:
        return f"{t('green', s.language)} · {t('choose_service', s.language)}"
    return t("choose_service", s.language)


def _services(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body_above_nav()
    title_h = p.px(90)
    out.append(Text((x, y, w, title_h), _title_for_list(s), p.font(44), "fg", True))
    services = [flow.catalogue.service(i) for i in flow.listed_services()]
    per = flow.per_page()
    pages = max(1, -(-len(services) // per))
    page = min(s.page, pages - 1)
    shown = services[page * per : (page + 1) * per]
    body = (x, y + title_h, w, h - title_h)
    areas = flow.catalogue.areas
    if s.elderly:
        grid = body
        tab_rects: list[Rect] = []
    elif p.portrait:
        # the categories as rows of four above the services
        tab_rows = -(-len(areas) // 4)
        tabs_rect = (x, body[1], w, tab_rows * p.px(80) + (tab_rows - 1) * p.gap)
        tab_rects = _grid(tabs_rect, len(areas), 4, tab_rows, p.gap)
        top = tabs_rect[1] + tabs_rect[3] + p.gap
        grid = (x, top, w, body[1] + body[3] - top)
    else:
        # the categories as a column on the left
        tabs_w = int(w * 0.24)
        tab_rects = _grid((x, body[1], tabs_w, body[3]), len(areas), 1, max(len(areas), 6), p.gap // 2)
        grid = (x + tabs_w + p.gap, body[1], w - tabs_w - p.gap, body[3])
    tab_size = p.font(28 if p.portrait else 30)
    for i, (area, r) in enumerate(zip(areas, tab_rects, strict=False)):
        label = area.name_en if lang == "en" else area.name
        out.append(Button(r, "area", label, arg=i, style="tab", size=tab_size, selected=i == s.area))
    _service_buttons(out, p, s, shown, grid, per)
    free = _nav(out, p, s)
    _search_button(out, p, s, free)
    _pager(out, p, s, free, page, pages)


_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _search(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body_above_nav()
    field_h = p.px(100)
    out.append(Box((x, y, w, field_h), "field"))
    shown = s.query.upper() if s.query else t("search_hint", lang)
    out.append(
        Text(
            (x + p.gap, y, w - 2 * p.gap, field_h),
            shown,
            p.font(44 if s.query else 30),
            "fg" if s.query else "muted",
            bool(s.query),
        )
    )
    keys_h = int((h - field_h - p.gap) * 0.5)
    results_rect = (x, y + field_h + p.gap, w, h - field_h - keys_h - 2 * p.gap)
    keys_rect = (x, y + h - keys_h, w, keys_h)
    services = [flow.catalogue.service(i) for i in flow.listed_services()]
    per = flow.per_page() // 2 or 1
    if s.query and not services:
        out.append(Text(results_rect, t("no_match", lang), p.font(36), "muted", align="center"))
    elif services:
        pages = max(1, -(-len(services) // per))
        page = min(s.page, pages - 1)
        _service_buttons(out, p, s, services[page * per : (page + 1) * per], results_rect, per)
    kx, ky, kw, kh = keys_rect
    row_h = (kh - 2 * p.gap) // 3
    # ten letters, half-key row offsets, and a two-key column for delete/clear on the right
    key_w = (kw - 12 * p.gap) // 12
    for r, row in enumerate(_KEY_ROWS):
        offset = kx + r * key_w // 2
        for i, letter in enumerate(row):
            rect = (offset + i * (key_w + p.gap), ky + r * (row_h + p.gap), key_w, row_h)
            out.append(Button(rect, "letter", letter.upper(), arg=letter, style="key", size=p.font(40)))
    right = kx + kw - 2 * key_w - p.gap
    out.append(
        Button(
            (right, ky, 2 * key_w + p.gap, row_h + (row_h + p.gap)),
            "backspace",
            t("delete", lang),
            style="key",
            size=p.font(32),
        )
    )
    out.append(
        Button(
            (right, ky + 2 * (row_h + p.gap), 2 * key_w + p.gap, row_h),
            "clear",
            t("clear", lang),
            style="key",
            size=p.font(32),
        )
    )
    free = _nav(out, p, s)
    pages = max(1, -(-len(services) // per))
    _pager(out, p, s, free, min(s.page, pages - 1), pages)


def _flow_text(service: ServiceConfig, lang: str) -> str:
    try:
        return t(f"flow_{service.flow}", lang)
    except KeyError:
        return ""


def _service(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    if s.service is None:
        return
    service = flow.catalogue.service(s.service)
    x, y, w, h = p.body_above_nav()
    title_h = p.px(120)
    out.append(Text((x, y, w, title_h), _name(service, lang), p.font(54), "fg", True))
    out.append(Text((x, y + title_h, w, p.px(60)), _flow_text(service, lang), p.font(30), "muted"))
    cards_y = y + title_h + p.px(70)
    cards_h = p.px(190)
    info = s.queues.get(service.id)
    waiting = t("people", lang, n=info.waiting) if info else "—"
    wait = minutes_text(info.ewt_s, lang) if info else "—"
    for i, (label, value) in enumerate(((t("now_waiting", lang), waiting), (t("est_wait", lang), wait))):
        r = _grid((x, cards_y, w, cards_h), 2, 2, 1, p.gap)[i]
        out.append(Box(r, "card"))
        out.append(Text((r[0], r[1] + p.px(12), r[2], p.px(60)), label, p.font(32), "muted", align="center"))
        out.append(
            Text((r[0], r[1] + p.px(70), r[2], r[3] - p.px(80)), value, p.font(64), "accent", True, "center")
        )
    cursor = cards_y + cards_h + p.gap
    if s.purpose == Purpose.GREEN:
        out.append(Text((x, cursor, w, p.px(60)), t("green_note", lang), p.font(32), "green", True))
        cursor += p.px(60) + p.gap
    actions = (x, cursor, w, y + h - cursor)
    ax, ay, aw, ah = actions
    main_w = (aw - p.gap) * 3 // 5
    out.append(
        Button(
            (ax, ay, main_w, ah),
            "issue",
            t("take_green" if s.purpose == Purpose.GREEN else "take_this", lang),
            style="green" if s.purpose == Purpose.GREEN else "primary",
            size=p.font(64),
            enabled=s.ticketing,
        )
    )
    side = _grid((ax + main_w + p.gap, ay, aw - main_w - p.gap, ah), 2, 1, 2, p.gap)
    phone_label = t("sms_set", lang, phone=mask_phone(s.phone)) if s.phone else t("sms_optional", lang)
    out.append(Button(side[0], "phone", phone_label, size=p.font(34)))
    out.append(Button(side[1], "guide", t("read_guide", lang), size=p.font(34)))
    _nav(out, p, s)


def guide_lines(service: ServiceConfig, lang: str) -> list[tuple[str, str]]:
    """The 办事指南 of a service as (kind, text) lines: heading, text, key, nonkey, note."""
    en = lang == "en"
    lines: list[tuple[str, str]] = []
    conditions = (service.conditions_en if en else service.conditions) or service.conditions
    if conditions:
        lines += [("heading", t("conditions", lang)), ("text", conditions)]
    if service.materials:
        lines.append(("heading", t("materials", lang)))
        for i, m in enumerate(service.materials, 1):
            name = m.name_en if en and m.name_en else m.name
            form = t(f"form_{m.form}", lang) if f"form_{m.form}" in _FORMS else m.form
            detail = f"{form}, {t('copies', lang, n=m.copies)}" if m.copies > 1 else form
            mark = t("key_material" if m.key else "nonkey_material", lang)
            lines.append(("key" if m.key else "nonkey", f"{i}. {name}（{detail}）  [{mark}]"))
        if any(not m.key for m in service.materials):
            lines.append(("note", t("nonkey_note", lang)))
    limit = t("days", lang, n=service.time_limit_days) if service.time_limit_days else t("on_the_spot", lang)
    lines += [("heading", t("time_limit", lang)), ("text", limit)]
    lines += [("heading", t("fee", lang)), ("text", (service.fee_en if en else service.fee) or service.fee)]
    place = (service.place_en if en else service.place) or service.place
    if place:
        lines += [("heading", t("place", lang)), ("text", place)]
    return lines


_FORMS = {"form_original", "form_copy", "form_original_and_copy", "form_electronic"}
_GUIDE_STYLE = {
    "heading": ("accent", True, 38),
    "text": ("fg", False, 32),
    "key": ("fg", True, 32),
    "nonkey": ("fg", False, 32),
    "note": ("muted", False, 28),
}


def guide_pages(
    service: ServiceConfig, lang: str, p: _Page, width: int, height: int, wrap: Wrap
) -> list[list[tuple[str, str, int]]]:
    """The guide split into pages that fit, as (kind, line, size) per wrapped line."""
    pages: list[list[tuple[str, str, int]]] = [[]]
    used = 0
    block: list[tuple[str, str, int]] = []
    block_h = 0
    for kind, text in [*guide_lines(service, lang), ("end", "")]:
        # a heading travels with the line after it, so no page ends on a bare heading
        if kind != "end" and (not block or block[-1][0] == "heading"):
            pass
        elif block:
            if used + block_h > height and pages[-1]:
                pages.append([])
                used = 0
            pages[-1] += block
            used += block_h
            block, block_h = [], 0
        if kind == "end":
            break
        _colour, bold, base = _GUIDE_STYLE[kind]
        size = p.font(base)
        wrapped = wrap(text, size, width, bold)
        block += [(kind, line, size) for line in wrapped]
        block_h += len(wrapped) * int(size * 1.35) + (p.px(14) if kind == "heading" else 0)
    return pages


def _guide(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    if s.service is None:
        return
    service = flow.catalogue.service(s.service)
    x, y, w, h = p.body_above_nav()
    title_h = p.px(100)
    out.append(
        Text((x, y, w, title_h), f"{t('guide', lang)} · {_name(service, lang)}", p.font(44), "fg", True)
    )
    out.append(Box((x, y + title_h, w, h - title_h), "card"))
    inner_w = w - 4 * p.gap
    inner_h = h - title_h - 2 * p.gap
    pages = guide_pages(service, lang, p, inner_w, inner_h, wrap)
    page = min(s.page, len(pages) - 1)
    cursor = y + title_h + p.gap
    for kind, line, size in pages[page]:
        colour, bold, _ = _GUIDE_STYLE[kind]
        if kind == "heading":
            cursor += p.px(14)
        if kind == "nonkey":
            colour = "green"
        lh = int(size * 1.35)
        out.append(Text((x + 2 * p.gap, cursor, inner_w, lh), line, size, colour, bold))
        cursor += lh
    free = _nav(out, p, s)
    if s.purpose == Purpose.GUIDE:
        fx, fy, fw, fh = free
        bw = p.px(360)
        out.append(
            Button(
                (fx, fy, bw, fh),
                "take_for_this",
                t("take_for_this", lang),
                style="primary",
                size=p.font(34),
                enabled=s.ticketing,
            )
        )
        free = (fx + bw + p.gap, fy, fw - bw - p.gap, fh)
    _pager(out, p, s, free, page, len(pages))


def _keypad(
    out: list[Widget],
    p: _Page,
    s: KioskState,
    rect: Rect,
    ok_action: str,
    ok_label: str = "ok",
    ok_enabled: bool = True,
) -> None:
    lang = s.language
    keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "backspace"]
    rects = _grid(rect, 12, 3, 5, p.gap)
    for key, r in zip(keys, rects, strict=False):
        if key.isdigit():
            out.append(Button(r, "digit", key, arg=key, style="key", size=p.font(56)))
        else:
            out.append(
                Button(r, key, t("clear" if key == "clear" else "delete", lang), style="key", size=p.font(34))
            )
    last = rects[9]
    x, y, w, h = rect
    out.append(
        Button(
            (x, last[1] + last[3] + p.gap, w, y + h - last[1] - last[3] - p.gap),
            ok_action,
            t(ok_label, lang),
            style="primary",
            size=p.font(48),
            enabled=ok_enabled,
        )
    )


def _phone(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body_above_nav()
    left_w = w // 2 - p.gap
    out.append(Text((x, y, left_w, p.px(90)), t("phone_title", lang), p.font(44), "fg", True))
    out.append(Box((x, y + p.px(110), left_w, p.px(120)), "field"))
    out.append(
        Text(
            (x + p.gap, y + p.px(110), left_w - 2 * p.gap, p.px(120)),
            mask_phone(s.phone),
            p.font(60),
            "fg",
            True,
            "center",
        )
    )
    hint_y = y + p.px(250)
    for i, line in enumerate(wrap(t("phone_hint", lang), p.font(30), left_w, False)):
        out.append(Text((x, hint_y + i * p.font(42), left_w, p.font(42)), line, p.font(30), "muted"))
    if s.phone_error:
        out.append(
            Text((x, y + p.px(420), left_w, p.px(70)), t("phone_bad", lang), p.font(34), "error", True)
        )
    _keypad(out, p, s, (x + w // 2, y, w // 2, h), "phone_ok")
    _nav(out, p, s)


def _busy(key: str) -> Callable[[list[Widget], _Page, KioskState, Flow, Wrap], None]:
    def build(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
        x, y, w, h = p.body
        size = p.px(160)
        out.append(Spinner((x + (w - size) // 2, y + h // 3 - size // 2, size, size)))
        out.append(
            Text((x, y + h // 3 + size, w, p.px(100)), t(key, s.language), p.font(52), "fg", True, "center")
        )

    return build


def _ticket(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    ticket = s.ticket
    if ticket is None:
        return
    x, y, w, h = p.body_above_nav()
    show_qr = bool(ticket.status_url) and (not s.printer or s.print_failed)
    text_w = w - (h * 2 // 3 + p.gap if show_qr else 0)
    out.append(Text((x, y, text_w, p.px(80)), t("your_number", lang), p.font(44), "muted", align="center"))
    out.append(Text((x, y + p.px(80), text_w, p.px(300)), ticket.no, p.px(260), "accent", True, "center"))
    try:
        name = _name(flow.catalogue.service(ticket.service), lang)
    except KeyError:
        name = ticket.service
    cursor = y + p.px(400)
    out.append(Text((x, cursor, text_w, p.px(70)), name, p.font(40), "fg", True, "center"))
    cursor += p.px(80)
    detail = t("ahead_n", lang, n=ticket.ahead)
    if ticket.ewt_s is not None:
        detail += f" · {t('est_wait', lang)} {minutes_text(ticket.ewt_s, lang)}"
    out.append(Text((x, cursor, text_w, p.px(70)), detail, p.font(38), "fg", align="center"))
    cursor += p.px(90)
    if ticket.priority == "appointment":
        out.append(
            Text(
                (x, cursor, text_w, p.px(60)),
                t("appointment_ticket", lang),
                p.font(34),
                "green",
                True,
                "center",
            )
        )
        cursor += p.px(70)
    elif ticket.priority == "green":
        out.append(
            Text((x, cursor, text_w, p.px(60)), t("green_ticket", lang), p.font(34), "green", True, "center")
        )
        cursor += p.px(70)
    if s.printing:
        status, colour = t("printing", lang), "muted"
    elif s.print_failed:
        status, colour = t("print_failed", lang), "error"
    elif not s.printer:
        status, colour = t("no_printer", lang), "fg"
    else:
        status, colour = t("take_receipt", lang), "fg"
    for i, line in enumerate(wrap(status, p.font(40), text_w, True)):
        out.append(
            Text(
                (x, cursor + i * p.font(56), text_w, p.font(56)),
                line,
                p.font(40),
                colour,
                True,
                "center",
                blink=s.print_failed,
            )
        )
    if show_qr:
        side = h * 2 // 3
        qx = x + w - side
        out.append(Box((qx, y, side, side + p.px(70)), "card"))
        out.append(Qr((qx + p.gap, y + p.gap, side - 2 * p.gap, side - 2 * p.gap), ticket.status_url))
        out.append(
            Text((qx, y + side, side, p.px(60)), t("scan_status", lang), p.font(30), "muted", align="center")
        )
    out.append(_done_button(p, lang, enabled=not s.printing))
    nx, ny, nw, nh = p.nav()
    try:
        materials = flow.catalogue.service(ticket.service).materials
    except KeyError:
        materials = ()
    if s.scan_sent:
        out.append(
            Text((nx, ny, nw - p.px(380), nh), t("scan_sent", lang, n=s.scan_sent), p.font(34), "green", True)
        )
    elif s.camera and materials and ticket.status_url:
        bw = p.px(520)
        out.append(
            Button(
                (nx + nw - p.px(380) - bw, ny, bw, nh),
                "scan",
                t("scan", lang),
                sub=t("scan_sub", lang),
                size=p.font(40),
                enabled=not s.printing,
            )
        )


def _checkin(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body_above_nav()
    title = t("checkin_title", lang)
    title_lines = wrap(title, p.font(38), w, True)
    th = len(title_lines) * p.font(52)
    for i, line in enumerate(title_lines):
        out.append(Text((x, y + i * p.font(52), w, p.font(52)), line, p.font(38), "fg", True))
    top = y + th + p.gap
    left_w = w // 2 - p.gap
    out.append(Box((x, top, left_w, p.px(110)), "field"))
    out.append(Text((x, top, left_w, p.px(110)), s.code, p.font(56), "fg", True, "center"))
    if s.code_error:
        out.append(
            Text(
                (x, top + p.px(120), left_w, p.px(60)),
                error_text(s.code_error, lang),
                p.font(30),
                "error",
                True,
            )
        )
    pad_top = top + p.px(190)
    _keypad(out, p, s, (x, pad_top, left_w, y + h - pad_top), "code_ok")
    cam = (x + w // 2, top, w // 2, y + h - top)
    if s.camera:
        out.append(Preview(cam))
    else:
        out.append(Box(cam, "card"))
        out.append(Text(cam, t("camera_off", lang), p.font(32), "muted", align="center"))
    _nav(out, p, s, back=False)


def _pickup(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    x, y, w, h = p.body_above_nav()
    title_h = p.font(60)
    out.append(Text((x, y, w, title_h), t("pickup_title", lang), p.font(44), "fg", True))
    top = y + title_h + p.gap
    left_w = w // 2 - p.gap
    field_h = p.px(130)
    out.append(Box((x, top, left_w, field_h), "field"))
    # the digits in the clear and spaced like the SMS's, with a mark for each one still to type
    shown = " ".join(s.code.ljust(PICKUP_DIGITS, "_"))
    out.append(Text((x, top, left_w, field_h), shown, p.font(64), "fg", True, "center"))
    if s.code_error:
        out.append(
            Text(
                (x, top + field_h + p.px(6), left_w, p.px(64)),
                error_text(s.code_error, lang),
                p.font(34),
                "error",
                True,
            )
        )
    pad_top = top + field_h + p.px(80)
    _keypad(
        out,
        p,
        s,
        (x, pad_top, left_w, y + h - pad_top),
        "pickup_ok",
        "pickup_ok",
        ok_enabled=len(s.code) == PICKUP_DIGITS and s.link_ok,
    )
    # the right half: where the code is in the SMS, and a way to a person for those without one
    rx, rw = x + w // 2, w // 2
    inner = rw - 4 * p.gap
    lines: list[tuple[str, int, str, bool]] = []
    for key, size, colour, bold in (
        ("pickup_sms", 34, "muted", False),
        ("pickup_sms_example", 40, "accent", True),
    ):
        lines += [
            (line, p.font(size), colour, bold) for line in wrap(t(key, lang), p.font(size), inner, bold)
        ]
    card_h = sum(int(size * 1.45) for _, size, _, _ in lines) + 4 * p.gap
    out.append(Box((rx, top, rw, card_h), "card"))
    cursor = top + 2 * p.gap
    for line, size, colour, bold in lines:
        out.append(Text((rx + 2 * p.gap, cursor, inner, int(size * 1.45)), line, size, colour, bold))
        cursor += int(size * 1.45)
    cursor = top + card_h + 2 * p.gap
    note = p.font(34)
    for line in wrap(t("pickup_no_code", lang), note, rw, False):
        out.append(Text((rx, cursor, rw, int(note * 1.45)), line, note, "fg"))
        cursor += int(note * 1.45)
    help_h = min(p.px(200), y + h - cursor - p.gap)
    if help_h >= p.px(90):  # a button too flat to hit is worse than none: the note still says whom to ask
        out.append(
            Button(
                (rx, y + h - help_h, rw, help_h),
                "help",
                t("help", lang),
                sub=t("help_sub", lang),
                style="help",
                size=p.font(48),
                enabled=s.link_ok,
            )
        )
    _nav(out, p, s, back=False)


def _picked_up(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    """The door that opened, big enough to read from two metres while walking to the locker."""
    lang = s.language
    if s.door is None:
        return
    x, y, w, h = p.body_above_nav()
    if p.portrait:
        door_box = (x, y, w, h * 11 // 20)
        text_rect = (x, y + door_box[3] + 2 * p.gap, w, h - door_box[3] - 2 * p.gap)
    else:
        side = min(h, w * 2 // 5)
        door_box = (x, y, side, h)
        text_rect = (x + side + 3 * p.gap, y, w - side - 3 * p.gap, h)
    bx, by, bw, bh = door_box
    out.append(Box(door_box, "go"))
    label_h = p.px(110)
    out.append(
        Text((bx, by + p.gap, bw, label_h), t("pickup_door_label", lang), p.px(64), "white", True, "center")
    )
    number_h = bh - label_h - 2 * p.gap
    out.append(
        Text(
            (bx, by + label_h + p.gap, bw, number_h),
            str(s.door),
            min(number_h, p.px(560)),
            "white",
            True,
            "center",
        )
    )
    tx, ty, tw, th = text_rect
    align = "center" if p.portrait else "left"
    # as large as two lines allow: the short Chinese sentence gets bigger type than the English
    head = p.font(80)
    head_lines = wrap(t("pickup_door", lang, door=s.door), head, tw, True)
    if len(head_lines) > 2:
        head = p.font(64)
        head_lines = wrap(t("pickup_door", lang, door=s.door), head, tw, True)
    note = p.font(44)
    note_lines = wrap(t("pickup_close", lang), note, tw, False)
    total = len(head_lines) * int(head * 1.4) + p.px(40) + len(note_lines) * int(note * 1.4)
    cursor = ty + max(0, (th - total) // 2)
    for line in head_lines:
        out.append(Text((tx, cursor, tw, int(head * 1.4)), line, head, "fg", True, align))
        cursor += int(head * 1.4)
    cursor += p.px(40)
    for line in note_lines:
        out.append(Text((tx, cursor, tw, int(note * 1.4)), line, note, "muted", align=align))
        cursor += int(note * 1.4)
    out.append(_done_button(p, lang))


def _scan(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    lang = s.language
    ticket = s.ticket
    if ticket is None:
        return
    x, y, w, h = p.body_above_nav()
    title_h = p.px(70)
    out.append(Text((x, y, w, title_h), t("scan_title", lang), p.font(36), "fg", True))
    top = y + title_h + p.gap
    cam_w = w * 3 // 5
    cam = (x, top, cam_w, y + h - top - p.px(90) - p.gap)
    out.append(Preview(cam, outline=True))
    guidance = f"guide_{s.scan_guidance}"
    good = s.scan_guidance in ("capturing", "captured", "remove_page")
    out.append(
        Text(
            (x, cam[1] + cam[3] + p.gap, cam_w, p.px(90)),
            t(guidance, lang) if guidance in TEXTS else s.scan_guidance,
            p.font(44),
            "green" if good else "accent",
            True,
            "center",
        )
    )
    rx = x + cam_w + p.gap
    rw = w - cam_w - p.gap
    out.append(Text((rx, top, rw, p.px(60)), t("scan_checklist", lang), p.font(30), "muted", True))
    try:
        materials = flow.catalogue.service(ticket.service).materials
    except KeyError:
        materials = ()
    list_top = top + p.px(70)
    count = max(1, len(materials))
    row_h = min(p.px(110), (y + h - list_top - p.px(120)) // count - p.gap // 2)
    for i, material in enumerate(materials):
        name = material.name_en if lang == "en" and material.name_en else material.name
        mark = t("key_material" if material.key else "nonkey_material", lang)
        ticked = i in s.scan_ticked
        out.append(
            Button(
                (rx, list_top + i * (row_h + p.gap // 2), rw, row_h),
                "tick",
                f"{'√' if ticked else '□'} {name} · {mark}",
                arg=i,
                style="tab",
                size=p.font(28),
                selected=ticked,
            )
        )
    out.append(
        Text(
            (rx, y + h - p.px(100), rw, p.px(90)),
            t("scan_pages", lang, n=s.scan_pages),
            p.font(40),
            "fg",
            True,
            "center",
        )
    )
    free = _nav(out, p, s, home=False)
    fx, fy, fw, fh = free
    bw = p.px(460)
    out.append(
        Button(
            (fx + fw - bw, fy, bw, fh),
            "send",
            t("scan_send", lang, n=s.scan_pages),
            style="primary",
            size=p.font(38),
            enabled=s.scan_pages > 0 and s.link_ok,
        )
    )


def _help(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    if s.pending:
        _busy("help_sending")(out, p, s, flow, wrap)
        return
    x, y, w, h = p.body_above_nav()
    out.append(
        Text((x, y + h // 3, w, p.px(120)), t("help_sent", s.language), p.font(56), "fg", True, "center")
    )
    _nav(out, p, s, back=False)


def _message(out: list[Widget], p: _Page, s: KioskState, flow: Flow, wrap: Wrap) -> None:
    x, y, w, h = p.body_above_nav()
    text = error_text(s.message or "", s.language)
    size = p.font(48)
    lines = wrap(text, size, w - 4 * p.gap, True)
    box_h = len(lines) * int(size * 1.5) + 4 * p.gap
    top = y + (h - box_h) // 3
    out.append(Box((x, top, w, box_h), "warn"))
    for i, line in enumerate(lines):
        out.append(
            Text(
                (x, top + 2 * p.gap + i * int(size * 1.5), w, int(size * 1.5)),
                line,
                size,
                "fg",
                True,
                "center",
            )
        )
    _nav(out, p, s)


_SCREENS: dict[Screen, Callable[[list[Widget], _Page, KioskState, Flow, Wrap], None]] = {
    Screen.HOME: _home,
    Screen.AREAS: _areas,
    Screen.SERVICES: _services,
    Screen.SEARCH: _search,
    Screen.SERVICE: _service,
    Screen.GUIDE: _guide,
    Screen.PHONE: _phone,
    Screen.ISSUING: _busy("issuing"),
    Screen.TICKET: _ticket,
    Screen.CHECKIN: _checkin,
    Screen.CHECKING_IN: _busy("checking_in"),
    Screen.HELP: _help,
    Screen.MESSAGE: _message,
    Screen.SCAN: _scan,
    Screen.UPLOADING: _busy("uploading"),
    Screen.PICKUP: _pickup,
    Screen.PICKING_UP: _busy("picking_up"),
    Screen.PICKED_UP: _picked_up,
}
