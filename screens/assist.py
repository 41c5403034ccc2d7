"""帮办代办 on the screen: how the citizen wants to be helped (someone coming to the booth where staff
are on duty, or a call back at a number keyed in on a digit pad), then the call's live status — only
what the core knows to be true (appliance/services/assist.py), the waited time, the 12345 hotline whenever no
one can help in time, and always a way back or out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from kivy.clock import Clock
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from appliance.contract import AssistMode
from appliance.services.assist import AssistCode, AssistView
from appliance.services.errors import CitizenError
from screens import theme
from screens.keyboard import digit_pad
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Panel, Text, scrolling

ASSIST_SCREENS = ("assist", "assist_phone", "assist_status")  # left out of "back" once a call is made
MAX_DIGITS = 12  # the longest number the contract takes (0 + area code + number)


class AssistScreen(KioskScreen):
    """How to be helped: on site (only where the config says staff can come) or a call back."""

    title_key = "assist_title"
    offers_help = False
    # `screen` and `code`: where the citizen asked from, and the item they were on
    params: ClassVar[dict[str, object]] = {"screen": "help", "code": None}

    def build(self) -> None:
        self.body.add_widget(Text(t("assist_how"), points=22, bold=True))
        choices = BoxLayout(orientation="vertical" if self.app.portrait else "horizontal", spacing=mm(3))
        hint = int(SCALE.font(15))
        if self.app.kiosk.config.assist.on_site:
            choices.add_widget(BigButton(f"[b]{t('assist_on_site')}[/b]\n[size={hint}]{t('assist_on_site_hint')}[/size]",
                                         self.on_site, name="assist_on_site", points=26, size_hint_y=1, markup=True))
        choices.add_widget(BigButton(f"[b]{t('assist_call_back')}[/b]\n[size={hint}]{t('assist_call_back_hint')}[/size]",
                                     lambda: self.app.open("assist_phone", screen=self.screen, code=self.code),
                                     name="assist_call_back", points=26, size_hint_y=1, markup=True))
        self.body.add_widget(choices)
        self.problem = Text("", points=18, colour=theme.DANGER, halign="center")
        self.body.add_widget(self.problem)
        self.body.add_widget(Text(t("assist_or_hotline"), points=20, colour=theme.ACCENT, halign="center"))

    def on_site(self) -> None:
        try:
            self.app.kiosk.request_assist(self.screen, AssistMode.ON_SITE, code=self.code)
        except CitizenError as exc:
            self.problem.text = LANGUAGE.error(exc)
            return
        self.app.open("assist_status")


class PhoneScreen(KioskScreen):
    """The call-back number, digits only; shown in full only here, while it is being typed."""

    title_key = "phone_title"
    offers_help = False
    params: ClassVar[dict[str, object]] = {"screen": "help", "code": None, "number": ""}

    def build(self) -> None:
        field = Panel(size_hint_y=None, height=SCALE.length(16, 1.15), padding=(mm(3), 0), radius=mm(2))
        narrow = SCALE.side_rail and not self.app.portrait  # elder mode on a short panel: the number in 45 % width
        self.field = Text("", points=24 if narrow else 28, bold=True, halign="center")
        field.add_widget(self.field)
        # One line for what the number is for, or, after a wrong number, what is wrong (room is short in elder mode)
        self.problem = Text("", points=17, halign="center")
        confirm = BigButton(t("phone_confirm"), self.confirm, name="phone_confirm", points=22, colour=theme.WARNING)
        words = (field, Text(t("phone_hint"), points=18, halign="center"), self.problem)
        if narrow:
            # Elder mode on a short panel: four rows of 15 mm keys do not fit under the banner. The number, one line
            # of words and confirm at the left; the pad in three rows of four at the right.
            left = BoxLayout(orientation="vertical", spacing=mm(2), size_hint_x=0.45)
            field.height = SCALE.touch()
            for part in (field, self.problem, BoxLayout(), confirm):
                left.add_widget(part)
            pad = digit_pad(self.press, self.delete, "cb", BigButton(t("clear"), self.clear, name="cb_clear",
                                                                     points=20, colour=theme.MUTED), cols=4)
            pad.size_hint_x = 0.55
            row = BoxLayout(spacing=mm(3))
            row.add_widget(left)
            row.add_widget(pad)
            self.body.add_widget(row)
            self._show()
            return
        pad = digit_pad(self.press, self.delete, "cb",
                        BigButton(t("clear"), self.clear, name="cb_clear", points=20, colour=theme.MUTED))
        if self.app.portrait:  # the number on top, the pad under it, confirm under the thumb
            for part in (*words, pad, confirm):
                self.body.add_widget(part)
        else:  # the number and confirm on the left, the pad on the right
            left = BoxLayout(orientation="vertical", spacing=mm(2))
            for part in (*words, BoxLayout(), confirm):
                left.add_widget(part)
            row = BoxLayout(spacing=mm(3))
            row.add_widget(left)
            row.add_widget(pad)
            self.body.add_widget(row)
        self._show()

    def press(self, digit: str) -> None:
        if len(self.number) < MAX_DIGITS:
            self.number += digit
        self._show()

    def delete(self) -> None:
        self.number = self.number[:-1]
        self._show()

    def clear(self) -> None:
        self.number = ""
        self._show()

    def _show(self) -> None:
        """Grouped as people read numbers aloud (139 1234 5678), a dash for each digit still to come."""
        number = self.number
        groups = [number[:3], number[3:7], number[7:]] if number.startswith("1") else [number]
        self.field.text = " ".join(group for group in groups if group) or "_" * 11  # narrow: one line in elder mode
        self.field.color = theme.TEXT if number else theme.MUTED
        # one line of words in elder mode on a short panel: what to key in, until a number is begun
        words = "phone_hint" if SCALE.side_rail and not self.app.portrait and not number else "phone_use"
        self.problem.text, self.problem.color = t(words), theme.MUTED

    def confirm(self) -> None:
        try:
            self.app.kiosk.request_assist(self.screen, AssistMode.CALL_BACK, phone=self.number, code=self.code)
        except CitizenError as exc:
            self.problem.text, self.problem.color = LANGUAGE.error(exc), theme.DANGER
            return
        self.number = ""  # from here on the number is shown masked only
        self.app.open("assist_status")


class AssistStatusScreen(KioskScreen):
    """The call as it stands: rebuilt when the core says it changed, its waited time every second."""

    title_key = "assist_status_title"
    offers_help = False
    has_home = False  # back and finish are in the body's one row of buttons (finish is home)
    _ticking = None

    def on_pre_enter(self, *_args) -> None:
        self.app.history[:] = [name for name in self.app.history if name not in ASSIST_SCREENS]  # back: the task
        super().on_pre_enter()
        self._ticking = Clock.schedule_interval(lambda _dt: self._tick(), 1)

    def on_leave(self, *_args) -> None:
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None

    def build(self) -> None:
        view = self.app.kiosk.assist_status()
        self.waited = Text("", points=18, colour=theme.MUTED)
        page = BoxLayout(orientation="vertical", spacing=mm(2))
        if view is None:
            page.add_widget(Text(t("assist_none"), points=22))
        else:
            headline, colour = _headline(view)
            tall = self.app.portrait  # a tall panel has room: larger words for those who stand back
            page.add_widget(Text(headline, points=30 if tall else 24, bold=True, colour=colour))
            for line in _details(view):
                page.add_widget(Text(line, points=23 if tall else 19))
            page.add_widget(self.waited)
        self.body.add_widget(scrolling(page))  # long words in elder mode scroll, never overlap
        if view is not None and view.hotline:  # always in sight; a sign to read, not a button
            box = Panel(colour=theme.PANEL, radius=mm(2), size_hint_y=None, padding=(mm(3), mm(1)))
            number = Text(t("hotline"), points=28, bold=True, colour=theme.DANGER, halign="center")
            box.add_widget(number)
            number.bind(height=lambda _w, h, box=box: setattr(box, "height", h + mm(2)))
            self.body.add_widget(box)
        buttons = BoxLayout(size_hint_y=None, height=SCALE.touch() * 1.1, spacing=mm(3))
        buttons.add_widget(BigButton(t("back"), self.app.back, name="back", colour=theme.MUTED))
        if view is None or not view.open:
            again = (view.screen, view.item) if view is not None else ("help", None)
            buttons.add_widget(BigButton(t("assist_again"), name="assist_again", points=20, colour=theme.WARNING,
                                         on_press=lambda: self.app.open("assist", screen=again[0], code=again[1])))
        buttons.add_widget(BigButton(t("finish"), self.app.go_home, name="finish", points=20))
        self.body.add_widget(buttons)
        self._tick()

    def _tick(self) -> None:
        view = self.app.kiosk.assist_status()
        on_its_way = (AssistCode.SENDING, AssistCode.QUEUED)  # saved has reached nobody: no wait to count
        if view is not None and view.code in on_its_way and not view.outside_hours:
            self.waited.text = t("assist_waited", minutes=view.waited_s // 60, seconds=view.waited_s % 60)
        else:
            self.waited.text = ""


def _headline(view: AssistView) -> tuple[str, tuple]:
    """The one sentence that says where the call stands, and its colour."""
    if view.code is AssistCode.TAKEN:
        if view.mode is AssistMode.ON_SITE:
            return t("assist_taken_on_site"), theme.ACCENT
        if view.call_back_within_min:
            return t("assist_taken_call_back", minutes=view.call_back_within_min), theme.ACCENT
        return t("assist_taken_call_back_soon"), theme.ACCENT
    if view.code is AssistCode.QUEUED and view.outside_hours:
        return t("assist_later_phone" if view.phone else "assist_later_no_phone"), theme.WARNING
    if view.code is AssistCode.SAVED and view.held:
        return t("assist_held"), theme.DANGER
    return {
        AssistCode.SAVED: (t("assist_saved"), theme.WARNING),
        AssistCode.SENDING: (t("assist_sending"), theme.MUTED),
        AssistCode.QUEUED: (t("assist_queued"), theme.ACCENT),
        AssistCode.NO_ANSWER: (t("assist_no_answer"), theme.DANGER),
        AssistCode.CLOSED: (t("assist_closed"), theme.TEXT),
    }[view.code]


def _details(view: AssistView) -> list[str]:
    if view.mode is AssistMode.ON_SITE:
        lines = [t("assist_by_on_site")]
    else:
        lines = [t("assist_by_call_back", phone=view.phone) if view.phone else t("assist_by_call_back_none")]
    if view.code is AssistCode.TAKEN and view.operator:
        lines.append(t("assist_operator", operator=view.operator))
    when = _local_time(view.staffed_from) if view.code is AssistCode.QUEUED and view.outside_hours else ""
    if when:
        lines.append(t("assist_on_duty", when=when))
    return lines


def _local_time(stamp: str | None) -> str:
    """Central's ISO time as a citizen says it, in the booth's time: today 08:30, tomorrow 08:30, 12月3日 08:30
    (empty if central sent none, or nothing readable)."""
    try:
        when = datetime.fromisoformat(stamp or "").astimezone()
    except ValueError:
        return ""
    today = datetime.now().astimezone().date()
    time = when.strftime("%H:%M")
    if when.date() == today:
        return t("today_at", time=time)
    if when.date() == today + timedelta(days=1):
        return t("tomorrow_at", time=time)
    return t("date_at", month=when.month, day=when.day, time=time)
