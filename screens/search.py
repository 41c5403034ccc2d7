"""Search: an on-screen pinyin keyboard whose results update with every key, and Chinese word
candidates from the catalogue's own vocabulary (a small input method) above the keys."""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from screens import theme
from screens.keyboard import keyboard
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Panel, Text, scrolling


class SearchScreen(KioskScreen):
    title_key = "search"
    # `query`: what is typed, Chinese words already chosen then pinyin letters; `letters`: the pinyin
    # still being typed (the part candidates replace)
    params: ClassVar[dict[str, object]] = {"query": "", "letters": ""}

    def build(self) -> None:
        """Portrait: field, candidates, results, keyboard from top to bottom. Landscape (800×480 has
        no height to spare): the results beside the keyboard, so both stay in sight."""
        field = Panel(size_hint_y=None, height=SCALE.length(13, 1.15), padding=(mm(3), 0))
        self.field = Text(self.query + self.letters or t("search_hint"), points=20,
                          colour=theme.TEXT if self.query or self.letters else theme.MUTED)
        field.add_widget(self.field)
        self.candidates = BoxLayout(size_hint_y=None, height=self._candidate_height(), spacing=mm(1.5))
        self.results = BoxLayout(orientation="vertical", spacing=mm(1.2))
        left = BoxLayout(orientation="vertical", spacing=mm(1.5))
        for part in (field, self.candidates, scrolling(self.results)):
            left.add_widget(part)
        if self.app.portrait:
            self.body.add_widget(left)
            self.body.add_widget(keyboard(self.press, self.delete, self.clear))
        else:
            row = BoxLayout(spacing=mm(2))
            row.add_widget(left)
            keys = keyboard(self.press, self.delete, self.clear)
            keys.size_hint_y = 1
            row.add_widget(keys)
            self.body.add_widget(row)
        self._update()

    @staticmethod
    def _candidate_height() -> float:
        return max(SCALE.length(11, 1.15), SCALE.least_touch())  # a touch target: 15 mm in elder mode

    # -- typing ---------------------------------------------------------------------------------------
    def press(self, char: str) -> None:
        if char == " ":
            self.query, self.letters = self.query + self.letters + " ", ""
        else:
            self.letters += char
        self._update()

    def choose(self, word: str) -> None:
        self.query, self.letters = self.query + word, ""
        self._update()

    def delete(self) -> None:
        if self.letters:
            self.letters = self.letters[:-1]
        else:
            self.query = self.query[:-1]
        self._update()

    def clear(self) -> None:
        self.query = self.letters = ""
        self._update()

    def type_text(self, text: str) -> None:
        """A whole query at once (a scanned code, or a test standing in for many key presses)."""
        self.query, self.letters = text, ""
        self._update()

    # -- results --------------------------------------------------------------------------------------
    def _update(self) -> None:
        self.app.kiosk.touch()
        typed = self.query + self.letters
        self.field.text = typed or t("search_hint")
        self.field.color = theme.TEXT if typed else theme.MUTED
        index = self.app.search_index
        self.candidates.clear_widgets()
        for word in index.candidates(self.letters, limit=6 if self.app.portrait else 3) if self.letters else []:
            self.candidates.add_widget(BigButton(word, lambda w=word: self.choose(w), name=f"cand_{word}", points=18,
                                                 colour=theme.PANEL, text_colour=theme.ACCENT,
                                                 height=self._candidate_height()))
        self.results.clear_widgets()
        if not typed.strip():
            return
        hits = index.search(typed, limit=8)
        if not hits:
            self.results.add_widget(Text(t("no_results"), points=16, colour=theme.MUTED))
        for hit in hits:
            self.results.add_widget(BigButton(hit.name, lambda code=hit.code: self.app.open_result(code),
                                              name=f"result_{hit.code}", colour=theme.PANEL, text_colour=theme.TEXT,
                                              points=18))
