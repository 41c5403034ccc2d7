"""好差评: the five standard levels for one item (and its receipt, after an application); for the two
lowest, reasons to tick from a fixed list — a citizen never has to type."""

from __future__ import annotations

from typing import ClassVar

from kivy.clock import Clock
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from appliance.services.citizen import RATING_REASONS
from appliance.services.errors import CitizenError
from screens import theme
from screens.strings import LANGUAGE, LEVELS, t
from screens.strings import RATING_REASONS as REASON_WORDS
from screens.widgets import BigButton, KioskScreen, Text, scrolling

LEVEL_COLOURS = {5: theme.ACCENT, 4: theme.ACCENT, 3: theme.MUTED, 2: theme.WARNING, 1: theme.DANGER}


class RateScreen(KioskScreen):
    title_key = "rate_title"
    params: ClassVar[dict[str, object]] = {"code": None, "case_ref": None}
    code: str | None
    case_ref: str | None

    _thanked = None

    def build(self) -> None:
        self.on_leave()
        self.level: int | None = None
        self.reasons: list[str] = []
        if self.code is None:
            self.pick_visited_item("view", "rate_which", "rate_none", case_ref=None)
            return
        item = self.app.kiosk.catalog.item(self.code)
        page = BoxLayout(orientation="vertical", spacing=mm(2))
        page.add_widget(Text(t("rate_question", item=item.name), points=20, bold=True))
        levels = GridLayout(cols=5 if not self.app.portrait else 1, spacing=mm(1.5), size_hint_y=None)
        levels.bind(minimum_height=levels.setter("height"))
        self.level_buttons: dict[int, BigButton] = {}
        for level in (5, 4, 3, 2, 1):
            words = LEVELS[level][1 if LANGUAGE.english else 0]
            button = BigButton(words, lambda n=level: self.choose(n), name=f"level_{level}", colour=theme.PANEL,
                               text_colour=LEVEL_COLOURS[level], points=19)
            self.level_buttons[level] = button
            levels.add_widget(button)
        page.add_widget(levels)
        self.why = BoxLayout(orientation="vertical", spacing=mm(1.5), size_hint_y=None)
        self.why.bind(minimum_height=self.why.setter("height"))
        page.add_widget(self.why)
        self.body.add_widget(scrolling(page))
        self.message = Text("", points=18, colour=theme.ACCENT, halign="center")
        self.body.add_widget(self.message)
        self.send = BigButton(t("rate_send"), self.submit, name="rate_send", points=20)
        self.body.add_widget(self.send)

    def choose(self, level: int) -> None:
        self.level = level
        self.message.text = ""
        for n, button in self.level_buttons.items():
            button.background_color = LEVEL_COLOURS[n] if n == level else theme.PANEL
            button.color = theme.ACCENT_TEXT if n == level else LEVEL_COLOURS[n]
        self.why.clear_widgets()
        self.reasons = []
        if level <= 2:
            self.why.add_widget(Text(t("rate_why"), points=18))
            grid = GridLayout(cols=2, spacing=mm(1.5), size_hint_y=None)
            grid.bind(minimum_height=grid.setter("height"))
            for reason in RATING_REASONS:
                words = REASON_WORDS[reason] if LANGUAGE.english else reason
                grid.add_widget(BigButton(words, lambda r=reason: self.toggle(r), name=f"why_{reason}",
                                          colour=theme.PANEL, text_colour=theme.TEXT, points=17))
            self.why.add_widget(grid)

    def toggle(self, reason: str) -> None:
        if reason in self.reasons:
            self.reasons.remove(reason)
        else:
            self.reasons.append(reason)
        for button in self.why.children[0].children:
            picked = button.name.removeprefix("why_") in self.reasons
            button.background_color = theme.WARNING if picked else theme.PANEL
            button.color = theme.ACCENT_TEXT if picked else theme.TEXT

    def submit(self) -> None:
        if self.level is None:
            self.message.text = t("rate_pick_level")
            return
        try:
            self.app.kiosk.rate(self.code, self.level, reasons=tuple(self.reasons), case_ref=self.case_ref)
        except CitizenError as exc:
            self.message.text = LANGUAGE.error(exc)
            return
        self.send.disabled = True
        self.message.text = t("rate_thanks")
        self._thanked = Clock.schedule_once(lambda _dt: self.app.go_home(), 3)

    def on_leave(self, *_args) -> None:
        """Leaving (or rating again) cancels the "thanks, then home" of the rating just sent."""
        if self._thanked is not None:
            self._thanked.cancel()
            self._thanked = None
