"""The hall display in a browser, `/display` (and `/display/{display id}`), for TVs with a browser.

The same view as the pygame display (`displays/`): the last call large and blinking for a few
seconds, the recent calls, every open window with its current ticket, waiting counts and
estimated waits, the time and the notice line. Plain HTML and vanilla JS, nothing from a CDN;
sizes in `vmin`, so it reads the same on any screen. It follows the hall through the event
stream (`/api/v1/events`): every retained state first, then changes and events; only
`ticket_called` / `ticket_recalled` make a call blink, so a reload never blinks an old one.
Window cards say what the window's LED panel says: the rules come from
`displays.panel_rules` (one table for the panels, the pygame display and this page).
"""

# ruff: noqa: E501  (CSS and JS read best one rule or statement to a line)

from __future__ import annotations

import html
import json
from typing import Any

from displays.panel_rules import PANEL_JS, rules_json
from yichuang.config_model import Config, DisplayConfig

STYLE = """
:root{--bg:#09162c;--panel:#142a4c;--line:#2c4870;--white:#f6f7fa;--muted:#96aac4;--gold:#ffcd3c;--dark:#181408;
--green:#60d68c;--amber:#ffaa40;--red:#a81a22}
*{box-sizing:border-box}
html,body{margin:0;height:100%;overflow:hidden;background:var(--bg);color:var(--white);
font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif}
body{display:flex;flex-direction:column;font-size:2.4vmin}
header{display:flex;align-items:center;gap:2vmin;background:var(--red);padding:0 2vmin;height:9vmin;flex:none}
header h1{margin:0;font-size:4.6vmin;line-height:1.05;flex:1;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
header h1 small{display:block;font-size:2.2vmin;font-weight:400;opacity:.85}
#date{font-size:2.6vmin;opacity:.9}#time{font-size:5.2vmin;font-weight:800;font-variant-numeric:tabular-nums}
#live{background:var(--amber);color:var(--dark);border-radius:99px;padding:.5vmin 1.6vmin;font-weight:700;font-size:2.4vmin}
#live.on{display:none}
main{flex:1;display:grid;gap:1.5vmin;padding:1.5vmin;min-height:0}
main.land{grid-template-columns:40fr 60fr;grid-template-rows:46fr 54fr;grid-template-areas:"call windows" "recent queues"}
main.port{grid-template-columns:1fr;grid-template-rows:21fr 27fr 25fr 27fr;grid-template-areas:"call" "recent" "windows" "queues"}
.card{background:var(--panel);border-radius:1.2vmin;padding:1vmin 1.6vmin;overflow:hidden;min-height:0}
.card h2{margin:0 0 1vmin;font-size:3.4vmin;border-bottom:2px solid var(--line);padding-bottom:.6vmin}
.card h2 small{font-size:2.4vmin;color:var(--muted);font-weight:400;margin-left:1vmin}
#call{grid-area:call;display:flex;flex-direction:column;align-items:center;justify-content:center;text-align:center;border:.6vmin solid transparent}
#call .title{font-size:3.2vmin;line-height:1.2;color:var(--muted)}
#big{font-size:17vmin;font-weight:800;line-height:1.02;color:var(--gold);font-variant-numeric:tabular-nums;letter-spacing:.5vmin}
#where{font-size:7vmin;font-weight:800;line-height:1.1}
#where-en{font-size:3.2vmin;line-height:1.2;color:var(--muted)}
#call.flash{border-color:var(--gold)}
#call.flash.lit{background:var(--gold)}
#call.flash.lit #big,#call.flash.lit #where{color:var(--dark)}#call.flash.lit .title,#call.flash.lit #where-en{color:#5a4614}
#call.none #big{color:var(--muted)}
#recent-card{grid-area:recent}
#recent{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:1fr 1fr;column-gap:2vmin;row-gap:.5vmin}
#recent li{display:flex;justify-content:space-between;align-items:center;padding:0 1.2vmin;height:5.9vmin;border-radius:.8vmin}
#recent li:first-child{background:var(--line)}
#recent b{color:var(--gold);font-size:4.8vmin}#recent span{font-size:4.2vmin}
#windows-card{grid-area:windows}
#windows{display:grid;gap:1vmin}
main.land #windows{grid-template-columns:repeat(4,1fr)}main.port #windows{grid-template-columns:repeat(3,1fr)}
.win{background:var(--bg);border-radius:.9vmin;padding:.6vmin 1.2vmin;height:11vmin;display:flex;flex-direction:column}
.win .top{display:flex;justify-content:space-between;align-items:baseline;line-height:1.25}
.win .label{font-size:3.4vmin;font-weight:700}.win .chip{font-size:2.4vmin}
.win .chip.calling{color:var(--gold)}.win .chip.serving{color:var(--green)}
.win .body{flex:1;display:flex;flex-direction:column;align-items:center;justify-content:center;line-height:1.05;min-height:0}
.win .ticket{font-size:5.8vmin;font-weight:800}.win .ticket.calling{color:var(--gold)}
.win .text{font-size:3.2vmin;font-weight:700;color:var(--green)}.win .text.paused{color:var(--amber)}
.win .en{font-size:2.2vmin;color:var(--muted)}
#queues-card{grid-area:queues}
#queues{display:grid;column-gap:3vmin;row-gap:.4vmin}
main.land #queues{grid-template-columns:1fr 1fr}main.port #queues{grid-template-columns:1fr}
.q{display:flex;align-items:center;gap:1.2vmin;height:7vmin}
.q .badge{flex:none;width:5.2vmin;height:5.2vmin;border-radius:.8vmin;display:flex;align-items:center;justify-content:center;font-weight:800;font-size:3.4vmin;background:#2a6ec8}
.q .name{flex:1;min-width:0;line-height:1.15}.q .name div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.q .zh{font-size:3.2vmin}.q .en{font-size:2vmin;color:var(--muted)}
.q .count{width:17%;text-align:right;font-size:4.6vmin;font-weight:800;color:var(--gold)}.q .count small{font-size:2.4vmin;color:var(--muted);font-weight:400}
.q .wait{width:21%;text-align:right;font-size:3.2vmin}
.empty{color:var(--muted);font-size:3.2vmin}
footer{height:7vmin;flex:none;background:#0e203e;overflow:hidden;white-space:nowrap;display:flex;align-items:center}
footer span{display:inline-block;padding-left:100%;font-size:3.4vmin;animation:scroll linear infinite}
@keyframes scroll{from{transform:translateX(0)}to{transform:translateX(-100%)}}
"""

SCRIPT = """
(function(){
var D=JSON.parse(document.getElementById('data').textContent), EN=D.english;
var windows={}, queues={}, calls=[], heard=[], flash=null, FLASH_MS=6000;
var shown={}; D.windows.forEach(function(w){shown[w.id]=w});
function $(id){return document.getElementById(id)}
function esc(s){return String(s==null?'':s).replace(/[&<>"']/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]})}
function recent(){
  var known={}; calls.forEach(function(c){known[c.ticket+'|'+c.window+'|'+c.at]=1});
  var now=Date.now(); heard=heard.filter(function(h){return now-h.t<10000&&!known[h.c.ticket+'|'+h.c.window+'|'+h.c.at]});
  var out=[], seen={};
  heard.slice().reverse().map(function(h){return h.c}).concat(calls).forEach(function(c){if(!seen[c.ticket]){seen[c.ticket]=1;out.push(c)}});
  return out.slice(0,10);
}
function renderCall(){
  var list=recent(), now=Date.now(), f=flash&&now-flash.t<FLASH_MS?flash.c:null, c=f||list[0], el=$('call');
  el.className='card'+(f?' flash'+(Math.floor((now-flash.t)/500)%2===0?' lit':''):'')+(c?'':' none');
  $('big').textContent=c?c.ticket:'----';
  $('where').textContent=c?'请到 '+c.label:'暂无叫号';
  $('where-en').textContent=EN?(c?'Number '+c.ticket+', please go to '+(c.label_en||c.label):'No calls yet'):'';
}
function renderRecent(){
  var list=recent();
  $('recent').innerHTML=list.length?list.map(function(c){return '<li><b>'+esc(c.ticket)+'</b><span>'+esc(c.label)+'</span></li>'}).join(''):'<li class="empty">暂无</li>';
}
var STATUS={calling:'呼叫中',serving:'办理中'};
function renderWindows(){
  var html=D.windows.map(function(w){
    var s=windows[w.id]; if(!s||!s.status||s.status==='closed'){return ''}
    var cap=windowCaption(s,s.label||w.label,s.label_en||w.label_en), body;
    if(cap.ticket){body='<div class="ticket '+esc(s.status)+'">'+esc(cap.ticket)+'</div>'}
    else{body='<div class="text'+(cap.rule.indexOf('paused')===0?' paused':'')+'">'+esc(cap.text)+'</div>'+(EN?'<div class="en">'+esc(cap.text_en)+'</div>':'')}
    return '<div class="win" data-window="'+esc(w.id)+'"><div class="top"><span class="label">'+esc(s.label||w.label)+'</span><span class="chip '+esc(s.status)+'">'+esc(STATUS[s.status]||'')+'</span></div><div class="body">'+body+'</div></div>';
  }).join('');
  $('windows').innerHTML=html||'<div class="empty">暂无开放窗口</div>';
}
function renderQueues(){
  var html=D.services.map(function(v){
    var q=queues[v.id]; if(!q){return ''}
    var w=typeof q.waiting==='number'?q.waiting:0, e=typeof q.ewt_s==='number'?Math.ceil(q.ewt_s/60):null;
    if(w<=0&&e===null){return ''}
    return '<div class="q" data-service="'+esc(v.id)+'"><div class="badge">'+esc(v.prefix)+'</div><div class="name"><div class="zh">'+esc(q.name||v.name)+'</div>'+(EN?'<div class="en">'+esc(q.name_en||v.name_en)+'</div>':'')+'</div><div class="count">'+w+'<small>人</small></div><div class="wait">'+(e===null?'—':(e<=1?'即将':e+'分钟'))+'</div></div>';
  }).join('');
  $('queues').innerHTML=html||'<div class="empty">暂无等候'+(EN?' · Nobody waiting':'')+'</div>';
}
function labelEn(w){return shown[w]?shown[w].label_en:''}
function onState(m){
  var p=m.topic.split('/');
  if(p[0]!=='state'){return}
  if(p[1]==='window'&&shown[p[2]]){windows[p[2]]=m.payload;renderWindows()}
  else if(p[1]==='queue'){queues[p[2]]=m.payload;renderQueues()}
  else if(p[1]==='calls'){
    calls=((m.payload&&m.payload.recent)||[]).filter(function(c){return shown[c.window]}).map(function(c){
      return {ticket:c.ticket,window:c.window,label:c.label||c.window,label_en:labelEn(c.window),at:c.at||''}});
    renderRecent();renderCall();
  }
}
function onEvent(m){
  if((m.type!=='ticket_called'&&m.type!=='ticket_recalled')||!shown[m.window]||!m.ticket){return}
  var c={ticket:m.ticket,window:m.window,label:m.label||m.window,label_en:m.label_en||labelEn(m.window),at:m.at||''};
  flash={c:c,t:Date.now()};
  if(m.type==='ticket_called'){heard.push({c:c,t:Date.now()})}
  renderRecent();renderCall();
}
var fmtTime=new Intl.DateTimeFormat('zh-CN',{timeZone:D.tz,hour:'2-digit',minute:'2-digit',hour12:false});
var fmtDate=new Intl.DateTimeFormat('zh-CN',{timeZone:D.tz,month:'long',day:'numeric',weekday:'long'});
function tick(){$('time').textContent=fmtTime.format(new Date());$('date').textContent=fmtDate.format(new Date());if(flash){renderCall()}}
function connect(){
  var es=new EventSource('/api/v1/events');
  es.addEventListener('open',function(){$('live').className='on'});
  es.addEventListener('error',function(){$('live').className=''});
  es.addEventListener('state',function(e){onState(JSON.parse(e.data))});
  es.addEventListener('event',function(e){onEvent(JSON.parse(e.data))});
}
var notice=$('notice'); notice.style.animationDuration=Math.max(15,notice.textContent.length*0.35)+'s';
renderCall();renderRecent();renderWindows();renderQueues();tick();connect();setInterval(tick,250);
})();
"""


def _json_for_script(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render(config: Config, display: DisplayConfig | None = None, orientation: str | None = None) -> str:
    """The page of one display (its windows, orientation, languages), or of the whole hall."""
    esc = html.escape
    english = display.english if display is not None else True
    portrait = (orientation or (display.orientation if display is not None else "landscape")) == "portrait"
    chosen = set(display.windows) if display is not None and display.windows else None
    windows = [w for w in config.windows if chosen is None or w.id in chosen]
    served = {s for w in windows for s in w.services}
    data = {
        "tz": config.hall.timezone,
        "english": english,
        "windows": [{"id": w.id, "label": w.label, "label_en": w.label_en} for w in windows],
        "services": [
            {"id": s.id, "prefix": s.prefix, "name": s.name, "name_en": s.name_en}
            for s in config.services
            if s.id in served
        ],
    }
    hall = config.hall
    notice = hall.notice or "请留意屏幕及语音叫号，过号请到服务台咨询"
    if english:
        notice += "\u3000\u3000" + (hall.notice_en or "Please watch the screen and listen for your number.")
    en = lambda text: f"<small>{esc(text)}</small>" if english else ""  # noqa: E731
    body = f"""
<header><h1>{esc(hall.name)}{en(hall.name_en)}</h1><span id="live">连接中… Reconnecting</span>
<span id="date"></span><span id="time"></span></header>
<main class="{"port" if portrait else "land"}">
<section class="card" id="call"><div class="title">正在呼叫{"&nbsp; Now calling" if english else ""}</div>
<div id="big">----</div><div id="where"></div><div id="where-en"></div></section>
<section class="card" id="recent-card"><h2>最近呼叫{en("Recent calls")}</h2><ol id="recent"></ol></section>
<section class="card" id="windows-card"><h2>窗口{en("Windows")}</h2><div id="windows"></div></section>
<section class="card" id="queues-card"><h2>等候情况{en("Waiting")}</h2><div id="queues"></div></section>
</main>
<footer><span id="notice">{esc(notice)}</span></footer>
<script type="application/json" id="data">{_json_for_script(data)}</script>
<script>var PANEL_RULES={rules_json()};{PANEL_JS}</script>
<script>{SCRIPT}</script>"""
    title = f"{hall.name} · 叫号显示"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def not_found(config: Config, display_id: str) -> str:
    """The page for a display id the config does not have."""
    known = ", ".join(d.id for d in config.displays) or "—"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>未找到显示屏</title></head>'
        f"<body><h1>没有显示屏 {html.escape(display_id)}</h1><p>No display {html.escape(display_id)}. "
        f"Known: {html.escape(known)}. <a href='/display'>/display</a></p></body></html>"
    )
