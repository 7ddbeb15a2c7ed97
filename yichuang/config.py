"""Loading and validating a hall's TOML config (`hall.toml`) into `config_model` objects.

The file is parsed once; every problem in it is collected (not just the first) and
reported with the line a technician has to edit, e.g.
`hall.toml:17: service[2].prefix: must be one capital letter A-Z, got "AB"`.
Paths count array entries from 0: `service[2]` is the third `[[service]]`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import math
import re
import tomllib
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from yichuang.config_model import (
    BrokerConfig,
    Config,
    DatabaseConfig,
    DeviceConfig,
    DisplayConfig,
    Flow,
    HallConfig,
    HttpConfig,
    KioskConfig,
    LockerConfig,
    LockerDoor,
    Material,
    OpeningHours,
    OpeningRule,
    QueuePolicy,
    ServiceConfig,
    WindowConfig,
    WindowKind,
)
from yichuang.errors import YichuangError

__all__ = [
    "DEVICE_KINDS",
    "ConfigError",
    "ConfigIssue",
    "check_config",
    "load_config",
    "parse_config",
]

KeyPath = tuple[str | int, ...]

DEVICE_KINDS = frozenset(
    {"caller", "eval_pad", "led_panel", "gpio_button", "gpio_led", "buzzer", "lock_board", "modem", "printer"}
)
# Devices sharing an RS-485 bus: each needs a port and an address of its own on it.
_BUS_KINDS = frozenset({"caller", "eval_pad", "led_panel", "lock_board"})
_SERIAL_KINDS = _BUS_KINDS | {"modem"}
_GPIO_KINDS = frozenset({"gpio_button", "gpio_led", "buzzer"})
# These are meaningless without the window whose tickets they call, rate or show.
_WINDOW_BOUND_KINDS = frozenset({"caller", "eval_pad", "led_panel"})

MATERIAL_FORMS = ("original", "copy", "original_and_copy", "electronic")
LOCKER_SIZES = ("S", "M", "L")
ORIENTATIONS = ("landscape", "portrait")
VOICES = ("espeak", "clips", "off")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_GPIO_PIN = 27  # BCM numbering on a Raspberry Pi 40-pin header
MAX_BUS_ADDRESS = 255  # one address byte on the bus

_IDENT = re.compile(r"[a-z0-9_-]+")  # safe as one MQTT topic level
_PREFIX = re.compile(r"[A-Z]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\n#]+")  # numbers, booleans, dates: up to the next delimiter
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_TOML_ERROR_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$|\s*\(at end of document\)$")

_TOP_KEYS = (
    "hall",
    "broker",
    "database",
    "http",
    "service",
    "window",
    "kiosk",
    "display",
    "locker",
    "device",
)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where it is and what is wrong."""

    line: int | None  # 1-based line in the file; None when the problem has no place (a missing table)
    path: str  # e.g. `service[2].prefix`; "" for TOML syntax errors
    message: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file or 'config'}:{self.line}" if self.line else (self.file or "config")
        return ": ".join(part for part in (where, self.path, self.message) if part)


class ConfigError(YichuangError, ValueError):
    """A config that cannot be used; `issues` lists every problem found, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a hall config; raise `ConfigError` listing every problem."""
    config, issues = _load(Path(path))
    if config is None:
        raise ConfigError(issues)
    return config


def check_config(path: str | Path) -> list[ConfigIssue]:
    """Every problem in a hall config, in file order; an empty list means it loads."""
    return _load(Path(path))[1]


def parse_config(text: str, source: str = "hall.toml") -> Config:
    """Like `load_config`, for TOML text already in memory; `source` names it in messages."""
    config, issues = _parse(text, source)
    if config is None:
        raise ConfigError(issues)
    return config


def _load(path: Path) -> tuple[Config | None, list[ConfigIssue]]:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [ConfigIssue(None, "", f"cannot read the file: {exc.strerror or exc}", source)]
    try:
        # utf-8-sig: editors on Windows often save with a byte-order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [ConfigIssue(line, "", "the file is not UTF-8 text", source)]
    return _parse(text, source)


def _parse(text: str, source: str) -> tuple[Config | None, list[ConfigIssue]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [_syntax_issue(text, str(exc), source)]
    ctx = _Context(_Locator(text), source)
    config = _build(ctx, data)
    issues = sorted(ctx.issues, key=lambda i: (i.line is None, i.line or 0))
    return (config if not issues else None), issues


def _syntax_issue(text: str, message: str, source: str) -> ConfigIssue:
    match = _TOML_ERROR_AT.search(message)
    if match and match.group(1):
        line: int | None = int(match.group(1))
    else:
        # tomllib says "at end of document" when it only notices at the end: the last line with text.
        lines = text.rstrip().splitlines()
        line = len(lines) or None
    return ConfigIssue(line, "", f"TOML syntax: {_TOML_ERROR_AT.sub('', message)}", source)


def _format_path(path: KeyPath) -> str:
    """Render a key path as `service[2].materials[0].name`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += f".{key}" if out else key
    return out


# --- where things are written ------------------------------------------------------------


class _Locator:
    """Maps key paths to the line they are written on, by a lexical scan of the TOML text.

    tomllib keeps no positions, so this re-reads text that tomllib has already accepted:
    it knows table headers, arrays of tables (`[[service.materials]]`), dotted keys, and the
    elements and keys of inline arrays and tables, but converts no values.
    """

    def __init__(self, text: str) -> None:
        self._s = text
        self._pos = 0
        self._line = 1
        self._lines: dict[KeyPath, int] = {}
        self._aot_count: dict[KeyPath, int] = {}
        self._implicit: set[KeyPath] = set()
        # A surprise in the scan costs line numbers, never the validation itself.
        with contextlib.suppress(IndexError, ValueError, tomllib.TOMLDecodeError):
            self._scan()

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest written ancestor (a missing key's table)."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None

    def _record(self, path: KeyPath, line: int, *, explicit: bool = True) -> None:
        # A table first seen as part of a longer header ([hall.queue]) gives way to its own [hall].
        if path not in self._lines or (explicit and path in self._implicit):
            self._lines[path] = line
            if explicit:
                self._implicit.discard(path)
            else:
                self._implicit.add(path)

    def _advance(self, n: int) -> None:
        self._line += self._s.count("\n", self._pos, self._pos + n)
        self._pos += n

    def _at(self, token: str) -> bool:
        return self._s.startswith(token, self._pos)

    def _skip_blank(self, newlines: bool) -> None:
        s = self._s
        while self._pos < len(s):
            ch = s[self._pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self._advance(1)
            elif ch == "#":
                end = s.find("\n", self._pos)
                self._advance((len(s) if end < 0 else end) - self._pos)
            else:
                return

    def _scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._s):
                return
            if self._at("["):
                table = self._header()
            else:
                self._keyval(table)

    def _header(self) -> KeyPath:
        line = self._line
        array = self._at("[[")
        self._advance(2 if array else 1)
        self._skip_blank(newlines=False)
        keys = self._key()
        self._skip_blank(newlines=False)
        self._advance(2 if array else 1)
        path: KeyPath = ()
        for i, key in enumerate(keys):
            path += (key,)
            if array and i == len(keys) - 1:
                count = self._aot_count.get(path, 0)
                self._aot_count[path] = count + 1
                self._record(path, line, explicit=False)
                path += (count,)
            elif path in self._aot_count:
                path += (self._aot_count[path] - 1,)
            self._record(path, line, explicit=i == len(keys) - 1)
        return path

    def _keyval(self, table: KeyPath) -> None:
        line = self._line
        keys = self._key()
        for i in range(1, len(keys) + 1):
            self._record(table + tuple(keys[:i]), line, explicit=i == len(keys))
        self._skip_blank(newlines=False)
        self._advance(1)  # the '='
        self._skip_blank(newlines=False)
        self._value(table + tuple(keys))

    def _key(self) -> list[str]:
        keys = [self._simple_key()]
        self._skip_blank(newlines=False)
        while self._at("."):
            self._advance(1)
            self._skip_blank(newlines=False)
            keys.append(self._simple_key())
            self._skip_blank(newlines=False)
        return keys

    def _simple_key(self) -> str:
        if self._at('"'):
            # Let tomllib undo the escapes so the key matches the parsed dict's key.
            return str(tomllib.loads("k = " + self._basic_string())["k"])
        if self._at("'"):
            end = self._s.index("'", self._pos + 1)
            key = self._s[self._pos + 1 : end]
            self._advance(end + 1 - self._pos)
            return key
        match = _BARE_KEY.match(self._s, self._pos)
        if not match:
            raise ValueError("no key here")
        self._advance(match.end() - self._pos)
        return match.group()

    def _basic_string(self) -> str:
        start = self._pos
        self._advance(1)
        while not self._at('"'):
            self._advance(2 if self._at("\\") else 1)
        self._advance(1)
        return self._s[start : self._pos]

    def _multiline_string(self, quotes: str) -> None:
        self._advance(3)
        while not self._at(quotes):
            self._advance(2 if quotes == '"""' and self._at("\\") else 1)
        self._advance(3)
        for _ in range(2):  # a string may end in one or two quote characters of its own
            if self._at(quotes[0]):
                self._advance(1)

    def _value(self, path: KeyPath) -> None:
        if self._at('"""') or self._at("'''"):
            self._multiline_string(self._s[self._pos : self._pos + 3])
        elif self._at('"'):
            self._basic_string()
        elif self._at("'"):
            self._advance(self._s.index("'", self._pos + 1) + 1 - self._pos)
        elif self._at("["):
            self._array(path)
        elif self._at("{"):
            self._inline_table(path)
        else:
            match = _SCALAR.match(self._s, self._pos)
            self._advance(match.end() - self._pos if match else 1)

    def _array(self, path: KeyPath) -> None:
        self._advance(1)
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._at("]"):
                self._advance(1)
                return
            self._record((*path, index), self._line)
            self._value((*path, index))
            self._skip_blank(newlines=True)
            if self._at(","):
                self._advance(1)
            index += 1

    def _inline_table(self, path: KeyPath) -> None:
        self._advance(1)
        while True:
            self._skip_blank(newlines=True)
            if self._at("}"):
                self._advance(1)
                return
            self._keyval(path)
            self._skip_blank(newlines=True)
            if self._at(","):
                self._advance(1)


# --- reading values ------------------------------------------------------------------------


class _Required:
    """Marks a key that has no default."""


_REQUIRED = _Required()


@dataclass
class _Context:
    locator: _Locator
    file: str
    issues: list[ConfigIssue] = dataclasses.field(default_factory=list)

    def report(self, path: KeyPath, message: str) -> None:
        self.issues.append(ConfigIssue(self.locator.line(path), _format_path(path), message, self.file))

    def where(self, path: KeyPath) -> str:
        line = self.locator.line(path)
        return _format_path(path) + (f", line {line}" if line else "")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"date/time {value.isoformat()}"
    return type(value).__name__


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _defaults(cls: type) -> dict[str, Any]:
    """A model dataclass's defaults, so the loader can never drift from config_model."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


class _Table:
    """One TOML table being read: reports unknown keys, and remembers which keys were bad."""

    def __init__(self, ctx: _Context, data: dict[str, Any], path: KeyPath, keys: Iterable[str]) -> None:
        self.ctx = ctx
        self.data = data
        self.path = path
        self.bad: set[str] = set()
        self._first_issue = len(ctx.issues)
        known = tuple(keys)
        for key in data:
            if key not in known:
                self.report(key, f"unknown key '{key}'{_did_you_mean(key, known)}")

    @property
    def ok(self) -> bool:
        """No problem was found in this table (or anything read through it) so far."""
        return len(self.ctx.issues) == self._first_issue

    def report(self, key: str, message: str, *sub: str | int) -> None:
        self.bad.add(key)
        self.ctx.report((*self.path, key, *sub), message)

    def check(self, key: str, good: bool, message: str) -> None:
        """Report `message` on `key` unless it is good, absent, or already reported."""
        if not good and key in self.data and key not in self.bad:
            self.report(key, message)

    def get(self, key: str, types: tuple[type, ...], type_name: str, default: Any = _REQUIRED) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                self.report(key, f"missing required key '{key}'")
                return None
            return default
        value = self.data[key]
        # TOML booleans are Python ints; `copies = true` must not pass as 1.
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
            self.report(key, f"must be {type_name}, got {_describe(value)}")
            return None
        return value

    def string(self, key: str, default: str | _Required = _REQUIRED, *, nonempty: bool = False) -> str:
        value = self.get(key, (str,), "a string", default)
        value = value if isinstance(value, str) else ""
        if nonempty:
            self.check(key, bool(value.strip()), "must not be empty")
        return value

    def ident(self, key: str, default: str | _Required | None = _REQUIRED) -> str | None:
        value = self.get(key, (str,), "a string", default)
        if isinstance(value, str):
            self.check(
                key,
                bool(_IDENT.fullmatch(value)),
                f"must be lowercase letters, digits, '_' or '-', got {_quote(value)}",
            )
        return value if isinstance(value, str) or value is None else None

    def integer(
        self,
        key: str,
        default: int | _Required | None = _REQUIRED,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.get(key, (int,), "an integer", default)
        if isinstance(value, int) and key in self.data:
            self.check(
                key,
                _in_range(value, minimum, maximum),
                f"must be {_range_text(minimum, maximum)}, got {value}",
            )
        return value if isinstance(value, int) or value is None else None

    def number(
        self,
        key: str,
        default: float | _Required | None = _REQUIRED,
        *,
        above: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        """A TOML integer or float as a float (not a boolean or string), more than `above`
        and at most `maximum` when given; inf and nan are refused."""
        value = self.get(key, (int, float), "a number", default)
        if isinstance(value, int | float) and key in self.data:
            self.check(key, math.isfinite(value), f"must be a finite number, got {value}")
            if above is not None:
                self.check(key, value > above, f"must be more than {above:g}, got {value}")
            if maximum is not None:
                self.check(key, value <= maximum, f"must be at most {maximum:g}, got {value}")
        return float(value) if isinstance(value, int | float) else None

    def boolean(self, key: str, default: bool | _Required = _REQUIRED) -> bool:
        value = self.get(key, (bool,), "true or false", default)
        return bool(value)

    def choice(self, key: str, choices: Sequence[str], default: str | _Required = _REQUIRED) -> str:
        value = self.string(key, default)
        hint = _did_you_mean(value, choices)
        self.check(key, value in choices, f"must be one of {', '.join(choices)}, got {_quote(value)}{hint}")
        return value


def _in_range(value: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}"
    return f"at least {minimum}" if minimum is not None else f"at most {maximum}"


def _sub_table(parent: _Table, key: str, keys: Iterable[str], *, required: bool = False) -> _Table | None:
    """The table under `key` ([hall.queue], a broker table …), None if absent or not a table."""
    value = parent.get(key, (dict,), "a table", _REQUIRED if required else None)
    if not isinstance(value, dict):
        return None
    return _Table(parent.ctx, value, (*parent.path, key), keys)


def _table_array(top: _Table, name: str) -> list[dict[str, Any]]:
    """The entries of `[[name]]`; reports a single `[name]` table or any non-table entry."""
    value = top.data.get(name)
    if value is None:
        return []
    if isinstance(value, dict):
        top.report(name, f"must be an array of tables: write [[{name}]], not [{name}]")
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        top.report(name, f"must be an array of tables ([[{name}]]), got {_describe(value)}")
        return []
    return value


def _check_unique(ctx: _Context, what: str, items: Iterable[tuple[KeyPath, Any]]) -> None:
    seen: dict[Any, KeyPath] = {}
    for path, value in items:
        if value in seen:
            shown = _quote(value) if isinstance(value, str) else str(value)
            ctx.report(path, f"duplicate {what} {shown} (first at {ctx.where(seen[value])})")
        else:
            seen[value] = path


def _check_device_ids(ctx: _Context, ids: list[tuple[KeyPath, Any]]) -> None:
    # Kiosks, displays and devices all publish under yc/{hall}/device/{id}/…: one namespace,
    # in which the queue server already is `server`.
    for path, value in ids:
        if value == "server":
            ctx.report(path, 'the id "server" is the queue server\'s own; choose another')
    _check_unique(ctx, "device id", ids)


def _raw_values(
    entries: list[dict[str, Any]], table: str, key: str, types: tuple[type, ...] = (str,)
) -> list[tuple[KeyPath, Any]]:
    return [
        ((table, i, key), entry[key])
        for i, entry in enumerate(entries)
        if isinstance(entry.get(key), types) and not isinstance(entry.get(key), bool)
    ]


# --- sections ------------------------------------------------------------------------------


def _build(ctx: _Context, data: dict[str, Any]) -> Config | None:
    top = _Table(ctx, data, (), _TOP_KEYS)
    hall = _hall(top)
    broker = _broker(top)
    database = _database(top)
    http = _http(top)

    raw_services = _table_array(top, "service")
    raw_windows = _table_array(top, "window")
    if not raw_services and "service" not in top.bad:
        top.report("service", "a hall needs at least one [[service]]")
    if not raw_windows and "window" not in top.bad:
        top.report("window", "a hall needs at least one [[window]]")
    services = [_service(ctx, i, raw) for i, raw in enumerate(raw_services)]
    _check_unique(ctx, "service id", _raw_values(raw_services, "service", "id"))
    _check_unique(ctx, "prefix", _raw_values(raw_services, "service", "prefix"))

    windows = [_window(ctx, i, raw, raw_services) for i, raw in enumerate(raw_windows)]
    _check_unique(ctx, "window id", _raw_values(raw_windows, "window", "id"))
    _check_unique(ctx, "window label", _raw_values(raw_windows, "window", "label"))

    raw_kiosks = _table_array(top, "kiosk")
    raw_displays = _table_array(top, "display")
    raw_lockers = _table_array(top, "locker")
    raw_devices = _table_array(top, "device")
    locker_ids = {lk["id"] for lk in raw_lockers if isinstance(lk.get("id"), str)}
    kiosks = [_kiosk(ctx, i, raw, locker_ids) for i, raw in enumerate(raw_kiosks)]
    window_ids = {w["id"] for w in raw_windows if isinstance(w.get("id"), str)}
    displays = [_display(ctx, i, raw, window_ids) for i, raw in enumerate(raw_displays)]
    lockers = [_locker(ctx, i, raw) for i, raw in enumerate(raw_lockers)]
    devices = [_device(ctx, i, raw, window_ids, locker_ids) for i, raw in enumerate(raw_devices)]
    _check_device_ids(
        ctx,
        _raw_values(raw_kiosks, "kiosk", "id")
        + _raw_values(raw_displays, "display", "id")
        + _raw_values(raw_devices, "device", "id"),
    )
    _check_unique(ctx, "locker id", _raw_values(raw_lockers, "locker", "id"))
    _check_unique(ctx, "bus address", _bus_addresses(raw_devices))

    if ctx.issues or hall is None:
        return None
    return Config(
        hall=hall,
        broker=broker or BrokerConfig(),
        database=database or DatabaseConfig(),
        http=http or HttpConfig(),
        services=tuple(s for s in services if s),
        windows=tuple(w for w in windows if w),
        kiosks=tuple(k for k in kiosks if k),
        displays=tuple(d for d in displays if d),
        lockers=tuple(lk for lk in lockers if lk),
        devices=tuple(d for d in devices if d),
    )


def _hall(top: _Table) -> HallConfig | None:
    if "hall" not in top.data:
        top.report("hall", "missing required table [hall]")
        return None
    t = _sub_table(
        top,
        "hall",
        ("id", "name", "name_en", "timezone", "opening_hours", "notice", "notice_en", "queue"),
        required=True,
    )
    if t is None:
        return None
    defaults = _defaults(HallConfig)
    hall_id = t.ident("id")
    name = t.string("name", nonempty=True)
    name_en = t.string("name_en", nonempty=True)
    timezone = t.string("timezone")
    t.check(
        "timezone",
        _is_zone(timezone),
        f"unknown time zone {_quote(timezone)}{_did_you_mean(timezone, _zone_names(timezone))}",
    )
    hours = _opening_hours(t)
    notice = t.string("notice", defaults["notice"])
    notice_en = t.string("notice_en", defaults["notice_en"])
    queue = _queue(t)
    if not t.ok or hall_id is None or hours is None or queue is None:
        return None
    return HallConfig(hall_id, name, name_en, timezone, hours, notice, notice_en, queue)


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _zone_names(name: str) -> set[str]:
    # Walking the zone database is slow-ish; only a bad name pays for the suggestion.
    return set() if _is_zone(name) else zoneinfo.available_timezones()


def _queue(hall: _Table) -> QueuePolicy | None:
    names = [f.name for f in dataclasses.fields(QueuePolicy)]
    t = _sub_table(hall, "queue", names)
    if t is None:
        return None if "queue" in hall.bad else QueuePolicy()
    defaults = _defaults(QueuePolicy)
    # A zero here would age every ticket at once, lock kiosks on the first typo, or estimate from nothing.
    at_least_one = {"aging_minutes", "checkin_max_failures", "ewt_history"}
    values: dict[str, int] = {}
    for name in names:
        value = t.integer(name, defaults[name], minimum=1 if name in at_least_one else 0)
        if value is not None:
            values[name] = value
    return QueuePolicy(**values) if t.ok else None


def _opening_hours(t: _Table) -> OpeningHours | None:
    value = t.get("opening_hours", (str, list), 'the string "always" or an array')
    if value is None:
        return None
    shape = 'must be "always" or a list of [days, "HH:MM", "HH:MM"]'
    if isinstance(value, str):
        t.check("opening_hours", value == "always", f"{shape}, got {_quote(value)}")
        return OpeningHours(always=True) if value == "always" else None
    if not value:
        t.report(
            "opening_hours",
            f'{shape}; an empty list would never open (write "always" for a hall that never closes)',
        )
        return None
    rules = [_opening_rule(t, i, item) for i, item in enumerate(value)]
    if any(rule is None for rule in rules):
        return None
    _check_overlaps(t, [r for r in rules if r])
    return OpeningHours(always=False, rules=tuple(r for r in rules if r))


def _opening_rule(t: _Table, i: int, item: Any, key: str = "opening_hours") -> OpeningRule | None:
    # `key`: the same [days, from, to] shape serves a display's quiet times (`mute`) too
    if not (isinstance(item, list) and len(item) == 3):
        t.report(key, f'must be [days, "HH:MM", "HH:MM"], got {_describe(item)}', i)
        return None
    days = _weekdays(t, i, item[0], key)
    start = _clock(t, i, 1, item[1], key)
    end = _clock(t, i, 2, item[2], key)
    if start is not None and end is not None and start >= end:
        what = ("opening time", "closing time") if key == "opening_hours" else ("start", "end")
        t.report(key, f"{what[0]} {start:%H:%M} must be before {what[1]} {end:%H:%M}", i)
        return None
    if days is None or start is None or end is None:
        return None
    return OpeningRule(days, start, end)


def _weekdays(t: _Table, i: int, value: Any, key: str = "opening_hours") -> frozenset[int] | None:
    usage = "use mon tue wed thu fri sat sun, ranges like mon-fri, lists like mon,wed,fri"
    if not isinstance(value, str):
        t.report(key, f'days must be a string such as "mon-fri", got {_describe(value)}', i, 0)
        return None
    days: set[int] = set()
    for part in value.lower().split(","):
        ends = [p.strip() for p in part.split("-")]
        if len(ends) > 2 or any(end not in WEEKDAYS for end in ends):
            t.report(key, f"unknown days {_quote(part.strip())} in {_quote(value)} ({usage})", i, 0)
            return None
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if first > last:
            t.report(
                key,
                f'day range {_quote(part.strip())} runs backwards; split it, e.g. "fri-sun,mon"',
                i,
                0,
            )
            return None
        days.update(range(first, last + 1))
    return frozenset(days)


def _clock(t: _Table, i: int, j: int, value: Any, key: str = "opening_hours") -> time | None:
    if isinstance(value, time) and value.second == 0 and value.tzinfo is None:
        return value  # a TOML local time such as 09:00:00 is as good as "09:00"
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return time(int(match.group(1)), int(match.group(2)))
    t.report(key, f'must be a time "HH:MM" (24-hour, 00:00-23:59), got {_describe(value)}', i, j)
    return None


def _check_overlaps(t: _Table, rules: list[OpeningRule]) -> None:
    for j, later in enumerate(rules):
        for i, earlier in enumerate(rules[:j]):
            shared = earlier.days & later.days
            if shared and later.start < earlier.end and earlier.start < later.end:
                day = WEEKDAYS[min(shared)]
                t.report("opening_hours", f"overlaps opening_hours[{i}] on {day}", j)
                return


def _broker(top: _Table) -> BrokerConfig | None:
    t = _sub_table(top, "broker", ("url", "username", "password"))
    if t is None:
        return None
    defaults = _defaults(BrokerConfig)
    url = t.string("url", defaults["url"])
    t.check(
        "url", _is_broker_url(url), f'must be "mqtt://host:port" or "mqtts://host:port", got {_quote(url)}'
    )
    username = t.get("username", (str,), "a string", defaults["username"])
    password = t.get("password", (str,), "a string", defaults["password"])
    t.check("password", username is not None, "a password needs a username")
    return BrokerConfig(url, username, password) if t.ok else None


def _is_broker_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    # Credentials belong in username/password, and BrokerConfig.host/port split on the last ':'.
    plain = not (parts.path or parts.query or parts.fragment or parts.username)
    return (
        parts.scheme in ("mqtt", "mqtts") and bool(parts.hostname) and port is not None and port > 0 and plain
    )


def _database(top: _Table) -> DatabaseConfig | None:
    t = _sub_table(top, "database", ("url",))
    if t is None:
        return None
    url = t.string("url", _defaults(DatabaseConfig)["url"])
    schemes = ("sqlite:///", "postgresql://", "postgresql+psycopg://")
    good = any(url.startswith(s) and len(url) > len(s) for s in schemes)
    t.check(
        "url",
        good,
        f'must start with "sqlite:///", "postgresql://" or "postgresql+psycopg://", got {_quote(url)}',
    )
    return DatabaseConfig(url) if t.ok else None


def _http(top: _Table) -> HttpConfig | None:
    t = _sub_table(top, "http", ("host", "port", "public_url"))
    if t is None:
        return None
    defaults = _defaults(HttpConfig)
    host = t.string("host", defaults["host"], nonempty=True)
    port = t.integer("port", defaults["port"], minimum=1, maximum=65535)
    public_url = t.string("public_url", defaults["public_url"])
    good = public_url == "" or public_url.startswith(("http://", "https://"))
    t.check("public_url", good, f'must start with "http://" or "https://", got {_quote(public_url)}')
    return HttpConfig(host, port, public_url) if t.ok and port is not None else None


_SERVICE_KEYS = tuple(f.name for f in dataclasses.fields(ServiceConfig))
_MATERIAL_KEYS = tuple(f.name for f in dataclasses.fields(Material))


def _service(ctx: _Context, i: int, raw: dict[str, Any]) -> ServiceConfig | None:
    t = _Table(ctx, raw, ("service", i), _SERVICE_KEYS)
    d = _defaults(ServiceConfig)
    service_id = t.ident("id")
    prefix = t.string("prefix")
    t.check(
        "prefix", bool(_PREFIX.fullmatch(prefix)), f"must be one capital letter A-Z, got {_quote(prefix)}"
    )
    name = t.string("name", nonempty=True)
    name_en = t.string("name_en", nonempty=True)
    flow = t.choice("flow", [f.value for f in Flow])
    minutes = t.number("minutes", above=0)
    time_limit = t.integer("time_limit_days", minimum=0)
    legal_limit = t.integer("legal_limit_days", d["legal_limit_days"], minimum=0)
    if time_limit is not None and legal_limit:
        # The promised limit (承诺时限) is a promise to beat the legal one (法定时限), never to exceed it.
        t.check(
            "time_limit_days",
            time_limit <= legal_limit,
            f"promised {time_limit} days exceeds the legal limit of {legal_limit} days",
        )
    texts = {
        key: t.string(key, d[key])
        for key in ("area", "area_en", "fee", "fee_en", "conditions", "conditions_en", "place", "place_en")
    }
    instant = t.boolean("instant", d["instant"])
    materials = _materials(t)
    if not t.ok or service_id is None or minutes is None or time_limit is None or legal_limit is None:
        return None
    return ServiceConfig(
        id=service_id,
        prefix=prefix,
        name=name,
        name_en=name_en,
        flow=Flow(flow),
        minutes=minutes,
        time_limit_days=time_limit,
        legal_limit_days=legal_limit,
        instant=instant,
        materials=materials,
        **texts,
    )


def _materials(service: _Table) -> tuple[Material, ...]:
    value = service.get("materials", (list,), "an array of tables ([[service.materials]])", [])
    if not isinstance(value, list):
        return ()
    out = []
    names: list[tuple[KeyPath, Any]] = []
    for j, raw in enumerate(value):
        if not isinstance(raw, dict):
            service.report(
                "materials", f"must be a table with name, name_en and key, got {_describe(raw)}", j
            )
            continue
        material = _material(service.ctx, (*service.path, "materials", j), raw)
        if isinstance(raw.get("name"), str):
            names.append(((*service.path, "materials", j, "name"), raw["name"]))
        if material:
            out.append(material)
    _check_unique(service.ctx, "material", names)
    return tuple(out)


def _material(ctx: _Context, path: KeyPath, raw: dict[str, Any]) -> Material | None:
    t = _Table(ctx, raw, path, _MATERIAL_KEYS)
    d = _defaults(Material)
    name = t.string("name", nonempty=True)
    name_en = t.string("name_en", nonempty=True)
    key = t.boolean("key")
    copies = t.integer("copies", d["copies"], minimum=1)
    form = t.choice("form", MATERIAL_FORMS, d["form"])
    note = t.string("note", d["note"])
    return Material(name, name_en, key, copies, form, note) if t.ok and copies is not None else None


def _window(
    ctx: _Context, i: int, raw: dict[str, Any], raw_services: list[dict[str, Any]]
) -> WindowConfig | None:
    t = _Table(ctx, raw, ("window", i), ("id", "label", "label_en", "kind", "services", "ratios"))
    window_id = t.ident("id")
    label = t.string("label", nonempty=True)
    label_en = t.string("label_en", nonempty=True)
    kind = t.choice("kind", [k.value for k in WindowKind])
    services = _window_services(t, kind, {s["id"]: s for s in raw_services if isinstance(s.get("id"), str)})
    ratios = _ratios(t, services, raw_services)
    if not t.ok or window_id is None:
        return None
    return WindowConfig(window_id, label, label_en, WindowKind(kind), services, ratios)


def _window_services(t: _Table, kind: str, known: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    value = t.get("services", (list,), "an array of service ids")
    if not isinstance(value, list):
        return ()
    if not value:
        t.report("services", "must list at least one service, in priority order")
    seen: set[str] = set()
    for k, service in enumerate(value):
        if not isinstance(service, str):
            t.report("services", f"must be a service id, got {_describe(service)}", k)
        elif service not in known:
            t.report("services", f"unknown service {_quote(service)}{_did_you_mean(service, known)}", k)
        elif service in seen:
            t.report("services", f"service {_quote(service)} is listed twice", k)
        elif kind == WindowKind.INSTANT and known[service].get("instant") is not True:
            t.report(
                "services",
                f"an instant window serves only services with instant = true; {_quote(service)} is not",
                k,
            )
        if isinstance(service, str):
            seen.add(service)
    return tuple(s for s in value if isinstance(s, str))


def _ratios(
    t: _Table, services: tuple[str, ...], raw_services: list[dict[str, Any]]
) -> tuple[tuple[str, int], ...]:
    value = t.get("ratios", (dict,), "a table such as { realestate = 2, mortgage = 1 }", {})
    if not isinstance(value, dict) or not value:
        return ()
    by_prefix = {s.get("prefix"): s.get("id") for s in raw_services}
    for service, ratio in value.items():
        if service not in services:
            hint = (
                f"; ratios are keyed by service id: did you mean {_quote(str(by_prefix[service]))}?"
                if service in by_prefix
                else ""
            )
            t.report("ratios", f"{_quote(service)} is not a service this window serves{hint}", service)
        elif isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
            t.report("ratios", f"must be a positive integer, got {_describe(ratio)}", service)
    known = {s.get("id") for s in raw_services}
    missing = [s for s in services if s not in value and s in known]
    if missing:
        # Strict priority and ratios cannot be mixed at one window: the caller would not know which applies.
        t.report("ratios", f"needs a ratio for every service the window serves; missing {', '.join(missing)}")
    return tuple((s, value[s]) for s in services if s in value)


_PRINTER_SCHEMES = ("usb", "serial", "tcp", "file")
# 100 px/mm is 2540 dpi at the desk: 30 000 px across an A4, far beyond any document camera.
_MAX_CAMERA_PX_PER_MM = 100.0
_CAMERA_URL = re.compile(r"/dev/video\d+|/dev/v4l/by-(?:id|path)/\S+|v4l2:\d+|sim:(?:\?\S*)?")


def _kiosk(ctx: _Context, i: int, raw: dict[str, Any], lockers: set[str]) -> KioskConfig | None:
    keys = tuple(f.name for f in dataclasses.fields(KioskConfig))
    t = _Table(ctx, raw, ("kiosk", i), keys)
    d = _defaults(KioskConfig)
    kiosk_id = t.ident("id")
    location = t.string("location", d["location"])
    printer = t.string("printer", d["printer"])
    t.check(
        "printer",
        printer == "" or ("://" in printer and printer.split("://", 1)[0].lower() in _PRINTER_SCHEMES),
        "must be a URL usb://VID:PID, serial:///dev/ttyUSB0, tcp://host:9100 or file:///path, "
        f"got {_quote(printer)}",
    )
    camera = t.string("camera", d["camera"])
    t.check(
        "camera",
        camera == "" or bool(_CAMERA_URL.fullmatch(camera)),
        f"must be /dev/videoN, /dev/v4l/by-id/…, v4l2:N or sim:[?…], got {_quote(camera)}",
    )
    # The camera's scale at the desk (image pixels per millimetre of paper): what tells an A5
    # from an A4 (same aspect). Absent: unknown, and an ISO page is taken for an A4.
    px_per_mm = t.number("camera_px_per_mm", d["camera_px_per_mm"], above=0, maximum=_MAX_CAMERA_PX_PER_MM)
    # A kiosk offering pickup at a locker that does not exist would take codes it can never
    # open a door for: caught here, not by the first citizen.
    locker = t.string("locker", d["locker"])
    t.check(
        "locker",
        locker == "" or locker in lockers,
        f"unknown locker {_quote(locker)}{_did_you_mean(locker, lockers)}"
        + ("" if lockers else " (the config has no [[locker]])"),
    )
    if not t.ok or not kiosk_id or px_per_mm is None:
        return None
    return KioskConfig(kiosk_id, location, printer, camera, camera_px_per_mm=px_per_mm, locker=locker)


def _display(ctx: _Context, i: int, raw: dict[str, Any], windows: set[str]) -> DisplayConfig | None:
    keys = tuple(f.name for f in dataclasses.fields(DisplayConfig))
    t = _Table(ctx, raw, ("display", i), keys)
    d = _defaults(DisplayConfig)
    display_id = t.ident("id")
    orientation = t.choice("orientation", ORIENTATIONS, d["orientation"])
    english = t.boolean("english", d["english"])
    zone = t.string("zone", d["zone"])
    t.check(
        "zone",
        zone == "" or bool(_IDENT.fullmatch(zone)),
        f"must be lowercase letters, digits, '_' or '-', got {_quote(zone)}",
    )
    shown = _display_windows(t, windows)
    voice = t.choice("voice", VOICES, d["voice"])
    clips_dir = t.string("clips_dir", d["clips_dir"], nonempty=True)
    volume = t.integer("volume", d["volume"], minimum=0, maximum=100)
    chime = t.boolean("chime", d["chime"])
    mute = _mute_times(t)
    if not t.ok or display_id is None or volume is None or mute is None:
        return None
    return DisplayConfig(display_id, orientation, english, zone, shown, voice, clips_dir, volume, chime, mute)


def _display_windows(t: _Table, windows: set[str]) -> tuple[str, ...]:
    value = t.get("windows", (list,), 'an array of window ids such as ["w01", "w02"]', [])
    if not isinstance(value, list):
        return ()
    for j, item in enumerate(value):
        if not isinstance(item, str):
            t.report("windows", f"must be a window id, got {_describe(item)}", j)
        elif item not in windows:
            t.report("windows", f"unknown window {_quote(item)}{_did_you_mean(item, windows)}", j)
    return tuple(item for item in value if isinstance(item, str))


def _mute_times(t: _Table) -> tuple[OpeningRule, ...] | None:
    """`mute = [["mon-fri", "12:00", "13:30"]]`: read like opening hours, and as strictly."""
    value = t.get("mute", (list,), 'an array such as [["mon-fri", "12:00", "13:30"]]', [])
    if not isinstance(value, list):
        return None
    rules = [_opening_rule(t, j, item, key="mute") for j, item in enumerate(value)]
    if any(rule is None for rule in rules):
        return None
    return tuple(r for r in rules if r)


def _locker(ctx: _Context, i: int, raw: dict[str, Any]) -> LockerConfig | None:
    t = _Table(ctx, raw, ("locker", i), ("id", "location", "doors"))
    locker_id = t.ident("id")
    location = t.string("location", _defaults(LockerConfig)["location"])
    value = t.get("doors", (list,), 'an array of { door = 1, size = "S" } tables')
    doors: list[LockerDoor] = []
    numbers: list[tuple[KeyPath, Any]] = []
    if isinstance(value, list) and not value:
        t.report("doors", "a locker needs at least one door")
    for j, raw_door in enumerate(value if isinstance(value, list) else []):
        if not isinstance(raw_door, dict):
            t.report(
                "doors", f'must be a table such as {{ door = 1, size = "S" }}, got {_describe(raw_door)}', j
            )
            continue
        door_table = _Table(ctx, raw_door, (*t.path, "doors", j), ("door", "size"))
        number = door_table.integer("door", minimum=1)
        size = door_table.choice("size", LOCKER_SIZES)
        if isinstance(raw_door.get("door"), int):
            numbers.append(((*t.path, "doors", j, "door"), raw_door["door"]))
        if door_table.ok and number is not None:
            doors.append(LockerDoor(number, size))
    _check_unique(ctx, "door", numbers)
    return LockerConfig(locker_id, tuple(doors), location) if t.ok and locker_id else None


def _device(
    ctx: _Context, i: int, raw: dict[str, Any], windows: set[str], lockers: set[str]
) -> DeviceConfig | None:
    keys = tuple(f.name for f in dataclasses.fields(DeviceConfig))
    t = _Table(ctx, raw, ("device", i), keys)
    d = _defaults(DeviceConfig)
    device_id = t.ident("id")
    kind = t.choice("kind", sorted(DEVICE_KINDS))
    protocol = t.string("protocol", d["protocol"])
    port = t.string("port", d["port"])
    address = t.integer("address", d["address"], minimum=0, maximum=MAX_BUS_ADDRESS)
    window = t.ident("window", d["window"])
    t.check(
        "window",
        window in windows,
        f"unknown window {_quote(str(window))}{_did_you_mean(str(window), windows)}",
    )
    bridge = t.ident("bridge", d["bridge"])
    locker = t.ident("locker", d["locker"])
    t.check("locker", locker in lockers, f"unknown locker {_quote(str(locker))}")
    pins = _pins(t)
    _check_device_needs(t, kind, port, address, window, pins)
    if not t.ok or device_id is None:
        return None
    return DeviceConfig(device_id, kind, protocol, port, address, window, bridge, pins, locker)


def _check_device_needs(
    t: _Table,
    kind: str,
    port: str,
    address: int | None,
    window: str | None,
    pins: tuple[tuple[str, int], ...],
) -> None:
    if "kind" in t.bad:
        return
    if kind in _SERIAL_KINDS and not port:
        t.report(
            "port",
            f'missing required key \'port\': a {kind} is on a serial port ("/dev/ttyUSB0" or "socket://host:port")',
        )
    if kind in _BUS_KINDS and address is None and "address" not in t.bad:
        t.report("address", f"missing required key 'address': a {kind} needs its bus address")
    if kind in _WINDOW_BOUND_KINDS and window is None:
        t.report("window", f"missing required key 'window': a {kind} belongs to a window")
    if kind in _GPIO_KINDS and not pins and "pins" not in t.bad:
        t.report("pins", f"missing required key 'pins': a {kind} needs its GPIO pins, e.g. {{ button = 17 }}")


def _pins(t: _Table) -> tuple[tuple[str, int], ...]:
    value = t.get("pins", (dict,), "a table such as { button = 17, led = 27 }", {})
    if not isinstance(value, dict):
        return ()
    for role, pin in value.items():
        if isinstance(pin, bool) or not isinstance(pin, int) or not 0 <= pin <= MAX_GPIO_PIN:
            t.report("pins", f"must be a BCM GPIO number 0-{MAX_GPIO_PIN}, got {_describe(pin)}", role)
    pins = [(role, pin) for role, pin in value.items() if isinstance(pin, int)]
    _check_unique(t.ctx, "GPIO pin", [((*t.path, "pins", role), pin) for role, pin in pins])
    return tuple(pins)


def _bus_addresses(raw_devices: list[dict[str, Any]]) -> list[tuple[KeyPath, Any]]:
    """(port, address) of each addressed device: two devices on one bus must not share an address."""
    out: list[tuple[KeyPath, Any]] = []
    for i, raw in enumerate(raw_devices):
        port, address = raw.get("port"), raw.get("address")
        if isinstance(port, str) and port and isinstance(address, int) and not isinstance(address, bool):
            out.append((("device", i, "address"), f"{address} on {port}"))
    return out
