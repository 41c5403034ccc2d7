"""How the booth looks: one CJK font for everything, high-contrast colours, and sizes in
millimetres so touch targets stay at least 9 mm on any screen; elder mode scales type up, with floors in
millimetres of the panel itself (targets ≥ 15 mm, text ≥ 5 mm tall: tools/measure_screens.py measures them).

Kivy must be configured before its window exists, so `configure_kivy()` runs first thing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

FONT_REGULAR = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")

# Colours (RGBA 0–1): dark text on light panels, one strong accent; contrast ≥ 7:1 for body text, and no text colour
# under 5:1 on anything it is drawn on (tools/measure_screens.py measures every pair on the screens).
BACKGROUND = (0.96, 0.97, 0.98, 1)
PANEL = (1, 1, 1, 1)
TEXT = (0.07, 0.09, 0.12, 1)
MUTED = (0.30, 0.33, 0.38, 1)
ACCENT = (0.0, 0.33, 0.65, 1)  # 政务蓝
ACCENT_TEXT = (1, 1, 1, 1)
WARNING = (0.68, 0.31, 0.0, 1)  # 5.0:1 on BACKGROUND (it was 0.72, 0.33: 4.6:1)
DANGER = (0.70, 0.07, 0.07, 1)
DISABLED = (0.86, 0.88, 0.90, 1)  # MUTED on it 5.8:1 (it was 0.78, 0.80, 0.83: 4.7:1)

TOUCH_MM = 12  # buttons are at least this tall, in Kivy's millimetres (96 dpi: see PANELS for the real ones)
TOUCH_FLOOR_MM = 9  # …and never less than this on the panel itself
ELDER_TOUCH_MM = 15  # elder mode: every touch target at least this on the panel itself
ELDER_TEXT_MM = 5  # elder mode: text at least this tall on the panel (a Chinese character's ink, see GLYPH_HEIGHT)
GLYPH_HEIGHT = 0.88  # the ink of 国 in Noto Sans CJK is 0.876 of the font size (tools/measure_screens.py checks it)

# The panels booths are built with, by resolution: their diagonal in inches. Kivy's millimetres assume 96 dpi
# (what SDL reports under X11); a 7-inch 800×480 panel has 133 ppi, so "12 mm" there is 8.6 mm. The elder
# floors are in the panel's own millimetres. Another resolution is taken at Kivy's 96 dpi.
PANELS: dict[tuple[int, int], float] = {(800, 480): 7.0, (480, 800): 7.0, (1024, 600): 7.0,
                                        (1080, 1920): 21.5, (1920, 1080): 21.5}
KIVY_DPI = 96.0


def pixels_per_mm(width: int, height: int) -> float:
    """The panel's pixel density: its diagonal in pixels over its diagonal in millimetres (800×480 at 7 in:
    933 px / 177.8 mm = 5.25 px/mm, 133 ppi; 1080×1920 at 21.5 in: 2203 px / 546.1 mm = 4.03 px/mm, 102 ppi)."""
    inches = PANELS.get((width, height))
    if inches is None:
        return KIVY_DPI / 25.4
    return math.hypot(width, height) / (inches * 25.4)


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
        self.px_per_mm = KIVY_DPI / 25.4  # the panel's own millimetre (fit_screen)
        self.short = False  # a panel of few rows (800×480): elder mode moves back, home and help to a side rail

    def fit_screen(self, width: int, height: int) -> None:
        self.base = 1.0 if min(width, height) <= 600 else min(1.6, min(width, height) / 800 * 1.1)
        self.px_per_mm = pixels_per_mm(width, height)
        self.short = height <= 600

    @property
    def side_rail(self) -> bool:
        """Whether back, home, help and the speaker stand in a column at the right instead of a row at the
        bottom: in elder mode on a short panel, where three rows of 15 mm targets would leave the body ~40 mm."""
        return self.elder and self.short

    def panel_mm(self, millimetres: float) -> float:
        """`millimetres` on the panel itself, in pixels."""
        return millimetres * self.px_per_mm

    def font(self, points: float, body: bool = True) -> float:
        """A font size in pixels. Pixels, not an "sp" string: Kivy ties every unit-valued property to
        its metrics with a callback that outlives the widget, and screens here are rebuilt often
        (500 sessions grew the process by ~40 MiB that way).

        Whole, even pixels: SDL_ttf opens the font file once per distinct size and keeps it (Kivy holds
        up to 64), and one Noto Sans CJK face costs ~2.5 MiB. Unrounded, the two modes' sizes made ~38
        faces (~95 MiB, bench/bench_restless.py); on even pixels they are ~21, and no size moves by
        more than one pixel (a face is opened at a whole pixel size in any case).

        In elder mode text is at least `ELDER_TEXT_MM` tall on the panel, except what is not `body` text (the
        site and clock in the header)."""
        from kivy.metrics import sp

        size = max(2, int(sp(points * self.base * (1.35 if self.elder else 1.0)) / 2 + 0.5) * 2)
        if self.elder and body:
            size = max(size, math.ceil(self.panel_mm(ELDER_TEXT_MM) / GLYPH_HEIGHT / 2) * 2)
        return float(size)

    def length(self, millimetres: float, elder_gain: float = 1.25) -> float:
        """A height in pixels: `millimetres` on this screen, larger in elder mode."""
        from kivy.metrics import mm

        return mm(millimetres) * self.base * (elder_gain if self.elder else 1.0)

    def touch(self) -> float:
        """The height of a touch target: `TOUCH_MM` (larger in elder mode), and never under the floor on the
        panel itself (`TOUCH_FLOOR_MM`, in elder mode `ELDER_TOUCH_MM`)."""
        return max(self.length(TOUCH_MM), self.least_touch())

    def least_touch(self) -> float:
        """The smallest side a touch target may have on this panel, in this mode, in pixels."""
        return math.ceil(self.panel_mm(ELDER_TOUCH_MM if self.elder else TOUCH_FLOOR_MM))


SCALE = Scale()
