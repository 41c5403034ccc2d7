"""How the booth looks: one CJK font for everything, high-contrast colours, and sizes in
millimetres so touch targets stay at least 9 mm on any screen; elder mode scales type up.

Kivy must be configured before its window exists, so `configure_kivy()` runs first thing.
"""

from __future__ import annotations

import os
from pathlib import Path

FONT_REGULAR = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")

# Colours (RGBA 0–1): dark text on light panels, one strong accent; contrast ≥ 7:1 for body text.
BACKGROUND = (0.96, 0.97, 0.98, 1)
PANEL = (1, 1, 1, 1)
TEXT = (0.07, 0.09, 0.12, 1)
MUTED = (0.30, 0.33, 0.38, 1)
ACCENT = (0.0, 0.33, 0.65, 1)  # 政务蓝
ACCENT_TEXT = (1, 1, 1, 1)
WARNING = (0.72, 0.33, 0.0, 1)
DANGER = (0.70, 0.07, 0.07, 1)
DISABLED = (0.78, 0.80, 0.83, 1)

TOUCH_MM = 12  # buttons are at least this tall (the floor for a touch target is 9 mm)


class FontMissing(RuntimeError):
    pass


def configure_kivy(width: int | None = None, height: int | None = None, fullscreen: bool = False) -> None:
    """Lock the window down and set the CJK font as every label's default. Call before importing
    any Kivy module that opens the window."""
    if not FONT_REGULAR.exists():
        raise FontMissing(f"{FONT_REGULAR} is missing: install the Debian package fonts-noto-cjk")
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")  # Escape does not leave the kiosk
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")  # no red dots on right click
    Config.set("graphics", "show_cursor", "0")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    if width and height:
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
    from kivy.core.text import LabelBase

    LabelBase.register("Roboto", str(FONT_REGULAR), fn_bold=str(FONT_BOLD))  # Roboto is Kivy's default name


class Scale:
    """Sizes for the current screen and mode. `base` grows with the screen (a 1080-wide portrait
    panel stands further from the eye than a 7-inch 800×480 one); elder mode adds 35 % to type and
    25 % to touch targets."""

    def __init__(self) -> None:
        self.elder = False
        self.base = 1.0

    def fit_screen(self, width: int, height: int) -> None:
        self.base = 1.0 if min(width, height) <= 600 else min(1.6, min(width, height) / 800 * 1.1)

    def font(self, points: float) -> float:
        """A font size in pixels. Pixels, not an "sp" string: Kivy ties every unit-valued property to
        its metrics with a callback that outlives the widget, and screens here are rebuilt often
        (500 sessions grew the process by ~40 MiB that way).

        Whole, even pixels: SDL_ttf opens the font file once per distinct size and keeps it (Kivy holds
        up to 64), and one Noto Sans CJK face costs ~2.5 MiB. Unrounded, the two modes' sizes made ~38
        faces (~95 MiB, bench/bench_restless.py); on even pixels they are ~21, and no size moves by
        more than one pixel (a face is opened at a whole pixel size in any case)."""
        from kivy.metrics import sp

        return float(max(2, int(sp(points * self.base * (1.35 if self.elder else 1.0)) / 2 + 0.5) * 2))

    def length(self, millimetres: float, elder_gain: float = 1.25) -> float:
        """A height in pixels: `millimetres` on this screen, larger in elder mode."""
        from kivy.metrics import mm

        return mm(millimetres) * self.base * (elder_gain if self.elder else 1.0)

    def touch(self) -> float:
        return self.length(TOUCH_MM)


SCALE = Scale()
