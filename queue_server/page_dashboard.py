"""The technicians' dashboard, `/dashboard`: the whole hall's health on one screen.

Every device of the hall and whether it is online (the server, kiosks, displays, bridges and
each device behind a bridge), kiosks' paper and server link, uptime and last telemetry; the
recent alarms (`event/alarm`); the open help requests with a resolve button; every window and
queue. Made for a 1920x1080 control-room monitor (nothing scrolls the page there; long lists
scroll inside their card) and still readable on a laptop, where it falls to one column.

Plain HTML and vanilla JS, nothing from a CDN. It follows the event stream (`/api/v1/events`):
`state` frames for windows, queues and calls, `device` frames (the server's DeviceWatch) and
`alarm` frames; help requests are fetched again on every `help_*` event. While the stream is
down (or where EventSource is missing) it polls the JSON API every few seconds. Devices the
config names are shown before they ever report ("never seen"), so a dead kiosk is not simply
missing. Device ids and payloads come from MQTT, so everything is escaped before it is shown.
"""

# ruff: noqa: E501  (CSS and JS read best one rule or statement to a line)

from __future__ import annotations

import html
import json
from typing import Any

from queue_server.mqtt_api import DEVICE
from yichuang.config_model import Config

STYLE = """
:root{--bg:#0b1628;--panel:#13233d;--panel2:#0f1d33;--line:#263d61;--ink:#eef2f8;--muted:#8ea3c0;--brand:#b4232a;
--green:#3fca7a;--amber:#f2a33a;--red:#f0524f;--grey:#7c8aa0;--blue:#5aa2ff}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--ink)}
body{display:flex;flex-direction:column;height:100vh;font-size:15px;line-height:1.35;font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif}
header{flex:none;display:flex;align-items:center;gap:10px 22px;flex-wrap:wrap;background:var(--brand);padding:10px 20px}
header h1{margin:0;font-size:24px;line-height:1.15}
header h1 small{display:block;font-size:13px;font-weight:400;opacity:.85}
header .grow{flex:1}
.stat{display:flex;flex-direction:column;align-items:center;line-height:1.1;min-width:74px}
.stat b{font-size:24px;font-variant-numeric:tabular-nums}.stat span{font-size:12px;opacity:.9}
.stat.bad b{color:#ffe08a}
#clock{font-size:26px;font-weight:800;font-variant-numeric:tabular-nums}
#live{border-radius:99px;padding:4px 14px;font-weight:700;font-size:14px;background:#ffd27d;color:#3a2500}
#live.on{background:#e3ffee;color:#0c5a2c}#live.on::before{content:"● "}
main{display:grid;grid-template-columns:minmax(0,1fr) minmax(360px,29%);grid-template-rows:minmax(0,28%) minmax(0,1fr) minmax(0,26%);
grid-template-areas:"devices help" "devices alarms" "hall alarms";gap:14px;padding:14px;flex:1;min-height:0}
.card{background:var(--panel);border-radius:12px;padding:12px 14px;display:flex;flex-direction:column;min-height:0}
.card h2{margin:0 0 10px;font-size:18px;display:flex;align-items:baseline;gap:8px;flex:none}
.card h2 small{color:var(--muted);font-weight:400;font-size:13px}
.card h2 .n{margin-left:auto;font-size:13px;color:var(--muted);font-weight:400}
.scroll{overflow:auto;min-height:0;flex:1}
#devices-card{grid-area:devices}#help-card{grid-area:help}#alarms-card{grid-area:alarms}#hall-card{grid-area:hall}
#devices{display:flex;flex-wrap:wrap;align-content:flex-start;gap:8px 18px}
.group{flex:0 1 auto;max-width:100%;min-width:0}
.group h3{margin:0 0 4px;font-size:14px;color:var(--muted);font-weight:600;display:flex;gap:12px;white-space:nowrap}
.group h3 .count{margin-left:auto;font-weight:400}.group h3 .count.bad{color:var(--red);font-weight:700}
.grid{display:flex;flex-wrap:wrap;gap:8px}
.dev{width:214px;background:var(--panel2);border-radius:9px;padding:7px 10px;border-left:4px solid var(--grey);min-width:0}
.dev.online{border-left-color:var(--green)}.dev.offline{border-left-color:var(--red);background:#2a1620}
.dev .top{display:flex;align-items:center;gap:7px;min-width:0}
.dot{flex:none;width:12px;height:12px;border-radius:50%;background:var(--grey)}
.dot.on{background:var(--green);box-shadow:0 0 6px var(--green)}.dot.off{background:var(--red);box-shadow:0 0 6px var(--red)}
.dev .id{font-weight:700;font-size:15px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.dev .st{margin-left:auto;font-size:12px;white-space:nowrap;color:var(--muted)}
.dev.online .st{color:var(--green)}.dev.offline .st{color:var(--red);font-weight:700}
.dev .model{font-size:12px;color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis;margin-top:2px}
.badges{display:flex;flex-wrap:wrap;gap:4px;margin-top:5px}
.badge{font-size:12px;border-radius:5px;padding:1px 6px;background:#22354f;color:var(--ink);white-space:nowrap}
.badge.green{background:#164a31;color:#b6f5cf}.badge.amber{background:#f2a33a;color:#2b1800;font-weight:700}
.badge.red{background:#d93a37;color:#fff;font-weight:700}.badge.grey{background:#2b3a52;color:var(--muted)}
.dev.offline .badge{opacity:.55}
.dev .meta{font-size:12px;color:var(--muted);margin-top:4px;display:flex;flex-wrap:wrap;gap:1px 10px}
ul.list{list-style:none;margin:0;padding:0}
#alarms li{display:grid;grid-template-columns:64px minmax(0,1fr);gap:2px 10px;padding:6px 4px;border-top:1px solid var(--line)}
#alarms li:first-child{border-top:0}
#alarms li.fresh{background:#3a2a12;border-radius:6px}
#alarms .t{font-variant-numeric:tabular-nums;color:var(--muted);font-size:13px;padding-top:1px}
#alarms .k{font-weight:700}#alarms .k.red{color:#ff8a85}#alarms .k.amber{color:var(--amber)}
#alarms .k small{font-weight:400;color:var(--muted);margin-left:6px}
#alarms .d{grid-column:2;font-size:13px;color:var(--muted);overflow-wrap:anywhere}
#help li{display:flex;align-items:center;gap:10px;background:#2c2614;border-left:4px solid var(--amber);border-radius:8px;padding:8px 10px;margin-bottom:8px}
#help li.green{background:#12331f;border-left-color:var(--green)}
#help .what{flex:1;min-width:0}#help .what b{font-size:16px}
#help .reason{font-size:14px;overflow-wrap:anywhere}#help .when{color:var(--muted);font-size:12px}
#help .tag{font-size:12px;border-radius:5px;padding:1px 6px;margin-left:6px;background:var(--green);color:#06270f;font-weight:700}
button{font:inherit;font-weight:700;border:0;border-radius:8px;padding:8px 14px;cursor:pointer;background:var(--blue);color:#061a36;white-space:nowrap}
button:disabled{opacity:.5;cursor:wait}
.empty{color:var(--muted);font-size:14px;padding:6px 2px;list-style:none}
#hall-card .cols{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px;min-height:0;flex:1}
table{width:100%;border-collapse:collapse;font-size:14px}
th{text-align:left;color:var(--muted);font-weight:400;font-size:12px;padding:2px 6px;position:sticky;top:0;background:var(--panel)}
td{padding:4px 6px;border-top:1px solid var(--line);white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}th.num{text-align:right}
td .tk{font-weight:800;font-size:15px}
.chip{font-size:12px;border-radius:99px;padding:1px 8px;background:#2b3a52;color:var(--muted)}
.chip.idle{background:#1d3b66;color:#bcd8ff}.chip.calling{background:#5a4a10;color:#ffe08a}.chip.serving{background:#164a31;color:#b6f5cf}
.chip.paused{background:#5a3410;color:#ffc98a}
.err{color:#ff8a85;font-size:13px;min-height:0}
main.with-lockers{grid-template-rows:minmax(0,26%) minmax(0,1fr) minmax(0,24%) auto;
grid-template-areas:"devices help" "devices alarms" "hall alarms" "lockers lockers"}
#lockers-card{grid-area:lockers}
.locker+.locker{margin-top:8px}
.doors{display:grid;grid-template-columns:repeat(auto-fill,minmax(64px,1fr));gap:6px;margin-top:6px}
.door{border-radius:8px;padding:4px 6px;text-align:center;line-height:1.15}
.door b{display:block;font-size:18px}.door small{font-size:11px}
.door.free{background:#164a31;color:#b6f5cf}.door.occupied{background:#1d3b66;color:#bcd8ff}
.door.open{background:#5a4a10;color:#ffe08a}.door.fault{background:#5c1d1a;color:#ffb3ae}
@media (max-height:860px) and (min-width:1101px){
 /* a laptop: too short for one fixed screen, so the page scrolls and the cards take their height */
 body{height:auto}main{grid-template-rows:auto minmax(0,1fr) auto}
 .scroll{overflow:visible}#alarms-card .scroll{max-height:560px;overflow:auto}
}
@media (max-width:1100px){
 body{height:auto}main,main.with-lockers{grid-template-columns:1fr;grid-template-rows:none;
 grid-template-areas:"help" "devices" "alarms" "hall" "lockers"}
 .scroll{overflow:visible}#alarms-card .scroll{max-height:420px;overflow:auto}
 #hall-card .cols{grid-template-columns:1fr}
}
"""

SCRIPT = """
(function(){
var D=JSON.parse(document.getElementById('dash-data').textContent);
var devices={}, alarms=[], help=[], windows={}, queues={}, lockers={}, live=false, es=null, fresh={}, keys={}, helpError='';
var $=function(id){return document.getElementById(id)};
function esc(s){return String(s==null?'':s).replace(/[&<>"']/g,function(c){return'&#'+c.charCodeAt(0)+';'})}
var KINDS=[['queue_server','服务器','Server'],['bridge','设备网关','Bridges'],['kiosk','取号机','Kiosks'],['display','显示屏','Displays'],
  ['caller','呼叫器','Callers'],['eval_pad','评价器','Evaluation pads'],['led_panel','窗口屏','LED panels'],['gpio_button','GPIO 按键','GPIO buttons'],
  ['gpio_led','指示灯','GPIO LEDs'],['buzzer','蜂鸣器','Buzzers'],['lock_board','锁控板','Lock boards'],['modem','短信猫','GSM modems'],
  ['printer','打印机','Printers'],['simulator','模拟器','Simulator']];
var KIND_INDEX={}; KINDS.forEach(function(k,i){KIND_INDEX[k[0]]=i});
var PAPER={ok:['纸张正常','Paper OK','green'],low:['纸张将尽','Paper low','amber'],out:['缺纸','Paper out','red'],
  unknown:['纸况未知','Paper unknown','grey'],offline:['打印机离线','Printer offline','red'],none:['无打印机','No printer','grey']};
var ALARM={paper_low:['纸张将尽','Paper low','amber'],paper_out:['缺纸','Paper out','red'],printer_offline:['打印机离线','Printer offline','red'],
  print_failed:['打印失败','Print failed','red'],press_dropped:['按键未送达','Key press dropped','red']};
var WSTATUS={closed:'关闭 Closed',idle:'空闲 Idle',calling:'呼叫中 Calling',serving:'办理中 Serving',paused:'暂停 Paused'};
var winLabel={}; D.windows.forEach(function(w){winLabel[w.id]=w.label});
var expected={}; D.expected.forEach(function(e){expected[e.device]=e});
function blank(id){var e=expected[id]||{};return{device:id,kind:e.kind||null,status:null,info:null,telemetry:null,status_at:null,telemetry_at:null}}
D.expected.forEach(function(e){devices[e.device]=blank(e.device)});
var fmtTime=new Intl.DateTimeFormat('zh-CN',{timeZone:D.tz,hour:'2-digit',minute:'2-digit',second:'2-digit',hour12:false});
var fmtClock=new Intl.DateTimeFormat('zh-CN',{timeZone:D.tz,hour:'2-digit',minute:'2-digit',hour12:false});
function hallTime(iso){var d=new Date(iso);return isNaN(d)?String(iso||''):fmtTime.format(d)}
function dur(s){
  // compact units a technician reads at a glance in either language: 12s, 7m, 4h15m, 3d2h
  s=Math.max(0,Math.floor(s));
  if(s<60){return s+'s'}
  if(s<3600){return Math.floor(s/60)+'m'}
  if(s<86400){return Math.floor(s/3600)+'h'+Math.floor(s%3600/60)+'m'}
  return Math.floor(s/86400)+'d'+Math.floor(s%86400/3600)+'h';
}
function ago(iso){var t=Date.parse(iso);if(isNaN(t)){return ''}return dur((Date.now()-t)/1000)+'前 ago'}
function kindOf(r){return r.kind||(expected[r.device]&&expected[r.device].kind)||'other'}
function kindWords(k){var i=KIND_INDEX[k];return i==null?[k==='other'?'其他':k,k==='other'?'Other':'']:[KINDS[i][1],KINDS[i][2]]}
function badge(cls,text,title){return '<span class="badge '+cls+'"'+(title?' title="'+esc(title)+'"':'')+'>'+esc(text)+'</span>'}
function card(r){
  var st=r.status==='online'?'online':r.status==='offline'?'offline':'unseen', t=r.telemetry||{}, info=r.info||{}, b=[], meta=[];
  var word=st==='online'?'在线 Online':st==='offline'?'离线 Offline':'未上报 Never seen';
  if(kindOf(r)==='kiosk'||t.paper!=null){
    var p=PAPER[t.paper];
    if(p){b.push('<span class="badge paper '+esc(t.paper)+' '+p[2]+'">'+esc(p[0]+' '+p[1])+'</span>')}
    else if(t.paper!=null){b.push(badge('grey','纸况 '+t.paper))}
  }
  if(t.server==='online'){b.push(badge('green','服务器 Server ✓'))}
  else if(t.server==='offline'){b.push(badge('red','连不上服务器 No server link'))}
  var w=info.window||(expected[r.device]&&expected[r.device].window);
  if(w){b.push(badge('grey',winLabel[w]||w))}
  if(info.location){b.push(badge('grey',info.location))}
  if(kindOf(r)==='bridge'){
    var kids=Object.keys(devices).filter(function(id){return expected[id]&&expected[id].bridge===r.device});
    if(kids.length){var up=kids.filter(function(id){return devices[id].status==='online'}).length;
      b.push(badge(up<kids.length?'amber':'green','下挂 '+up+'/'+kids.length+' 在线 devices up'))}
  }
  if(t.muted===true){b.push(badge('grey','静音 Muted'))}
  if(typeof t.uptime_s==='number'){meta.push('运行 Up '+dur(t.uptime_s))}
  if(r.telemetry_at){meta.push('遥测 Data '+ago(r.telemetry_at))}
  if(r.status_at){meta.push((st==='offline'?'离线 Down ':'上线 Up since ')+hallTime(r.status_at).slice(0,5))}
  var model=[info.model,info.version].filter(function(x){return x!=null&&x!==''}).join(' ');
  return '<div class="dev '+st+'" data-device="'+esc(r.device)+'" data-status="'+st+'"><div class="top"><span class="dot '+(st==='online'?'on':st==='offline'?'off':'')+'"></span>'+
    '<span class="id" title="'+esc(r.device)+'">'+esc(r.device)+'</span><span class="st">'+word+'</span></div>'+
    (model?'<div class="model">'+esc(model)+'</div>':'')+(b.length?'<div class="badges">'+b.join('')+'</div>':'')+
    (meta.length?'<div class="meta">'+meta.map(function(m){return '<span>'+esc(m)+'</span>'}).join('')+'</div>':'')+'</div>';
}
function renderDevices(){
  var groups={}, online=0, offline=0, total=0;
  Object.keys(devices).forEach(function(id){var r=devices[id], k=kindOf(r);(groups[k]=groups[k]||[]).push(r);total++;
    if(r.status==='online'){online++}else if(r.status==='offline'){offline++}});
  var kinds=Object.keys(groups).sort(function(a,b){var x=KIND_INDEX[a],y=KIND_INDEX[b];x=x==null?99:x;y=y==null?99:y;return x-y||(a<b?-1:a>b?1:0)});
  $('devices').innerHTML=kinds.length?kinds.map(function(k){
    var list=groups[k].sort(function(a,b){return a.device<b.device?-1:a.device>b.device?1:0}), kw=kindWords(k);
    var up=list.filter(function(r){return r.status==='online'}).length;
    return '<div class="group" data-kind="'+esc(k)+'"><h3><span>'+esc(kw[0])+' '+esc(kw[1])+'</span><span class="count'+(up<list.length?' bad':'')+'">'+up+'/'+list.length+' 在线 online</span></h3>'+
      '<div class="grid">'+list.map(card).join('')+'</div></div>';
  }).join(''):'<div class="empty">尚无设备上报 · No device has reported yet</div>';
  $('n-online').textContent=online+'/'+total; $('n-offline').textContent=offline;
  $('s-offline').className='stat'+(offline?' bad':'');
}
function renderAlarms(){
  var now=Date.now();
  $('alarms').innerHTML=alarms.length?alarms.map(function(a){
    var w=ALARM[a.kind]||[a.kind,'','red'], detail=[];
    if(a.window){detail.push(winLabel[a.window]||a.window)}
    if(a.command){detail.push(a.command)}
    if(typeof a.age_s==='number'){detail.push('等待 waited '+Math.round(a.age_s)+' s')}
    if(a.bridge&&a.bridge!==a.device){detail.push('经 via '+a.bridge)}
    return '<li class="'+(fresh[a.event_id]&&now-fresh[a.event_id]<10000?'fresh':'')+'" data-kind="'+esc(a.kind)+'"><span class="t">'+esc(hallTime(a.at))+'</span>'+
      '<span class="k '+w[2]+'">'+esc(w[0])+(w[1]?'<small>'+esc(w[1])+'</small>':'')+'</span>'+
      '<span class="d">'+esc(a.device||a.kiosk||'')+(detail.length?' · '+esc(detail.join(' · ')):'')+'</span></li>';
  }).join(''):'<li class="empty">暂无告警 · No alarms</li>';
  $('n-alarms').textContent=alarms.length;
}
function renderHelp(){
  var ul=$('help'); ul.innerHTML='';
  if(helpError){var e=document.createElement('li');e.className='err';e.textContent=helpError;ul.appendChild(e)}
  if(!help.length){var li0=document.createElement('li');li0.className='empty';li0.textContent='暂无求助 · No open requests';ul.appendChild(li0)}
  help.forEach(function(h){
    var green=String(h.reason||'').indexOf('绿色通道')===0, li=document.createElement('li'), b=document.createElement('button');
    li.className=green?'green':''; li.dataset.help=String(h.id);
    li.innerHTML='<div class="what"><b>'+esc(h.kiosk)+'</b>'+(green?'<span class="tag">绿色通道 Green channel</span>':'')+
      '<div class="reason">'+esc(h.reason||'需要帮助 · Needs help')+'</div><div class="when">'+esc(hallTime(h.at))+' · '+esc(ago(h.at))+'</div></div>';
    b.textContent='已处理 Resolve';
    b.onclick=function(){resolve(h,b)};
    li.appendChild(b); ul.appendChild(li);
  });
  $('n-help').textContent=help.length; $('s-help').className='stat'+(help.length?' bad':'');
}
function newKey(){var a=new Uint8Array(16);(window.crypto||window.msCrypto).getRandomValues(a);
  return Array.prototype.map.call(a,function(x){return('0'+x.toString(16)).slice(-2)}).join('')}
function resolve(h,b){
  // one key per request: a retry after a lost answer is the same resolve, never a second one
  keys[h.id]=keys[h.id]||newKey(); b.disabled=true;
  fetch('/api/v1/help/'+encodeURIComponent(h.id)+'/resolve',{method:'POST',headers:{'Content-Type':'application/json','Idempotency-Key':keys[h.id]},body:'{}'})
    .then(function(r){helpError=r.ok||r.status===404?'':'处理失败，请重试 · Could not resolve ('+r.status+')';loadHelp()},
      function(){helpError='网络错误，请重试 · Network error';b.disabled=false;renderHelp()});
}
function renderHall(){
  var rows=D.windows.map(function(w){
    var s=windows[w.id]||{}, st=s.status||'closed';
    return '<tr data-window="'+esc(w.id)+'"><td>'+esc(s.label||w.label)+'</td><td><span class="chip '+esc(st)+'">'+esc(WSTATUS[st]||st)+'</span></td>'+
      '<td><span class="tk">'+esc(s.ticket||'')+'</span></td><td>'+(s.since&&s.ticket?esc(ago(s.since)):'')+(st==='paused'&&s.reason?esc(s.reason):'')+'</td></tr>';
  }).join('');
  $('windows').innerHTML='<tr><th>窗口 Window</th><th>状态 Status</th><th>号码 Ticket</th><th>时长 For</th></tr>'+rows;
  var q=D.services.map(function(v){
    var s=queues[v.id]||{}, e=typeof s.ewt_s==='number'?Math.ceil(s.ewt_s/60)+' 分 min':'—';
    return '<tr data-service="'+esc(v.id)+'"><td>'+esc(v.prefix)+' '+esc(v.name)+'</td><td class="num"><b>'+esc(s.waiting==null?'–':s.waiting)+'</b></td><td class="num">'+esc(e)+'</td><td>'+esc(s.last_called||'')+'</td></tr>';
  }).join('');
  $('queues').innerHTML='<tr><th>事项 Service</th><th class="num">等候 Waiting</th><th class="num">预计 Wait</th><th>刚叫 Last</th></tr>'+q;
  var waiting=0; Object.keys(queues).forEach(function(k){waiting+=typeof queues[k].waiting==='number'?queues[k].waiting:0});
  $('n-waiting').textContent=waiting;
}
function putDevice(r){
  if(!r||typeof r.device!=='string'){return}
  if(r.removed){if(expected[r.device]){devices[r.device]=blank(r.device)}else{delete devices[r.device]}}
  else{devices[r.device]=r}
}
function putAlarm(a){
  if(!a||!a.kind){return}
  if(a.event_id&&alarms.some(function(x){return x.event_id===a.event_id})){return}
  alarms.push(a);
  // stream and polling may deliver out of order: keep newest first by the alarm's own time
  alarms.sort(function(x,y){return(Date.parse(y.at)||0)-(Date.parse(x.at)||0)}); alarms=alarms.slice(0,100);
}
function getJSON(url){return fetch(url,{cache:'no-store'}).then(function(r){if(!r.ok){throw new Error(r.status)}return r.json()})}
function loadHelp(){getJSON('/api/v1/help').then(function(list){help=list;renderHelp()},function(){})}
function loadAlarms(){getJSON('/api/v1/alarms').then(function(list){list.forEach(putAlarm);renderAlarms()},function(){})}
function poll(){
  // the stream is down (or missing): the same picture from the JSON API
  getJSON('/api/v1/devices').then(function(list){list.forEach(putDevice);renderDevices()},function(){});
  getJSON('/api/v1/windows').then(function(list){list.forEach(function(w){windows[w.window]=w});renderHall()},function(){});
  getJSON('/api/v1/queues').then(function(list){list.forEach(function(q){queues[q.service]=q});renderHall()},function(){});
  loadAlarms(); loadHelp(); loadLockers();
}
function setLive(on){live=on;$('live').className=on?'on':'';$('live').textContent=on?'实时 Live':'重连中 Reconnecting'}
function onState(m){
  var p=String(m.topic).split('/');
  if(p[1]==='window'){windows[p[2]]=m.payload;renderHall()}
  else if(p[1]==='queue'){queues[p[2]]=m.payload;renderHall()}
  else if(p[1]==='locker'){lockers[p[2]]=m.payload;renderLockers()}
}
var DOOR={free:['空闲','Free'],occupied:['有件','In use'],open:['门开','Open'],fault:['故障','Fault']};
function renderLockers(){
  if(!D.lockers.length){return}
  $('lockers').innerHTML=D.lockers.map(function(lk){
    var s=lockers[lk.id]||{}, doors=s.doors||lk.doors.map(function(d){return{door:d.door,size:d.size,state:'fault'}});
    var count={}; doors.forEach(function(d){count[d.state]=(count[d.state]||0)+1});
    return '<div class="locker" data-locker="'+esc(lk.id)+'"><div class="muted">'+esc(lk.id)+' '+esc(lk.location)+' · '+
      Object.keys(DOOR).filter(function(k){return count[k]}).map(function(k){return DOOR[k][0]+' '+count[k]}).join(' · ')+'</div>'+
      '<div class="doors">'+doors.map(function(d){var w=DOOR[d.state]||[d.state,''];
        return '<div class="door '+esc(d.state)+'" data-door="'+esc(d.door)+'" title="'+esc(w[1])+'"><b>'+esc(d.door)+'</b>'+
          '<small>'+esc(d.size)+' '+esc(w[0])+'</small></div>'}).join('')+'</div></div>';
  }).join('');
}
function loadLockers(){
  if(!D.lockers.length){return}
  getJSON('/api/v1/lockers').then(function(list){list.forEach(function(lk){lockers[lk.locker]=lk});renderLockers()},function(){});
}
var renderSoon=null;
function deviceSoon(){if(!renderSoon){renderSoon=setTimeout(function(){renderSoon=null;renderDevices()},100)}}
function connect(){
  if(!window.EventSource){return}
  es=new EventSource('/api/v1/events');
  es.addEventListener('open',function(){setLive(true);loadHelp();loadAlarms()});
  es.addEventListener('error',function(){
    setLive(false);
    // a refused stream (503 while the server starts or stops) is closed for good: open a new one
    if(es.readyState===2){es=null;setTimeout(connect,3000)}
  });
  es.addEventListener('state',function(e){onState(JSON.parse(e.data))});
  es.addEventListener('device',function(e){putDevice(JSON.parse(e.data));deviceSoon()});
  es.addEventListener('alarm',function(e){var a=JSON.parse(e.data);if(a.event_id){fresh[a.event_id]=Date.now()}putAlarm(a);renderAlarms()});
  es.addEventListener('event',function(e){var m=JSON.parse(e.data);if(m.type&&m.type.indexOf('help_')===0){loadHelp()}});
}
function tick(){$('clock').textContent=fmtClock.format(new Date())}
renderDevices();renderAlarms();renderHelp();renderHall();renderLockers();tick();poll();connect();
setInterval(tick,1000);
setInterval(function(){renderDevices();renderAlarms();renderHall();if(help.length){renderHelp()}},5000);
setInterval(function(){if(!live){poll()}},4000);
})();
"""


def _json_for_script(value: Any) -> str:
    # the same embedding as the console and display pages: no `<` can close the script early
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def expected_devices(config: Config) -> list[dict[str, Any]]:
    """The devices the config names (the server, kiosks, displays, bridges, bus and GPIO devices)."""
    seen: dict[str, dict[str, Any]] = {DEVICE: {"device": DEVICE, "kind": "queue_server"}}
    for kiosk in config.kiosks:
        seen.setdefault(kiosk.id, {"device": kiosk.id, "kind": "kiosk"})
    for display in config.displays:
        seen.setdefault(display.id, {"device": display.id, "kind": "display"})
    for device in config.devices:
        if device.bridge:
            seen.setdefault(device.bridge, {"device": device.bridge, "kind": "bridge"})
        entry: dict[str, Any] = {"device": device.id, "kind": device.kind}
        if device.window:
            entry["window"] = device.window
        if device.bridge:
            entry["bridge"] = device.bridge
        seen.setdefault(device.id, entry)
    return list(seen.values())


def render(config: Config) -> str:
    """The dashboard page of the hall."""
    esc = html.escape
    hall = config.hall
    data = {
        "tz": hall.timezone,
        "windows": [{"id": w.id, "label": w.label, "label_en": w.label_en} for w in config.windows],
        "services": [
            {"id": s.id, "prefix": s.prefix, "name": s.name, "name_en": s.name_en} for s in config.services
        ],
        "expected": expected_devices(config),
        "lockers": [
            {
                "id": lk.id,
                "location": lk.location,
                "doors": [{"door": d.door, "size": d.size} for d in lk.doors],
            }
            for lk in config.lockers
        ],
    }
    lockers_card = (
        '<section class="card" id="lockers-card"><h2>自助文件柜<small>File lockers</small></h2>'
        '<div class="scroll" id="lockers"></div></section>'
        if config.lockers
        else ""
    )
    body = f"""
<header>
  <h1>{esc(hall.name)} · 运维看板<small>{esc(hall.name_en)} · Technicians' dashboard</small></h1>
  <span class="grow"></span>
  <div class="stat"><b id="n-online">0/0</b><span>在线 Online</span></div>
  <div class="stat" id="s-offline"><b id="n-offline">0</b><span>离线 Offline</span></div>
  <div class="stat" id="s-help"><b id="n-help">0</b><span>求助 Help</span></div>
  <div class="stat"><b id="n-alarms">0</b><span>告警 Alarms</span></div>
  <div class="stat"><b id="n-waiting">0</b><span>等候 Waiting</span></div>
  <span id="live">连接中 Connecting</span>
  <span id="clock"></span>
</header>
<main{' class="with-lockers"' if config.lockers else ""}>
  <section class="card" id="devices-card"><h2>设备<small>Devices</small></h2><div class="scroll" id="devices"></div></section>
  <section class="card" id="help-card"><h2>取号机求助<small>Help requests (帮办 · 绿色通道)</small></h2>
    <ul class="list scroll" id="help"></ul></section>
  <section class="card" id="alarms-card"><h2>告警<small>Recent alarms</small></h2><ul class="list scroll" id="alarms"></ul></section>
  <section class="card" id="hall-card"><h2>窗口与排队<small>Windows &amp; queues</small></h2>
    <div class="cols"><div class="scroll"><table id="windows"></table></div><div class="scroll"><table id="queues"></table></div></div>
  </section>{lockers_card}
</main>
<script type="application/json" id="dash-data">{_json_for_script(data)}</script>
<script>{SCRIPT}</script>
"""
    title = f"{hall.name} · 运维看板 Dashboard"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
