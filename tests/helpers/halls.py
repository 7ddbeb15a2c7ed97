"""Small, explicit halls for tests: every rule can be read off the config in the test."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from yichuang.config_model import (
    BrokerConfig,
    Config,
    DatabaseConfig,
    Flow,
    HallConfig,
    HttpConfig,
    Material,
    OpeningHours,
    QueuePolicy,
    ServiceConfig,
    WindowConfig,
    WindowKind,
)

TZ = ZoneInfo("Asia/Shanghai")


def service(
    sid: str,
    prefix: str,
    name: str,
    flow: Flow = Flow.FINISH_ON_SPOT,
    minutes: float = 10,
    instant: bool = False,
) -> ServiceConfig:
    return ServiceConfig(
        id=sid,
        prefix=prefix,
        name=name,
        name_en=sid,
        flow=flow,
        minutes=minutes,
        time_limit_days=0,
        instant=instant,
        materials=(
            Material("身份证", "ID card", key=True),
            Material("户口簿", "Household register", key=False),
        ),
    )


def window(
    wid: str,
    services: tuple[str, ...],
    kind: WindowKind = WindowKind.COMPREHENSIVE,
    ratios: tuple[tuple[str, int], ...] = (),
) -> WindowConfig:
    number = int(wid[1:])
    return WindowConfig(
        id=wid,
        label=f"{number}号窗口",
        label_en=f"Window {number}",
        kind=kind,
        services=services,
        ratios=ratios,
    )


def small_hall(
    db_url: str = "sqlite:///:memory:",
    broker_url: str = "mqtt://127.0.0.1:1883",
    policy: QueuePolicy | None = None,
    hours: OpeningHours | None = None,
) -> Config:
    """三类事项: 不动产 (A), 社保 (B), 即办 (C); w01 A>B, w02 B>A, w03 ratios A:B = 2:1, w09 instant C."""
    return Config(
        hall=HallConfig(
            id="testhall",
            name="测试政务服务中心",
            name_en="Test Service Center",
            timezone="Asia/Shanghai",
            opening_hours=hours or OpeningHours(always=True),
            queue=policy or QueuePolicy(),
        ),
        broker=BrokerConfig(url=broker_url),
        database=DatabaseConfig(url=db_url),
        http=HttpConfig(host="127.0.0.1", port=0),
        services=(
            service("A", "A", "不动产登记", Flow.RECEIVE_ONLY, minutes=20),
            service("B", "B", "社保业务", Flow.ACCEPT_ON_SPOT, minutes=10),
            service("C", "C", "即办业务", Flow.FINISH_ON_SPOT, minutes=5, instant=True),
            service("D", "D", "无窗口事项", minutes=5),
        ),
        windows=(
            window("w01", ("A", "B")),
            window("w02", ("B", "A")),
            window("w03", ("A", "B"), ratios=(("A", 2), ("B", 1))),
            window("w09", ("C",), kind=WindowKind.INSTANT),
        ),
    )


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'hall.db'}"


class Clock:
    """A hand-moved clock in the hall's timezone."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


def with_policy(config: Config, **policy: int) -> Config:
    return replace(config, hall=replace(config.hall, queue=replace(config.hall.queue, **policy)))
