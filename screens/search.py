"""Search: an on-screen pinyin keyboard whose results update with every key, and Chinese word
candidates from the catalogue's own vocabulary (a small input method) above the keys.

Where ten letter keys across cannot be touch targets of the least size (the 7-inch panel in elder mode:
ten 15 mm keys are wider than the panel), the keyboard is the 九宫格 pinyin keypad of a Chinese phone
instead: the candidates are the catalogue's words the keys could spell, and the results follow the first
of them until the citizen chooses another."""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout

from appliance.catalog.keypad import Reading
from screens import theme
from screens.keyboard import keyboard, letters_fit, pinyin_keypad
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Panel, Text, scrolling

# The keypad's candidates, in characters, that the row beside the field holds in elder type at 800×480 (each word
# as wide as it is, so a long reading of several words takes the room of the others)
STRIP_CHARS = 10


class SearchScreen(KioskScreen):
    title_key = "search"
    # `query`: what is typed, Chinese words already chosen then pinyin letters; `letters`: the pinyin
    # still being typed (the part candidates replace); `keys`: the same on the 九宫格 keypad, its digits
    params: ClassVar[dict[str, object]] = {"query": "", "letters": "", "keys": ""}

    def build(self) -> None:
        """Portrait: field, candidates, results, keyboard from top to bottom. Landscape (800×480 has
        no height to spare): the results beside the keyboard, so both stay in sight; with the keypad, the
        field and its candidates in a row above both."""
        self.on_keypad = not letters_fit()
        field = Panel(size_hint_y=None, height=SCALE.length(13, 1.15), padding=(mm(3), 0))
        self.field = Text(points=20)
        field.add_widget(self.field)
        self.candidates = BoxLayout(size_hint_y=None, height=self._candidate_height(), spacing=mm(1.5))
        self.results = BoxLayout(orientation="vertical", spacing=mm(1.2))
        if self.on_keypad:
            field.size_hint_x, field.height, self.field.size_hint_y = 0.36, self._candidate_height(), 1
            self.field.shorten, self.field.shorten_from = True, "left"  # the end of what is typed, on one line
            self.candidates.size_hint_x = 0.64
            top = BoxLayout(size_hint_y=None, height=self._candidate_height(), spacing=mm(1.5))
            top.add_widget(field)
            top.add_widget(self.candidates)
            row = BoxLayout(spacing=mm(2))
            row.add_widget(scrolling(self.results))
            row.add_widget(pinyin_keypad(self.press_key, self.delete, self.clear))
            self.body.add_widget(top)
            self.body.add_widget(row)
            self._update()
            return
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

    def press_key(self, digit: str) -> None:
        """A key of the 九宫格 (2 for abc … 9 for wxyz)."""
        self.keys += digit
        self._update()

    def choose(self, reading: Reading) -> None:
        """A candidate: its word is typed, in place of the letters (or keys) it reads; keys left over stay."""
        self.query, self.letters, self.keys = self.query + reading.word, "", self.keys[len(reading.letters):]
        self._update()

    def delete(self) -> None:
        if self.keys:
            self.keys = self.keys[:-1]
        elif self.letters:
            self.letters = self.letters[:-1]
        else:
            self.query = self.query[:-1]
        self._update()

    def clear(self) -> None:
        self.query = self.letters = self.keys = ""
        self._update()

    def type_text(self, text: str) -> None:
        """A whole query at once (a scanned code, or a test standing in for many key presses)."""
        self.query, self.letters, self.keys = text, "", ""
        self._update()

    # -- results --------------------------------------------------------------------------------------
    def _readings(self) -> tuple[list[Reading], int]:
        """What the keys pressed could mean, best first, and how many of the last keys no word fits (then
        the readings are those of the keys before them, so the results stay while the citizen deletes)."""
        for end in range(len(self.keys), 0, -1):
            found = self.app.search_index.keypad_readings(self.keys[:end], before=self.query, limit=3)
            if found:
                return found, len(self.keys) - end
        return [], len(self.keys)

    def _update(self) -> None:
        self.app.kiosk.touch()
        self.candidates.clear_widgets()
        if self.on_keypad:
            readings, stray = self._readings()
            best = readings[0] if readings else Reading("", "")
            shown = self.query + best.letters + "?" * stray
            searched = self.query + best.word
            if stray:
                self.candidates.add_widget(Text(t("keypad_no_word"), points=16, colour=theme.WARNING))
                readings = []
            while sum(len(reading.word) for reading in readings) > STRIP_CHARS and len(readings) > 1:
                readings.pop()
        else:
            shown = searched = self.query + self.letters
            limit = 6 if self.app.portrait else 3
            words = self.app.search_index.candidates(self.letters, limit=limit) if self.letters else []
            readings = [Reading(word, self.letters) for word in words]
        self.field.text = shown or t("keypad_hint" if self.on_keypad else "search_hint")
        self.field.color = theme.TEXT if shown else theme.MUTED
        for n, reading in enumerate(readings):
            word = reading.word
            followed = self.on_keypad and n == 0  # what the results follow: marked as the phone marks it
            self.candidates.add_widget(BigButton(word, lambda r=reading: self.choose(r), name=f"cand_{word}", points=18,
                                                 colour=theme.ACCENT if followed else theme.PANEL,
                                                 text_colour=theme.ACCENT_TEXT if followed else theme.ACCENT,
                                                 height=self._candidate_height(),
                                                 size_hint_x=len(word) + 1 if self.on_keypad else 1))
        self.results.clear_widgets()
        if not searched.strip():
            if self.on_keypad and not shown:
                self.results.add_widget(Text(t("keypad_example"), points=16, colour=theme.MUTED))
            return
        hits = self.app.search_index.search(searched, limit=8)
        if not hits:
            self.results.add_widget(Text(t("no_results"), points=16, colour=theme.MUTED))
        for hit in hits:
            self.results.add_widget(BigButton(hit.name, lambda code=hit.code: self.app.open_result(code),
                                              name=f"result_{hit.code}", colour=theme.PANEL, text_colour=theme.TEXT,
                                              points=18))
