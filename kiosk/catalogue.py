"""The service catalogue as a kiosk shows it: grouped by area, searchable by pinyin initials (pure).

Citizens often know a service by the first letters of its pinyin (`bdc` → 不动产登记) because
that is how input methods and other kiosks work, so the on-screen keyboard has only letters and
the search ranks initials first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin

from yichuang.config_model import ServiceConfig

__all__ = ["Area", "Catalogue", "Entry"]

_HAN = re.compile(r"[\u3400-\u9fff]")
# Brackets hold qualifiers (不动产登记(转移登记)): the name a citizen searches for is before them.
_QUALIFIER = re.compile(r"[(（].*?[)）]")


def _han_only(text: str) -> str:
    return "".join(_HAN.findall(text))


def _initials(text: str) -> str:
    han = _han_only(text)
    return "".join(p[0] for p in lazy_pinyin(han, style=Style.FIRST_LETTER) if p).lower()


def _full_pinyin(text: str) -> str:
    return "".join(lazy_pinyin(_han_only(text))).lower()


@dataclass(frozen=True)
class Entry:
    """One service with the keys the search matches against."""

    service: ServiceConfig
    initials: str  # of the whole name: 不动产登记(转移登记) → bdcdjzydj
    head_initials: str  # of the name before any bracket: bdcdj
    pinyin: str
    area_initials: str
    english_words: tuple[str, ...]

    @classmethod
    def of(cls, service: ServiceConfig) -> Entry:
        head = _QUALIFIER.sub("", service.name)
        return cls(
            service=service,
            initials=_initials(service.name),
            head_initials=_initials(head),
            pinyin=_full_pinyin(service.name),
            area_initials=_initials(service.area),
            english_words=tuple(w for w in re.split(r"[^a-z0-9]+", service.name_en.lower()) if w),
        )

    def rank(self, query: str) -> int | None:
        """How well `query` (lower-case letters) matches: 0 best, None no match."""
        if self.head_initials.startswith(query) or self.initials.startswith(query):
            return 0
        if self.area_initials.startswith(query):
            return 1
        if self.pinyin.startswith(query):
            return 2
        if query in self.initials:
            return 3
        if any(w.startswith(query) for w in self.english_words):
            return 4
        if len(query) >= 3 and query in self.pinyin:
            return 5
        return None


@dataclass(frozen=True)
class Area:
    """A group of services on the kiosk's first service screen (不动产, 社保医保 …)."""

    name: str
    name_en: str
    services: tuple[ServiceConfig, ...]


class Catalogue:
    """The hall's services in config order, grouped and searchable."""

    def __init__(self, services: tuple[ServiceConfig, ...]) -> None:
        self.services = services
        self._by_id = {s.id: s for s in services}
        self._entries = [Entry.of(s) for s in services]
        order: dict[str, list[ServiceConfig]] = {}
        english: dict[str, str] = {}
        for s in services:
            area = s.area or "其他"
            order.setdefault(area, []).append(s)
            english.setdefault(area, s.area_en or "Other")
        self.areas: tuple[Area, ...] = tuple(
            Area(name, english[name], tuple(group)) for name, group in order.items()
        )

    def service(self, service_id: str) -> ServiceConfig:
        return self._by_id[service_id]

    def search(self, query: str, limit: int = 12) -> list[ServiceConfig]:
        """Services matching pinyin initials, full pinyin, area or English words, best first.

        Anything but letters and digits in the query is ignored; an empty query finds nothing
        (the kiosk then shows the areas instead).
        """
        q = re.sub(r"[^a-z0-9]", "", query.lower())
        if not q:
            return []
        ranked = [(r, i, e.service) for i, e in enumerate(self._entries) if (r := e.rank(q)) is not None]
        ranked.sort(key=lambda t: (t[0], t[1]))
        return [s for _, _, s in ranked[:limit]]
