"""The few building blocks every screen uses: panels with a background, big buttons, wrapping labels,
and the frame (header with site, clock and banners; footer with back and home)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Rectangle, RoundedRectangle
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from screens import theme
from screens.strings import LANGUAGE, t
from screens.theme import SCALE


class Panel(BoxLayout):
    """A box with a flat background colour (and rounded corners when `radius` is given)."""

    def __init__(self, colour=theme.PANEL, radius: float = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*colour)
            self._bg = RoundedRectangle(radius=[radius]) if radius else Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_args) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size


class Text(Label):
    """A label that wraps to its width and grows to fit its text (for scrolling pages)."""

    def __init__(self, text: str = "", points: float = 16, colour=theme.TEXT, bold: bool = False,
                 halign: str = "left", body: bool = True, margin: float | None = None, **kwargs) -> None:
        """`margin`: the room above and below the text together (2 mm unless given)."""
        margin = mm(2) if margin is None else margin
        super().__init__(text=text, font_size=SCALE.font(points, body=body), color=colour, bold=bold, halign=halign,
                         valign="middle", size_hint_y=None, height=margin, **kwargs)
        self.bind(width=lambda *_: setattr(self, "text_size", (self.width, None)))
        self.bind(texture_size=lambda *_: setattr(self, "height", self.texture_size[1] + margin))


class BigButton(Button):
    """A touch target of at least `theme.TOUCH_MM` millimetres; disabled ones say why in their text."""

    def __init__(self, text: str, on_press: Callable[[], None] | None = None, points: float = 18,
                 colour=theme.ACCENT, text_colour=theme.ACCENT_TEXT, name: str = "", **kwargs) -> None:
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", SCALE.touch())
        super().__init__(text=text, font_size=SCALE.font(points), background_normal="", background_down="",
                         background_color=colour, color=text_colour, halign="center", valign="middle",
                         background_disabled_normal="", disabled_color=theme.MUTED, **kwargs)
        self.name = name  # what tests and logs call it
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - mm(3), None)))
        self._base_colour = colour
        self.bind(disabled=lambda *_: setattr(self, "background_color",
                                              theme.DISABLED if self.disabled else self._base_colour))
        if on_press is not None:
            self.bind(on_release=lambda *_: on_press())
        if self.size_hint_y is None:  # a button of fixed height grows to fit its text, never clips it
            self._least_height = self.height
            self.bind(texture_size=self._fit_text)

    def _fit_text(self, *_args) -> None:
        self.height = max(self._least_height, self.texture_size[1] + mm(3))


def text_width(text: str, font_size: float, bold: bool = False) -> float:
    """How wide `text` is on one line at `font_size` in the booth's font, in pixels."""
    return CoreLabel(font_size=font_size, bold=bold).get_extents(text)[0]


def scrolling(content: BoxLayout) -> ScrollView:
    """`content` (a vertical box whose height follows its children) in a scroll view."""
    content.size_hint_y = None
    content.bind(minimum_height=content.setter("height"))
    view = ScrollView(do_scroll_x=False, bar_width=mm(2.5), scroll_type=["bars", "content"])
    view.add_widget(content)
    return view


class KioskScreen(Screen):
    """A screen in the booth's frame. Subclasses fill `body` in `build()`, which runs again whenever
    the language or the type size changes, so no screen keeps stale words.

    `params` are what `app.open(name, **params)` may set, with their defaults: every opening starts
    from the defaults, and `forget()` restores them when a citizen's session ends, so nothing of one
    citizen (an item, a receipt, a typed number) is ever shown to the next."""

    title_key = "title"
    can_go_back = True
    has_home = True  # False where leaving needs more than a tap on "home" (maintenance)
    offers_help = True  # the "需要帮助" button beside back and home (not on help's own screens, nor maintenance)
    params: ClassVar[dict[str, object]] = {}

    def __init__(self, app, **kwargs) -> None:
        super().__init__(**kwargs)
        self.app = app
        # The frame: a column (header, banners, body, and the footer's row of back, home and help) and, in elder
        # mode on a short panel, the footer as a rail at the right instead (SCALE.side_rail).
        self.frame = Panel(colour=theme.BACKGROUND, padding=mm(3), spacing=mm(3))
        self.column = BoxLayout(orientation="vertical", spacing=mm(2))
        self.header = Header(app, self)
        self.banner = BoxLayout(orientation="vertical", size_hint_y=None, height=0)
        self.banner.bind(minimum_height=self.banner.setter("height"))
        self.body = BoxLayout(orientation="vertical", spacing=mm(2))
        self.footer = BoxLayout(size_hint_y=None, height=mm(theme.TOUCH_MM), spacing=mm(3))
        for part in (self.header, self.banner, self.body, self.footer):
            self.column.add_widget(part)
        self.frame.add_widget(self.column)
        self.add_widget(self.frame)
        self.set_params()

    def on_pre_enter(self, *_args) -> None:
        self.refresh()

    def set_params(self, **given: object) -> None:
        """This opening's parameters: the defaults, overridden by `given` (an unknown one is a bug)."""
        unknown = set(given) - set(self.params)
        if unknown:
            raise TypeError(f"screen {self.name!r} takes no parameter {sorted(unknown)}")
        for key, value in {**self.params, **given}.items():
            setattr(self, key, value)

    def forget(self) -> None:
        """The session ended: back to the defaults, and no widget left holding what was shown."""
        self.set_params()
        self.header.heading.text = ""
        self.body.clear_widgets()

    def refresh(self) -> None:
        rail = SCALE.side_rail and self.name != "home" and self.has_home
        self.header.update(self.heading(), speaker=not rail)
        self.show_banners()
        self.body.clear_widgets()
        self.footer.clear_widgets()
        self._place_footer(rail)
        self.build()
        if self.name != "home" and self.has_home:
            if rail:  # the speaker on top, then room, then back, home and help under the hand
                speaker = self.header.speaker_button()
                if speaker is not None:
                    self.footer.add_widget(speaker)
                self.footer.add_widget(BoxLayout())
            if self.can_go_back:
                self.footer.add_widget(BigButton(t("back"), self.app.back, name="back", colour=theme.MUTED))
            self.footer.add_widget(BigButton(t("home"), self.app.go_home, name="home", colour=theme.MUTED))
            if self.offers_help:
                self.footer.add_widget(BigButton(t("assist_open") if self.app.assist_open() else t("need_help"),
                                                 lambda: self.app.ask_for_help(self.name, self.help_item()),
                                                 name="need_help", colour=theme.WARNING))
        if not rail:
            self.footer.height = SCALE.touch() if self.footer.children else 0

    def _place_footer(self, rail: bool) -> None:
        """The footer as a row under the body, or as a rail at the right of the whole column."""
        if rail and self.footer.parent is not self.frame:
            self.column.remove_widget(self.footer)
            self.frame.add_widget(self.footer)
        elif not rail and self.footer.parent is not self.column:
            self.frame.remove_widget(self.footer)
            self.column.add_widget(self.footer)
        if rail:
            self.footer.orientation, self.footer.size_hint = "vertical", (None, 1)
            self.footer.width = SCALE.touch() * 1.7
        else:
            self.footer.orientation, self.footer.size_hint = "horizontal", (1, None)
        self.frame.padding = mm(2) if rail else mm(3)

    def heading(self) -> str:
        return t(self.title_key)

    def help_item(self) -> str | None:
        """The service item a call for help from this screen is about, if any."""
        return getattr(self, "code", None) or None

    def pick_visited_item(self, action: str, which_key: str, none_key: str, **reset) -> None:
        """List the items this visit opened that allow `action`, each reopening this screen for it
        (with `reset` applied); with none, say where to start instead."""
        catalog = self.app.kiosk.catalog
        codes = [code for code in reversed(self.app.visited) if action in catalog.item(code).actions]
        if not codes:
            self.body.add_widget(Text(t(none_key), points=20))
            self.body.add_widget(BoxLayout())
            self.body.add_widget(BigButton(t("find"), lambda: self.app.open("browse"), name="find", points=20))
            return
        self.body.add_widget(Text(t(which_key), points=20, bold=True))
        items = BoxLayout(orientation="vertical", spacing=mm(1.5))
        for code in codes:
            items.add_widget(BigButton(catalog.item(code).name, name=f"{self.name}_{code}", colour=theme.PANEL,
                                       text_colour=theme.TEXT,
                                       on_press=lambda c=code: self.app.open(self.name, code=c, **reset)))
        self.body.add_widget(scrolling(items))

    def build(self) -> None:
        raise NotImplementedError

    def show_banners(self) -> None:
        self.banner.clear_widgets()
        banners = self.app.banners()
        if SCALE.side_rail and len(banners) > 1:  # one status line on the 7-inch panel in elder mode: with two, the
            brief = self.app.banners(brief=True)  # rating and a receipt not printed had no room left for their body
            joined = ("; " if LANGUAGE.english else "；").join(message for message, _ in brief)
            banners = [(joined, brief[-1][1])]  # in the graver one's colour
        for message, colour in banners:
            box = Panel(colour=colour, size_hint_y=None, padding=(mm(3), mm(1)))
            # a status line, not body text: one line in elder mode on a 7-inch panel, where the 5 mm floor made it two
            label = Text(message, points=15, colour=theme.ACCENT_TEXT, body=False)
            box.add_widget(label)
            label.bind(height=lambda _w, h, box=box: setattr(box, "height", h + mm(2)))
            self.banner.add_widget(box)


class Header(BoxLayout):
    def __init__(self, app, screen: KioskScreen | None = None, **kwargs) -> None:
        super().__init__(size_hint_y=None, height=mm(14), spacing=mm(3), **kwargs)
        self.app = app
        self.screen = screen
        self.speak: Button | None = None  # the speaker button (语音播报), where the booth can speak
        self.heading = Label(font_size=SCALE.font(24), bold=True, color=theme.TEXT, halign="left", valign="middle",
                             shorten=True, shorten_from="right")  # one line: a title too long ends in "…"
        self.heading.bind(size=self._fit_heading)  # its text is set in update(), which fits it too
        self.where = Label(font_size=SCALE.font(14, body=False), color=theme.MUTED, halign="right", valign="middle",
                           size_hint_x=0.6)
        self.where.bind(size=lambda *_: setattr(self.where, "text_size", self.where.size))
        self.add_widget(self.heading)
        self.add_widget(self.where)

    _site_share = 0.6  # the site and clock's width beside the title's (size hints)

    def _fit_heading(self, *_args) -> None:
        """A title too long for its line is set smaller, down to body text's size; if it still does not fit, the
        site and clock give it their place (a booking's "预约办理：<item>" in elder mode); only then it ends in "…".
        Judged again at every size and text: the width before the first layout is no real width."""
        label, where = self.heading, self.where
        label.text_size = label.size
        shown = where.opacity > 0
        beside = label.width if shown else label.width / (1 + self._site_share)  # the title's width with them
        alone = label.width * (1 + self._site_share) if shown else label.width  # and without them
        size, least = SCALE.font(24), SCALE.font(17)
        fits_beside = text_width(label.text, least, bold=True) <= beside
        width = beside if fits_beside else alone
        while size > least and text_width(label.text, size, bold=True) > width:
            size -= 2  # even pixels, as SCALE.font gives: each size is a font face kept open
        label.font_size = size
        if fits_beside != shown:  # laid out again, and judged again here
            where.opacity, where.size_hint_x = (1, self._site_share) if fits_beside else (0, 0)

    def update(self, heading: str, speaker: bool = True) -> None:
        """`speaker`: the speaker button stands here (False: the screen puts it in its side rail)."""
        self._site_share = 0.6 if speaker else 0.55  # beside a side rail the title needs the width
        if self.where.opacity:
            self.where.size_hint_x = self._site_share
        self.heading.text = heading
        self._fit_heading()
        if self.speak is not None:
            self.remove_widget(self.speak)
            self.speak = None
        if speaker:
            self.speak = self.speaker_button()
            if self.speak is not None:
                self.add_widget(self.speak, index=1)  # after the title, before the site and clock
        # as tall as a touch target where the speaker stands in it
        self.height = max(SCALE.length(14, elder_gain=1.2), SCALE.touch() if self.speak is not None else 0)
        self.tick()

    def speaker_button(self) -> Button | None:
        """The speaker button, on every citizen's screen while the booth can speak: it says the screen's title
        and what to do next (screens/voice.py)."""
        from screens.voice import SILENT, SpeakerButton

        screen = self.screen
        if screen is None or screen.name in SILENT or not self.app.narrator.available:
            return None
        return SpeakerButton(lambda: self.app.narrator.say_screen(screen, asked=True))

    def tick(self) -> None:
        self.where.font_size = SCALE.font(14, body=False)  # the site and the time: not what a citizen reads to act
        self.where.text = f"{self.app.site}\n{time.strftime('%Y-%m-%d %H:%M')}"
