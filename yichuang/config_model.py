"""Typed, validated objects that a hall's TOML config is parsed into.

Every part of Yichuang receives these objects; none reads the TOML itself.
The loader (`yichuang.config`) fills them and reports every error with its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum


class Flow(StrEnum):
    """How a case of a service is handled at the window (see the Qingpu flow rules)."""

    FINISH_ON_SPOT = "finish_on_spot"  # 当场办结
    ACCEPT_ON_SPOT = "accept_on_spot"  # 当场受理
    RECEIVE_ONLY = "receive_only"  # 当场收件


class WindowKind(StrEnum):
    COMPREHENSIVE = "comprehensive"  # 综合窗口
    INSTANT = "instant"  # 即办窗口
    HELP = "help"  # 帮办代办
    COMPLAINT = "complaint"  # 办不成事
    ISSUING = "issuing"  # 出件窗口


@dataclass(frozen=True)
class OpeningRule:
    """One line of opening hours: the weekdays it covers (0 = Monday) and the times."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class OpeningHours:
    """`always` is True for a hall that never closes (24h self-service areas, tests)."""

    always: bool = False
    rules: tuple[OpeningRule, ...] = ()


@dataclass(frozen=True)
class QueuePolicy:
    """Queue discipline knobs of a hall (`[hall.queue]`)."""

    aging_minutes: int = 30  # no ticket waits longer than this behind later priority tickets
    max_recalls: int = 2  # a recall beyond this marks the ticket no_show
    appointment_early_minutes: int = 60  # check-in opens this long before the slot
    appointment_late_minutes: int = 30  # and closes this long after the slot starts
    stop_issuing_minutes: int = 0  # no new tickets this long before closing time
    checkin_max_failures: int = 5  # wrong codes per kiosk before it is locked out
    checkin_lockout_minutes: int = 10
    ewt_history: int = 20  # recent handling times per service used for the estimate


@dataclass(frozen=True)
class HallConfig:
    id: str
    name: str
    name_en: str
    timezone: str
    opening_hours: OpeningHours
    notice: str = ""
    notice_en: str = ""
    queue: QueuePolicy = field(default_factory=QueuePolicy)


@dataclass(frozen=True)
class BrokerConfig:
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None

    @property
    def host(self) -> str:
        rest = self.url.split("://", 1)[1]
        return rest.rsplit(":", 1)[0] if ":" in rest else rest

    @property
    def port(self) -> int:
        rest = self.url.split("://", 1)[1]
        return int(rest.rsplit(":", 1)[1]) if ":" in rest else 1883


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:////var/lib/yichuang/hall.db"


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # base of links printed on tickets; defaults to http://host:port


@dataclass(frozen=True)
class Material:
    """One entry of a service's materials list (办事指南)."""

    name: str
    name_en: str
    key: bool  # key materials must be present; non-key ones may be supplied later (容缺)
    copies: int = 1
    form: str = "original"  # original | copy | original_and_copy | electronic
    note: str = ""


@dataclass(frozen=True)
class ServiceConfig:
    id: str
    prefix: str
    name: str
    name_en: str
    flow: Flow
    minutes: float  # typical handling time at the window
    time_limit_days: int  # promised time limit (承诺时限), working days; 0 = on the spot
    legal_limit_days: int = 0
    area: str = ""  # kiosk grouping, e.g. 不动产 / 社保医保
    area_en: str = ""
    instant: bool = False  # may be served at instant windows (即办)
    fee: str = "不收费"
    fee_en: str = "Free"
    conditions: str = ""
    conditions_en: str = ""
    place: str = ""
    place_en: str = ""
    materials: tuple[Material, ...] = ()


@dataclass(frozen=True)
class WindowConfig:
    id: str
    label: str
    label_en: str
    kind: WindowKind
    services: tuple[str, ...]  # in priority order
    ratios: tuple[tuple[str, int], ...] = ()  # call ratios instead of strict priority, e.g. (("A",2),("B",1))


@dataclass(frozen=True)
class KioskConfig:
    id: str
    location: str = ""
    printer: str = ""  # printer URL: usb://vid:pid, serial:///dev/ttyUSB0, tcp://host:9100, file:///path
    camera: str = ""
    # The camera's scale at the desk, image pixels per millimetre of paper (A4 long side in
    # pixels / 297): what tells an A5 from an A4. 0: unknown (an ISO page is taken for an A4).
    camera_px_per_mm: float = 0.0
    locker: str = ""  # the [[locker]] this kiosk stands by: it offers pickup with the SMS code


@dataclass(frozen=True)
class DisplayConfig:
    """A hall display (`[[display]]`): a screen that shows the calls, and the voice that reads them."""

    id: str
    orientation: str = "landscape"  # landscape | portrait
    english: bool = True  # English beside Chinese on screen, and read after Mandarin
    zone: str = ""  # the part of the hall it stands in; a zone can be muted as a whole over MQTT
    windows: tuple[str, ...] = ()  # the windows it shows and announces; empty: every window
    voice: str = "espeak"  # espeak | clips | off
    clips_dir: str = "/var/lib/yichuang/voice-clips"  # recorded clips for voice = "clips"
    volume: int = 100  # percent
    chime: bool = True  # a chime before each announcement
    mute: tuple[OpeningRule, ...] = ()  # quiet times (days, from, to), e.g. the lunch break


@dataclass(frozen=True)
class LockerDoor:
    door: int
    size: str  # S | M | L


@dataclass(frozen=True)
class LockerConfig:
    id: str
    doors: tuple[LockerDoor, ...]
    location: str = ""


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    # caller | eval_pad | led_panel | gpio_button | gpio_led | buzzer | lock_board | modem | printer
    kind: str
    protocol: str = ""
    port: str = ""  # /dev/ttyUSB0 or socket://host:port
    address: int | None = None  # bus address on RS-485
    window: str | None = None
    bridge: str | None = None
    pins: tuple[tuple[str, int], ...] = ()  # GPIO role -> BCM pin
    locker: str | None = None  # the [[locker]] a lock_board drives


@dataclass(frozen=True)
class Config:
    hall: HallConfig
    broker: BrokerConfig
    database: DatabaseConfig
    http: HttpConfig
    services: tuple[ServiceConfig, ...]
    windows: tuple[WindowConfig, ...]
    kiosks: tuple[KioskConfig, ...] = ()
    displays: tuple[DisplayConfig, ...] = ()
    lockers: tuple[LockerConfig, ...] = ()
    devices: tuple[DeviceConfig, ...] = ()

    def service(self, service_id: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.id == service_id), None)

    def window(self, window_id: str) -> WindowConfig | None:
        return next((w for w in self.windows if w.id == window_id), None)
