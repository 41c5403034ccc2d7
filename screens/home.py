"""Home: what the booth does, the elder-mode and language switches, and what is wrong right now.

Landscape (800×480): six big tiles. Portrait (1080×1920) uses its height for the citizen: a search box, the
most used services one touch away, the 一件事 bundles, then the same six ways in (departments, do it here,
progress, book, rate, help) as smaller tiles.

Which services are "most used" is declared here (`POPULAR`), not counted: the booth's usage ledger keeps only
the open reporting window's counts (they move to central every `usage.interval_s` and are cleared), so it holds
no usage history to rank by, and the catalogue names no favourites. These are the services 24-hour self-service
areas are mostly used for — printing a certificate (social insurance, housing fund, tax, household, credit,
property records), the pension's yearly check, the medical insurance account, traffic fines, bills — kept in
this order, and only those the catalogue in use has. A layout that stays put also suits those who remember
where their button is. (The right source would be central: it has every booth's usage events and could
name the favourites in the signed catalogue.)
"""

from __future__ import annotations

from kivy.graphics import Color, Line
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from screens import theme
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text

HINTS = {"progress": "progress_tile"}
TILES = [("find", "browse"), ("do_here", "do_here"), ("progress", "progress"),
         ("book", "book"), ("rate", "rate"), ("help", "help")]
POPULAR = ["RS-004", "GJJ-001", "SW-001", "GA-010", "RS-005", "YB-002", "ZX-001", "BDC-001", "GA-001", "RS-001",
           "YB-003", "GJJ-002", "JG-003", "SDQ-002"]
POPULAR_SHOWN = {False: 14, True: 10}  # by elder mode: seven rows, or five of the larger type


class HomeScreen(KioskScreen):
    def build(self) -> None:
        if self.app.portrait:
            self._build_portrait()
        else:
            grid = GridLayout(cols=3, spacing=mm(3))
            for key, target in TILES:
                grid.add_widget(self._tile(key, target, points=26))
            self.body.add_widget(grid)
        self.body.add_widget(self._switches())

    def _tile(self, key: str, target: str, points: float, size_hint_y: float | None = 1) -> BigButton:
        title = t("departments") if key == "find" and self.app.portrait else t(key)
        hint = t(HINTS.get(key, key + "_hint"))
        hint_size = int(SCALE.font(15, body=False))  # a second, smaller line (not body text)
        return BigButton(f"[b]{title}[/b]\n[size={hint_size}]{hint}[/size]",
                         lambda: self.app.open(target), points=points, name=f"tile_{target}",
                         size_hint_y=size_hint_y, markup=True)

    def _switches(self) -> BoxLayout:
        switches = BoxLayout(size_hint_y=None, height=SCALE.touch(), spacing=mm(3))
        switches.add_widget(BigButton(t("elder_on") if SCALE.elder else t("elder_off"), self.app.toggle_elder,
                                      name="elder", colour=theme.PANEL, text_colour=theme.ACCENT))
        switches.add_widget(BigButton(t("language"), self.app.toggle_language, name="language",
                                      colour=theme.PANEL, text_colour=theme.ACCENT))
        return switches

    def _build_portrait(self) -> None:
        # The search box: touching it (or its button) opens search with the keyboard.
        tall = SCALE.touch() * 1.25
        search = BoxLayout(size_hint_y=None, height=tall, spacing=mm(2))
        box = BigButton(t("home_search"), lambda: self.app.open("search"), name="home_search", points=19,
                        colour=theme.PANEL, text_colour=theme.MUTED, height=tall)
        box.halign = "left"
        box.padding = (mm(4), 0)
        with box.canvas.after:  # an input field's frame
            Color(*theme.ACCENT)
            frame = Line(width=max(1.5, mm(0.5) * SCALE.base))
        box.bind(pos=lambda b, _v: setattr(frame, "rectangle", (*b.pos, *b.size)),
                 size=lambda b, _v: setattr(frame, "rectangle", (*b.pos, *b.size)))
        search.add_widget(box)
        search.add_widget(BigButton(t("search"), lambda: self.app.open("search"), name="home_search_go", points=22,
                                    size_hint_x=0.28, height=tall))
        self.body.add_widget(search)
        if self.app.core.ready:  # the first frame does not wait for the core: its services come with it (_core_up)
            self._add_services()
        tiles = GridLayout(cols=3, spacing=mm(2))
        for key, target in TILES:
            tiles.add_widget(self._tile(key, target, points=23))
        self.body.add_widget(tiles)

    def _add_services(self) -> None:
        """The most used services and the 一件事 bundles the catalogue in use has."""
        catalog = self.app.kiosk.catalog.current
        known = {item.code: item for item in catalog.items}
        self.body.add_widget(Text(t("popular"), points=20, bold=True, colour=theme.ACCENT))
        popular = GridLayout(cols=2, spacing=mm(2), size_hint_y=None)
        popular.bind(minimum_height=popular.setter("height"))
        for code in [code for code in POPULAR if code in known][:POPULAR_SHOWN[SCALE.elder]]:
            popular.add_widget(BigButton(known[code].name, lambda c=code: self.app.open_result(c), points=20,
                                         name=f"popular_{code}", colour=theme.PANEL, text_colour=theme.TEXT,
                                         height=SCALE.touch() * 1.3))
        self.body.add_widget(popular)

        if catalog.bundles:
            self.body.add_widget(Text(t("bundles"), points=20, bold=True, colour=theme.ACCENT))
            bundles = GridLayout(cols=3, spacing=mm(2), size_hint_y=None)
            bundles.bind(minimum_height=bundles.setter("height"))
            for bundle in catalog.bundles:
                bundles.add_widget(BigButton(bundle.name.replace("“一件事”", ""), points=19,
                                             on_press=lambda c=bundle.code: self.app.open("bundle", code=c),
                                             name=f"home_bundle_{bundle.code}", colour=theme.WARNING,
                                             height=SCALE.touch() * 1.45))  # room for two lines: a row of equals
            self.body.add_widget(bundles)
