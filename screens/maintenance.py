"""On-site maintenance, for the maintainer only: a long press in the home screen's top-left corner asks
for the admin PIN (paced, locked out after failures, every attempt reported to central by the core);
the maintenance screen shows every part's health and offers the tests. While it is open the booth's
status is `maintenance` and its LEDs say so."""

from __future__ import annotations

import time

from kivy.clock import Clock
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from appliance.errors import CodedError
from screens import theme
from screens.keyboard import digit_pad
from screens.strings import t
from screens.widgets import BigButton, KioskScreen, Text, scrolling

HOLD_S = 3.0  # the hidden gesture: this long in the corner
CORNER_MM = 15


class CornerHold:
    """Watches touches: a finger held still in the top-left corner of `screen` for HOLD_S opens the PIN."""

    def __init__(self, app) -> None:
        self.app = app
        self._pending = None

    def down(self, touch) -> None:
        window_height = self.app.root_window.height
        if (self.app.manager.current == "home" and touch.x < mm(CORNER_MM)
                and touch.y > window_height - mm(CORNER_MM)):
            self._pending = Clock.schedule_once(lambda _dt: self.app.show_maintenance_pin(), HOLD_S)

    def up(self, _touch) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


class PinScreen(KioskScreen):
    title_key = "pin_title"
    can_go_back = False
    offers_help = False  # the maintainer's screen

    def __init__(self, app, **kwargs) -> None:
        super().__init__(app, **kwargs)
        self.digits = ""

    def build(self) -> None:
        self.digits = ""
        self.field = Text(t("pin_hint"), points=22, halign="center")
        self.message = Text("", points=18, colour=theme.DANGER, halign="center")
        self.body.add_widget(self.field)
        self.body.add_widget(self.message)
        self.body.add_widget(digit_pad(self.press, self.delete, "pin",
                                       BigButton(t("pin_enter"), self.enter, name="pin_enter", points=20)))

    def press(self, digit: str) -> None:
        if len(self.digits) < 12:
            self.digits += digit
        self.field.text = "●" * len(self.digits)

    def delete(self) -> None:
        self.digits = self.digits[:-1]
        self.field.text = "●" * len(self.digits) or t("pin_hint")

    def enter(self) -> None:
        pin, self.digits = self.digits, ""
        self.field.text = t("pin_hint")
        try:
            attempt = self.app.kiosk.enter_maintenance(pin)
        except CodedError:
            self.message.text = t("pin_none")
            return
        if attempt.outcome == "ok":
            self.app.show_maintenance()
        elif attempt.outcome == "locked":
            self.message.text = t("pin_locked", until=time.strftime("%H:%M", time.localtime(attempt.locked_until)))
        elif attempt.outcome == "too_fast":
            self.message.text = t("pin_too_fast")
        else:
            self.message.text = t("pin_wrong", failures=attempt.failures)


class MaintenanceScreen(KioskScreen):
    title_key = "maint_title"
    can_go_back = False
    has_home = False  # leaving maintenance is its own button: the status and LEDs go back with it

    def build(self) -> None:
        self.facts = BoxLayout(orientation="vertical", spacing=mm(1))
        self.result = Text("", points=18, colour=theme.ACCENT)
        self.body.add_widget(scrolling(self.facts))
        self.body.add_widget(self.result)
        actions = GridLayout(cols=3 if not self.app.portrait else 2, spacing=mm(2), size_hint_y=None)
        actions.bind(minimum_height=actions.setter("height"))
        for key, work in [("maint_print", self.app.kiosk.print_test_page),
                          ("maint_card", self.app.kiosk.test_card_reader),
                          ("maint_leds", self.app.kiosk.cycle_leds),
                          ("maint_retry", self.app.kiosk.retry_delivery)]:
            actions.add_widget(BigButton(t(key), lambda k=key, w=work: self.run(k, w), name=key, points=18))
        actions.add_widget(BigButton(t("maint_leave"), self.app.leave_maintenance, name="maint_leave", points=18,
                                     colour=theme.MUTED))
        self.body.add_widget(actions)
        self.show_facts()

    def on_enter(self, *_args) -> None:  # once per visit; a rebuild (language, elder mode) adds no second one
        Clock.schedule_interval(self._refresh, 2)

    def on_leave(self, *_args) -> None:
        Clock.unschedule(self._refresh)

    def _refresh(self, _dt) -> None:
        self.show_facts()

    def show_facts(self) -> None:
        self.facts.clear_widgets()
        for line in self.app.kiosk.maintenance_facts():
            self.facts.add_widget(Text(line, points=16))

    def run(self, key: str, work) -> None:
        if key == "maint_card":
            self.result.text = t("maint_card_hint")

        def done(outcome) -> None:
            what = t(key)
            if isinstance(outcome, CodedError):
                self.result.text = t("maint_failed", what=f"{what}: {outcome}")
            else:
                self.result.text = t("maint_done", what=f"{what} {outcome}")
            self.show_facts()

        self.app.in_background(work, done)
