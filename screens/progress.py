"""办件进度: scan the receipt's QR code (or key in its number) and ask central — live, never queued.
Offline, or without an answer, the screen says so plainly instead of spinning."""

from __future__ import annotations

import time
from typing import ClassVar

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from appliance.catalog.model import CatalogError
from appliance.services.errors import CitizenError
from screens import theme
from screens.keyboard import keyboard
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Panel, Text


class ProgressScreen(KioskScreen):
    title_key = "progress"
    params: ClassVar[dict[str, object]] = {"number": ""}

    def build(self) -> None:
        field = Panel(size_hint_y=None, height=SCALE.length(13, 1.15), padding=(mm(3), 0))
        self.field = Text(self.number or t("progress_hint"), points=19,
                          colour=theme.TEXT if self.number else theme.MUTED)
        field.add_widget(self.field)
        self.answer = Text("", points=19, halign="center")
        self.ask_button = BigButton(t("progress_ask"), self.ask, name="progress_ask", points=20)
        left = BoxLayout(orientation="vertical", spacing=mm(2))
        for part in (field, self.answer, BoxLayout(), self.ask_button):
            left.add_widget(part)
        keys = keyboard(self.press, self.delete, self.clear, space=False)
        if self.app.portrait:
            self.body.add_widget(left)
            self.body.add_widget(keys)
        else:
            row = BoxLayout(spacing=mm(2))
            keys.size_hint_y = 1
            row.add_widget(left)
            row.add_widget(keys)
            self.body.add_widget(row)

    # -- the number -----------------------------------------------------------------------------------
    def press(self, char: str) -> None:
        if len(self.number) < 26:
            self._set(self.number + char.upper())

    def delete(self) -> None:
        self._set(self.number[:-1])

    def clear(self) -> None:
        self._set("")

    def scanned(self, text: str) -> None:
        """A QR code from the scanner: a receipt's code is its number; ask at once."""
        self._set(text.strip().upper()[:40])
        self.ask()

    def _set(self, number: str) -> None:
        self.number = number
        self.field.text = number or t("progress_hint")
        self.field.color = theme.TEXT if number else theme.MUTED
        self.answer.text = ""

    # -- asking central (off Kivy's thread: the answer may take seconds) ---------------------------------
    def ask(self) -> None:
        self.ask_button.disabled = True
        self.answer.text, self.answer.color = t("progress_asking"), theme.MUTED
        number = self.number
        self.app.in_background(lambda: self.app.kiosk.query_progress(number), self._answered)

    def _answered(self, answer) -> None:
        if isinstance(answer, CitizenError):
            text, colour = LANGUAGE.error(answer), theme.DANGER
        elif answer.get("source") == "booth":  # filed here; central has not got it, or cannot be asked
            item = self._item_name(answer["item"])
            at = time.strftime("%m-%d %H:%M", time.localtime(answer["filed_at"]))
            text = t("progress_here_waiting" if answer["waiting"] else "progress_here_sent", at=at, item=item)
            colour = theme.WARNING
        elif answer.get("found"):
            parts = (answer.get("status", ""), answer.get("note", ""))
            text, colour = "\n".join(str(part) for part in parts if part), theme.ACCENT
        else:
            text, colour = t("progress_not_found"), theme.WARNING
        self.answer.text, self.answer.color = text, colour
        self.ask_button.disabled = False

    def _item_name(self, code: str) -> str:
        try:
            return self.app.kiosk.catalog.item(code).name
        except CatalogError:  # withdrawn from the catalogue since it was filed
            return t("progress_item_gone")
