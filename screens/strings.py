"""Every word on the screens, Chinese first with English beside it; `t(key)` picks the language."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("政务服务自助终端", "Government Self-Service"),
    "find": ("查找服务", "Find a service"),
    "find_hint": ("按部门浏览或搜索", "Browse or search"),
    "do_here": ("在本机办理", "Do it here"),
    "do_here_hint": ("刷身份证，当场办结", "With your ID card"),
    "progress": ("办件进度", "Case progress"),
    "progress_tile": ("扫回执二维码或输入编号", "Scan or key in the number"),
    "book": ("预约办理", "Book a visit"),
    "book_hint": ("选日期和时段", "Pick a date and time"),
    "rate": ("好差评", "Rate a service"),
    "rate_hint": ("说说您的感受", "Tell us how it went"),
    "help": ("帮助", "Help"),
    "help_hint": ("呼叫工作人员 · 12345", "Call staff · 12345"),
    "elder_on": ("长辈模式：开", "Large text: on"),
    "elder_off": ("长辈模式", "Large text"),
    "language": ("English", "中文"),
    "offline": ("网络暂时中断：您的办理会保存在本机，恢复后自动上报。", "Offline: what you do is kept and sent later."),
    "printer_out": ("打印机暂不可用（{reason}），可用手机拍照或到窗口打印。", "Printer unavailable ({reason})."),
    "back": ("返回", "Back"),
    "home": ("首页", "Home"),
    "departments": ("按部门查找", "By department"),
    "search": ("搜索", "Search"),
    "search_hint": ("输入拼音、首字母或汉字，如 sbk、公积金提取", "Type pinyin, initials or Chinese"),
    "no_results": ("没有找到相关事项，换个说法试试，或拨打 12345。", "Nothing found. Try other words or call 12345."),
    "clear": ("清空", "Clear"),
    "delete": ("删除", "Delete"),
    "items_of": ("{department} · {count} 项", "{department} · {count} services"),
    "item_count": ("{count} 项", "{count} services"),
    "conditions": ("办理条件", "Conditions"),
    "materials": ("申请材料", "Materials"),
    "steps": ("办理流程", "Steps"),
    "time_limit": ("承诺时限", "Promised time"),
    "fee": ("收费标准", "Fee"),
    "result": ("办理结果", "Result"),
    "applicants": ("申请对象", "Who may apply"),
    "channels": ("办理渠道", "Where"),
    "faq": ("常见问题", "Questions"),
    "print_notice": ("打印一次性告知单", "Print the checklist"),
    "printed": ("已打印，请在出纸口取走。", "Printed. Please take it."),
    "print_again": ("再打印一份", "Print another copy"),
    "printing": ("正在打印……", "Printing…"),
    "cannot_print": ("打印机暂不可用：{reason}", "Printer unavailable: {reason}"),
    "identify_title": ("请刷居民身份证", "Place your ID card"),
    "identify_hint": ("请将居民身份证平放在下方读卡区，不要移动，直到听到提示。",
                      "Lay your ID card flat on the reader below and keep it still."),
    "identified": ("已识别：{name}  {id_number}", "Identified: {name}  {id_number}"),
    "reader_down": ("读卡器暂不可用（{reason}），请到窗口办理或呼叫工作人员。",
                    "The card reader is unavailable ({reason}). Please go to a window or call staff."),
    "card_error": ("读卡失败，请取下身份证后重新平放。", "Could not read the card. Take it off and place it again."),
    "card_removed": ("已取走身份证。", "Card taken away."),
    "card_lifted": ("身份证已取走，请放回同一张身份证继续填写。",
                    "Your ID card was taken away. Put it back to carry on."),
    "card_lifted_countdown": ("{seconds} 秒后将清除已填写的内容", "What you filled in is cleared in {seconds} s"),
    "grace_leave": ("不填了，返回首页", "Stop and go home"),
    "card_lifted_cleared": ("身份证已取走，已填写的内容已清除。", "Your ID card was taken away; the form was cleared."),
    "card_other": ("这是另一张身份证，之前填写的内容已清除。", "This is a different ID card; the form was cleared."),
    "next": ("下一步", "Next"),
    "apply_title": ("填写申请：{item}", "Apply: {item}"),
    "applicant": ("申请人：{name}  {id_number}", "Applicant: {name}  {id_number}"),
    "submit": ("确认提交", "Submit"),
    "missing": ("请填写：{label}", "Please fill in: {label}"),
    "receipt_title": ("已受理", "Accepted"),
    "receipt_number": ("受理编号", "Receipt number"),
    "receipt_printed": ("回执已打印，请在出纸口取走。", "Your receipt is printed. Please take it."),
    "receipt_not_printed": ("回执未能打印（{reason}），请拍照保存受理编号；申请已保存，不受影响。",
                            "The receipt could not be printed ({reason}). Please photograph the number; "
                            "your application is saved."),
    "finish": ("完成并退出", "Finish"),
    "book_which": ("请选择要预约的事项", "Which service would you like to book?"),
    "book_none": ("请先查找要办理的事项，在办事指南页点“预约办理”。",
                  "Find the service first, then press Book on its page."),
    "book_identify": ("预约需要刷居民身份证", "Booking needs your ID card"),
    "book_day": ("选择日期", "Choose a day"),
    "book_half": ("选择时段", "Choose a time"),
    "am": ("上午", "Morning"),
    "pm": ("下午", "Afternoon"),
    "book_confirm": ("确认预约", "Book it"),
    "book_pick": ("请选择日期和时段。", "Please choose a day and a time."),
    "booked": ("已预约：{day} {half}，预约编号 {number}", "Booked: {day} {half}, number {number}"),
    "slip_printed": ("预约凭条已打印，请带好居民身份证按时到大厅取号。", "Your slip is printed. Bring your ID card."),
    "slip_not_printed": ("凭条未能打印（{reason}），请拍照记下预约编号。",
                         "No slip ({reason}): please note the number."),
    "progress_hint": ("扫描回执上的二维码，或输入26位受理编号",
                      "Scan the receipt's QR code or key in its 26-character number"),
    "progress_ask": ("查询", "Look up"),
    "progress_asking": ("正在查询……", "Asking…"),
    "progress_not_found": ("未找到该受理编号，请核对后重试。", "No case with this number. Please check it."),
    "progress_item_gone": ("已下线事项", "a withdrawn service"),
    "progress_here_waiting": ("本机已于 {at} 受理“{item}”，正在等待上报，上报后即可查询办理进度。",
                              "Filed at this booth at {at} ({item}); waiting to be sent. Progress shows once it is."),
    "progress_here_sent": ("本机已于 {at} 受理“{item}”，已上报。网络恢复后可查询办理进度。",
                           "Filed at this booth at {at} ({item}) and sent. Progress shows when the booth is online."),
    "scan_error": ("没有读出二维码，请再扫一次。", "The code could not be read. Please scan again."),
    "bundles": ("一件事一次办", "Life events, done in one go"),
    "rate_title": ("好差评", "Rate the service"),
    "rate_which": ("请选择要评价的事项", "Which service would you like to rate?"),
    "rate_none": ("请先查找您办理的事项，在办事指南页点“评价”。",
                  "Find the service first, then press Rate on its page."),
    "rate_question": ("您对“{item}”的办理满意吗？", "How was “{item}”?"),
    "rate_why": ("请告诉我们哪里不满意（可多选）：", "What went wrong? (choose any)"),
    "rate_send": ("提交评价", "Send"),
    "rate_pick_level": ("请先选择一个评价等级。", "Please choose a level first."),
    "rate_thanks": ("感谢您的评价！我们会认真改进。", "Thank you. We will act on it."),
    "rate_button": ("评价", "Rate"),
    "apply_here": ("在本机申请", "Apply here"),
    "countdown": ("{seconds} 秒后将返回首页并清除您的信息", "Back to start in {seconds} s; your data will be cleared"),
    "still_here": ("我还在用", "I'm still here"),
    "channel_self_service": ("本自助机", "this kiosk"),
    "channel_online": ("网上办理", "online"),
    "channel_window": ("大厅窗口", "service window"),
    "help_title": ("需要帮助？", "Need help?"),
    "help_text": ("遇到困难？按“呼叫工作人员”，可以请工作人员帮您，也可以留下电话等回电。"
                  "还可以拨打政务服务便民热线 12345。",
                  "Stuck? Press “Call staff” to ask a member of staff for help, or leave a number for a call "
                  "back. Or call the 12345 hotline."),
    "call_staff": ("呼叫工作人员", "Call staff"),
    "need_help": ("需要帮助", "Need help"),
    "assist_open": ("求助进度", "My call for help"),
    "assist_title": ("需要帮助", "Need help"),
    "assist_how": ("您希望怎样获得帮助？", "How would you like to be helped?"),
    "assist_on_site": ("到机旁帮助", "Someone comes here"),
    "assist_on_site_hint": ("工作人员到这台机器旁帮您", "A member of staff comes to this booth"),
    "assist_call_back": ("电话回拨", "Call me back"),
    "assist_call_back_hint": ("留下电话，工作人员给您打过来", "Leave your number; staff will call you"),
    "assist_or_hotline": ("也可以直接拨打政务服务便民热线 12345", "Or call the 12345 hotline yourself"),
    "phone_title": ("请输入回拨电话", "Your phone number"),
    "phone_hint": ("手机 11 位；座机加区号", "A mobile (11 digits), or a landline with its area code"),
    "phone_use": ("号码只用于给您回电", "Used only to call you back"),
    "phone_confirm": ("确认，请给我回电", "Call me back on this number"),
    "assist_status_title": ("求助进度", "Your call for help"),
    "assist_saved": ("求助已保存，联网后会自动发送。\n急需帮助请拨打 12345",
                     "Your call is saved and will be sent automatically once the booth is online. "
                     "If it is urgent, call 12345."),
    "assist_held": ("本机暂时无法发出求助（网络连接未加密，需维护人员处理）。\n急需帮助请拨打 12345",
                    "This booth cannot send your call for help right now (its connection is not secured; a "
                    "maintainer must fix it). If it is urgent, call 12345."),
    "assist_sending": ("正在发送您的求助，请稍候……", "Sending your call for help…"),
    "assist_queued": ("求助已送达，正在等待工作人员接单。",
                      "Your call has arrived. Waiting for a member of staff to take it."),
    "assist_later_phone": ("现在不是工作时间。\n工作人员上班后会给您回电。",
                           "Staff are off duty now.\nThey will call you back once on duty."),
    "assist_later_no_phone": ("现在不是工作时间。\n您没有留下电话，无法回电；急需帮助请拨打 12345。",
                              "Staff are off duty now, and you left no number to call back.\n"
                              "If it is urgent, call 12345."),
    "assist_on_duty": ("上班时间：{when}", "On duty from: {when}"),
    "today_at": ("今天 {time}", "today {time}"),
    "tomorrow_at": ("明天 {time}", "tomorrow {time}"),
    "date_at": ("{month}月{day}日 {time}", "{day}/{month} {time}"),
    "assist_taken_on_site": ("工作人员已接单，请稍候", "A member of staff has taken your call. Please wait here."),
    "assist_taken_call_back": ("工作人员已接单，将在 {minutes} 分钟内回电",
                               "Your call is taken: you will be called within {minutes} minutes."),
    "assist_taken_call_back_soon": ("工作人员已接单，将尽快回电", "Your call is taken: you will be called back soon."),
    "assist_operator": ("接单人：{operator}", "Taken by {operator}"),
    "assist_no_answer": ("暂时还没有工作人员接单。\n求助仍在排队，有人接单时这里会显示；急需帮助请拨打下面的热线。",
                         "No one has taken your call yet. It is still waiting, and this screen will say when "
                         "someone takes it. If it is urgent, call the hotline below."),
    "assist_closed": ("本次求助已结束。\n如还需要帮助，可以再次呼叫，或拨打 12345。",
                      "This call for help is closed. If you still need help, call again or call 12345."),
    "assist_none": ("目前没有进行中的求助。", "You have no call for help open."),
    "assist_waited": ("已等待 {minutes} 分 {seconds} 秒", "Waiting for {minutes} min {seconds} s"),
    "assist_by_on_site": ("帮助方式：到机旁帮助", "Help: staff come to this booth"),
    "assist_by_call_back": ("帮助方式：电话回拨 {phone}", "Help: a call back to {phone}"),
    "assist_by_call_back_none": ("帮助方式：电话回拨（未留电话）", "Help: a call back (no number left)"),
    "hotline": ("政务服务便民热线 12345", "Hotline 12345"),
    "assist_again": ("再次呼叫", "Call again"),
    "do_here_title": ("可在本机办理的事项", "Services you can do here"),
    "pin_title": ("维护登录", "Maintenance sign-in"),
    "pin_hint": ("请输入管理员密码", "Enter the admin PIN"),
    "pin_wrong": ("密码错误（连续 {failures} 次），连续 5 次将锁定 15 分钟", "Wrong PIN ({failures} in a row)"),
    "pin_locked": ("已锁定，请于 {until} 后再试", "Locked until {until}"),
    "pin_too_fast": ("请稍候再试", "Wait a moment"),
    "pin_none": ("本机未设置管理员密码", "No admin PIN is set on this booth"),
    "pin_enter": ("进入", "Enter"),
    "maint_title": ("设备维护", "Maintenance"),
    "maint_print": ("打印测试页", "Print a test page"),
    "maint_card": ("测试读卡器", "Test the card reader"),
    "maint_card_hint": ("请放置身份证……", "Place an ID card…"),
    "maint_leds": ("测试指示灯", "Cycle the LEDs"),
    "maint_retry": ("立即重发", "Retry delivery now"),
    "maint_leave": ("退出维护", "Leave maintenance"),
    "maint_done": ("完成：{what}", "Done: {what}"),
    "maint_failed": ("失败：{what}", "Failed: {what}"),
}

LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"), 4: ("满意", "Satisfied"), 3: ("基本满意", "Acceptable"),
    2: ("不满意", "Dissatisfied"), 1: ("非常不满意", "Very dissatisfied"),
}
RATING_REASONS: dict[str, str] = {
    "排队等候时间长": "Long wait", "办事指南不清楚": "Unclear guide", "材料要求多": "Too many documents",
    "操作步骤复杂": "Too many steps", "设备故障": "Device fault", "服务态度不好": "Unfriendly service",
    "未能办结": "Not completed",
}

REASONS: dict[str, tuple[str, str]] = {
    "paper_end": ("缺纸", "out of paper"),
    "cover_open": ("纸仓盖未关", "cover open"),
    "cutter_error": ("切刀故障", "cutter fault"),
    "no_answer": ("无响应", "not answering"),
    "port_missing": ("未连接", "not connected"),
    "port_lost": ("连接中断", "connection lost"),
    "head_overheated": ("打印头过热", "print head hot"),
    "print_failed": ("打印失败", "print failed"),
    "not_opened": ("正在启动", "starting"),
    "no_gpio": ("无指示灯", "no LEDs"),
    "not_fitted": ("本机未配备", "not fitted on this booth"),
    "paper_near_end": ("纸将用完", "paper low"),
    "status_unreadable": ("状态未知", "status unknown"),
    "device_gone": ("已断开", "disconnected"),
    "device_replaced": ("已重新连接", "reconnected"),
    "not_found": ("未找到设备", "not found"),
    "driver_error": ("设备故障", "device fault"),
    "printer_error": ("打印机故障", "printer fault"),
    "offline": ("离线", "not online"),
    "appeared_after_start": ("需重启后使用", "needs a restart"),
    "not_accepting": ("打印机忙", "printer busy"),
    "no_sound_device": ("无音响设备", "no sound device"),
    "sound_device_denied": ("音响设备无权使用", "sound device not allowed"),
    "no_speech_engine": ("未安装语音", "no speech engine"),
    "speech_failed": ("语音故障", "speech fault"),
}
WEEKDAYS = (("周一", "周二", "周三", "周四", "周五", "周六", "周日"), ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))


# What a citizen reads when a use-case cannot be done: one plain sentence per code the core raises
# (tests/test_plain_words.py finds every code in the source and checks it is here).
ERRORS: dict[str, tuple[str, str]] = {
    "print_failed": ("打印失败（{reason}），请到窗口或呼叫工作人员。", "Printing failed ({reason}). Please ask staff."),
    "not_identified": ("请先在读卡区放置居民身份证。", "Please place your ID card on the reader first."),
    "not_accepted": ("本机暂时无法受理，请到窗口办理或拨打 12345。",
                     "This booth cannot take it right now. Please go to a window or call 12345."),
    "unknown_item": ("该事项暂不可用，请重新查找。", "This service is not available. Please look it up again."),
    "bad_level": ("请先选择一个评价等级。", "Please choose a level first."),
    "bad_reasons": ("请重新选择不满意的原因。", "Please choose the reasons again."),
    "not_your_case": ("只能评价本次办理的事项。", "Only what you did in this visit can be rated."),
    "not_bookable": ("该事项不能预约。", "This service takes no appointments."),
    "bad_slot": ("该时段不可预约，请另选。", "That time cannot be booked. Please choose another."),
    "bad_number": ("受理编号为26位字母和数字，请核对。", "A receipt number has 26 letters and digits."),
    "offline": ("网络中断，暂时无法查询进度。请稍后再试，或拨打 12345。",
                "Offline: progress cannot be looked up now. Try later or call 12345."),
    "no_answer": ("暂时查询不到，请稍后再试，或拨打 12345。", "No answer yet. Try later or call 12345."),
    "not_here": ("该事项不能在本机申请，请到窗口办理。", "This service cannot be applied for here."),
    "bad_form": ("申请内容有误，请检查后重新提交。", "Something in the form is not right. Please check it."),
    "no_admin_pin": ("本机未设置管理员密码", "No admin PIN is set on this booth"),
    "no_card": ("未读到身份证", "No card was read"),
    "no_leds": ("本机没有指示灯", "This booth has no LEDs"),
    "bad_phone": ("这个号码打不通，请核对后重输。",
                  "That number cannot be called. Please check it and key it in again."),
    "phone_not_asked": ("到机旁帮助不需要留电话。", "No phone number is needed for help here at the booth."),
    "no_staff_on_site": ("本网点暂无工作人员到机旁帮助，请选择电话回拨，或拨打 12345。",
                         "No staff can come to this booth. Please ask for a call back, or call 12345."),
    "bad_screen": ("暂时无法呼叫，请拨打政务服务便民热线 12345。",
                   "Help cannot be called from here. Please call 12345."),
}
UNKNOWN_ERROR = ("暂时无法完成，请稍后再试，或呼叫工作人员。", "That did not work. Please try again or ask staff.")
UNKNOWN_REASON = ("设备故障", "device fault")


class Language:
    def __init__(self) -> None:
        self.english = False

    def t(self, key: str, **values: object) -> str:
        chinese, english = STRINGS[key]
        return (english if self.english else chinese).format(**values)

    def reason(self, code: str) -> str:
        """A device's health reason in plain words (an unknown code says "device fault", never itself)."""
        chinese, english = REASONS.get(code, UNKNOWN_REASON)
        return english if self.english else chinese

    def weekday(self, number: int) -> str:
        return WEEKDAYS[1 if self.english else 0][number]

    def error(self, problem: Exception) -> str:
        """What the citizen reads for a use-case that failed: by its code, never the exception's text."""
        code = getattr(problem, "code", "")
        chinese, english = ERRORS.get(code, UNKNOWN_ERROR)
        reason = self.reason(getattr(problem, "reason", "") or "print_failed")
        return (english if self.english else chinese).format(reason=reason)


LANGUAGE = Language()
t = LANGUAGE.t
