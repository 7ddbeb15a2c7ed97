"""Every sentence the kiosk shows or speaks, in Chinese and English (pure).

Kept in one table so a hall can review the wording in one place and so that a missing
translation is a test failure, not an empty button.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "TEXTS", "error_text", "minutes_text", "t"]

LANGUAGES = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    # home
    "take": ("取号", "Take a ticket"),
    "take_sub": ("选择业务，领取排队号", "Choose a service and get a number"),
    "checkin": ("预约签到", "Appointment check-in"),
    "checkin_sub": ("输入预约码或扫二维码", "Type your code or show the QR"),
    "guide": ("办事指南", "Service guide"),
    "guide_sub": ("条件、材料、时限、收费", "Conditions, documents, fees"),
    "help": ("帮办服务", "Ask for help"),
    "help_sub": ("工作人员来帮您", "A staff member comes to you"),
    "green": ("绿色通道", "Priority lane"),
    "green_sub": ("老年人、残疾人、孕妇优先", "Elderly, disabled, pregnant"),
    "pickup": ("取件", "Pick up results"),
    "pickup_sub": ("凭短信取件码领取办理结果", "With the code from your SMS"),
    "elderly_on": ("长辈模式", "Large text"),
    "elderly_off": ("标准模式", "Standard"),
    "language": ("English", "中文"),
    "welcome": ("欢迎您！请选择您要办理的事项", "Welcome! What would you like to do?"),
    # service lists
    "choose_area": ("请选择业务类别", "Choose a category"),
    "choose_service": ("请选择要办理的业务", "Choose a service"),
    "choose_service_guide": ("请选择要查看的事项", "Choose a service to read about"),
    "search": ("拼音搜索", "Search"),
    "search_hint": ("输入拼音首字母，如 bdc = 不动产", "Type pinyin initials or English, e.g. bdc"),
    "no_match": ("没有找到相关业务", "Nothing found"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "back": ("返回", "Back"),
    "home": ("首页", "Home"),
    "clear": ("清空", "Clear"),
    "delete": ("删除", "Delete"),
    "ok": ("确定", "OK"),
    "waiting_n": ("等候 {n} 人", "{n} waiting"),
    "wait_about": ("约 {m}", "about {m}"),
    "wait_unknown": ("暂无窗口", "no window open"),
    # one service
    "now_waiting": ("当前等候", "Waiting now"),
    "est_wait": ("预计等候", "Estimated wait"),
    "people": ("{n} 人", "{n}"),
    "take_this": ("确认取号", "Get my number"),
    "take_green": ("绿色通道取号", "Get a priority number"),
    "green_note": ("绿色通道：工作人员将引导您优先办理", "Priority lane: a staff member will guide you"),
    "sms_optional": ("短信提醒（可选）", "SMS reminder (optional)"),
    "sms_set": ("短信提醒：{phone}", "SMS to {phone}"),
    "read_guide": ("查看办事指南", "Read the guide"),
    "flow_finish_on_spot": ("当场办结", "Done on the spot"),
    "flow_accept_on_spot": ("当场受理", "Accepted on the spot"),
    "flow_receive_only": ("当场收件", "Documents received"),
    # guide
    "conditions": ("办理条件", "Conditions"),
    "materials": ("申请材料", "Documents to bring"),
    "key_material": ("必交", "Required"),
    "nonkey_material": ("可容缺", "May follow later"),
    "nonkey_note": (
        "标“可容缺”的材料可先受理、限期补交（容缺受理）",
        "Documents marked “may follow later” can be handed in after acceptance",
    ),
    "time_limit": ("承诺时限", "Time limit"),
    "days": ("{n} 个工作日", "{n} working days"),
    "on_the_spot": ("即办", "Same day"),
    "fee": ("收费标准", "Fee"),
    "place": ("办理地点", "Where"),
    "copies": ("{n} 份", "{n} copies"),
    "form_original": ("原件", "original"),
    "form_copy": ("复印件", "copy"),
    "form_original_and_copy": ("原件及复印件", "original and copy"),
    "form_electronic": ("电子材料", "electronic"),
    "take_for_this": ("办理此事项", "Take a ticket for this"),
    # phone
    "phone_title": ("请输入手机号码", "Enter your mobile number"),
    "phone_hint": (
        "快轮到您时发短信提醒，号码仅用于本次提醒",
        "We text you when your turn is near; used only for this",
    ),
    "phone_bad": ("请输入 11 位手机号码", "Please enter an 11-digit mobile number"),
    # issuing and result
    "issuing": ("正在为您取号…", "Getting your number…"),
    "your_number": ("您的号码", "Your number"),
    "ahead_n": ("前面还有 {n} 人", "{n} ahead of you"),
    "printing": ("正在打印…", "Printing…"),
    "take_receipt": ("请取走小票，留意叫号", "Please take your ticket and watch the screens"),
    "print_failed": (
        "小票未能打印，请记住您的号码",
        "The ticket could not be printed: please remember your number",
    ),
    "no_printer": ("请记住您的号码，或扫码查看进度", "Remember your number or scan to follow it"),
    "scan_status": ("扫码查看排队进度", "Scan to follow your place"),
    "done": ("完成", "Done"),
    "appointment_ticket": ("预约号，优先叫号", "Appointment: called first"),
    "green_ticket": ("绿色通道，已通知工作人员", "Priority lane: staff notified"),
    # check-in
    "checkin_title": (
        "请输入预约码，或将预约二维码对准摄像头",
        "Type your appointment code or hold its QR to the camera",
    ),
    "checking_in": ("正在签到…", "Checking in…"),
    "camera_off": ("摄像头不可用，请输入预约码", "Camera unavailable: please type the code"),
    "qr_seen": ("已识别二维码", "QR code read"),
    # the file locker
    "pickup_title": ("请输入短信中的 6 位取件码", "Type the 6-digit pickup code from your SMS"),
    "pickup_ok": ("确认", "Confirm"),
    "pickup_sms": ("取件码在短信里，例如：", "The code is in the SMS, for example:"),
    "pickup_sms_example": ("……文件柜3号门，取件码123456，请于……", "…取件码123456… (取件码: pickup code)"),
    "pickup_no_code": (
        "没收到短信或忘了取件码？请联系工作人员",
        "No SMS, or lost the code? Please ask a staff member",
    ),
    "picking_up": ("正在核对取件码…", "Checking your code…"),
    "pickup_door_label": ("柜门号", "Door"),
    "pickup_door": (
        "请到 {door} 号柜门取件",
        "Door {door} is open: please take your documents and close the door",
    ),
    "pickup_close": ("柜门已打开，取件后请关好柜门", "Push the door shut until it clicks"),
    # scanning materials
    "scan": ("扫描材料", "Scan documents"),
    "scan_sub": ("先传给窗口，办理更快", "Send them ahead to the window"),
    "scan_title": (
        "请将材料平放在摄像头下，一次一页",
        "Lay each document flat under the camera, one page at a time",
    ),
    "scan_checklist": ("本事项所需材料（点按勾选）", "Documents for this service (tap to tick)"),
    "scan_pages": ("已拍 {n} 页", "{n} pages captured"),
    "scan_send": ("完成，发送 {n} 页", "Done: send {n} pages"),
    "scan_sent": ("已将 {n} 页材料发送到窗口", "{n} pages sent to the window"),
    "uploading": ("正在发送材料…", "Sending your documents…"),
    "guide_nothing_found": ("请放入一页材料", "Place a page under the camera"),
    "guide_move_closer": ("请将材料放在取景框中间", "Move the page to the middle"),
    "guide_too_dark": ("光线太暗", "Too dark"),
    "guide_hold_still": ("请保持不动", "Hold still"),
    "guide_blurry": ("画面模糊，请保持不动", "Blurred: hold still"),
    "guide_capturing": ("正在拍摄…", "Capturing…"),
    "guide_captured": ("已拍下，请换下一页", "Captured: next page please"),
    "guide_remove_page": ("已拍下，请换下一页", "Captured: next page please"),
    # help
    "help_sending": ("正在呼叫工作人员…", "Calling a staff member…"),
    "help_sent": ("已通知工作人员，请在此稍候", "A staff member is on the way; please wait here"),
    # unavailable
    "unavailable": (
        "取号系统暂时无法连接，暂停取号，请到服务台咨询",
        "Ticketing is unavailable right now. Please ask at the service desk",
    ),
    "unavailable_short": ("暂停取号", "Ticketing paused"),
    "paper_out": (
        "打印纸已用完，暂停取号，已通知工作人员。请使用其他取号机或到服务台",
        "Out of paper: ticketing paused and staff notified. Please use another kiosk",
    ),
    "paper_low": ("打印纸即将用完", "Paper low"),
    "printer_offline": (
        "打印机暂不可用，号码将显示在屏幕上",
        "Printer unavailable: your number is shown on screen",
    ),
    "retry_later": ("请稍后再试", "Please try again shortly"),
}

ERRORS: dict[str, tuple[str, str]] = {
    "upload_failed": (
        "材料未能发送，请到窗口时出示原件",
        "The documents could not be sent; please show them at the window",
    ),
    "hall_closed": ("现在不是办公时间，无法取号", "The hall is closed now"),
    "wrong_code": ("预约码不正确，请核对后重新输入", "That code is not right; please check it"),
    "locked_out": (
        "错误次数过多，请到服务台办理签到",
        "Too many wrong codes; please ask at the service desk",
    ),
    "unknown_service": ("该业务暂不能取号", "This service cannot be chosen here"),
    "no_answer": (
        "系统没有响应，请稍后再试（重试不会重复取号）或到服务台",
        "The system did not answer. Try again (you will not get two numbers) or ask the desk",
    ),
    "link_down": ("取号系统暂时无法连接", "Ticketing is unavailable right now"),
    "paper_out": ("打印纸已用完，暂停取号", "Out of paper: ticketing paused"),
    "appointment_used": ("该预约已签到", "This appointment is already checked in"),
    "appointment_not_due": ("还未到预约时段，请稍后签到", "Too early for this appointment; check in later"),
    "appointment_expired": ("预约时段已过，请重新取号", "This appointment has expired; please take a ticket"),
    "service_unavailable": ("该业务今日暂停取号", "This service takes no more tickets today"),
    # the file locker: its own wording, since the check-in and ticket sentences would mislead
    "pickup_wrong_code": ("取件码不对，请核对短信", "That code is not right: check the SMS"),
    "pickup_locked_out": (
        "错误次数过多，请10分钟后再试或联系工作人员",
        "Too many wrong codes: try again in 10 minutes or ask staff",
    ),
    "pickup_no_answer": (
        "系统没有响应，请返回再按一次确认，或联系工作人员",
        "The system did not answer: go back and press Confirm again, or ask staff",
    ),
    "pickup_link_down": (
        "取件系统暂时无法连接，请稍后再试或联系工作人员",
        "Pickup is unavailable right now: try again shortly or ask staff",
    ),
    "pickup_locker_offline": (
        "文件柜暂时无法开门，请联系工作人员",
        "The locker cannot open a door right now: please ask staff",
    ),
    "pickup_failed": ("暂时无法取件，请联系工作人员", "Pickup is not possible right now: please ask staff"),
}


def t(key: str, language: str, **values: object) -> str:
    """The text for `key` in `language` (`zh` or `en`), with `{placeholders}` filled."""
    zh, en = TEXTS[key]
    text = en if language == "en" else zh
    return text.format(**values) if values else text


def error_text(code: str, language: str) -> str:
    """What a citizen reads for a server error code; unknown codes get a generic sentence."""
    generic = ("暂时无法办理，请到服务台咨询", "This cannot be done here; please ask the desk")
    zh, en = ERRORS.get(code, generic)
    return en if language == "en" else zh


def minutes_text(seconds: int | None, language: str) -> str:
    """`约 15 分钟` / `about 15 min`; under a minute shows `1`, `None` shows no window open."""
    if seconds is None:
        return t("wait_unknown", language)
    minutes = max(1, round(seconds / 60))
    return f"{minutes} 分钟" if language == "zh" else f"{minutes} min"
