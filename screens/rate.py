"""好差评: the five standard levels for one item (and its receipt, after an application); for the two
lowest, reasons to tick from a fixed list — a citizen never has to type.

Everything fits on the screen without scrolling, at 800×480 in elder mode too: once a low level is chosen
the question above the levels gives its place to the reasons, which stand in four columns in landscape
(two rows, "send" in the last cell) and two in portrait; one line below the levels asks why, thanks, or
says what is missing. In elder mode on the 7-inch panel (15 mm targets, 5 mm text, a body ~65 mm tall under
the offline banner beside the side rail) the five levels are one row of one line each, every button as wide
as its words need, and the reasons' two rows are as tall as their tallest button with the lines of a
two-line reason set closer — so levels, the line asking why and the eight buttons take ~62 mm.

`RatingOffer` is what a task's result shows as the task is done (the notice printed, the application filed, the
booking made): "rate this service" opens this screen with the item (and its receipt) chosen, and one touch
skips it — counted either way in the usage ledger (appliance/services/citizen.py). It stands below the result,
which stays in sight: the receipt's number and QR code are never hidden to ask for a rating."""

from __future__ import annotations

from collections.abc import Callable
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
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text, text_width

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
        self.question = Text(t("rate_question", item=item.name), points=20, bold=True)
        self.body.add_widget(self.question)
        self.compact = compact = SCALE.side_rail  # elder mode on the 7-inch panel
        if compact:  # one row, each level as wide as its words on one line (they need ~600 of ~640 px)
            levels = BoxLayout(spacing=mm(1.5), size_hint_y=None, height=SCALE.touch())
        else:
            levels = GridLayout(cols=5 if not self.app.portrait else 1, spacing=mm(1.5), size_hint_y=None)
            levels.bind(minimum_height=levels.setter("height"))
        self.level_buttons: dict[int, BigButton] = {}
        for level in (5, 4, 3, 2, 1):
            words = LEVELS[level][1 if LANGUAGE.english else 0]
            button = BigButton(words, lambda n=level: self.choose(n), name=f"level_{level}", colour=theme.PANEL,
                               text_colour=LEVEL_COLOURS[level], points=17 if LANGUAGE.english else 19)
            if compact:
                button.size_hint_x = max(SCALE.least_touch(), one_line_width(button))
            self.level_buttons[level] = button
            levels.add_widget(button)
        self.body.add_widget(levels)
        self.message = Text("", points=18, colour=theme.ACCENT)  # why, thanks, or what is missing
        self.body.add_widget(self.message)
        self.why = GridLayout(cols=2 if self.app.portrait else 4, spacing=mm(1.5), size_hint_y=None, height=0)
        self.why.bind(minimum_height=self.why.setter("height"))
        if compact:  # rows as tall as their tallest reason: no short button beside a two-line one
            self.why.row_force_default, self.why.row_default_height = True, SCALE.touch()
        self.body.add_widget(self.why)
        self.send = BigButton(t("rate_send"), self.submit, name="rate_send", points=20)
        self.body.add_widget(self.send)
        self.body.add_widget(BoxLayout())  # what is left of the height stays below, never between

    def choose(self, level: int) -> None:
        self.level = level
        self.message.text, self.message.color = "", theme.ACCENT
        for n, button in self.level_buttons.items():
            button.background_color = LEVEL_COLOURS[n] if n == level else theme.PANEL
            button.color = theme.ACCENT_TEXT if n == level else LEVEL_COLOURS[n]
        self.why.clear_widgets()
        self.reasons = []
        self.send.parent.remove_widget(self.send)
        low = level <= 2
        asking = self.question.parent is not None
        if low and asking:  # its place goes to the reasons: the levels above show what was answered
            self.body.remove_widget(self.question)
        elif not low and not asking:
            self.body.add_widget(self.question, index=len(self.body.children))
        if low:
            self.message.text, self.message.color = t("rate_why"), theme.TEXT
            for reason in RATING_REASONS:
                words = REASON_WORDS[reason] if LANGUAGE.english else reason
                button = BigButton(words, lambda r=reason: self.toggle(r), name=f"why_{reason}", colour=theme.PANEL,
                                   text_colour=theme.TEXT, points=16 if LANGUAGE.english else 17,
                                   size_hint_y=1 if self.compact else None)  # compact: as tall as its row
                if self.compact:  # two lines closer (1.23 of the size): two rows fit under the banner
                    button.line_height = 0.85
                    button.bind(texture_size=self._even_rows)
                self.why.add_widget(button)
        if low and not self.app.portrait:  # landscape: "send" in the reasons' last cell (4 × 2)
            self.why.add_widget(self.send)
        else:
            self.body.add_widget(self.send, index=1)  # below the reasons, above the filler
        if self.compact:  # as tall as its row among the reasons, else a 15 mm target
            self.send.size_hint_y, self.send.height = (1 if self.send.parent is self.why else None), SCALE.touch()

    def _even_rows(self, *_args) -> None:
        """The reasons' rows as tall as the tallest reason needs (a 15 mm target at least)."""
        needs = [button.texture_size[1] + mm(3) for button in self.why.children]
        self.why.row_default_height = max([SCALE.touch(), *needs])

    def toggle(self, reason: str) -> None:
        if reason in self.reasons:
            self.reasons.remove(reason)
        else:
            self.reasons.append(reason)
        for button in self.why.children:
            if not button.name.startswith("why_"):
                continue
            picked = button.name.removeprefix("why_") in self.reasons
            button.background_color = theme.WARNING if picked else theme.PANEL
            button.color = theme.ACCENT_TEXT if picked else theme.TEXT

    def submit(self) -> None:
        if self.level is None:
            self.message.text, self.message.color = t("rate_pick_level"), theme.DANGER
            return
        try:
            self.app.kiosk.rate(self.code, self.level, reasons=tuple(self.reasons), case_ref=self.case_ref)
        except CitizenError as exc:
            self.message.text, self.message.color = LANGUAGE.error(exc), theme.DANGER
            return
        self.send.disabled = True
        self.message.text, self.message.color = t("rate_thanks"), theme.ACCENT
        self._thanked = Clock.schedule_once(lambda _dt: self.app.go_home(), 3)

    def on_leave(self, *_args) -> None:
        """Leaving (or rating again) cancels the "thanks, then home" of the rating just sent."""
        if self._thanked is not None:
            self._thanked.cancel()
            self._thanked = None


def one_line_width(button: BigButton) -> float:
    """How wide `button` must be to hold its words on one line (BigButton wraps 3 mm inside its width)."""
    return text_width(button.text, button.font_size, button.bold) + mm(3) + 2


def rating_offered(app, code: str, case_ref: str | None = None) -> bool:
    """Whether the core's offer to rate `code` after the task that filed `case_ref` (a notice: None) stands."""
    return app.kiosk.rating_offered(code, case_ref)


class RatingOffer(BoxLayout):
    """好差评 offered as a task is done: "请评价本次服务" (the rate screen, with the item and its receipt chosen)
    and one touch to skip, which counts the skip and then does `then` (where the citizen would go next)."""

    def __init__(self, app, code: str, case_ref: str | None, then: Callable[[], None], skip_key: str = "rate_skip",
                 skip_name: str = "rate_skip") -> None:
        super().__init__(size_hint_y=None, height=SCALE.touch(), spacing=mm(3))
        self.name = "rating_offer"
        self.app, self.code, self.case_ref, self.then = app, code, case_ref, then
        self.add_widget(BigButton(t("rate_offer"), lambda: app.open("rate", code=code, case_ref=case_ref),
                                  name="rate", points=22))
        self.add_widget(BigButton(t(skip_key), self.skip, name=skip_name, colour=theme.PANEL, text_colour=theme.TEXT,
                                  points=22, size_hint_x=0.7))
        self.bind(minimum_height=lambda _box, height: setattr(self, "height", max(SCALE.touch(), height)))

    def skip(self) -> None:
        self.app.kiosk.skip_rating(self.code, self.case_ref)
        self.then()
