"""The on-screen keyboard: digits and letters in the usual rows, with clear, space and delete.
Search types pinyin on it; the progress screen keys in a receipt number. Where ten of its keys across
cannot be touch targets of the least size (a 7-inch panel in elder mode), search types on the phone's
九宫格 pinyin keypad instead. And a telephone-style digit pad for numbers alone (the admin PIN, a
call-back number)."""

from __future__ import annotations

from collections.abc import Callable

from kivy.core.window import Window
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from appliance.catalog.keypad import KEYS
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


def letters_fit() -> bool:
    """Whether ten keys across, each of the least touch size, fit the window's width: not on the 7-inch
    800×480 panel in elder mode, where ten 15 mm keys and their gaps are wider than the panel (152 mm)."""
    return 10 * SCALE.least_touch() + 9 * mm(1) <= Window.width


def pinyin_keypad(press: Callable[[str], None], delete: Callable[[], None], clear: Callable[[], None]) -> BoxLayout:
    """The 九宫格 of a Chinese phone: abc … wxyz where the phone has 2 … 9 (`press` gets the digit), clear where it
    has 1, and a tall delete at the right, as on the phone, far from clear. Keys named `t9_<digit>`, `key_clear` and
    `key_delete`; as wide as it needs, as tall as the layout gives it (three rows of the least touch size fit
    the 7-inch panel beside the results)."""
    least, gap = SCALE.least_touch(), mm(1.5)
    wide = least * 1.15  # "wxyz" on one line in elder type
    pad = BoxLayout(spacing=gap, size_hint_x=None, width=3 * wide + least + 3 * gap)
    grid = GridLayout(cols=3, spacing=gap)
    grid.add_widget(BigButton(t("clear"), clear, name="key_clear", colour=theme.MUTED, size_hint_y=1))
    for digit, letters in KEYS.items():
        grid.add_widget(BigButton(letters, lambda d=digit: press(d), name=f"t9_{digit}", points=22, size_hint_y=1,
                                  colour=theme.PANEL, text_colour=theme.TEXT))
    pad.add_widget(grid)
    pad.add_widget(BigButton(t("delete"), delete, name="key_delete", colour=theme.MUTED, size_hint_x=None,
                             size_hint_y=1, width=least))
    return pad


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
