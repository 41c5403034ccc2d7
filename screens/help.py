"""Help (call a member of staff, the 12345 hotline) and "do it here" (the items this booth can file)."""

from __future__ import annotations

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from appliance.kiosk import CitizenError
from screens import theme
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text, scrolling


class HelpScreen(KioskScreen):
    title_key = "help_title"

    def build(self) -> None:
        self.body.add_widget(Text(t("help_text"), points=22))
        self.status = Text("", points=20, colour=theme.ACCENT)
        self.body.add_widget(self.status)
        self.body.add_widget(BoxLayout())
        self.body.add_widget(BigButton(t("call_staff"), self.call, name="call_staff", points=26,
                                       colour=theme.WARNING, height=mm(22)))

    def call(self) -> None:
        try:
            self.app.kiosk.request_assist(None, "help_screen")
            self.status.text = t("staff_called")
        except CitizenError as exc:
            self.status.text = LANGUAGE.error(exc)


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
