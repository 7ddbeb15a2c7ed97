"""What the voice says for a call, as tokens a speech engine or a folder of clips can read (pure).

`请 A012 号到 3 号窗口办理` is read `请 A 零 一 二 号 到 三 号窗口 办理`: the ticket's digits
one by one (a number like 零一二 would otherwise be read 十二), the window's number as a
number (十二号窗口, not 一二号窗口), then in English, when configured, `Number A zero one
two, please go to window three`.

Each `Token` has a `key` (the name of its clip in a clips folder: `zh/0.wav`, `zh/号窗口.wav`,
`en/please go to.wav`) and the `speech` an engine reads. Mandarin speech is tone-numbered
pinyin (`hao4`) for espeak-ng's `cmn-latn-pinyin` voice: Debian's `cmn` voice reads many
characters wrongly, while pinyin leaves it nothing to guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin

__all__ = [
    "CHIME",
    "Token",
    "Utterance",
    "announcement",
    "clip_keys",
    "english_tokens",
    "mandarin_tokens",
]

_ZH_DIGIT_PINYIN = ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
# fmt: off
_EN_SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
             "nineteen")
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on
_TICKET = re.compile(r"([A-Z]*)(\d+)")
_RUNS = re.compile(r"\d+|[A-Za-z]+|[^\dA-Za-z\s]+")


@dataclass(frozen=True)
class Token:
    """One piece of an announcement: its clip name, its text, and what an engine reads."""

    key: str  # clip name under the clips folder, without `.wav`
    text: str  # as written (for logs and tests)
    speech: str  # what the engine reads: pinyin with tone numbers, or English words


CHIME = Token("chime", "♪", "")


@dataclass(frozen=True)
class Utterance:
    """A run of tokens in one language (`zh`, `en`), or the chime (`chime`)."""

    lang: str
    tokens: tuple[Token, ...]
    text: str = ""  # as written, for logs and tests: `请A012号到3号窗口办理`

    @property
    def speech(self) -> str:
        """What a speech engine reads, tokens separated by spaces."""
        return " ".join(t.speech for t in self.tokens if t.speech)


def _zh(text: str, speech: str | None = None) -> Token:
    return Token(f"zh/{text}", text, speech if speech is not None else _pinyin(text))


def _pinyin(text: str) -> str:
    return " ".join(p for p in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True) if p.strip())


def _en(text: str, speech: str | None = None) -> Token:
    return Token(f"en/{text}", text, speech if speech is not None else text)


def _zh_digit(d: str) -> Token:
    return _zh(d, _ZH_DIGIT_PINYIN[int(d)])


def _zh_letter(c: str) -> Token:
    return _zh(c.upper(), c.upper())  # the pinyin voice names Latin letters the Chinese way (ei, bi, sei)


def _zh_number(n: int) -> list[Token]:
    """A window number as said: 3 → 三, 12 → 十二, 20 → 二十, 35 → 三十五; longer ones digit by digit."""
    if n < 10:
        return [_zh_digit(str(n))]
    if n < 100:
        tens, ones = divmod(n, 10)
        out = [] if tens == 1 else [_zh_digit(str(tens))]
        out.append(_zh("十", "shi2"))
        if ones:
            out.append(_zh_digit(str(ones)))
        return out
    return [_zh_digit(d) for d in str(n)]


def _en_number(n: int) -> list[Token]:
    if n < 20:
        return [_en(str(n), _EN_SMALL[n])]
    if n < 100:
        tens, ones = divmod(n, 10)
        out = [_en(str(tens * 10), _EN_TENS[tens])]
        if ones:
            out.append(_en(str(ones), _EN_SMALL[ones]))
        return out
    return [_en(d, _EN_SMALL[int(d)]) for d in str(n)]


def _ticket_parts(ticket: str) -> tuple[str, str]:
    match = _TICKET.fullmatch(ticket.strip().upper())
    if match is None:
        return "", ""
    return match.group(1), match.group(2)


def _zh_label(label: str) -> list[Token]:
    """`3号窗口` → 三 号窗口; `帮办代办窗口` → one token read as written."""
    out: list[Token] = []
    for run in _RUNS.findall(label):
        if run.isdigit():
            out += _zh_number(int(run))
        elif run.isascii():
            out += [_zh_letter(c) for c in run]
        else:
            out.append(_zh(run))
    return out


def _en_label(label: str) -> list[Token]:
    """`Window 12` → Window twelve; letters and words read as written."""
    out: list[Token] = []
    for run in _RUNS.findall(label):
        out += _en_number(int(run)) if run.isdigit() else [_en(run)]
    return out


def mandarin_tokens(ticket: str, label: str) -> tuple[Token, ...]:
    """`请 A 零 一 二 号 到 三 号窗口 办理`."""
    letters, digits = _ticket_parts(ticket)
    if not digits:
        ticket_tokens = [_zh(ticket)]
    else:
        ticket_tokens = [_zh_letter(c) for c in letters] + [_zh_digit(d) for d in digits]
    return (_zh("请"), *ticket_tokens, _zh("号"), _zh("到"), *_zh_label(label), _zh("办理"))


def english_tokens(ticket: str, label_en: str) -> tuple[Token, ...]:
    """`Number A zero one two, please go to Window three`."""
    letters, digits = _ticket_parts(ticket)
    if not digits:
        ticket_tokens = [_en(ticket)]
    else:
        ticket_tokens = [_en(c) for c in letters] + [_en(d, _EN_SMALL[int(d)]) for d in digits]
    return (_en("Number"), *ticket_tokens, _en("please go to", ", please go to"), *_en_label(label_en))


def announcement(
    ticket: str, label: str, label_en: str = "", *, english: bool = True, chime: bool = True
) -> tuple[Utterance, ...]:
    """The whole announcement of one call: chime, Mandarin, then English if configured and known."""
    parts: list[Utterance] = []
    if chime:
        parts.append(Utterance("chime", (CHIME,), CHIME.text))
    parts.append(Utterance("zh", mandarin_tokens(ticket, label), f"请{ticket}号到{label}办理"))
    if english and label_en:
        parts.append(
            Utterance("en", english_tokens(ticket, label_en), f"Number {ticket}, please go to {label_en}")
        )
    return tuple(parts)


def clip_keys(labels: Iterable[tuple[str, str]]) -> dict[str, Token]:
    """Every clip a clips folder needs for these window labels (`(label, label_en)`), by key.

    The fixed set (digits, letters, numbers, 请 号 到 办理, the English words) and whatever
    the labels add (`号窗口`, `帮办代办窗口`, `Window`).
    """
    tokens: list[Token] = [CHIME, _zh("请"), _zh("号"), _zh("到"), _zh("办理"), _zh("十", "shi2")]
    tokens += [_zh_digit(d) for d in "0123456789"]
    tokens += [_zh_letter(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    tokens += [_en("Number"), _en("please go to", ", please go to")]
    tokens += [_en(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    tokens += [_en(str(n), _EN_SMALL[n]) for n in range(20)]
    tokens += [_en(str(n * 10), _EN_TENS[n]) for n in range(2, 10)]
    for label, label_en in labels:
        tokens += _zh_label(label)
        tokens += _en_label(label_en)
    return {t.key: t for t in tokens}
