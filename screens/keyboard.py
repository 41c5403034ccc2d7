"""The on-screen keyboard: digits and letters in the usual rows, with clear, space and delete.
Search types pinyin on it; the progress screen keys in a receipt number. And a telephone-style digit
pad for numbers alone (the admin PIN, a call-back number)."""

from __future__ import annotations

from collections.abc import Callable

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from screens import theme
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton

ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"]


def keyboard(press: Callable[[str], None], delete: Callable[[], None], clear: Callable[[], None],
             space: bool = True) -> BoxLayout:
    """Keys named `key_<char>`, `key_space`, `key_delete` and `key_clear` (what tests tap)."""
    key = SCALE.length(11, 1.15)
    keys = BoxLayout(orientation="vertical", size_hint_y=None, height=key * 5 + mm(4), spacing=mm(1))
    for row in ROWS:
        line = GridLayout(cols=len(ROWS[0]), spacing=mm(1))
        for char in row:
            line.add_widget(BigButton(char, lambda c=char: press(c), name=f"key_{char}", points=20,
                                      colour=theme.PANEL, text_colour=theme.TEXT, height=key))
        keys.add_widget(line)
    bottom = BoxLayout(spacing=mm(1))
    bottom.add_widget(BigButton(t("clear"), clear, name="key_clear", colour=theme.MUTED, height=key))
    if space:
        bottom.add_widget(BigButton("␣", lambda: press(" "), name="key_space", colour=theme.PANEL,
                                    text_colour=theme.TEXT, height=key, size_hint_x=2))
    bottom.add_widget(BigButton(t("delete"), delete, name="key_delete", colour=theme.MUTED, height=key))
    keys.add_widget(bottom)
    return keys


def digit_pad(press: Callable[[str], None], delete: Callable[[], None], prefix: str,
              last: BigButton | None = None, cols: int = 3) -> GridLayout:
    """1–9 in three rows, then delete, 0 and `last` (enter, or clear): keys named `<prefix>_<digit>` and
    `<prefix>_delete`; digits only, so nothing else can be typed. For a short panel in elder mode, where four
    rows of 15 mm keys do not fit: `cols` 4 (1–4, 5–8, then 9, 0, delete and `last`) or 6 (1–5 and delete, 6–0
    and `last`)."""
    pad = GridLayout(cols=cols, spacing=mm(2))
    digits = {key: BigButton(key, lambda k=key: press(k), name=f"{prefix}_{key}", points=24, size_hint_y=1,
                             colour=theme.PANEL, text_colour=theme.TEXT) for key in "1234567890"}
    rub = BigButton(t("delete"), delete, name=f"{prefix}_delete", points=20, size_hint_y=1,
                    colour=theme.MUTED)  # a word: the CJK font has no ⌫
    order = {3: [*"123456789", rub, "0", last], 4: [*"1234567890", rub, last],
             6: [*"12345", rub, *"67890", last]}[cols]
    for key in order:
        if key is None:
            continue
        if isinstance(key, str):
            key = digits[key]
        key.size_hint_y = 1
        pad.add_widget(key)
    return pad
