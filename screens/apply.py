"""Doing it here: identify with the ID card, fill the item's form (choices and digits only, never
free text), submit through the outbox, and get the receipt — number and QR on screen, printed when
the printer can. The application is safe once submitted, printed or not."""

from __future__ import annotations

from typing import ClassVar

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.modalview import ModalView

from appliance.services.citizen import FiledReceipt
from appliance.services.errors import CitizenError
from drivers.health import HealthState
from screens import theme
from screens.filed_result import show_filed
from screens.rate import RatingOffer
from screens.strings import LANGUAGE, t
from screens.widgets import BigButton, KioskScreen, Panel, Text, scrolling

CARD_GRACE_S = 30  # how long a form waits for its card to come back


class IdentifyScreen(KioskScreen):
    """Place the card; shows what to do on each reader error, and the masked identity once read."""

    title_key = "identify_title"
    # `then`: where "next" leads, the application form or the booking
    params: ClassVar[dict[str, object]] = {"code": "", "message": "", "then": "apply"}
    hint: Panel | None = None  # the pulsing card pictogram of the last build

    def build(self) -> None:
        self._stop_pulse()  # rebuilt in place (the card taken away): the old pulse stops
        card_present = self.app.kiosk.card_present()
        health = self.app.booth.card_reader
        if not card_present and health.state in (HealthState.FAULT, HealthState.ABSENT):
            text, colour = t("reader_down", reason=LANGUAGE.reason(health.reason)), theme.DANGER
        else:
            text, colour = self.message or t("identify_hint"), theme.TEXT
        self.status = Text(text, points=22, colour=colour, halign="center")
        self.body.add_widget(self.status)
        # The pictogram: "身份证" stays solid (white on blue, 7.4:1), only the arrows either side pulse
        self.hint = Panel(colour=theme.ACCENT, radius=mm(3), size_hint=(0.5, 1), pos_hint={"center_x": 0.5})
        middle = {"halign": "center", "pos_hint": {"center_y": 0.5}}
        self.arrows = tuple(Text("▼", points=24, colour=theme.ACCENT_TEXT, size_hint_x=0.25, **middle)
                            for _ in range(2))
        self.hint.add_widget(self.arrows[0])
        self.hint.add_widget(Text("身份证" if not LANGUAGE.english else "ID card", points=24,
                                  colour=theme.ACCENT_TEXT, **middle))
        self.hint.add_widget(self.arrows[1])
        self.body.add_widget(self.hint)
        for arrow in self.arrows:
            pulse = Animation(opacity=0.2, duration=0.8) + Animation(opacity=1, duration=0.8)
            pulse.repeat = True
            pulse.start(arrow)
        if card_present:
            self.show_identity(self.app.identity)

    arrows: tuple[Text, ...] = ()  # the pulsing arrows of the last build

    def _stop_pulse(self) -> None:
        for arrow in self.arrows:
            Animation.cancel_all(arrow)

    def on_leave(self, *_args) -> None:
        self._stop_pulse()

    def show_identity(self, identity: dict[str, str]) -> None:
        self._stop_pulse()
        self.hint.opacity = 0
        self.status.text = t("identified", **identity)
        self.status.color = theme.ACCENT
        self.body.add_widget(BigButton(t("next"), lambda: self.app.open(self.then, code=self.code), name="next",
                                       points=22))


class ApplyScreen(KioskScreen):
    """The form. If the card leaves the reader mid-form the citizen is warned and the form kept for
    `CARD_GRACE_S`: the same card back carries on, another card or the time running out clears it."""

    params: ClassVar[dict[str, object]] = {"code": ""}
    waiting_for_card = False
    values: ClassVar[dict[str, str]] = {}  # replaced per opening (set_params); never mutated in place
    grace: ModalView | None = None  # the warning while the card is away, and its countdown
    _grace_tick = None

    def heading(self) -> str:
        return t("apply_title", item=self.app.kiosk.catalog.item(self.code).name)

    def set_params(self, **given: object) -> None:
        """A new opening starts a blank form; coming back to it (from 需要帮助, say) keeps what was filled in."""
        super().set_params(**given)
        self.values = {}

    def build(self) -> None:
        self._end_grace()
        item = self.app.kiosk.catalog.item(self.code)
        kept, self.values = self.values, {}
        self.fields: dict[str, BoxLayout] = {}
        form = BoxLayout(orientation="vertical", spacing=mm(2))
        form.add_widget(Text(t("applicant", **self.app.identity), points=18, colour=theme.ACCENT, bold=True))
        for field in item.form:
            form.add_widget(Text(field.label, points=18, bold=True))
            if field.kind == "choice":
                row = GridLayout(cols=min(4, len(field.choices)), spacing=mm(1.5), size_hint_y=None)
                row.bind(minimum_height=row.setter("height"))
                for choice in field.choices:
                    row.add_widget(BigButton(choice, lambda f=field, c=choice: self.choose(f.key, c),
                                             name=f"{field.key}={choice}", colour=theme.PANEL, text_colour=theme.TEXT))
                self.fields[field.key] = row
                form.add_widget(row)
            else:
                shown = Text("＿" * (field.length or 6), points=22, colour=theme.MUTED)
                self.fields[field.key] = shown
                form.add_widget(shown)
                form.add_widget(self._keypad(field.key, field.length))
        self.body.add_widget(scrolling(form))
        self.problem = Text("", points=17, colour=theme.DANGER, halign="center")
        self.body.add_widget(self.problem)
        self.submit_button = BigButton(t("submit"), self.submit, name="submit", colour=theme.WARNING, points=22)
        self.body.add_widget(self.submit_button)
        for field in item.form:  # what the citizen had filled in before stepping away, shown again
            if field.key in kept and field.kind == "choice":
                self.choose(field.key, kept[field.key])
            elif field.key in kept:
                for digit in kept[field.key]:
                    self.type_digit(field.key, digit, field.length)

    def _keypad(self, key: str, length: int | None) -> GridLayout:
        pad = GridLayout(cols=6, spacing=mm(1), size_hint_y=None)
        pad.bind(minimum_height=pad.setter("height"))
        for digit in "1234567890":
            pad.add_widget(BigButton(digit, lambda d=digit: self.type_digit(key, d, length), name=f"{key}_{digit}",
                                     colour=theme.PANEL, text_colour=theme.TEXT, points=20))
        pad.add_widget(BigButton(t("delete"), lambda: self.type_digit(key, None, length), name=f"{key}_delete",
                                 colour=theme.MUTED))
        return pad

    def choose(self, key: str, choice: str) -> None:
        self.problem.text = ""
        self.values[key] = choice
        for button in self.fields[key].children:
            chosen = button.text == choice
            button.background_color = theme.ACCENT if chosen else theme.PANEL
            button.color = theme.ACCENT_TEXT if chosen else theme.TEXT

    def type_digit(self, key: str, digit: str | None, length: int | None) -> None:
        self.problem.text = ""
        value = self.values.get(key, "")
        value = value[:-1] if digit is None else (value + digit if length is None or len(value) < length else value)
        self.values[key] = value
        shown = self.fields[key]
        shown.text = value + "＿" * max(0, (length or 6) - len(value)) if value or length else "＿" * 6
        shown.color = theme.TEXT if value else theme.MUTED

    def submit(self) -> None:
        for field in self.app.kiosk.catalog.item(self.code).form:
            value = self.values.get(field.key, "")
            if field.required and (not value or (field.length and len(value) != field.length)):
                self.problem.text = t("missing", label=field.label)
                return
        self.submit_button.disabled = True  # one press files one application
        values = dict(self.values)
        self.app.in_background(lambda: self.app.kiosk.submit_application(self.code, values), self._filed)

    # -- the card taken away mid-form ---------------------------------------------------------------
    def card_lifted(self) -> None:
        if self.waiting_for_card:  # lifted again (an unreadable card came and went): one grace, one tick
            return
        self.app.kiosk.lift_card()
        self.waiting_for_card = True
        self.grace_left = CARD_GRACE_S
        self.grace = ModalView(auto_dismiss=False, size_hint=(0.85, 0.6))
        box = Panel(orientation="vertical", padding=mm(5), spacing=mm(3), radius=mm(3))
        box.add_widget(Text(t("card_lifted"), points=21, halign="center", bold=True, colour=theme.WARNING))
        self.grace_text = Text(t("card_lifted_countdown", seconds=self.grace_left), points=19, halign="center")
        box.add_widget(self.grace_text)
        box.add_widget(BoxLayout())
        box.add_widget(BigButton(t("grace_leave"), self.app.go_home, name="grace_leave", colour=theme.MUTED,
                                 points=20))
        self.grace.add_widget(box)
        self.grace.open()
        self._grace_tick = Clock.schedule_interval(lambda _dt: self._grace_second(), 1)

    def _grace_second(self) -> None:
        self.app.kiosk.touch()  # the wait for the card is not idleness: the grace decides, not the timeout
        self.grace_left -= 1
        if self.grace_left > 0:
            self.grace_text.text = t("card_lifted_countdown", seconds=self.grace_left)
            return
        self._end_grace()
        self.app.card_gone(self.code, then="apply", message=t("card_lifted_cleared"))

    def card_back(self, returning: bool) -> None:
        """A card was placed during the grace: the same one carries on; another clears the form."""
        self._end_grace()
        if not returning:
            self.app.open("apply", code=self.code)  # a fresh form, in the new card's name
            self.problem.text = t("card_other")

    def _end_grace(self) -> None:
        self.waiting_for_card = False
        if self._grace_tick is not None:
            self._grace_tick.cancel()
            self._grace_tick = None
        if self.grace is not None:
            self.grace.dismiss()
            self.grace = None

    def on_leave(self, *_args) -> None:
        self._end_grace()

    def forget(self) -> None:
        self._end_grace()
        self.values = {}
        super().forget()

    def _filed(self, outcome) -> None:
        if isinstance(outcome, CitizenError):
            self.problem.text = LANGUAGE.error(outcome)
            self.submit_button.disabled = False
            return
        self.app.history.clear()  # no way back into a form already filed
        self.app.open("receipt", receipt=outcome)


class ReceiptScreen(KioskScreen):
    """受理: the receipt number large, in groups of four, and its QR code whole beside it (below it in
    portrait) — nothing to scroll, at 800×480 in elder mode too; below them the rating of the application
    offered ("请评价本次服务", or "跳过并完成")."""

    title_key = "receipt_title"
    can_go_back = False
    params: ClassVar[dict[str, object]] = {"receipt": None}
    receipt: FiledReceipt | None
    offer: RatingOffer | None = None  # the rating offered for this receipt, while it stands

    def help_item(self) -> str | None:
        return self.receipt.item if self.receipt is not None else None

    def build(self) -> None:
        receipt = self.receipt
        assert receipt is not None
        self.offer, _paper = show_filed(self, receipt, self.app.kiosk.catalog.item(receipt.item).name, "receipt_number",
                                        "receipt_printed", "receipt_not_printed")

    def forget(self) -> None:
        self.offer = None
        super().forget()
