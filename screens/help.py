"""Help (call a member of staff: the assist flow of screens/assist.py; the 12345 hotline) and "do it
here" (the items this booth can file)."""

from __future__ import annotations

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from screens import theme
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text, scrolling


class HelpScreen(KioskScreen):
    title_key = "help_title"
    offers_help = False  # its own big button leads to the same flow

    def build(self) -> None:
        self.body.add_widget(Text(t("help_text"), points=22))
        self.body.add_widget(BoxLayout())
        self.body.add_widget(BigButton(t("assist_open") if self.app.assist_open() else t("call_staff"),
                                       lambda: self.app.ask_for_help("help", None), name="call_staff", points=26,
                                       colour=theme.WARNING, height=SCALE.length(22, 1.0)))


class DoHereScreen(KioskScreen):
    title_key = "do_here_title"

    def build(self) -> None:
        items = BoxLayout(orientation="vertical", spacing=mm(1.5))
        for item in self.app.kiosk.catalog.current.items:
            if "apply" in item.actions:
                items.add_widget(BigButton(f"{item.name}  [size={int(SCALE.font(13))}]{item.department}[/size]",
                                           lambda code=item.code: self.app.open_result(code), markup=True,
                                           name=f"item_{item.code}", colour=theme.PANEL, text_colour=theme.TEXT))
        self.body.add_widget(scrolling(items))
