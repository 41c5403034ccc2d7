"""Voice guidance on the screens (语音播报): what each screen says — its title and what to do next, a
guide's key facts (materials, time limit, fee), a receipt's number digit by digit, the countdown — and
when: every screen in elder mode as it opens, any screen from the speaker button in its header. A new
screen cuts the last one's words. The core (`Kiosk.speak`, appliance/services/voice.py) masks anything
personal and never blocks: the words are said on the speaker's own thread.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.graphics import Color, Line, Mesh, Rectangle
from kivy.metrics import mm
from kivy.uix.button import Button

from appliance.services.voice import Part, Spell
from screens import theme
from screens.strings import LANGUAGE, t
from screens.theme import SCALE

SILENT = ("pin", "maintenance")  # the maintainer's screens say nothing

SPOKEN: dict[str, tuple[str, str]] = {
    "speak": ("播报", "Listen"),
    "home": ("请点您要办的事：查找服务、在本机办理、办件进度、预约办理、好差评，或者帮助。",
             "Choose what you would like to do: find a service, do it here, case progress, book a visit, "
             "rate a service, or help."),
    "home_elder": ("想要大字和语音，请点左下角的“长辈模式”。", "For large text and speech, press Large text."),
    "browse": ("请点一个部门，或者点“搜索”，用拼音查找。", "Choose a department, or press Search to type."),
    "department": ("请点您要了解的事项。", "Choose a service."),
    "bundle": ("一件事一次办。请点您要了解的事项。", "Done in one go. Choose a service."),
    "search": ("请用键盘输入拼音或首字母，再点搜索结果。", "Type with the keyboard, then choose a result."),
    "do_here": ("请点您要办理的事项。", "Choose the service you want to do here."),
    "materials_count": ("申请材料，共 {count} 项：", "Materials, {count} in all:"),
    "material": ("{name}，{form} {copies} 份", "{name}, {form}, {copies}"),
    "optional": ("如有", "if you have it"),
    "no_materials": ("不需要申请材料。", "No documents are needed."),
    "time_limit": ("承诺时限：{limit}。", "Promised time: {limit}."),
    "fee": ("收费标准：{fee}。", "Fee: {fee}."),
    "guide_print": ("点“打印一次性告知单”，可以把清单带走。", "Press Print the checklist to take the list with you."),
    "guide_apply": ("点“在本机申请”，可以刷身份证当场办理。", "Press Apply here to apply with your ID card."),
    "guide_book": ("点“预约办理”，可以预约到大厅办理。", "Press Book to book a visit to the hall."),
    "identified": ("已识别您的身份证，请点“下一步”。", "Your ID card is read. Press Next."),
    "apply": ("请逐项选择或输入，然后点“确认提交”。", "Fill in each part, then press Submit."),
    "receipt_number": ("受理编号：", "Your receipt number:"),
    "receipt_next": ("请点“完成并退出”。", "Press Finish."),
    "rate": ("请选择您的满意程度，再点“提交评价”。", "Choose how satisfied you are, then press Send."),
    "rate_offer": ("请点“请评价本次服务”，或者点“跳过”。", "Press Rate this service, or Skip."),
    "rate_offer_finish": ("请点“请评价本次服务”，或者点“跳过并完成”。", "Press Rate this service, or Skip and finish."),
    "book": ("请选择日期和上午或下午，再点“确认预约”。", "Choose a day and a time, then press Book it."),
    "progress_ask": ("然后点“查询”。", "Then press Look up."),
    "assist": ("请点“到机旁帮助”或者“电话回拨”。", "Choose someone comes here, or call me back."),
    "assist_call_back": ("请点“电话回拨”，留下电话。", "Press Call me back and leave your number."),
    "countdown": ("{seconds} 秒后将返回首页，并清除您的信息。如果还在使用，请点“我还在用”。",
                  "In {seconds} seconds the screen returns to the start and your data is cleared. "
                  "If you are still here, press I'm still here."),
}


class SpeakerButton(Button):
    """The speaker button: a loudspeaker drawn before a short word (播报), so it is known without reading and
    leaves the title its room; as wide as its word, as tall as every touch target."""

    def __init__(self, on_press) -> None:
        super().__init__(text=s("speak"), font_size=SCALE.font(16), color=theme.ACCENT, background_normal="",
                         background_down="", background_color=theme.PANEL, size_hint=(None, None),
                         height=SCALE.touch(), width=SCALE.touch() * 2, halign="left", valign="middle")
        self.name = "speak"  # what tests call it
        self.bind(on_release=lambda *_: on_press())
        with self.canvas.after:
            Color(*theme.ACCENT)
            self._box = Rectangle()
            self._cone = Mesh(mode="triangle_fan")
            self._waves = [Line(width=max(1.0, mm(0.35) * SCALE.base)) for _ in range(2)]
        self.bind(pos=self._draw, size=self._draw, texture_size=self._fit)

    def _unit(self) -> float:
        return min(self.height * 0.5, mm(7) * SCALE.base) / 4  # the glyph is 4 units tall

    def _fit(self, *_args) -> None:
        icon = mm(2.5) + self._unit() * 4.1 + mm(1.5)  # the glyph, then a gap before the word
        self.padding = (icon, 0, mm(2), 0)
        self.width = max(SCALE.touch(), self.texture_size[0])  # the texture holds the padding too

    def _draw(self, *_args) -> None:
        unit = self._unit()
        x, y = self.x + mm(2.5), self.center_y
        self._box.pos, self._box.size = (x, y - unit * 0.6), (unit * 0.9, unit * 1.2)
        self._cone.vertices = [x + unit * 0.9, y - unit * 0.6, 0, 0, x + unit * 2.1, y - unit * 1.8, 0, 0,
                               x + unit * 2.1, y + unit * 1.8, 0, 0, x + unit * 0.9, y + unit * 0.6, 0, 0]
        self._cone.indices = [0, 1, 2, 3]
        for n, wave in enumerate(self._waves):
            wave.circle = (x + unit * 2.1, y, unit * (1.1 + n * 0.9), 50, 130)


def s(key: str, **values: object) -> str:
    chinese, english = SPOKEN[key]
    return (english if LANGUAGE.english else chinese).format(**values)


class Narrator:
    """The app's voice: says a screen when it opens (elder mode) or when asked (the speaker button),
    and the countdown; cuts what is being said when the screen changes or the citizen is gone."""

    def __init__(self, app) -> None:
        self.app = app
        self.asked = False  # this citizen pressed the speaker button: the countdown is said to them too

    @property
    def available(self) -> bool:
        return self.app.core.ready and self.app.kiosk.can_speak()  # asked for the first frame: never waits

    def _say(self, parts: list[Part], tag: str) -> None:
        self.app.kiosk.speak(parts, tag=tag, english=LANGUAGE.english, elder=SCALE.elder)

    def shown(self, screen) -> None:
        """A screen was opened: the last one's words stop; in elder mode this one is said once it is built."""
        self.hush()
        if SCALE.elder and screen.name not in SILENT:
            Clock.schedule_once(lambda _dt: self.say_screen(screen), 0)

    def say_screen(self, screen, asked: bool = False) -> None:
        """Say what `screen` shows and what to do next (the speaker button: `asked`)."""
        self.asked = self.asked or asked
        if screen is not self.app.manager.current_screen:
            return  # moved on meanwhile
        self._say(script(screen), tag=screen.name)

    def rating_offered(self, done: str) -> None:
        """A task's result on the screen that stays (the notice printed): what was done and the rating offered,
        said in elder mode or to a citizen who pressed the speaker button."""
        if SCALE.elder or self.asked:
            self._say([done, s("rate_offer")], tag="rate_offer")

    def result_shown(self, screen) -> None:
        """A task's result took the place of its form on the same screen (a booking made): said as a screen
        opening is, in elder mode or to a citizen who pressed the speaker button."""
        self.hush()
        if SCALE.elder or self.asked:
            Clock.schedule_once(lambda _dt: self.say_screen(screen), 0)

    def identified(self) -> None:
        if SCALE.elder or self.asked:
            self._say([s("identified")], tag="identified")

    def countdown(self, seconds: int) -> None:
        if SCALE.elder or self.asked:
            self._say([s("countdown", seconds=seconds)], tag="countdown")

    def hush(self) -> None:
        if self.app.core.ready:  # before, nothing has been said
            self.app.kiosk.hush()

    def forget(self) -> None:
        """The citizen is gone: silence, and the next one starts without the speaker button's choice."""
        self.asked = False
        self.hush()


def script(screen) -> list[Part]:
    """What `screen` says: its title, what it shows that matters, and what to do next."""
    name = screen.name
    if name in SILENT:
        return []
    say = SCRIPTS.get(name)
    if say is not None:
        return [screen.heading(), *say(screen)]
    return [screen.heading(), *_shown_text(screen)]


def _home(screen) -> list[Part]:
    return [s("home")] + ([] if SCALE.elder else [s("home_elder")])


def _guide(screen) -> list[Part]:
    item = screen.app.kiosk.catalog.item(screen.code)
    parts: list[Part] = []
    if screen.offer is not None:  # the notice printed, its rating offered: that first
        parts += [t("printed"), s("rate_offer")]
    if item.materials:
        lines = [s("material", name=m.name + ("" if m.required else f"（{s('optional')}）"), form=m.form,
                   copies=m.copies) for m in item.materials]
        parts.append(s("materials_count", count=len(lines)) + "；".join(lines))
    else:
        parts.append(s("no_materials"))
    parts += [s("time_limit", limit=item.time_limit), s("fee", fee=item.fee)]
    for action, key in (("print_notice", "guide_print"), ("apply", "guide_apply"), ("book", "guide_book")):
        if action in item.actions:
            parts.append(s(key))
    return parts


def _identify(screen) -> list[Part]:
    if screen.app.kiosk.card_present():
        return [s("identified")]
    return [screen.status.text if getattr(screen, "status", None) is not None else t("identify_hint")]


def _receipt(screen) -> list[Part]:
    receipt = screen.receipt
    if receipt is None:
        return []
    printed = t("receipt_printed") if receipt.printed else t(
        "receipt_not_printed", reason=LANGUAGE.reason(receipt.print_problem or "print_failed"))
    number = receipt.number or receipt.case_ref  # the 16 digits a person keys in (an old filing: its id)
    return [screen.app.kiosk.catalog.item(receipt.item).name, s("receipt_number"), Spell(number), printed,
            s("rate_offer_finish") if screen.offer is not None else s("receipt_next")]


def _rate(screen) -> list[Part]:
    if screen.code is None:
        return _shown_text(screen)
    return [t("rate_question", item=screen.app.kiosk.catalog.item(screen.code).name), s("rate")]


def _book(screen) -> list[Part]:
    if screen.booked:  # the booking made: what it is, its number digit by digit, then the rating offered
        slip = screen.slip
        day = screen.day
        when = (f"{day.strftime('%A')} {day.day} {day.strftime('%B')}" if LANGUAGE.english
                else f"{day.month}月{day.day}日，{LANGUAGE.weekday(day.weekday()).replace('周', '星期')}")
        return [t("booked_slot", day=when, half=t(screen.half)), t("booking_number"),
                Spell(slip.number or slip.case_ref), screen.paper.text,
                s("rate_offer_finish") if screen.offer is not None else s("receipt_next")]
    if screen.code is None or not screen.app.identity:
        return _shown_text(screen)
    return [s("book")]


def _progress(screen) -> list[Part]:
    answer = getattr(screen, "answer", None)
    return [t("progress_hint"), s("progress_ask")] + ([answer.text] if answer is not None and answer.text else [])


def _assist(screen) -> list[Part]:
    on_site = screen.app.kiosk.config.assist.on_site
    return [t("assist_how"), s("assist") if on_site else s("assist_call_back"), t("assist_or_hotline")]


SCRIPTS = {
    "home": _home,
    "browse": lambda screen: [s("browse")],
    "department": lambda screen: [s("department")],
    "bundle": lambda screen: [s("bundle")],
    "search": lambda screen: [s("search")],
    "do_here": lambda screen: [s("do_here")],
    "help": lambda screen: [t("help_text")],
    "guide": _guide,
    "identify": _identify,
    "apply": lambda screen: [s("apply")],
    "receipt": _receipt,
    "rate": _rate,
    "book": _book,
    "progress": _progress,
    "assist": _assist,
    "assist_phone": lambda screen: [t("phone_hint"), t("phone_use")],
}


def _shown_text(screen) -> list[Part]:
    """The words a screen shows in its body (not its buttons), top to bottom: for screens that are a
    message (a call for help's status, "find the service first")."""
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    said = []
    for widget in screen.body.walk(restrict=True):
        if isinstance(widget, Label) and not isinstance(widget, Button) and widget.text and widget.opacity > 0:
            said.append(widget.text)
    return said
