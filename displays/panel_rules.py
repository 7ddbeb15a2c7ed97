"""What a window shows, in one place: the LED panel over it, and its card on the hall display.

The firmware bridge drives the LED panels from these rules (`panel_text`), the pygame hall
display draws its window cards from them (`window_caption`), and the browser display
(`/display`) applies the very same table (`RULES`, sent to the page as JSON and read by the
small JavaScript function `PANEL_JS`), so a window never says one thing on its panel and
another on the big screen. Pure: the retained `state/window/{window}` payload in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PANEL_JS", "RULES", "WindowCaption", "panel_text", "rules_json", "window_caption"]

# The texts of each situation, Chinese then English. `{ticket}`, `{label}` and `{reason}`
# are filled in. A window that is open but has nobody called welcomes the next citizen.
RULES: dict[str, tuple[str, str]] = {
    "ticket": ("{ticket} 请到{label}", "{ticket} to {label}"),
    "paused": ("暂停服务", "Paused"),
    "paused_reason": ("暂停服务 {reason}", "Paused: {reason}"),
    "closed": ("暂停使用", "Closed"),
    "idle": ("欢迎办理", "Welcome"),
    "unknown": ("", ""),
}

_TICKET_STATUSES = ("calling", "serving")
_OPEN_STATUSES = ("idle", "calling", "serving")


@dataclass(frozen=True)
class WindowCaption:
    """What a window card or panel says: which rule applies, the ticket if any, and the texts."""

    rule: str  # a key of RULES
    ticket: str | None
    text: str  # Chinese
    text_en: str


def window_caption(state: Mapping[str, Any] | None, label: str = "", label_en: str = "") -> WindowCaption:
    """The rule for a window's retained state, with its texts filled in.

    calling/serving with a ticket → `A012 请到3号窗口`; paused → `暂停服务` (with the reason
    when given); closed → `暂停使用`; open with nobody called → `欢迎办理`; no state yet → empty.
    """
    status = state.get("status") if state else None
    ticket = state.get("ticket") if state else None
    reason = str(state.get("reason") or "").strip() if state else ""
    if status in _TICKET_STATUSES and ticket:
        rule = "ticket"
    elif status == "paused":
        rule = "paused_reason" if reason else "paused"
    elif status == "closed":
        rule = "closed"
    elif status in _OPEN_STATUSES:
        rule = "idle"
    else:
        rule = "unknown"
    zh, en = RULES[rule]
    fill = {"ticket": str(ticket or ""), "reason": reason}
    return WindowCaption(
        rule,
        str(ticket) if rule == "ticket" else None,
        zh.format(label=label, **fill),
        en.format(label=label_en or label, **fill),
    )


def panel_text(state: Mapping[str, Any] | None, label: str) -> tuple[str, str]:
    """The two lines of the LED panel over a window: its `label`, then what it is doing.

    calling/serving → `A012 请到3号窗口`; paused → `暂停服务` (and the reason when given);
    closed → `暂停使用`; idle → `欢迎办理`. Unknown state shows the label alone.
    """
    return label, window_caption(state, label).text


def rules_json() -> str:
    """`RULES` as JSON safe to put inside a `<script>` element."""
    return json.dumps(RULES, ensure_ascii=False).replace("<", "\\u003c")


# The same decision as `window_caption`, for the browser display; the page defines
# `PANEL_RULES = <rules_json()>` before it. tests/test_display_page.py checks both agree.
PANEL_JS = """
function windowCaption(s,label,labelEn){
  s=s||{};var st=s.status,t=s.ticket,r=String(s.reason||'').trim(),rule;
  if((st==='calling'||st==='serving')&&t){rule='ticket'}
  else if(st==='paused'){rule=r?'paused_reason':'paused'}
  else if(st==='closed'){rule='closed'}
  else if(st==='idle'||st==='calling'||st==='serving'){rule='idle'}
  else{rule='unknown'}
  function fill(x,l){
    return x.split('{ticket}').join(t||'').split('{reason}').join(r).split('{label}').join(l)}
  return {rule:rule,ticket:rule==='ticket'?String(t):null,text:fill(PANEL_RULES[rule][0],label||''),
          text_en:fill(PANEL_RULES[rule][1],labelEn||label||'')};
}
"""
