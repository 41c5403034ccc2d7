"""办件进度: three ways to ask central how a case stands — live, never queued.

- the receipt number, keyed in on a digit pad (16 digits, shown in groups of four as on the receipt; a
  wrong digit or two swapped are caught by the check digit before anything is asked);
- the receipt's QR code held to the scanner (an older receipt's code still works);
- the citizen's own ID card placed on the reader: every case of theirs, newest first.

Offline, or without an answer, the screen says so plainly instead of spinning. Everything fits without
scrolling: the pad beside the number in landscape, below it in portrait; a citizen's cases take the
whole body, as many as fit, with the count of the older ones.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from appliance.catalog.model import CatalogError
from appliance.receipt_numbers import LENGTH, grouped, normalise, valid
from appliance.services.errors import CitizenError
from screens import theme
from screens.keyboard import digit_pad
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Panel, Text

# How many of a citizen's cases fit on one screen, by (portrait, elder): the rest are counted.
CASES_SHOWN = {(False, False): 3, (False, True): 2, (True, False): 7, (True, True): 5}


class ProgressScreen(KioskScreen):
    title_key = "progress"
    # `number`: what was keyed in or scanned; `cases`: the citizen's cases found by their card (None: none asked)
    params: ClassVar[dict[str, object]] = {"number": "", "cases": None}
    number: str
    cases: list[dict[str, Any]] | None
    asking = False

    def set_params(self, **given: object) -> None:
        super().set_params(**given)
        self.asking = False  # a card's lookup still running belongs to an earlier opening

    def build(self) -> None:
        if self.cases is not None:
            self._build_cases(self.cases)
            return
        field = Panel(size_hint_y=None, height=SCALE.length(13, 1.15), padding=(mm(3), 0))
        self.field = Text("", points=24, bold=True)
        field.add_widget(self.field)
        self.answer = Text("", points=18)
        self.ask_button = BigButton(t("progress_ask"), self.ask, name="progress_ask", points=22)
        # Elder mode on a short panel: four rows of 15 mm keys do not fit; the number across the top, then the words
        # beside three rows of four keys.
        narrow = SCALE.side_rail and not self.app.portrait
        pad = digit_pad(self.press, self.delete, "num", last=self.ask_button, cols=4 if narrow else 3)
        left = BoxLayout(orientation="vertical", spacing=mm(2))
        if narrow:
            self.body.add_widget(field)
        else:
            left.add_widget(field)
        left.add_widget(self.answer)
        left.add_widget(BoxLayout())
        if self.app.portrait:  # the number above the pad
            pad.size_hint_y, pad.height = None, SCALE.touch() * 1.4 * 4 + mm(6)
            self.body.add_widget(left)
            self.body.add_widget(pad)
        else:
            row = BoxLayout(spacing=mm(3))
            left.size_hint_x, pad.size_hint_x = (0.45, 0.55) if narrow else (0.56, 0.44)
            row.add_widget(left)
            row.add_widget(pad)
            self.body.add_widget(row)
        self._set(self.number, keep_answer=False)

    # -- the number -----------------------------------------------------------------------------------
    def press(self, digit: str) -> None:
        if not self.number.isdigit():  # nothing yet, or a scanned older receipt's code: a new number begins
            self._set(digit)
        elif len(self.number) < LENGTH:
            self._set(self.number + digit)

    def delete(self) -> None:
        self._set(self.number[:-1] if self.number.isdigit() else "")

    def scanned(self, text: str) -> None:
        """A QR code from the scanner: a receipt's code is its number; ask at once."""
        self.cases = None
        if self.manager is not None and self.manager.current == self.name:
            self.refresh()
        self._set(normalise(text).upper()[:40])
        self.ask()

    def _set(self, number: str, keep_answer: bool = False) -> None:
        self.number = number
        if number:
            self.field.text, self.field.color = grouped(number) if number.isdigit() else number, theme.TEXT
        else:
            self.field.text, self.field.color = t("progress_hint"), theme.MUTED
        self.field.font_size = SCALE.font(24 if number else 17)  # the hint is a sentence: it must fit one line
        self.field.bold = bool(number)
        if keep_answer:
            return
        if len(number) == LENGTH and number.isdigit():  # all digits in: the check digit says whether to go on
            mistyped = not valid(number)
            self._say(t("progress_checked") if not mistyped else LANGUAGE.error(CitizenError("number_mistyped", "")),
                      theme.DANGER if mistyped else theme.TEXT)
        else:
            self._say("" if number else t("progress_how"), theme.TEXT)

    def _say(self, text: str, colour) -> None:
        self.answer.text, self.answer.color = text, colour

    # -- asking central (off Kivy's thread: the answer may take seconds) ---------------------------------
    def ask(self) -> None:
        number = self.number
        if number.isdigit() and len(number) < LENGTH:
            self._say(t("progress_short", n=len(number)) if number else t("progress_hint"), theme.DANGER)
            return
        self.ask_button.disabled = True
        self._say(t("progress_asking"), theme.MUTED)
        self.app.in_background(lambda: self.app.kiosk.query_progress(number), self._answered)

    def _answered(self, answer) -> None:
        if self.cases is not None:  # a card was placed meanwhile: its answer is what shows
            return
        if isinstance(answer, CitizenError):
            text, colour = LANGUAGE.error(answer), theme.DANGER
        elif answer.get("source") == "booth":  # filed here; central has not got it, or cannot be asked
            item = self._item_name(answer["item"])
            at = time.strftime("%m-%d %H:%M", time.localtime(answer["filed_at"]))
            text = t("progress_here_waiting" if answer["waiting"] else "progress_here_sent", at=at, item=item)
            colour = theme.WARNING
        elif answer.get("found"):
            text, colour = "\n".join(self._lines(answer)), theme.ACCENT
        else:
            text, colour = t("progress_not_found"), theme.WARNING
        self._say(text, colour)
        self.ask_button.disabled = False

    # -- the citizen's ID card -------------------------------------------------------------------------
    def card_placed(self) -> None:
        """A card was read while this screen shows: look up that citizen's own cases."""
        if self.asking:
            return
        self.asking = True
        self.number, self.cases = "", []
        self.refresh()
        self.app.in_background(self.app.kiosk.query_progress_by_card, self._cards_answered)

    def _cards_answered(self, answer) -> None:
        self.asking = False
        if self.cases is None:  # the citizen went back to keying in a number meanwhile
            return
        if isinstance(answer, CitizenError):
            self.listing.text, self.listing.color = LANGUAGE.error(answer), theme.DANGER
            return
        self.cases = list(answer.get("cases") or [])
        self.refresh()

    def _build_cases(self, cases: list[dict[str, Any]]) -> None:
        shown = cases[:CASES_SHOWN[self.app.portrait, SCALE.elder]]
        if self.asking or not cases:
            words = t("progress_card_asking") if self.asking else t("progress_card_none")
        else:
            words = t("progress_card_found", n=len(cases))
        top = BoxLayout(size_hint_y=None, height=SCALE.touch(), spacing=mm(3))
        self.listing = Text(words, points=18, bold=bool(cases), colour=theme.MUTED if self.asking else theme.TEXT,
                            size_hint_x=0.62)
        self.listing.bind(height=lambda _label, height: setattr(top, "height", max(SCALE.touch(), height)))
        top.add_widget(self.listing)
        top.add_widget(BigButton(t("progress_key_in"), self.key_in, name="progress_key_in", points=20,
                                 colour=theme.PANEL, text_colour=theme.ACCENT, size_hint_x=0.38))
        self.body.add_widget(top)
        for case in shown:
            self.body.add_widget(self._case_row(case))
        if len(cases) > len(shown):
            self.body.add_widget(Text(t("progress_card_more", n=len(cases) - len(shown)), points=16,
                                      colour=theme.MUTED))
        self.body.add_widget(BoxLayout())

    def _case_row(self, case: dict[str, Any]) -> Panel:
        row = Panel(orientation="vertical", size_hint_y=None, padding=(mm(3), mm(1)), radius=mm(2))
        row.bind(minimum_height=row.setter("height"))
        item = self._item_name(str(case.get("item", "")))
        if case.get("source") == "booth":
            status, colour = t("progress_waiting" if case.get("waiting") else "progress_sent_here"), theme.WARNING
        else:
            status, colour = str(case.get("status", "")), theme.ACCENT
        row.add_widget(Text(f"{item}　{status}", points=18, bold=True, colour=colour))
        number = str(case.get("number") or "")
        row.add_widget(Text("  ·  ".join(part for part in (
            grouped(number) if number.isdigit() else number, self._when(case), str(case.get("note") or ""))
            if part), points=15, colour=theme.MUTED))
        return row

    def key_in(self) -> None:
        self.cases = None
        self.refresh()

    # -- words -----------------------------------------------------------------------------------------
    def _lines(self, answer: dict[str, Any]) -> list[str]:
        lines = []
        if answer.get("item"):
            lines.append(self._item_name(str(answer["item"])))
        lines += [str(answer.get("status", "")), str(answer.get("note", ""))]
        return [line for line in lines if line]

    def _when(self, case: dict[str, Any]) -> str:
        at = case.get("filed_at")
        if not at:
            return ""
        return t("progress_filed", at=time.strftime("%Y-%m-%d", time.localtime(at)))

    def _item_name(self, code: str) -> str:
        try:
            return self.app.kiosk.catalog.item(code).name
        except CatalogError:  # withdrawn from the catalogue since it was filed
            return t("progress_item_gone")
