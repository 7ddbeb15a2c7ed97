"""The clerk's virtual caller, `/console/{window}`: every window action without hardware.

Plain HTML and vanilla JS, nothing from a CDN. The page follows the hall through the event
stream (`/api/v1/events`) and falls back to polling where EventSource is missing. Every
button sends an `Idempotency-Key` that stays the same while its request is in flight and for
a moment after, so a double click, or a retry after a lost answer, is one action.
No personal data reaches this page: tickets are numbers, clerks are staff numbers, locker
deposits show the citizen's number masked; the number a clerk types for a deposit leaves the
screen as soon as the deposit is made.
"""

# ruff: noqa: E501  (CSS and JS read best one rule or statement to a line)

from __future__ import annotations

import html
import json
from typing import Any

from yichuang.config_model import Config, WindowConfig

STYLE = """
:root{--ink:#1b2430;--muted:#5d6b7a;--line:#dde4ec;--bg:#eef2f6;--brand:#b4232a;--blue:#1f5fbf;
--green:#1b8a4b;--amber:#b7650b;--grey:#6b7785;--red:#c0392b}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font-size:17px;line-height:1.35;
font-family:"PingFang SC","Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",system-ui,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:center;gap:12px 20px;background:var(--brand);color:#fff;
padding:12px 20px}
header h1{margin:0;font-size:26px;letter-spacing:1px}
header h1 small{font-size:15px;font-weight:400;opacity:.85;margin-left:8px}
header .hall{font-size:14px;opacity:.9}
header .grow{flex:1}
.chip{display:inline-block;border-radius:999px;padding:4px 14px;font-weight:700;font-size:16px;background:#fff;color:var(--ink)}
.chip.idle{color:var(--blue)}.chip.calling{color:var(--green)}.chip.serving{color:var(--green)}
.chip.paused{color:var(--amber)}.chip.closed{color:var(--grey)}
.staff{display:flex;align-items:center;gap:8px;font-size:14px}
.staff input{width:120px;font:inherit;font-size:17px;padding:6px 10px;border-radius:8px;border:0}
.live{font-size:13px;opacity:.9}.live::before{content:"●";margin-right:4px;color:#7dffa8}
.live.off::before{color:#ffd27d}
main{display:grid;grid-template-columns:minmax(0,2fr) minmax(280px,1fr);gap:16px;padding:16px 20px;max-width:1280px;
margin:0 auto}
@media (max-width:820px){main{grid-template-columns:1fr;padding:12px}}
.card{background:#fff;border-radius:14px;box-shadow:0 2px 10px rgba(20,40,70,.07);padding:18px;margin-bottom:16px}
.card h2{margin:0 0 12px;font-size:18px}.card h2 small{color:var(--muted);font-weight:400;font-size:14px;margin-left:6px}
.current{display:flex;align-items:center;gap:24px;flex-wrap:wrap}
.number{font-size:96px;font-weight:800;letter-spacing:4px;line-height:1;font-variant-numeric:tabular-nums;min-width:3.2em}
.number.none{color:#c3ccd6}
.detail .state{font-size:26px;font-weight:700}
.detail .sub{color:var(--muted);font-size:16px;margin-top:4px}
.detail .timer{font-size:22px;font-variant-numeric:tabular-nums;margin-top:6px}
.actions{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:10px}
@media (max-width:560px){.actions{grid-template-columns:repeat(2,minmax(0,1fr))}.number{font-size:72px}}
button{font:inherit;border:0;border-radius:12px;padding:12px 10px;cursor:pointer;background:#e6ebf1;color:var(--ink);
font-weight:700;font-size:19px;line-height:1.2}
button small{display:block;font-weight:400;font-size:13px;opacity:.85}
button:disabled{opacity:.38;cursor:not-allowed}
button.primary{background:var(--blue);color:#fff;grid-column:span 2;font-size:26px;padding:18px 10px}
button.go{background:var(--green);color:#fff}
button.warn{background:#fbe9d7;color:#7a3f00}
button.busy{opacity:.6}
.line{display:flex;gap:10px;align-items:stretch;margin-top:10px;flex-wrap:wrap}
.line select,.line input{flex:1;min-width:150px;font:inherit;font-size:17px;padding:10px;border:1px solid var(--line);
border-radius:10px;background:#fff}
.line button{min-width:150px}
.message{min-height:52px;border-radius:12px;padding:12px 16px;font-size:18px;margin-bottom:16px;background:#fff;
border-left:6px solid var(--line)}
.message.ok{border-color:var(--green)}.message.err{border-color:var(--red);background:#fdf0ee}
.message small{display:block;color:var(--muted);font-size:13px}
ul.list{list-style:none;margin:0;padding:0}
ul.list li{display:flex;justify-content:space-between;align-items:center;gap:10px;padding:10px 0;
border-top:1px solid var(--line)}
ul.list li:first-child{border-top:0}
.count{font-size:30px;font-weight:800;font-variant-numeric:tabular-nums}
.muted{color:var(--muted);font-size:14px}
ul.list button{padding:8px 14px;font-size:16px}
.empty{color:var(--muted);font-size:15px;padding:6px 0}
.help li{background:#fff7e6;border-radius:10px;padding:10px;margin-bottom:8px;border-top:0}
.sms-failed{color:var(--red);font-weight:700;font-size:14px}
"""

SCRIPT = """
(function(){
var C=JSON.parse(document.getElementById('console-data').textContent);
var W=C.window, state=C.state, queues={}, help=[], keys={};
var $=function(id){return document.getElementById(id)};
var STATUS={closed:['已关闭','Closed'],idle:['空闲','Idle'],calling:['呼叫中','Calling'],
  serving:['办理中','Serving'],paused:['暂停中','Paused']};
var ERR={queue_empty:['暂无等候的群众','No one is waiting'],no_ticket:['当前没有号码','There is no current ticket'],
  window_paused:['窗口已暂停，请先恢复','The window is paused; resume it first'],
  window_closed:['窗口未开，请先开窗','The window is closed; open it first'],
  wrong_state:['当前状态下不能这样操作','Not possible in the current state'],
  invalid_request:['输入有误，请检查','Please check what you entered'],
  invalid_transfer:['不能转到该处','Cannot transfer there'],
  service_unavailable:['该事项暂无窗口办理','No window serves that service'],
  unknown_ticket:['找不到该号码','Ticket not found'],unknown_request:['找不到该求助','Help request not found'],
  unknown_window:['找不到该窗口','Window not found'],unknown_service:['找不到该事项','Service not found'],
  hall_closed:['大厅已停止取号','The hall is closed'],
  storage_error:['系统繁忙，请重试','The system is busy; please retry'],timeout:['系统繁忙，请重试','The system is busy; please retry'],
  network:['网络连接失败，请重试','Network error; please retry'],
  locker_full:['文件柜已满（或柜门故障）','The locker has no free door'],
  locker_offline:['文件柜未连接','The locker is not connected'],no_modem:['短信猫未配置，无法发送取件码','No SMS modem'],
  unknown_deposit:['找不到该存件','Deposit not found'],unknown_locker:['找不到该文件柜','Locker not found']};
var DONE={call_next:['已呼叫','Called'],call_parked:['已回呼','Called back'],recall:['已重呼','Recalled'],
  start:['开始办理','Service started'],finish:['已办结','Finished'],no_show:['已记未到','Marked no-show'],
  transfer:['已转移','Transferred'],park:['已挂起','Put on hold'],pause:['窗口已暂停','Window paused'],
  resume:['窗口已恢复','Window resumed'],open:['窗口已开','Window opened'],close:['窗口已关','Window closed'],
  resolve:['求助已处理','Help request resolved']};
function esc(s){return String(s==null?'':s).replace(/[&<>"']/g,function(c){return'&#'+c.charCodeAt(0)+';'})}
function newKey(){
  // crypto.randomUUID exists only on https or localhost; getRandomValues works on a LAN address too
  var a=new Uint8Array(16); (window.crypto||window.msCrypto).getRandomValues(a);
  return Array.prototype.map.call(a,function(b){return('0'+b.toString(16)).slice(-2)}).join('');
}
function keyFor(name){
  // the same button again, while its request is out or just after, is the same click; any
  // other button in between makes the next press a deliberate one
  var k=keys.last;
  if(k&&k.name===name&&(k.busy||Date.now()<k.until)){return k}
  k=keys.last={name:name,key:newKey(),busy:false,until:0};
  return k;
}
function say(kind,zh,en,detail){
  var m=$('message'); m.className='message '+kind;
  m.innerHTML=esc(zh)+' · '+esc(en)+(detail?'<small>'+esc(detail)+'</small>':'');
}
function staff(){
  var v=$('staff').value.trim();
  if(v&&!/^[A-Za-z0-9_.-]{1,32}$/.test(v)){say('err','工号只能包含字母和数字','Staff number: letters and digits only');return false}
  try{localStorage.setItem('yc-staff-'+W,v)}catch(e){}
  return v||null;
}
function post(url,name,body){
  var k=keyFor(name); k.busy=true; setBusy(true);
  return fetch(url,{method:'POST',headers:{'Content-Type':'application/json','Idempotency-Key':k.key},
    body:JSON.stringify(body||{})}).then(function(r){
      return r.json().catch(function(){return{}}).then(function(j){return{ok:r.ok,status:r.status,body:j}});
    },function(){return{ok:false,status:0,body:{error:{code:'network',message:''}}}})
    .then(function(res){
      // a lost answer keeps its key, so pressing again retries the same action
      k.busy=false; k.until=Date.now()+(res.status===0?60000:1500); setBusy(false);
      return res;
    });
}
function report(name,res){
  if(res.ok){
    var r=res.body, t=r.ticket?r.ticket.no:'', w=DONE[name]||['完成','Done'];
    say('ok',w[0]+' '+t,w[1]+' '+t);
    if(r.window&&r.window.window===W){applyWindow(r.window)}
    return;
  }
  var e=(res.body&&res.body.error)||{code:'network',message:''}, w2=ERR[e.code]||['操作未成功','The action did not succeed'];
  say('err',w2[0],w2[1],e.message);
  if(e.code==='queue_empty'){refresh()}
}
function act(name,body){
  return post('/api/v1/windows/'+encodeURIComponent(W)+'/'+name,name,body).then(function(res){report(name,res)});
}
function setBusy(b){document.body.classList.toggle('busy',b)}
function hallTime(iso){
  // the hall's clock, not the browser's: the store hands times back in UTC after a restart
  try{return new Date(iso).toLocaleTimeString('zh-CN',{timeZone:C.tz,hour:'2-digit',minute:'2-digit',hour12:false})}
  catch(e){return String(iso).slice(11,16)}
}
function serviceName(id){var s=C.services_all[id];return s?s[0]:(id||'')}
function applyWindow(s){state=s;renderWindow()}
function fmt(sec){sec=Math.max(0,Math.floor(sec));var m=Math.floor(sec/60),s=sec%60;return(m<10?'0':'')+m+':'+(s<10?'0':'')+s}
function tick(){
  var el=$('timer');
  if(state.since&&(state.status==='calling'||state.status==='serving')){
    el.textContent='用时 Elapsed '+fmt((Date.now()-Date.parse(state.since))/1000)}else{el.textContent=''}
}
function renderWindow(){
  var st=state.status, has=!!state.ticket, S=STATUS[st]||[st,st];
  $('chip').className='chip '+st; $('chip').textContent=S[0]+' '+S[1];
  $('number').textContent=has?state.ticket:'———'; $('number').classList.toggle('none',!has);
  $('state').textContent=has?(st==='serving'?'办理中 · Serving':(st==='paused'?'暂停中 · Paused':'已呼叫，等待群众到窗口 · Called')):
    (st==='closed'?'窗口已关闭 · Window closed':st==='paused'?'暂停中 · Paused':'请呼叫下一位 · Ready for the next citizen');
  var sub=has?serviceName(state.service):'';
  if(state.recall_count){sub+=(sub?' · ':'')+'已重呼 '+state.recall_count+' 次 · recalled '+state.recall_count+'×'}
  if(st==='paused'&&state.reason){sub+=(sub?' · ':'')+'原因 Reason: '+state.reason}
  $('sub').textContent=sub;
  var open=st!=='closed', paused=st==='paused', calling=has&&st!=='serving';
  var en={call_next:open&&!paused,recall:has&&calling,start:has&&calling,no_show:has&&calling,finish:has,
    transfer:has,park:has,pause:open&&!paused,resume:paused,open:!open,close:open&&!has};
  Object.keys(en).forEach(function(n){var b=document.querySelector('[data-act="'+n+'"]');if(b){b.disabled=!en[n]}});
  $('pause-line').classList.toggle('hidden',!open);
  renderParked(); tick();
  if((state.ticket||null)!==docsFor){loadDocs()}
}
function renderQueues(){
  var ul=$('queues'); ul.innerHTML='';
  C.services.forEach(function(s){
    var q=queues[s.id]||{}, m=q.ewt_s==null?'—':Math.ceil(q.ewt_s/60)+' 分钟 min';
    var li=document.createElement('li');
    li.innerHTML='<div><b>'+esc(s.prefix)+' '+esc(s.name)+'</b><div class="muted">'+esc(s.name_en)+' · 约 '+esc(m)+'</div></div>'+
      '<div class="count" data-service="'+esc(s.id)+'">'+(q.waiting==null?'–':q.waiting)+'</div>';
    ul.appendChild(li);
  });
}
function renderParked(){
  var ul=$('parked'), list=state.parked||[]; ul.innerHTML='';
  if(!list.length){ul.innerHTML='<li class="empty">没有挂起的号 · None on hold</li>';return}
  list.forEach(function(no){
    var li=document.createElement('li'), b=document.createElement('button');
    li.innerHTML='<span class="count" style="font-size:24px">'+esc(no)+'</span>';
    b.className='go'; b.textContent='回呼 Call back';
    b.disabled=state.status==='paused'||state.status==='closed';
    b.onclick=function(){var s=staff();if(s===false){return}var body={ticket:no};if(s){body.clerk=s}act('call_parked',body)};
    li.appendChild(b); ul.appendChild(li);
  });
}
function renderHelp(){
  var ul=$('help'); ul.innerHTML='';
  if(!help.length){ul.innerHTML='<li class="empty">暂无求助 · No open requests</li>';return}
  help.forEach(function(h){
    var li=document.createElement('li'), b=document.createElement('button');
    li.innerHTML='<div><b>'+esc(h.kiosk)+'</b> <span class="muted">'+esc(hallTime(h.at))+'</span>'+
      '<div class="muted">'+esc(h.reason||'需要帮助 · Needs help')+'</div></div>';
    b.textContent='已处理 Resolve';
    b.onclick=function(){
      var s=staff(); if(s===false){return}
      post('/api/v1/help/'+h.id+'/resolve','resolve-'+h.id,s?{by:s}:{}).then(function(res){report('resolve',res);loadHelp()});
    };
    li.appendChild(b); ul.appendChild(li);
  });
}
var docsFor;  // undefined until the first render, so that one loads the list
function loadDocs(){
  var ul=$('docs'); docsFor=state.ticket||null;
  if(!docsFor){ul.innerHTML='<li class="empty">没有当前号 · No current ticket</li>';return}
  fetch('/api/v1/windows/'+encodeURIComponent(W)+'/attachments',{cache:'no-store'})
    .then(function(r){return r.ok?r.json():[]}).then(function(list){
      ul.innerHTML='';
      if(!list.length){ul.innerHTML='<li class="empty">群众未扫描材料 · No scanned documents</li>';return}
      list.forEach(function(a,i){
        var li=document.createElement('li'), link=document.createElement('a');
        link.href='/api/v1/windows/'+encodeURIComponent(W)+'/attachments/'+encodeURIComponent(a.id);
        link.target='_blank'; link.rel='noopener';
        link.textContent=(a.mime==='application/pdf'?'PDF ':'第 '+(i+1)+' 页 Page ')+(a.material?'· '+a.material:'');
        li.appendChild(link);
        var size=document.createElement('span'); size.className='muted';
        size.textContent=Math.round(a.size/1024)+' KB'; li.appendChild(size); ul.appendChild(li);
      });
    },function(){});
}
function loadDeposits(){
  if(!C.lockers.length){return}
  fetch('/api/v1/lockers',{cache:'no-store'}).then(function(r){return r.ok?r.json():[]}).then(function(list){
    var ul=$('deposits'); ul.innerHTML='';
    var mine=[];
    list.forEach(function(lk){lk.deposits.forEach(function(d){if(d.window===W){mine.push(d)}})});
    if(!mine.length){ul.innerHTML='<li class="empty">本窗口暂无存件 · Nothing deposited by this window</li>';return}
    mine.forEach(function(d){
      var li=document.createElement('li'), b=document.createElement('button');
      var sms=d.sms==='failed'?'<div class="sms-failed">短信未发出：请取回后重新存入 · SMS failed: take back, deposit again</div>':
        d.sms==='sent'?' · 短信已发 SMS sent':' · 短信发送中 SMS pending';
      // past its pickup date the result goes back to the window: say so on the deposit
      var late=Date.parse(d.expires_at)<Date.now()?'<div class="sms-failed overdue">已过取件期：请取回 · Past its pickup date: take it back</div>':'';
      li.innerHTML='<div><b>'+esc(d.door)+'号门</b> <span class="muted">'+esc(d.phone)+(d.case?' · '+esc(d.case):'')+
        '</span><div class="muted">'+esc(hallTime(d.deposited_at))+' · 至 until '+esc(String(d.expires_at).slice(5,10))+
        (d.sms==='failed'?'':sms)+'</div>'+(d.sms==='failed'?sms:'')+late+'</div>';
      b.textContent='取回 Take back';
      b.onclick=function(){
        post('/api/v1/lockers/'+encodeURIComponent(d.locker)+'/withdraw','withdraw-'+d.id,{deposit:d.id,window:W})
          .then(function(res){
            if(res.ok){say('ok','已取回，'+res.body.door+'号门已打开','Taken back: door '+res.body.door+' is open')}
            else{report('withdraw',res)}
            loadDeposits();
          });
      };
      li.appendChild(b); ul.appendChild(li);
    });
  },function(){});
}
function deposit(){
  var phone=$('dep-phone').value.replace(/\\s/g,''), body={window:W,phone:phone};
  if(!/^\\+?[0-9]{6,15}$/.test(phone)){say('err','请输入群众的手机号','Enter the citizen’s mobile number');return}
  if($('dep-case').value.trim()){body['case']=$('dep-case').value.trim()}
  if($('dep-size').value){body.size=$('dep-size').value}
  // a double click is one deposit; another citizen's number straight after is another
  var what='deposit:'+phone+':'+(body['case']||'')+':'+(body.size||'');
  post('/api/v1/lockers/'+encodeURIComponent($('dep-locker').value)+'/deposit',what,body).then(function(res){
    if(res.ok){
      // the number leaves the screen once it has done its job
      $('dep-phone').value=''; $('dep-case').value='';
      say('ok','已存入 '+res.body.door+' 号门，取件码已短信发送','In door '+res.body.door+'; the pickup code went by SMS');
    }else{report('deposit',res)}
    loadDeposits();
  });
}
function loadHelp(){
  fetch('/api/v1/help',{cache:'no-store'}).then(function(r){return r.ok?r.json():[]})
    .then(function(list){help=list;renderHelp()},function(){});
}
function refresh(){
  fetch('/api/v1/windows/'+encodeURIComponent(W),{cache:'no-store'}).then(function(r){return r.json()})
    .then(function(s){if(s.window){applyWindow(s)}},function(){});
  fetch('/api/v1/queues',{cache:'no-store'}).then(function(r){return r.json()})
    .then(function(list){list.forEach(function(q){queues[q.service]=q});renderQueues()},function(){});
}
function onState(m){
  if(m.topic==='state/window/'+W){applyWindow(m.payload)}
  else if(m.topic.indexOf('state/queue/')===0){queues[m.payload.service]=m.payload;renderQueues()}
}
function connect(){
  // documents may be scanned while the citizen is already at the window
  setInterval(function(){if(state.ticket){loadDocs()}},15000);
  if(!window.EventSource){setInterval(function(){refresh();loadHelp()},3000);return}
  var es=new EventSource('/api/v1/events');
  es.addEventListener('open',function(){$('live').className='live';$('live').textContent='实时 Live';loadHelp()});
  es.addEventListener('error',function(){$('live').className='live off';$('live').textContent='重连中 Reconnecting'});
  es.addEventListener('state',function(e){onState(JSON.parse(e.data))});
  es.addEventListener('event',function(e){var m=JSON.parse(e.data);if(m.type&&m.type.indexOf('help_')===0){loadHelp()}
    if(m.type&&m.type.indexOf('locker_')===0){loadDeposits()}});
}
function wire(){
  document.querySelectorAll('[data-act]').forEach(function(b){
    b.addEventListener('click',function(){
      var n=b.dataset.act, body={}, s;
      if(n==='call_next'||n==='resume'||n==='open'){s=staff();if(s===false){return}if(s){body.clerk=s}}
      if(n==='finish'&&$('outcome').value){body.outcome=$('outcome').value}
      if(n==='pause'&&$('reason').value.trim()){body.reason=$('reason').value.trim()}
      if(n==='transfer'){
        var v=$('target').value;
        if(!v){say('err','请先选择转往的事项或窗口','Choose a service or window first');return}
        var p=v.split(':'); body[p[0]]=p[1];
      }
      act(n,body);
    });
  });
  if(C.lockers.length){$('deposit').addEventListener('click',deposit)}
  try{$('staff').value=localStorage.getItem('yc-staff-'+W)||''}catch(e){}
  $('staff').addEventListener('change',staff);
}
wire(); renderWindow(); renderQueues(); renderHelp(); refresh(); loadHelp(); loadDeposits(); connect();
setInterval(tick,1000);
})();
"""


def _json_for_script(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{STYLE}.hidden{{display:none}}</style></head>"
        f"<body>{body}</body></html>"
    )


def render(config: Config, window: WindowConfig, state: dict[str, object]) -> str:
    """The console of one window; `state` is its `state/window` payload at the time of the request."""
    esc = html.escape
    services = [config.service(s) for s in window.services]
    data = {
        "window": window.id,
        "tz": config.hall.timezone,
        "state": state,
        "services": [
            {"id": s.id, "prefix": s.prefix, "name": s.name, "name_en": s.name_en}
            for s in services
            if s is not None
        ],
        "services_all": {s.id: [s.name, s.name_en] for s in config.services},
        "lockers": [lk.id for lk in config.lockers],
    }
    service_options = "".join(
        f'<option value="service:{esc(s.id)}">事项 {esc(s.prefix)} {esc(s.name)} · {esc(s.name_en)}</option>'
        for s in config.services
    )
    window_options = "".join(
        f'<option value="window:{esc(w.id)}">窗口 {esc(w.label)} · {esc(w.label_en)}</option>'
        for w in config.windows
        if w.id != window.id
    )
    ticket = state.get("ticket")
    number = esc(str(ticket)) if ticket else "———"
    locker_options = "".join(
        f'<option value="{esc(lk.id)}">{esc(lk.id)} {esc(lk.location)}</option>' for lk in config.lockers
    )
    locker_card = (
        f"""
    <section class="card"><h2>存入自助文件柜<small>Deposit in the file locker</small></h2>
      <div class="line" style="margin-top:0">
        <select id="dep-locker" aria-label="文件柜 Locker"{" class='hidden'" if len(config.lockers) == 1 else ""}>{locker_options}</select>
        <input id="dep-phone" inputmode="tel" autocomplete="off" maxlength="20" placeholder="群众手机号 · Mobile">
      </div>
      <div class="line">
        <input id="dep-case" maxlength="64" autocomplete="off" placeholder="办件编号（可选）· Case no. (optional)">
        <select id="dep-size" aria-label="柜门大小 Door size"><option value="">小门 S</option>
          <option value="M">中门 M</option><option value="L">大门 L</option></select>
        <button class="go" id="deposit">存入<small>Deposit</small></button>
      </div>
      <ul id="deposits" class="list" style="margin-top:10px"></ul>
    </section>"""
        if config.lockers
        else ""
    )
    body = f"""
<header>
  <h1>{esc(window.label)}<small>{esc(window.label_en)}</small></h1>
  <span id="chip" class="chip {esc(str(state.get("status", "")))}">{esc(str(state.get("status", "")))}</span>
  <span class="hall">{esc(config.hall.name)} · 虚拟叫号器 Virtual caller</span>
  <span class="grow"></span>
  <label class="staff">工号 Staff No.
    <input id="staff" inputmode="latin" autocomplete="off" maxlength="32" placeholder="例 1024"></label>
  <span id="live" class="live off">连接中 Connecting</span>
</header>
<main>
  <div>
    <section class="card">
      <h2>当前号码<small>Current ticket</small></h2>
      <div class="current">
        <div id="number" class="number{"" if ticket else " none"}">{number}</div>
        <div class="detail"><div id="state" class="state"></div><div id="sub" class="sub"></div>
          <div id="timer" class="timer"></div></div>
      </div>
    </section>
    <div id="message" class="message" role="status" aria-live="polite">
      就绪 · Ready<small>按“呼叫下一位”开始 · Press “Call next” to begin</small></div>
    <section class="card">
      <div class="actions">
        <button class="primary" data-act="call_next">呼叫下一位<small>Call next</small></button>
        <button data-act="recall">重呼<small>Recall</small></button>
        <button class="go" data-act="start">开始办理<small>Start</small></button>
        <button class="warn" data-act="no_show">未到<small>No-show</small></button>
        <button data-act="park">挂起<small>Park / hold</small></button>
      </div>
      <div class="line">
        <select id="outcome" aria-label="办理结果 Outcome">
          <option value="">按事项默认结果 · Default for the service</option>
          <option value="done">当场办结 · Done</option>
          <option value="accepted">当场受理 · Accepted</option>
          <option value="received">当场收件 · Received</option>
          <option value="rejected">不予受理 · Rejected</option>
        </select>
        <button class="go" data-act="finish">办结<small>Finish</small></button>
      </div>
      <div class="line">
        <select id="target" aria-label="转往 Transfer to">
          <option value="">转往… · Transfer to…</option>
          <optgroup label="事项 Services">{service_options}</optgroup>
          <optgroup label="窗口 Windows">{window_options}</optgroup>
        </select>
        <button data-act="transfer">转移<small>Transfer</small></button>
      </div>
    </section>
    <section class="card">
      <h2>窗口<small>Window</small></h2>
      <div id="pause-line" class="line" style="margin-top:0">
        <input id="reason" maxlength="100" placeholder="暂停原因（可选）· Pause reason (optional)">
        <button class="warn" data-act="pause">暂停<small>Pause</small></button>
        <button class="go" data-act="resume">恢复<small>Resume</small></button>
      </div>
      <div class="line">
        <button class="go" data-act="open">开窗<small>Open window</small></button>
        <button data-act="close">关窗<small>Close window</small></button>
      </div>
    </section>
  </div>
  <aside>
    <section class="card"><h2>等候人数<small>Waiting</small></h2><ul id="queues" class="list"></ul></section>
    <section class="card"><h2>挂起的号<small>On hold</small></h2><ul id="parked" class="list"></ul></section>
    <section class="card"><h2>取号机求助<small>Help requests</small></h2><ul id="help" class="list help"></ul></section>
    <section class="card"><h2>扫描材料<small>Scanned documents</small></h2><ul id="docs" class="list"></ul></section>{locker_card}
  </aside>
</main>
<script type="application/json" id="console-data">{_json_for_script(data)}</script>
<script>{SCRIPT}</script>
"""
    return _page(f"{window.label} · 虚拟叫号器", body)


def not_found(config: Config, window: str) -> str:
    """A 404 page that lists the hall's windows, so a mistyped address is one click from right."""
    esc = html.escape
    links = "".join(
        f'<li><a href="/console/{esc(w.id)}">{esc(w.label)} · {esc(w.label_en)}</a></li>'
        for w in config.windows
    )
    body = f"""
<header><h1>{esc(config.hall.name)}<small>{esc(config.hall.name_en)}</small></h1></header>
<main style="display:block;max-width:640px">
  <section class="card">
    <h2>没有这个窗口<small>No such window: {esc(window[:64])}</small></h2>
    <p>请选择您的窗口 · Choose your window:</p>
    <ul style="font-size:20px;line-height:1.8">{links}</ul>
  </section>
</main>"""
    return _page("没有这个窗口 · Window not found", body)
