"""The TOML of the synthetic halls the benchmarks load: one generator, so both describe a hall alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def hall_toml(
    *,
    hall: str,
    name: str,
    name_en: str,
    broker_url: str,
    db_url: str,
    http_port: int,
    services: Sequence[tuple[str, str]],
    windows: int,
    services_per_window: int,
    window_id: Callable[[int], str] = lambda n: f"w{n + 1:03d}",
) -> list[str]:
    """Lines of a hall that is always open: `services` as (id, prefix), comprehensive windows that
    each serve `services_per_window` consecutive services; append [[device]] lines as needed."""
    lines = [
        "[hall]",
        f'id = "{hall}"',
        f'name = "{name}"',
        f'name_en = "{name_en}"',
        'timezone = "Asia/Shanghai"',
        'opening_hours = "always"',
        "",
        "[broker]",
        f'url = "{broker_url}"',
        "",
        "[database]",
        f'url = "{db_url}"',
        "",
        "[http]",
        'host = "127.0.0.1"',
        f"port = {http_port}",
        "",
    ]
    for sid, prefix in services:
        lines += [
            "[[service]]",
            f'id = "{sid}"',
            f'prefix = "{prefix}"',
            f'name = "事项{prefix}"',
            f'name_en = "Service {prefix}"',
            'flow = "finish_on_spot"',
            "minutes = 10",
            "time_limit_days = 0",
            "",
        ]
    for n in range(windows):
        served = [services[(n + k) % len(services)][0] for k in range(services_per_window)]
        lines += [
            "[[window]]",
            f'id = "{window_id(n)}"',
            f'label = "{n + 1}号窗口"',
            f'label_en = "Window {n + 1}"',
            'kind = "comprehensive"',
            "services = [" + ", ".join(f'"{s}"' for s in served) + "]",
            "",
        ]
    return lines
