"""预约: a half-day at the service hall for an item that takes bookings — identify, pick a working
day and morning or afternoon, and take the printed slip. The booking made, the screen shows it as a receipt
shows an application — the half-day, the booking number large and its QR code whole — with the rating of the
item offered below ("请评价本次服务", or "跳过并完成")."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from appliance.services.citizen import FiledReceipt
from appliance.services.errors import CitizenError
from screens import theme
from screens.filed_result import show_filed
from screens.rate import RatingOffer
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text, scrolling


class BookScreen(KioskScreen):
    title_key = "book"
    params: ClassVar[dict[str, object]] = {"code": None}
    code: str | None

    def heading(self) -> str:
        if self.code is None:
            return t("book")
        if self.slip is not None:  # booked: the item, and "已预约：…" the first line below it
            return self.app.kiosk.catalog.item(self.code).name
        return f"{t('book')}：{self.app.kiosk.catalog.item(self.code).name}"

    booked = False  # the slot is taken: the screen only shows it now
    slip: FiledReceipt | None = None  # what was booked (its number), kept through a rebuild (language, type size)
    offer: RatingOffer | None = None  # the rating offered once booked, while it stands

    def set_params(self, **given: object) -> None:
        """A new opening books anew; a rebuild of the booking made shows it again."""
        super().set_params(**given)
        self.slip, self.booked, self.offer = None, False, None

    def forget(self) -> None:
        self.slip, self.booked, self.offer = None, False, None
        super().forget()

    def build(self) -> None:
        self.can_go_back = self.slip is None  # no way back into the form of a booking made (as a receipt)
        if self.slip is not None:
            self._show_booked()
            return
        self.booked = False
        self.day: date | None = None
        self.half: str | None = None
        if self.code is None:
            self.pick_visited_item("book", "book_which", "book_none")
            return
        if not self.app.identity:
            self.body.add_widget(Text(t("book_identify"), points=18))
            self.body.add_widget(BoxLayout())
            self.body.add_widget(BigButton(t("identify_title"), name="identify", points=20,
                                           on_press=lambda: self.app.open("identify", code=self.code, message="",
                                                                          then="book")))
            return
        self.body.add_widget(Text(t("applicant", **self.app.identity), points=17, colour=theme.ACCENT))
        # Every day and both half-days in sight at once: in landscape the days fill the left and the
        # half-days and "book" the right; in portrait they stack. One line per day ("12/1 周二").
        days_part = BoxLayout(orientation="vertical", spacing=mm(1.5))
        days_part.add_widget(Text(t("book_day"), points=18, bold=True))
        days = GridLayout(cols=5 if self.app.portrait else (3 if SCALE.elder else 4), spacing=mm(1.5),
                          size_hint_y=None)
        days.bind(minimum_height=days.setter("height"))
        for day in self.app.kiosk.bookable_days():
            days.add_widget(BigButton(f"{day.month}/{day.day} {LANGUAGE.weekday(day.weekday())}",
                                      name=f"day_{day.isoformat()}", on_press=lambda d=day: self.pick_day(d),
                                      colour=theme.PANEL, text_colour=theme.TEXT, points=16))
        self.days = days
        days_part.add_widget(days if self.app.portrait else scrolling(days))  # portrait has room for all
        halves_part = BoxLayout(orientation="vertical", spacing=mm(1.5))
        halves_part.add_widget(Text(t("book_half"), points=18, bold=True))
        halves = GridLayout(cols=2, spacing=mm(1.5), size_hint_y=None)
        halves.bind(minimum_height=halves.setter("height"))
        for half in ("am", "pm"):
            halves.add_widget(BigButton(t(half), lambda h=half: self.pick_half(h), name=f"half_{half}",
                                        colour=theme.PANEL, text_colour=theme.TEXT))
        self.halves = halves
        halves_part.add_widget(halves)
        self.message = Text("", points=17, colour=theme.DANGER, halign="center")
        halves_part.add_widget(self.message)
        halves_part.add_widget(BoxLayout())
        self.confirm = BigButton(t("book_confirm"), self.submit, name="book_confirm", colour=theme.WARNING, points=20)
        halves_part.add_widget(self.confirm)
        if self.app.portrait:
            days_part.size_hint_y = None
            days_part.bind(minimum_height=days_part.setter("height"))
            self.body.add_widget(days_part)
            self.body.add_widget(halves_part)
        else:
            row = BoxLayout(spacing=mm(3))
            days_part.size_hint_x, halves_part.size_hint_x = 0.62, 0.38
            row.add_widget(days_part)
            row.add_widget(halves_part)
            self.body.add_widget(row)

    def pick_day(self, day: date) -> None:
        if self.booked:
            return
        self.day = day
        _highlight(self.days, f"day_{day.isoformat()}")

    def pick_half(self, half: str) -> None:
        if self.booked:
            return
        self.half = half
        _highlight(self.halves, f"half_{half}")

    def submit(self) -> None:
        if self.day is None or self.half is None:
            self.message.text = t("book_pick")
            return
        self.confirm.disabled = True
        day, half = self.day, self.half
        self.app.in_background(lambda: self.app.kiosk.book_appointment(self.code, day, half),
                               lambda outcome: self._booked(outcome, day, half))

    def _booked(self, slip, day: date, half: str) -> None:
        if isinstance(slip, CitizenError):
            self.message.text = LANGUAGE.error(slip)
            self.confirm.disabled = False
            return
        self.slip, self.day, self.half, self.booked = slip, day, half, True
        self.refresh()  # the booking as its result (footer without "back")
        self.app.narrator.result_shown(self)

    def _show_booked(self) -> None:
        """The booking made: the half-day, the number large and its QR code whole beside it (below it in
        portrait), whether the slip came — then the rating offered, or "finish" once it no longer stands."""
        slip, day, half = self.slip, self.day, self.half
        assert slip is not None and day is not None and half is not None
        self.booked = True
        self.offer, self.paper = show_filed(self, slip, booked_slot(day, half), "booking_number", "booked_printed",
                                            "booked_not_printed")


def booked_slot(day: date, half: str) -> str:
    """The half-day booked, as its button said it: 已预约：12/3 周四 下午."""
    return t("booked_slot", day=f"{day.month}/{day.day} {LANGUAGE.weekday(day.weekday())}", half=t(half))


def _highlight(grid: GridLayout, name: str) -> None:
    for button in grid.children:
        chosen = button.name == name
        button.background_color = theme.ACCENT if chosen else theme.PANEL
        button.color = theme.ACCENT_TEXT if chosen else theme.TEXT
