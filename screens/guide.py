"""Guide (办事指南): everything about one item, scrollable, with "print the checklist" offered only
when the printer can print — greyed with the reason when it cannot. Once the notice is printed the rating
of the item is offered below the status line ("请评价本次服务" in the place of the plain "评价", and "跳过",
which leaves the guide as it was): screens/rate.py `RatingOffer`."""

from __future__ import annotations

from typing import ClassVar

from kivy.clock import Clock
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from appliance.services.errors import CitizenError
from screens import theme
from screens.rate import RatingOffer, rating_offered
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text, scrolling

PRINT_AGAIN_S = 6.0  # after a notice is printed, "print another copy" is offered this much later


class GuideScreen(KioskScreen):
    params: ClassVar[dict[str, object]] = {"code": ""}

    def heading(self) -> str:
        return self.app.kiosk.catalog.item(self.code).name

    def on_pre_enter(self, *_args) -> None:
        self.app.kiosk.view_guide(self.code)  # counted in the usage ledger, once per visit
        if self.code not in self.app.visited:
            self.app.visited.append(self.code)
        super().on_pre_enter()

    _offer_again = None
    offer: RatingOffer | None = None  # the rating offered once the notice is printed, while it stands

    def build(self) -> None:
        self.on_leave()  # a rebuild (language, type size) starts with a fresh button
        item = self.app.kiosk.catalog.item(self.code)
        page = BoxLayout(orientation="vertical", spacing=mm(1.5), padding=(mm(1), 0))
        sections = [
            ("applicants", [item.applicants]),
            ("conditions", list(item.conditions)),
            ("materials", [m.line() for m in item.materials]),
            ("steps", list(item.steps)),
            ("time_limit", [item.time_limit]),
            ("fee", [item.fee]),
            ("result", [item.result]),
            ("channels", ["、".join(t(f"channel_{c}") for c in item.channels)]),
        ]
        for key, lines in sections:
            if not lines:
                continue
            page.add_widget(Text(t(key), points=19, bold=True, colour=theme.ACCENT))
            numbered = len(lines) > 1
            for number, line in enumerate(lines, 1):
                page.add_widget(Text(f"{number}. {line}" if numbered else line, points=17))
        questions = [entry for entry in self.app.kiosk.catalog.current.faq if entry.item == item.code][:6]
        if questions:
            page.add_widget(Text(t("faq"), points=19, bold=True, colour=theme.ACCENT))
            for entry in questions:
                page.add_widget(Text(f"问：{entry.question}", points=16, bold=True))
                page.add_widget(Text(f"答：{entry.answer}", points=16, colour=theme.MUTED))
        self.body.add_widget(scrolling(page))
        self.status = Text("", points=16, colour=theme.ACCENT, halign="center")
        self.body.add_widget(self.status)
        actions = BoxLayout(size_hint_y=None, height=SCALE.touch() * 1.1, spacing=mm(3))
        if "print_notice" in item.actions:
            can = self.app.kiosk.can_print()
            reason = LANGUAGE.reason(self.app.kiosk.status().printer.reason)
            self.print_button = BigButton(t("print_notice") if can else t("cannot_print", reason=reason),
                                          self.print_notice, name="print_notice")
            self.print_button.disabled = not can
            actions.add_widget(self.print_button)
        self.rate_button = BigButton(t("rate_button"), lambda: self.app.open("rate", code=item.code, case_ref=None),
                                     name="rate", colour=theme.PANEL, text_colour=theme.ACCENT, size_hint_x=0.4)
        actions.add_widget(self.rate_button)
        if "book" in item.actions:
            actions.add_widget(BigButton(t("book"), lambda: self.app.open("book", code=item.code), name="book",
                                         colour=theme.PANEL, text_colour=theme.ACCENT, size_hint_x=0.6))
        if "apply" in item.actions:
            actions.add_widget(BigButton(t("apply_here"), name="apply", colour=theme.WARNING,
                                         on_press=lambda: self.app.open("identify", code=item.code, message="",
                                                                        then="apply")))
        self.body.add_widget(actions)
        self.actions, self.offer = actions, None
        if rating_offered(self.app, item.code):  # printed before a rebuild (language, type size): still offered
            self._offer_rating()

    def print_notice(self) -> None:
        """One tap, one notice: the button stays off while printing and for `PRINT_AGAIN_S` after, then
        offers another copy (a burst of taps on a slow screen prints once)."""
        if self.print_button.disabled:
            return
        self.print_button.disabled = True
        self.print_button.text = t("printing")
        self.app.in_background(lambda: self.app.kiosk.print_notice(self.code), self._printed)

    def _printed(self, outcome) -> None:
        if isinstance(outcome, CitizenError):
            self.status.text = LANGUAGE.error(outcome)
            self.status.color = theme.DANGER
        else:
            self.status.text = t("printed")
            self.status.color = theme.ACCENT
            if self.offer is None and rating_offered(self.app, self.code):
                self._offer_rating()
                if self.app.manager.current_screen is self:  # not said over the screen the citizen went on to
                    self.app.narrator.rating_offered(self.status.text)
        self._offer_again = Clock.schedule_once(lambda _dt: self._print_again(), PRINT_AGAIN_S)

    def _print_again(self) -> None:
        can = self.app.kiosk.can_print()
        self.print_button.text = t("print_again") if can else t(
            "cannot_print", reason=LANGUAGE.reason(self.app.kiosk.status().printer.reason))
        self.print_button.disabled = not can

    def _offer_rating(self) -> None:
        """The notice is printed: "rate this service" and "skip" above the actions, the plain "rate" gone."""
        self.offer = RatingOffer(self.app, self.code, None, then=self._offer_skipped)
        self.actions.remove_widget(self.rate_button)
        self.body.add_widget(self.offer, index=1)  # between the status line and the actions

    def _offer_skipped(self) -> None:
        """Skipped: the guide as it was, its plain "rate" back after "print" (the citizen may still rate)."""
        if self.offer is not None:
            self.body.remove_widget(self.offer)
            self.offer = None
        printing = any(getattr(button, "name", "") == "print_notice" for button in self.actions.children)
        self.actions.add_widget(self.rate_button, index=len(self.actions.children) - (1 if printing else 0))

    def forget(self) -> None:
        self.offer = None
        super().forget()

    def on_leave(self, *_args) -> None:
        if self._offer_again is not None:
            self._offer_again.cancel()
            self._offer_again = None
