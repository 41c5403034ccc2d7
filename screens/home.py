"""Home: six big tiles, the elder-mode and language switches, and what is wrong right now."""

from __future__ import annotations

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from screens import theme
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen

HINTS = {"progress": "progress_tile"}
TILES = [("find", "browse"), ("do_here", "do_here"), ("progress", "progress"),
         ("book", "book"), ("rate", "rate"), ("help", "help")]


class HomeScreen(KioskScreen):
    def build(self) -> None:
        portrait = self.app.portrait
        grid = GridLayout(cols=2 if portrait else 3, spacing=mm(3))
        for key, target in TILES:
            hint = t(HINTS.get(key, key + "_hint"))
            tile = BigButton(f"[b]{t(key)}[/b]\n[size={int(SCALE.font(15))}]{hint}[/size]",
                             lambda target=target: self.app.open(target), points=26, name=f"tile_{target}",
                             size_hint_y=1, markup=True)
            grid.add_widget(tile)
        self.body.add_widget(grid)
        switches = BoxLayout(size_hint_y=None, height=SCALE.touch(),
                             spacing=mm(3))
        switches.add_widget(BigButton(t("elder_on") if SCALE.elder else t("elder_off"), self.app.toggle_elder,
                                      name="elder", colour=theme.PANEL, text_colour=theme.ACCENT))
        switches.add_widget(BigButton(t("language"), self.app.toggle_language, name="language",
                                      colour=theme.PANEL, text_colour=theme.ACCENT))
        self.body.add_widget(switches)
