"""The citizen's live ticket page, `/t/{token}` (linked from the QR code on the paper ticket).

Plain HTML with a little vanilla JS: no build step, nothing from a CDN (hall networks often
have no internet), readable on a cheap phone. The server renders the whole first view, so
the number shows even where JS is off; the script then polls `/api/v1/tickets/{token}`
every 3 s. Polling, not the event stream: a citizen's page needs one ticket, and a state
stream of the whole hall would cost a phone more than one small request now and then.
"""

# ruff: noqa: E501  (CSS and JS read best one rule or statement to a line)

from __future__ import annotations

import html
import json
from typing import Any

from yichuang.config_model import Config

FINAL = ("done", "no_show", "cancelled")

STYLE = """
:root{--ink:#1d2733;--muted:#5b6b7c;--line:#dfe6ee;--bg:#f2f5f9;--brand:#b4232a;--blue:#1f5fbf;
--green:#1b8a4b;--amber:#b7650b;--grey:#6b7785}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font-family:"PingFang SC","Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",system-ui,sans-serif;
-webkit-text-size-adjust:100%;line-height:1.4}
header{background:var(--brand);color:#fff;padding:14px 18px}
header .zh{font-size:20px;font-weight:700;letter-spacing:1px}
header .en{font-size:13px;opacity:.85}
main{max-width:480px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:16px;box-shadow:0 2px 10px rgba(20,40,70,.08);padding:20px;margin-bottom:14px}
.label{color:var(--muted);font-size:15px}
.label span{font-size:13px;margin-left:6px}
.number{font-size:clamp(72px,26vw,120px);font-weight:800;letter-spacing:4px;text-align:center;line-height:1.1;
margin:6px 0 2px;font-variant-numeric:tabular-nums}
.service{text-align:center;font-size:20px;font-weight:600}
.service small{display:block;font-size:14px;color:var(--muted);font-weight:400}
.status{border-radius:14px;padding:18px;text-align:center;color:#fff;background:var(--blue);margin-bottom:14px}
.status .zh{font-size:30px;font-weight:800}
.status .en{font-size:17px;opacity:.92;margin-top:2px}
.status.called{background:var(--green);animation:pulse 1.6s ease-in-out infinite}
.status.serving{background:var(--green)}
.status.done,.status.cancelled{background:var(--grey)}
.status.no_show{background:var(--amber)}
@keyframes pulse{0%,100%{box-shadow:0 0 0 0 rgba(27,138,75,.55)}50%{box-shadow:0 0 0 12px rgba(27,138,75,0)}}
.figures{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.figure{background:#fff;border-radius:14px;padding:14px;text-align:center;box-shadow:0 2px 10px rgba(20,40,70,.06)}
.figure b{display:block;font-size:44px;font-weight:800;font-variant-numeric:tabular-nums;line-height:1.15}
.figure .unit{font-size:14px;color:var(--muted)}
.hint{font-size:15px;color:var(--muted);margin:14px 2px}
button{font:inherit;border:0;border-radius:12px;padding:14px 18px;font-size:18px;width:100%;cursor:pointer}
.cancel{background:#fff;color:var(--brand);border:2px solid var(--brand)}
.confirm{display:none;margin-top:12px}
.confirm.open{display:block}
.confirm p{margin:0 0 10px;font-size:17px;font-weight:600}
.row{display:flex;gap:10px}
.danger{background:var(--brand);color:#fff}
.keep{background:#e7ecf2;color:var(--ink)}
.meta{font-size:13px;color:var(--muted);text-align:center;margin-top:16px}
.offline{color:var(--amber)}
.hidden{display:none}
"""

SCRIPT = """
(function(){
var data=JSON.parse(document.getElementById('ticket-data').textContent);
var token=document.body.dataset.token, timer=null, last=data.ticket.status;
var $=function(id){return document.getElementById(id)};
function minutes(s){return s==null?null:Math.max(1,Math.ceil(s/60))}
function render(v){
  var t=v.ticket, st=t.status, waiting=(st==='waiting'||st==='transferred');
  $('status').className='status '+(t.parked?'waiting':st);
  $('status-zh').textContent=v.status_text.zh; $('status-en').textContent=v.status_text.en;
  $('figures').classList.toggle('hidden',!waiting||!!t.parked);
  $('ahead').textContent=String(v.ahead);
  var m=minutes(v.ewt_s);
  $('ewt').textContent=m==null?'—':'≈'+m;
  $('ewt-unit').classList.toggle('hidden',m==null);
  $('no-window').classList.toggle('hidden',!waiting||m!=null||!!t.parked);
  $('cancel-box').classList.toggle('hidden',!waiting);
  document.title=t.no+' · '+v.status_text.zh;
  if(st==='called'&&last!=='called'&&navigator.vibrate){navigator.vibrate([300,150,300])}
  last=st;
}
function stamp(ok){
  var d=new Date(), p=function(n){return(n<10?'0':'')+n};
  $('updated').textContent=ok?('更新于 Updated '+p(d.getHours())+':'+p(d.getMinutes())+':'+p(d.getSeconds()))
    :'网络中断，正在重试 · Connection lost, retrying';
  $('updated').classList.toggle('offline',!ok);
}
function poll(){
  fetch('/api/v1/tickets/'+encodeURIComponent(token),{cache:'no-store'}).then(function(r){
    if(!r.ok){throw r}
    return r.json();
  }).then(function(v){data=v;render(v);stamp(true);schedule()})
    .catch(function(){stamp(false);schedule()});
}
function schedule(){
  clearTimeout(timer);
  if(['done','no_show','cancelled'].indexOf(data.ticket.status)>=0){return}
  timer=setTimeout(poll,document.hidden?15000:3000);
}
document.addEventListener('visibilitychange',function(){if(!document.hidden){poll()}});
$('cancel').addEventListener('click',function(){$('confirm').classList.add('open');$('cancel').classList.add('hidden')});
$('keep').addEventListener('click',function(){$('confirm').classList.remove('open');$('cancel').classList.remove('hidden')});
var cancelKey=null;
$('really-cancel').addEventListener('click',function(){
  var b=this; b.disabled=true;
  // one key for this page's cancel: a double tap or a retry after a dropped answer is one cancel
  cancelKey=cancelKey||('cancel-'+Date.now().toString(36)+Math.random().toString(36).slice(2));
  fetch('/api/v1/tickets/'+encodeURIComponent(token)+'/cancel',{method:'POST',
    headers:{'Idempotency-Key':cancelKey}}).then(function(r){
    return r.json().then(function(j){
      if(!r.ok){$('cancel-error').textContent='未能取消：号码已被叫到或已结束 · Could not cancel: the ticket was already called or finished';}
      $('confirm').classList.remove('open');poll();
    });
  }).catch(function(){$('cancel-error').textContent='网络中断，请重试 · Connection lost, please retry';})
    .then(function(){b.disabled=false});
});
render(data); stamp(true); schedule();
})();
"""


def _json_for_script(value: Any) -> str:
    # inside <script> only "</" can end the element early; escaping "<" covers it
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _page(title: str, hall_zh: str, hall_en: str, body: str, token: str = "") -> str:
    esc = html.escape
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f'<body data-token="{esc(token)}"><header><div class="zh">{esc(hall_zh)}</div>'
        f'<div class="en">{esc(hall_en)}</div></header><main>{body}</main></body></html>'
    )


def render(config: Config, token: str, view: dict[str, Any]) -> str:
    """The live status page of one ticket; `view` is what `GET /api/v1/tickets/{token}` returns."""
    esc = html.escape
    ticket = view["ticket"]
    status = ticket["status"]
    waiting = status in ("waiting", "transferred")
    parked = bool(ticket.get("parked"))
    ewt = view["ewt_s"]
    minutes = None if ewt is None else max(1, -(-int(ewt) // 60))
    words = view["status_text"]
    hidden = " hidden"
    body = f"""
<section class="card">
  <div class="label">您的号码<span>Your number</span></div>
  <div class="number" id="number">{esc(ticket["no"])}</div>
  <div class="service">{esc(view["service_name"])}<small>{esc(view["service_name_en"])}</small></div>
</section>
<section id="status" class="status {esc("waiting" if parked else status)}" aria-live="polite">
  <div class="zh" id="status-zh">{esc(words["zh"])}</div><div class="en" id="status-en">{esc(words["en"])}</div>
</section>
<section id="figures" class="figures{"" if waiting and not parked else hidden}">
  <div class="figure"><div class="label">前面还有<span>Ahead of you</span></div>
    <b id="ahead">{view["ahead"]}</b><div class="unit">人 · people</div></div>
  <div class="figure"><div class="label">预计等待<span>Est. wait</span></div>
    <b id="ewt">{"—" if minutes is None else f"≈{minutes}"}</b>
    <div id="ewt-unit" class="unit{hidden if minutes is None else ""}">分钟 · minutes</div></div>
</section>
<p id="no-window" class="hint{"" if waiting and minutes is None and not parked else hidden}">
  暂无窗口开放，开放后会显示预计时间。<br>No window is open yet; the wait shows once one opens.</p>
<p class="hint">请留意大厅显示屏和语音叫号，过号需重新取号。<br>
  Watch the hall display and listen for your number.</p>
<section id="cancel-box" class="card{"" if waiting else hidden}">
  <button id="cancel" class="cancel" type="button">取消排号 · Cancel my ticket</button>
  <div id="confirm" class="confirm" role="dialog" aria-labelledby="confirm-text">
    <p id="confirm-text">确定取消吗？取消后需重新取号。<br><small>Cancel? You would need a new ticket.</small></p>
    <div class="row"><button id="keep" class="keep" type="button">保留 · Keep</button>
      <button id="really-cancel" class="danger" type="button">确定取消 · Cancel</button></div>
  </div>
  <p id="cancel-error" class="hint offline"></p>
</section>
<div class="meta" id="updated"></div>
<script type="application/json" id="ticket-data">{_json_for_script(view)}</script>
<script>{SCRIPT}</script>
"""
    return _page(f"{ticket['no']} · {words['zh']}", config.hall.name, config.hall.name_en, body, token)


def not_found(config: Config) -> str:
    """A friendly page for a token that names no ticket (mistyped, or from another day)."""
    body = """
<section class="card" style="text-align:center">
  <div class="number" style="font-size:64px">?</div>
  <p style="font-size:22px;font-weight:700;margin:8px 0">找不到这张号码</p>
  <p style="font-size:17px;margin:0 0 12px">We cannot find this ticket.</p>
  <p class="hint">号码只在取号当天有效。请检查链接，或到服务台咨询。<br>
  Tickets are valid on the day they are taken. Check the link, or ask at the help desk.</p>
</section>"""
    return _page("找不到号码 · Ticket not found", config.hall.name, config.hall.name_en, body)
